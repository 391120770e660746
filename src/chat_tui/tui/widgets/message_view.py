"""One message in the log: a header line (who, when, status, versions) and its body.

Assistant replies render as Markdown, split into chunks at block boundaries so long replies
stay linear to render, with the tool calls they made under them; user messages are shown
exactly as typed. All text passes through `display_text` and reaches widgets as `Content`,
never as markup.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from itertools import pairwise
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content, Span
from textual.style import Style
from textual.widget import MountError, Widget
from textual.widgets import Collapsible, Static

from chat_tui.collector import collections_deferred
from chat_tui.mdsplit import cuts_after, split_markdown
from chat_tui.models import Message
from chat_tui.safetext import display_text, markdown_text, shortened
from chat_tui.timefmt import clock_time
from chat_tui.tui.messages import (
    CodeCopyRequested,
    ContentGrew,
    CopyRequested,
    LinkActivated,
    VariantStep,
)
from chat_tui.tui.textual_compat import forget_painted_lines
from chat_tui.tui.widgets.attachment_chips import AttachmentChips
from chat_tui.tui.widgets.tool_call import ToolCallView

if TYPE_CHECKING:
    from textual.widgets import Markdown

    from chat_tui.tui.widgets.code_block import ReplyMarkdown

FRAME_SECONDS = 0.1
"""Streamed text reaches the screen at most this often; tokens in between are batched."""
PACE = 1.0
"""After each frame the stream waits `PACE` times what the frame cost (at least a frame).

Every layout pass visits every widget on the screen, so a frame costs more as a reply grows.
Pacing keeps drawing to at most half of the event loop's time whatever the size: the rest
goes to reading tokens and to the keyboard, and the total cost stays linear.
"""
TYPING_FRAME_SECONDS = 0.3
"""... and this often while the person types: a key that arrives during a frame waits for
it (30-50 ms), so fewer frames while typing keep the echo quick."""
TYPING_SECONDS = 0.5
"""How long after a key the person counts as typing; while they do, a frame also waits (up
to this long) for their next key's echo to be drawn, and follows it (see `_pace`)."""
REFRESH_TIMEOUT = 1.0
STOP_TIMEOUT = 2.0


def frame_interval(cost: float, typed_ago: float) -> float:
    """Seconds from one frame of a streamed reply to the next (see the constants above)."""
    least = TYPING_FRAME_SECONDS if typed_ago < TYPING_SECONDS else FRAME_SECONDS
    return max(least, cost * PACE)


_STATUS_LABELS = {
    "streaming": "● writing…",
    "stopped": "■ stopped",
    "failed": "✗ failed",
    "interrupted": "⚠ interrupted",
}


def header_content(message: Message, *, user_label: str = "You") -> Content:
    """`You · 14:03` or `gpt-4o · 14:03 · ■ stopped · ‹ 2/3 ›` (versions are clickable);
    `gpt-4o · answered by llama-3-8b · 14:03` when the server named another model."""
    if message.role == "user":
        who = user_label
    elif message.role == "tool":
        who = "Tool result"
    else:
        who = display_text(message.model or "assistant")
    parts: list[Content] = [Content.styled(who, "bold")]
    if message.served_model:  # the server answered with another model than the one asked
        parts.append(Content.styled(f" · answered by {display_text(message.served_model)}", "dim"))
    when = clock_time(message.created_at)
    if when:
        parts.append(Content.styled(f" · {when}", "dim"))
    label = _STATUS_LABELS.get(message.status)
    if label:
        parts.append(Content(" · "))
        parts.append(Content.styled(label, f"$text-{_status_colour(message.status)}"))
    if message.variant_count > 1:
        parts.append(Content(" · "))
        parts.append(_versions(message))
    return Content("").join(parts)


def _status_colour(status: str) -> str:
    return {"streaming": "accent", "failed": "error", "interrupted": "warning"}.get(
        status, "warning"
    )


def _versions(message: Message) -> Content:
    """‹ n/m › with the arrows as click targets on the header widget."""
    previous = Style.from_meta({"@click": "step(-1)"})
    following = Style.from_meta({"@click": "step(1)"})
    text = f"‹ {message.variant + 1}/{message.variant_count} ›"
    spans = [Span(0, 1, previous), Span(len(text) - 1, len(text), following)]
    return Content(text, spans).stylize("$text-accent")


