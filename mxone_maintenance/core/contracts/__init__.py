"""What the utility and the agent share across the wire and on disk: the agent's typed status and LIM
states (agent_status, lim_state, their strict JSON codec wire), the host-key policy, sync keys, xdata names."""
