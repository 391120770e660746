"""Memory and the garbage collector: full collections stay short (what survives one is
frozen), what the app drops is reclaimed, and switching back to a conversation re-uses it."""

from __future__ import annotations

import asyncio
import gc
import sys
import time
import weakref
from collections.abc import Callable, Iterator

import pytest
from textual.geometry import Region
from textual.widgets.markdown import MarkdownBlock

from chat_tui.collector import Collector, before_exit, collections_deferred
from chat_tui.models import Conversation, Message
from chat_tui.tui.widgets.message_view import MessageView
from tests.support.loopback import FakeOpenAI
from tests.support.pilot import SIZE, send, settle, wait_for


class Node:
    """A reference cycle: only the cyclic collector can free it."""

    def __init__(self) -> None:
        self.me = self


def collect_until(freed: Callable[[], bool], seconds: float = 10) -> None:
    """`gc.collect()` returns at once while another thread is collecting: try until `freed()`
    holds or `seconds` pass (the caller's assertion then says what was left)."""
    deadline = time.monotonic() + seconds
    while not freed() and time.monotonic() < deadline:
        gc.collect()


@pytest.fixture
def collector() -> Iterator[Collector]:
    released: list[str] = []
    started = Collector(release=[lambda: released.append("released")])
    started.released = released  # type: ignore[attr-defined]
    started.start()
    yield started
    started.stop()


def test_survivors_of_a_full_collection_are_frozen(collector: Collector) -> None:
    assert gc.get_freeze_count() > 0  # start-up's survivors
    gc.unfreeze()
    gc.collect()
    assert gc.get_freeze_count() > 0  # frozen again by the callback


def test_survivors_of_the_middle_generation_are_frozen_too(collector: Collector) -> None:
    """So Python's own full collections find almost nothing left to walk."""
    frozen = gc.get_freeze_count()
    kept = [Node() for _ in range(1000)]
    gc.collect(1)
    assert gc.get_freeze_count() >= frozen + len(kept)
    assert gc.get_objects(generation=2) == []
    del kept


def test_a_cycle_that_dies_frozen_is_freed_by_a_reclaim(collector: Collector) -> None:
    node = Node()
    alive = weakref.ref(node)
    gc.collect()  # `node` survives and is frozen
    del node
    gc.collect()
    assert alive() is not None  # frozen objects are not walked
    collector.reclaim()
    collect_until(lambda: alive() is None)
    assert alive() is None
    assert len(collector.released) == collector.reclaims == 1  # type: ignore[attr-defined]


def churn() -> None:
    """Allocate enough containers for Python to collect the young and middle generations
    several times over (when it may)."""
    made = [[] for _ in range(50_000)]
    del made


def test_what_is_held_only_while_collections_are_deferred_is_never_frozen(
    collector: Collector,
) -> None:
    """A frame holds its objects for a moment: a collection that fell inside it froze
    them, and they died frozen. Deferred, the collection runs after and frees them."""
    with collections_deferred():
        held = Node()
        alive = weakref.ref(held)
        churn()
        del held
    churn()
    assert alive() is None
    held = Node()
    alive = weakref.ref(held)
    churn()  # (not deferred: frozen, as the test above shows)
    del held
    churn()
    assert alive() is not None


async def test_deferred_collections_resume_when_the_last_of_interleaved_blocks_ends() -> None:
    """A streamed update awaits inside its block while a frame runs its own."""
    both_open = asyncio.Event()
    states: list[bool] = []

    async def update() -> None:
        with collections_deferred():
            await both_open.wait()
        states.append(gc.isenabled())  # the frame's block is still open

    task = asyncio.get_running_loop().create_task(update())
    await asyncio.sleep(0)
    with collections_deferred():
        both_open.set()
        await task
    states.append(gc.isenabled())
    assert states == [False, True]
    gc.disable()
    try:  # off before: off after
        with collections_deferred():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_stop_gives_the_usual_collector_back(collector: Collector) -> None:
    collector.stop()
    assert gc.get_freeze_count() == 0
    node = Node()
    alive = weakref.ref(node)
    gc.collect()
    del node
    collect_until(lambda: alive() is None)
    assert alive() is None
    collector.start()
    assert not collector.started  # stopped for good: its app is gone


