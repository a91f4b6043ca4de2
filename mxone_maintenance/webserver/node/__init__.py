"""The node side of PM/SNM redundancy: what runs on a server of the pair (started over SSH by
webserver_config, and by keepalived's notify). Standard library and the core only."""
