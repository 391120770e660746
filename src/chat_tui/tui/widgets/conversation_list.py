"""A virtual list of conversations: it draws only the rows on screen, so 10,000 cost nothing.

Each conversation is two lines: the title, then when it was last active (or the matching
snippet while searching). The open conversation has a bar at its left edge, one that is
streaming a reply has a dot.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from chat_tui.safetext import one_line
from chat_tui.timefmt import relative
from chat_tui.tui.messages import ConversationChosen, DeleteRequested

ROW_HEIGHT = 2


@dataclass(frozen=True)
class Row:
    conversation_id: str
    title: str
    updated_at: str
    snippet: str = ""


class ConversationList(ScrollView, can_focus=True):
    """Rows of conversations; Enter or a click posts `ConversationChosen`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "up",
            "cursor(-1)",
            "Up",
            id="sidebar.up",
            tooltip="Highlight the conversation above.",
            show=False,
        ),
        Binding(
            "down",
            "cursor(1)",
            "Down",
            id="sidebar.down",
            tooltip="Highlight the conversation below.",
            show=False,
        ),
        Binding(
            "pageup",
            "page(-1)",
            "Page up",
            id="sidebar.page_up",
            tooltip="Move the highlight up a page.",
            show=False,
        ),
        Binding(
            "pagedown",
            "page(1)",
            "Page down",
            id="sidebar.page_down",
            tooltip="Move the highlight down a page.",
            show=False,
        ),
        Binding(
            "home",
            "first",
            "First",
            id="sidebar.first",
            tooltip="Highlight the most recent conversation.",
            show=False,
        ),
        Binding(
            "end",
            "last",
            "Last",
            id="sidebar.last",
            tooltip="Highlight the oldest conversation.",
            show=False,
        ),
        Binding(
            "enter",
            "choose",
            "Open",
            id="sidebar.open",
            tooltip="Open the highlighted conversation (a click does too).",
            show=False,
        ),
        Binding(
            "delete",
            "delete",
            "Delete",
            id="sidebar.delete",
            tooltip="Move the highlighted conversation to the trash (asks first).",
        ),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "conversation-list--title",
        "conversation-list--meta",
        "conversation-list--highlight",
        "conversation-list--current",
        "conversation-list--marker",
        "conversation-list--waiting",
    }

    highlighted: reactive[int | None] = reactive(None, always_update=True)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.rows: list[Row] = []
        self.current_id: str | None = None
        """The conversation open in the log."""
        self.streaming_ids: set[str] = set()
        """Conversations with a reply streaming right now."""
        self.waiting_ids: set[str] = set()
        """Conversations whose reply waits for the person's answer about a tool call."""
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)
        """Clock for "5 min ago"; replaced in tests for stable pictures."""
        self.empty_text = ""
        """What the list says while it has no rows: nothing until the screen has looked."""

    # -- data down -------------------------------------------------------------------------

    def set_rows(self, rows: list[Row]) -> None:
        """Replace the rows, keeping the highlight on the same conversation if it is there."""
        keep = self.highlighted_id
        self.rows = rows
        self.virtual_size = Size(self.size.width, len(rows) * ROW_HEIGHT)
        position = self.index_of(keep) if keep else None
        if position is None and rows:
            position = self.index_of(self.current_id) if self.current_id else None
        self.highlighted = position if position is not None else (0 if rows else None)
        self.refresh()

    def mark(
        self,
        *,
        current_id: str | None = None,
        streaming: set[str] | None = None,
        waiting: set[str] | None = None,
    ) -> None:
        if current_id is not None:
            self.current_id = current_id
        if streaming is not None:
            self.streaming_ids = set(streaming)
        if waiting is not None:
            self.waiting_ids = set(waiting)
        self.refresh()

    def index_of(self, conversation_id: str | None) -> int | None:
        for position, row in enumerate(self.rows):
            if row.conversation_id == conversation_id:
                return position
        return None

    @property
    def highlighted_id(self) -> str | None:
        if self.highlighted is None or not 0 <= self.highlighted < len(self.rows):
            return None
        return self.rows[self.highlighted].conversation_id

    # -- drawing ---------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        line = self.scroll_offset.y + y
        position, part = divmod(line, ROW_HEIGHT)
        base = self.get_visual_style("conversation-list--title")
        if not self.rows:
            text = Content(self.empty_text) if y == 0 else Content("")
            meta = self.get_visual_style("conversation-list--meta")
            return _strip(text, width, meta)
        if position >= len(self.rows):
            return Strip.blank(width, base.rich_style)
        row = self.rows[position]
        classes = ["conversation-list--title" if part == 0 else "conversation-list--meta"]
        if position == self.highlighted:
            classes.append("conversation-list--highlight")
        style = self.get_visual_style(*classes)
        marker_style = self.get_visual_style("conversation-list--marker", *classes[1:])
        is_current = row.conversation_id == self.current_id
        marker = Content.styled("▌" if is_current else " ", marker_style)
        if part == 0:
            waiting = row.conversation_id in self.waiting_ids
            dot = "? " if waiting else "● " if row.conversation_id in self.streaming_ids else ""
            text = Content(dot + one_line(row.title or "Untitled"))
            if dot:
                dot_style = (
                    self.get_visual_style("conversation-list--waiting", *classes[1:])
                    if waiting
                    else marker_style
                )
                text = text.stylize(dot_style, 0, 1)
        else:
            when = relative(row.updated_at, self.now())
            text = Content(one_line(f"{row.snippet}" if row.snippet else when))
        return _strip(Content.assemble(marker, " ", text), width, style).apply_meta(
            {"row": position}
        )

    # -- keys and mouse --------------------------------------------------------------------

    def watch_highlighted(self, old: int | None, new: int | None) -> None:
        if new is not None:
            self._scroll_to_row(new)
        self.refresh()

    def _scroll_to_row(self, position: int) -> None:
        top = position * ROW_HEIGHT
        height = self.scrollable_content_region.height
        if top < self.scroll_offset.y:
            self.scroll_to(y=top, animate=False)
        elif top + ROW_HEIGHT > self.scroll_offset.y + height:
            self.scroll_to(y=top + ROW_HEIGHT - height, animate=False)

    def action_cursor(self, step: int) -> None:
        if not self.rows:
            return
        start = self.highlighted if self.highlighted is not None else -1
        self.highlighted = max(0, min(len(self.rows) - 1, start + step))

    def action_page(self, step: int) -> None:
        rows_per_page = max(1, self.scrollable_content_region.height // ROW_HEIGHT)
        self.action_cursor(step * rows_per_page)

    def action_first(self) -> None:
        if self.rows:
            self.highlighted = 0

    def action_last(self) -> None:
        if self.rows:
            self.highlighted = len(self.rows) - 1

    def action_choose(self) -> None:
        chosen = self.highlighted_id
        if chosen is not None:
            self.post_message(ConversationChosen(chosen))

    def action_delete(self) -> None:
        chosen = self.highlighted_id
        if chosen is not None:
            self.post_message(DeleteRequested(chosen))

    async def _on_click(self, event: events.Click) -> None:
        position = event.style.meta.get("row")
        if isinstance(position, int) and 0 <= position < len(self.rows):
            self.highlighted = position
            self.action_choose()

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self.rows) * ROW_HEIGHT)


def _strip(content: Content, width: int, style: object) -> Strip:
    fitted = content.truncate(width, ellipsis=True, pad=True)
    return Strip(fitted.render_segments(style), width)  # type: ignore[arg-type]