def test_after_the_app_the_exit_has_no_heap_left_to_walk(collector: Collector) -> None:
    """The app's heap, handed back when it stops, is frozen again as the process ends, so
    the interpreter's last collections do not walk it."""
    kept = [Node() for _ in range(1000)]
    collector.stop()
    assert gc.get_objects(generation=2) != []
    before_exit()
    try:
        assert gc.get_objects(generation=1) == gc.get_objects(generation=2) == []
    finally:
        gc.unfreeze()  # this process goes on: other tests need the usual collector
    del kept


def test_start_up_garbage_waits_for_the_next_reclaim() -> None:
    """Starting freezes the start-up heap at once; what of it is garbage (little) goes with
    the next reclaim the app needs, not with one of its own: a full collection of a heap
    holding the SDK and thousands of listed conversations would hold up the first keys."""
    garbage = [Node() for _ in range(100)]
    left = weakref.ref(garbage[0])
    collector = Collector()
    collector.start()
    try:
        del garbage
        assert gc.get_objects(generation=2) == []  # frozen, not walked by Python's collections
        collector.tick(idle=False)
        collector.tick(idle=True)
        collector.tick(idle=True)
        assert collector.reclaims == 0
        assert left() is not None
        collector.garbage_left()  # a conversation was left: its reclaim takes start-up's too
        collector.tick(idle=True)
        assert collector.reclaims == 1
        assert left() is None
    finally:
        collector.stop()


def test_what_start_up_adds_after_starting_is_not_taken_for_garbage() -> None:
    """The listing and the SDK's import go on after the collector starts; the heap they grow
    is measured from the first idle moment, not taken for a reason to walk all of it."""
    collector = Collector()
    collector.start()
    try:
        listing = blocks(0.5)
        collector.tick(idle=False)
        collector.tick(idle=True)
        collector.tick(idle=True)
        assert collector.reclaims == 0
        more = blocks(0.4)  # grown by a quarter since that idle moment, and it lasts
        collector.tick(idle=True)
        collector.tick(idle=True)
        assert collector.reclaims == 1
        del listing, more
    finally:
        collector.stop()


def test_a_heap_grown_for_a_moment_is_not_walked_for_it() -> None:
    """The index reads a batch of files in a thread, and the heap holds them for a moment:
    growth asks for a reclaim only when it is still there at the next tick."""
    collector = Collector()
    collector.start()
    try:
        collector.tick(idle=True)  # start-up's growth is counted from here
        batch = blocks(0.5)
        collector.tick(idle=True)
        del batch
        collector.tick(idle=True)
        assert collector.reclaims == 0
        kept = blocks(0.5)
        collector.tick(idle=True)
        assert collector.reclaims == 0
        collector.tick(idle=True)
        assert collector.reclaims == 1
        del kept
    finally:
        collector.stop()


def test_garbage_is_reclaimed_when_idle_or_at_the_next_burst(collector: Collector) -> None:
    before = collector.reclaims
    collector.garbage_left()
    collector.tick(idle=False)  # someone is typing, or a reply streams
    assert collector.reclaims == before
    collector.tick(idle=True)
    assert collector.reclaims == before + 1
    collector.tick(idle=True)
    assert collector.reclaims == before + 1  # nothing more was dropped
    collector.garbage_left()
    collector.garbage_left()  # a second drop before an idle moment: both go now
    assert collector.reclaims == before + 2
    collector.tick(idle=True)
    assert collector.reclaims == before + 2  # nothing was left waiting
    collector.garbage_left()
    assert collector.reclaims == before + 2  # quick switching reclaims every other drop
    collector.garbage_left()
    assert collector.reclaims == before + 3


def test_what_a_reply_left_frozen_is_reclaimed_at_the_next_idle_moment(
    collector: Collector,
) -> None:
    before = collector.reclaims
    start = collector.heap()
    garbage = [Node() for _ in range(1000)]
    grown = blocks(0.6)  # the reply's frames grew the heap by more than half
    gc.collect(1)  # alive during a collection: frozen, as a streaming frame's objects are
    del garbage
    collector.reply_ended(start)
    collector.tick(idle=False)  # the person types
    collector.reply_ended(start)  # another reply ends meanwhile: still not now
    assert collector.reclaims == before
    collector.tick(idle=True)
    assert collector.reclaims == before + 1
    collector.tick(idle=True)
    assert collector.reclaims == before + 1
    del grown


