"""The baseline: a bare Textual app with the same widget kinds and layout as chat-tui's screen.

    python benchmarks/bare_app.py                  # what chat-tui's start is compared with
    python benchmarks/bare_app.py --markdown FILE  # ctrl+g renders FILE with one Markdown.update
    python benchmarks/bare_app.py --warm-up FILE --markdown FILE  # FILE rendered at start too
    ... then ctrl+s scrolls the log through the reply, one line per frame

It has no store, no index, no client and no configuration: a search box and an empty
scrolling list on the left, a title bar, an empty log with a placeholder, a status line, the
same multi-line input (same placeholder) and a footer, styled by chat-tui's own stylesheet
(the widget classes carry the same names so its rules apply). With `--markdown`, ctrl+g puts
the file's text into one Markdown widget in the log with a single `Markdown.update`: the
yardstick for streaming a reply. `--warm-up` renders a first text at start, so that the
measured render finds Markdown and the code highlighters loaded, as chat-tui does after its
first reply. ctrl+s then scrolls that log from where it was before the reply to its end, one
line per frame, as a log following a reply line by line scrolls, and says "Scrolled N
lines." when done: the least work a frame that shows a new line of a reply does, whatever
draws the reply.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import ClassVar

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.geometry import Size
from textual.screen import Screen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Footer, Input, Static, TextArea

STYLESHEET = Path(__file__).resolve().parent.parent / "src" / "chat_tui" / "tui" / "app.tcss"


class ConversationList(ScrollView, can_focus=True):
    def on_mount(self) -> None:
        self.virtual_size = Size(self.size.width, 0)

    def render_line(self, y: int) -> Strip:
        text = Content("No conversations yet" if y == 0 else "")
        width = self.scrollable_content_region.width
        return Strip(text.truncate(width, pad=True).render_segments(), width)


class Sidebar(Vertical):
    def compose(self) -> ComposeResult:
        yield Input(placeholder="Search  (/ or ctrl+f)", id="search", compact=True)
        yield ConversationList(id="conversations")


class MessageLog(VerticalScroll, can_focus=True):
    pass


class StatusBar(Static):
    pass


class PromptInput(TextArea):
    pass


class BareScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+n", "noop", "New"),
        Binding("escape", "noop", "Stop"),
        Binding("ctrl+r", "noop", "Retry"),
        Binding("ctrl+g", "render_markdown", "Render", show=False),
        Binding("ctrl+s", "scroll_by_lines", "Scroll", show=False),
    ]

    def __init__(self, markdown_file: Path | None, warm_up: Path | None) -> None:
        super().__init__()
        self.markdown_file = markdown_file
        self.warm_up = warm_up

    def compose(self) -> ComposeResult:
        with Horizontal(id="body"):
            yield Sidebar(id="sidebar")
            with Vertical(id="main"):
                with Horizontal(id="top-bar"):
                    yield Static("New conversation", id="title", markup=False)
                    yield Static("gpt-4o-mini", id="model", markup=False)
                with MessageLog(id="log"):
                    yield Static(
                        "Ask anything. Enter sends, ctrl+j adds a line, Esc stops a reply.",
                        classes="empty-log",
                        markup=False,
                    )
                yield StatusBar(id="status", markup=False)
                yield PromptInput(
                    id="prompt",
                    soft_wrap=True,
                    show_line_numbers=False,
                    tab_behavior="focus",
                    compact=True,
                    placeholder="Message… (Enter to send, ctrl+j for a new line)",
                )
        yield Footer()

    async def on_mount(self) -> None:
        self.query_one(PromptInput).focus()
        self.query_one(MessageLog).anchor()
        if self.warm_up is not None:
            await self._show_markdown(self.warm_up)

    def action_noop(self) -> None:
        pass

    async def action_render_markdown(self) -> None:
        if self.markdown_file is not None:
            await self._show_markdown(self.markdown_file)

    @work(exclusive=True)
    async def action_scroll_by_lines(self) -> None:
        """One line per frame; a worker, so it can wait for each frame to be drawn."""
        log = self.query_one(MessageLog)
        reply = log.children[-1]
        # Where the log was before the reply's first line: the warm-up's text above it.
        start = max(0, reply.virtual_region.y - log.scrollable_content_region.height)
        end = log.max_scroll_y
        log.release_anchor()
        log.scroll_to(y=start, animate=False, immediate=True)
        await log.wait_for_refresh()
        for y in range(start + 1, end + 1):
            log.scroll_to(y=y, animate=False, immediate=True)
            await log.wait_for_refresh()
        self.query_one(StatusBar).update(f"Scrolled {end - start} lines.")

    async def _show_markdown(self, source: Path) -> None:
        from textual.widgets import Markdown

        log = self.query_one(MessageLog)
        markdown = Markdown(open_links=False)
        await log.mount(markdown)
        await markdown.update(source.read_text("utf-8"))
        log.anchor()


class BareApp(App[None]):
    CSS_PATH = str(STYLESHEET)
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+q", "quit", "Quit", priority=True)]

    def __init__(self, markdown_file: Path | None = None, warm_up: Path | None = None) -> None:
        super().__init__()
        self.markdown_file = markdown_file
        self.warm_up = warm_up
        self.theme = "textual-dark"

    def get_default_screen(self) -> Screen:
        return BareScreen(self.markdown_file, self.warm_up)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", type=Path, help="text for ctrl+g to render")
    parser.add_argument("--warm-up", type=Path, help="text to render at start")
    args = parser.parse_args()
    BareApp(args.markdown, args.warm_up).run()


if __name__ == "__main__":
    main()
