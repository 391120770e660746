"""What every benchmark shares: environments, a chat-tui session, figures and the table rows.

Programs run in the pseudo-terminal driver of the tests (`tests/support/pty.py`), which
records everything they write with the time each piece arrived, so a benchmark can wait for
a piece of text to be shown and learn when it got there (`wait_for(..., after=mark)`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.pty import Terminal

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"
RESULTS = BENCHMARKS / "results"
PYTHON = sys.executable
COLUMNS, ROWS = 120, 40
"""Terminal size of every benchmark."""

PROMPT_PLACEHOLDER = "Enter to send, ctrl+j for a new line"
"""Part of the input box's placeholder: on screen means the prompt has been painted."""


class BenchmarkError(RuntimeError):
    """A benchmark could not take its measurement (the app did not show what it should)."""


def open_terminal(argv: Sequence[str], env: dict[str, str]) -> Terminal:
    """`argv` on a pseudo-terminal of the benchmarks' size, started in the repository."""
    return Terminal(argv, env, size=(COLUMNS, ROWS), cwd=ROOT)


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
    reading_tokens: int
    """The reply streamed both flat out and at a reading rate, to compare their costs."""
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
            reading_tokens=2_000,
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
            reading_tokens=100,
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
        self.terminal = open_terminal(argv, app_env(home, **env))
        self.terminal.wait_for(PROMPT_PLACEHOLDER, after=0)

    def __enter__(self) -> ChatSession:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.terminal.quit()
        else:
            self.terminal.close()

    def send_prompt(self, text: str) -> float:
        """Type `text` and press Enter; return when Enter was sent."""
        mark = self.terminal.mark()
        self.terminal.type(text)
        self.terminal.wait_for(text, after=mark)
        return self.terminal.type("\r")

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
