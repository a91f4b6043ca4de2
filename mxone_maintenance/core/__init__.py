"""The shared core: pure data and rules, the configuration files, and the contracts the utility and the
agent share. It imports nothing of the utility or the agent."""
