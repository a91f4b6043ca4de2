"""PostgreSQL on this server for PM/SNM redundancy: the replication role, the settings both sides need,
the standby made with pg_basebackup, promote, and a returning primary rewound (pg_rewind) to follow the
new one. Every command runs as the database's own user; the replication password is only ever in the
0600 password file (never on a command line) and reaches the server as a SCRAM verifier."""
from __future__ import annotations

import os
import pwd
import time
from pathlib import Path

from mxone_maintenance.webserver.node.platform import Postgres
from mxone_maintenance.webserver.node.run import NodeError, run, succeeds
from mxone_maintenance.webserver.shared.pair_file import PairSettings

CONF_FILE = "mxone_redundancy.conf"
INCLUDE = f"include_if_exists = '{CONF_FILE}'     # PM/SNM redundancy (webserver_config)\n"
HBA_BEGIN, HBA_END = "# PM/SNM redundancy begin (webserver_config)\n", "# PM/SNM redundancy end\n"
REWIND_FUNCTIONS = ("pg_catalog.pg_ls_dir(text, boolean, boolean)", "pg_catalog.pg_stat_file(text, boolean)",
                    "pg_catalog.pg_read_binary_file(text)",
                    "pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean)")


def as_owner(pg: Postgres, *argv: str) -> list[str]:
    return ["runuser", "-u", pg.user, "--", *argv]


def psql(pg: Postgres, sql: str, database: str = "postgres", timeout: float = 30) -> str:
    """Run `sql` (given on stdin, never on the command line) through the local socket; stdout stripped."""
    argv = as_owner(pg, pg.tool("psql"), "-h", pg.socket, "-p", str(pg.port), "-d", database,
                    "-XAtq", "-v", "ON_ERROR_STOP=1", "-f", "-")
    return run(argv, input=sql, timeout=timeout).stdout.strip()


def running(pg: Postgres) -> bool:
    return succeeds(as_owner(pg, pg.tool("pg_ctl"), "-D", pg.data, "status"))


def role(pg: Postgres) -> str | None:
    """'primary', 'standby', or None when it does not answer."""
    try:
        return "standby" if psql(pg, "select pg_is_in_recovery();", timeout=5) == "t" else "primary"
    except NodeError:
        return None


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def identifier(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def ensure_replication_role(pg: Postgres, user: str, verifier: str) -> None:
    """Create or update the role (LOGIN REPLICATION) with the SCRAM verifier; allow what pg_rewind reads."""
    grants = "".join(f"grant execute on function {fn} to {identifier(user)};\n" for fn in REWIND_FUNCTIONS)
    psql(pg, f"""do $$ begin
  if not exists (select from pg_roles where rolname = {literal(user)}) then
    create role {identifier(user)} login replication;
  end if;
end $$;
alter role {identifier(user)} login replication password {literal(verifier)};
{grants}""")


def drop_replication_role(pg: Postgres, user: str) -> None:
    revokes = "".join(f"revoke execute on function {fn} from {identifier(user)};\n" for fn in REWIND_FUNCTIONS)
    psql(pg, f"""do $$ begin
  if exists (select from pg_roles where rolname = {literal(user)}) then
    {revokes.replace(chr(10), ' ')}
    drop role {identifier(user)};
  end if;
end $$;""")


def _owner_ids(pg: Postgres) -> tuple[int, int]:
    entry = pwd.getpwnam(pg.user)
    return entry.pw_uid, entry.pw_gid


def write_owned(pg: Postgres, path: str, text: str, mode: int = 0o600) -> None:
    """Write as the database's user, with `mode` from the first byte (the replication password file)."""
    target = Path(path)
    temp = target.with_name(f".{target.name}.new")
    temp.unlink(missing_ok=True)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.write(fd, text.encode())
        os.fchown(fd, *_owner_ids(pg))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, target)


def passfile_entry(host: str, port: int, user: str, password: str) -> str:
    def escaped(field: str) -> str:
        return field.replace("\\", "\\\\").replace(":", "\\:")
    return ":".join(escaped(str(field)) for field in (host, port, "*", user, password)) + "\n"


def write_passfile(pg: Postgres, pair: PairSettings, password: str) -> None:
    write_owned(pg, pg.passfile, passfile_entry(str(pair.peer_base.ip), pg.port, pair.replication_user, password))


def conninfo(pg: Postgres, pair: PairSettings) -> str:
    return (f"host={pair.peer_base.ip} port={pg.port} user={pair.replication_user} passfile={pg.passfile} "
            f"application_name={pair.node} connect_timeout=2")


def redundancy_conf(pg: Postgres, pair: PairSettings) -> str:
    follow = f"primary_conninfo = {literal(conninfo(pg, pair))}\nrecovery_target_timeline = 'latest'\n"
    return ("# PM/SNM redundancy, written by webserver_config; do not edit\n"
            "listen_addresses = '*'\nwal_level = replica\nmax_wal_senders = 5\nwal_keep_size = '512MB'\n"
            "hot_standby = on\nwal_log_hints = on\nwal_receiver_timeout = '10s'\nwal_sender_timeout = '10s'\n"
            + follow)


