"""What webserver_config and the servers' node side share."""
