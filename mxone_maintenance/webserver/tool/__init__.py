"""webserver_config itself: finds the pair in the system inventory, plans, and drives the node side of
both servers over SSH (the utility's transport)."""
