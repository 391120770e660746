"""The main screen: sidebar, message log, input; owns the open conversation and its replies."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.await_complete import AwaitComplete
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widget import MountError
from textual.widgets import Static, TextArea
from textual.worker import Worker, WorkerCancelled, WorkerFailed

from chat_tui.clipboard import last_code_block, last_reply
from chat_tui.conversation_cache import ConversationCache
from chat_tui.drafts import NEW_CONVERSATION
from chat_tui.fitting import NEAR_FULL, REFITTED, context_start, in_context, tokens_short
from chat_tui.index import ConversationSummary, IndexBusy, Problem, SearchHit
from chat_tui.merge import merge_conversations
from chat_tui.models import Attachment, Conversation, Message, ToolCall
from chat_tui.presets import PresetError, new_conversation
from chat_tui.safetext import display_text, one_line
from chat_tui.served_model import NoServedModel, served_model
from chat_tui.store import StoreError
from chat_tui.tui.keys.spec import key_label
from chat_tui.tui.messages import (
    AttachmentOpened,
    AttachmentRemoved,
    ConversationChosen,
    PathPasted,
    PromptSubmitted,
    ReplyDrawn,
    SearchChanged,
    VariantStep,
)
from chat_tui.tui.screens.conversation_actions import ConversationActions
from chat_tui.tui.screens.summary import SummaryActions
from chat_tui.tui.textual_compat import app_keymap
from chat_tui.tui.widgets.approval_bar import ApprovalBar
from chat_tui.tui.widgets.attachment_chips import AttachmentChips
from chat_tui.tui.widgets.conversation_list import Row
from chat_tui.tui.widgets.footer import ChatFooter
from chat_tui.tui.widgets.message_log import MessageLog
from chat_tui.tui.widgets.message_view import MessageView, ReplyRenderer, preload_markdown
from chat_tui.tui.widgets.prompt_input import PromptInput
from chat_tui.tui.widgets.sidebar import Sidebar
from chat_tui.tui.widgets.status_bar import StatusBar, usage_line
from chat_tui.tui.widgets.tool_call import call_label

if TYPE_CHECKING:
    from chat_tui.attachments import PendingAttachment
    from chat_tui.client import ChatClient
    from chat_tui.tools.approvals import Decision
    from chat_tui.tui.messages import LinkActivated
    from chat_tui.tui.screens.tools import ToolsDialog

WATCH_SECONDS = 2.0
"""How often the conversations directory is checked for changes made by other processes."""
QUIT_COMMANDS = ("/quit", "/exit")
FIRST_ROWS = 100
"""Conversations listed from the index at start-up, before it is checked against the files."""
WAITING_FOR_INDEX = "Waiting for the index: another chat-tui is updating it…"

_UNSAVED = "unsaved"
"""What the status line reports on while a save keeps failing."""

SETUP_HINT = (
    "No server is configured yet.\n\n"
    "To talk to OpenAI, set OPENAI_API_KEY in your environment, or put "
    'api_key = "sk-..." in {config}.\n\n'
    "To talk to a local server (llama.cpp, vLLM, Ollama, LM Studio), start chat-tui with "
    "--base-url http://localhost:8080/v1, or set OPENAI_BASE_URL, or put base_url in that "
    "file. Local servers need no key.\n\n"
    "Or set it up right here: send a first message, or choose “server: set up” in the "
    "command palette (ctrl+p)."
)


@dataclass(frozen=True)
class DraftAttachments:
    """The chips of a draft not on screen, and the bytes of those not stored yet."""

    attachments: list[Attachment]
    unstored: dict[str, PendingAttachment]


NO_ATTACHMENTS = DraftAttachments([], {})


@dataclass(frozen=True)
class ParkedDraft:
    """What the person was writing when they began editing their last message: back in the
    box when the edit is sent or given up."""

    text: str
    attachments: DraftAttachments


@dataclass
class Question:
    """A tool call waiting for the person's answer."""

    call: ToolCall
    answer: asyncio.Future[str]
    """Resolved by the approval bar with the value of a `Decision`."""


@dataclass
class ReplyState:
    """A reply being streamed; the view parts are set only while it is on screen.

    A reply that uses tools is several messages: `message` and `index` are its current
    assistant turn (the one streaming, or whose calls are being settled).
    """

    conversation: Conversation
    message: Message
    index: int
    worker: Worker[None] | None = None
    view: MessageView | None = None
    renderer: ReplyRenderer | None = None
    started: float = field(default_factory=time.monotonic)
    quitting: bool = False
    """Stopped by a quit: its text is not drawn again in full (see `stop_all_replies`)."""
    turn_started: float = field(default_factory=time.monotonic)
    phase: str = ""
    """What the reply waits for before its first turn ("Starting the tool servers…")."""
    question: Question | None = None
    running: tuple[ToolCall, float] | None = None
    """The call running now, and since when."""
    ui: asyncio.Task[None] | None = None
    """The last change to the log this reply asked for; they run one after another."""
    heap_at_start: int = 0
    """The heap's size as it started, for the collector to see what the reply left."""


