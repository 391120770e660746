"""Streaming a long Markdown reply: how fast it gets on screen, and what it costs.

- Flat out: the server sends a 4,000-token reply (headings, lists, tables, fenced code) as
  fast as the app reads it. Measured from the first token leaving the server to the reply's
  last line on screen. The yardstick is the bare app rendering the same final text once,
  with a single `Markdown.update`, measured from the key that asks for it to the last line on
  screen.
- Linearity: the app's CPU time (all threads, from Enter until it is idle again with the
  reply saved) for 8,000 tokens against 4,000.
- Paced at 100 tokens/s: every paragraph and list item of the reply ends with a marker word;
  for each, the time from the server sending its last token to the word being on screen.
- At a reading rate: one 2,000-token reply streamed flat out and at 100 tokens/s, in the same
  run. The app's CPU for the paced reply against the flat-out one (a frame's work should
  follow the text it adds, not the text before it), and its resident memory: the most it
  grew while the reply streamed, and where it is a few seconds after the reply is done.
  Beside it, the least that CPU ratio can be: flat out, plus one frame that scrolls the log
  for each frame the screen needs to trail the server by 0.25 s at most (or each line, if
  fewer), costed by the bare app scrolling the same reply one line per frame. However a
  reply is drawn, a frame that shows a new line at the bottom of a full log scrolls it.

Each chat-tui run is a fresh process that first has a short exchange, so the connection is
open and the SDK imported before the measured reply, as in any conversation after the first
message.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from harness import (
    PROMPT_PLACEHOLDER,
    PYTHON,
    BenchmarkError,
    ChatSession,
    Figure,
    Scale,
    app_env,
    median,
    open_terminal,
    percentile,
)
from workloads import CODE_SNIPPETS, Reply, markdown_reply

from tests.support.pty import Terminal

GROUP = "Streaming"
PROMPT = "Write the long answer please"
WARM_UP = (
    "Hello there.\n\n"
    + "\n\n".join(f"```{language}\n{code}```" for language, code in CODE_SNIPPETS.items())
    + "\n\nWarm-up done."
)
"""First reply of every session (and first render of the bare app): Markdown and the code
highlighters are loaded, so the measured render is the steady state in both."""


def render_once(reply: Reply, home: Path) -> tuple[float, float]:
    """The bare app: seconds from ctrl+g to the last line on screen, and CPU seconds."""
    with bare_app(reply, home) as terminal:
        cpu = terminal.cpu_seconds()
        sent = terminal.type("\x07")  # ctrl+g
        shown = terminal.wait_for(reply.last_line, after=0)
        now = idle_cpu(terminal)
        terminal.quit()
    return shown - sent, now - cpu


def scroll_floor(reply: Reply, home: Path) -> tuple[int, float]:
    """The bare app shows `reply`, then scrolls its log one line per frame from where it was
    before the reply to its end (ctrl+s): the lines scrolled, and the CPU of those frames. A
    log that follows the reply as it streams scrolls the same lines."""
    with bare_app(reply, home) as terminal:
        terminal.type("\x07")  # ctrl+g
        terminal.wait_for(reply.last_line, after=0)
        cpu = idle_cpu(terminal)
        mark = terminal.mark()
        terminal.type("\x13")  # ctrl+s
        terminal.wait_for("Scrolled ", after=mark)
        now = idle_cpu(terminal)
        found = re.search(r"Scrolled (\d+) lines\.", terminal.screen)
        terminal.quit()
    if found is None:
        raise BenchmarkError("the bare app did not say how many lines it scrolled")
    return int(found[1]), now - cpu


@contextlib.contextmanager
def bare_app(reply: Reply, home: Path) -> Iterator[Terminal]:
    """The bare app in a terminal, warmed up and idle, ctrl+g ready to show `reply`."""
    source = home / "reply.md"
    source.write_text(reply.text, "utf-8")
    warm_up = home / "warm-up.md"
    warm_up.write_text(WARM_UP, "utf-8")
    argv = [
        PYTHON,
        str(Path(__file__).with_name("bare_app.py")),
        "--warm-up",
        str(warm_up),
        "--markdown",
        str(source),
    ]
    with open_terminal(argv, app_env(home)) as terminal:
        terminal.wait_for(PROMPT_PLACEHOLDER, after=0)
        terminal.wait_for("Warm-up done.", after=0)
        time.sleep(0.5)
        yield terminal


def idle_cpu(terminal: Terminal) -> float:
    """The process's CPU seconds once it is idle again (the same settling as chat-tui's)."""
    before = terminal.cpu_seconds()
    while True:
        time.sleep(0.3)
        now = terminal.cpu_seconds()
        if now - before <= 0.021:
            return now
        before = now


READING_RATE = 100
"""Tokens per second of a paced reply: a person's reading rate."""
TRAILING_GOAL = 0.25
"""Seconds the screen may trail the server (p95) at that rate: frames at least this often."""
AFTER_SECONDS = 3.0
"""How long after the reply is done (and the app idle) its memory is read: long enough for
the collector's idle reclaim, which looks every second."""


