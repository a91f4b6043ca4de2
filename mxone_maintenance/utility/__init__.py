"""The maintenance utility (mxone_maintenance): command line, menus, operations and SSH. Imports the core,
never the agent."""
