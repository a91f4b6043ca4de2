"""The SNM Configuration Tool's menus (`webserver_config` without a subcommand), urwid like the utility's
and with its look, keys and widgets: a stack of screens (menus cascade as boxes, Esc closes one level),
the header and the key footer. Of the seed's main screen only Redundancy is this product; it can be used
only while LIM 1 is in a cluster (tool/pair.py says why not). Nothing here talks to a server before the
technician asks for something, and then only in worker threads (menus_actions.py)."""
from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import urwid

from mxone_maintenance.core.paths import Paths
from mxone_maintenance.utility.ops.inventory import SystemFileError, load_system
from mxone_maintenance.utility.ui import look
from mxone_maintenance.utility.ui.app import Desk, drive, stacked, terminal_gone
from mxone_maintenance.utility.ui.footer import Footer
from mxone_maintenance.utility.ui.keys import Command, command_for, split_meta
from mxone_maintenance.utility.ui.palette import PALETTE
from mxone_maintenance.utility.ui.screens import HelpScreen, QuestionScreen, Screen
from mxone_maintenance.utility.ui.terminal import SessionLog, leave_process
from mxone_maintenance.utility.ui.worker import InlineRuntime, LoopRuntime, Runtime
from mxone_maintenance.webserver.tool.flow import Context
from mxone_maintenance.webserver.tool.menus_actions import Redundancy
from mxone_maintenance.webserver.tool.menus_screens import Entry, Outcome, SnmMenu, Waiting, not_here
from mxone_maintenance.webserver.tool.pair import unavailable_reason

PRODUCT = "SNM Configuration Tool"
SEED_ITEMS = ("Configure SNM", "Change Webserver settings", "Certificate handling", "Backup and Restore")
UI_LOG = PurePosixPath("/var/log/webserver_config-ui.log")
TYPED_LOST = "The values typed in this form are not kept."
logger = logging.getLogger(__name__)


def redundancy_reason(context: Context) -> str | None:
    """Why Redundancy cannot be used now (the system file as it is now), None when it can."""
    try:
        return unavailable_reason(load_system(context.system_file))
    except SystemFileError as exc:
        return str(exc)