class PeakMemory:
    """The highest resident memory of a process, sampled in a thread until `stop`."""

    def __init__(self, terminal: Terminal) -> None:
        self._terminal = terminal
        self.peak = terminal.rss_mb()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(0.05):
            self.peak = max(self.peak, self._terminal.rss_mb())

    def stop(self) -> float:
        self._done.set()
        self._thread.join()
        return max(self.peak, self._terminal.rss_mb())


def stream(
    fake, home: Path, reply: Reply, *, rate: float = 0.0, memory_after: float = 0.0
) -> dict[str, object]:
    """chat-tui streams `reply`; when it was sent and shown, the CPU and memory it took
    (memory again `memory_after` seconds after the app is idle, when asked: then the app
    runs instrumented, and its Python heap is read too)."""
    probe = home / "probe.json"
    if memory_after:
        session = ChatSession(fake, home, instrumented=True, CHAT_TUI_BENCH_PROBE=str(probe))
    else:
        session = ChatSession(fake, home)
    with session:
        session.exchange("Say hello", WARM_UP)
        terminal = session.terminal
        session.settle()
        first = len(fake.sent_at)
        fake.add(deltas=reply.tokens, rate=rate)
        mark = terminal.mark()
        rss = terminal.rss_mb()
        memory = PeakMemory(terminal)
        cpu = terminal.cpu_seconds()
        entered = session.send_prompt(PROMPT)
        shown = {}
        for word, _ in reply.markers if rate else []:
            shown[word] = terminal.wait_for(word, after=mark)
        last = terminal.wait_for(reply.last_line, after=mark)
        session.wait_saved(reply.text)
        idle_cpu = session.settle()
        peak = memory.stop()
        if memory_after:
            time.sleep(memory_after)
            session.settle()
        rss_after = terminal.rss_mb()
        after_at = time.monotonic()
        sent = fake.sent_at[first : first + len(reply.tokens)]
        if len(sent) != len(reply.tokens):
            raise BenchmarkError("the server did not send the whole reply")
    heap_after = float("nan")
    if memory_after:
        # The probe's clock is the same monotonic clock: its last sample before the reading.
        samples = [blocks for at, blocks in json.loads(probe.read_text())["heap"] if at <= after_at]
        heap_after = samples[-1] if samples else heap_after
    lags = [shown[word] - sent[index] for word, index in reply.markers if word in shown]
    return {
        "first_token": sent[0] - entered,
        "to_last_line": last - sent[0],
        "cpu": idle_cpu - cpu,
        "lags": lags,
        "rss": rss,
        "growth": peak - rss,
        "after": rss_after,
        "heap_after": heap_after,
    }


