"""Run a program in a pseudo-terminal, as a person's terminal would: the one driver that the
tests and the benchmarks share.

A thread drains everything the program draws (a terminal that is not read from would block
it), noting when each piece arrived. Two ways to wait follow from that:

- `wait_for(text)`: until `text` is on screen, in a small model of the terminal that applies
  cursor moves and erasing, as a person would see it;
- `wait_for(text, after=mark)`: until `text` arrives in the output written since `mark()`
  (escape sequences stripped, a cursor jump read as a line break), even if it has scrolled
  away by now.

Both return the moment the output that showed `text` arrived. Times are `time.monotonic()`,
one clock for every process on the machine, so the loopback server (a thread of this
process) and the program (another process) can be compared directly. The screen model is
only brought up to date when asked, so a benchmark that never looks at it does not pay for it.

`chat_tui_command()` starts chat-tui as the controlling process of its terminal, so closing
the terminal sends it SIGHUP exactly as closing a terminal window does.
"""

from __future__ import annotations

import bisect
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
from collections.abc import Sequence
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

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

_ESCAPE = re.compile(
    r"\x1b(?:\[(?P<csi>[0-?]*)[ -/]*(?P<final>[@-~])"  # CSI: cursor moves, colours, modes
    r"|\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC: titles, hyperlinks, clipboard
    r"|P[^\x1b]*\x1b\\"  # DCS
    r"|[()][0-9A-Za-z]"  # character sets
    r"|[@-Z\\-_=>78])"  # two-character escapes
)
_INCOMPLETE = re.compile(r"\x1b(\[[0-?]*[ -/]*|\][^\x07\x1b]*|\x1b?)?$")
_CURSOR_MOVE = re.compile(r"\x1b\[[0-9;?]*[Hf]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class TerminalError(AssertionError):
    """The program in the terminal did not do what was waited for (show a text, quit, block)."""


def chat_tui_command(*args: str, obey_permissions: bool = False) -> list[str]:
    """`chat-tui ARGS` taking the terminal it runs in as its controlling terminal;
    `obey_permissions` holds it to file permissions even as root."""
    if obey_permissions:
        return [sys.executable, "-c", WITHOUT_ROOT_POWERS, _TAKE_TERMINAL, *args]
    return [sys.executable, "-c", _TAKE_TERMINAL, *args]


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


class Terminal:
    """A program (`argv`) running in a pseudo-terminal of `size` (columns, rows)."""

    def __init__(
        self,
        argv: Sequence[str],
        env: dict[str, str],
        *,
        size: tuple[int, int] = (100, 30),
        cwd: Path | None = None,
    ) -> None:
        columns, rows = size
        self._master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        self._changed = threading.Condition()
        self._chunks: list[bytes] = []
        """Everything read, as it arrived; `_chunk_times[i]` is when chunk i did."""
        self._chunk_times: list[float] = []
        self._screen = Screen(columns, rows)
        self._screen_decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._fed = 0
        """Chunks the screen model has taken in so far."""
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._pending = ""
        self._text: list[str] = []
        """The output with escape sequences stripped (see `text`)."""
        self._length = 0
        self._ends: list[int] = []
        """Length of the stripped text after each piece, for mapping a match to a time."""
        self._times: list[float] = []
        self._ended = False
        """The reader has seen the end of the output: nothing more will come."""
        self._hung_up = False
        self._reading = threading.Event()
        self._reading.set()
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            list(argv),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=cwd,
            start_new_session=True,
            close_fds=True,
        )
        os.close(slave)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    # -- output ----------------------------------------------------------------------------

    def _read(self) -> None:
        while not self._hung_up:
            if not self._reading.wait(timeout=0.05):
                continue
            try:
                ready, _, _ = select.select([self._master], [], [], 0.05)
                if not ready:
                    continue
                data = os.read(self._master, 65536)
            except OSError:
                data = b""
            now = time.monotonic()
            if not data:
                with self._changed:
                    self._ended = True
                    self._changed.notify_all()
                return
            self._pending += self._decoder.decode(data)
            cut = self._pending.rfind("\x1b")
            if cut != -1 and not _ESCAPE.match(self._pending, cut):
                ready_text, self._pending = self._pending[:cut], self._pending[cut:]
                if len(self._pending) > 4096:  # not an escape after all
                    ready_text, self._pending = ready_text + self._pending, ""
            else:
                ready_text, self._pending = self._pending, ""
            text = _CONTROL.sub("", _ESCAPE.sub("", _CURSOR_MOVE.sub("\n", ready_text)))
            with self._changed:
                self._chunks.append(data)
                self._chunk_times.append(now)
                if text:
                    self._text.append(text)
                    self._length += len(text)
                    self._ends.append(self._length)
                    self._times.append(now)
                self._changed.notify_all()

    @property
    def output(self) -> str:
        """Everything drawn so far, escape sequences included."""
        with self._changed:
            return b"".join(self._chunks).decode("utf-8", "replace")

    @property
    def text(self) -> str:
        """Everything shown so far, escape sequences stripped."""
        with self._changed:
            return self._joined_text()

    def _joined_text(self) -> str:
        joined = "".join(self._text)
        self._text = [joined]
        return joined

    @property
    def screen(self) -> str:
        """What the terminal shows now, one line per row."""
        with self._changed:
            self._on_screen(None)
            return self._screen.text

    def _on_screen(self, needle: str | None) -> float | None:
        """Bring the screen model up to date; with a `needle`, stop as soon as it is on screen
        and return when the chunk that put it there arrived."""
        if needle is not None and needle in self._screen.text:
            return self._chunk_times[self._fed - 1] if self._fed else self.started
        while self._fed < len(self._chunks):
            self._screen.feed(self._screen_decoder.decode(self._chunks[self._fed]))
            self._fed += 1
            if needle is not None and needle in self._screen.text:
                return self._chunk_times[self._fed - 1]
        return None

    def _in_output(self, needle: str, start: int) -> float | None:
        """When `needle` arrived, if the stripped output has it at or after `start`."""
        found = self._joined_text().find(needle, start)
        if found == -1:
            return None
        return self._times[bisect.bisect_left(self._ends, found + len(needle))]

    def mark(self) -> int:
        """A position in the output: `wait_for(..., after=mark)` looks only at what follows."""
        with self._changed:
            return self._length

    def wait_for(self, needle: str, *, after: int | None = None, timeout: float = 60.0) -> float:
        """Wait until `needle` is on screen (within one row), or with `after` (a `mark()`; 0
        for the start) until it is in the output written since; return when it got there."""
        deadline = time.monotonic() + timeout
        searched = after or 0
        while True:
            with self._changed:
                if after is None:
                    shown = self._on_screen(needle)
                else:
                    shown = self._in_output(needle, max(after, searched - len(needle)))
                    searched = self._length
                if shown is not None:
                    return shown
                seen = self._screen.text if after is None else self._joined_text()[-1500:]
                if self._ended:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        self.process.wait(5)
                    raise TerminalError(
                        f"the program ended (exit status {self.process.returncode}) "
                        f"before showing {needle!r}:\n{seen}"
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TerminalError(f"{needle!r} never appeared:\n{seen}")
                self._changed.wait(min(remaining, 0.5))

    def tail(self, characters: int = 1500) -> str:
        return self.text[-characters:]

    # -- input -----------------------------------------------------------------------------

    def type(self, keys: str) -> float:
        """Send keys as a terminal does (Enter is a carriage return); return when they were
        sent."""
        sent = time.monotonic()
        os.write(self._master, keys.encode("utf-8"))
        return sent

    def click_on(self, needle: str) -> None:
        """Click (SGR mouse report, as terminals send it) on the first cell of `needle`."""
        for y, line in enumerate(self.screen.splitlines()):
            x = line.find(needle)
            if x >= 0:
                report = f"\x1b[<0;{x + 1};{y + 1}"
                self.type(f"{report}M{report}m")
                return
        raise TerminalError(f"{needle!r} is not on screen:\n{self.screen}")

    # -- a terminal that is not read -------------------------------------------------------

    def stop_reading(self) -> None:
        """Stop reading what the app draws, like a frozen terminal or a stalled ssh session:
        once the terminal's buffer is full, the app's writes block."""
        self._reading.clear()

    def unread(self) -> int:
        """Bytes the app has drawn that nobody has read yet."""
        raw = fcntl.ioctl(self._master, termios.FIONREAD, struct.pack("i", 0))
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
        raise TerminalError("the app never blocked on a full terminal")

    def resume_reading(self) -> None:
        """Read again, and wait until what the app had drawn has been taken in."""
        self._reading.set()
        deadline = time.monotonic() + 5
        with contextlib.suppress(OSError):  # the terminal may be closed by now
            while self.unread() and time.monotonic() < deadline:
                time.sleep(0.02)

    # -- the process -----------------------------------------------------------------------

    def cpu_seconds(self) -> float:
        """User + system CPU of the process so far (every thread)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def rss_mb(self) -> float:
        """Resident memory now."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise TerminalError(f"no resident memory for process {self.pid}")

    def signal(self, number: int) -> None:
        os.kill(self.process.pid, number)

    def wait(self, timeout: float = 20.0) -> int:
        """Wait for the program to end and, unless reading is stopped, for the rest of what
        it drew to be read; its exit status."""
        deadline = time.monotonic() + timeout
        status = self.process.wait(timeout=timeout)
        with self._changed:
            while self._reading.is_set() and not self._ended:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(min(remaining, 0.5))
        return status

    def quit(self, timeout: float = 20.0) -> int:
        """ctrl+q, then wait; a program that does not leave is killed (and that is an error)."""
        if self.process.poll() is None:
            with contextlib.suppress(OSError):
                self.type("\x11")
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.close()
                raise TerminalError(f"the program did not quit:\n{self.tail()}") from None
        return self.close()

    def hang_up(self) -> None:
        """Close the terminal, as closing its window does (the kernel sends SIGHUP)."""
        if not self._hung_up:
            self._hung_up = True
            self._reader.join(timeout=5)
            os.close(self._master)

    def close(self) -> int:
        """Kill the program and all it started if it is still running, and close the
        terminal; the program's exit status."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.hang_up()
        return self.process.returncode

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
