"""A reply streamed in pieces ends up exactly as the same text rendered at once.

Streaming takes shortcuts (a paragraph that keeps its height is repainted, not laid out; a
list changes only its last items): the widgets they leave must be those one
`Markdown.update` of the whole text makes, hostile text included.
"""

from __future__ import annotations

import random

import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Markdown, Static

from chat_tui.mdparse import reply_parser, top_level_blocks
from chat_tui.mdsplit import CHUNK_CHARS, split_markdown
from chat_tui.safetext import markdown_text
from chat_tui.tui.widgets.code_block import ReplyMarkdown
from chat_tui.tui.widgets.message_view import (
    ChunkFrame,
    MarkdownBody,
    MessageView,
    ReplyRenderer,
)
from tests.support.loopback import FakeOpenAI
from tests.support.pilot import SIZE, eventually, send, settle

LISTS = (
    "Intro paragraph with *emphasis* and `code`.\n\n"
    "- **first**: an item that is long enough to wrap over more than one line of the "
    "screen, so its height changes as it grows\n"
    "- second item\n"
    "  - nested one\n"
    "  - nested two\n"
    "- third item\n\n"
    + "\n".join(f"{n}. numbered item {n}" for n in range(1, 13))
    + "\n\nAfter the lists.\n"
)
HOSTILE = (
    "# Title \x1b[31mred\x1b[0m and [link](javascript:alert(1))\n\n"
    + "> " * 30
    + "quotedeep\n\n"
    + "\n".join("  " * level + f"- item{level}" for level in range(25))
    + "\n\n| a | b |\n|---|---|\n"
    + "\n".join(f"| {n} | [b]{n}[/b] |" for n in range(20))
    + "\n\n[bold]not markup[/bold] \x07 \x9b\n\n"
    + "```python\nprint('unclosed fence')\n- not a list\n"
)
CASES = {"lists": LISTS, "hostile": HOSTILE}


def tree(markdown: Widget, *, sizes: bool = True) -> list[tuple[str, ...]]:
    """Every widget under `markdown`, in order: its kind, classes, what it shows and (when
    `sizes`) its size."""
    rows = []
    for widget in markdown.walk_children(with_self=False):
        shown = ""
        if isinstance(widget, Static):
            shown = str(widget.render())
        elif hasattr(widget, "symbol"):
            shown = str(widget.symbol)
        depth = len(list(widget.ancestors)) - len(list(markdown.ancestors))
        kind = type(widget).__name__
        size = str(widget.size) if sizes else ""
        rows.append((str(depth), kind, " ".join(sorted(widget.classes)), shown, size))
    return rows


class TwoMarkdowns(App[None]):
    def compose(self) -> ComposeResult:
        yield ReplyMarkdown(open_links=False)
        yield ReplyMarkdown(open_links=False)
        yield Markdown(parser_factory=reply_parser)  # Textual's own, for the lists' shape


async def test_a_streamed_ordered_list_widens_its_numbers_when_it_reaches_ten() -> None:
    """ " 9." is narrower than "10.": the numbers already shown are set again and measured
    again, as in a list shown whole (a streamed list kept the narrow width now and then)."""
    nine = "".join(f"{n}. item {n}\n" for n in range(1, 10))
    app = TwoMarkdowns()
    async with app.run_test(size=SIZE) as pilot:
        streamed, whole = app.query(ReplyMarkdown)
        await streamed.append(nine)
        await eventually(pilot, lambda: len(streamed.query("MarkdownBullet")) == 9)
        await pilot.pause()
        await streamed.append("10. item 10\n")
        await whole.update(nine + "10. item 10\n")
        await eventually(pilot, lambda: tree(streamed) == tree(whole))
        assert tree(streamed) == tree(whole)
        assert {bullet.size.width for bullet in streamed.query("MarkdownBullet")} == {5}


@pytest.mark.parametrize(("name", "piece"), [("lists", 3), ("lists", 40), ("hostile", 40)])
async def test_markdown_appended_in_pieces_is_the_markdown_updated_at_once(
    name: str, piece: int
) -> None:
    text = markdown_text(CASES[name])
    app = TwoMarkdowns()
    async with app.run_test(size=SIZE) as pilot:
        streamed, whole = app.query(ReplyMarkdown)
        textuals = app.query_one("Markdown:last-of-type", Markdown)
        for start in range(0, len(text), piece):
            await streamed.append(text[start : start + piece])
            if start // piece % 5 == 0:
                await pilot.pause()  # a frame now and then: mounted blocks are updated
        await whole.update(text)
        await textuals.update(text)
        # Laid out by the next screen update or so (later on a loaded machine).
        await eventually(
            pilot,
            lambda: (
                tree(streamed) == tree(whole) and (name != "lists" or whole.size == textuals.size)
            ),
        )
        assert tree(streamed) == tree(whole)
        if name == "lists":  # (no code blocks, which have a header line of their own)
            assert whole.size == textuals.size


