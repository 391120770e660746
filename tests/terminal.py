"""Run the real `chat-tui` in a pseudo-terminal, as a person's terminal would.

The child is started with `python -m chat_tui` in its own session with the pseudo-terminal as
its controlling terminal, so closing the terminal sends it SIGHUP exactly as closing a
terminal window does. A thread drains everything it draws (a terminal that is not read from
would block it) and keeps the text, so tests can wait until something is on screen.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

_TAKE_TERMINAL = (
    "import fcntl, runpy, sys, termios;"
    "fcntl.ioctl(0, termios.TIOCSCTTY, 0);"
    "sys.argv = ['chat-tui', *sys.argv[1:]];"
    "runpy.run_module('chat_tui', run_name='__main__')"
)
"""Become the controlling process of the pseudo-terminal, then run chat-tui."""

_ESCAPES = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")


def environment(home: Path, **extra: str) -> dict[str, str]:
    """A clean environment: private XDG directories, no key, no proxy, a real TERM."""
    keep = ("PATH", "LANG", "LC_ALL", "PYTHONPATH", "SYSTEMROOT")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env.update(
        XDG_DATA_HOME=str(home / "data"),
        XDG_CONFIG_HOME=str(home / "config"),
        HOME=str(home),
        TERM="xterm-256color",
        COLORTERM="truecolor",
        TZ="UTC",
        LANG=env.get("LANG", "C.UTF-8") if "UTF" in env.get("LANG", "").upper() else "C.UTF-8",
        CHAT_TUI_MAX_RETRIES="0",
        CHAT_TUI_TIMEOUT="5",
    )
    env.update(extra)
    return env


class Terminal:
    """One chat-tui process in a pseudo-terminal of `size` (columns, rows)."""

    def __init__(
        self, args: list[str], env: dict[str, str], size: tuple[int, int] = (100, 30)
    ) -> None:
        self.master, slave = os.openpty()
        columns, rows = size
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        self.process = subprocess.Popen(
            [sys.executable, "-c", _TAKE_TERMINAL, *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
        os.close(slave)
        self._output = bytearray()
        self._lock = threading.Lock()
        self._closed = False
        self._reading = threading.Event()
        self._reading.set()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        while not self._closed:
            if not self._reading.wait(timeout=0.05):
                continue
            try:
                ready, _, _ = select.select([self.master], [], [], 0.05)
                data = os.read(self.master, 65536) if ready else None
            except OSError:
                return
            if data == b"":
                return
            if data:
                with self._lock:
                    self._output += data

    @property
    def output(self) -> str:
        """Everything drawn so far, escape sequences included."""
        with self._lock:
            return self._output.decode("utf-8", "replace")

    @property
    def text(self) -> str:
        """Everything drawn so far with the escape sequences removed."""
        return _ESCAPES.sub("", self.output)

    def wait_for(self, needle: str, timeout: float = 20.0) -> None:
        """Wait until `needle` has been drawn (escape sequences ignored)."""
        deadline = time.monotonic() + timeout
        while needle not in self.text:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"chat-tui exited ({self.process.returncode}) before showing {needle!r}:\n"
                    + self.text[-2000:]
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} never appeared on screen:\n{self.text[-2000:]}")
            time.sleep(0.05)

    def type(self, text: str) -> None:
        """Send keys as a terminal does (Enter is a carriage return)."""
        os.write(self.master, text.encode("utf-8"))

    def stop_reading(self) -> None:
        """Stop reading what the app draws, like a frozen terminal or a stalled ssh session:
        once the terminal's buffer is full, the app's writes block."""
        self._reading.clear()

    def unread(self) -> int:
        """Bytes the app has drawn that nobody has read yet."""
        raw = fcntl.ioctl(self.master, termios.FIONREAD, struct.pack("i", 0))
        return int(struct.unpack("i", raw)[0])

    def wait_until_blocked(self, timeout: float = 30.0) -> None:
        """After `stop_reading`: wait until the terminal is full and the app cannot draw
        (nothing more arrives for a second while it is streaming a reply)."""
        deadline = time.monotonic() + timeout
        previous = -1
        while time.monotonic() < deadline:
            time.sleep(1.0)
            now = self.unread()
            if now == previous and now > 0:
                return
            previous = now
        raise AssertionError("the app never blocked on a full terminal")

    def resume_reading(self) -> None:
        """Read again, and wait until what the app had drawn has been taken in."""
        self._reading.set()
        deadline = time.monotonic() + 5
        with contextlib.suppress(OSError):  # the terminal may be closed by now
            while self.unread() and time.monotonic() < deadline:
                time.sleep(0.02)

    def signal(self, number: int) -> None:
        os.kill(self.process.pid, number)

    def hang_up(self) -> None:
        """Close the terminal, as closing its window does (the kernel sends SIGHUP)."""
        if not self._closed:
            self._closed = True
            self._reader.join(timeout=5)
            os.close(self.master)

    def wait(self, timeout: float = 20.0) -> int:
        return self.process.wait(timeout=timeout)

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.hang_up()
