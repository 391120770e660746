"""Run chat-tui exactly as `python -m chat_tui` does, with measuring instruments attached.

    CHAT_TUI_BENCH_PROBE=out.json python benchmarks/instrumented.py [chat-tui arguments]

Nothing in the app changes. From the outside this adds:

- a loop-lag probe: a task on the app's event loop that asks to wake every 10 ms and records
  how late it woke (a callback that holds the loop, or a thread hogging the GIL, shows up);
- a record of every outgoing socket connection, and of the moment `openai` was first seen in
  `sys.modules` (to check that start-up neither imports the SDK nor touches the network) and
  the moment its import had finished;
- every module imported, with the thread that imported it and when (to see which imports
  of the event loop's thread could wait for a module another thread is importing);
- the path of each key: when Textual's input thread read it, when the input box handled it
  on the event loop, and when each frame was handed to the output thread; and each
  screen update (layout and paint) with what it cost (to see where a slow echo waited);
- the Python heap's size in allocated blocks (`sys.getallocatedblocks`) every quarter of a
  second: the live objects, apart from what the C allocator keeps of freed ones;
- the CPU time (`time.thread_time`) of every save: the snapshot taken on the event loop and
  the write in the saver's thread, each tagged checkpoint or not.

Everything is written as JSON to `$CHAT_TUI_BENCH_PROBE` when the app exits.

With `BENCH_STALLS=/tmp/stalls.txt` (in the benchmark's own environment: the harness passes it
on), a stall detector runs too: a task that beats every 4 ms and a thread that, while the
beat is over 25 ms late, samples the event loop's thread's stack every few milliseconds.
When the app exits it appends to that file the longest stalls with their stacks, which
functions the samples were in, and the collections of the garbage collector that
overlapped them, to find what held the loop.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import gc
import json
import os
import socket
import sys
import threading
import time
from pathlib import Path

PROBE_SECONDS = 0.010
OUTPUT = Path(os.environ["CHAT_TUI_BENCH_PROBE"])
RECORD: dict[str, object] = {
    "started": time.monotonic(),
    "lag": [],
    "connects": [],
    "openai_seen": None,
    "openai_ready": None,
    "saves": [],
    "imports": [],
    "keys_read": [],
    "keys_handled": [],
    "writes": [],
    "frames": [],
    "heap": [],
}
_lag: list[tuple[float, float]] = RECORD["lag"]  # type: ignore[assignment]
_saves: list[dict[str, object]] = RECORD["saves"]  # type: ignore[assignment]
_imports: list[tuple[float, str, str]] = RECORD["imports"]  # type: ignore[assignment]
_heap: list[tuple[float, int]] = RECORD["heap"]  # type: ignore[assignment]
_main_thread = threading.main_thread()
HEAP_SECONDS = 0.25


async def _probe() -> None:
    while True:
        before = time.monotonic()
        await asyncio.sleep(PROBE_SECONDS)
        after = time.monotonic()
        _lag.append((after, after - before - PROBE_SECONDS))
        if not _heap or after - _heap[-1][0] >= HEAP_SECONDS:
            _heap.append((after, sys.getallocatedblocks()))
        if RECORD["openai_ready"] is None and "openai" in sys.modules:
            if RECORD["openai_seen"] is None:
                RECORD["openai_seen"] = after
            # A module is in sys.modules from the start of its import; its spec says when
            # the import is still running.
            spec = getattr(sys.modules["openai"], "__spec__", None)
            if not getattr(spec, "_initializing", False):
                RECORD["openai_ready"] = after


class _StallDetector:
    """Samples the event loop's thread while a heartbeat on the loop is late."""

    BEAT = 0.004
    LATE = 0.025
    SAMPLE = 0.002
    SHOWN = 15

    def __init__(self, output: Path) -> None:
        self.output = output
        self.beat = time.monotonic()
        self.late: dict[float, float] = {}
        """Each late beat's previous beat → how late it came."""
        self.samples: dict[float, list[list[str]]] = collections.defaultdict(list)
        self.others: dict[float, collections.Counter[str]] = collections.defaultdict(
            collections.Counter
        )
        self.collections: list[tuple[float, float, int]] = []
        self._gc_started = 0.0
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._tasks.add(loop.create_task(self._heartbeat()))
        gc.callbacks.append(self._on_gc)
        threading.Thread(target=self._watch, name="stall-watcher", daemon=True).start()
        atexit.register(self.report)

    async def _heartbeat(self) -> None:
        while True:
            before = self.beat = time.monotonic()
            await asyncio.sleep(self.BEAT)
            late = time.monotonic() - before - self.BEAT
            if late > self.LATE:
                self.late[before] = late

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if threading.current_thread() is not _main_thread:
            return
        if phase == "start":
            self._gc_started = time.monotonic()
        else:
            started = self._gc_started
            self.collections.append((started, time.monotonic() - started, info["generation"]))

    def _watch(self) -> None:
        main_id = _main_thread.ident
        while True:
            time.sleep(self.SAMPLE)
            beat = self.beat
            if time.monotonic() - beat - self.BEAT <= self.LATE:
                continue
            frames = sys._current_frames()
            self.samples[beat].append(_stack(frames.get(main_id)))  # type: ignore[arg-type]
            for thread in threading.enumerate():
                other = frames.get(thread.ident)  # type: ignore[arg-type]
                if thread is not _main_thread and other is not None:
                    leaf = " < ".join(reversed(_stack(other, 3)))
                    self.others[beat][f"{thread.name}: {leaf}"] += 1

    def report(self) -> None:
        stalls = sorted(self.late.items(), key=lambda item: item[1], reverse=True)
        total = sum(len(samples) for samples in self.samples.values())
        lines = [
            f"== pid {os.getpid()}: {len(stalls)} stalls over {self.LATE * 1000:.0f} ms, "
            f"{total} samples; functions in the samples (share of samples):"
        ]
        functions: collections.Counter[str] = collections.Counter()
        for samples in self.samples.values():
            for sample in samples:
                functions.update(set(sample))
        for name, count in functions.most_common(40):
            lines.append(f"  {100 * count / max(1, total):5.1f} %  {name}")
        for beat, late in stalls[: self.SHOWN]:
            ends = beat + self.BEAT + late
            overlapping = [
                f"gen{generation} {duration * 1000:.0f} ms"
                for started, duration, generation in self.collections
                if started < ends and started + duration > beat and duration > 0.002
            ]
            samples = self.samples.get(beat, [])
            lines.append(
                f"-- stall at {beat:.3f} (+{beat - RECORD['started']:.2f} s): "  # type: ignore
                f"{late * 1000:.0f} ms late, {len(samples)} samples, "
                f"collections: {', '.join(overlapping) or 'none'}"
            )
            stacks = collections.Counter(tuple(sample) for sample in samples)
            for stack, count in stacks.most_common(3):
                lines.append(f"   {count} sample(s):")
                lines.extend(f"     {line}" for line in stack)
            for other, count in self.others[beat].most_common(6):
                lines.append(f"   other thread ({count}): {other}")
        with self.output.open("a", encoding="utf-8") as file:
            file.write("\n".join(lines) + "\n")


