"""The application: a stack of screens (menus cascade as boxes, Esc closes one level), the header and
the key footer, and the wiring of screen signals: form -> plan -> apply (in a worker) -> result. When
apply refuses because a member does not answer and its part can wait, the menus ask whether to apply
without it (No has the focus) and, on Yes, apply again leaving it out.

`run_menus(session)` is what `mxone_maintenance` without a subcommand runs (the command line fills the
MenuSession). Nothing here talks to a server before the technician asks for something: SSH happens only
in worker threads. A terminal that goes away (ssh dropped) ends the menus with one line in the UI log.
"""
from __future__ import annotations

import errno
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

import urwid

from mxone_maintenance.core.model import System
from mxone_maintenance.utility.ops.journal import Journal
from mxone_maintenance.utility.ops.plan import Plan, catch_up_words
from mxone_maintenance.utility.ops.proposals import Proposal, Replan
from mxone_maintenance.utility.ui.actions import ACTIONS, EXIT
from mxone_maintenance.utility.ui.forms import ActionEnv
from mxone_maintenance.utility.ui.interrupted import FINISH, UNDO, JournalSource, recovery_screen
from mxone_maintenance.utility.ui import look
from mxone_maintenance.utility.ui.footer import Footer
from mxone_maintenance.utility.ui.keys import Command, command_for, split_meta
from mxone_maintenance.utility.ui.menu_screen import MenuScreen
from mxone_maintenance.utility.ui.menu_tree import ROOT_MENU, Menu, MenuDataError, MenuItem, load_tree
from mxone_maintenance.utility.ui.palette import PALETTE
from mxone_maintenance.utility.ui.screens import (
    HelpScreen,
    NoticeScreen,
    PlanScreen,
    ProgressScreen,
    QuestionScreen,
    ResultScreen,
    Screen,
)
from mxone_maintenance.utility.ui.session import MenuSession
from mxone_maintenance.utility.ui.system_source import SystemSource
from mxone_maintenance.utility.ui.terminal import SessionLog, leave_process, ui_log_path
from mxone_maintenance.utility.ui.worker import InlineRuntime, LoopRuntime, Runtime

PRODUCT = "MX-ONE maintenance"
logger = logging.getLogger(__name__)
TYPED_LOST = "The values typed in this form are not kept."


def stacked(stack: list, size: tuple[int, int], menu_type: type) -> urwid.Widget:
    """The screens from the last full one up, drawn over each other: a menu (`menu_type`) one step
    right and down per level, any other overlay centred."""
    cols, rows = size
    start = max((i for i, s in enumerate(stack) if not s.overlay), default=0)
    widget: urwid.Widget = urwid.SolidFill(" ")
    for screen in stack[start:]:
        box = urwid.AttrMap(look.current().box(screen, screen.title), "box")
        if not screen.overlay:
            widget = box
            continue
        width, height = screen.box_size(cols, rows)
        if isinstance(screen, menu_type):
            left = min(1 + 4 * screen.level, max(0, cols - width))
            top = min(2 * screen.level, max(0, rows - height))
            widget = urwid.Overlay(box, widget, "left", width, "top", height, left=left, top=top)
        else:
            widget = urwid.Overlay(box, widget, "center", width, "middle", height)
    return widget


def drive(root: urwid.Widget, size, key: str, unhandled: Callable[[str], bool]) -> str | None:
    """One key as the main loop takes it: the widgets first, then the program's own commands."""
    rest: str | None = None
    for one in split_meta([key]):
        rest = root.keypress(size, one)
        if rest is not None and unhandled(rest):
            rest = None
    return rest


class Desk(urwid.WidgetWrap):
    """The body: tells the app its size so boxes are laid out for the real screen."""

    def __init__(self, on_size: Callable[[tuple[int, int]], None]) -> None:
        self.placeholder = urwid.WidgetPlaceholder(urwid.SolidFill(" "))
        self._on_size = on_size
        super().__init__(self.placeholder)

    def render(self, size, focus: bool = False):
        self._on_size(size)
        return super().render(size, focus)


