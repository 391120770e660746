"""Quitting on a signal saves first, like ctrl+q, and cannot hang.

SIGTERM (`kill`, a logout, a service manager), SIGHUP (the terminal window was closed) and
SIGINT (`kill -INT`; inside the app ctrl+c is a key) would otherwise end Python on the spot,
losing the text of a streaming reply since its last checkpoint and leaving the terminal in
full-screen mode. Here they ask the app to stop its replies, save, and exit.

A closed terminal can wedge the event loop: Textual's output thread dies on the first write
that fails, and the next screen update blocks forever. So the handler is a plain `signal`
handler (it runs even while the event loop is blocked), output is pointed at /dev/null at once
on SIGHUP, and a watchdog thread saves from outside the event loop and exits the process if
the orderly exit has not finished after `GRACE_SECONDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType

QUIT_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
GRACE_SECONDS = 5.0
"""How long the orderly exit may take before the watchdog saves and exits by itself."""


class QuitSignals:
    """Routes quit signals to `on_signal` (on the event loop), with `on_stuck` as a backstop.

    `on_stuck` runs in a watchdog thread `grace` seconds after the first signal if the
    process is still alive; it must save what it can and end the process.
    """

    def __init__(
        self,
        on_signal: Callable[[signal.Signals], None],
        on_stuck: Callable[[], None],
        grace: float = GRACE_SECONDS,
    ) -> None:
        self._on_signal = on_signal
        self._on_stuck = on_stuck
        self._grace = grace
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous: dict[signal.Signals, object] = {}
        self._watchdog: threading.Timer | None = None

    def install(self) -> None:
        """Take over the quit signals (call from the main thread, on the running loop)."""
        self._loop = asyncio.get_running_loop()
        for number in QUIT_SIGNALS:
            with contextlib.suppress(ValueError, OSError):  # not the main thread; no such signal
                self._previous[number] = signal.signal(number, self._handle)

    def uninstall(self) -> None:
        """Put the previous handlers back (the watchdog, if running, stays armed)."""
        for number, previous in self._previous.items():
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(number, previous)  # type: ignore[arg-type]
        self._previous.clear()

    def _handle(self, number: int, frame: FrameType | None) -> None:
        if number == signal.SIGHUP:
            detach_from_terminal()
        if self._watchdog is None:
            self._watchdog = threading.Timer(self._grace, self._on_stuck)
            self._watchdog.daemon = True
            self._watchdog.start()
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already closed
                self._loop.call_soon_threadsafe(self._on_signal, signal.Signals(number))


def detach_from_terminal() -> None:
    """The terminal is gone (SIGHUP): send output to /dev/null so exiting cannot fail on it."""
    try:
        fd = os.open(os.devnull, os.O_RDWR)
    except OSError:
        return
    for target in (1, 2):
        with contextlib.suppress(OSError):
            os.dup2(fd, target)
    os.close(fd)
