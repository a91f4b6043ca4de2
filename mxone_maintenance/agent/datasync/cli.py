"""The data sync of one LIM by hand (the lab tests and bench_sync run it inside a lab host):

  python -m mxone_maintenance.agent.datasync.cli [--root DIR] pull --lim N --from ADDRESS
        --as standby|regular [--name PEER_NAME] [--clock-skew S] [--dry-run] [--json] [--key F]
        [--known-hosts F] [--user U] [--io-timeout S] [--bwlimit KBPS] [--bind OUR_BASE_ADDRESS]

By hand nothing waits for the standby to have run the LIM (the agent's pulls do). The key line written
by the utility lets in only the members' base addresses: give --bind when the kernel may pick another.

Exit status 0 when the sync succeeded (whether or not anything was pulled), 1 when it failed.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, replace
from pathlib import Path

from mxone_maintenance.agent.datasync.lim_sync import sync_lim
from mxone_maintenance.agent.datasync.transport import Peer, SyncSettings
from mxone_maintenance.core.paths import Paths

PROG = "python -m mxone_maintenance.agent.datasync.cli"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description="pull a LIM's newer exchange data from a cluster peer")
    parser.add_argument("--root", help="prefix for /etc/opt/eri_sn and /var/opt/eri_sn (default $MXONE_ROOT or /)")
    sub = parser.add_subparsers(dest="command", required=True)
    pull = sub.add_parser("pull", help="sync one LIM with one peer (pull if the peer's data is newer)")
    pull.add_argument("--lim", type=int, required=True)
    pull.add_argument("--from", dest="address", required=True, help="the peer's address")
    pull.add_argument("--as", dest="role", choices=["standby", "regular"], required=True,
                      help="this server's role for the LIM")
    pull.add_argument("--name", help="the peer's name in cluster_known_hosts (host key by name)")
    pull.add_argument("--clock-skew", type=float, default=0.0, metavar="S", help="peer clock minus ours")
    pull.add_argument("--dry-run", action="store_true", help="only list and decide")
    pull.add_argument("--json", action="store_true")
    pull.add_argument("--key", type=Path)
    pull.add_argument("--known-hosts", type=Path)
    pull.add_argument("--user", default="root")
    pull.add_argument("--io-timeout", type=int, default=30, metavar="S")
    pull.add_argument("--bwlimit", type=int, metavar="KBPS", help="rsync --bwlimit (KiB/s)")
    pull.add_argument("--bind", metavar="ADDRESS", help="connect from this address (our base address)")
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace, paths: Paths) -> SyncSettings:
    settings = SyncSettings.for_paths(paths, user=args.user, io_timeout_s=args.io_timeout,
                                      bwlimit_kbps=args.bwlimit, bind_address=args.bind)
    return replace(settings, key=args.key or settings.key, known_hosts=args.known_hosts or settings.known_hosts)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    paths = Paths.from_env(args.root)
    result = sync_lim(paths, args.role, args.lim, Peer(args.address, args.name), settings_from(args, paths),
                      args.clock_skew, args.dry_run)
    if args.json:
        print(json.dumps(asdict(result)))
    else:
        print(result.line(), file=sys.stdout if result.ok else sys.stderr)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
