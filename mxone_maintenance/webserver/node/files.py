"""Where the pair's files are on a server, and writing them whole (a crash leaves the old file or the
new one, never half of one)."""
from __future__ import annotations

import os
from pathlib import Path

from mxone_maintenance.core.config.atomic import write_atomic
from mxone_maintenance.webserver.node.keepalived_conf import CHECK_SCRIPT, NOTIFY_SCRIPT
from mxone_maintenance.webserver.shared.pair_file import PairFileError, PairSettings, pair_text, parse_pair

PAIR_FILE = Path("/etc/opt/eri_sn/redundancy.yaml")
NODE_LOG = Path("/var/log/mxone-pmsnm.log")


def read_pair() -> PairSettings | None:
    """This server's pair settings, None when redundancy is not set here."""
    try:
        text = PAIR_FILE.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise PairFileError(f"{PAIR_FILE}: cannot be read: {exc.strerror}") from None
    return parse_pair(text, str(PAIR_FILE))


def write_pair(pair: PairSettings) -> None:
    write_atomic(PAIR_FILE, pair_text(pair), 0o644)


def write_file(path: str | Path, text: str, mode: int = 0o644) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_atomic(Path(path), text, mode)


def remove_pair_files(keepalived_conf: str) -> None:
    for path in (PAIR_FILE, Path(CHECK_SCRIPT), Path(NOTIFY_SCRIPT), Path(keepalived_conf)):
        if path.exists() or path.is_symlink():
            os.unlink(path)