class MessageHeader(Static):
    """The header line; its version arrows post `VariantStep` to the screen."""

    def __init__(self, view: MessageView) -> None:
        super().__init__(classes="message-header", markup=False)
        self._view = view

    def action_step(self, step: int) -> None:
        self.post_message(VariantStep(self._view.index, step))


def preload_markdown() -> None:
    """Import Textual's Markdown widget and its parser (call it from a thread).

    It costs about 80 ms, which start-up does not need to pay: nothing is rendered as
    Markdown until a reply or a saved conversation is shown.
    """
    import chat_tui.tui.widgets.code_block  # noqa: F401 (Textual's Markdown and more)


class ChunkFrame(Widget):
    """One chunk of a reply's Markdown; far off screen it is folded to an empty box.

    Every layout pass visits every widget on the screen, and a chunk is dozens of Markdown
    blocks. Folded, the Markdown is hidden (`display: none`, so layout skips its blocks) and
    the frame keeps its height, so the log scrolls exactly as before. Unfolding costs a
    layout pass; nothing is re-parsed or re-mounted.
    """

    DEFAULT_CSS = """
    ChunkFrame {
        width: 1fr;
        height: auto;
        layout: vertical;
    }
    ChunkFrame > .chunk-end {
        height: 0;
    }
    """

    def __init__(self, text: str) -> None:
        super().__init__()
        # Loaded on first use (see preload_markdown).
        from chat_tui.tui.widgets.code_block import ReplyMarkdown

        self.markdown = ReplyMarkdown(text, open_links=False)
        self.folded_width: int | None = None
        """Width the frame had when it was folded (None while unfolded)."""

    def compose(self) -> ComposeResult:
        yield self.markdown
        # A child of fixed height makes Textual measure the frame at its own width only,
        # so a chunk that did not change keeps its cached layout while the reply grows.
        # (With only auto-height children it is re-measured whenever an ancestor's
        # height changes: every block of every chunk, on every frame.)
        yield Widget(classes="chunk-end")

    @property
    def folded(self) -> bool:
        return self.folded_width is not None

    def fold(self) -> None:
        height = self.outer_size.height
        if self.folded or not height or not self.markdown.source:
            return
        self.styles.height = height
        self.markdown.display = False
        self.folded_width = self.size.width
        forget_painted_lines(self.markdown)  # hidden until unfolded, which paints it again

    def unfold(self) -> None:
        if not self.folded:
            return
        self.folded_width = None
        self.markdown.display = True
        self.styles.height = "auto"


class MarkdownBody(Vertical):
    """A reply's Markdown, as one or more chunk frames (see `ChunkFrame`)."""

    streaming = False
    """Set while a `ReplyRenderer` writes into the last chunk (which then never folds)."""

    def frames(self) -> list[ChunkFrame]:
        return list(self.query_children(ChunkFrame))

    def chunks(self) -> list[ReplyMarkdown]:
        return [frame.markdown for frame in self.frames()]

    async def show(self, text: str) -> None:
        """Render `text` in full, re-using chunk widgets whose text is unchanged.

        The log may take this body away meanwhile (it re-shows a conversation another
        process changed): a body no longer on screen has nothing to render.
        """
        with contextlib.suppress(MountError):
            await self._show(text)

    async def _show(self, text: str) -> None:
        pieces = split_markdown(text)
        existing = self.frames()
        # A chunk still being mounted cannot be updated yet: replace it.
        for frame in [frame for frame in existing if not frame.markdown.is_attached]:
            await frame.remove()
        existing = [frame for frame in existing if frame.markdown.is_attached]
        last = len(pieces) - 1
        for position, (frame, piece) in enumerate(zip(existing, pieces, strict=False)):
            # The last chunk may have been drawn by a stream (see `ReplyRenderer.finish`).
            if frame.markdown.source != piece or (
                position == last and not frame.markdown.shows_one_parse()
            ):
                frame.unfold()
                await frame.markdown.update(piece)
        for frame in existing[len(pieces) :]:
            await frame.remove()
        if len(pieces) > len(existing):
            # All at once: one layout pass for the lot, not one per chunk.
            await self.mount_all([ChunkFrame(piece) for piece in pieces[len(existing) :]])

    def fold_outside(self, top: int, bottom: int) -> None:
        """Fold the chunks lying wholly outside screen rows `top`..`bottom`, unfold the rest.

        A frame folded at another width no longer knows its height: it unfolds.
        """
        frames = self.frames()
        if self.streaming and frames:
            frames[-1].unfold()
            frames = frames[:-1]
        width = self.size.width
        for frame in frames:
            region = frame.region
            outside = region.bottom < top or region.y > bottom
            if outside and (not frame.folded or frame.folded_width == width):
                frame.fold()
            else:
                frame.unfold()

    def start_rendering(self, text_so_far: str) -> ReplyRenderer:
        return ReplyRenderer(self, text_so_far)


