"""Command palette (ctrl+p): every action as "noun: verb", plus "open <title>" for any chat.

Actions are listed in `PALETTE` as data, so the palette, the help screen and docs/keys.md can
never disagree about what exists. Each entry runs an action string through the app, the same
way a key binding does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.fuzzy import Matcher
from textual.theme import ThemeProvider

from chat_tui.safetext import one_line

if TYPE_CHECKING:
    from chat_tui.tui.app import ChatApp


@dataclass(frozen=True)
class PaletteCommand:
    name: str
    """"noun: verb", what the person searches for."""
    help: str
    action: str
    """Action string, e.g. "screen.new_conversation" or "app.quit"."""


PALETTE: tuple[PaletteCommand, ...] = (
    PaletteCommand("conversation: new", "Start a new conversation", "screen.new_conversation"),
    PaletteCommand("conversation: search", "Search titles and messages", "screen.focus_search"),
    PaletteCommand(
        "conversation: rename", "Rename the open conversation", "screen.rename_conversation"
    ),
    PaletteCommand(
        "conversation: delete",
        "Move the open conversation to the trash",
        "screen.delete_conversation",
    ),
    PaletteCommand(
        "conversation: undo delete",
        "Bring back the conversation deleted last",
        "screen.undo_delete",
    ),
    PaletteCommand(
        "conversation: restore from trash", "Bring back a deleted conversation", "screen.open_trash"
    ),
    PaletteCommand(
        "conversation: summarise earlier messages",
        "Have the model summarise what no longer fits its context, sent in its place",
        "screen.summarise",
    ),
    PaletteCommand(
        "conversation: edit summary",
        "Edit the summary sent in place of earlier messages",
        "screen.edit_summary",
    ),
    PaletteCommand(
        "model: switch",
        "Choose the server, model and system prompt for the next reply",
        "screen.choose_model",
    ),
    PaletteCommand(
        "system prompt: edit", "Set this conversation's system prompt", "screen.choose_model"
    ),
    PaletteCommand(
        "message: edit last", "Edit your last message and send it again", "screen.edit_last_prompt"
    ),
    PaletteCommand(
        "message: attach file",
        "Attach a text file or an image to the message you are writing",
        "screen.attach_file",
    ),
    PaletteCommand(
        "sidebar: toggle", "Hide or show the conversation list", "screen.toggle_sidebar"
    ),
    PaletteCommand(
        "reply: regenerate",
        "Write the last reply again, keeping the old one as an alternative",
        "screen.regenerate",
    ),
    PaletteCommand(
        "reply: previous version",
        "Show the previous version of the last regenerated or edited message",
        "screen.step_version(-1)",
    ),
    PaletteCommand(
        "reply: next version",
        "Show the next version of the last regenerated or edited message",
        "screen.step_version(1)",
    ),
    PaletteCommand("reply: stop", "Stop the reply that is streaming", "screen.stop_reply"),
    PaletteCommand("provider: switch", "Talk to another configured server", "screen.choose_model"),
    PaletteCommand(
        "tools: list servers",
        "The MCP servers, whether this conversation uses each, and their tools",
        "screen.list_tools",
    ),
    PaletteCommand(
        "tools: switch servers",
        "Choose the MCP servers whose tools this conversation offers",
        "screen.choose_model(True)",
    ),
    PaletteCommand(
        "tools: restart a server",
        "Stop an MCP server and start it again",
        "screen.restart_tool_server",
    ),
    PaletteCommand(
        "server: set up", "Enter the server address, key and model", "screen.setup_server"
    ),
    PaletteCommand(
        "reply: copy last", "Copy the last reply to the clipboard", "screen.copy_last_reply"
    ),
    PaletteCommand(
        "message: copy",
        "Copy the selected message (or the last one) to the clipboard",
        "screen.copy_message",
    ),
    PaletteCommand(
        "code: copy last",
        "Copy the last code block of the conversation to the clipboard",
        "screen.copy_last_code",
    ),
    PaletteCommand(
        "preset: save current",
        "Save this conversation's model, system prompt and settings as a preset in config.toml",
        "screen.save_preset",
    ),
    PaletteCommand("help: show keys", "Every key binding and what it does", "app.help"),
    PaletteCommand("theme: change", "Choose a colour theme", "app.change_theme"),
    PaletteCommand("app: quit", "Save everything and quit", "app.quit"),
)


class ActionCommands(Provider):
    """Every entry of `PALETTE`."""

    async def discover(self) -> Hits:
        for command in PALETTE:
            yield DiscoveryHit(command.name, self._runner(command), help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in PALETTE:
            score = matcher.match(command.name)
            if score > 0:
                yield Hit(
                    score,
                    literal_highlight(matcher, command.name),
                    self._runner(command),
                    help=command.help,
                )

    def _runner(self, command: PaletteCommand) -> Callable[[], object]:
        return partial(self.app.run_action, command.action)


class ConversationCommands(Provider):
    """ "open <title>" for every saved conversation (fuzzy on the title)."""

    async def search(self, query: str) -> Hits:
        app: ChatApp = self.app  # type: ignore[assignment]
        matcher = self.matcher(query)
        screen = app.chat_screen
        if screen is None:
            return
        for summary in screen.summaries:
            title = one_line(summary.title or "Untitled", 80)
            text = f"open {title}"
            score = matcher.match(text)
            if score > 0:
                yield Hit(
                    score,
                    literal_highlight(matcher, text),
                    partial(screen.open_from_palette, summary.id),
                    text=text,
                    # Textual parses a str help as markup; a Content passes through as is.
                    help=Content(one_line(summary.model)),  # type: ignore[arg-type]
                )


class PresetCommands(Provider):
    """ "preset: use NAME" for every preset of config.toml."""

    async def discover(self) -> Hits:
        for text, run in self._commands():
            yield DiscoveryHit(text, run, help="Use this preset in the open conversation")

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, run in self._commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, literal_highlight(matcher, text), run, text=text)

    def _commands(self) -> list[tuple[str, Callable[[], object]]]:
        app: ChatApp = self.app  # type: ignore[assignment]
        screen = app.chat_screen
        if screen is None:
            return []
        return [
            (f"preset: use {name}", partial(screen.action_use_preset, name))
            for name in sorted(app.settings.presets)
        ]


class ThemeCommands(ThemeProvider):
    """Textual's theme list; choosing one also saves it in the config file."""

    @property
    def commands(self) -> list[tuple[str, Callable[[], None]]]:
        app: ChatApp = self.app  # type: ignore[assignment]
        return [(name, partial(app.choose_theme, name)) for name in sorted(app.available_themes)]


def literal_highlight(matcher: Matcher, text: str) -> Content:
    """The matched letters emphasised, with `text` never read as markup.

    Textual's `Matcher.highlight` parses its argument as markup, which a conversation title
    must never be.
    """
    content = Content(text)
    score, offsets = matcher.fuzzy_search.match(matcher.query, text)
    if not score:
        return content
    for offset in offsets:
        if not text[offset].isspace():
            content = content.stylize(matcher.match_style, offset, offset + 1)
    return content
