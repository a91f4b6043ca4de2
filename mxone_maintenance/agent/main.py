"""mxone-cluster-agent [--root DIR] run | status [--json] | fallback N | sync | pause --stamp S --until U |
resume --stamp S | history [--since TIME] [--json]

`run` is the daemon in the foreground (systemd Type=notify with a watchdog: sd_notify.py; logs to
stderr, with syslog priorities when that is the journal: logs.py). The other commands ask the running
agent over its control socket. Exit codes: EXIT_CODES below (also in --help).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence

from mxone_maintenance.agent.control import ControlError, ControlServer, agent_handlers, ask
from mxone_maintenance.agent.datasync import (
    ClusterSync,
    CommandReload,
    SyncError,
    SyncResult,
    SyncSettings,
    io_timeout_for,
    order_text,
    status_lines,
)
from mxone_maintenance.agent.decide import probe_timeout, probe_tries
from mxone_maintenance.agent.logs import log_to, say_error
from mxone_maintenance.agent.runtime import Agent, Effects, NullSync
from mxone_maintenance.agent.runtime.ports import HeartbeatPort, MakeChannel, MakeEffects
from mxone_maintenance.agent.sd_notify import Notifier
from mxone_maintenance.agent.settings import AgentSettings, SettingsError, load_settings
from mxone_maintenance.core.contracts import wire
from mxone_maintenance.core.contracts.agent_status import AgentStatus, StatusError
from mxone_maintenance.core.contracts.events import event_from_json, event_text, parse_since
from mxone_maintenance.core.model import Cluster
from mxone_maintenance.core.paths import Paths
from mxone_maintenance.core.version import VersionAction

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
EXIT_CONFIG = 78    # sysexits.h EX_CONFIG; the unit's RestartPreventExitStatus: a restart cannot fix it
EXIT_CODES = f"""exit codes:
  {EXIT_OK:<3} ok (run: stopped by SIGTERM or SIGINT)
  {EXIT_FAILED:<3} the operation failed (agent not running, order refused; run: no control socket)
  {EXIT_INVALID:<3} invalid request (usage, not root)
  {EXIT_CONFIG:<3} run: the configuration cannot be used (agent.yaml); systemd does not restart it"""


def real_effects(settings: AgentSettings) -> MakeEffects:
    """The factory the runtime calls with each config whose interface differs from the last."""
    def make(config: Cluster, node: str) -> Effects:
        from mxone_maintenance.agent.effects import CommandService, NetlinkAddresses, NftFirewall, RawArp

        return Effects(addresses=NetlinkAddresses(config.interface),
                       neighbours=RawArp(config.interface, timeout=probe_timeout(config),
                                         tries=probe_tries(config)),
                       firewall=NftFirewall(),
                       service=CommandService(settings.service_start, settings.service_stop, node,
                                              media_start=settings.media_start, media_stop=settings.media_stop),
                       sync=NullSync())
    return make


class ClusterDataSync:
    """The runtime's DataSync over datasync.ClusterSync (rsync over SSH, always pulled)."""

    def __init__(self, paths: Paths, config: Cluster, node: str, settings: AgentSettings | None = None,
                 clock_skew: Callable[[str], float] | None = None) -> None:
        sync_settings = SyncSettings.for_paths(paths, io_timeout_s=io_timeout_for(config.detect_s),
                                               bwlimit_kbps=settings.sync_bwlimit_kbps if settings else None)
        self.cluster_sync = ClusterSync(paths, config, node, sync_settings,
                                        clock_skew or (lambda _peer: 0.0))
        self.reload = CommandReload(settings.service_reload if settings else (), config, node)

    def sync_lim(self, lim: int) -> SyncResult:
        """One LIM with the right peer (datasync's scheduled, ordered and triggered syncs)."""
        return self.cluster_sync.sync_lim(lim)

    def push(self, lim: int, server: str) -> None:
        self.cluster_sync.push(lim, server)

    def pull(self, lim: int, server: str) -> None:
        result = self.cluster_sync.sync_lim(lim)
        if not result.ok:
            raise SyncError(result.error or f"LIM {lim}: sync failed")


def health_check(settings: AgentSettings) -> tuple:
    """agent.yaml's service.check, and the checker that runs it (effects/health_check.py)."""
    from mxone_maintenance.agent.effects.health_check import HealthCheck, check_once
    check = HealthCheck(argv=settings.check_argv, tcp_port=settings.check_tcp_port, expect=settings.check_expect,
                        interval_s=settings.check_interval_s, timeout_s=settings.check_timeout_s,
                        failures=settings.check_failures)
    return check, lambda lim, alias: check_once(check, lim, alias, settings.node)


def real_channel(node: str) -> MakeChannel:
    """Heartbeats for `node`, sent from its base address (see HeartbeatChannel._sending_socket)."""
    from mxone_maintenance.agent.heartbeat import HeartbeatChannel

    def make(config: Cluster, key: bytes) -> HeartbeatPort:
        base = config.base_of(node)
        return HeartbeatChannel(config.port, key, config.name, source=str(base.ip) if base else None)
    return make