class ReplyRenderer:
    """Feeds a growing reply into a `MarkdownBody` at most once per frame.

    Text that arrives while a render is running is batched into the next one, so the cost
    follows the frame rate, not the token rate. When the current chunk passes `CHUNK_CHARS`
    and a block boundary arrives, a new chunk widget starts, keeping each append small.
    """

    def __init__(self, body: MarkdownBody, text_so_far: str) -> None:
        self._body = body
        body.streaming = True
        self._text = text_so_far
        self._chunk_start = ([0, *cuts_after(text_so_far)])[-1]
        self._shown = len(text_so_far)
        self._typed_at = -TYPING_SECONDS
        self._key = asyncio.Event()
        self._wake = asyncio.Event()
        self._rendering = asyncio.Lock()
        """Held while a render mounts or updates widgets: stopping waits for it to end."""
        self._stopping = False
        self._task: asyncio.Task[None] | None = asyncio.get_running_loop().create_task(self._pump())

    def person_typed(self) -> None:
        """The person pressed a key: draw less often for a moment (see `frame_interval`), and
        just after their keys' echoes (see `_pace`)."""
        self._typed_at = time.monotonic()
        self._key.set()

    @property
    def person_is_typing(self) -> bool:
        return time.monotonic() - self._typed_at < TYPING_SECONDS

    def write(self, fragment: str) -> None:
        if fragment:
            self._text += markdown_text(fragment)
            self._wake.set()

    async def _pump(self) -> None:
        while True:
            await self._wake.wait()
            if self._stopping:
                return
            self._wake.clear()
            started = time.monotonic()
            await self._draw_pending()
            if not self._body.is_attached:
                return
            # The layout and paint the append caused happen on the screen's refresh. (Not
            # `asyncio.wait_for`: on Python 3.11 it drops a cancellation that lands just as
            # the refresh does, and the stream outlived `stop`.)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(REFRESH_TIMEOUT):
                    await self._body.wait_for_refresh()
            now = time.monotonic()
            await self._pace(frame_interval(now - started, now - self._typed_at))

    async def _pace(self, interval: float) -> None:
        """Wait `interval`; while the person types, then also for their next key's echo to be
        on screen. A key that arrives during a frame waits for it, and keys come a tenth of
        a second or more apart: a frame drawn just after an echo is done before the next
        key, where one drawn at any moment delays one key in several."""
        await asyncio.sleep(interval)
        if not self.person_is_typing:
            return
        self._key.clear()
        with contextlib.suppress(TimeoutError):  # no key for a while: they stopped typing
            async with asyncio.timeout(TYPING_SECONDS):
                await self._key.wait()
                if self._body.is_attached:  # (the log may have been re-shown meanwhile)
                    await self._body.wait_for_refresh()

    async def _draw_pending(self) -> None:
        """Draw the text not drawn yet, holding the lock `stop` waits on and Python's
        collections (see `collections_deferred`); nothing if the body was taken off the log
        meanwhile."""
        async with self._rendering:
            with contextlib.suppress(MountError), collections_deferred():
                await self._render_pending()

    async def _render_pending(self) -> None:
        text = self._text
        chunks = self._body.chunks()
        if not chunks:
            await self._body.mount(ChunkFrame(""))
            chunks = self._body.chunks()
        current = chunks[-1]
        cuts = cuts_after(text, self._chunk_start)
        if not cuts:
            if len(text) > self._shown:
                await current.append(text[self._shown :])
                self._shown = len(text)
            return
        first = cuts[0]
        if first < self._shown:
            await current.update(text[self._chunk_start : first])
        else:
            if first > self._shown:
                await current.append(text[self._shown : first])
            if not current.shows_one_parse():  # drawn in pieces, and read otherwise whole
                await current.update(current.source)
        # Every chunk completed since the last frame at once: one layout pass for the lot,
        # not one per chunk over all the chunks before it (text that arrives faster than
        # it renders made that quadratic).
        edges = [*cuts, len(text)]
        await self._body.mount_all([ChunkFrame(text[a:b]) for a, b in pairwise(edges)])
        self._chunk_start = cuts[-1]
        self._shown = len(text)
        # Earlier chunks may have scrolled far enough away to fold.
        self._body.post_message(ContentGrew())

    async def finish(self, final_text: str) -> None:
        """Stop streaming and show the final text: the rest of it drawn as the stream would
        have, and any chunk that does not show what one parse of its text makes (a link
        defined after its use) rendered in full. (Rendering the last chunk in full every
        time would make the reply's last frame its longest.)"""
        await self.stop()
        if not self._body.is_attached:  # the log has been re-shown meanwhile
            return
        final = markdown_text(final_text)
        if final.startswith(self._text[: self._shown]):
            self._text = final
            await self._draw_pending()
        if self._body.is_attached:
            await self._body.show(final)

    async def stop(self) -> None:
        """Stop drawing; returns within twice `STOP_TIMEOUT` whatever the pump is doing.

        The pump is cancelled and also told to end at its next turn, so a cancellation that
        goes missing cannot keep it (and whoever stops it) going for ever.
        """
        self._body.streaming = False
        self._stopping = True
        self._wake.set()
        task, self._task = self._task, None
        if task is None:
            return
        # Not in the middle of a render: a chunk cancelled half-mounted could not be
        # updated by `finish`. (A render that cannot end in time is cancelled anyway.)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(STOP_TIMEOUT), self._rendering:
                pass
        task.cancel()
        await asyncio.wait([task], timeout=STOP_TIMEOUT)


