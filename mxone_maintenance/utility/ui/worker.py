"""Work off the UI thread: SSH runs in threads, results come back to the main loop (toot style).

`Runtime` is what screens get: `submit(job, done, failed)` runs JOB in a thread and calls DONE or FAILED
on the UI thread; `post(fn)` hands a call from any thread to the UI thread (apply's progress);
`call_later(seconds, fn)` is the main loop's alarm. `LoopRuntime` does this with `MainLoop.watch_pipe`;
`InlineRuntime` runs everything at once on the caller's thread, for headless tests.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable
from typing import Any, Protocol

Job = Callable[[], Any]
log = logging.getLogger(__name__)


class Runtime(Protocol):
    def post(self, fn: Callable[[], None]) -> None: ...

    def submit(self, job: Job, done: Callable[[Any], None], failed: Callable[[BaseException], None]) -> None: ...

    def call_later(self, seconds: float, fn: Callable[[], None]) -> object: ...

    def cancel(self, handle: object) -> None: ...


class LoopRuntime:
    """Threads plus a pipe into urwid's main loop: calls posted from any thread run on the UI thread."""

    def __init__(self, loop, on_error: Callable[[BaseException], None] | None = None) -> None:
        self.loop = loop
        self.on_error = on_error         # an unexpected error in a posted call: a line on screen, not a crash
        self._calls: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._fd = loop.watch_pipe(self._drain)

    def post(self, fn: Callable[[], None]) -> None:
        self._calls.put(fn)
        try:
            os.write(self._fd, b"!")
        except OSError:               # the loop has ended; nobody is left to show it
            pass

    def _drain(self, _data: bytes) -> bool:
        while True:
            try:
                fn = self._calls.get_nowait()
            except queue.Empty:
                return True
            try:
                fn()
            except Exception as err:  # noqa: BLE001 - a bug in one screen must not end the menus
                log.exception("unexpected error on the UI thread")
                if self.on_error is None:
                    raise
                self.on_error(err)

    def submit(self, job: Job, done: Callable[[Any], None], failed: Callable[[BaseException], None]) -> None:
        def run() -> None:
            try:
                value = job()
            except BaseException as err:  # noqa: BLE001 - every failure is shown on the screen
                log.warning("worker job failed", exc_info=err)
                self.post(lambda error=err: failed(error))
            else:
                self.post(lambda: done(value))

        threading.Thread(target=run, name="mxone-ui-worker", daemon=True).start()

    def call_later(self, seconds: float, fn: Callable[[], None]) -> object:
        return self.loop.set_alarm_in(seconds, lambda _loop, _data: self.post(fn))

    def cancel(self, handle: object) -> None:
        self.loop.remove_alarm(handle)


class InlineRuntime:
    """Everything at once, on the caller's thread; timers wait until `fire_timers()` (tests)."""

    def __init__(self) -> None:
        self.timers: list[tuple[float, Callable[[], None]]] = []

    def post(self, fn: Callable[[], None]) -> None:
        fn()

    def submit(self, job: Job, done: Callable[[Any], None], failed: Callable[[BaseException], None]) -> None:
        try:
            value = job()
        except BaseException as err:  # noqa: BLE001
            failed(err)
        else:
            done(value)

    def call_later(self, seconds: float, fn: Callable[[], None]) -> object:
        entry = (seconds, fn)
        self.timers.append(entry)
        return entry

    def cancel(self, handle: object) -> None:
        if handle in self.timers:
            self.timers.remove(handle)

    def fire_timers(self) -> None:
        due, self.timers = self.timers, []
        for _seconds, fn in due:
            fn()