class App:
    def __init__(self, session: MenuSession, runtime: Runtime | None = None,
                 tree: dict[str, Menu] | None = None, drawn: look.Look = look.UNICODE) -> None:
        look.use(drawn)
        self.session = session
        self.runtime: Runtime = runtime or InlineRuntime()
        self.tree = tree or load_tree()
        self.system = SystemSource(session.system_file)
        self.journal = JournalSource(session.system_file)
        self.stack: list[Screen] = []
        self.size = (80, 22)
        self.exited = False
        self.exit: Callable[[], None] = self._mark_exited
        self.header = urwid.Text("", wrap="ellipsis")
        self.footer = Footer()
        self.note = ""
        self.log_file: Path | None = None
        self.desk = Desk(self._resized)
        self.root = urwid.Frame(urwid.AttrMap(self.desk, "background"),
                                header=urwid.AttrMap(self.header, "header"),
                                footer=urwid.AttrMap(self.footer, "footer"))
        self.push(MenuScreen(self.tree[ROOT_MENU], self.system, journal=self.journal))
        problem = self.system()
        if isinstance(problem, str):
            self.push(NoticeScreen("Cannot read the system file", self.system.detail or problem))

    # ---------------------------------------------------------------- the stack
    @property
    def top(self) -> Screen:
        return self.stack[-1]

    def push(self, screen: Screen) -> None:
        if "back" in screen.signals:
            urwid.connect_signal(screen, "back", lambda *_: self.pop())
        for name, handler in self._signal_handlers().items():
            if name in screen.signals:
                urwid.connect_signal(screen, name, handler)
        self.stack.append(screen)
        self.note = ""
        self.redraw()

    def _signal_handlers(self) -> dict[str, Callable]:
        return {"open": self._open, "plan": self._show_plan, "apply": self._apply, "close": self._close_result}

    def pop(self) -> None:
        if len(self.stack) > 1:
            self.stack.pop().closing()
        if isinstance(self.top, MenuScreen):
            self.top.refresh()
        self.note = ""
        self.redraw()

    def pop_to_menu(self) -> None:
        while len(self.stack) > 1 and not isinstance(self.top, MenuScreen):
            self.stack.pop().closing()
        if isinstance(self.top, MenuScreen):
            self.top.refresh()
        self.redraw()

    # ---------------------------------------------------------------- drawing
    def _resized(self, size: tuple[int, int]) -> None:
        if size != self.size:
            self.size = size
            self._compose()

    def redraw(self) -> None:
        crumbs = [s.title for s in self.stack[1:] if s.title]
        self.header.set_text(look.shown(" " + " › ".join([PRODUCT, *crumbs])))
        self.footer.show(self.top.context, self.note)
        self._compose()

    def _compose(self) -> None:
        self.desk.placeholder.original_widget = stacked(self.stack, self.size, MenuScreen)

    # ---------------------------------------------------------------- keys
    def keypress(self, size, key: str) -> str | None:
        """Headless driving: the same path as the main loop (widgets first, then the app's commands)."""
        return drive(self.root, size, key, self.unhandled)

    def unhandled(self, key: str) -> bool:
        handler = {Command.BACK: self.back, Command.BACKSPACE_BACK: self.back, Command.QUIT: self.quit,
                   Command.HELP: self.help}.get(
            command_for(key, self.top.context))
        if handler is None:
            return False
        handler()
        return True

    def back(self) -> None:
        """One level back; leaving the main menu (the utility) or a form's typed values asks first."""
        if isinstance(self.top, QuestionScreen):
            self.top.answer_no()
            return
        if self.top.busy:
            self.note = "A change is being applied: wait for the result."
            self.redraw()
            return
        if self.top.typed:
            self._ask("Leave the form?", f"{TYPED_LOST} Leave the form?", "Leave the form", self._leave_form)
            return
        if len(self.stack) == 1:
            self._ask("Leave?", f"Leave {PRODUCT}?", "Leave", self.exit)
            return
        self.pop()

    def _leave_form(self) -> None:
        self.stack.pop()                     # the question; the form goes as Esc would take it
        self.pop()

    def help(self) -> None:
        if not isinstance(self.top, HelpScreen):
            self.push(HelpScreen())

    def quit(self) -> None:
        """Leave at once, unless that would break off a change or lose a form's typed values: then ask."""
        if any(s.busy for s in self.stack):
            if not isinstance(self.top, QuestionScreen):
                self._ask("Leave?", "A change is being applied to the servers. Leaving now may leave it half "
                                    "done. Leave anyway?", "Leave anyway", self.exit)
            return
        if self.top.typed:
            self._ask("Leave?", f"{TYPED_LOST} Leave {PRODUCT}?", "Leave", self.exit)
            return
        self.exit()

    def _ask(self, title: str, question: str, yes: str, on_yes: Callable[[], None]) -> None:
        """A question over the top screen; No ("Stay", the focused answer) closes it."""
        screen = QuestionScreen(title, question, yes=yes, no="Stay")
        urwid.connect_signal(screen, "no", lambda *_: self.pop())
        urwid.connect_signal(screen, "yes", lambda *_: on_yes())
        self.push(screen)

    def _mark_exited(self) -> None:
        self.exited = True

    # ---------------------------------------------------------------- actions
    def env(self, system: System) -> ActionEnv:
        return ActionEnv(system=system, ssh_settings=self.session.ssh_settings,
                         local_agent=self.session.paths.agent_socket)

    def _open(self, menu: MenuScreen, item: MenuItem) -> None:
        if item.menu:
            self.push(MenuScreen(self.tree[item.menu], self.system, level=menu.level + 1, journal=self.journal))
            return
        if item.action == EXIT:
            self.quit()
            return
        system = self.system()
        if isinstance(system, str):
            menu.message.set_text(system)
            return
        if item.action in (FINISH, UNDO):
            self.push(recovery_screen(item, self.journal()))
            return
        self.push(ACTIONS[item.action](self.env(system), self.runtime))

    def _show_plan(self, form: Screen, proposal: Proposal) -> None:
        self.push(PlanScreen(form.title, proposal))

    def _apply(self, plan_screen: PlanScreen, proposal: Proposal) -> None:
        self._run_apply(plan_screen.action_title, proposal.plan, proposal.final, frozenset(),
                        plan_screen.recovering)

    def _run_apply(self, title: str, shown: Plan, final: Replan, allow_down: frozenset[str],
                   recovering: Journal | None) -> None:
        """Apply in a worker with progress: FINAL makes the plan to apply (it may ask the servers)."""
        progress = ProgressScreen(title, [s.server for s in shown.servers if s.steps])
        self.push(progress)
        session, runtime = self.session, self.runtime
        stage: dict = {"changing": False, "plan": shown}

        def report(server: str, message: str) -> None:          # called from apply's threads
            runtime.post(lambda: progress.update(server, message))

        def job():
            settings = session.ssh_settings()
            stage["plan"] = final(session.paths, settings)       # may ask the servers; changes nothing
            from mxone_maintenance.utility.ops.apply import apply_plan  # paramiko loads only here
            stage["changing"] = True
            return apply_plan(stage["plan"], session.paths, Path(session.system_file), settings, report,
                              allow_down=allow_down, recovering=recovering)

        def done(result) -> None:
            progress.busy = False
            server = result.failed_server
            if not result.ok and result.can_leave_out and server and server not in allow_down:
                self._ask_leave_out(title, stage["plan"], server, allow_down, recovering)
                return
            self._show_result(title, result.ok, result.message, result.per_server, server)

        def failed(err: BaseException) -> None:
            progress.busy = False
            tail = ("the change may be incomplete: look at Show status" if stage["changing"]
                    else "nothing was changed")
            self._show_result(title, False, f"{err}; {tail}", {}, getattr(err, "host", None))

        runtime.submit(job, done, failed)

    def _ask_leave_out(self, title: str, plan: Plan, server: str, allow_down: frozenset[str],
                       recovering: Journal | None) -> None:
        """SERVER does not answer and its part can wait: apply without it? (No, the safe answer, has the focus.)"""
        self._drop_progress()
        question = QuestionScreen("Apply without it?", f"{server} does not answer. Apply without it? "
                                                       f"It {catch_up_words(plan, server)}.", yes="Yes", no="No")

        def without_it(*_args) -> None:
            self.stack.pop()
            self._run_apply(title, plan, lambda _paths, _settings: plan, allow_down | {server}, recovering)

        urwid.connect_signal(question, "no", lambda *_: self._show_result(
            title, False, "Not applied: nothing was changed.", {}, None, plain=True))
        urwid.connect_signal(question, "yes", without_it)
        self.push(question)

    def _drop_progress(self) -> None:
        """The progress screen (and a Leave? question over it) go when the result comes."""
        if isinstance(self.top, QuestionScreen):
            self.stack.pop()
        if isinstance(self.top, ProgressScreen):
            self.stack.pop()

    def _show_result(self, title: str, ok: bool, message: str, per_server: dict, failed_server,
                     plain: bool = False) -> None:
        self._drop_progress()
        server = getattr(failed_server, "name", failed_server)
        self.push(ResultScreen(title, ok, message, per_server, server, plain=plain))

    def _close_result(self, *_args) -> None:
        self.pop_to_menu()

    def show_error(self, err: BaseException) -> None:
        """An unexpected error (a bug) in a screen's callback: one line in the footer, the details logged."""
        where = f" (details in {self.log_file})" if self.log_file else ""
        self.note = f"Unexpected error: {type(err).__name__}: {err}{where}"
        self.redraw()


