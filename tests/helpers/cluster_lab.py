"""What the lab tests of a cluster's life share: the utility run as a technician runs it, which host
answers for a LIM's alias, and the generation of cluster.yaml on a host."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

UTILITY = Path(sys.executable).with_name("mxone_maintenance")
AGENT = Path(sys.executable).with_name("mxone-cluster-agent")
ETC = "/etc/opt/eri_sn"
DETECT_S = 3


def utility(lab, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(UTILITY), *args], capture_output=True, text=True, env={**os.environ, **lab.env},
                          timeout=180)


def served_by(lab, lim: int) -> str | None:
    answer = lab.ask_alias(f"10.77.0.{10 + lim}", timeout=0.5)
    return answer.removeprefix(f"LIM {lim} on ") if answer else None


def generation_on(lab, host: str) -> int | None:
    text = lab.exec(host, "cat", f"{ETC}/cluster.yaml", check=False).stdout
    for line in text.splitlines():
        if line.startswith("generation:"):
            return int(line.split(":", 1)[1])
    return None


def agent_status(lab, host: str) -> dict:
    """`mxone-cluster-agent status --json` on HOST ({} when it does not answer)."""
    shown = lab.exec(host, str(AGENT), "status", "--json", check=False)
    return json.loads(shown.stdout) if shown.returncode == 0 else {}


def alarms(lab, host: str) -> list[str]:
    """The texts of HOST's active alarms, as its agent reports them."""
    return [a["text"] for a in agent_status(lab, host).get("alarms", []) if a["active"]]


def agent_pid(host: str) -> int:
    """The pid of the agent running in a lab host (matched by its network namespace)."""
    netns = os.stat(f"/run/netns/mxlab-{host}").st_ino
    for entry in Path("/proc").iterdir():
        try:
            if (entry.name.isdigit() and b"mxone-cluster-agent" in (entry / "cmdline").read_bytes()
                    and os.stat(entry / "ns/net").st_ino == netns):
                return int(entry.name)
        except OSError:
            continue
    raise AssertionError(f"no agent runs in {host}")