def not_root_error(uid: int, command: str) -> str | None:
    """The one line that refuses a control command to a non-root user (None: allowed)."""
    if uid == 0:
        return None
    return f"error: mxone-cluster-agent {command} must be run as root (you are uid {uid})"


def run(paths: Paths) -> int:
    log_to(sys.stderr)
    # The unit's malloc arena limit is for the agent (read by glibc at start, done): the Service Nodes it
    # starts are multi-threaded servers that keep glibc's default.
    os.environ.pop("MALLOC_ARENA_MAX", None)
    notifier = Notifier.from_env()      # before any child: the Service Nodes must not inherit it
    try:
        settings = load_settings(paths.agent_settings)
    except SettingsError as exc:
        say_error(str(exc), sys.stderr)
        return EXIT_CONFIG
    from mxone_maintenance.agent.events import EventSink     # the running agent's only: not for `status`
    events = EventSink(settings, paths, settings.node)
    agent = Agent(paths, settings.node, real_effects(settings), real_channel(settings.node),
                  make_sync=lambda config, node: ClusterDataSync(paths, config, node, settings,
                                                                 agent.datasync.skew),
                  health=health_check(settings), events=events)
    agent.feed.started()

    def stop(_signum, _frame) -> None:
        agent.stop_requested = True

    def reload(_signum, _frame) -> None:
        agent.reload_requested = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, reload)
    try:
        server = ControlServer(paths.agent_socket, agent_handlers(agent))
    except OSError as exc:
        say_error(f"cannot open the control socket {paths.agent_socket}: {exc.strerror or exc}", sys.stderr)
        return EXIT_FAILED
    try:
        agent.run(notifier=notifier)
    finally:
        server.close()
        notifier.close()
        events.close()
    return EXIT_OK


# --- status as text ----------------------------------------------------------------------------------

def _ago(seconds: float | None) -> str:
    return "never" if seconds is None else f"{seconds:.1f} s ago"


def _when(wall: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(wall)) if wall else "-"


def status_text(reply: dict) -> str:
    """The control socket's status reply for people; raises StatusError if it is none."""
    status = AgentStatus.from_json(reply)
    if not status.cluster:
        return f"{status.node}: {status.config} (idle)\n"
    lines = [f"{status.node}: cluster {status.cluster} generation {status.generation} "
             f"({status.fallback} fallback, {status.failover} failover), up {status.up_s:.0f} s", "",
             "LIM  where      state"]
    lines += [f"{item.lim:<4} {item.where or '-':<10} {item.state}" for item in status.lims]
    lines += ["", "peer       last heard     heard for   generation  running"]
    for peer in status.peers:
        heard_for = "-" if peer.heard_for is None else f"{peer.heard_for:.0f} s"
        running = ",".join(map(str, peer.running)) or "-"
        lines.append(f"{peer.name:<10} {_ago(peer.heard_ago):<14} {heard_for:<11} {peer.generation:<11} {running}")
    lines += ["", "alarms:"]
    for alarm in status.alarms:
        state = "ACTIVE " if alarm.active else "cleared"
        lines.append(f"  {state} {alarm.text} (raised {_when(alarm.raised)}"
                     + (f", cleared {_when(alarm.cleared)})" if alarm.cleared else ")"))
    if not status.alarms:
        lines.append("  none")
    if status.fallback_orders:
        lines.append("fallback ordered for LIM " + ", ".join(map(str, status.fallback_orders)))
    lines += [""] + status_lines([wire.encode(entry) for entry in status.sync], _when)
    lines += ["", "heartbeats: " + ", ".join(f"{name} {value}" for name, value in status.counters.items())]
    return "\n".join(lines) + "\n"


def _show_status(reply: dict, as_json: bool) -> int:
    try:
        sys.stdout.write(json.dumps(reply, indent=2) + "\n" if as_json else status_text(reply))
    except StatusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


# --- the command line -------------------------------------------------------------------------------

def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mxone-cluster-agent", description="MX-ONE cluster agent",
                                epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", help="prefix for all product paths (tests, lab); default $MXONE_ROOT or /")
    p.add_argument("--version", action=VersionAction, program="mxone-cluster-agent", help="show the version and exit")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the agent in the foreground")
    status = sub.add_parser("status", help="show what the running agent sees")
    status.add_argument("--json", action="store_true")
    fallback = sub.add_parser("fallback", help="order the manual fallback of a LIM to its regular server")
    fallback.add_argument("lim", type=int)
    sub.add_parser("sync", help="order a data sync now")
    pause = sub.add_parser("pause", help="maintenance mode until --until (wall-clock seconds); the newest --stamp wins")
    pause.add_argument("--stamp", type=float, required=True)
    pause.add_argument("--until", type=float, required=True)
    media = sub.add_parser("media-server", help="where this server's MX-ONE configuration makes a co-located "
                                               "Media Server bind (agent.yaml media_server.addresses_file)")
    media.add_argument("--json", action="store_true")
    sub.add_parser("reboot", help="reboot this server with agent.yaml's reboot command, a second from now "
                              "(what `mxone_maintenance cluster reboot` orders)")
    resume = sub.add_parser("resume", help="end maintenance mode (an order newer than the pause)")
    resume.add_argument("--stamp", type=float, required=True)
    history = sub.add_parser("history", help="show this server's events (takeovers, fallbacks, alarms, ...)")
    history.add_argument("--since", metavar="TIME",
                         help="only events since TIME: 10m, 2h, 1d back from now, or 2026-12-01T10:00")
    history.add_argument("--json", action="store_true", help="one JSON document")
    return p