def terminal_gone(err: BaseException) -> bool:
    """What reading or drawing on a terminal that has gone away raises (ssh dropped, window closed):
    urwid's end of input, or EIO/EPIPE on the tty."""
    if isinstance(err, (urwid.InputClosedError, EOFError)):
        return True
    return isinstance(err, OSError) and err.errno in (errno.EIO, errno.EPIPE, errno.ECONNRESET)


def run_menus(session: MenuSession) -> int:
    """Open the menus; returns the exit code (0; 1 when the menus cannot be shown).

    While they are open, logging and stderr go to the session's UI log (nothing draws over the screen);
    on leaving, threads still asking servers do not hold the process (see terminal.leave_process)."""
    try:
        app = App(session, drawn=look.from_environ(os.environ))     # once, from the locale set
    except MenuDataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    loop = urwid.MainLoop(app.root, PALETTE, unhandled_input=app.unhandled, handle_mouse=False,
                          input_filter=lambda keys, _raw: split_meta(keys))
    app.runtime = LoopRuntime(loop, on_error=app.show_error)

    def leave() -> None:
        raise urwid.ExitMainLoop()

    app.exit = leave
    code = 0
    with SessionLog(ui_log_path(session.paths)) as log:
        app.log_file = log.used if log.used != Path(os.devnull) else None
        try:
            loop.run()
        except KeyboardInterrupt:
            code = 1
        except Exception as err:
            if not terminal_gone(err):
                raise
            logger.info("terminal closed (%s: %s): menus ended", type(err).__name__, err)
            code = 1
    return leave_process(code)
