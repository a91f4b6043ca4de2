"""Silent SSH login for mxone_manager between the pair (a key without passphrase, as the seed shows):
the key made on the side that logs in, the other side's host key pinned for it (the one the admin's
known_hosts holds, never accepted blindly), its public key authorized on the other side."""
from __future__ import annotations

import os
import pwd
from pathlib import Path

from mxone_maintenance.webserver.node.run import NodeError, run


def _home(user: str) -> tuple[Path, int, int]:
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise NodeError(f"there is no user {user} on this server") from None
    return Path(entry.pw_dir), entry.pw_uid, entry.pw_gid


def _ssh_dir(user: str) -> tuple[Path, int, int]:
    home, uid, gid = _home(user)
    folder = home / ".ssh"
    folder.mkdir(mode=0o700, exist_ok=True)
    os.chown(folder, uid, gid)
    return folder, uid, gid


def _add_line(path: Path, line: str, uid: int, gid: int) -> None:
    lines = path.read_text().splitlines() if path.exists() else []
    if line.strip() not in (existing.strip() for existing in lines):
        lines.append(line.strip())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write("\n".join(lines) + "\n")
    os.chown(path, uid, gid)
    os.chmod(path, 0o600)


def set_password(user: str, password: str) -> None:
    if "\n" in password or ":" in user:
        raise NodeError("a password is one line")
    _home(user)
    run(["chpasswd"], input=f"{user}:{password}\n", timeout=30)


def login_key(user: str, known_host_line: str) -> str:
    """The user's key (made once), the peer's host key pinned for it; returns the public key line."""
    folder, uid, gid = _ssh_dir(user)
    key = folder / "id_ed25519"
    if not key.exists():
        run(["runuser", "-u", user, "--", "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
             f"{user}@pmsnm-redundancy", "-f", str(key)], timeout=30)
    _add_line(folder / "known_hosts", known_host_line, uid, gid)
    return Path(f"{key}.pub").read_text().strip()


def authorize(user: str, public_key: str) -> None:
    words = public_key.split()
    if len(words) < 2 or not words[0].startswith(("ssh-", "ecdsa-")):
        raise NodeError("not a public key")
    folder, uid, gid = _ssh_dir(user)
    _add_line(folder / "authorized_keys", " ".join(words[:3]), uid, gid)


def check_login(user: str, peer: str) -> None:
    run(["runuser", "-u", user, "--", "ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
         "-o", "ConnectTimeout=5", peer, "true"], timeout=20)
