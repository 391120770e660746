"""The MCP servers and their tools, as the palette's "tools: …" commands show them.

Names, descriptions and problems come from config.toml and from the servers: each is shown on
one line as text (`one_line`, `Content`), never as markup.
"""

from __future__ import annotations

from collections.abc import Collection

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from chat_tui.safetext import one_line
from chat_tui.tools.toolbox import ServerState
from chat_tui.tui.screens.modals import Dialog

SHOWN_TOOLS = 200
"""Tools listed per server (a server may list 500)."""


def server_listing(states: list[ServerState], on: Collection[str]) -> Content:
    """Each server: how it is reached, whether this conversation uses it, how it is doing,
    and its tools with the first line of their descriptions."""
    if not states:
        return Content(
            "No MCP servers are configured: add [mcp_servers.NAME] tables to config.toml "
            "(see docs/tools.md)."
        )
    lines: list[Content] = []
    for state in states:
        config = state.config
        lines.append(
            Content.assemble(
                (one_line(config.name, 64), "bold"), "  ", (one_line(config.describe(), 80), "dim")
            )
        )
        if config.name not in on:
            lines.append(Content("  off for this conversation (ctrl+o turns it on)"))
            continue
        if state.problem is not None:
            lines.append(Content.styled("  ✗ " + one_line(state.problem, 300), "$text-error"))
            continue
        if state.tools is None:
            lines.append(Content("  starting…"))
            continue
        count = len(state.tools)
        lines.append(Content(f"  running · {count} tool{'' if count == 1 else 's'}"))
        for tool in state.tools[:SHOWN_TOOLS]:
            description = one_line(tool.description.split("\n", 1)[0], 80)
            lines.append(
                Content.assemble("    ", (one_line(tool.name, 64), "bold"), "  ", description)
            )
        if count > SHOWN_TOOLS:
            lines.append(Content(f"    … and {count - SHOWN_TOOLS} more"))
    return Content("\n").join(lines)


class ToolsDialog(Dialog):
    """The servers and their tools; `show` fills it in as the servers start."""

    def __init__(self, listing: Content) -> None:
        super().__init__()
        self._listing = listing

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box -wide"):
            yield Label("Tools from MCP servers", classes="dialog-title")
            with VerticalScroll(id="tools-scroll"):
                yield Static(self._listing, id="tools-list", markup=False)
            yield Static("Esc closes", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#tools-scroll").focus()

    def show(self, listing: Content) -> None:
        self.query_one("#tools-list", Static).update(listing)


class ServerChoiceDialog(Dialog):
    """Pick one configured server; dismisses with its name."""

    def __init__(self, title: str, names: list[str]) -> None:
        super().__init__()
        self._title = title
        self._names = names

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Label(self._title, classes="dialog-title", markup=False)
            yield OptionList(
                *(Option(Content(one_line(name, 64)), id=name) for name in self._names),
                id="server-choice",
            )
            yield Static("Enter chooses · Esc cancels", classes="dialog-hint")

    def on_mount(self) -> None:
        choice = self.query_one("#server-choice", OptionList)
        choice.highlighted = 0
        choice.focus()

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
