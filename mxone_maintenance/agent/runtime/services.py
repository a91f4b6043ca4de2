"""The Service Node of every alias we hold must run. Holding the alias is not proof: the alias may
have been added by hand, or kept by a process that died, and nobody started its LIM yet. Starts and stops run in
order on one worker thread, so a slow Service Node start does not stop heartbeats."""
from __future__ import annotations

import logging
from collections.abc import Callable
from ipaddress import IPv4Address, IPv4Interface

from mxone_maintenance.agent import alarm_keys
from mxone_maintenance.agent.effects import Service
from mxone_maintenance.agent.effects.service import MediaServerError
from mxone_maintenance.agent.runtime.alarms import AlarmBook
from mxone_maintenance.agent.runtime.worker import Worker
from mxone_maintenance.core.model import Cluster

log = logging.getLogger("mxone-cluster-agent")
SERVICE_RETRY_S = 5.0  # a Service Node that failed to start is started again after this long


class Services:
    def __init__(self, clock: Callable[[], float], threaded: bool, done: Callable[[], None]) -> None:
        self.clock = clock
        self.worker: Worker[tuple[int, str], None] = Worker("service", threaded, done, clock)
        self.up: set[int] = set()                # started successfully, not stopped since
        self.pending: set[int] = set()           # start submitted, outcome not read yet
        self.retry_at: dict[int, float] = {}

    def start(self, lim: int, ip: IPv4Address, service: Service) -> None:
        """Queue a start; `start` must be idempotent (it is also how we make sure it runs)."""
        self.pending.add(lim)
        self.worker.submit((lim, "start"), lambda: service.start(lim, ip))

    def stop(self, lim: int, ip: IPv4Address, service: Service) -> None:
        self.up.discard(lim)
        self.pending.discard(lim)
        self.retry_at.pop(lim, None)
        self.worker.submit((lim, "stop"), lambda: service.stop(lim, ip))

    def keep(self, config: Cluster, held: set[IPv4Interface], now: float, service: Service) -> None:
        """Start the Service Node of each alias we hold whose start we have not seen succeed: the
        alias a regular held before the cluster existed, after an agent restart, or after a failed
        start (retried every SERVICE_RETRY_S, the alarm stays until one succeeds)."""
        for lim in config.lims:
            number = lim.lim
            if lim.alias not in held or number in self.up or number in self.pending:
                continue
            if now >= self.retry_at.get(number, 0.0):
                self.start(number, lim.alias.ip, service)

    def collect(self, alarms: AlarmBook) -> None:
        for outcome in self.worker.collect():
            lim, kind = outcome.key
            key = alarm_keys.effect(f"service:{lim}")
            media = alarm_keys.effect(f"media:{lim}")
            if kind == "start":
                self.pending.discard(lim)
            if isinstance(outcome.error, MediaServerError):
                alarms.clear(key)                        # the Service Node itself runs
                alarms.raise_(media, str(outcome.error))
                if kind == "start":
                    self.retry_at[lim] = self.clock() + SERVICE_RETRY_S
                continue
            alarms.clear(media)
            if outcome.error is not None:
                alarms.raise_(key, f"Service Node of LIM {lim}: {outcome.error}")
                if kind == "start":
                    self.retry_at[lim] = self.clock() + SERVICE_RETRY_S
                continue
            alarms.clear(key)
            log.info("Service Node of LIM %d %s in %.0f ms", lim, "started" if kind == "start" else "stopped",
                     (outcome.ended - outcome.started) * 1000)
            if kind == "start":
                self.up.add(lim)
                self.retry_at.pop(lim, None)
            else:
                self.up.discard(lim)

    def stop_worker(self) -> None:
        self.worker.stop()
