"""The cyclic garbage collector, tuned so it never stalls typing or streaming.

A full collection walks every tracked object and holds the event loop meanwhile, and a
screen of rendered Markdown is a few hundred thousand objects. So what survives a
collection of the middle or the oldest generation is frozen (`gc.freeze`): Python's own
collections then walk only the youngest objects. What dies after being frozen in a
reference cycle (the views of a conversation left, the blocks a streaming reply replaced)
is reclaimed by a real full collection when the app is idle (no input, no reply streaming)
and either the app said much was dropped or the heap grew by a quarter and stayed so for
a tick (by more after reclaims that found little; counted from the first idle moment, as
start-up's listing and imports go on after the collector starts). Every reclaim walks the
whole heap, so none is made for start-up alone. Two drops without an idle moment between,
or a heap grown fourfold, reclaim at once, so memory stays bounded. Collections wait for
the end of a layout pass or a streamed update (`collections_deferred`), so what those hold
for a moment is not frozen.

The heap is measured in allocated blocks (`sys.getallocatedblocks`, a walk over arenas),
not frozen objects: `gc.get_freeze_count` walks every frozen object. The figures behind
these choices are in docs/performance.md.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import sys
from collections.abc import Callable, Iterator
from typing import Any

GROWTH_WHEN_IDLE = 1.25
"""Heap size, relative to after the last reclaim, that makes an idle moment reclaim."""
GROWTH_AT_MOST = 4.0
"""... and that make a reclaim happen whatever the person is doing."""
LITTLE_GARBAGE = 0.05
"""A reclaim that frees less than this share of what it keeps found little: the growth
that asks for the next idle one doubles (up to `GROWTH_AT_MOST`), as a long reply or a
long conversation grows the heap with live objects, not garbage."""
REPLY_GROWTH = 1.5
"""Heap size at a reply's end, relative to its start, that makes its end ask for a reclaim:
the growth is the reply's live widgets as well as its garbage, so by half, not a quarter."""
FROZEN_FROM_GENERATION = 1
"""Survivors of collections of this generation and older are frozen."""