def test_a_reply_that_grew_the_heap_little_leaves_no_reclaim(collector: Collector) -> None:
    """A short reply in a long conversation: a reclaim would walk the whole heap to free
    a few per cent of it."""
    before = collector.reclaims
    collector.tick(idle=True)  # start-up is over
    start = collector.heap()
    grown = blocks(0.2)  # its widgets, and a little garbage
    collector.reply_ended(start)
    collector.tick(idle=True)
    collector.tick(idle=True)
    assert collector.reclaims == before
    del grown


def blocks(share: float) -> list[object]:
    """Grow the heap by `share` of its size (in allocated blocks, as the collector counts)."""
    return [object() for _ in range(int(share * sys.getallocatedblocks()))]


def test_a_heap_grown_fourfold_is_reclaimed_even_when_busy(collector: Collector) -> None:
    before = collector.reclaims
    kept = blocks(4)
    collector.tick(idle=False)
    assert collector.reclaims == before + 1
    del kept


def test_a_heap_grown_by_a_little_waits_for_an_idle_moment(collector: Collector) -> None:
    garbage = [Node() for _ in range(gc.get_freeze_count())]
    gc.collect()
    del garbage
    collector.reclaim()  # found plenty: a quarter's growth asks for the next one
    before = collector.reclaims
    kept = blocks(0.1)
    collector.tick(idle=True)
    assert collector.reclaims == before  # grown, but by less than a quarter
    kept += blocks(0.3)
    collector.tick(idle=False)
    assert collector.reclaims == before  # busy
    collector.tick(idle=True)
    assert collector.reclaims == before + 1
    del kept


def test_reclaims_that_find_little_make_idle_ones_rarer(collector: Collector) -> None:
    """A long reply grows the heap with live objects: reclaiming for that alone would walk
    the whole heap for nothing on every idle moment."""
    collector.reclaim()  # finds (almost) nothing
    live = blocks(0.5)  # the heap grew by half, less than what is asked now
    before = collector.reclaims
    collector.tick(idle=True)
    assert collector.reclaims == before
    garbage = [Node() for _ in range(gc.get_freeze_count())]
    gc.collect()  # frozen, then dropped: only a reclaim finds them
    del garbage
    collector.reclaim()  # found plenty: idle growth of a quarter is enough again
    more = blocks(0.5)
    collector.tick(idle=True)
    collector.tick(idle=True)  # still grown: it lasts
    assert collector.reclaims == before + 2
    del live, more


def two_conversations(store, *first_lines: str) -> tuple[Conversation, Conversation]:
    first = Conversation(title="First", model="m")
    first.messages = [Message(role="user", content=line) for line in first_lines]
    second = Conversation(title="Second", model="m")
    second.messages = [Message(role="user", content="other")]
    store.save(first)
    store.save(second)
    return first, second


async def test_views_of_a_conversation_left_are_freed(make_app, store) -> None:
    """Switching away frees the old views, frozen or not, and Textual's style caches."""
    from textual._styles_cache import StylesCache

    first, second = two_conversations(store, *(f"line {n}" for n in range(6)))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert await screen.open_conversation(first.id)
        await wait_for(pilot, lambda: app.collector.started, "the collector to start")
        views = [weakref.ref(view) for view in screen.query(MessageView)]
        assert len(views) == 6
        gc.collect()  # the views are frozen while alive
        reclaims = app.collector.reclaims
        assert await screen.open_conversation(second.id)
        # The app ticks the collector every second; with no input it is idle. A reclaim the
        # heap's growth asks for may come first, before the old views are dropped: wait for
        # the one that frees them (never coming, the test fails).
        await wait_for(
            pilot,
            lambda: app.collector.reclaims > reclaims and all(view() is None for view in views),
            "a reclaim that frees the old views",
        )
        assert StylesCache.get_inner_outer.cache_info().currsize < 100