class ChatScreen(ConversationActions, SummaryActions, Screen[None]):
    """Sidebar, log and input for one open conversation at a time."""

    HORIZONTAL_BREAKPOINTS: list[tuple[int, str]] | None = [(0, "-narrow"), (100, "-wide")]
    """Below 100 columns the sidebar gets narrower, leaving the log room to read."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "ctrl+n",
            "new_conversation",
            "New",
            id="conversation.new",
            tooltip="Start a new conversation.",
        ),
        Binding(
            "escape",
            "stop_reply",
            "Stop",
            id="reply.stop",
            tooltip="Stop the reply that is streaming (or the tool call it runs); what arrived "
            "is kept. Also stops a summary being written, changing nothing.",
        ),
        Binding(
            "ctrl+r",
            "regenerate",
            "Retry",
            id="reply.regenerate",
            tooltip="Write the last reply again (the old one is kept as an alternative).",
        ),
        Binding(
            "alt+left",
            "step_version(-1)",
            "Previous version",
            id="reply.previous_version",
            tooltip="Show the previous version of the focused (or last) message.",
            show=False,
        ),
        Binding(
            "alt+right",
            "step_version(1)",
            "Next version",
            id="reply.next_version",
            tooltip="Show the next version of the focused (or last) message.",
            show=False,
        ),
        Binding(
            "ctrl+o",
            "choose_model",
            "Model",
            id="model.choose",
            tooltip="Choose the server, model and system prompt of this conversation.",
        ),
        Binding(
            "ctrl+up,f4",
            "edit_last_prompt",
            "Edit",
            id="prompt.edit_last",
            tooltip="Edit your last message and send it again (the old exchange is kept).",
            show=False,
        ),
        Binding(
            "ctrl+t",
            "attach_file",
            "Attach",
            id="message.attach",
            tooltip="Attach a file (text or image) to the message you are writing.",
            show=False,
        ),
        Binding(
            "ctrl+f,slash",
            "focus_search",
            "Search",
            id="sidebar.search",
            tooltip="Search conversations by title and text.",
            show=False,
        ),
        Binding(
            "ctrl+b",
            "toggle_sidebar",
            "Sidebar",
            id="sidebar.toggle",
            tooltip="Hide or show the list of conversations.",
            show=False,
        ),
        Binding(
            "f2",
            "rename_conversation",
            "Rename",
            id="conversation.rename",
            tooltip="Rename the open (or highlighted) conversation.",
            show=False,
        ),
        Binding(
            "ctrl+z",
            "undo_delete",
            "Undo delete",
            id="conversation.undo_delete",
            tooltip="Bring back the conversation deleted last.",
            show=False,
        ),
        Binding(
            "ctrl+l",
            "copy_last_reply",
            "Copy reply",
            id="reply.copy",
            tooltip="Copy the last reply to the clipboard, exactly as written.",
            show=False,
        ),
        Binding(
            "tab",
            "app.focus_next",
            "Next",
            id="focus.next",
            tooltip="Move the focus to the next part of the screen.",
            show=False,
        ),
        Binding(
            "shift+tab",
            "app.focus_previous",
            "Previous",
            id="focus.previous",
            tooltip="Move the focus back (from the message box: to the last message).",
            show=False,
        ),
        Binding(
            "ctrl+c,super+c",
            "screen.copy_text",
            "Copy selection",
            id="selection.copy",
            tooltip="Copy the text selected with the mouse.",
            show=False,
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.conversation = Conversation()
        """The conversation shown in the log (not on disk until its first message)."""
        self._replies: dict[str, ReplyState] = {}
        self._finishing = 0
        """Replies that ended and are still being drawn and saved."""
        self.cache = ConversationCache()
        """Conversations a reply streams into, and the last ones left."""
        self._summaries: list[ConversationSummary] = []
        self._rows: list[Row] = []
        """The sidebar rows of `_summaries`, built off the event loop."""
        self._directory_stamp: int | None = None
        self._reported: set[str] = set()
        """Unreadable files already reported, so each is mentioned once."""
        self._told_cannot_save = False
        """Whether the person was told the data directory cannot be written (once is enough)."""
        self._draft_changed = False
        self._draft_lock = asyncio.Lock()
        """Draft writes happen in order, so an older text never overwrites a newer one."""
        self._switching = asyncio.Lock()
        """Held while another conversation is shown and while a prompt is taken: Enter in
        the middle of a switch waits for it, so a message never joins one conversation's
        text, chips and log to another's."""
        self._editing: int | None = None
        """Index of the user message being edited (ctrl+up), if any."""
        self._parked: ParkedDraft | None = None
        """The draft put aside while a message is edited."""
        self._unsaved: set[str] = set()
        """Conversations whose last save failed (the saver retries them)."""
        self._attached: list[Attachment] = []
        """What goes with the message being written, in the order attached (chips)."""
        self._unstored: dict[str, PendingAttachment] = {}
        """The bytes of those attached from a file, by digest, until they are stored."""
        self._attached_elsewhere: dict[str, DraftAttachments] = {}
        """The chips of other conversations' drafts (by draft key), back when they reopen."""
        self._markdown_preloaded = False
        self._client_prepared = False
        self._coverage: tuple[int, int] | None = None
        """(conversations indexed, conversations) while the index catches up."""

    def compose(self) -> ComposeResult:
        with Horizontal(id="body"):
            yield Sidebar(id="sidebar")
            with Vertical(id="main"):
                with Horizontal(id="top-bar"):
                    yield Static(id="conversation-title", markup=False)
                    yield Static(id="conversation-model", markup=False)
                yield MessageLog(id="log")
                yield StatusBar(id="status")
                yield ApprovalBar(id="approval")
                yield AttachmentChips(removable=True, id="attached")
                yield PromptInput(id="prompt")
        yield ChatFooter()

    def is_streaming_in(self, conversation_id: str) -> bool:
        return conversation_id in self._replies

    @property
    def streaming(self) -> bool:
        """Whether any reply is streaming (in this conversation or another)."""
        return bool(self._replies)

    @property
    def replying(self) -> bool:
        """Whether a reply streams or one that ended is still being drawn: the collector's
        idle moment waits for both, so one reclaim follows a reply, not one in the middle
        of its final render and another after it."""
        return bool(self._replies) or self._finishing > 0

    @property
    def indexing(self) -> bool:
        """Whether the sidebar's refresh runs: it may hold a batch of files read whole."""
        return any(worker.group == "sidebar" and worker.is_running for worker in self.workers)

    @property
    def approval_bar(self) -> ApprovalBar:
        return self.query_one(ApprovalBar)

    async def on_mount(self) -> None:
        self.sidebar.conversation_list.now = self.chat_app.clock
        self.prompt.focus()
        opened = False
        if self.chat_app.open_conversation:
            opened = await self.open_conversation(self.chat_app.open_conversation)
        if not opened:
            await self.start_new_conversation()
        self.refresh_sidebar()
        self._read_windows()
        self.set_interval(WATCH_SECONDS, self._watch_directory)
        self.set_interval(1.0, self._save_draft_if_changed)
        self.set_interval(30, self.sidebar.conversation_list.refresh)  # "5 min ago" ages

    def _prepare_client(self) -> None:
        """Importing the SDK takes about a second: begin once the first screen is up and the
        first conversations are listed, so that neither the first paint nor the first
        request waits for it, and the listing does not either. The sidebar's thread reads
        thousands of files' metadata, and each call gives up the interpreter: beside an
        import that holds it, each waits a switch interval for it back (the first listing
        of 10,000 conversations without an index took 0.46 s instead of 0.04 s)."""
        if self._client_prepared:
            return
        self._client_prepared = True
        if self._configured:
            self.chat_app.client_for(self.conversation.provider).prepare()

    @work(thread=True, group="windows", exit_on_error=False, description="read known windows")
    def _read_windows(self) -> None:
        """Read the remembered context windows, then show the open conversation's figure."""
        self.chat_app.windows.memory.load()
        self.app.call_from_thread(self._show_idle_status)

    @property
    def _configured(self) -> bool:
        provider = self.chat_app.settings.provider_named(self.conversation.provider)
        return provider.is_configured

    # -- showing a conversation ------------------------------------------------------------

    def placeholder(self) -> str:
        if not self._configured:
            config = self.chat_app.settings.config_path
            return SETUP_HINT.format(config=config)
        return "Ask anything. Enter sends, ctrl+j adds a line, Esc stops a reply."

    async def _show(self, conversation: Conversation) -> None:
        async with self._switching:
            await self._switch_to(conversation)

    async def _switch_to(self, conversation: Conversation) -> None:
        previous = self._replies.get(self.conversation.id)
        if previous is not None:
            await self._detach_reply(previous)
        await self._cancel_edit()
        leaving, arriving = self._draft_key(self.conversation), self._draft_key(conversation)
        if leaving != arriving:
            self._keep_draft(leaving, self.prompt.text)
            await self._swap_attached(leaving, arriving)
        if self.conversation is not conversation:
            self.cache.keep_recent(self.conversation)
        self.conversation = conversation
        if leaving != arriving or not self.prompt.text:
            # (At start-up both are the new conversation: keep anything typed meanwhile.)
            draft = await asyncio.to_thread(self.chat_app.drafts.load, arriving)
            if draft or leaving != arriving:
                self.prompt.load_draft(draft)
            self._draft_changed = False
        self.prompt.prompt_history = [m.content for m in conversation.messages if m.role == "user"]
        await self.log_view.show(conversation.messages, placeholder=self.placeholder())
        await self.mark_context()
        state = self._replies.get(conversation.id)
        if state is not None:
            self._attach_reply(state)
        self._update_question()
        self.update_top_bar()
        self.sidebar.conversation_list.mark(current_id=conversation.id)
        self._show_idle_status()

    def update_top_bar(self) -> None:
        conversation = self.conversation
        title = conversation.title or "New conversation"
        if conversation.read_only:
            title += "  (read-only: written by a newer chat-tui)"
        if conversation.id in self._unsaved:
            title += "  ⚠ not saved yet"
        self.query_one("#conversation-title", Static).update(Content(one_line(title)))
        provider = self.chat_app.settings.provider_named(conversation.provider)
        model = conversation.model or "the server's model"
        label = model if provider.name == "default" else f"{model} · {provider.name}"
        defaults = self.chat_app.settings.generation_for(conversation.provider, conversation.model)
        shown = conversation.settings.over(defaults).summary()
        label += f" · {shown}" if shown else ""
        self.query_one("#conversation-model", Static).update(Content(one_line(label)))

    def _show_idle_status(self) -> None:
        if self.conversation.id in self._replies:
            return
        last = next(
            (m for m in reversed(self.conversation.messages) if m.role == "assistant"), None
        )
        if last is not None and last.error:
            self.status.show(last.error, "error")
            return
        figure, near = self._context_figure()
        used = usage_line(last.usage) if last is not None and last.usage is not None else ""
        self.status.show(" · ".join(p for p in (used, figure) if p), "warning" if near else "info")

    def _context_figure(self) -> tuple[str, bool]:
        """`context 3.1k / 8k`, and whether that is near the limit; nothing while the
        window is not known (a count alone says nothing about room left)."""
        conversation = self.conversation
        if not conversation.model:
            return "", False
        client = self.chat_app.client_for(conversation.provider)
        window = self.chat_app.windows.known(client, conversation.model)
        if window is None:
            return "", False
        used = in_context(conversation, window)
        near = used >= NEAR_FULL * window or context_start(conversation) is not None
        return f"context {tokens_short(used)} / {tokens_short(window)}", near

    async def start_new_conversation(self) -> None:
        try:
            conversation = new_conversation(self.chat_app.settings)
        except PresetError as error:
            self.notify(display_text(str(error)), severity="error", markup=False)
            conversation = new_conversation(replace(self.chat_app.settings, preset=None))
        await self._show(conversation)

    async def open_conversation(self, conversation_id: str) -> bool:
        """Show a saved conversation (loaded in a thread); False if it cannot be read."""
        if conversation_id == self.conversation.id:
            return True
        conversation = self.cache.streaming(conversation_id) or await self._reopen(conversation_id)
        if conversation is None:
            try:
                conversation = await asyncio.to_thread(self.chat_app.store.load, conversation_id)
            except StoreError as error:
                self.notify(
                    display_text(str(error)), title="Cannot open", severity="error", markup=False
                )
                return False
        await self._show(conversation)
        return True

    async def _reopen(self, conversation_id: str) -> Conversation | None:
        """A recently left conversation, if its file is still there and unchanged."""
        recent = self.cache.take_recent(conversation_id)
        if recent is None:
            return None
        unchanged = await asyncio.to_thread(self.chat_app.store.is_as_last_seen, conversation_id)
        return recent if unchanged else None

    # -- drafts ----------------------------------------------------------------------------

    @staticmethod
    def _draft_key(conversation: Conversation) -> str:
        return conversation.id if conversation.messages else NEW_CONVERSATION

    @on(TextArea.Changed, "#prompt")
    def _prompt_changed(self) -> None:
        self._draft_changed = True
        state = self._replies.get(self.conversation.id)
        if state is not None and state.renderer is not None:
            state.renderer.person_typed()

    def _save_draft_if_changed(self) -> None:
        """Runs every second: what is typed survives a crash or a closed terminal."""
        if self._draft_changed and self._editing is None:
            self._draft_changed = False
            self._keep_draft(self._draft_key(self.conversation), self.prompt.text)

    async def save_draft_now(self) -> None:
        """Write what was typed since the last tick (before quitting: the tick may not come)."""
        if self._draft_changed and self._editing is None:
            self._draft_changed = False
            await self._write_draft(self._draft_key(self.conversation), self.prompt.text)

    def _keep_draft(self, key: str, text: str) -> None:
        self.run_worker(self._write_draft(key, text), group="drafts", exit_on_error=False)

    async def _write_draft(self, key: str, text: str) -> None:
        async with self._draft_lock:
            await asyncio.to_thread(self.chat_app.drafts.save, key, text)

    # -- the sidebar -----------------------------------------------------------------------

    @property
    def summaries(self) -> list[ConversationSummary]:
        """Every saved conversation, most recent first, as last listed."""
        return self._summaries

    async def open_from_palette(self, conversation_id: str) -> None:
        await self.open_conversation(conversation_id)
        self.prompt.focus()

    @work(thread=True, exclusive=True, group="sidebar", exit_on_error=False)
    def refresh_sidebar(self) -> None:
        """Re-index changed files and list conversations, off the event loop.

        The first time, the newest conversations the index knows are listed at once, before
        the index is checked against the files (10,000 of them take a moment). Files the
        index has yet to read (all of them, the first time on a new machine) are listed from
        their headers as soon as those are read, and read whole in the background, the
        progress shown under the search box; the list and any search follow.
        """
        store = self.chat_app.store
        if self.chat_app.closing:
            return
        if not self._summaries:
            newest = store.summaries(limit=FIRST_ROWS)
            if newest:
                self._post_listing(newest)
                self._preload_markdown()
        try:
            problems = store.refresh(
                progress=self._indexing, wait=False, listed=self._list_from_headers
            )
            busy = False
        except IndexBusy:
            # Another chat-tui is writing the index: list what it holds so far (reading
            # never waits for a writer) and look again on the next tick.
            problems, busy = store.problems(), True
        if self.chat_app.closing:  # the refresh gave up: the app is quitting
            return
        self._post_listing(store.summaries(), problems, busy=busy, done=True)
        self._preload_markdown()

    def _preload_markdown(self) -> None:
        """Not needed for an empty conversation, so not loaded before the first paint (and
        not before the first listing); here, not in a thread of its own, so the two do not
        fight over the interpreter."""
        if not self._markdown_preloaded:
            self._markdown_preloaded = True
            preload_markdown()

    def _post_listing(
        self,
        summaries: list[ConversationSummary],
        problems: list[Problem] | None = None,
        *,
        busy: bool = False,
        done: bool = False,
    ) -> None:
        """From the sidebar's thread: show `summaries`, and the search's hits again."""
        store = self.chat_app.store
        rows = [_row(s) for s in summaries]
        query = self.sidebar.query_text
        hits = store.search(query) if query else None
        coverage = None if done else store.coverage()
        self.app.call_from_thread(
            self._sidebar_loaded, summaries, rows, hits, problems or [], busy, coverage
        )

    def _list_from_headers(self) -> None:
        """The refresh lists files it has yet to read whole from their headers."""
        if not self.chat_app.closing:
            self._post_listing(self.chat_app.store.summaries())
            self._preload_markdown()

    def _indexing(self, done: int, total: int) -> None:
        """Progress of the refresh: shown under the search box, whose hits fill in."""
        if done >= total or self.chat_app.closing:
            return
        query = self.sidebar.query_text
        hits = self.chat_app.store.search(query) if query else None
        self.app.call_from_thread(self._indexed_more, (done, total), query, hits)

    def _indexed_more(
        self, coverage: tuple[int, int], query: str, hits: list[SearchHit] | None
    ) -> None:
        if hits is not None and query == self.sidebar.query_text:
            self._show_hits(hits)
        self._show_coverage(coverage)

    def _show_coverage(self, coverage: tuple[int, int] | None) -> None:
        """How far the index has got, worded for the list or for a search."""
        self._coverage = coverage
        if coverage is None:
            self.sidebar.set_status("")
            return
        done, total = coverage
        if self.sidebar.query_text:
            self.sidebar.set_status(f"Searched {done:,} of {total:,} conversations…")
        else:
            self.sidebar.set_status(f"Indexing conversations… {done:,} of {total:,}")

    def _sidebar_loaded(
        self,
        summaries: list[ConversationSummary],
        rows: list[Row],
        hits: list[SearchHit] | None,
        problems: list[Problem],
        busy: bool = False,
        coverage: tuple[int, int] | None = None,
    ) -> None:
        self._summaries = summaries
        self._rows = rows
        if hits is not None:
            self._show_hits(hits)
        elif not self.sidebar.query_text:
            self.sidebar.set_rows(rows)
        if busy:
            self._directory_stamp = None  # the next look at the directory tries again
            self.sidebar.set_status(WAITING_FOR_INDEX)
            if not rows and hits is None:
                self.sidebar.set_empty_text(WAITING_FOR_INDEX)
        else:
            self._show_coverage(coverage)
        self._report_problems(problems)
        self._report_cannot_save()
        self._prepare_client()

    def _show_hits(self, hits: list[SearchHit]) -> None:
        self.sidebar.set_rows([_row(hit.summary, hit.snippet) for hit in hits])

    def _report_problems(self, problems: list[Problem]) -> None:
        fresh = [p for p in problems if str(p.path) not in self._reported]
        if not fresh:
            return
        self._reported.update(str(p.path) for p in fresh)
        lines = [display_text(f"{p.path.name} {p.reason}") for p in fresh[:5]]
        if len(fresh) > 5:
            lines.append(f"…and {len(fresh) - 5} more")
        self.notify(
            "\n".join(lines) + "\nThese files were left untouched.",
            title="Some conversations could not be read",
            severity="warning",
            timeout=15,
            markup=False,
        )

    def _report_cannot_save(self) -> None:
        """Once per session: the data directory cannot be written (a read-only mount, say)."""
        reason = self.chat_app.store.cannot_save
        if reason is None or self._told_cannot_save:
            return
        self._told_cannot_save = True
        self.notify(
            display_text(reason) + "\nConversations can be read and opened. What you write "
            "stays in memory, and is saved once the directory can be written.",
            title="Nothing can be saved",
            severity="warning",
            timeout=20,
            markup=False,
        )

    @on(SearchChanged)
    def _search_changed(self, event: SearchChanged) -> None:
        self._show_coverage(self._coverage)  # worded for a search, or not
        if not event.query:
            self.sidebar.set_rows(self._rows)
            return
        self._search(event.query)

    @work(thread=True, exclusive=True, group="search", exit_on_error=False)
    def _search(self, query: str) -> None:
        store = self.chat_app.store
        hits = store.search(query)
        self.app.call_from_thread(self._search_done, query, hits, store.coverage())

    def _search_done(
        self, query: str, hits: list[SearchHit], coverage: tuple[int, int] | None
    ) -> None:
        if query == self.sidebar.query_text:
            self._show_hits(hits)
            if coverage is not None:
                self._show_coverage(coverage)

    def _watch_directory(self) -> None:
        """Pick up conversations other chat-tui windows saved."""
        if self.chat_app.closing:
            return
        try:
            stamp = self.chat_app.store.conversations_dir.stat().st_mtime_ns
        except OSError:
            return
        if stamp != self._directory_stamp:
            self._directory_stamp = stamp
            self.refresh_sidebar()
            self._reload_open_conversation(self.conversation)

    @work(
        thread=True,
        exclusive=True,
        group="reload",
        exit_on_error=False,
        description="read the open conversation again",
    )
    def _reload_open_conversation(self, conversation: Conversation) -> None:
        """Another window saved the open conversation: read it to show its messages too."""
        if conversation.read_only or conversation.id in self._replies:
            return
        store = self.chat_app.store
        if not conversation.messages or not store.replaced_elsewhere(conversation.id):
            return
        try:
            theirs = store.load(conversation.id)
        except StoreError:
            return
        # Textual awaits what a coroutine function returns; its annotation cannot say so.
        self.app.call_from_thread(self._adopt_from_disk, conversation, theirs)  # type: ignore[arg-type]

    async def _adopt_from_disk(self, conversation: Conversation, theirs: Conversation) -> None:
        if conversation is not self.conversation or conversation.id in self._replies:
            return
        merged = merge_conversations(theirs, conversation)
        conversation.messages = merged.messages
        conversation.revision = max(conversation.revision, theirs.revision)
        conversation.updated_at = merged.updated_at
        await self._show_messages(conversation)
        self._show_idle_status()

    @on(ConversationChosen)
    async def _conversation_chosen(self, event: ConversationChosen) -> None:
        await self.open_conversation(event.conversation_id)
        self.prompt.focus()

    # -- sending ---------------------------------------------------------------------------

    @on(PromptSubmitted)
    async def _prompt_submitted(self, event: PromptSubmitted) -> None:
        text = event.text
        if text.strip().lower() in QUIT_COMMANDS:
            self.prompt.clear()
            self._draft_changed = False
            kept = self._parked.text if self._parked is not None else ""  # (quit mid-edit)
            await self._write_draft(self._draft_key(self.conversation), kept)
            await self.chat_app.action_quit()
            return
        async with self._switching:
            if event.draft == self.prompt.drafts_loaded:
                await self._send(text)
            else:
                self.status.show(
                    "Not sent: another conversation opened as you pressed Enter. Your text "
                    "is kept with the conversation you wrote it in.",
                    "warning",
                )

    async def _send(self, text: str) -> None:
        """Send `text` with the chips above the box, in the conversation shown."""
        conversation = self.conversation
        if conversation.read_only:
            self.status.show(
                "This conversation is read-only; start a new one with ctrl+n.", "error"
            )
            return
        if conversation.id in self._replies:
            self.status.show("A reply is still streaming: press Esc to stop it first.", "error")
            return
        if not self._configured:
            self.status.show("No server configured yet: set one up first.", "error")
            self.action_setup_server()
            return
        attachments = list(self._attached)
        if attachments and not await self._store_attached():
            return
        parked, self._parked = self._parked, None
        self._keep_draft(self._draft_key(conversation), parked.text if parked else "")
        self.prompt.accept(text)
        self._draft_changed = False
        await (self._unpark(parked) if parked is not None else self._set_attached([]))
        if self._editing is not None:
            index, self._editing = self._editing, None
            sent = Message(role="user", content=text, attachments=attachments)
            conversation.branch(index, [sent])
            await self.log_view.truncate(index)
            message = conversation.messages[index]
        else:
            message = conversation.add_user_message(text, attachments)
        self.chat_app.saver.request(conversation)
        await self.log_view.append(message, len(conversation.messages) - 1)
        self.update_top_bar()
        await self._start_reply(conversation)

    # -- attaching -------------------------------------------------------------------------

    def action_attach_file(self) -> None:
        from chat_tui.tui.screens.attach import AttachDialog
        from chat_tui.typed_paths import working_directory

        def chosen(pending: object) -> None:
            if pending is not None:
                self.run_worker(self._add_attachment(pending), group="attach")  # type: ignore[arg-type]

        self.app.push_screen(AttachDialog(working_directory(), self._refusal), chosen)

    def _refusal(self, attachment: Attachment) -> str | None:
        """Why `attachment` cannot join the message being written, or None."""
        from chat_tui.attachments import AttachmentError, check_message

        if any(a.sha256 == attachment.sha256 for a in self._attached):
            return f"{one_line(attachment.name, 60)} is attached already."
        try:
            check_message([*self._attached, attachment])
        except AttachmentError as error:
            return f"Not attached: {error}."
        return None

    async def _add_attachment(self, pending: PendingAttachment) -> None:
        """Add a file read from disk to the message being written (once per content)."""
        attachment = pending.attachment
        refused = self._refusal(attachment)
        if refused:
            self.status.show(refused, "error")
            return
        self._unstored[attachment.sha256] = pending
        await self._set_attached([*self._attached, attachment])
        self.status.show("")

    async def _swap_attached(self, leaving: str, arriving: str) -> None:
        """The chips stay with the draft they were attached to, for this session."""
        if self._attached:
            self._attached_elsewhere[leaving] = self._draft_attachments()
        kept = self._attached_elsewhere.pop(arriving, NO_ATTACHMENTS)
        if kept.attachments or self._attached:
            await self._restore_attached(kept)

    def _draft_attachments(self) -> DraftAttachments:
        """The chips as they are, to put aside (`_set_attached` replaces, never changes, them)."""
        return DraftAttachments(self._attached, self._unstored)

    def _restore_attached(self, kept: DraftAttachments) -> AwaitComplete:
        self._unstored = dict(kept.unstored)
        return self._set_attached(list(kept.attachments))

    def _set_attached(self, attachments: list[Attachment]) -> AwaitComplete:
        """What goes with the message, at once; the chips follow (done once awaited)."""
        self._attached = attachments
        digests = {a.sha256 for a in attachments}
        self._unstored = {k: v for k, v in self._unstored.items() if k in digests}
        self.prompt.has_attachments = bool(attachments)
        return self.query_one("#attached", AttachmentChips).show(attachments)

    async def _store_attached(self) -> bool:
        """Copy the attached files into the data directory before they are sent (in a
        thread: they can be megabytes); False, said in the status line, if that failed."""
        from chat_tui.attachments import AttachmentError

        store = self.chat_app.store.attachments
        unstored = [self._unstored[a.sha256] for a in self._attached if a.sha256 in self._unstored]
        try:
            for pending in unstored:
                await asyncio.to_thread(store.put, pending)
        except AttachmentError as error:
            self.status.show(f"Not sent: {error}.", "error")
            return False
        return True

    @on(AttachmentRemoved)
    async def _attachment_removed(self, event: AttachmentRemoved) -> None:
        row = self.query_one("#attached", AttachmentChips)
        had_focus = self.focused is not None and self.focused.parent is row
        attached = self._attached
        position = attached.index(event.attachment) if event.attachment in attached else 0
        await self._set_attached([a for a in self._attached if a != event.attachment])
        chips = list(row.children)
        if had_focus:
            (chips[min(position, len(chips) - 1)] if chips else self.prompt).focus()

    @on(PathPasted)
    @work(group="attach", exit_on_error=False, description="check a pasted path")
    async def _path_pasted(self, event: PathPasted) -> None:
        """A paste that names an existing file offers to attach it; anything else is text."""
        from chat_tui.attachments import AttachmentError, read_attachment
        from chat_tui.tui.screens.attach import paste_offer
        from chat_tui.typed_paths import expand, working_directory

        path = expand(event.path, working_directory())
        if not await asyncio.to_thread(path.is_file):
            self.prompt.insert_pasted(event.text)
            return
        if not await self.app.push_screen_wait(paste_offer(path)):
            self.prompt.insert_pasted(event.text)
            return
        try:
            pending = await asyncio.to_thread(read_attachment, path)
        except AttachmentError as error:
            self.status.show(f"Not attached: {error}.", "error")
            return
        await self._add_attachment(pending)

    @on(AttachmentOpened)
    @work(group="attach", exit_on_error=False, description="show an attachment")
    async def _attachment_opened(self, event: AttachmentOpened) -> None:
        """Show a text attachment's content, or an image's size with a way to open it."""
        from chat_tui.attachments import AttachmentError, image_dimensions
        from chat_tui.tui.screens.attach import AttachmentViewer

        attachment = event.attachment
        store = self.chat_app.store.attachments
        pending = self._unstored.get(attachment.sha256)
        try:
            if pending is not None:  # (stored now, so the viewer has a file to open)
                await asyncio.to_thread(store.put, pending)
            if attachment.kind == "text":
                text = await asyncio.to_thread(store.text_of, attachment)
                viewer = AttachmentViewer(attachment, text=text)
            else:
                data = await asyncio.to_thread(store.bytes_of, attachment)
                # (The dimensions are in the first bytes: no need for a thread.)
                size, path = image_dimensions(data), store.path_of(attachment)
                viewer = AttachmentViewer(attachment, dimensions=size, path=path)
        except AttachmentError as error:
            self.status.show(f"Cannot show it: {error}.", "error")
            return
        self.app.push_screen(viewer)

    async def _start_reply(self, conversation: Conversation, replacing: int | None = None) -> None:
        """Stream a new reply: appended, or as a new version of the reply at `replacing`."""
        if replacing is None:
            reply = conversation.add_reply(conversation.model)
        else:
            reply = Message(
                role="assistant", content="", status="streaming", model=conversation.model
            )
            conversation.branch(replacing, [reply])
            reply = conversation.messages[replacing]  # branching copies the head message
            if conversation is self.conversation:
                await self.log_view.truncate(replacing)
        index = len(conversation.messages) - 1
        state = ReplyState(conversation, reply, index, heap_at_start=self.chat_app.collector.heap())
        self._replies[conversation.id] = state
        self.cache.hold_streaming(conversation)
        if conversation is self.conversation:
            await self.log_view.append(reply, index)
            # A view the log already replaced (another process changed the conversation)
            # gets nothing; `_show_messages` attaches the new one.
            self._attach_reply(state)
            self.status.show("Waiting for the first token…", "busy")
        self._mark_streaming()
        state.worker = self._reply_worker(state)

    # A description, or Textual makes one from the repr of the arguments: the whole
    # conversation, 50 ms on the event loop for 2,000 messages.
    @work(group="reply", exit_on_error=False, description="stream a reply")
    async def _reply_worker(self, state: ReplyState) -> None:
        """Stream the reply, with the tools of the conversation's servers on offer: each
        turn and call appears in the log as it comes, and calls not allowed ahead of time
        are asked about in the approval bar."""
        # Here, not at the top: start-up does not need the tool loop.
        from chat_tui.tools.loop import ReplyHooks, reply_with_tools

        app = self.chat_app
        conversation = state.conversation
        ticker = self.set_interval(0.1, lambda: self._tick(state))
        hooks = ReplyHooks(
            on_text=lambda text: self._show_text(state, text),
            on_reasoning=lambda reasoning: self._show_reasoning(state, reasoning),
            on_message=lambda message: self._turn_joined(state, message),
            on_call=lambda call: self._call_changed(state, call),
            on_notice=self._tool_notice,
            checkpoint=lambda: app.saver.request(conversation, checkpoint=True),
            on_fitted=lambda _message: self._mark_context_of(state),
        )
        try:
            client = app.client_for(conversation.provider)
            if not (state.message.model or conversation.model):
                state.phase = f"Asking {client.server_label} which model it serves…"
                if not await self._choose_served_model(state, client):
                    return
            servers = app.tool_servers_for(conversation)
            toolbox = app.toolbox() if servers else None
            if toolbox is not None and not app.tools_started(servers):
                state.phase = "Starting the tool servers…"
            model = state.message.model or conversation.model
            await reply_with_tools(
                conversation,
                client,
                model=model,
                toolbox=toolbox,
                servers=servers,
                approve=lambda call: self._ask(state, call),
                max_rounds=app.settings.max_tool_rounds,
                hooks=hooks,
                next_steps=self._next_steps(),
                reply=state.message,
                windows=app.windows,
                attachments=app.store.attachments,
                defaults=app.settings.generation_for(conversation.provider, model),
            )
        except Exception as error:  # a bug, not the server: the reply says so and ends
            state.message.status = "failed"
            why = one_line(str(error)) or type(error).__name__
            state.message.error = f"Unexpected error: {why}"
        finally:
            ticker.stop()
            await self._finish_reply(state)

    async def _choose_served_model(self, state: ReplyState, client: ChatClient) -> bool:
        """Give a conversation that names no model the one its server serves; when it
        serves several (or cannot say), the reply fails saying so, and the picker opens."""
        conversation = state.conversation
        choose = self._key_for("model.choose", "ctrl+o")
        retry = self._key_for("reply.regenerate", "ctrl+r")
        try:
            conversation.model = await served_model(
                client, choose_with=f"choose one with {choose}, then press {retry}"
            )
        except NoServedModel as problem:
            state.message.status = "failed"
            state.message.error = str(problem)
            if problem.models and conversation is self.conversation:
                self.action_choose_model()
            return False
        state.message.model = conversation.model
        if state.view is not None:
            state.view.refresh_meta()
        if conversation is self.conversation:
            self.update_top_bar()
        return True

    def _show_text(self, state: ReplyState, text: str) -> None:
        if state.renderer is not None:
            state.renderer.write(text)

    def _show_reasoning(self, state: ReplyState, reasoning: str) -> None:
        if state.view is not None:
            state.view.show_reasoning(reasoning)

    def _turn_joined(self, state: ReplyState, message: Message) -> None:
        """The reply added a message: its next assistant turn, or a tool's result."""
        state.phase = ""
        if message is state.message:
            return
        index = len(state.conversation.messages) - 1
        if message.role != "assistant":
            self._in_order(state, lambda: self._add_view(state, message, index))
            return
        finished, stream, view = state.message, state.renderer, state.view
        state.message, state.index, state.renderer, state.view = message, index, None, None
        state.turn_started = time.monotonic()

        async def next_turn() -> None:
            if stream is not None:
                await stream.finish(finished.content)
            if view is not None and view.is_attached:
                view.live = False
                view.refresh_meta()
            await self._add_view(state, message, index)
            if state.message is message and state.renderer is None:
                self._attach_reply(state)

        self._in_order(state, next_turn)

    async def _add_view(self, state: ReplyState, message: Message, index: int) -> None:
        """Show a message the reply added, unless the log shows it already (it was shown
        again meanwhile) or shows another conversation."""
        if state.conversation is self.conversation and self.log_view.view_for(index) is None:
            await self.log_view.append(message, index)

    def _mark_context_of(self, state: ReplyState) -> None:
        """The reply's request was fitted: mark where it begins, if the log shows it (a
        reply in another conversation leaves the log as it is)."""
        if state.conversation is self.conversation:
            self._in_order(state, self.mark_context)

    def _in_order(self, state: ReplyState, step: Callable[[], Awaitable[None]]) -> None:
        """Run `step` (a change to the log) after the reply's earlier ones."""
        previous = state.ui

        async def run() -> None:
            if previous is not None:
                await asyncio.wait([previous])
            # Nothing to change once the log is gone (the app is closing) or was replaced.
            with contextlib.suppress(NoMatches, MountError):
                await step()

        state.ui = asyncio.create_task(run())

    def _call_changed(self, state: ReplyState, call: ToolCall) -> None:
        if call.status == "running":
            if state.running is None or state.running[0] is not call:
                state.running = (call, time.monotonic())
        elif state.running is not None and state.running[0] is call:
            state.running = None
        if state.view is not None and state.view.is_attached:
            state.view.calls_changed()

    def _tool_notice(self, text: str) -> None:
        """A server that did not start or stopped, tools left out or refused: said once; or
        a request sent again with the messages that fit the model's context."""
        title = "Context" if text.startswith(REFITTED) else "Tools"
        self.notify(display_text(text), title=title, severity="warning", timeout=20, markup=False)

    async def _ask(self, state: ReplyState, call: ToolCall) -> Decision:
        """The reply's approver: wait for the person's answer in the approval bar (shown
        while the conversation is open)."""
        from chat_tui.tools.approvals import Decision

        answer: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        state.question = Question(call, answer)
        self._update_question()
        if state.conversation is not self.conversation:
            title = one_line(state.conversation.title or "New conversation", 40)
            self.notify(
                f"A tool call in “{title}” waits for your answer.", title="Tools", markup=False
            )
        try:
            return Decision(await answer)
        finally:
            state.question = None
            self._update_question()

    def _update_question(self) -> None:
        """Show the question of the open conversation's reply, if it has one."""
        state = self._replies.get(self.conversation.id)
        question = state.question if state is not None else None
        bars = self.query(ApprovalBar)
        if not bars:
            return  # the screen is being taken down
        self._mark_streaming()  # a question waiting in another conversation shows there
        bar = bars.first()
        if question is None:
            bar.withdraw()
        else:
            once = self._key_for("tool.allow_once", "y")
            always = self._key_for("tool.allow_always", "a")
            deny = " or ".join(
                key_label(key.strip())
                for key in (app_keymap(self.app).get("tool.deny") or "n,escape").split(",")
            )
            keys = f"{once} run it once · {always} always allow this tool · {deny} deny"
            bar.ask(question.call, question.answer, keys)
            self.log_view.scroll_end(animate=False)
        if state is not None and state.view is not None and state.view.is_attached:
            state.view.asking = question.call.id if question is not None else None
            state.view.calls_changed()

    def _next_steps(self) -> dict[str, str]:
        """What to do after a failed reply, with the keys as currently bound."""
        retry = self._key_for("reply.regenerate", "ctrl+r")
        model = self._key_for("model.choose", "ctrl+o")
        new = self._key_for("conversation.new", "ctrl+n")
        return {
            "retry": f"Press {retry} to retry.",
            "model": f"Choose another model with {model}.",
            "context": "Summarise earlier messages (palette: conversation: summarise earlier "
            f"messages), start a new conversation ({new}) or choose a model with a larger "
            f"context window ({model}).",
        }

    def _key_for(self, binding_id: str, default: str) -> str:
        """The first key of a binding as installed: the checked keymap, not the raw
        `[keys]` table, so a key the config got wrong never appears in a hint."""
        remapped = app_keymap(self.app).get(binding_id, "")
        return key_label(remapped.split(",")[0].strip() or default)

    def _tick(self, state: ReplyState) -> None:
        """What the reply is doing, with the time it has taken so far."""
        if state.conversation is self.conversation:
            self.status.show(self._progress(state), "busy")

    def _progress(self, state: ReplyState) -> str:
        if state.question is not None:
            return f"{call_label(state.question.call)} waits for your answer."
        if state.running is not None:
            call, since = state.running
            took = time.monotonic() - since
            return f"Running {call_label(call)}… {took:.1f} s  (Esc to stop)"
        if state.phase:
            return f"{state.phase}  (Esc to stop)"
        elapsed = time.monotonic() - state.turn_started
        if not state.message.content:
            return f"Thinking… {elapsed:.1f} s  (Esc to stop)"
        words = len(state.message.content.split())
        return f"Streaming… {elapsed:.1f} s · {words:,} words  (Esc to stop)"

    async def _finish_reply(self, state: ReplyState) -> None:
        self._finishing += 1
        try:
            await self._end_reply(state)
        finally:
            self._finishing -= 1

    async def _end_reply(self, state: ReplyState) -> None:
        """Save and mark the ended reply; a failure to draw it is reported, not fatal."""
        conversation = state.conversation
        self._replies.pop(conversation.id, None)
        self.cache.release_streaming(conversation.id)
        # Its dot goes now, before anything below can fail or wait: the log may be re-shown
        # while the final text renders (another process's save merged in), and the dot
        # stayed until the next reply anywhere when that took the view away.
        self._mark_streaming()
        state.question = state.running = None
        if conversation is self.conversation:
            self._update_question()
        if state.ui is not None:  # the changes to the log the reply asked for, all made
            await asyncio.wait([state.ui])
        conversation.touch()
        self.chat_app.saver.request(conversation)
        stream, view = state.renderer, state.view
        state.renderer = state.view = None
        try:
            if stream is not None:
                if state.quitting:
                    await stream.stop()
                else:
                    await stream.finish(state.message.content)
            if view is not None:
                view.live = False
                view.refresh_meta()
                view.calls_changed()
        except Exception as error:  # a bug in drawing: the screen must not stay "streaming"
            self.notify(
                display_text(
                    f"{type(error).__name__}: {error}\n"
                    "The reply is saved: open the conversation again to see all of it."
                ),
                title="The reply could not be shown",
                severity="error",
                timeout=30,
                markup=False,
            )
        if conversation is self.conversation:
            self._show_idle_status()
            self.update_top_bar()
        self.post_message(ReplyDrawn())
        self.chat_app.collector.reply_ended(state.heap_at_start)

    def _attach_reply(self, state: ReplyState) -> None:
        view = self.log_view.view_for(state.index)
        # The log may show another conversation by now (a switch while a view was mounting).
        if view is not None and view.message is state.message:
            state.renderer = view.start_rendering()
            state.view = view if state.renderer is not None else None
        if state.view is not None:
            state.view.live = True
            state.view.calls_changed()

    async def _detach_reply(self, state: ReplyState) -> None:
        stream, state.renderer, state.view = state.renderer, None, None
        if stream is not None:
            await stream.stop()

    def _mark_streaming(self) -> None:
        waiting = {cid for cid, state in self._replies.items() if state.question is not None}
        self.sidebar.conversation_list.mark(streaming=set(self._replies), waiting=waiting)

    def live_replies(self) -> list[tuple[Message, Conversation]]:
        """Every reply streaming right now, with its conversation."""
        return [(state.message, state.conversation) for state in self._replies.values()]

    def live_message(self, conversation: Conversation) -> Message | None:
        state = self._replies.get(conversation.id)
        return state.message if state is not None else None

    # -- stopping --------------------------------------------------------------------------

    def action_stop_reply(self) -> None:
        """Esc: stop the streaming reply or the summary being written, or leave editing a
        message."""
        state = self._replies.get(self.conversation.id)
        if state is not None and state.worker is not None:
            state.worker.cancel()
        elif self.stop_summary():
            pass
        elif self._editing is not None:
            self._cancel_edit()
            self.status.show("")

    async def stop_reply(self, conversation_id: str) -> None:
        """Cancel the reply streaming in that conversation, if one is, and wait until its
        request has ended and it has been marked and its save requested."""
        state = self._replies.get(conversation_id)
        if state is not None and state.worker is not None:
            state.worker.cancel()
            with contextlib.suppress(WorkerCancelled, WorkerFailed):
                await state.worker.wait()

    async def stop_all_replies(self) -> None:
        """The app is quitting: cancel every streaming reply and wait until each has been
        marked and its save requested.

        A stopped reply is not drawn again in full, as Esc has it drawn: for a long reply
        that is most of what the quit would wait for, and the screen is about to go. If the
        quit is called off (a conversation could not be saved), `redraw` draws it.
        """
        stopping = [(s, s.worker) for s in self._replies.values() if s.worker is not None]
        for state, worker in stopping:
            state.quitting = True
            worker.cancel()
        for _, worker in stopping:
            with contextlib.suppress(WorkerCancelled, WorkerFailed):
                await worker.wait()

    async def redraw(self) -> None:
        """Draw the open conversation again in full (after a quit that was called off)."""
        if self.conversation.messages:  # an empty one shows its placeholder, untouched
            await self._show_messages(self.conversation)

    # -- saving feedback -------------------------------------------------------------------

    def save_failed(self, conversation: Conversation, error: StoreError) -> None:
        self.status.show(f"Not saved: {error}. Retrying…", "error", about=_UNSAVED)
        if conversation.id not in self._unsaved:
            self._unsaved.add(conversation.id)
            self._save_state_changed(conversation, error)

    def _save_state_changed(self, conversation: Conversation, error: StoreError | None) -> None:
        """Tell the person when a conversation stops being saved, and when it is saved again."""
        title = one_line(conversation.title or "New conversation", 40)
        if error is not None:
            text = f"{error}\nIt stays in memory and chat-tui keeps retrying."
            self.notify(
                display_text(text),
                title=f"Not saved: {title}",
                severity="error",
                timeout=30,
                markup=False,
            )
        else:
            self.notify("Everything is on disk again.", title=f"Saved: {title}", markup=False)
        if conversation is self.conversation:
            self.update_top_bar()

    def saved(self, conversation: Conversation) -> None:
        if conversation.id in self._unsaved:
            self._unsaved.discard(conversation.id)
            self._save_state_changed(conversation, None)
            if not self._unsaved and self.status.about == _UNSAVED:
                self._show_idle_status()
        if conversation.id not in {s.id for s in self._summaries}:
            self.refresh_sidebar()

    def merged(self, conversation: Conversation) -> None:
        """Another window changed this conversation; show the union if it is open and idle."""
        if conversation is self.conversation and conversation.id not in self._replies:
            self.run_worker(self._show_messages(conversation), group="rerender")

    async def _show_messages(self, conversation: Conversation) -> None:
        """Re-show the open conversation (another process changed it). A reply started
        while the log was being replaced streams into its new view."""
        await self.log_view.show(conversation.messages)
        if conversation is self.conversation:
            await self.mark_context()
        state = self._replies.get(conversation.id)
        if state is not None and (state.view is None or not state.view.is_attached):
            await self._detach_reply(state)
            self._attach_reply(state)

    # -- actions ---------------------------------------------------------------------------

    async def action_new_conversation(self) -> None:
        if not self.conversation.messages:
            self.prompt.focus()
            return
        await self.start_new_conversation()
        self.prompt.focus()

    async def action_regenerate(self) -> None:
        """Retry a failed reply or ask for another version of the last one."""
        conversation = self.conversation
        if conversation.id in self._replies:
            self.status.show("A reply is still streaming: press Esc to stop it first.", "error")
            return
        if conversation.read_only or not conversation.messages:
            return
        if not self._configured:
            self.status.show("No server configured yet: see the instructions above.", "error")
            return
        last = len(conversation.messages) - 1
        if conversation.messages[last].role == "assistant":
            await self._start_reply(conversation, replacing=last)
        else:
            await self._start_reply(conversation)

    async def action_step_version(self, step: int) -> None:
        """Step the versions of the focused message, else of the last one that has several."""
        focused = self.focused
        if isinstance(focused, MessageView) and focused.message.variant_count > 1:
            index = focused.index
        else:
            candidates = [
                i for i, m in enumerate(self.conversation.messages) if m.variant_count > 1
            ]
            if not candidates:
                self.status.show("This conversation has only one version of each message.")
                return
            index = candidates[-1]
        await self._step_variant(index, step)

    @on(VariantStep)
    async def _variant_step(self, event: VariantStep) -> None:
        await self._step_variant(event.index, event.step)

    async def _step_variant(self, index: int, step: int) -> None:
        conversation = self.conversation
        if conversation.id in self._replies or not 0 <= index < len(conversation.messages):
            return
        message = conversation.messages[index]
        target = message.variant + step
        if not 0 <= target < message.variant_count:
            return
        conversation.select_variant(index, target)
        await self.log_view.truncate(index)
        for position in range(index, len(conversation.messages)):
            await self.log_view.append(conversation.messages[position], position)
        self.chat_app.saver.request(conversation)
        self._show_idle_status()

    def action_edit_last_prompt(self) -> None:
        conversation = self.conversation
        if conversation.id in self._replies or conversation.read_only:
            self.status.show("Wait for the reply to finish (or stop it with Esc) first.", "error")
            return
        index = next(
            (
                i
                for i in range(len(conversation.messages) - 1, -1, -1)
                if conversation.messages[i].role == "user"
            ),
            None,
        )
        if index is None:
            self.status.show("There is no message of yours to edit yet.", "error")
            return
        if self._editing is None:  # (editing again keeps the draft put aside first)
            self._parked = ParkedDraft(self.prompt.text, self._draft_attachments())
            self._draft_changed = False
            self._keep_draft(self._draft_key(conversation), self.prompt.text)
        self._editing = index
        self.prompt.load_text(conversation.messages[index].content)
        self._set_attached(list(conversation.messages[index].attachments))
        self.prompt.move_cursor(self.prompt.document.end)
        self.prompt.focus()
        self.status.show(
            "Editing your last message: Enter sends it as a new version, Esc cancels.", "busy"
        )

    def _cancel_edit(self) -> AwaitComplete:
        """Leave editing: what the person was writing before is back in the box."""
        parked, self._parked = self._parked, None
        editing, self._editing = self._editing, None
        if editing is None:
            return AwaitComplete()  # (nothing to wait for)
        return self._unpark(parked or ParkedDraft("", NO_ATTACHMENTS))

    def _unpark(self, parked: ParkedDraft) -> AwaitComplete:
        self.prompt.load_text(parked.text)
        self.prompt.move_cursor(self.prompt.document.end)
        self._draft_changed = False
        return self._restore_attached(parked.attachments)

    def action_toggle_sidebar(self) -> None:
        sidebar = self.sidebar
        sidebar.toggle_class("-hidden")
        if sidebar.has_class("-hidden") and sidebar.has_focus_within:
            self.prompt.focus()

    def on_link_activated(self, event: LinkActivated) -> None:
        """A link in a reply was clicked: show where it goes and let the person decide."""
        from chat_tui.tui.screens.link import LinkScreen

        self.app.push_screen(LinkScreen(event.href))

    def action_focus_search(self) -> None:
        self.sidebar.remove_class("-hidden")
        self.sidebar.search_box.focus()

    # -- tools -----------------------------------------------------------------------------

    def action_list_tools(self) -> None:
        """The MCP servers and their tools; those this conversation uses are started."""
        from chat_tui.tui.screens.tools import ToolsDialog, server_listing

        app = self.chat_app
        on = app.tool_servers_for(self.conversation)
        if not app.settings.mcp_servers:
            self.app.push_screen(ToolsDialog(server_listing([], on)))
            return
        dialog = ToolsDialog(server_listing(app.toolbox().states(), on))
        self.app.push_screen(dialog)
        self._start_listed(dialog, on)

    @work(group="tools", exit_on_error=False, description="start the listed tool servers")
    async def _start_listed(self, dialog: ToolsDialog, on: list[str]) -> None:
        from chat_tui.tui.screens.tools import server_listing

        toolbox = self.chat_app.toolbox()
        await toolbox.catalogue(on)
        for problem in toolbox.take_problems():
            self._tool_notice(problem)
        if dialog.is_attached:
            dialog.show(server_listing(toolbox.states(), on))

    def action_restart_tool_server(self) -> None:
        from chat_tui.tui.screens.tools import ServerChoiceDialog

        names = list(self.chat_app.settings.mcp_servers)
        if not names:
            self.status.show("No MCP servers are configured (see docs/tools.md).", "error")
        elif len(names) == 1:
            self._restart_server(names[0])
        else:

            def chosen(name: object) -> None:
                if isinstance(name, str):
                    self._restart_server(name)

            self.app.push_screen(ServerChoiceDialog("Restart which server?", names), chosen)

    @work(group="tools", exit_on_error=False, description="restart a tool server")
    async def _restart_server(self, name: str) -> None:
        """Stop the server and start it again at once (a call in flight to it fails)."""
        toolbox = self.chat_app.toolbox()
        shown = one_line(name, 64)
        self.status.show(f"Restarting {shown}…", "busy")
        await toolbox.restart(name)
        catalogue = await toolbox.catalogue([name])
        problems = toolbox.take_problems()
        for problem in problems:
            self._tool_notice(problem)
        if not problems:
            count = len(catalogue)
            self.notify(
                f"{shown} restarted: {count} tool{'' if count == 1 else 's'}.",
                title="Tools",
                markup=False,
            )
        self._show_idle_status()

    # -- copying ---------------------------------------------------------------------------

    def action_copy_last_reply(self) -> None:
        reply = last_reply(self.conversation.messages)
        if reply is None:
            self.notify("There is no reply to copy yet.", title="Copy", severity="warning")
        else:
            self.chat_app.copy_text(reply.content, "the last reply")

    def action_copy_message(self) -> None:
        """Copy the selected message (or the one holding the selected code), else the last."""
        focused = self.focused
        nodes = [focused, *focused.ancestors] if focused is not None else []
        view = next((n for n in nodes if isinstance(n, MessageView)), None)
        if view is not None:
            view.action_copy()
        elif self.conversation.messages:
            self.chat_app.copy_text(self.conversation.messages[-1].content, "the last message")
        else:
            self.notify("There is no message to copy yet.", title="Copy", severity="warning")

    def action_copy_last_code(self) -> None:
        code = last_code_block(self.conversation.messages)
        if code is None:
            self.notify("No code block in this conversation.", title="Copy", severity="warning")
        else:
            self.chat_app.copy_text(code, "the last code block")


def _row(summary: ConversationSummary, snippet: str = "") -> Row:
    return Row(summary.id, summary.title, summary.updated_at, snippet)
