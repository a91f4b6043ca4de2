"""What the utility and the agent share across the wire and on disk: sync keys, xdata names."""
