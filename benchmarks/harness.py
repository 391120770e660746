"""What every benchmark shares: a real pseudo-terminal, process figures, and the table rows.

`Terminal` starts a program on a pty of a fixed size and records everything it writes, with
the time each piece arrived. Escape sequences are stripped as the output arrives (cursor
positioning becomes a line break), so a benchmark can wait for a piece of text to be *on
screen* and learn when it got there. Times are `time.monotonic()`, which is one clock for
every process on the machine, so the loopback server (a thread of this process) and the app
(another process) can be compared directly.
"""

from __future__ import annotations

import bisect
import codecs
import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"
RESULTS = BENCHMARKS / "results"
PYTHON = sys.executable
COLUMNS, ROWS = 120, 40
"""Terminal size of every benchmark."""
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024

PROMPT_PLACEHOLDER = "Enter to send, ctrl+j for a new line"
"""Part of the input box's placeholder: on screen means the prompt has been painted."""

_CURSOR_MOVE = re.compile(r"\x1b\[[0-9;?]*[Hf]")
_ESCAPE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC
    r"|\x1bP[^\x1b]*\x1b\\"  # DCS
    r"|\x1b[()][0-9A-Za-z]"  # charset
    r"|\x1b[@-Z\\-_=>78]"  # two-character sequences
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class BenchmarkError(RuntimeError):
    """A benchmark could not take its measurement (the app did not show what it should)."""


