"""One message in the log: a header line (who, when, status, versions) and its body.

Assistant replies render as Markdown, split into chunks at block boundaries so long replies
stay linear to render; user messages are shown exactly as typed. All text passes through
`display_text` and reaches widgets as `Content`, never as markup.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content, Span
from textual.style import Style
from textual.widgets import Collapsible, Markdown, Static

from chat_tui.mdsplit import CHUNK_CHARS, next_boundary, split_markdown
from chat_tui.messages import CodeCopyRequested, CopyRequested, LinkActivated, VariantStep
from chat_tui.models import Message
from chat_tui.safetext import display_text, markdown_text, shortened
from chat_tui.timefmt import clock_time
from chat_tui.widgets.code_block import CodeFence, ReplyMarkdown, original_code

FRAME_SECONDS = 1 / 30
"""Streamed text reaches the screen at most this often; tokens in between are batched."""

_STATUS_LABELS = {
    "streaming": "● writing…",
    "stopped": "■ stopped",
    "failed": "✗ failed",
    "interrupted": "⚠ interrupted",
}


def header_content(message: Message, *, user_label: str = "You") -> Content:
    """`You · 14:03` or `gpt-4o · 14:03 · ■ stopped · ‹ 2/3 ›` (versions are clickable)."""
    who = user_label if message.role == "user" else display_text(message.model or "assistant")
    parts: list[Content] = [Content.styled(who, "bold")]
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


class MarkdownBody(Vertical):
    """A reply's Markdown, as one or more chunk widgets."""

    def chunks(self) -> list[Markdown]:
        return list(self.query_children(Markdown))

    async def show(self, text: str) -> None:
        """Render `text` in full, re-using chunk widgets whose text is unchanged."""
        pieces = split_markdown(text)
        existing = self.chunks()
        for position, piece in enumerate(pieces):
            if position < len(existing):
                widget = existing[position]
                last = position == len(pieces) - 1
                if widget.source != piece or last:
                    await widget.update(piece)
            else:
                await self.mount(_markdown(piece))
        for widget in existing[len(pieces) :]:
            await widget.remove()

    def start_stream(self, text_so_far: str) -> ReplyStream:
        return ReplyStream(self, text_so_far)


def _markdown(text: str) -> Markdown:
    return ReplyMarkdown(text, open_links=False)


class ReplyStream:
    """Feeds a growing reply into a `MarkdownBody` at most once per frame.

    Text that arrives while a render is running is batched into the next one, so the cost
    follows the frame rate, not the token rate. When the current chunk passes `CHUNK_CHARS`
    and a block boundary arrives, a new chunk widget starts, keeping each append small.
    """

    def __init__(self, body: MarkdownBody, text_so_far: str) -> None:
        self._body = body
        self._text = text_so_far
        chunks = split_markdown(text_so_far)
        self._chunk_start = len(text_so_far) - len(chunks[-1])
        self._shown = len(text_so_far)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = asyncio.get_running_loop().create_task(self._pump())

    def write(self, fragment: str) -> None:
        if fragment:
            self._text += markdown_text(fragment)
            self._wake.set()

    async def _pump(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._render_pending()
            await asyncio.sleep(FRAME_SECONDS)

    async def _render_pending(self) -> None:
        text = self._text
        while True:
            chunks = self._body.chunks()
            if not chunks:
                await self._body.mount(_markdown(""))
                continue
            current = chunks[-1]
            cut = next_boundary(text, self._chunk_start, self._chunk_start + CHUNK_CHARS)
            if cut is None:
                if len(text) > self._shown:
                    await current.append(text[self._shown :])
                    self._shown = len(text)
                return
            if cut >= self._shown:
                if cut > self._shown:
                    await current.append(text[self._shown : cut])
            else:
                await current.update(text[self._chunk_start : cut])
            await self._body.mount(_markdown(""))
            self._chunk_start = self._shown = cut

    async def finish(self, final_text: str) -> None:
        """Stop streaming and render the final text in full (fixes any half-open block)."""
        await self.stop()
        await self._body.show(markdown_text(final_text))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


class MessageView(Vertical, can_focus=True):
    """A message: header, optional thinking, body, and the error of a failed reply."""

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

    def compose(self) -> ComposeResult:
        yield MessageHeader(self)
        if self.message.role == "assistant":
            with Collapsible(title="Thinking", collapsed=True, classes="reasoning"):
                yield Static(classes="reasoning-text", markup=False)
            yield MarkdownBody(classes="body")
        else:
            yield Static(classes="body user-text", markup=False)
        yield Static(classes="message-error", markup=False)

    async def on_mount(self) -> None:
        self.refresh_meta()
        if self.message.role == "assistant":
            text = self.message.content
            if text:
                await self.query_one(MarkdownBody).show(markdown_text(text))
        else:
            self.query_one(".user-text", Static).update(Content(shortened(self.message.content)))

    def refresh_meta(self) -> None:
        """Redraw header, thinking and error from `message` (status, usage, versions)."""
        message = self.message
        self.query_one(MessageHeader).update(header_content(message))
        error = self.query_one(".message-error", Static)
        error.update(Content(display_text(message.error or "")))
        error.display = bool(message.error)
        self.set_class(message.status == "streaming", "-streaming")
        self.set_class(message.status in ("failed", "interrupted"), "-problem")
        if message.role == "assistant":
            self.show_reasoning(message.reasoning or "")

    def show_reasoning(self, text: str) -> None:
        reasoning = self.query_one(".reasoning", Collapsible)
        reasoning.display = bool(text)
        if text:
            self.query_one(".reasoning-text", Static).update(Content(display_text(text)))

    def start_stream(self) -> ReplyStream:
        return self.query_one(MarkdownBody).start_stream(markdown_text(self.message.content))

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
        if isinstance(event.block, CodeFence):
            code = original_code(event.block, list(self.query(CodeFence)), self.message.content)
            self.post_message(CopyRequested(code, "the code block"))

    def action_move(self, step: int) -> None:
        """Focus the next or previous message or code block in the log (reading order)."""
        log = self.parent
        if log is None:
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