SHOWN_THEN_STREAMED = {
    "paragraph over lines": ("A paragraph over\ntwo lines", " that goes on."),
    "list": ("1. first item\n\n2. second it", "em, which grows.\n"),
    "list whose first item changes": ("1. [first][ref]\n2. second\n", "\n[ref]: https://e.com\n"),
}


@pytest.mark.parametrize("case", SHOWN_THEN_STREAMED)
async def test_text_streamed_into_markdown_shown_whole_reads_as_the_whole_text(case: str) -> None:
    """A chunk is shown whole and then streamed into: a new chunk, a reply shown again while
    it streams. Textual parsed such an append from the last line: a paragraph lost its
    first lines, and a list its first items (the app crashed making that list)."""
    shown, more = SHOWN_THEN_STREAMED[case]
    app = TwoMarkdowns()
    async with app.run_test(size=SIZE) as pilot:
        streamed, whole = app.query(ReplyMarkdown)
        await streamed.update(shown)
        await streamed.append(more)
        await whole.update(shown + more)
        await eventually(pilot, lambda: tree(streamed) == tree(whole))
        assert tree(streamed) == tree(whole)


class BodyBesideWhole(App[None]):
    """A reply's body, and beside it the same text shown whole (to compare)."""

    def __init__(self) -> None:
        super().__init__()
        self.whole = ReplyMarkdown(open_links=False)

    def compose(self) -> ComposeResult:
        yield MarkdownBody()
        yield self.whole


def chunk_trees(body: MarkdownBody) -> list[list[tuple[str, ...]]]:
    return [tree(markdown, sizes=False) for markdown in body.chunks()]


async def whole_trees(whole: ReplyMarkdown, pieces: list[str]) -> list[list[tuple[str, ...]]]:
    """What each piece shows rendered whole, one after the other in `whole`."""
    trees = []
    for piece in pieces:
        await whole.update(piece)
        trees.append(tree(whole, sizes=False))
    return trees


def paragraphs(count: int) -> str:
    return "".join(f"Paragraph {n}: " + "words " * 30 + "\n\n" for n in range(count))


async def stream_drawn(pilot: Pilot[None], body: MarkdownBody, text: str) -> ReplyRenderer:
    """A renderer that has drawn `text` into `body`, in one chunk, and painted it."""
    renderer = body.start_rendering("")
    renderer.write(text)
    await eventually(pilot, lambda: [m.source for m in body.chunks()] == [text])
    await pilot.pause()
    return renderer


async def test_a_streamed_reply_is_shown_as_the_same_text_opened_again(
    fake: FakeOpenAI, make_app
) -> None:
    text = (LISTS + "\n") * 4 + HOSTILE
    fake.add_text(text, chunk=5)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "Lists please")
        await settle(pilot)
        (view,) = [v for v in app.screen.query(MessageView) if v.message.content == text]
        # (Compared without sizes: the fresh one is not in the log, and is wider.)
        streamed = [tree(frame.markdown, sizes=False) for frame in view.query(ChunkFrame)]
        fresh = ReplyMarkdown(open_links=False)
        await app.screen.mount(fresh)
        assert streamed == await whole_trees(fresh, split_markdown(markdown_text(text)))


async def test_a_code_blocks_language_follows_its_first_line_as_it_grows() -> None:
    app = TwoMarkdowns()
    async with app.run_test(size=SIZE) as pilot:
        streamed = app.query(ReplyMarkdown).first()
        labels: list[str] = []
        for piece in ("```py", "th", "on\nprint(1)\n", "print(2)\n"):
            await streamed.append(piece)
            await pilot.pause()
            labels.append(str(streamed.query_one(".code-language", Static).render()))
        assert labels == ["py", "pyth", "python", "python"]


async def test_a_streamed_table_keeps_the_cells_it_has_shown() -> None:
    """A new row adds its cells and a growing last row changes its cells' text: the cells
    already on screen stay, where making the table again mounted every cell each frame."""
    rows = "".join(f"| {n} | [link{n}](https://example.com/{n}) |\n" for n in range(1, 9))
    text = "| n | where |\n|---|---|\n" + rows + "\nAfter the table.\n"
    app = TwoMarkdowns()
    async with app.run_test(size=SIZE) as pilot:
        streamed, whole = app.query(ReplyMarkdown)
        head = text.index("| 3 |") + len("| 3 | [li")  # the third row half there
        await streamed.append(text[:head])
        await eventually(pilot, lambda: len(streamed.query("MarkdownTableCellContents")) == 8)
        first_cells = list(streamed.query("MarkdownTableCellContents"))
        for start in range(head, len(text), 7):
            await streamed.append(text[start : start + 7])
            await pilot.pause()
        await whole.update(text)
        await eventually(pilot, lambda: tree(streamed) == tree(whole))
        assert tree(streamed) == tree(whole)
        cells = list(streamed.query("MarkdownTableCellContents"))
        assert cells[: len(first_cells)] == first_cells  # the same widgets, updated in place
        assert "link3" in str(cells[7].render())


