"""ChatApp: owns settings, the store, the saver, the API clients and the tool servers; the
screen does the rest."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.command import CommandPalette, Provider
from textual.screen import Screen

from chat_tui import __version__, clipboard, signals
from chat_tui.client import ChatClient
from chat_tui.collector import Collector
from chat_tui.config import DEFAULT_THEME, ConfigError, Settings, save_top_level
from chat_tui.context_window import ContextWindows, WindowMemory
from chat_tui.drafts import DraftStore
from chat_tui.models import Conversation, Message
from chat_tui.safetext import display_text, pasteable_text
from chat_tui.saver import Saver
from chat_tui.store import ConversationStore, StoreError
from chat_tui.tools.servers import servers_on
from chat_tui.tui.commands import (
    ActionCommands,
    ConversationCommands,
    PresetCommands,
    ThemeCommands,
)
from chat_tui.tui.messages import CopyRequested, ReplyDrawn, ViewsReplaced
from chat_tui.tui.textual_compat import (
    app_keymap,
    forget_painted_lines,
    lay_out_once,
    one_arrangement_per_layout,
    release_geometry_caches,
    release_style_caches,
    strips_without_self_references,
)

if TYPE_CHECKING:
    from chat_tui.tools.toolbox import Toolbox
    from chat_tui.tui.screens.chat import ChatScreen

Clock = Callable[[], datetime]
STARTUP_SETTLE_SECONDS = 1.0
"""After this the start-up heap is collected once and frozen (see collector.py)."""
IDLE_SECONDS = 1.0
"""No key or mouse event for this long: a moment for a full collection."""
COLLECTOR_TICK_SECONDS = 1.0


class ChatApp(App[None]):
    """The chat-tui application."""

    CSS_PATH = "app.tcss"
    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = {
        ActionCommands,
        ConversationCommands,
        PresetCommands,
    }
    TITLE = "chat-tui"
    ENABLE_COMMAND_PALETTE = True

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "ctrl+q",
            "quit",
            "Quit",
            id="app.quit",
            tooltip="Save everything and quit (also while a reply streams).",
            priority=True,
        ),
        Binding(
            "ctrl+p",
            "command_palette",
            "palette",
            id="app.palette",
            tooltip="Open the command palette: every action, and any conversation by title.",
            show=False,
            priority=True,
        ),
        Binding(
            "f1,question_mark",
            "help",
            "Help",
            id="app.help",
            tooltip="Show every key and what it does (? only outside text boxes).",
            show=False,
        ),
        Binding(
            "ctrl+c",
            "help_quit",
            "Quit",
            id="app.quit_ctrl_c",
            tooltip="Save everything and quit; copies instead when text is selected.",
            show=False,
        ),
    ]

    def __init__(
        self,
        settings: Settings,
        store: ConversationStore,
        *,
        clock: Clock | None = None,
        open_conversation: str | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        """Resolved configuration (replaced when the person changes it in the app)."""
        self.store = store
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        """Source of "now" for relative times; fixed in snapshot tests."""
        self.open_conversation = open_conversation
        """Conversation id to open at start instead of a new one."""
        self.saver = Saver(
            store,
            on_error=self._save_failed,
            on_saved=self._saved,
            on_merged=self._merged,
            live_message=self._live_message,
        )
        self.drafts = DraftStore(store.root)
        """Unsent prompts on disk, per conversation."""
        self.windows = ContextWindows(settings.context_windows, WindowMemory(store.root))
        """The context window of each server and model: configured, reported or learned."""
        self._clients: dict[str, ChatClient] = {}
        self._toolbox: Toolbox | None = None
        """The MCP servers, made (not started) by the first reply that offers tools."""
        self._startup_warnings: list[str] = []
        if settings.theme in self.available_themes:
            self.theme = settings.theme
        else:
            self.theme = DEFAULT_THEME
            self._startup_warnings.append(
                f"unknown theme {settings.theme!r}: using {DEFAULT_THEME} "
                '(ctrl+p, then "theme: change" lists them)'
            )
        self._quitting = False
        """Set while replies are stopped and saves flushed on the way out."""
        self.closing = False
        """Set once the app has decided to exit: no new work may start on the store."""
        self._signals = signals.QuitSignals(self.quit_on_signal, self.emergency_exit)
        self.collector = Collector(release=[release_style_caches])
        lay_out_once()
        one_arrangement_per_layout()
        strips_without_self_references()
        self._last_input = time.monotonic()
        self._lines_to_forget = False
        """A reply was drawn since the screen's painted lines were last forgotten."""

    def get_default_screen(self) -> Screen[None]:
        from chat_tui.tui.screens.chat import ChatScreen

        return ChatScreen()

    def on_mount(self) -> None:
        for warning in self.settings.warnings:
            self.notify(
                display_text(warning),
                title="Configuration",
                severity="warning",
                timeout=20,
                markup=False,
            )
        for warning in self._startup_warnings:
            self.notify(display_text(warning), title="Theme", severity="warning", markup=False)
        self._apply_keys()
        if not self.is_headless:
            self._signals.install()
        # Once the first screen is up: its full collection is not in the way of start-up.
        self.set_timer(STARTUP_SETTLE_SECONDS, self.collector.start)
        self.set_interval(COLLECTOR_TICK_SECONDS, self._tick_collector)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.InputEvent):
            self._last_input = time.monotonic()
        await super().on_event(event)

    def _tick_collector(self) -> None:
        quiet = self.quiet
        if quiet and self._lines_to_forget and self.chat_screen is not None:
            # Every line on screen was cut and cropped on each frame of the reply, and keeps
            # what was made of it; rendered again when next painted, they do not. The same
            # frames filled the geometry's memo caches. (Once the reply is over: lines still
            # being painted would only be rendered again.)
            self._lines_to_forget = False
            forget_painted_lines(self.chat_screen)
            release_geometry_caches()
        elif self.chat_screen is not None and self.chat_screen.replying:
            release_geometry_caches()  # each frame scrolls somewhere new: kept small meanwhile
        self.collector.tick(idle=quiet)

    def on_reply_drawn(self, _: ReplyDrawn) -> None:
        self._lines_to_forget = True

    @property
    def quiet(self) -> bool:
        """Nobody types, no reply streams or is being drawn, the index is not catching up:
        the moment for the collector's reclaims, which walk the whole heap."""
        screen = self.chat_screen
        busy = screen is not None and (screen.replying or screen.indexing)
        return not busy and time.monotonic() - self._last_input > IDLE_SECONDS

    async def on_unmount(self) -> None:
        self.collector.stop()
        await self._close_tools()  # however the app ends, no server outlives it

    async def _close_tools(self) -> None:
        """Stop the tool servers: each is asked to stop, and killed if it has not within a
        few seconds."""
        toolbox, self._toolbox = self._toolbox, None
        if toolbox is not None:
            await toolbox.close()

    def on_views_replaced(self, _: ViewsReplaced) -> None:
        # After the new views are painted: a reclaim this causes does not delay them.
        self.call_after_refresh(self.collector.garbage_left)

    @property
    def version(self) -> str:
        return __version__

    def client_for(self, provider_name: str | None) -> ChatClient:
        """One client per provider, created on first use."""
        provider = self.settings.provider_named(provider_name)
        client = self._clients.get(provider.name)
        if client is None:
            client = ChatClient(
                provider, timeout=self.settings.timeout, max_retries=self.settings.max_retries
            )
            self._clients[provider.name] = client
        return client

    def tool_servers_for(self, conversation: Conversation) -> list[str]:
        """The MCP servers whose tools replies in `conversation` offer."""
        return servers_on(self.settings.mcp_servers, conversation.tool_servers)

    def toolbox(self) -> Toolbox:
        """The configured MCP servers, shared by every conversation; each starts when a
        reply first offers its tools (never at start-up), and all stop when the app does."""
        if self._toolbox is None:
            from chat_tui.tools.approvals import Approvals
            from chat_tui.tools.toolbox import Toolbox

            servers = self.settings.mcp_servers
            approvals = Approvals(servers, config_path=self.settings.config_path)
            self._toolbox = Toolbox(servers, approvals, call_timeout=self.settings.tool_timeout)
        return self._toolbox

    def tools_started(self, servers: list[str]) -> bool:
        """Whether every one of `servers` has been started (or tried) already."""
        if self._toolbox is None:
            return False
        started = {s.config.name for s in self._toolbox.states() if s.started}
        return set(servers) <= started

    async def replace_settings(self, settings: Settings) -> None:
        """Adopt new settings (after setup); clients are rebuilt on next use."""
        clients, self._clients = self._clients, {}
        self.settings = settings
        for client in clients.values():
            await client.close()

    # -- saving hooks (the chat screen reacts) ---------------------------------------------

    @property
    def chat_screen(self) -> ChatScreen | None:
        """The main screen, wherever it is in the stack (modals may be above it)."""
        from chat_tui.tui.screens.chat import ChatScreen

        for screen in self.screen_stack:
            if isinstance(screen, ChatScreen):
                return screen
        return None

    def _save_failed(self, conversation: Conversation, error: StoreError) -> None:
        screen = self.chat_screen
        if screen is not None:
            screen.save_failed(conversation, error)

    def _saved(self, conversation: Conversation) -> None:
        screen = self.chat_screen
        if screen is not None:
            screen.saved(conversation)

    def _merged(self, conversation: Conversation) -> None:
        screen = self.chat_screen
        if screen is not None:
            screen.merged(conversation)

    def _live_message(self, conversation: Conversation) -> Message | None:
        screen = self.chat_screen
        return screen.live_message(conversation) if screen is not None else None

    # -- quitting --------------------------------------------------------------------------

    async def action_quit(self) -> None:
        """Stop any streaming reply, save what arrived, then exit.

        If a conversation cannot be saved (disk full, read-only directory), ask first: quitting
        would lose it, while staying keeps it in memory and the saver keeps retrying.
        """
        if self._quitting:
            return
        self._quitting = True
        try:
            unsaved = await self._stop_and_save()
        finally:
            self._quitting = False
        if unsaved:
            from chat_tui.tui.screens.unsaved import UnsavedScreen

            titles = [conversation.title for conversation in unsaved]
            reason = self.saver.last_error or "the last save failed"
            self.clear_notifications()  # the dialog says it all, and toasts would cover it
            self.push_screen(UnsavedScreen(titles, reason), callback=self._quit_anyway)  # type: ignore[arg-type]
            return
        await self._close_and_exit()

    async def action_help_quit(self) -> None:  # type: ignore[override]
        """ctrl+c: quit after saving (Textual only hints at ctrl+q). Inputs with selected
        text, and text selected on screen, bind ctrl+c to copy first."""
        await self.action_quit()

    async def _quit_anyway(self, quit_anyway: bool | None) -> None:
        if quit_anyway:
            await self._close_and_exit()
        elif (screen := self.chat_screen) is not None:
            await screen.redraw()  # replies the quit stopped were left as they streamed

    async def _stop_and_save(self) -> list[Conversation]:
        """Stop every reply, wait for the saves; return the conversations still unsaved."""
        screen = self.chat_screen
        if screen is not None:
            await screen.stop_all_replies()
            with contextlib.suppress(Exception):  # a draft must not stop the quit
                await screen.save_draft_now()
        await self.saver.flush()
        return self.saver.unsaved

    async def _close_and_exit(self, return_code: int = 0, message: str = "") -> None:
        self.closing = True
        self.saver.close()
        await self._close_tools()
        for client in self._clients.values():
            await client.close()
        await asyncio.to_thread(self.store.close)
        self._signals.uninstall()
        self.exit(return_code=return_code, message=Text(message) if message else None)

    def quit_on_signal(self, number: signal.Signals) -> None:
        """SIGTERM, SIGHUP or SIGINT: save what arrived and exit; no question can be asked
        (the terminal may be gone). A second signal exits at once."""
        if self._quitting:
            self.exit(return_code=128 + number)
            return
        self.run_worker(
            self._quit_after_signal(), group="quit", exit_on_error=False, exclusive=True
        )

    async def _quit_after_signal(self) -> None:
        self._quitting = True
        unsaved = await self._stop_and_save()
        message = ""
        if unsaved:
            titles = ", ".join(repr(c.title or "New conversation") for c in unsaved)
            message = f"chat-tui: not saved ({self.saver.last_error}): {titles}"
        await self._close_and_exit(1 if unsaved else 0, display_text(message))

    def emergency_exit(self) -> None:
        """The orderly exit after a signal is stuck (a dead terminal can block the event loop):
        from the watchdog thread, save the replies in flight and every unsaved conversation
        as they are, then end the process."""
        rescue: dict[str, Conversation] = {c.id: c for c in self.saver.pending}
        screen = self.chat_screen
        for message, conversation in screen.live_replies() if screen is not None else []:
            if message.status == "streaming":
                message.status = "stopped"
            rescue[conversation.id] = conversation
        saved = True
        for conversation in rescue.values():
            try:
                self.store.save_snapshot(conversation.to_dict())
            except Exception:
                saved = False
        os._exit(0 if saved else 1)

    # -- copying ---------------------------------------------------------------------------

    @on(CopyRequested)
    def _copy_requested(self, event: CopyRequested) -> None:
        self.copy_text(event.text, event.what)

    def copy_text(self, text: str, what: str) -> None:
        """Copy through the terminal (OSC 52) now, and to the system clipboard in a thread.

        Control characters are left out: pasted into a terminal they could act as commands.
        """
        text = pasteable_text(text)
        if not text:
            self.notify(
                f"Nothing to copy: {what} is empty.", title="Copy", severity="warning", markup=False
            )
            return
        self.copy_to_clipboard(text)
        self._copy_to_system(text, what)

    @work(thread=True, group="clipboard", exit_on_error=False, description="copy")
    def _copy_to_system(self, text: str, what: str) -> None:
        tool = clipboard.copy_to_system(text)
        self.call_from_thread(
            self.notify, clipboard.copied_message(text, what, tool), title="Copied", markup=False
        )

    # -- themes ----------------------------------------------------------------------------

    def action_change_theme(self) -> None:
        """The theme list of the palette; the choice is remembered in the config file."""
        self.push_screen(CommandPalette(providers=[ThemeCommands], placeholder="Search themes…"))

    def choose_theme(self, name: str) -> None:
        self.theme = name
        self.settings = replace(self.settings, theme=name)
        self._save_theme(name)

    @work(thread=True, group="config", exit_on_error=False)
    def _save_theme(self, name: str) -> None:
        path = self.settings.config_path
        if path is None:
            return
        try:
            save_top_level(path, {"theme": name})
        except (ConfigError, OSError) as error:
            self.call_from_thread(
                self.notify,
                f"The theme is in use but was not saved: {error}",
                title="Theme",
                severity="warning",
                markup=False,
            )

    # -- keys and help ---------------------------------------------------------------------

    def _apply_keys(self) -> None:
        """Install the `[keys]` of the config; warn about entries that cannot be used."""
        from chat_tui.tui.keys.catalogue import apply_keymap
        from chat_tui.tui.keys.owners import key_owners
        from chat_tui.tui.keys.spec import current_keys

        for warning in apply_keymap(self, self.settings.keys, key_owners):
            self.notify(warning, title="Key bindings", severity="warning", markup=False)
        # The footer finds the palette key by this name.
        palette = next(b for b in self.BINDINGS if isinstance(b, Binding) and b.id == "app.palette")
        palette_key = current_keys(palette, app_keymap(self))[0]
        self.COMMAND_PALETTE_BINDING = palette_key  # type: ignore[misc]

    def action_help(self) -> None:
        from chat_tui.tui.screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss()
        else:
            self.push_screen(HelpScreen())
