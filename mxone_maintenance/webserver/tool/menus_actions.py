"""The Redundancy menu's items, each doing what its command line does (tool/cli.py, tool/flow.py,
tool/plans.py): the questions and the form, both servers asked in a worker, the plan with Apply / Back,
the steps applied in a worker with a line each, and the result. A refusal (a rule, a server that does
not answer, the wrong order) is one line on the screen, and nothing has changed."""
from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, TypeVar

from mxone_maintenance.core.config import one_line
from mxone_maintenance.webserver.shared.pair_file import PairSettings, Role
from mxone_maintenance.webserver.tool import plans
from mxone_maintenance.webserver.tool.apply import Secrets
from mxone_maintenance.webserver.tool.flow import Failed, NodeFailed, PairProblem, SetupRequest, apply, ask_both, \
    close, plan_setup_from, setup_values, snm_to_install
from mxone_maintenance.webserver.tool.menus_forms import SetupForm
from mxone_maintenance.webserver.tool.menus_screens import Entry, Outcome, PlanView, SnmMenu, StepsProgress, Waiting
from mxone_maintenance.webserver.tool.menus_status import CheckStatus
from mxone_maintenance.webserver.tool.node_client import NodeClient
from mxone_maintenance.webserver.tool.pair import Pair
from mxone_maintenance.webserver.tool.server_facts import ServerFacts

if TYPE_CHECKING:
    from mxone_maintenance.webserver.tool.menus import App

T = TypeVar("T")
Facts = dict[str, ServerFacts]
EXPECTED = (PairProblem, Failed, NodeFailed, ValueError)
CONFIRM = "Webserver will not work while setting up redundancy, do you wish to continue?"
SETUP_TITLES = {("master", False): "Master configuration", ("standby", False): "Standby configuration",
                ("master", True): "Reconfigure the master", ("standby", True): "Reconfigure the standby"}
UNCHANGED = "nothing was changed"


def refusal(err: BaseException) -> str:
    """One line: what stopped it, and that nothing changed (said once)."""
    line = one_line(str(err)) if isinstance(err, EXPECTED) else f"{type(err).__name__}: {one_line(str(err))}"
    return line if UNCHANGED in line else f"{line}; {UNCHANGED}"


