"""The agent's runtime: the Agent's cycle (agent.py) and what it ties together, one idea a module.

- loop.py: the loop around the cycles (when one is due, the doorbell, sleeping, stopping);
- config_watch.py: reading cluster.yaml and the key when they change; wiring.py: the channel,
  effects and data sync built for the config in use;
- senses.py: what this server reads of itself (aliases, blocked aliases, carrier); heartbeats.py:
  the peers' heartbeats in, ours out;
- apply.py: decide()'s actions through the effects; journal.py: decisions in the log;
- worker.py: work off the loop, used by probing.py (ARP probes), services.py (Service Node starts
  and stops) and handback.py (the row-23 data checks before a hand-back);
- alarms.py: the alarm book; orders.py: orders from the control socket; status.py: the published
  AgentStatus (core/contracts/agent_status.py); ports.py: what the runtime needs of the world.
"""
from __future__ import annotations

from mxone_maintenance.agent.runtime.agent import Agent
from mxone_maintenance.agent.runtime.alarms import AlarmBook
from mxone_maintenance.agent.runtime.loop import Doorbell, wait_readable
from mxone_maintenance.agent.runtime.ports import DataSync, Effects, HeartbeatPort, NullSync

__all__ = ["Agent", "AlarmBook", "DataSync", "Doorbell", "Effects", "HeartbeatPort", "NullSync", "wait_readable"]
