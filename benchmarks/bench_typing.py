"""Typing while a reply streams at 100 tokens/s.

A person types into the input box (about eight keys a second) while a long Markdown reply
arrives. Each key is sent to the pseudo-terminal and timed until the input box shows it.
Inside the app, the loop-lag probe of `instrumented.py` records how late the event loop
wakes up, and the CPU of every save is recorded, so the share the checkpoints take (a save
every second while streaming) is measured, not estimated.

The instruments also note when each key was read by Textual's input thread, handled by the
input box and its frame handed to the output thread, and what each screen update cost: a
slow echo is put down to the step it waited in. When `textual-speedups` (the `speedups`
extra) is installed, Textual uses it; the same sessions then also run without it
(`TEXTUAL_SPEEDUPS=0`), interleaved, for the comparison.
"""

from __future__ import annotations

import bisect
import importlib.util
import json
import random
import time
from collections import Counter
from pathlib import Path

from harness import (
    PROMPT_PLACEHOLDER,
    ChatSession,
    Figure,
    Scale,
    median,
    percentile,
)
from workloads import markdown_reply

GROUP = "Typing while streaming"
PREFIX = "QZJ"
"""Typed first: the input line then holds text that nothing else on screen does."""
WORD = 20
"""Keys per burst, then ctrl+u clears the line and the next burst starts."""
KEY_GAP = 0.12
SLOW_ECHO = 0.020
"""An echo slower than this is put down to the step it waited in."""
STEPS = ("read", "queue", "frame", "output")
"""A key's way to the screen: sent → read by the input thread (`read`) → handled on the
event loop (`queue`) → its frame handed to the output thread (`frame`) → on the terminal
(`output`)."""


def _first_after(times: list[float], moment: float) -> float:
    index = bisect.bisect_left(times, moment)
    return times[index] if index < len(times) else float("nan")


def where_keys_waited(
    keys: list[tuple[float, float]], record: dict[str, list]
) -> list[dict[str, float]]:
    """For each (sent, echoed) key: the seconds spent in each of `STEPS`, and how much of
    its wait on the event loop a screen update took."""
    read = sorted(at for at, _ in record["keys_read"])
    handled = sorted(at for at, _ in record["keys_handled"])
    writes = sorted(record["writes"])
    frames = sorted(record["frames"])
    found = []
    for sent, echoed in keys:
        was_read = _first_after(read, sent)
        was_handled = _first_after(handled, was_read)
        written = _first_after(writes, was_handled)
        in_frames = sum(
            max(0.0, min(start + took, was_handled) - max(start, was_read))
            for start, took in frames
            if start < was_handled and start + took > was_read
        )
        found.append(
            {
                "read": was_read - sent,
                "queue": was_handled - was_read,
                "frame": written - was_handled,
                "output": echoed - written,
                "queue_in_frames": in_frames,
            }
        )
    return found


def typing_session(fake, home: Path, seconds: float, **env: str) -> dict[str, object]:
    probe = home / "probe.json"
    reply = markdown_reply(int(100 * (seconds + 4)), seed=11, tag="t")
    rng = random.Random(3)
    latencies: list[float] = []
    keys: list[tuple[float, float]] = []
    with ChatSession(
        fake, home, instrumented=True, CHAT_TUI_BENCH_PROBE=str(probe), **env
    ) as session:
        session.exchange("Say hello", "Hello there, typing benchmark.")
        terminal = session.terminal
        session.settle()
        first = len(fake.sent_at)
        fake.add(deltas=reply.tokens, rate=100)
        mark = terminal.mark()
        session.send_prompt("Stream something long")
        terminal.wait_for(reply.markers[0][0], after=mark)
        cpu_start = terminal.cpu_seconds()
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            typed = PREFIX
            mark = terminal.mark()
            terminal.type(typed)
            terminal.wait_for(typed, after=mark)
            for _ in range(WORD):
                typed += rng.choice("abcdefghijklmnopqrstuvwxyz")
                mark = terminal.mark()
                sent = terminal.type(typed[-1])
                echoed = terminal.wait_for(typed, after=mark)
                latencies.append(echoed - sent)
                keys.append((sent, echoed))
                time.sleep(max(0.0, sent + KEY_GAP - time.monotonic()))
            mark = terminal.mark()
            terminal.type("\x15")  # ctrl+u: clear the line
            terminal.wait_for(PROMPT_PLACEHOLDER, after=mark)
        typing_ended = time.monotonic()
        terminal.wait_for(reply.last_line, after=0)
        session.wait_saved(reply.text)
        stream_ended = fake.sent_at[first + len(reply.tokens) - 1]
        stream_cpu = terminal.cpu_seconds() - cpu_start
    record = json.loads(probe.read_text())
    stream_started = fake.sent_at[first]
    lags = [lag for at, lag in record["lag"] if started <= at <= typing_ended]
    checkpoints = [
        save
        for save in record["saves"]
        if save["checkpoint"] and stream_started <= save["at"] <= stream_ended
    ]
    frames = [took for at, took in record["frames"] if started <= at <= typing_ended]
    return {
        "echo": latencies,
        "waits": where_keys_waited(keys, record),
        "frames": frames,
        "lag": lags,
        "checkpoint_cpu": sum(save["cpu"] for save in checkpoints),
        "checkpoints": len(checkpoints) // 2,
        "stream_cpu": stream_cpu,
    }