class Terminal:
    """A program running on a pseudo-terminal of `COLUMNS` x `ROWS`."""

    def __init__(
        self,
        argv: Sequence[str],
        env: dict[str, str],
        *,
        cwd: Path = ROOT,
        columns: int = COLUMNS,
        rows: int = ROWS,
    ) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        self._master = master
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""
        self._text: list[str] = []
        self._length = 0
        self._ends: list[int] = []
        """Length of the stripped text after each piece, for mapping a match to a time."""
        self._times: list[float] = []
        self._changed = threading.Condition()
        self._closed = False
        self.bytes_read = 0
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
        while True:
            try:
                data = os.read(self._master, 65536)
            except OSError:
                data = b""
            now = time.monotonic()
            if not data:
                with self._changed:
                    self._closed = True
                    self._changed.notify_all()
                return
            self.bytes_read += len(data)
            self._pending += self._decoder.decode(data)
            cut = self._pending.rfind("\x1b")
            if cut != -1 and not _ESCAPE.match(self._pending, cut):
                ready, self._pending = self._pending[:cut], self._pending[cut:]
                if len(self._pending) > 4096:  # not an escape after all
                    ready, self._pending = ready + self._pending, ""
            else:
                ready, self._pending = self._pending, ""
            text = _CONTROL.sub("", _ESCAPE.sub("", _CURSOR_MOVE.sub("\n", ready)))
            with self._changed:
                if text:
                    self._text.append(text)
                    self._length += len(text)
                    self._ends.append(self._length)
                    self._times.append(now)
                self._changed.notify_all()

    @property
    def text(self) -> str:
        """Everything shown so far, escape sequences stripped."""
        with self._changed:
            joined = "".join(self._text)
            self._text = [joined]
            return joined

    def mark(self) -> int:
        """A position in the output: `wait_for(..., after=mark)` looks only at what follows."""
        with self._changed:
            return self._length

    def wait_for(self, needle: str, *, after: int = 0, timeout: float = 60.0) -> float:
        """Wait until `needle` is on screen (after position `after`); return when it got there."""
        deadline = time.monotonic() + timeout
        searched = after
        while True:
            with self._changed:
                text = "".join(self._text)
                self._text = [text]
                found = text.find(needle, max(after, searched - len(needle)))
                if found != -1:
                    end = found + len(needle)
                    return self._times[bisect.bisect_left(self._ends, end)]
                searched = len(text)
                if self._closed:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        self.process.wait(5)
                    raise BenchmarkError(
                        f"the program ended (exit status {self.process.returncode}) "
                        f"before showing {needle!r}:\n{self.tail()}"
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise BenchmarkError(f"{needle!r} did not appear:\n{self.tail()}")
                self._changed.wait(min(remaining, 0.5))

    def tail(self, characters: int = 1500) -> str:
        return self.text[-characters:]

    # -- input -----------------------------------------------------------------------------

    def send(self, data: str | bytes) -> float:
        """Type into the terminal; return the moment it was sent."""
        raw = data.encode() if isinstance(data, str) else data
        sent = time.monotonic()
        os.write(self._master, raw)
        return sent

    # -- the process -----------------------------------------------------------------------

    def cpu_seconds(self) -> float:
        """User + system CPU of the process so far (every thread)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def rss_mb(self) -> float:
        """Resident memory now."""
        return _status_kb(self.pid, "VmRSS") / 1024

    def peak_rss_mb(self) -> float:
        return _status_kb(self.pid, "VmHWM") / 1024

    def quit(self, timeout: float = 20.0) -> int:
        """ctrl+q, then wait; a program that does not leave is killed (and that is an error)."""
        if self.process.poll() is None:
            with contextlib.suppress(OSError):
                self.send("\x11")
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise BenchmarkError(f"the program did not quit:\n{self.tail()}") from None
        return self.close()

    def kill(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self.close()

    def close(self) -> int:
        with contextlib.suppress(OSError):
            os.close(self._master)
        self._reader.join(5)
        return self.process.returncode if self.process.returncode is not None else -1

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


def _status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise BenchmarkError(f"no {key} for process {pid}")


# -- environments ----------------------------------------------------------------------------


def app_env(home: Path, **extra: str) -> dict[str, str]:
    """A clean environment with its own data and config directories and no API key.

    Drafts an earlier launch left are removed: a restored draft fills the input box, and
    the benchmarks know the prompt is painted by its placeholder. `COLUMNS` and `LINES`
    are left out (pytest-xdist's workers set them to 80 x 24): Textual would take them over
    the pseudo-terminal's size, and cut the placeholder.
    """
    shutil.rmtree(data_root(home) / "drafts", ignore_errors=True)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OPENAI_", "CHAT_TUI_", "TEXTUAL", "PYTHON"))
        and key not in ("COLUMNS", "LINES")
    }
    env.update(
        XDG_DATA_HOME=str(home / "data"),
        XDG_CONFIG_HOME=str(home / "config"),
        TERM="xterm-256color",
        COLORTERM="truecolor",
        LANG="C.UTF-8",
        TZ="UTC",
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


def data_root(home: Path) -> Path:
    """The chat-tui data directory inside an `app_env` home."""
    return home / "data" / "chat-tui"


@contextlib.contextmanager
def scratch(prefix: str = "chat-tui-bench-") -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def chat_tui_argv(*args: str, instrumented: bool = False) -> list[str]:
    """The real entry point; `instrumented` adds the loop-lag probe (see instrumented.py)."""
    if instrumented:
        return [
            PYTHON,
            os.environ.get("BENCH_LAUNCHER", str(BENCHMARKS / "instrumented.py")),
            *args,
        ]
    return [PYTHON, "-m", "chat_tui", *args]


# -- figures ---------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (p95 of 20 samples is the 19th smallest)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


@dataclass
class Figure:
    """One line of the results table."""

    group: str
    name: str
    value: float
    unit: str
    target: float | None = None
    """The goal, when this figure is one: `value <= target` passes."""
    detail: str = ""
    samples: list[float] = field(default_factory=list)

    @property
    def passed(self) -> bool | None:
        return None if self.target is None else self.value <= self.target

    def to_dict(self) -> dict[str, object]:
        return {
            "group": self.group,
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "target": self.target,
            "passed": self.passed,
            "detail": self.detail,
            "samples": self.samples,
        }


@dataclass(frozen=True)
class Scale:
    """How big and how many: the full benchmark, or the tiny `--quick` one for CI."""

    quick: bool
    runs: int
    """Repetitions of each timed launch; figures are medians."""
    conversations: int
    messages_per_conversation: int
    reply_tokens: int
    long_conversation: int
    short_conversation: int
    switches: int
    typing_seconds: float
    paced_tokens: int
    search_queries: int

    @classmethod
    def full(cls, runs: int = 5) -> Scale:
        return cls(
            quick=False,
            runs=runs,
            conversations=10_000,
            messages_per_conversation=20,
            reply_tokens=4_000,
            long_conversation=2_000,
            short_conversation=20,
            switches=50,
            typing_seconds=12.0,
            paced_tokens=1_000,
            search_queries=6,
        )

    @classmethod
    def tiny(cls) -> Scale:
        return cls(
            quick=True,
            runs=1,
            conversations=200,
            messages_per_conversation=4,
            reply_tokens=300,
            long_conversation=120,
            short_conversation=20,
            switches=2,
            typing_seconds=1.0,
            paced_tokens=100,
            search_queries=2,
        )


# -- a chat-tui session ----------------------------------------------------------------------


class ChatSession:
    """chat-tui on a pty, talking to the loopback server: send prompts, wait for replies."""

    def __init__(self, fake, home: Path, *extra: str, instrumented: bool = False, **env: str):
        self.fake = fake
        self.home = home
        argv = chat_tui_argv(
            "--base-url",
            fake.base_url,
            "--model",
            "gpt-4o-mini",
            *extra,
            instrumented=instrumented,
        )
        self.terminal = Terminal(argv, app_env(home, **env))
        self.terminal.wait_for(PROMPT_PLACEHOLDER)

    def __enter__(self) -> ChatSession:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.terminal.quit()
        else:
            self.terminal.kill()

    def send_prompt(self, text: str) -> float:
        """Type `text` and press Enter; return when Enter was sent."""
        mark = self.terminal.mark()
        self.terminal.send(text)
        self.terminal.wait_for(text, after=mark)
        return self.terminal.send("\r")

    def exchange(self, prompt: str, answer: str) -> None:
        """A short question and answer, waited for until saved (opens the connection)."""
        self.fake.add(deltas=[answer])
        mark = self.terminal.mark()
        self.send_prompt(prompt)
        self.terminal.wait_for(answer.split("\n")[-1], after=mark)
        self.wait_saved(answer)

    def wait_saved(self, content: str, timeout: float = 120.0) -> None:
        """Until the newest conversation file ends with a complete reply of `content`."""
        folder = data_root(self.home) / "conversations"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            files = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
            if files:
                try:
                    last = json.loads(files[-1].read_text("utf-8"))["messages"][-1]
                except (ValueError, KeyError, IndexError, OSError):
                    last = {}
                if last.get("status") == "complete" and last.get("content") == content:
                    return
            time.sleep(0.05)
        raise BenchmarkError(f"the reply was not saved in time:\n{self.terminal.tail()}")

    def settle(self, quiet: float = 0.3, timeout: float = 30.0) -> float:
        """Wait until the app is idle (under 7 % of a CPU); return its CPU seconds then."""
        deadline = time.monotonic() + timeout
        before = self.terminal.cpu_seconds()
        while time.monotonic() < deadline:
            time.sleep(quiet)
            now = self.terminal.cpu_seconds()
            if now - before <= quiet * 0.07:
                return now
            before = now
        return before
