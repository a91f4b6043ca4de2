"""Helpers shared by the tests: the lab session, network namespaces, an sshd on the loopback, data
strategies, driving the menus headless. Imported as `helpers.<module>`."""
