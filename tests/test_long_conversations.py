"""Long conversations open with their newest messages and mount older ones as the reader
scrolls up, all the way to the first; long replies fold the chunks far off screen."""

from __future__ import annotations

import pytest
from textual.widget import Widget

from chat_tui.mdsplit import CHUNK_CHARS, cuts_after, split_markdown
from chat_tui.models import Conversation, Message
from chat_tui.safetext import markdown_text
from chat_tui.store import ConversationStore
from chat_tui.tui.widgets.message_log import FIRST_PAGE, MessageLog
from chat_tui.tui.widgets.message_view import (
    FRAME_SECONDS,
    PACE,
    TYPING_FRAME_SECONDS,
    ChunkFrame,
    MessageView,
    frame_interval,
)
from tests.support.loopback import FakeOpenAI
from tests.support.pilot import SIZE, screen_text, send, settle, visible_text, wait_for

LENGTH = 2000


def long_conversation(store: ConversationStore) -> Conversation:
    conversation = Conversation(title="A very long chat", model="gpt-test")
    conversation.messages = [
        Message(
            role="user" if n % 2 == 0 else "assistant",
            content=f"message number {n}" + ("\n\nwith a second paragraph" if n % 2 else ""),
            model=None if n % 2 == 0 else "gpt-test",
        )
        for n in range(LENGTH)
    ]
    store.save(conversation)
    return conversation


def shown_text(view: MessageView) -> str:
    return "\n".join(str(w.render()) for w in view.query("Static, MarkdownBlock"))


async def scroll_to_top_of_window(pilot, log: MessageLog) -> None:
    """What a mouse wheel flung upwards does: the log's top, which pages older messages in.

    Returns once the page is in and the reader's place restored (both happen after a
    refresh).
    """
    first = log.views[0].index
    log.scroll_to(y=0, animate=False)
    await pilot.pause()
    if first > 0:
        await wait_for(
            pilot, lambda: log.views[0].index < first and log.scroll_y > 0, "older messages"
        )


def assert_window(log: MessageLog) -> list[int]:
    """The mounted views are consecutive messages, in order, up to the newest."""
    indexes = [view.index for view in log.views]
    assert indexes == list(range(indexes[0], len(log._messages)))
    return indexes


def long_conversation_of(store: ConversationStore, length: int) -> Conversation:
    conversation = Conversation(title="A very long chat", model="gpt-test")
    conversation.messages = [
        Message(role="user" if n % 2 == 0 else "assistant", content=f"message number {n}")
        for n in range(length)
    ]
    store.save(conversation)
    return conversation


async def test_scrolling_up_reaches_the_first_message_and_every_one_on_the_way(
    store: ConversationStore, make_app
) -> None:
    length = 150
    conversation = long_conversation_of(store, length)
    app = make_app(open_conversation=conversation.id)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        log = app.query_one(MessageLog)
        seen = set(assert_window(log))
        for _ in range(length):
            await scroll_to_top_of_window(pilot, log)
            seen.update(assert_window(log))
            if log.all_mounted and log.scroll_y == 0:
                break
        assert seen == set(range(length))  # every message was shown on the way up
        first = log.views[0]
        assert first.index == 0 and "message number 0" in shown_text(first)
        assert first.region.y <= log.region.y + 2 < first.region.bottom  # on screen, at the top


async def test_a_2000_message_conversation_opens_with_its_newest_and_pages_older_in(
    store: ConversationStore, make_app
) -> None:
    conversation = long_conversation(store)
    app = make_app(open_conversation=conversation.id)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        log = app.query_one(MessageLog)
        assert assert_window(log) == list(range(LENGTH - FIRST_PAGE, LENGTH))
        assert "message number 1999" in shown_text(log.views[-1])
        for _ in range(5):  # older messages come in, in order, as the reader scrolls up
            above = log.views[0].index
            await scroll_to_top_of_window(pilot, log)
            assert assert_window(log)[0] < above
            assert log.scroll_y > 0  # the reader's place is kept: they see what they saw