def _stack(frame: object, depth: int = 40) -> list[str]:
    """The innermost `depth` frames of a stack, outermost first, as "file:line function"."""
    lines: list[str] = []
    while frame is not None and len(lines) < depth:
        code = frame.f_code  # type: ignore[attr-defined]
        name = "/".join(Path(code.co_filename).parts[-2:])
        lines.append(f"{name}:{frame.f_lineno} {code.co_name}")  # type: ignore[attr-defined]
        frame = frame.f_back  # type: ignore[attr-defined]
    return lines[::-1]


_STALLS = os.environ.get("BENCH_STALLS")
_detector = _StallDetector(Path(_STALLS)) if _STALLS else None


class _ProbedPolicy(asyncio.DefaultEventLoopPolicy):
    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        loop = super().new_event_loop()
        loop.call_soon(lambda: loop.create_task(_probe()))
        if _detector is not None:
            loop.call_soon(_detector.start, loop)
        return loop


_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex


def _record_connect(address: object) -> None:
    RECORD["connects"].append((time.monotonic(), repr(address)))  # type: ignore[union-attr]


def _connect_recorded(self: socket.socket, address: object) -> None:
    _record_connect(address)
    return _connect(self, address)


def _connect_ex_recorded(self: socket.socket, address: object) -> int:
    _record_connect(address)
    return _connect_ex(self, address)


