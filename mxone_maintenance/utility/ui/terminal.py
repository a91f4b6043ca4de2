"""The terminal while the menus are open: nothing but urwid draws on it, and leaving is prompt.

`SessionLog` sends logging (paramiko's included) and everything written to file descriptor 2 (stray
prints, thread tracebacks) to the session's log file, so nothing draws over the screen; on exit it puts
stderr and the loggers back as they were. `leave_process` ends the process once the menus are closed,
without waiting for threads that are still asking servers (a status refresh with a server down).
"""
from __future__ import annotations

import logging
import os
import sys
import threading
import time
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import TextIO

from mxone_maintenance.core.paths import Paths

UI_LOG = PurePosixPath("/var/log/mxone_maintenance-ui.log")
log = logging.getLogger(__name__)
LOG_FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"


def ui_log_path(paths: Paths) -> Path:
    return paths.real(UI_LOG)


class SessionLog:
    """While open: fd 2, sys.stderr, the root logger and uncaught thread exceptions go to PATH
    (appended); os.devnull if it cannot be opened. Everything is put back on exit."""

    def __init__(self, path: Path, level: int = logging.INFO) -> None:
        self.path = Path(path)
        self.level = level
        self.used: Path = self.path              # the file really written (os.devnull on failure)
        self._saved_fd: int | None = None
        self._handler: logging.Handler | None = None
        self._saved_level = logging.NOTSET
        self._saved_handlers: list[logging.Handler] = []
        self._saved_stderr: TextIO = sys.stderr
        self._saved_hook = threading.excepthook
        self._stream: TextIO | None = None

    def _open(self) -> int:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        except OSError:
            self.used = Path(os.devnull)
            return os.open(os.devnull, os.O_WRONLY)

    def __enter__(self) -> SessionLog:
        fd = self._open()
        sys.stderr.flush()
        self._saved_fd = os.dup(2)
        os.dup2(fd, 2)
        os.close(fd)
        self._saved_stderr, self._saved_hook = sys.stderr, threading.excepthook
        self._stream = open(2, "w", buffering=1, encoding="utf-8", errors="backslashreplace",  # noqa: SIM115
                            closefd=False)
        sys.stderr = self._stream
        threading.excepthook = _log_thread_exception
        root = logging.getLogger()
        self._saved_level, self._saved_handlers = root.level, list(root.handlers)
        self._handler = logging.StreamHandler(self._stream)
        self._handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.handlers = [self._handler]
        root.setLevel(self.level)
        log.info("menus opened (pid %d)", os.getpid())
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if error is not None and not isinstance(error, (SystemExit, KeyboardInterrupt)):
            log.error("menus ended by an error", exc_info=(kind, error, trace))
        else:
            log.info("menus closed")
        root = logging.getLogger()
        root.handlers = self._saved_handlers
        root.setLevel(self._saved_level)
        threading.excepthook = self._saved_hook
        sys.stderr = self._saved_stderr
        if self._stream is not None:
            self._stream.flush()
            self._stream.close()
            self._stream = None
        if self._saved_fd is not None:
            os.dup2(self._saved_fd, 2)
            os.close(self._saved_fd)
            self._saved_fd = None


def _log_thread_exception(args: threading.ExceptHookArgs) -> None:
    """A thread's uncaught exception: into the log, with its traceback (never over the screen)."""
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    log.error("uncaught exception in thread %s", name,
              exc_info=(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback))


def lingering_threads() -> list[threading.Thread]:
    """Threads still at work. Daemon or not, they can hold the interpreter's exit: it joins every thread
    pool's workers (concurrent.futures), and a status refresh waits in one for a server that is down."""
    return [t for t in threading.enumerate() if t.is_alive() and t is not threading.main_thread()]


def leave_process(code: int, grace_s: float = 0.3) -> int:
    """Return CODE when nothing holds the process; else end it now (os._exit) after GRACE_S: a status
    refresh waiting for a dead server would otherwise keep the closed program alive for many seconds."""
    deadline = time.monotonic() + grace_s
    while lingering_threads() and time.monotonic() < deadline:
        time.sleep(0.02)
    if not lingering_threads():
        return code
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