class Redundancy:
    def __init__(self, app: App) -> None:
        self.app = app

    @property
    def context(self):
        return self.app.context

    def open_menu(self) -> None:
        self.app.push(SnmMenu("Redundancy", [
            Entry("Master configuration", lambda: self.setup("master")),
            Entry("Standby configuration", lambda: self.setup("standby")),
            Entry("CheckStatus", self.check_status),
            Entry("Reconfigure", lambda: self.choose_role("Reconfigure", self.reconfigure)),
            Entry("Fallback", lambda: self.change("Fallback", "fallback")),
            Entry("Reconfigure Fallback", lambda: self.change("Reconfigure Fallback", "reconfigure-fallback")),
            Entry("Remove Redundancy", lambda: self.choose_role(
                "Remove Redundancy", lambda role: self.change("Remove Redundancy", "remove", role))),
            Entry("Back", self.app.pop)], level=1))

    # ---------------------------------------------------------------- helpers
    def _pair(self, title: str) -> Pair | None:
        try:
            return self.context.pair()
        except (PairProblem, Failed) as exc:
            self.refused(title, exc)
            return None

    def refused(self, title: str, err: BaseException) -> None:
        self.app.push(Outcome(title, "error", f"Not possible: {refusal(err)}"))

    def with_clients(self, pair: Pair, use: Callable[[dict[str, NodeClient]], T]) -> Callable[[], T]:
        """A worker's job: both servers' node sides, used and closed again."""
        def job() -> T:
            clients = self.context.clients(pair)
            try:
                return use(clients)
            finally:
                close(clients)
        return job

    def in_worker(self, pair: Pair, job: Callable[[], Any], done: Callable[[Any], None],
                  refused: Callable[[BaseException], None]) -> None:
        """JOB in a worker behind a wait box (Esc leaves it: the answer is dropped); DONE or REFUSED after."""
        wait = Waiting(f"Asking {pair.master} and {pair.standby}…")
        self.app.push(wait)

        def answered(then: Callable[[Any], None]) -> Callable[[Any], None]:
            def after(value: Any) -> None:
                if self.app.holds(wait):
                    self.app.remove(wait)
                    then(value)
            return after
        self.app.runtime.submit(job, answered(done), answered(refused))

    # ---------------------------------------------------------------- the items
    def check_status(self) -> None:
        pair = self._pair("CheckStatus")
        if pair is not None:
            self.app.push(CheckStatus(pair, lambda: self.context.clients(pair), self.app.runtime))

    def choose_role(self, title: str, then: Callable[[Role], None]) -> None:
        """Master or standby (master first, then standby: the plan refuses the other order)."""
        pair = self._pair(title)
        if pair is None:
            return
        self.app.push(SnmMenu(title, [Entry(f"Master {pair.master} (first)", lambda: then("master")),
                                      Entry(f"Standby {pair.standby} (after the master)", lambda: then("standby")),
                                      Entry("Back", self.app.pop)], level=2))

    def setup(self, role: Role, current: PairSettings | None = None) -> None:
        """Master or Standby configuration (Reconfigure: CURRENT filled in): confirm on the master, the form."""
        reconfigure = current is not None
        title = SETUP_TITLES[(role, reconfigure)]
        pair = self._pair(title)
        if pair is None:
            return
        vip, user = (str(current.virtual_ip), current.replication_user) if current else ("", "")
        form = SetupForm(title, pair, role, lambda request, secrets: self.submitted(form, request, secrets),
                         vip=vip, user=user, reconfigure=reconfigure)
        if role == "master":
            self.app.ask(title, CONFIRM, lambda: self.app.push(form))
        else:
            self.app.push(form)

    def reconfigure(self, role: Role) -> None:
        pair = self._pair("Reconfigure")
        if pair is None:
            return
        job = self.with_clients(pair, lambda clients: plans.current_settings(ask_both(clients).facts, pair))
        self.in_worker(pair, job, lambda current: self.setup(role, current),
                       lambda err: self.refused("Reconfigure", err))

    def change(self, title: str, verb: str, role: Role | None = None) -> None:
        """Fallback, Reconfigure Fallback, Remove Redundancy: the command line's plan, then Apply / Back."""
        from mxone_maintenance.webserver.tool.cli import build_plan
        pair = self._pair(title)
        if pair is None:
            return
        args = SimpleNamespace(verb=verb, role=role, dry_run=False, yes=False)
        job = self.with_clients(pair, lambda clients: build_plan(args, self.context, pair, clients)[0])
        self.in_worker(pair, job, lambda plan: self.show_plan(title, pair, plan, Secrets()),
                       lambda err: self.refused(title, err))

    # ---------------------------------------------------------------- setup, after the form
    def submitted(self, form: SetupForm, request: SetupRequest, secrets: Secrets) -> None:
        pair = form.pair

        def facts_for(clients: dict[str, NodeClient]) -> Facts:
            """Both servers' facts; the plan's rules checked before any question (a mismatch is said now)."""
            facts = ask_both(clients).facts
            setup_values(pair, request, facts)
            plan_setup_from(self.context, pair, facts, request, snm_to_install(pair, facts) is not None, False)
            return facts
        self.in_worker(pair, self.with_clients(pair, facts_for),
                       lambda facts: self._install_question(form, request, secrets, facts),
                       lambda err: form.refuse(f"Not possible: {refusal(err)}"))

    def _install_question(self, form: SetupForm, request: SetupRequest, secrets: Secrets, facts: Facts) -> None:
        name = snm_to_install(form.pair, facts)

        def then(install: bool) -> Callable[[], None]:
            return lambda: self._restart_question(form, request, secrets, facts, install)
        if name is None:
            then(False)()
            return
        self.app.ask(form.title, f"SNM is not installed on {name}. Install it now?", then(True), then(False))

    def _restart_question(self, form: SetupForm, request: SetupRequest, secrets: Secrets, facts: Facts,
                          install: bool) -> None:
        def then(restart: bool) -> Callable[[], None]:
            return lambda: self._setup_plan(form, request, secrets, facts, install, restart)
        if request.role == "master":
            then(True)()
            return
        self.app.ask(form.title, "Re-start webserver now?", then(True), then(False))

    def _setup_plan(self, form: SetupForm, request: SetupRequest, secrets: Secrets, facts: Facts, install: bool,
                    restart: bool) -> None:
        pair = form.pair
        job = lambda: plan_setup_from(self.context, pair, facts, request, install, restart)  # noqa: E731
        self.in_worker(pair, job, lambda plan: self.show_plan(form.title, pair, plan, secrets),
                       lambda err: form.refuse(f"Not possible: {refusal(err)}"))

    # ---------------------------------------------------------------- plan and apply
    def show_plan(self, title: str, pair: Pair, plan: plans.Plan, secrets: Secrets) -> None:
        self.app.push(PlanView(plan, lambda: self.apply(title, pair, plan, secrets)))

    def apply(self, title: str, pair: Pair, plan: plans.Plan, secrets: Secrets) -> None:
        progress = StepsProgress(plan)
        self.app.push(progress)
        runtime = self.app.runtime

        def report(server: str, message: str) -> None:          # from the worker thread
            runtime.post(lambda: progress.update(server, message))

        def finished(outcome: Outcome) -> None:
            progress.busy = False
            self.app.remove(progress)
            self.app.push(outcome)
        job = self.with_clients(pair, lambda clients: apply(plan, clients, secrets, report))
        runtime.submit(job, lambda _none: finished(Outcome(title, "done", f"Done: {plan.title.rstrip(':')}")),
                       lambda err: finished(Outcome(title, "failed", f"FAILED: {failure(err)}")))


def failure(err: BaseException) -> str:
    if isinstance(err, Failed):
        return one_line(str(err))
    return f"{one_line(str(err)) or type(err).__name__}; the change may be incomplete: look at CheckStatus"
