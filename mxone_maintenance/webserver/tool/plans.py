"""Each Redundancy action as a plan: the checks against what both servers said, then the steps, shown
before anything changes. Pure: no SSH here (apply.py runs the steps)."""
from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Interface
from typing import Any

from mxone_maintenance.webserver.shared.pair_file import PairSettings, Role, pair_text
from mxone_maintenance.webserver.tool.pair import Pair, PairProblem, settings_for
from mxone_maintenance.webserver.tool.server_facts import ServerFacts

MANAGER = "mxone_manager"


@dataclass(frozen=True)
class Step:
    server: str
    text: str
    action: str                                   # a node action, or a wait the tool does ("await-...")
    request: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)    # request key -> "manager" | "replication"
    timeout: float = 300


@dataclass(frozen=True)
class Plan:
    title: str
    steps: tuple[Step, ...]
    notes: tuple[str, ...] = ()
    confirm: str = "Apply this?"

    def lines(self) -> list[str]:
        out = [self.title]
        out += [f"  {n}. {step.server}: {step.text}" for n, step in enumerate(self.steps, 1)]
        return out + [f"  {note}" for note in self.notes]


def _facts(facts: dict[str, ServerFacts], name: str) -> ServerFacts:
    return facts[name]


def _need_snm(found: ServerFacts, install: bool, master_pm: bool) -> list[Step]:
    steps = []
    if not found.manager_user:
        raise PairProblem(f"{found.name} has no user {MANAGER} (is MX-ONE's SNM installed there?)")
    if found.snm_version is None:
        if not found.can_install_snm:
            raise PairProblem(f"SNM is not installed on {found.name}, and its webserver.yaml names no install "
                              "command; install SNM there first")
        if not install:
            raise PairProblem(f"SNM is not installed on {found.name}; answer yes to install it (or --yes)")
        steps.append(Step(found.name, "install SNM (webserver.yaml's install_snm)", "install-snm", timeout=900))
    if master_pm and found.pm_version is None:
        raise PairProblem(f"PM runs on the master but is not installed on {found.name}; install PM there first")
    return steps


def _logins(pair: Pair, role: Role, known_host: str) -> list[Step]:
    me, peer = pair.name_of(role), pair.name_of("standby" if role == "master" else "master")
    peer_ip = str(pair.base_of("standby" if role == "master" else "master").ip)
    return [Step(me, f"silent SSH login of {MANAGER} to {peer}: a key without passphrase, {peer}'s host key "
                     "as the admin's known_hosts pins it", "login-key", {"user": MANAGER, "known_host": known_host}),
            Step(peer, f"authorize {me}'s {MANAGER} key", "authorize", {"user": MANAGER}),
            Step(me, f"check: {MANAGER} logs in to {peer} without a password", "check-login",
                 {"user": MANAGER, "peer": f"{MANAGER}@{peer_ip}"})]


def _password_steps(names: list[str]) -> list[Step]:
    return [Step(name, f"set the password of {MANAGER}", "set-password", {"user": MANAGER},
                 {"password": "manager"}) for name in names]


def plan_setup(pair: Pair, role: Role, vip: IPv4Interface, user: str, facts: dict[str, ServerFacts],
               known_host: str, install: bool = False, restart: bool = True, reconfigure: bool = False) -> Plan:
    master, standby = _facts(facts, pair.master), _facts(facts, pair.standby)
    mine = master if role == "master" else standby
    if role == "master":
        if master.pair and not reconfigure:
            raise PairProblem(f"PM/SNM redundancy is already set on {pair.master}; use reconfigure")
        if reconfigure and not master.pair:
            raise PairProblem(f"PM/SNM redundancy is not set on {pair.master}; use setup")
        if master.snm_version is None:
            raise PairProblem(f"SNM is not installed on the master {pair.master}")
        generation = master.pair.generation + 1 if master.pair else 1
        settings = settings_for(pair, "master", vip, user, generation)
        steps = _need_snm(standby, install, master.pm_version is not None) + _password_steps([pair.master, pair.standby])
        steps += _logins(pair, "master", known_host)
        steps.append(Step(pair.master, f"replication role {user}, database settings and restart, keepalived with "
                                       f"virtual IP {vip} (fallback {settings.fallback}); PM/SNM is down meanwhile",
                          "setup-master", {"pair": pair_text(settings)}, {"replication_password": "replication"}))
        return Plan(f"{'Reconfigure' if reconfigure else 'Master configuration'} on {pair.master} "
                    f"(standby {pair.standby}, cluster {pair.cluster}):", tuple(steps),
                    ("Webserver will not work while setting up redundancy.",),
                    "Webserver will not work while setting up redundancy, do you wish to continue?")
    theirs = master.pair
    if theirs is None:
        raise PairProblem(f"set up the master {pair.master} first (its Master configuration)")
    if theirs.virtual_ip != vip or theirs.replication_user != user:
        raise PairProblem(f"the master {pair.master} has virtual IP {theirs.virtual_ip} and replication user "
                          f"{theirs.replication_user}; this standby was given {vip} and {user}")
    if standby.pair and not reconfigure:
        raise PairProblem(f"PM/SNM redundancy is already set on {pair.standby}; use reconfigure")
    if reconfigure and standby.pair and standby.pair.generation >= theirs.generation:
        raise PairProblem(f"reconfigure the master {pair.master} first (the standby already follows its settings)")
    settings = settings_for(pair, "standby", vip, user, theirs.generation).with_changes(fallback=theirs.fallback)
    steps = _need_snm(mine, install, master.pm_version is not None) + _password_steps([pair.standby])
    steps += _logins(pair, "standby", known_host)
    steps.append(Step(pair.standby, f"database: a copy of {pair.master}'s (pg_basebackup as {user}), streaming "
                                    f"from it; keepalived settings (virtual IP {vip})", "setup-standby",
                      {"pair": pair_text(settings)}, {"replication_password": "replication"}, timeout=3600))
    if restart:
        steps.append(Step(pair.standby, "restart the webserver's redundancy (keepalived)", "start"))
    return Plan(f"{'Reconfigure' if reconfigure else 'Standby configuration'} on {pair.standby} "
                f"(master {pair.master}, cluster {pair.cluster}):", tuple(steps))