def _echo_figures(runs: list[dict], label: str = "") -> list[Figure]:
    """Echo p95 and max (medians over the sessions), and the screen updates meanwhile."""
    echo_p95 = median([percentile(run["echo"], 0.95) for run in runs])
    echo_p50 = median([percentile(run["echo"], 0.5) for run in runs])
    echo_max = median([max(run["echo"]) for run in runs])
    frame_p50 = median([percentile(run["frames"], 0.5) for run in runs])
    frame_p95 = median([percentile(run["frames"], 0.95) for run in runs])
    frame_max = median([max(run["frames"]) for run in runs])
    keys = len(runs[0]["echo"])
    slow = [
        wait for run in runs for wait in run["waits"] if sum(wait[s] for s in STEPS) > SLOW_ECHO
    ]
    blamed = Counter(max(STEPS, key=lambda step, wait=wait: wait[step]) for wait in slow)
    in_frames = sum(wait["queue_in_frames"] for wait in slow)
    queued = sum(wait["queue"] for wait in slow)
    waited = ", ".join(
        f"{step} {blamed[step]} (median {median([w[step] for w in slow]) * 1000:.0f} ms)"
        for step in STEPS
    )
    return [
        Figure(
            GROUP,
            f"keystroke → echo on screen, p95{label}",
            echo_p95,
            "s",
            target=0.02,
            detail=f"p50 {echo_p50 * 1000:.0f} ms over {keys} keys in each of {len(runs)} "
            f"sessions; the {len(slow)} echoes over {SLOW_ECHO * 1000:.0f} ms waited longest in: "
            f"{waited or 'none'}; screen updates took {100 * in_frames / max(queued, 1e-9):.0f} % "
            "of their wait on the event loop",
        ),
        Figure(GROUP, f"keystroke → echo on screen, max{label}", echo_max, "s", target=0.033),
        Figure(
            GROUP,
            f"screen update (layout and paint) while typing, p95{label}",
            frame_p95,
            "s",
            detail=f"p50 {frame_p50 * 1000:.1f} ms, max {frame_max * 1000:.0f} ms",
        ),
    ]


def run(scale: Scale, fake, cache: Path, home_of) -> list[Figure]:
    # One session per run: a p95 of 100 keys is the fifth-slowest key, so one session
    # alone is noisy; the figures are medians over the sessions. With textual-speedups
    # installed, a session without it follows each one with it.
    compare = importlib.util.find_spec("textual_speedups") is not None
    runs, without = [], []
    for _ in range(scale.runs):
        runs.append(typing_session(fake, home_of("typing"), scale.typing_seconds))
        if compare:
            without.append(
                typing_session(fake, home_of("typing"), scale.typing_seconds, TEXTUAL_SPEEDUPS="0")
            )
    lag_p50 = median([percentile(run["lag"], 0.5) for run in runs])
    lag_p95 = median([percentile(run["lag"], 0.95) for run in runs])
    lag_max = median([max(run["lag"]) for run in runs])
    share = median([100 * run["checkpoint_cpu"] / run["stream_cpu"] for run in runs])
    figures = _echo_figures(runs, " (with textual-speedups)" if compare else "")
    if compare:
        figures += _echo_figures(without, " (without textual-speedups)")
        cpu = median([run["stream_cpu"] for run in runs])
        cpu_without = median([run["stream_cpu"] for run in without])
        figures.append(
            Figure(
                GROUP,
                "CPU while streaming and typing, with ÷ without textual-speedups",
                cpu / cpu_without,
                "×",
                detail=f"{cpu:.2f} s ÷ {cpu_without:.2f} s",
            )
        )
    return [
        *figures,
        Figure(
            GROUP,
            "event loop lag, max",
            lag_max,
            "s",
            target=0.05,
            detail=f"p50 {lag_p50 * 1000:.1f} ms, p95 {lag_p95 * 1000:.1f} ms",
        ),
        Figure(
            GROUP,
            "checkpoint saves ÷ streaming CPU (new conversation)",
            share,
            "%",
            target=5.0,
            detail=f"{runs[0]['checkpoints']} checkpoints, "
            f"{runs[0]['checkpoint_cpu'] * 1000:.0f} ms of "
            f"{runs[0]['stream_cpu']:.2f} s CPU",
        ),
    ]
