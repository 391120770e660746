"""The scrolling log of the open conversation.

It follows new text only while the reader is at the bottom (Textual's anchor). Long
conversations mount their newest messages first and the older ones as the reader scrolls up,
so opening a conversation costs the same whatever its length. A tool's result is shown under
the call in the reply that made it, so the `tool` message carrying it gets no view of its own
(one that answers no call of the reply before it is shown as it is).
"""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from chat_tui.models import Message, Summary
from chat_tui.safetext import display_text
from chat_tui.tui.messages import ContentGrew, ViewsReplaced
from chat_tui.tui.widgets.message_view import MessageView

FIRST_PAGE = 10
"""Messages mounted when a conversation opens: a screenful or two of the newest."""
PAGE = 10
"""Older messages mounted per step as the reader scrolls up."""
CONTEXT_MARK = "── earlier messages are not sent to the model (they did not fit its context) ──"
SUMMARY_NOTE = (
    "Summary of the messages above, sent to the model in their place "
    "(palette: conversation: edit summary):"
)


class MessageLog(VerticalScroll, can_focus=True):
    """Message views of one conversation, oldest at the top."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._messages: list[Message] = []
        self._first_mounted = 0
        """Index of the oldest message that has a view."""
        self._loading_older = False
        self._refold_pending = False
        self._marks: tuple[str | None, Summary | None] = (None, None)
        """Where the last request began and the summary (see `mark_context`), placed again
        when older views mount."""

    @property
    def views(self) -> list[MessageView]:
        return list(self.query_children(MessageView))

    def view_for(self, index: int) -> MessageView | None:
        for view in self.query_children(MessageView):
            if view.index == index:
                return view
        return None

    async def show(self, messages: list[Message], placeholder: str = "") -> None:
        """Replace the log with `messages` (only the newest `FIRST_PAGE` mount now)."""
        self._messages = messages
        self._first_mounted = max(0, len(messages) - FIRST_PAGE)
        dropped = bool(self.query_children(MessageView))
        with self.app.batch_update():
            await self.remove_children()
            if not messages and placeholder:
                await self.mount(Static(placeholder, classes="empty-log", markup=False))
            views = [
                MessageView(message, index)
                for index, message in enumerate(messages)
                if index >= self._first_mounted and not answers_a_call(messages, index)
            ]
            if views:
                await self.mount_all(views)
        self.anchor()
        self._refold_soon()
        if dropped:  # an empty log left nothing for the collector to reclaim
            # Sent by the log itself: Textual stops a message at the pump that was running
            # when it was made, and `show` runs in the screen's handlers, so it never
            # reached the app.
            self.post_message(ViewsReplaced().set_sender(self))

    async def append(self, message: Message, index: int) -> MessageView | None:
        """Add a view for a message just added to the conversation (none for a tool result
        shown under its call)."""
        if message.role == "tool":
            known = index < len(self._messages) and self._messages[index] is message
            if answers_a_call(self._messages, index) if known else message.tool_call_id:
                return None
        for placeholder in self.query_children(".empty-log"):
            await placeholder.remove()
        view = MessageView(message, index)
        await self.mount(view)
        if not self.is_anchored:
            self.anchor()
        return view

    async def mark_context(self, context_start: str | None, summary: Summary | None) -> None:
        """Mark where the last request began (above the message `context_start`), and show
        the summary sent in place of earlier messages (under the last one it covers)."""
        self._marks = (context_start, summary)
        for mark in self.query_children(".context-mark, .summary-note"):
            await mark.remove()
        for view in self.views:
            if view.message.id == context_start:
                await self.mount(Static(CONTEXT_MARK, classes="context-mark"), before=view)
            if summary is not None and view.message.id == summary.covers:
                note = Content(f"{SUMMARY_NOTE}\n{display_text(summary.text)}")
                await self.mount(Static(note, classes="summary-note"), after=view)

    async def truncate(self, index: int) -> None:
        """Remove the views of messages at `index` and after (the path is being replaced)."""
        for view in self.views:
            if view.index >= index:
                await view.remove()

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        self._refold_soon()
        if new < 2 and self._first_mounted > 0 and not self._loading_older:
            self._loading_older = True
            self.call_after_refresh(self._mount_older)

    # -- folding what is far off screen ----------------------------------------------------

    def _refold_soon(self) -> None:
        if not self._refold_pending:
            self._refold_pending = True
            self.call_after_refresh(self._refold)

    def _refold(self) -> None:
        """Fold reply chunks more than a screen away from the visible part of the log."""
        self._refold_pending = False
        if not self.is_attached:
            return
        region = self.region
        top, bottom = region.y - region.height, region.bottom + region.height
        for view in self.query_children(MessageView):
            view.fold_outside(top, bottom)

    def on_content_grew(self, event: ContentGrew) -> None:
        event.stop()
        self._refold_soon()

    def on_resize(self) -> None:
        self._refold_soon()

    async def _mount_older(self) -> None:
        """Mount the previous page above the first view, keeping the reader's place."""
        try:
            start, views = self._first_mounted, list[MessageView]()
            while start > 0 and not views:  # a page of tool results alone shows nothing
                end, start = start, max(0, start - PAGE)
                views = [
                    MessageView(self._messages[i], i)
                    for i in range(start, end)
                    if not answers_a_call(self._messages, i)
                ]
            first = self.children[0] if self.children else None
            before_height = self.virtual_size.height
            if views:
                await self.mount_all(views, before=first)
            self._first_mounted = start
            if self._marks != (None, None):
                await self.mark_context(*self._marks)
            self.call_after_refresh(self._keep_place, before_height)
        finally:
            self._loading_older = False

    def _keep_place(self, before_height: int) -> None:
        grown = self.virtual_size.height - before_height
        if grown > 0:
            self.scroll_to(y=self.scroll_y + grown, animate=False)

    @property
    def all_mounted(self) -> bool:
        return self._first_mounted == 0


def answers_a_call(messages: list[Message], index: int) -> bool:
    """Whether the message at `index` is the result of a call made by the reply before it
    (only tool messages lie between the two)."""
    if messages[index].role != "tool":
        return False
    call_id = messages[index].tool_call_id
    for earlier in range(index - 1, -1, -1):
        message = messages[earlier]
        if message.role == "assistant":
            return any(call.id == call_id for call in message.tool_calls)
        if message.role != "tool":
            return False
    return False
