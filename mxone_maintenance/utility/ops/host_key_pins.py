"""The host keys a plan shows for servers that join (PinHostKey): while the change is applied only
those keys are trusted for them, and they are pinned in known_hosts only once the change is made, so a
failed change leaves known_hosts as it was and a key other than the one shown is never accepted."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from mxone_maintenance.utility.ops.plan import PinHostKey, Plan
from mxone_maintenance.utility.remote.host_key_scan import PresentedKey, repin, trusting
from mxone_maintenance.utility.remote.settings import Host, SshSettings

NewKeys = list[tuple[Host, PresentedKey]]


def new_keys(plan: Plan) -> NewKeys:
    return [(Host(s.server, s.address), PresentedKey(step.key_type, step.blob, step.fingerprint))
            for s in plan.servers for step in s.steps if isinstance(step, PinHostKey)]


@contextlib.contextmanager
def trusting_new(settings: SshSettings, keys: NewKeys) -> Iterator[SshSettings]:
    """Settings that trust, for each joining server, only the key the plan showed (known_hosts untouched)."""
    with contextlib.ExitStack() as stack:
        for host, key in keys:
            settings = stack.enter_context(trusting(settings, host, key))
        yield settings


def pin_new(known_hosts: Path, keys: NewKeys, per_server: dict[str, str]) -> dict[str, str]:
    """Pin the keys for good; the result's line of each server says so."""
    said = dict(per_server)
    for host, key in keys:
        repin(known_hosts, host, key)
        said[host.name] = f"{said.get(host.name, 'unchanged')}; host key {key.described} pinned"
    return said