async def test_a_streamed_reply_starts_its_next_chunk_without_drawing_the_last_again() -> None:
    """The chunk boundary is seen at the first character after it, before any of the next
    chunk's text has been drawn into the chunk before: that chunk's blocks stay."""

    text = paragraphs(14)
    text += "The last, long enough to end past the chunk's size: " + "words " * 70 + "\n\n"
    assert len(text) > CHUNK_CHARS and split_markdown(text) == [text]
    app = BodyBesideWhole()
    async with app.run_test(size=SIZE) as pilot:
        body = app.query_one(MarkdownBody)
        renderer = await stream_drawn(pilot, body, text)
        first_block = body.chunks()[0].query("MarkdownBlock").first()
        shown = text
        for piece in ("N", "ext", " paragraph,", " the first of its chunk.\n"):
            renderer.write(piece)
            shown += piece
            await eventually(pilot, lambda s=shown: "".join(m.source for m in body.chunks()) == s)
        sources = [text, "Next paragraph, the first of its chunk.\n"]
        await eventually(pilot, lambda: [m.source for m in body.chunks()] == sources)
        assert [m.source for m in body.chunks()] == sources
        assert body.chunks()[0].query("MarkdownBlock").first() is first_block
        await renderer.stop()


async def test_a_chunk_started_with_a_list_keeps_its_items_as_the_list_grows() -> None:
    """Text that arrives in one go can start a chunk with a list's first items and part of
    the next: the items stay while the stream adds to the last (the app crashed here)."""
    text = paragraphs(14) + "The last: " + "words " * 70 + "\n\n"
    start = "1. first item\n\n2. second item\n\n3. third it"
    app = BodyBesideWhole()
    async with app.run_test(size=SIZE) as pilot:
        body = app.query_one(MarkdownBody)
        renderer = await stream_drawn(pilot, body, text)
        renderer.write(start)
        await eventually(pilot, lambda: [m.source for m in body.chunks()] == [text, start])
        renderer.write("em, which grows.\n")
        sources = [text, start + "em, which grows.\n"]
        await eventually(pilot, lambda: [m.source for m in body.chunks()] == sources)
        expected = await whole_trees(app.whole, sources)
        await eventually(pilot, lambda: chunk_trees(body) == expected)
        assert chunk_trees(body) == expected
        await renderer.stop()


def random_reply(seed: int) -> str:
    """Paragraphs over lines, loose and tight numbered lists, nested bullets, tables, code
    and quotes, in a random order and of random lengths."""
    rnd = random.Random(seed)
    inline = ["alpha", "beta", "*em*", "`code`", "[l](https://e.com)", "中文", "🎉"]

    def words(most: int) -> str:
        return " ".join(rnd.choice(inline) for _ in range(rnd.randint(1, most)))

    def block() -> str:
        lines = rnd.randint(1, 6)
        match rnd.choice("pnbtcq"):
            case "p":
                return "\n".join(words(30) for _ in range(lines))
            case "n":
                first, gap = rnd.randint(0, 120), rnd.choice(["\n", "\n\n"])
                return gap.join(f"{first + n}. {words(60)}" for n in range(lines))
            case "b":
                return "\n".join("  " * rnd.randint(0, 2) + f"- {words(20)}" for _ in range(lines))
            case "t":
                rows = "\n".join(f"| {words(2)} | {words(3)} |" for _ in range(lines))
                return "| a | b |\n|---|---|\n" + rows
            case "c":
                return "```python\n" + "\n".join(words(5) for _ in range(lines)) + "\n```"
            case _:
                return "\n".join("> " + words(8) for _ in range(lines))

    return "\n\n".join(block() for _ in range(rnd.randint(10, 40))) + "\n"


