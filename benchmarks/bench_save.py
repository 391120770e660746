"""Saving a big conversation never stalls the screen.

In a 2,000-message conversation the person sends a prompt and a reply streams at 100
tokens/s for a few seconds: the prompt is saved, the reply is checkpointed every second and
saved when it ends, each time the whole conversation. The instrumented app records, for
every save, the CPU spent on the event loop (the snapshot) and in the saver's thread (the
write), and the loop-lag probe shows whether the loop ever stalled.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from bench_history import _open, _store
from harness import ChatSession, Figure, Scale, median
from workloads import markdown_reply

GROUP = "Saving"


def save_session(fake, home: Path, scale: Scale) -> dict[str, object]:
    probe = home / "probe.json"
    (_, last_words, size), *_ = _store(home, scale.long_conversation, scale.short_conversation)
    reply = markdown_reply(400 if not scale.quick else 150, seed=13, tag="s")
    with ChatSession(fake, home, instrumented=True, CHAT_TUI_BENCH_PROBE=str(probe)) as session:
        terminal = session.terminal
        terminal.wait_for("History A", after=0)
        session.settle()  # indexed: the line saying so no longer moves the list
        _open(session, 0, last_words)
        session.settle()
        first = len(fake.sent_at)
        fake.add(deltas=reply.tokens, rate=100)
        cpu = terminal.cpu_seconds()
        entered = session.send_prompt("One more question")
        terminal.wait_for(reply.last_line, after=0)
        session.wait_saved(reply.text)
        stream_cpu = terminal.cpu_seconds() - cpu
        stream_started = fake.sent_at[first]
        stream_ended = fake.sent_at[first + len(reply.tokens) - 1]
        session.settle()
        settled = time.monotonic()  # the quit that follows is not part of the window
    record = json.loads(probe.read_text())
    saves = [save for save in record["saves"] if save["at"] >= entered and save["messages"] > 100]
    checkpoints = [
        save
        for save in saves
        if save["checkpoint"] and stream_started <= save["at"] <= stream_ended
    ]
    lags = [lag for at, lag in record["lag"] if entered <= at <= settled]
    return {
        "messages": size,
        "loop": [save["cpu"] for save in saves if save["where"] == "loop"],
        "thread": [save["wall"] for save in saves if save["where"] == "thread"],
        "lag": lags,
        "checkpoint_cpu": sum(save["cpu"] for save in checkpoints),
        "checkpoints": sum(1 for save in checkpoints if save["where"] == "thread"),
        "stream_cpu": stream_cpu,
    }


def run(scale: Scale, fake, cache: Path, home_of) -> list[Figure]:
    runs = [save_session(fake, home_of("save"), scale) for _ in range(max(1, scale.runs // 2))]
    size = runs[0]["messages"]
    loop_max = median([max(run["loop"]) for run in runs])
    thread = median([median(run["thread"]) for run in runs])
    lag_max = median([max(run["lag"]) for run in runs])
    share = median([100 * run["checkpoint_cpu"] / run["stream_cpu"] for run in runs])
    return [
        Figure(
            GROUP,
            f"{size:,}-message conversation: snapshot on the event loop, max",
            loop_max,
            "s",
            target=0.05,
            detail=f"the write itself runs in a thread: {thread * 1000:.0f} ms per save",
        ),
        Figure(GROUP, "event loop lag while saving and streaming, max", lag_max, "s", target=0.05),
        Figure(
            GROUP,
            f"checkpoint saves ÷ streaming CPU ({size:,} messages)",
            share,
            "%",
            target=5.0,
            detail=f"{runs[0]['checkpoints']} checkpoints, "
            f"{runs[0]['checkpoint_cpu'] * 1000:.0f} ms of {runs[0]['stream_cpu']:.2f} s",
        ),
    ]