def calls_of(collector: Collector, name: str) -> list[int]:
    """A list that grows by one at each call of the collector's method `name`."""
    calls: list[int] = []
    method = getattr(collector, name)

    def count_and_pass_on(*args: object) -> None:
        calls.append(1)
        method(*args)

    setattr(collector, name, count_and_pass_on)
    return calls


async def test_choosing_a_conversation_in_the_sidebar_tells_the_collector(make_app, store) -> None:
    """The app learns that the log dropped its views however the switch was asked for (a
    sidebar choice runs in the screen's own handler), and two drops reclaim at once. The
    empty log the app starts with drops nothing: leaving it asks for no reclaim."""
    from chat_tui.tui.widgets.conversation_list import ConversationList

    two_conversations(store, "first question")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.collector.started, "the collector to start")
        drops = calls_of(app.collector, "garbage_left")
        reclaims = app.collector.reclaims
        listing = app.query_one(ConversationList)
        await wait_for(pilot, lambda: len(listing.rows) == 2, "two rows")
        for title in ("First", "Second", "First"):
            row = [r.title for r in listing.rows].index(title)
            listing.focus()  # (opening one gives the focus to the input box)
            await pilot.pause()
            await pilot.press("home", *["down"] * row, "enter")
            await wait_for(pilot, lambda title=title: app.screen.conversation.title == title, title)
        await wait_for(pilot, lambda: len(drops) == 2, "two drops")
        assert app.collector.reclaims > reclaims
        await settle(pilot)
        assert len(drops) == 2


async def test_switching_back_reuses_a_conversation_unless_its_file_changed(
    make_app, store, data_dir
) -> None:
    from chat_tui.store import ConversationStore

    first, second = two_conversations(store, "first question")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert await screen.open_conversation(first.id)
        shown = screen.conversation
        assert await screen.open_conversation(second.id)
        assert await screen.open_conversation(first.id)
        assert screen.conversation is shown  # not read and parsed again
        assert await screen.open_conversation(second.id)
        # Another process adds a message to the first one meanwhile.
        elsewhere = ConversationStore(data_dir)
        changed = elsewhere.load(first.id)
        changed.messages.append(Message(role="assistant", content="written elsewhere"))
        elsewhere.save(changed)
        elsewhere.close()
        assert await screen.open_conversation(first.id)
        await pilot.pause()
        assert screen.conversation is not shown
        texts = [view.message.content for view in screen.query(MessageView)]
        assert texts == ["first question", "written elsewhere"]


async def test_the_footer_keys_a_focus_change_replaces_are_freed(make_app) -> None:
    from textual.widgets._footer import FooterKey

    from chat_tui.tui.widgets.conversation_list import ConversationList

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        screen.query_one(ConversationList).focus()
        # The footer recomposes after a focus change: wait until it shows keys again.
        await wait_for(pilot, lambda: bool(screen.query(FooterKey)), "the footer keys")
        keys = [weakref.ref(key) for key in screen.query(FooterKey)]

        def replaced(old: list[weakref.ref[FooterKey]]) -> bool:
            shown = list(screen.query(FooterKey))
            return bool(shown) and all(key() not in shown for key in old)

        for _ in range(3):
            for widget in (screen.prompt, screen.query_one(ConversationList)):
                shown = [weakref.ref(key) for key in screen.query(FooterKey)]
                widget.focus()
                await wait_for(pilot, lambda shown=shown: replaced(shown), "the footer's new keys")

        await wait_for(pilot, lambda: replaced(keys), "the first keys to be replaced")
        app.collector.reclaim()
        collect_until(lambda: all(key() is None for key in keys))
        assert [key for key in keys if key() is not None] == []


async def test_a_streamed_reply_hands_the_collector_the_heap_it_started_with(
    make_app, fake: FakeOpenAI
) -> None:
    """What the reply's frames left frozen is reclaimed once it is done if the reply grew
    the heap by a quarter (the unit tests above): the heap is measured as it starts."""
    fake.add_text("A reply. " * 40, chunk=9)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.collector.started, "the collector to start")
        heaps: list[int] = []
        reply_ended = app.collector.reply_ended

        def note_and_pass_on(heap_at_start: int) -> None:
            heaps.append(heap_at_start)
            reply_ended(heap_at_start)

        app.collector.reply_ended = note_and_pass_on  # type: ignore[method-assign]
        before = app.collector.heap()
        await send(pilot, "Tell me")
        await settle(pilot)
        assert app.screen.conversation.messages[-1].status == "complete"
        assert len(heaps) == 1
        assert 0.8 * before < heaps[0] < 1.2 * before


