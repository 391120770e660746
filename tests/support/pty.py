"""Run the real `chat-tui` in a pseudo-terminal, as a person's terminal would.

The child is started with `python -m chat_tui` in its own session with the pseudo-terminal as
its controlling terminal, so closing the terminal sends it SIGHUP exactly as closing a
terminal window does. A thread drains everything it draws (a terminal that is not read from
would block it) into a small screen model, so tests can wait until something is on screen
where the person would see it.
"""

from __future__ import annotations

import codecs
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

from rich.cells import get_character_cell_size

_TAKE_TERMINAL = (
    "import fcntl, runpy, sys, termios;"
    "fcntl.ioctl(0, termios.TIOCSCTTY, 0);"
    "sys.argv = ['chat-tui', *sys.argv[1:]];"
    "runpy.run_module('chat_tui', run_name='__main__')"
)
"""Become the controlling process of the pseudo-terminal, then run chat-tui."""

WITHOUT_ROOT_POWERS = (
    "import ctypes, os, sys;"
    "libc = ctypes.CDLL(None, use_errno=True);"
    "[libc.prctl(24, cap, 0, 0, 0) for cap in (1, 2)];"  # PR_CAPBSET_DROP DAC_OVERRIDE/READ
    "os.execv(sys.executable, [sys.executable, '-c', sys.argv[1], *sys.argv[2:]])"
)
"""Root ignores file permissions; without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (dropped
from the bounding set, then exec) it is held to them like anyone else. Not root: a no-op."""

_ESCAPE = re.compile(
    r"\x1b(?:\[(?P<csi>[0-?]*)[ -/]*(?P<final>[@-~])"  # CSI: cursor moves, colours, modes
    r"|\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC: titles, hyperlinks, clipboard
    r"|[@-Z\\-_])"  # two-character escapes
)
_INCOMPLETE = re.compile(r"\x1b(\[[0-?]*[ -/]*|\][^\x07\x1b]*|\x1b?)?$")


class Screen:
    """Just enough of a terminal to know what is on screen: text, cursor moves, erasing."""

    def __init__(self, columns: int, rows: int) -> None:
        self.columns, self.rows = columns, rows
        self.cells = [[" "] * columns for _ in range(rows)]
        self.x = self.y = 0
        self._pending = ""

    def feed(self, text: str) -> None:
        text = self._pending + text
        tail = _INCOMPLETE.search(text)
        self._pending = text[tail.start() :] if tail and tail.group() else ""
        text = text[: len(text) - len(self._pending)]
        position = 0
        while position < len(text):
            char = text[position]
            if char == "\x1b":
                match = _ESCAPE.match(text, position)
                if match is None:
                    position += 1
                    continue
                if match.group("final"):
                    self._csi(match.group("csi"), match.group("final"))
                position = match.end()
                continue
            position += 1
            if char == "\r":
                self.x = 0
            elif char == "\n":
                self.y = min(self.y + 1, self.rows - 1)
            elif char == "\b":
                self.x = max(self.x - 1, 0)
            elif char >= " ":
                self._put(char)

    def _put(self, char: str) -> None:
        width = get_character_cell_size(char)
        if width == 0 or not 0 <= self.y < self.rows:
            return
        if self.x + width > self.columns:
            return
        self.cells[self.y][self.x] = char
        if width == 2:
            self.cells[self.y][self.x + 1] = ""
        self.x += width

    def _csi(self, parameters: str, final: str) -> None:
        if parameters.startswith(("?", ">", "<", "=")):
            return  # private modes
        numbers = (
            [int(n) if n.isdigit() else 0 for n in parameters.split(";")] if parameters else []
        )
        first = numbers[0] if numbers else 0
        if final in "Hf":
            row = numbers[0] if numbers and numbers[0] else 1
            column = numbers[1] if len(numbers) > 1 and numbers[1] else 1
            self.y, self.x = min(row, self.rows) - 1, min(column, self.columns) - 1
        elif final == "G":
            self.x = min(max(first, 1), self.columns) - 1
        elif final == "A":
            self.y = max(self.y - max(first, 1), 0)
        elif final == "B":
            self.y = min(self.y + max(first, 1), self.rows - 1)
        elif final == "C":
            self.x = min(self.x + max(first, 1), self.columns - 1)
        elif final == "D":
            self.x = max(self.x - max(first, 1), 0)
        elif final == "K":
            row = self.cells[self.y]
            start, end = {0: (self.x, self.columns), 1: (0, self.x + 1)}.get(
                first, (0, self.columns)
            )
            row[start:end] = [" "] * (end - start)
        elif final == "J" and first in (2, 3):
            self.cells = [[" "] * self.columns for _ in range(self.rows)]

    @property
    def text(self) -> str:
        return "\n".join("".join(row).rstrip() for row in self.cells)


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
        self,
        args: list[str],
        env: dict[str, str],
        size: tuple[int, int] = (100, 30),
        *,
        obey_permissions: bool = False,
    ) -> None:
        self.master, slave = os.openpty()
        columns, rows = size
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        command = [sys.executable, "-c", _TAKE_TERMINAL, *args]
        if obey_permissions:
            command = [sys.executable, "-c", WITHOUT_ROOT_POWERS, _TAKE_TERMINAL, *args]
        self.process = subprocess.Popen(
            command,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
        os.close(slave)
        self._output = bytearray()
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._screen = Screen(columns, rows)
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
                    self._screen.feed(self._decoder.decode(data))

    @property
    def output(self) -> str:
        """Everything drawn so far, escape sequences included."""
        with self._lock:
            return self._output.decode("utf-8", "replace")

    @property
    def screen(self) -> str:
        """What the terminal shows now, one line per row."""
        with self._lock:
            return self._screen.text

    def click_on(self, needle: str) -> None:
        """Click (SGR mouse report, as terminals send it) on the first cell of `needle`."""
        for y, line in enumerate(self.screen.splitlines()):
            x = line.find(needle)
            if x >= 0:
                report = f"\x1b[<0;{x + 1};{y + 1}"
                self.type(f"{report}M{report}m")
                return
        raise AssertionError(f"{needle!r} is not on screen:\n{self.screen}")

    def wait_for(self, needle: str, timeout: float = 20.0) -> None:
        """Wait until `needle` is on screen (within one row)."""
        deadline = time.monotonic() + timeout
        while needle not in self.screen:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"chat-tui exited ({self.process.returncode}) before showing {needle!r}:\n"
                    + self.screen
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} never appeared on screen:\n{self.screen}")
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
