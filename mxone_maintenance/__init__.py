"""MX-ONE server redundancy: the maintenance utility and the cluster agent."""