class Collector:
    """Owns the process's collector settings between `start` and `stop`."""

    def __init__(self, release: list[Callable[[], None]] | None = None) -> None:
        self._release = release or []
        """Dropped before each reclaim: caches that would keep dead objects alive."""
        self.started = False
        self._stopped = False
        self._garbage_pending = False
        self._starting = False
        """Until the first idle moment: the heap start-up grows is its live data."""
        self._grown_at_last_tick = False
        """Growth asks for an idle reclaim only when it lasts from one tick to the next."""
        self._heap_after_reclaim = 0
        self._idle_growth = GROWTH_WHEN_IDLE
        self.reclaims = 0

    def start(self) -> None:
        """Freeze what start-up made (imports, styles, screen, the sidebar's rows); what of
        it is garbage, little, goes with the next reclaim the app needs anyway. A full
        collection of its own, now or at the first idle moment, would walk the whole heap
        (the SDK, thousands of listed conversations) while the person may be typing their
        first prompt."""
        if self.started or self._stopped:
            return
        self.started = True
        if not _active:
            gc.callbacks.append(_freeze_survivors)
        _active.add(self)
        gc.freeze()
        self._heap_after_reclaim = self.heap()
        self._starting = True

    def stop(self) -> None:
        """Give the process its usual collector back (tests run many apps in one process)."""
        self._stopped = True  # a start timer that fires during shutdown must not start it
        if not self.started:
            return
        self.started = False
        _active.discard(self)
        if not _active:
            gc.callbacks.remove(_freeze_survivors)
            gc.unfreeze()

    def garbage_left(self) -> None:
        """Many objects just became garbage (the log was re-shown): reclaim when idle, or
        now if the last such garbage is still waiting (quick switching). A reclaim now
        frees this garbage too: nothing is left waiting after it."""
        if not self.started:
            return
        if self._garbage_pending:
            self.reclaim()
        else:
            self._garbage_pending = True

    @staticmethod
    def heap() -> int:
        """The heap's size now, in allocated blocks: a reply hands it back to `reply_ended`."""
        return sys.getallocatedblocks()

    def reply_ended(self, heap_at_start: int) -> None:
        """A reply finished streaming: reclaim at the next idle moment if it grew the heap by
        half or more.

        Each frame of a reply leaves objects that were alive during a collection (rendered
        widgets a later frame replaced, layouts) and so were frozen before they died; a long
        reply at a reading rate leaves many megabytes of them. A short reply in a long
        conversation leaves little, and a reclaim walks the whole heap: it was a stall of
        150 ms after every reply in a 2,000-message conversation, to free 8 % of it.
        Unlike `garbage_left`, a second call before an idle moment does not reclaim at once:
        replies end while the person types.
        """
        if self.started and self.heap() > REPLY_GROWTH * heap_at_start:
            self._garbage_pending = True

    def tick(self, idle: bool) -> None:
        """Call every second or so; `idle` when nobody is typing and nothing streams."""
        if not self.started:
            return
        heap = self.heap()
        grown = heap / max(self._heap_after_reclaim, 1)
        if idle and self._starting and not self._garbage_pending and grown <= GROWTH_AT_MOST:
            # The listing and the SDK's import went on after `start`: what they added lives.
            self._starting = self._grown_at_last_tick = False
            self._heap_after_reclaim = heap
            return
        # A batch of files the index holds for a moment is no reason to walk the heap.
        lasting = grown > self._idle_growth and self._grown_at_last_tick
        self._grown_at_last_tick = grown > self._idle_growth
        if (idle and (self._garbage_pending or lasting)) or grown > GROWTH_AT_MOST:
            self.reclaim()

    def reclaim(self) -> None:
        """One full collection over everything, frozen survivors included."""
        self._garbage_pending = self._starting = self._grown_at_last_tick = False
        for release in self._release:
            release()
        gc.unfreeze()
        found = gc.collect()
        gc.freeze()
        _return_free_memory()
        kept = gc.get_freeze_count()
        if found < LITTLE_GARBAGE * kept:
            self._idle_growth = min(self._idle_growth * 2, GROWTH_AT_MOST)
        else:
            self._idle_growth = GROWTH_WHEN_IDLE
        self._heap_after_reclaim = self.heap()
        self.reclaims += 1


def before_exit() -> None:
    """The process is about to end: freeze every object left, for the interpreter's last
    collections to skip.

    `Collector.stop` hands the whole heap back to the collector (tests run many apps in one
    process), and on the way out the interpreter's collections then walked all of it, every
    rendered message of the conversation on screen included, before the shell got its
    prompt back.
    """
    gc.freeze()


_active: set[Collector] = set()
"""Started collectors: the process has one garbage collector, tests run many apps."""


def active_collectors() -> int:
    return len(_active)


_deferring = 0
"""How many `collections_deferred` blocks are open (they may interleave: async tasks)."""
_enable_after = False
"""Whether automatic collection was on when the first of them opened."""


@contextlib.contextmanager
def collections_deferred() -> Iterator[None]:
    """Hold Python's automatic collections while a frame or a streamed update is made; the
    one due runs at the first allocation after.

    What survives a collection of the middle generation is frozen. A collection that fell
    inside a layout pass or a Markdown update froze what those hold only for a moment (the
    compositor's map under construction, captured by Textual's recursive closures; the
    blocks an update parses and throws away), which then died in reference cycles that
    only a reclaim of the whole heap frees. Run after, the collection finds them dead.
    """
    global _deferring, _enable_after
    if _deferring == 0:
        _enable_after = gc.isenabled()
        gc.disable()
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
        if _deferring == 0 and _enable_after:
            gc.enable()


def _freeze_survivors(phase: str, info: dict[str, Any]) -> None:
    if phase == "stop" and info["generation"] >= FROZEN_FROM_GENERATION:
        gc.freeze()


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's `malloc_trim` (None where there is none: musl, macOS, Windows), looked up
    among the symbols the process already has: `ctypes.util.find_library` would run
    `ldconfig` in a subprocess, on the event loop."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None


def _return_free_memory() -> None:
    """Give the C heap's free pages back to the system.

    Conversations are read in worker threads, and glibc keeps what each thread's arena
    freed: without this, resident memory grew with every switch although the objects were
    gone.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