def _instrument_saving() -> None:
    from chat_tui.models import Conversation
    from chat_tui.saver import Saver
    from chat_tui.store import ConversationStore

    to_dict = Conversation.to_dict
    save_snapshot = ConversationStore.save_snapshot
    saver_code = Saver._run.__code__

    def timed_to_dict(self: Conversation) -> dict:
        caller = sys._getframe(1)
        if caller.f_code is not saver_code:
            return to_dict(self)
        cpu, wall = time.thread_time(), time.monotonic()
        data = to_dict(self)
        _saves.append(
            {
                "where": "loop",
                "checkpoint": bool(caller.f_locals.get("checkpoint")),
                "cpu": time.thread_time() - cpu,
                "wall": time.monotonic() - wall,
                "at": wall,
                "messages": len(self.messages),
            }
        )
        return data

    def timed_save_snapshot(self: ConversationStore, data: dict, *, checkpoint: bool = False):
        cpu, wall = time.thread_time(), time.monotonic()
        try:
            return save_snapshot(self, data, checkpoint=checkpoint)
        finally:
            _saves.append(
                {
                    "where": "loop" if threading.current_thread() is _main_thread else "thread",
                    "checkpoint": checkpoint,
                    "cpu": time.thread_time() - cpu,
                    "wall": time.monotonic() - wall,
                    "at": wall,
                    "messages": len(data.get("messages", [])),
                }
            )

    Conversation.to_dict = timed_to_dict  # type: ignore[method-assign]
    ConversationStore.save_snapshot = timed_save_snapshot  # type: ignore[method-assign]


def _record_imports(event: str, args: tuple[object, ...]) -> None:
    """The `import` audit event fires only for a module not yet in `sys.modules`."""
    if event == "import":
        _imports.append((time.monotonic(), threading.current_thread().name, str(args[0])))


def _instrument_keys_and_frames() -> None:
    """Wrap, from the outside, the four places a key's echo passes (Textual is imported
    as the app imports it, at its update rate)."""
    from chat_tui.tui.launch import import_textual

    import_textual()
    from textual import events
    from textual.driver import Driver
    from textual.drivers.linux_driver import LinuxDriver
    from textual.screen import Screen
    from textual.widgets import TextArea

    read, handled = RECORD["keys_read"], RECORD["keys_handled"]
    writes, frames = RECORD["writes"], RECORD["frames"]
    process_message, on_key = Driver.process_message, TextArea._on_key
    write, on_timer_update = LinuxDriver.write, Screen._on_timer_update

    def timed_process_message(self: Driver, message: object) -> None:
        if isinstance(message, events.Key):
            read.append((time.monotonic(), message.key))  # type: ignore[union-attr]
        process_message(self, message)  # type: ignore[arg-type]

    async def timed_on_key(self: TextArea, event: events.Key) -> None:
        handled.append((time.monotonic(), event.key))  # type: ignore[union-attr]
        await on_key(self, event)

    def timed_write(self: LinuxDriver, data: str) -> None:
        writes.append(time.monotonic())  # type: ignore[union-attr]
        write(self, data)

    def timed_on_timer_update(self: Screen) -> None:
        started = time.monotonic()
        on_timer_update(self)
        frames.append((started, time.monotonic() - started))  # type: ignore[union-attr]

    Driver.process_message = timed_process_message  # type: ignore[method-assign]
    TextArea._on_key = timed_on_key  # type: ignore[method-assign]
    LinuxDriver.write = timed_write  # type: ignore[method-assign]
    Screen._on_timer_update = timed_on_timer_update  # type: ignore[method-assign]


def _write() -> None:
    OUTPUT.write_text(json.dumps(RECORD))


def main() -> int:
    asyncio.set_event_loop_policy(_ProbedPolicy())
    socket.socket.connect = _connect_recorded  # type: ignore[method-assign]
    socket.socket.connect_ex = _connect_ex_recorded  # type: ignore[method-assign]
    atexit.register(_write)
    sys.addaudithook(_record_imports)
    _instrument_saving()
    _instrument_keys_and_frames()
    from chat_tui.cli import main as chat_tui_main

    return chat_tui_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
