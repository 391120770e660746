"""Typing while a reply streams at 100 tokens/s.

A person types into the input box (about eight keys a second) while a long Markdown reply
arrives. Each key is sent to the pseudo-terminal and timed until the input box shows it.
Inside the app, the loop-lag probe of `instrumented.py` records how late the event loop
wakes up, and the CPU of every save is recorded, so the share the checkpoints take (a save
every second while streaming) is measured, not estimated.
"""

from __future__ import annotations

import json
import random
import time
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


def typing_session(fake, home: Path, seconds: float) -> dict[str, object]:
    probe = home / "probe.json"
    reply = markdown_reply(int(100 * (seconds + 4)), seed=11, tag="t")
    rng = random.Random(3)
    latencies: list[float] = []
    with ChatSession(fake, home, instrumented=True, CHAT_TUI_BENCH_PROBE=str(probe)) as session:
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
                latencies.append(terminal.wait_for(typed, after=mark) - sent)
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
    return {
        "echo": latencies,
        "lag": lags,
        "checkpoint_cpu": sum(save["cpu"] for save in checkpoints),
        "checkpoints": len(checkpoints) // 2,
        "stream_cpu": stream_cpu,
    }


def run(scale: Scale, fake, cache: Path, home_of) -> list[Figure]:
    runs = [
        # One session per run: a p95 of 100 keys is the fifth-slowest key, so one session
        # alone is noisy; the figures are medians over the sessions.
        typing_session(fake, home_of("typing"), scale.typing_seconds)
        for _ in range(scale.runs)
    ]
    echo_p95 = median([percentile(run["echo"], 0.95) for run in runs])
    echo_p50 = median([percentile(run["echo"], 0.5) for run in runs])
    echo_max = median([max(run["echo"]) for run in runs])
    lag_p50 = median([percentile(run["lag"], 0.5) for run in runs])
    lag_p95 = median([percentile(run["lag"], 0.95) for run in runs])
    lag_max = median([max(run["lag"]) for run in runs])
    share = median([100 * run["checkpoint_cpu"] / run["stream_cpu"] for run in runs])
    keys = len(runs[0]["echo"])
    return [
        Figure(
            GROUP,
            "keystroke → echo on screen, p95",
            echo_p95,
            "s",
            target=0.05,
            detail=f"p50 {echo_p50 * 1000:.0f} ms, max {echo_max * 1000:.0f} ms "
            f"over {keys} keys in each of {len(runs)} sessions",
        ),
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