async def test_a_reply_is_busy_until_it_is_drawn_and_handed_to_the_collector(
    make_app, fake: FakeOpenAI
) -> None:
    """Between its last chunk and its final render a reply is not streaming, and an idle
    moment found there reclaimed the whole heap in the middle of drawing it, and again once
    it ended."""
    fake.add_text("A reply. " * 40, chunk=9)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.collector.started, "the collector to start")
        screen = app.screen
        busy_when_ended: list[bool] = []
        reply_ended = app.collector.reply_ended

        def note_and_pass_on(heap_at_start: int) -> None:
            busy_when_ended.append(screen.replying)
            reply_ended(heap_at_start)

        app.collector.reply_ended = note_and_pass_on  # type: ignore[method-assign]
        await send(pilot, "Tell me")
        await settle(pilot)
        assert screen.conversation.messages[-1].status == "complete"
        assert busy_when_ended == [True]
        assert not screen.replying


def remembered(probe: Region, other: Region) -> bool:
    """Whether Textual's geometry cache still held `probe ∩ other` (asking puts it back)."""
    hits = Region.intersection.cache_info().hits
    probe.intersection(other)
    return Region.intersection.cache_info().hits > hits


PROBE, OTHER = Region(10_007, 0, 3, 1), Region(10_008, 0, 3, 1)
"""Regions no screen of the tests uses."""


async def test_the_geometry_caches_a_streaming_reply_fills_are_emptied_as_it_goes(
    make_app, fake: FakeOpenAI
) -> None:
    """Each frame of a reply at a reading rate scrolls to a new position, and Textual's
    geometry memoises each (thousands of entries per cache); while a reply streams they are
    emptied every second, and again once it is over and the app is idle."""
    fake.add(deltas=["Thinking", " about it"], fault="hang", fault_after=1)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "Question")
        await wait_for(pilot, lambda: app.screen.replying, "the reply to stream")
        PROBE.intersection(OTHER)
        await wait_for(
            pilot,
            lambda: not app.screen.replying or not remembered(PROBE, OTHER),
            "a release while streaming, or the reply to end",
        )
        assert app.screen.replying  # (the server hangs until the client's timeout)
        await pilot.press("escape")
        await settle(pilot)
        assert not app.screen.replying
        PROBE.intersection(OTHER)
        await wait_for(pilot, lambda: not remembered(PROBE, OTHER), "a release once idle")


async def test_a_reply_at_a_reading_rate_leaves_no_frame_frozen(make_app, fake: FakeOpenAI) -> None:
    """Each layout pass builds the screen's map in Textual's recursive closures, which keep
    it until the cyclic collector frees them, and each streamed update parses blocks it
    then throws away: what a collection froze meanwhile stayed, every region of the screen
    and every block, until a reclaim of the whole heap."""
    part = "## Part {n}\n\n- **{n}**: an item\n- another\n\n| a | b |\n|---|---|\n| {n} | x |\n\n"
    text = "".join(part.format(n=n) for n in range(8))
    fake.add(deltas=[text[i : i + 12] for i in range(0, len(text), 12)], rate=100)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.collector.started, "the collector to start")
        await settle(pilot)
        app.collector.reclaim()  # nothing left from before the reply
        # ... and none after it, which would free what its frames left frozen.
        app.collector.reclaim = lambda: None  # type: ignore[method-assign]
        thresholds = gc.get_threshold()
        gc.set_threshold(50, 1, 1)  # a collection inside nearly every layout pass
        try:
            await send(pilot, "Tell me")
            await settle(pilot)
        finally:
            gc.set_threshold(*thresholds)
        assert app.screen.conversation.messages[-1].status == "complete"
        gc.unfreeze()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            gc.collect()
            maps = [o for o in gc.garbage if type(o).__name__ == "MapGeometry"]
            blocks = [o for o in gc.garbage if isinstance(o, MarkdownBlock)]
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.collect()
            gc.freeze()
        assert maps == []
        assert blocks == []