async def test_chunks_of_a_long_reply_fold_off_screen_and_unfold_when_scrolled_to(
    store: ConversationStore, make_app
) -> None:
    paragraphs = [f"Paragraph {n}: " + "words " * 60 for n in range(400)]
    conversation = Conversation(title="One long reply", model="gpt-test")
    conversation.messages = [
        Message(role="user", content="Write a lot"),
        Message(role="assistant", content="\n\n".join(paragraphs), model="gpt-test"),
    ]
    store.save(conversation)
    app = make_app(open_conversation=conversation.id)
    async with app.run_test(size=SIZE) as pilot:
        log = app.query_one(MessageLog)

        def chunk_frames() -> list[ChunkFrame]:
            return list(app.query(ChunkFrame))

        # The top is far away and folds; the bottom is on screen.
        await wait_for(
            pilot, lambda: len(chunk_frames()) > 5 and chunk_frames()[0].folded, "a folded chunk"
        )
        frames = chunk_frames()
        assert not frames[-1].folded
        height = log.virtual_size.height
        log.scroll_home(animate=False)
        await wait_for(
            pilot, lambda: not frames[0].folded and frames[-1].folded, "the chunks to swap folds"
        )
        assert log.virtual_size.height == height  # folding never moves anything
        assert "Paragraph 0:" in "".join(str(b.render()) for b in frames[0].query("MarkdownBlock"))
        # The bottom chunk was painted; folded, its blocks keep none of its lines.
        assert not any(lines_kept(block) for block in frames[-1].query("MarkdownBlock"))


def lines_kept(widget: Widget) -> int:
    """The rendered lines `widget` holds on to (Textual keeps them until a refresh)."""
    return len(widget._render_cache.lines)


async def test_once_a_reply_has_ended_and_the_app_is_idle_its_lines_are_forgotten_unpainted(
    fake: FakeOpenAI, make_app
) -> None:
    """Every line drawn while a reply streamed was kept, with the pieces it was cut and
    cropped into on every frame it was in: the reply's view lets them go once nothing else
    is going on, without a repaint of the screen (one long frame, where a key would wait),
    and renders the same lines when next painted."""
    text = "\n\n".join(f"Paragraph {n}: " + "words " * 18 for n in range(40))
    deltas = [text[i : i + 40] for i in range(0, len(text), 40)]
    fake.add(deltas=deltas, rate=400, fault="hang", fault_after=len(deltas))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "Write a lot")
        log = app.query_one(MessageLog)
        await wait_for(pilot, lambda: log.max_scroll_y > 0, "the reply to fill the log")
        await pilot.press("escape")  # the server goes quiet: the reply ends when stopped
        await settle(pilot)
        view = log.views[-1]
        assert lines_kept(view)
        shown = screen_text(app)
        await wait_for(
            pilot,
            lambda: not lines_kept(view),
            "the app to be idle and forget the reply's lines",
        )
        await pilot.pause(0.3)  # the frames a repaint would have taken
        assert not lines_kept(view)  # the reply was not painted again
        assert screen_text(app) == shown  # painted now, the same lines come back
        assert lines_kept(view)


async def test_a_reply_arriving_faster_than_it_renders_splits_as_it_will_reopen(
    fake: FakeOpenAI, make_app
) -> None:
    """Many chunks completed within one frame mount together, each with its own text."""
    paragraphs = [f"Paragraph {n}: " + "words " * 40 for n in range(120)]
    text = "\n\n".join(paragraphs) + "\n\n"
    # All of it in a few big pieces, then the server goes quiet mid-reply.
    fake.add(deltas=[text[:9000], text[9000:], "Never sent."], fault="hang", fault_after=2)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "Write a lot")
        expected = split_markdown(markdown_text(text))
        assert len(expected) > 5

        def sources() -> list[str]:
            return [frame.markdown.source for frame in app.query(ChunkFrame)]

        await wait_for(pilot, lambda: sources() == expected, "every chunk shown")
        await pilot.press("escape")
        await settle(pilot)
        reply = app.screen.conversation.messages[-1]
        assert reply.status == "stopped"
        assert sources() == split_markdown(markdown_text(reply.content))


def test_frames_are_rarer_while_the_person_types() -> None:
    assert frame_interval(0.01, typed_ago=10.0) == FRAME_SECONDS
    assert frame_interval(0.01, typed_ago=0.1) == TYPING_FRAME_SECONDS > FRAME_SECONDS
    assert frame_interval(0.5, typed_ago=10.0) == 0.5 * PACE  # a costly frame paces itself


async def test_typing_while_a_reply_streams_tells_its_renderer(fake: FakeOpenAI, make_app) -> None:
    fake.add(deltas=["Thinking about it", " for a while"], fault="hang", fault_after=1)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "Question")
        screen = app.screen
        await wait_for(pilot, lambda: "Thinking about it" in visible_text(app), "the reply")
        stream = screen._replies[screen.conversation.id].renderer
        assert stream is not None
        # (Emptying the input after Enter counted as typing for a moment.)
        await wait_for(pilot, lambda: not stream.person_is_typing, "typing to count as over")
        await pilot.press(*"next question")
        assert stream.person_is_typing
        await wait_for(pilot, lambda: not stream.person_is_typing, "typing to count as over")
        await pilot.press("escape")
        await settle(pilot)