def reading_rate(scale: Scale, fake, home_of) -> list[Figure]:
    """The same reply flat out and at 100 tokens/s: CPU and memory of each, compared."""
    reply = markdown_reply(scale.reading_tokens, seed=11)
    pairs = [
        (
            stream(fake, home_of("reading-flat"), reply, memory_after=AFTER_SECONDS),
            stream(
                fake, home_of("reading-paced"), reply, rate=READING_RATE, memory_after=AFTER_SECONDS
            ),
        )
        for _ in range(max(1, scale.runs // 2))
    ]
    scrolls = [scroll_floor(reply, home_of("reading-scroll")) for _ in pairs]
    keys = ("cpu", "rss", "growth", "after", "heap_after")
    flat = {key: median([float(run[key]) for run, _ in pairs]) for key in keys}  # type: ignore[arg-type]
    paced = {key: median([float(run[key]) for _, run in pairs]) for key in keys}  # type: ignore[arg-type]

    def ratio(key: str) -> float:
        return median([float(p[key]) / float(f[key]) for f, p in pairs])  # type: ignore[arg-type]

    label = f"{len(reply.tokens):,} tokens"
    growth = median([float(p["growth"]) - float(f["growth"]) for f, p in pairs])  # type: ignore[arg-type]
    # However a reply is drawn, each frame that shows a new line scrolls the log; the
    # trailing goal needs a frame every TRAILING_GOAL seconds at least.
    # The flat-out reply scrolled too, in fewer frames: only the frames beyond those count.
    from chat_tui.tui.widgets.message_view import FRAME_SECONDS

    frames = len(reply.tokens) / READING_RATE / TRAILING_GOAL
    lines = median([float(count) for count, _ in scrolls])
    per_line = median([cpu / max(count, 1) for count, cpu in scrolls])
    scrolling = min(lines, frames)

    def beyond_flat_out(flat_run: dict[str, object]) -> float:
        return max(0.0, scrolling - float(flat_run["to_last_line"]) / FRAME_SECONDS)  # type: ignore[arg-type]

    extra = median([beyond_flat_out(f) for f, _ in pairs])
    least = median(
        [(float(f["cpu"]) + beyond_flat_out(f) * per_line) / float(f["cpu"]) for f, _ in pairs]  # type: ignore[arg-type]
    )
    return [
        Figure(
            GROUP,
            f"CPU, {label} at 100 tokens/s ÷ flat out",
            ratio("cpu"),
            "×",
            target=2.0,
            detail=f"{paced['cpu']:.2f} s ÷ {flat['cpu']:.2f} s",
        ),
        Figure(
            GROUP,
            f"... the least it can be with the screen {TRAILING_GOAL} s behind at most",
            least,
            "×",
            detail=f"flat out + {extra:.0f} more frames that scroll the log ({scrolling:.0f} "
            f"of its {lines:.0f} lines, less the flat-out reply's frames), at "
            f"{per_line * 1000:.1f} ms CPU each in the bare app",
        ),
        Figure(
            GROUP,
            f"RSS growth while {label} stream: 100 tokens/s − flat out",
            growth,
            "MB",
            target=20.0,
            detail=f"+{paced['growth']:.1f} MB − +{flat['growth']:.1f} MB "
            f"(from {flat['rss']:.0f} MB)",
        ),
        Figure(
            GROUP,
            f"RSS {AFTER_SECONDS:.0f} s after {label}: 100 tokens/s ÷ flat out",
            ratio("after"),
            "×",
            target=1.1,
            detail=f"{paced['after']:.1f} MB ÷ {flat['after']:.1f} MB",
        ),
        Figure(
            GROUP,
            "... its Python heap (allocated blocks): 100 tokens/s ÷ flat out",
            ratio("heap_after"),
            "×",
            detail=f"{paced['heap_after'] / 1e6:.3f} ÷ {flat['heap_after'] / 1e6:.3f} million "
            "blocks: what the RSS holds beyond it is freed memory the allocator keeps",
        ),
    ]


def run(scale: Scale, fake, cache: Path, home_of) -> list[Figure]:
    tokens = scale.reply_tokens
    reply = markdown_reply(tokens)
    double = markdown_reply(tokens * 2, seed=8)
    once, flat, flat_double = [], [], []
    for _ in range(scale.runs):
        once.append(render_once(reply, home_of("render-once")))
        flat.append(stream(fake, home_of("stream"), reply))
        flat_double.append(stream(fake, home_of("stream-double"), double))
    paced = [
        stream(
            fake,
            home_of("stream-paced"),
            markdown_reply(scale.paced_tokens, seed=9),
            rate=READING_RATE,
        )
        for _ in range(max(1, scale.runs // 2))
    ]
    once_s = median([seconds for seconds, _ in once])
    once_cpu = median([cpu for _, cpu in once])
    flat_s = median([run["to_last_line"] for run in flat])
    cpu = median([run["cpu"] for run in flat])
    cpu_double = median([run["cpu"] for run in flat_double])
    p95 = median([percentile(run["lags"], 0.95) for run in paced])
    worst = median([max(run["lags"]) for run in paced])
    p50 = median([percentile(run["lags"], 0.5) for run in paced])
    kb = len(reply.text.encode()) / 1000
    label = f"{len(reply.tokens):,} tokens ({kb:.1f} KB)"
    return [
        Figure(
            GROUP,
            f"bare app, one Markdown.update of {label}",
            once_s,
            "s",
            samples=[s for s, _ in once],
            detail=f"CPU {once_cpu:.2f} s",
        ),
        Figure(
            GROUP,
            f"chat-tui streams {label}: first token → last line",
            flat_s,
            "s",
            samples=[run["to_last_line"] for run in flat],
        ),
        Figure(GROUP, "streamed ÷ one Markdown.update", flat_s / once_s, "×", target=2.0),
        Figure(GROUP, f"chat-tui CPU, {label}", cpu, "s", samples=[run["cpu"] for run in flat]),
        Figure(
            GROUP,
            f"chat-tui CPU, {len(double.tokens):,} tokens",
            cpu_double,
            "s",
            samples=[run["cpu"] for run in flat_double],
            detail=f"first token → last line "
            f"{median([run['to_last_line'] for run in flat_double]):.2f} s",
        ),
        Figure(
            GROUP,
            f"CPU {len(double.tokens):,} ÷ {len(reply.tokens):,} tokens",
            cpu_double / cpu,
            "×",
            target=2.3,
        ),
        Figure(
            GROUP,
            "100 tokens/s: screen trails server, p95",
            p95,
            "s",
            target=TRAILING_GOAL,
            detail=f"p50 {p50 * 1000:.0f} ms, max {worst * 1000:.0f} ms over "
            f"{len(paced[0]['lags'])} markers per run",
        ),
        *reading_rate(scale, fake, home_of),
    ]