def _history(paths: Paths, since_text: str | None, as_json: bool) -> int:
    """The running agent's history; with the agent down, the events file read directly (root only)."""
    try:
        since = None if since_text is None else parse_since(since_text)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    try:
        reply = ask(paths.agent_socket, {"cmd": "history", "since": since})
    except ControlError as exc:
        from mxone_maintenance.agent.events.history import EventLog
        print(f"note: {exc}; reading {paths.events_file} directly", file=sys.stderr)
        reply = {"ok": True, "events": [e.to_json() for e in EventLog(paths.events_file).read(since)],
                 "truncated": False}
    if not reply.get("ok"):
        print(f"error: {reply.get('error', 'the agent refused')}", file=sys.stderr)
        return EXIT_FAILED
    events = [e for e in map(event_from_json, reply.get("events") or []) if e is not None]
    if as_json:
        print(json.dumps({"events": [e.to_json() for e in events], "truncated": bool(reply.get("truncated"))},
                         indent=2))
    else:
        print("\n".join(map(event_text, events)) if events else "no events")
    return EXIT_OK


def _media_server(paths: Paths, as_json: bool) -> int:
    """control_address= and media_address= of the configured file (KEY=VALUE lines); none: not configured."""
    try:
        settings = load_settings(paths.agent_settings)
    except SettingsError as exc:
        say_error(str(exc), sys.stderr)
        return EXIT_CONFIG
    found: dict = {"configured": settings.media_addresses_file is not None, "control": None, "media": None}
    if settings.media_addresses_file is not None:
        try:
            lines = paths.real(settings.media_addresses_file).read_text(errors="replace").splitlines()
        except OSError as exc:
            say_error(f"cannot read {settings.media_addresses_file}: {exc.strerror}", sys.stderr)
            return EXIT_FAILED
        values = dict(line.split("=", 1) for line in lines if "=" in line and not line.lstrip().startswith("#"))
        found.update(control=values.get("control_address", "").strip().strip("'\"") or None,
                     media=values.get("media_address", "").strip().strip("'\"") or None)
    print(json.dumps(found) if as_json else
          (f"Media Server: control {found['control']}, media {found['media']}" if found["configured"]
           else "no co-located Media Server configured"))
    return EXIT_OK


def _reboot(paths: Paths) -> int:
    """The reboot command, detached and a second late, so the SSH session that ordered it ends cleanly."""
    import subprocess
    try:
        settings = load_settings(paths.agent_settings)
    except SettingsError as exc:
        say_error(str(exc), sys.stderr)
        return EXIT_CONFIG
    subprocess.Popen(["sh", "-c", 'sleep 1; exec "$@"', "reboot", *settings.reboot], stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    print(f"reboot ordered: {' '.join(settings.reboot)}")
    return EXIT_OK


def _order(args) -> dict:
    if args.command == "pause":
        return {"cmd": "pause", "stamp": args.stamp, "until": args.until}
    if args.command == "resume":
        return {"cmd": "pause", "stamp": args.stamp, "until": 0}
    return {"cmd": "fallback", "lim": args.lim}


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:
        return EXIT_OK if exc.code == 0 else EXIT_INVALID
    paths = Paths.from_env(args.root)
    if args.command == "run":
        return run(paths)
    refused = not_root_error(os.geteuid(), args.command)
    if refused:
        print(refused, file=sys.stderr)
        return EXIT_INVALID
    if args.command == "history":
        return _history(paths, args.since, args.json)
    if args.command == "reboot":
        return _reboot(paths)
    if args.command == "media-server":
        return _media_server(paths, args.json)
    request = {"status": {"cmd": "status"}, "sync": {"cmd": "sync"}}.get(args.command) or \
        _order(args)
    try:
        reply = ask(paths.agent_socket, request)
    except ControlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if not reply.get("ok"):
        print(f"error: {reply.get('error', 'the agent refused')}", file=sys.stderr)
        return EXIT_FAILED
    if args.command == "status":
        return _show_status(reply, args.json)
    if args.command == "fallback":
        print(f"fallback of LIM {args.lim} ordered")
    elif args.command in ("pause", "resume"):
        until = reply.get("until")
        print(f"paused until {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(until))}" if reply.get("paused")
              else "not paused")
    else:
        print(order_text(reply))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
