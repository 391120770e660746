"""Code blocks in replies: each shows its language and a "copy" label, and can take focus.

`ReplyMarkdown` is Textual's `Markdown` with its fences replaced by `CodeFence`. A fence asks
to be copied (c or Enter while focused, or a click on "copy") by posting
`CodeCopyRequested`; the message view that holds it answers with the code as the model wrote
it, because the fence itself only has the display-sanitised text.
"""

from __future__ import annotations

from contextlib import suppress
from typing import ClassVar

from textual import events
from textual.app import ComposeResult
from textual.await_complete import AwaitComplete
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.css.query import NoMatches
from textual.widgets import Markdown, Static
from textual.widgets.markdown import MarkdownBlock

from chat_tui.clipboard import code_blocks
from chat_tui.mdparse import reply_parser, top_level_blocks
from chat_tui.safetext import one_line
from chat_tui.tui.messages import CodeCopyRequested
from chat_tui.tui.textual_compat import (
    BulletListGrowingInPlace,
    GrowingParagraph,
    MarkdownFenceWithUpdates,
    OrderedListGrowingInPlace,
    TableGrowingInPlace,
    append_from_last_block,
)


class CopyLabel(Static):
    """The clickable "copy" at the top right of a code block."""

    def __init__(self) -> None:
        super().__init__(Content("copy"), classes="code-copy", markup=False)
        self.tooltip = "Copy this code block"

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.query_ancestor(CodeFence).action_copy()


class CodeFence(MarkdownFenceWithUpdates, can_focus=True):
    """A fenced or indented code block with a header: language on the left, "copy" on the right."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "c,enter",
            "copy",
            "Copy code",
            id="code.copy",
            tooltip="Copy this code block, exactly as the model wrote it.",
        ),
    ]

    def compose(self) -> ComposeResult:
        with Horizontal(classes="code-header"):
            yield Static(self._language(), classes="code-language", markup=False)
            yield CopyLabel()
        yield from super().compose()

    def _language(self) -> Content:
        return Content(one_line(self.lexer or "", 40))

    def block_updated(self) -> None:
        # While a reply streams, the fence's first line ("```pyth") may still be growing;
        # an update asks for a layout of the screen, so only when the name did change.
        with suppress(NoMatches):
            label, language = self.query_one(".code-language", Static), self._language()
            if label.content != language:
                label.update(language)

    def action_copy(self) -> None:
        self.post_message(CodeCopyRequested(self))


class ReplyMarkdown(Markdown):
    """Markdown whose code blocks are `CodeFence`s, whose paragraphs and lists take streamed
    updates cheaply (see `textual_compat`), and whose parser shows text nested past its
    depth limit as plain text instead of dropping it (see `chat_tui.mdparse`)."""

    BLOCKS: dict[str, type[MarkdownBlock]] = {
        **Markdown.BLOCKS,
        "paragraph_open": GrowingParagraph,
        "bullet_list_open": BulletListGrowingInPlace,
        "ordered_list_open": OrderedListGrowingInPlace,
        "table_open": TableGrowingInPlace,
        "fence": CodeFence,
        "code_block": CodeFence,
    }

    def __init__(self, markdown: str | None = None, *, open_links: bool = True) -> None:
        super().__init__(markdown, open_links=open_links, parser_factory=reply_parser)

    def update(self, markdown: str) -> AwaitComplete:
        # A stream appends to a chunk that was first shown whole (a new chunk, a reply shown
        # again while it streams): see `append_from_last_block`.
        updating = super().update(markdown)

        async def update_then_append_from_last_block() -> None:
            await updating
            append_from_last_block(self)

        return AwaitComplete(update_then_append_from_last_block())

    def shows_one_parse(self) -> bool:
        """Whether the blocks shown are those one parse of the whole source makes, also
        when a stream drew them piece by piece (see `top_level_blocks`)."""
        shown = [(block.name, block.source_range) for block in self.query_children(MarkdownBlock)]
        return shown == top_level_blocks(self.source)


def original_code(fence: CodeFence, shown: list[CodeFence], source: str) -> str:
    """The code of `fence` taken from `source`, the original text its message was shown from.

    `shown` is every fence of the message in order. If the two disagree about how many code
    blocks there are, the fence's own (display) text is the best there is.
    """
    originals = code_blocks(source)
    if len(originals) == len(shown) and fence in shown:
        return originals[shown.index(fence)]
    return fence.code