@pytest.mark.parametrize("seed", range(4))
async def test_a_reply_streamed_from_any_point_in_pieces_of_any_size_shows_its_text(
    seed: int,
) -> None:
    """Shown whole up to a point (a reply shown again while it streams), then streamed in
    pieces of random sizes with frames between some: each chunk shows what its text shown
    whole does, while the stream is open and once it has ended."""
    rnd = random.Random(seed)
    text = markdown_text(random_reply(seed))
    app = BodyBesideWhole()
    async with app.run_test(size=SIZE) as pilot:
        body = app.query_one(MarkdownBody)
        shown = rnd.randint(0, len(text) // 2)
        await body.show(text[:shown])
        renderer = body.start_rendering(text[:shown])
        while shown < len(text):
            size = rnd.choice([1, 3, 10, 50, 200, 800, 3000])
            renderer.write(text[shown : shown + size])
            shown += size
            if rnd.random() < 0.3:
                await pilot.pause()
        await eventually(pilot, lambda: "".join(m.source for m in body.chunks()) == text)
        expected = await whole_trees(app.whole, split_markdown(text))
        await eventually(pilot, lambda: chunk_trees(body) == expected)
        assert chunk_trees(body) == expected
        await renderer.finish(text)
        await eventually(pilot, lambda: chunk_trees(body) == expected)
        assert chunk_trees(body) == expected


async def test_a_finished_reply_keeps_the_blocks_its_stream_drew() -> None:
    """The end of a reply draws what is left of it as the stream would have: the blocks
    already shown stay (rendering the chunk again in full made its last frame the
    longest), and they are what the text shown whole makes."""
    text = (
        "Some words before the table.\n\n| step | cost |\n|---|---:|\n"
        + "".join(f"| {n} | {n * 7} |\n" for n in range(1, 7))
        + "\nThat is all.\n"
    )
    head = text.index("| 5 |")
    app = BodyBesideWhole()
    async with app.run_test(size=SIZE) as pilot:
        body = app.query_one(MarkdownBody)
        renderer = await stream_drawn(pilot, body, text[:head])
        blocks = list(body.chunks()[0].query("MarkdownBlock"))
        renderer.write(text[head:])  # the last tokens, not yet drawn when the reply ends
        await renderer.finish(text)
        assert [m.source for m in body.chunks()] == [text]
        assert list(body.chunks()[0].query("MarkdownBlock"))[: len(blocks)] == blocks
        expected = await whole_trees(app.whole, [text])
        await eventually(pilot, lambda: chunk_trees(body) == expected)
        assert "That is all." in str(body.chunks()[0].query("MarkdownBlock").last().render())


@pytest.mark.parametrize("where", ["last chunk", "earlier chunk"])
async def test_a_link_defined_after_its_use_is_a_link_once_its_chunk_is_complete(
    where: str,
) -> None:
    """A reference link reads as a link only once its definition has arrived, and a stream
    draws from the start of its last block on: a chunk whose blocks read otherwise whole is
    shown whole."""
    use = "See [the docs][d] for more.\n\nA paragraph in between.\n\n"
    definition = "[d]: https://example.com/docs\n"
    text = (
        use + definition + "\n" + paragraphs(16) if where == "earlier chunk" else use + definition
    )
    if where == "earlier chunk":
        text += "Next paragraph, in a chunk of its own.\n"
    pieces = split_markdown(text)
    assert len(pieces) == (2 if where == "earlier chunk" else 1)
    app = BodyBesideWhole()
    async with app.run_test(size=SIZE) as pilot:
        body = app.query_one(MarkdownBody)
        renderer = await stream_drawn(pilot, body, use)
        assert "[the docs][d]" in str(body.chunks()[0].query("MarkdownBlock").first().render())
        renderer.write(text[len(use) :])
        if where == "earlier chunk":  # the chunk is complete while the reply still streams
            await eventually(pilot, lambda: [m.source for m in body.chunks()] == pieces)
        else:
            await renderer.finish(text)
        expected = await whole_trees(app.whole, pieces)
        await eventually(pilot, lambda: chunk_trees(body) == expected)
        first = str(body.chunks()[0].query("MarkdownBlock").first().render())
        assert first == "See the docs for more."
        await renderer.stop()


def test_text_parsed_from_the_start_of_any_of_its_blocks_reads_as_it_does_whole() -> None:
    """What a stream relies on to draw a reply in pieces: the blocks from a block's start
    on are those the whole text has there; only a link reference definition, which
    changes how text before it reads, opts out."""
    text = markdown_text((LISTS + "\n") * 2 + HOSTILE)
    whole = top_level_blocks(text)
    assert whole is not None and len(whole) > 10
    lines = text.splitlines(keepends=True)
    for _, (start, _end) in whole:
        rest = top_level_blocks("".join(lines[start:]))
        shifted = [(kind, (a - start, b - start)) for kind, (a, b) in whole if a >= start]
        assert rest == shifted
    assert top_level_blocks("# Title\n\nWords.\n") == [
        ("heading_open", (0, 1)),
        ("paragraph_open", (2, 3)),
    ]
    assert top_level_blocks("See [docs][d].\n\n[d]: https://example.com\n") is None