def current_settings(facts: dict[str, ServerFacts], pair: Pair) -> PairSettings:
    found = facts[pair.master].pair or facts[pair.standby].pair
    if found is None:
        raise PairProblem("PM/SNM redundancy is not set up (on neither server)")
    return found


def plan_remove(pair: Pair, role: Role, facts: dict[str, ServerFacts]) -> Plan:
    master, standby = facts[pair.master], facts[pair.standby]
    if role == "master":
        if master.pair is None:
            raise PairProblem(f"PM/SNM redundancy is not set on the master {pair.master}")
        if standby.serves:
            raise PairProblem(f"PM/SNM runs on {pair.standby} now; order Fallback first, then remove")
        steps = [Step(pair.standby, "stop keepalived, so that it does not take PM/SNM over", "hold"),
                 Step(pair.master, "remove redundancy: keepalived stopped and its settings removed, the replication "
                                   "role dropped, the database and webserver as before setup", "remove")]
        return Plan(f"Remove Redundancy on the master {pair.master}:", tuple(steps),
                    (f"then run remove --role standby for {pair.standby}",))
    if master.pair is not None:
        raise PairProblem(f"remove redundancy on the master {pair.master} first (--role master)")
    if standby.pair is None:
        raise PairProblem(f"PM/SNM redundancy is not set on {pair.standby}")
    saved = standby.pair.before.saved_data
    restored = f"its own database restored from {saved}" if saved else "the copy of the master's database removed"
    return Plan(f"Remove Redundancy on the standby {pair.standby}:",
                (Step(pair.standby, f"remove redundancy: keepalived settings removed, {restored}, units as before "
                                    "setup", "remove"),))


def plan_fallback(pair: Pair, facts: dict[str, ServerFacts]) -> Plan:
    master = facts[pair.master]
    current_settings(facts, pair)
    if master.serves:
        raise PairProblem(f"PM/SNM already runs on the master {pair.master}; nothing to fall back")
    if not master.database.streaming:
        raise PairProblem(f"the master {pair.master}'s database is not streaming from {pair.standby} "
                          f"({master.database.described}); it cannot take PM/SNM back yet")
    steps = (Step(pair.standby, "stop serving PM/SNM: web application, then a clean database shutdown (its last "
                                f"writes stream to {pair.master})", "release"),
             Step(pair.master, "wait: keepalived moves the virtual IP here; the database is promoted; the web "
                               "application serves", "await-serving", timeout=60),
             Step(pair.standby, f"wait: the database follows {pair.master} again", "await-following", timeout=120))
    return Plan(f"Fallback of PM/SNM from {pair.standby} to the master {pair.master}:", steps)


def plan_fallback_type(pair: Pair, facts: dict[str, ServerFacts]) -> Plan:
    current = current_settings(facts, pair)
    targets = [name for name in (pair.master, pair.standby)
               if facts[name].pair is not None and facts[name].pair.fallback != pair.fallback]
    if not targets:
        raise PairProblem(f"the PM/SNM fallback is already {current.fallback}, as the cluster's; nothing to change")
    steps = tuple(Step(name, f"fallback {facts[name].pair.fallback} -> {pair.fallback} (keepalived "
                             f"{'preempt' if pair.fallback == 'automatic' else 'nopreempt'}, reloaded)",
                       "set-fallback", {"fallback": pair.fallback}) for name in targets)
    return Plan(f"Reconfigure Fallback: PM/SNM's fallback made the cluster's ({pair.fallback}):", steps)