class App:
    def __init__(self, context: Context, runtime: Runtime | None = None, drawn: look.Look = look.UNICODE) -> None:
        look.use(drawn)
        self.context = context
        self.runtime: Runtime = runtime or InlineRuntime()
        self.stack: list[Screen] = []
        self.size = (80, 24)
        self.exited = False
        self.exit: Callable[[], None] = self._mark_exited
        self.note = ""
        self.header = urwid.Text("", wrap="ellipsis")
        self.footer = Footer()
        self.desk = Desk(self._resized)
        self.root = urwid.Frame(urwid.AttrMap(self.desk, "background"), header=urwid.AttrMap(self.header, "header"),
                                footer=urwid.AttrMap(self.footer, "footer"))
        self.redundancy = Redundancy(self)
        self.push(self.main_menu())

    def main_menu(self) -> SnmMenu:
        def why() -> str | None:
            return redundancy_reason(self.context)

        def notice() -> str | None:
            reason = why()
            return f"Redundancy is not available: {reason}" if reason else None
        entries = [not_here(label) for label in SEED_ITEMS]
        entries += [Entry("Redundancy", self.redundancy.open_menu, why), Entry("Exit", self.quit)]
        return SnmMenu(PRODUCT, entries, notice=notice)

    # ---------------------------------------------------------------- the stack
    @property
    def top(self) -> Screen:
        return self.stack[-1]

    def push(self, screen: Screen) -> None:
        if "back" in screen.signals:
            urwid.connect_signal(screen, "back", lambda *_: self.close(screen))
        self.stack.append(screen)
        self.note = ""
        self.redraw()

    def close(self, screen: Screen) -> None:
        """SCREEN's Back / OK: a result goes back to its menu; any other screen one level."""
        if screen is not self.top:
            return
        if isinstance(screen, Outcome):
            self.pop_to_menu()
        else:
            self.pop()

    def holds(self, screen: Screen) -> bool:
        return any(s is screen for s in self.stack)

    def remove(self, screen: Screen) -> None:
        """SCREEN off the stack, wherever it is (a wait box when its answer comes)."""
        if self.holds(screen):
            self.stack.remove(screen)
            screen.closing()
        self.redraw()

    def pop(self) -> None:
        if len(self.stack) > 1:
            self.stack.pop().closing()
        self._refresh_menu()

    def pop_to_menu(self) -> None:
        while len(self.stack) > 1 and not isinstance(self.top, SnmMenu):
            self.stack.pop().closing()
        self._refresh_menu()

    def _refresh_menu(self) -> None:
        if isinstance(self.top, SnmMenu):
            self.top.refresh()
        self.note = ""
        self.redraw()

    def ask(self, title: str, question: str, on_yes: Callable[[], None], on_no: Callable[[], None] = lambda: None,
            yes: str = "Yes", no: str = "No") -> None:
        """A question over the top screen; No (the focused answer, and Esc) goes back."""
        screen = QuestionScreen(title, question, yes=yes, no=no)
        urwid.connect_signal(screen, "no", lambda *_: self._answered(screen, on_no))
        urwid.connect_signal(screen, "yes", lambda *_: self._answered(screen, on_yes))
        self.push(screen)

    def _answered(self, screen: Screen, then: Callable[[], None]) -> None:
        self.remove(screen)
        then()

    # ---------------------------------------------------------------- drawing
    def _resized(self, size: tuple[int, int]) -> None:
        if size != self.size:
            self.size = size
            self._compose()

    def redraw(self) -> None:
        crumbs = [s.title for s in self.stack[1:] if s.title and not isinstance(s, (QuestionScreen, Waiting))]
        self.header.set_text(look.shown(" " + " › ".join([PRODUCT, *crumbs])))
        self.footer.show(self.top.context, self.note)
        self._compose()

    def _compose(self) -> None:
        self.desk.placeholder.original_widget = stacked(self.stack, self.size, SnmMenu)

    # ---------------------------------------------------------------- keys
    def keypress(self, size, key: str) -> str | None:
        """Headless driving: the same path as the main loop (widgets first, then the app's commands)."""
        return drive(self.root, size, key, self.unhandled)

    def unhandled(self, key: str) -> bool:
        handler = {Command.BACK: self.back, Command.BACKSPACE_BACK: self.back, Command.QUIT: self.quit,
                   Command.HELP: self.help}.get(command_for(key, self.top.context))
        if handler is None:
            return False
        handler()
        return True

    def back(self) -> None:
        """One level back; leaving the tool or a form's typed values asks first; a change is waited for."""
        if isinstance(self.top, QuestionScreen):
            self.top.answer_no()
        elif self.top.busy:
            self.note = "A change is being applied: wait for the result."
            self.redraw()
        elif self.top.typed:
            form = self.top
            self.ask("Leave the form?", f"{TYPED_LOST} Leave the form?", lambda: self.close(form),
                     yes="Leave the form", no="Stay")
        elif len(self.stack) == 1:
            self.ask("Leave?", f"Leave {PRODUCT}?", self.exit, yes="Leave", no="Stay")
        else:
            self.close(self.top)

    def help(self) -> None:
        if not isinstance(self.top, HelpScreen):
            self.push(HelpScreen())

    def quit(self) -> None:
        """Leave at once, unless that would break off a change or lose typed values: then ask."""
        if any(s.busy for s in self.stack):
            if not isinstance(self.top, QuestionScreen):
                self.ask("Leave?", "A change is being applied to the servers. Leaving now may leave it half done. "
                                   "Leave anyway?", self.exit, yes="Leave anyway", no="Stay")
            return
        if any(s.typed for s in self.stack):
            self.ask("Leave?", f"{TYPED_LOST} Leave {PRODUCT}?", self.exit, yes="Leave", no="Stay")
            return
        self.exit()

    def _mark_exited(self) -> None:
        self.exited = True

    def show_error(self, err: BaseException) -> None:
        """An unexpected error (a bug) in a callback: one line in the footer, the details logged."""
        self.note = f"Unexpected error: {type(err).__name__}: {err}"
        self.redraw()


def run_menus(context: Context) -> int:
    """Open the menus; the exit code (0; 1 when the terminal went away). While they are open, logging and
    stderr go to the UI log, so nothing draws over the screen."""
    app = App(context, drawn=look.from_environ(os.environ))
    loop = urwid.MainLoop(app.root, PALETTE, unhandled_input=app.unhandled, handle_mouse=False,
                          input_filter=lambda keys, _raw: split_meta(keys))
    app.runtime = LoopRuntime(loop, on_error=app.show_error)

    def leave() -> None:
        raise urwid.ExitMainLoop()

    app.exit = leave
    code = 0
    with SessionLog(Paths.from_env().real(UI_LOG)) as log:
        if log.used != Path(os.devnull):
            logger.info("webserver_config menus: log in %s", log.used)
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