async def test_while_the_person_types_the_reply_is_drawn_just_after_a_key(
    fake: FakeOpenAI, make_app, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key that arrives during a frame waits for it: while the person types, frames follow
    their keys' echoes instead of coming at any moment. (Typing counts for a minute here,
    so nothing but a key brings the next frame.)"""
    from chat_tui.tui.widgets import message_view

    monkeypatch.setattr(message_view, "TYPING_SECONDS", 60.0)
    fake.add(deltas=["First words. ", "more "], endless=True, rate=40)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "Question")
        await wait_for(pilot, lambda: "First words" in visible_text(app), "the reply")

        def shown() -> int:
            return sum(len(frame.markdown.source) for frame in app.query(ChunkFrame))

        async def after_chunks(count: int) -> None:
            sent = len(fake.sent_at) + count
            await wait_for(pilot, lambda: len(fake.sent_at) >= sent, f"{count} more chunks")

        await pilot.press("x")
        still = False
        for _ in range(10):  # the key's own frame may still come: until the text stays
            before = shown()
            await after_chunks(30)  # three quarters of a second of text
            if shown() == before:
                still = True
                break
        assert still, "the reply kept being drawn with no key pressed"
        await pilot.press("y")
        await wait_for(pilot, lambda: shown() > before, "the frame after the key")
        await pilot.press("escape")
        await settle(pilot)


def counted_reflows(app) -> list[tuple[object, ...]]:
    """A list that grows by one at each layout pass of the app's screen."""
    compositor = app.screen._compositor
    passes: list[tuple[object, ...]] = []
    reflow = compositor.reflow

    def counted_reflow(*args: object) -> object:
        passes.append(args)
        return reflow(*args)

    compositor.reflow = counted_reflow
    return passes


def first_words(store: ConversationStore) -> Conversation:
    conversation = Conversation(title="Growing", model="gpt-test")
    conversation.messages = [
        Message(role="user", content="Write"),
        Message(role="assistant", content="First words.", model="gpt-test"),
    ]
    store.save(conversation)
    return conversation


@pytest.mark.parametrize(
    ("more", "layouts"),
    [
        # Each frame of a streamed reply costs one layout pass: a second one, which Textual
        # asks for when sizes change, held the event loop while a key waited.
        (" and more words" * 40, 1),
        # Most frames at a reading rate add a few words to the last line of a paragraph:
        # a repaint of the paragraph, not a layout of the whole screen.
        (" And a few more.", 0),
    ],
)
async def test_a_growing_reply_is_laid_out_once_per_change_of_height(
    store: ConversationStore, make_app, more: str, layouts: int
) -> None:
    app = make_app(open_conversation=first_words(store).id)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: bool(app.query(ChunkFrame)), "a chunk")
        await settle(pilot)
        frame = app.query_one(ChunkFrame)
        height = frame.size.height
        passes = counted_reflows(app)
        await frame.markdown.append(more)
        await settle(pilot)
        assert ("First words." + more)[-40:] in visible_text(app).replace("\n", " ")
        assert (frame.size.height > height) == bool(layouts)
        assert len(passes) == layouts


async def test_a_sidebar_refresh_that_changes_nothing_lays_nothing_out(
    store: ConversationStore, make_app
) -> None:
    """The directory watcher refreshes the sidebar whenever another window saves: when the
    list and the line under the search box stay as they were, the screen is not laid out
    again (the paragraph test above met one such pass when the first look came late)."""
    app = make_app(open_conversation=first_words(store).id)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: bool(app.query(ChunkFrame)), "a chunk")
        await settle(pilot)
        passes = counted_reflows(app)
        app.screen.refresh_sidebar()
        await settle(pilot)
        assert passes == []


async def test_replying_in_a_long_conversation_does_not_spell_it_out(
    store: ConversationStore, fake: FakeOpenAI, make_app
) -> None:
    """Textual names a worker after the repr of its arguments unless it is given a
    description: for a reply that was the whole conversation, 50 ms on the event loop."""
    conversation = long_conversation(store)
    fake.add(deltas=["Working on it"], fault="hang", fault_after=1)
    app = make_app(open_conversation=conversation.id)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "One more question")
        await wait_for(pilot, lambda: "Working on it" in visible_text(app), "the reply")
        descriptions = [worker.description for worker in app.workers]
        assert descriptions
        assert max(len(description) for description in descriptions) < 200
        await pilot.press("escape")
        await settle(pilot)


def test_a_chunk_boundary_is_known_at_the_first_character_after_it() -> None:
    """So a streamed reply starts its next chunk before drawing any of it into the last."""
    text = "word " * (CHUNK_CHARS // 5) + "\n\n"
    assert cuts_after(text) == []  # a blank line may still grow into anything
    assert cuts_after(text + " ") == []  # an indented line belongs to the block before
    assert cuts_after(text + "N") == [len(text)]
    assert split_markdown(text + "Next line\n") == [text, "Next line\n"]