def configure(pg: Postgres, pair: PairSettings) -> None:
    """This server's replication settings, its peer allowed in pg_hba.conf (first lines: first match)."""
    data = Path(pg.data)
    write_owned(pg, str(data / CONF_FILE), redundancy_conf(pg, pair), 0o600)
    conf = (data / "postgresql.conf").read_text()
    if INCLUDE not in conf:
        write_owned(pg, str(data / "postgresql.conf"), conf.rstrip("\n") + "\n" + INCLUDE, 0o600)
    peer = f"{pair.peer_base.ip}/32"
    block = (HBA_BEGIN + f"host replication {pair.replication_user} {peer} scram-sha-256\n"
             f"host postgres {pair.replication_user} {peer} scram-sha-256\n" + HBA_END)
    write_owned(pg, str(data / "pg_hba.conf"), block + _without_block((data / "pg_hba.conf").read_text()), 0o600)


def _without_block(text: str) -> str:
    if HBA_BEGIN in text and HBA_END in text:
        head, rest = text.split(HBA_BEGIN, 1)
        return head + rest.split(HBA_END, 1)[1]
    return text


def unconfigure(pg: Postgres) -> None:
    data = Path(pg.data)
    (data / CONF_FILE).unlink(missing_ok=True)
    (data / "standby.signal").unlink(missing_ok=True)
    conf = (data / "postgresql.conf").read_text()
    if INCLUDE in conf:
        write_owned(pg, str(data / "postgresql.conf"), conf.replace(INCLUDE, ""), 0o600)
    hba = (data / "pg_hba.conf").read_text()
    write_owned(pg, str(data / "pg_hba.conf"), _without_block(hba), 0o600)


def mark_standby(pg: Postgres) -> None:
    write_owned(pg, str(Path(pg.data) / "standby.signal"), "", 0o600)


def is_marked_standby(pg: Postgres) -> bool:
    return (Path(pg.data) / "standby.signal").exists()


def base_backup(pg: Postgres, pair: PairSettings) -> None:
    """A fresh copy of the peer's database into the (absent) data folder."""
    run(as_owner(pg, "env", f"PGPASSFILE={pg.passfile}", pg.tool("pg_basebackup"), "-h", str(pair.peer_base.ip),
                 "-p", str(pg.port), "-U", pair.replication_user, "-D", pg.data, "-X", "stream", "-c", "fast",
                 "--no-password"), timeout=3600)


def rewind(pg: Postgres, pair: PairSettings) -> None:
    """Make the stopped database a copy of the peer's history (its own divergent tail is dropped)."""
    source = f"host={pair.peer_base.ip} port={pg.port} user={pair.replication_user} dbname=postgres " \
             f"passfile={pg.passfile} connect_timeout=3"
    run(as_owner(pg, pg.tool("pg_rewind"), "-D", pg.data, f"--source-server={source}"), timeout=1800)


def promote(pg: Postgres) -> None:
    run(as_owner(pg, pg.tool("pg_ctl"), "-D", pg.data, "promote", "-w", "-t", "60"), timeout=90)


def peer_role(pg: Postgres, pair: PairSettings, timeout: float = 2) -> str | None:
    """The peer database's role over the replication user's normal login, None when it does not answer."""
    argv = as_owner(pg, "env", f"PGPASSFILE={pg.passfile}", f"PGCONNECT_TIMEOUT={max(1, int(timeout))}",
                    pg.tool("psql"), "-h", str(pair.peer_base.ip), "-p", str(pg.port), "-U", pair.replication_user,
                    "-d", "postgres", "-XAtq", "-w", "-c", "select pg_is_in_recovery()")
    try:
        out = run(argv, timeout=timeout + 3, check=False)
    except NodeError:
        return None
    if out.returncode != 0:
        return None
    return "standby" if out.stdout.strip() == "t" else "primary"


def receiving(pg: Postgres) -> bool:
    try:
        return psql(pg, "select count(*) from pg_stat_wal_receiver where status = 'streaming';", timeout=5) != "0"
    except NodeError:
        return False


def wait_until(condition, timeout: float, interrupted=lambda: False, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if interrupted():
            return False
        time.sleep(step)
    return condition()


def replication_view(pg: Postgres) -> dict:
    """What status shows of the database: role, and the replication lag as each side sees it."""
    found = role(pg)
    view: dict = {"running": found is not None, "role": found}
    try:
        if found == "primary":
            rows = psql(pg, "select application_name, state, "
                            "coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), 0)::bigint "
                            "from pg_stat_replication;", timeout=5)
            view["standbys"] = [dict(zip(("name", "state", "lag_bytes"), line.split("|"))) for line in rows.splitlines()]
        elif found == "standby":
            line = psql(pg, "select coalesce((select status from pg_stat_wal_receiver), 'none'), "
                            "coalesce(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), 0)::bigint, "
                            "coalesce(extract(epoch from now() - pg_last_xact_replay_timestamp()), -1)::float;",
                        timeout=5)
            receiver, lag, age = line.split("|")
            view.update(receiver=receiver, lag_bytes=int(lag), last_replay_age_s=round(float(age), 1))
    except (NodeError, ValueError):
        pass
    return view