class MessageView(Vertical, can_focus=True):
    """A message: header, optional thinking, body, the tool calls of a reply, and the error
    of a failed reply."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "c",
            "copy",
            "Copy",
            id="message.copy",
            tooltip="Copy this message, exactly as written (Markdown included).",
        ),
        Binding(
            "up,k",
            "move(-1)",
            "Previous",
            id="message.previous",
            tooltip="Select the message or code block above.",
            show=False,
        ),
        Binding(
            "down,j",
            "move(1)",
            "Next",
            id="message.next",
            tooltip="Select the message or code block below (past the last: the input).",
            show=False,
        ),
    ]

    def __init__(self, message: Message, index: int) -> None:
        super().__init__(classes=f"message -{message.role}")
        self.message = message
        self.index = index
        """Position in the conversation's visible path."""
        self.asking: str | None = None
        """The id of the call the person is being asked about, if it is one of these."""
        self.live = False
        """A reply of this app streams into this message or settles its calls."""
        self._calls_pending = False
        # The parts are made here and kept, never looked up: the reply worker updates them
        # at any moment, also before they are mounted or while the log is taking this view
        # away (when a query finds nothing).
        self._header = MessageHeader(self)
        self._error = Static(classes="message-error", markup=False)
        self._reasoning_text = Static(classes="reasoning-text", markup=False)
        self._reasoning: Collapsible | None = None
        self._calls: Vertical | None = None
        """The tool calls of a reply, under its text."""
        self._body: MarkdownBody | Static
        if message.role == "assistant":
            self._reasoning = Collapsible(
                self._reasoning_text, title="Thinking", collapsed=True, classes="reasoning"
            )
            self._body = MarkdownBody(classes="body")
            self._calls = Vertical(classes="tool-calls")
        else:
            self._body = Static(classes="body user-text", markup=False)

    def compose(self) -> ComposeResult:
        yield self._header
        if self._reasoning is not None:
            yield self._reasoning
        yield self._body
        if self.message.attachments:
            yield AttachmentChips(self.message.attachments, removable=False)
        if self._calls is not None:
            yield self._calls
        yield self._error

    async def on_mount(self) -> None:
        self.refresh_meta()
        self.show_calls()
        text = self.message.content
        if isinstance(self._body, MarkdownBody):
            if text:
                await self._body.show(markdown_text(text))
        else:
            self._body.update(Content(shortened(text)))
            self._body.display = bool(text) or not self.message.attachments

    def refresh_meta(self) -> None:
        """Redraw header, thinking and error from `message` (status, usage, versions).

        Safe at any time: the view keeps its parts, mounted or not, being removed or gone.
        """
        message = self.message
        self._header.update(header_content(message))
        self._error.update(Content(display_text(message.error or "")))
        self._error.display = bool(message.error)
        self._set_own_class(message.status == "streaming", "-streaming")
        self._set_own_class(message.status in ("failed", "interrupted"), "-problem")
        if message.role == "assistant":
            self.show_reasoning(message.reasoning or "")

    def _set_own_class(self, add: bool, name: str) -> None:
        """Toggle a class that styles this view itself, without restyling its descendants.

        `set_class` re-applies the stylesheet to every descendant: for a long reply, hundreds
        of Markdown blocks and about a second of CPU when streaming ends. The view's classes
        only style the view (see app.tcss), so only the view is restyled.
        """
        if self.has_class(name) == add:
            return
        if add:
            self.add_class(name, update=False)
        else:
            self.remove_class(name, update=False)
        if self.is_attached:
            self.app.stylesheet.update_nodes([self], animate=True)

    def calls_changed(self) -> None:
        """A call grew or changed status: redraw the calls (and the header) soon, once for
        however many changes arrive meanwhile (arguments stream in many small pieces)."""
        if not self._calls_pending:
            self._calls_pending = True
            self.call_after_refresh(self.show_calls)

    def show_calls(self) -> None:
        """Show each call of the message as it is now, adding views for new ones."""
        self._calls_pending = False
        container = self._calls
        if container is None or not container.is_attached:
            return
        self.refresh_meta()
        views = list(container.query_children(ToolCallView))
        for view in views:
            view.asking, view.live = view.call.id == self.asking, self.live
            view.refresh_call()
        new = [ToolCallView(call) for call in self.message.tool_calls[len(views) :]]
        for view in new:
            view.asking, view.live = view.call.id == self.asking, self.live
        if new:
            container.mount_all(new)

    def show_reasoning(self, text: str) -> None:
        if self._reasoning is None:
            return
        self._reasoning.display = bool(text)
        if text:
            self._reasoning_text.update(Content(display_text(text)))

    def start_rendering(self) -> ReplyRenderer | None:
        """Stream into this view; None if it was already taken off the log (re-shown)."""
        if not self.is_attached or not isinstance(self._body, MarkdownBody):
            return None
        return self._body.start_rendering(markdown_text(self.message.content))

    def fold_outside(self, top: int, bottom: int) -> None:
        """Fold the body's chunks lying outside screen rows `top`..`bottom`."""
        if isinstance(self._body, MarkdownBody):
            self._body.fold_outside(top, bottom)

    def on_markdown_link_clicked(self, event: Markdown.LinkClicked) -> None:
        event.stop()
        self.post_message(LinkActivated(event.href))

    # -- copying and moving between messages -----------------------------------------------

    def action_copy(self) -> None:
        what = "your message" if self.message.role == "user" else "the reply"
        self.post_message(CopyRequested(self.message.content, what))

    @on(CodeCopyRequested)
    def _copy_code(self, event: CodeCopyRequested) -> None:
        event.stop()
        from chat_tui.tui.widgets.code_block import CodeFence, original_code

        if isinstance(event.block, CodeFence):
            code = original_code(event.block, list(self.query(CodeFence)), self.message.content)
            self.post_message(CopyRequested(code, "the code block"))

    def action_move(self, step: int) -> None:
        """Focus the next or previous message or code block in the log (reading order)."""
        log = self.parent
        if not isinstance(log, Widget):
            return
        stops = [w for w in log.query("MessageView, CodeFence") if w.focusable]
        focused = self.screen.focused
        position = stops.index(focused) if focused in stops else stops.index(self)
        target = position + step
        if target >= len(stops):
            self.screen.focus_next()  # past the last message: back to the input
            return
        if target < 0:
            log.scroll_home(animate=False)  # the log mounts older messages at the top
            return
        widget = stops[target]
        widget.focus(scroll_visible=False)
        tall = widget.outer_size.height > log.scrollable_content_region.height
        log.scroll_to_widget(widget, animate=False, top=tall)
