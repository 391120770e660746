"""A conversation driven from the shell (`ask`, `--plain`): one reply at a time, saved as it goes.

It uses the same client, saver and files as the app, and never imports Textual. A reply may
use the configured MCP servers' tools (see `tools.loop`). Ctrl+C while a reply streams, waits
for an answer about a tool call, or runs a tool stops that reply instead of killing the
process, so what arrived is kept (marked stopped) and saved.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from chat_tui.attachments import AttachmentError, PendingAttachment
from chat_tui.client import ChatClient, load_sdk
from chat_tui.config import Settings
from chat_tui.context_window import ContextWindows, WindowMemory
from chat_tui.models import Conversation, Message, Summary
from chat_tui.request_errors import ChatError
from chat_tui.saver import Saver
from chat_tui.served_model import served_model
from chat_tui.store import ConversationStore, StoreError
from chat_tui.summarising import summary_cut, write_summary
from chat_tui.tools.approvals import Approver, deny_all
from chat_tui.tools.loop import ReplyHooks, reply_with_tools
from chat_tui.tools.servers import servers_on
from chat_tui.tools.toolbox import Toolbox

SHELL_NEXT_STEPS = {
    "retry": "Try again.",
    "model": "Choose another model with --model.",
    "context": "Start a new conversation, or use a model with a larger context window (--model).",
}
"""What to do after a failed reply, in terms of the shell's flags."""


def preload_sdk() -> None:
    """Start importing the SDK (seconds on a slow machine) while stdin is read or the person
    types, so the first request does not wait for it."""
    threading.Thread(target=load_sdk, name="import-openai", daemon=True).start()


def latest_conversation(store: ConversationStore) -> Conversation | None:
    """The conversation with the most recent activity, if there is one."""
    store.refresh()
    summaries = store.summaries()
    return store.load(summaries[0].id) if summaries else None


@dataclass(frozen=True)
class SentReply:
    message: Message
    """The reply's last assistant message (its final answer, unless it ended early)."""
    stopped: bool
    """The person stopped the reply (while it streamed, waited for consent or ran a tool)."""


@dataclass(frozen=True)
class SummaryOutcome:
    summary: Summary | None
    """The summary kept; None when there was nothing to summarise, or none came."""
    nothing_earlier: bool = False
    """The conversation still fits (or the summary already covers what does not)."""
    stopped: bool = False
    error: str | None = None
    """Why no summary could be written (the server's error, a missing attachment)."""


class ChatSession:
    """Sends prompts in one conversation and streams the replies through hooks."""

    def __init__(
        self,
        settings: Settings,
        conversation: Conversation,
        store: ConversationStore,
        *,
        save: bool = True,
        toolbox: Toolbox | None = None,
    ) -> None:
        self.conversation = conversation
        self.store = store
        self.client = ChatClient(
            settings.provider_named(conversation.provider),
            timeout=settings.timeout,
            max_retries=settings.max_retries,
        )
        self.toolbox = toolbox
        """The tools replies may use; None offers none."""
        self.windows = ContextWindows(settings.context_windows, WindowMemory(store.root))
        self._mcp_servers = settings.mcp_servers
        self.max_tool_rounds = settings.max_tool_rounds
        self.settings = settings
        self.save_error: str | None = None
        """Why the last save failed, if it did (the saver keeps retrying)."""
        self._live: Message | None = None
        self._saver = (
            Saver(
                store,
                on_error=self._save_failed,
                on_saved=_ignore,
                on_merged=_ignore,
                live_message=lambda _conversation: self._live,
            )
            if save
            else None
        )

    async def settle_model(self) -> None:
        """Ask the server which model it serves, if the conversation names none yet.
        Raises `NoServedModel` (several: the person chooses with --model)."""
        if not self.conversation.model:
            self.conversation.model = await served_model(
                self.client, choose_with="choose one with --model"
            )

    async def send(
        self,
        text: str,
        hooks: ReplyHooks,
        approve: Approver = deny_all,
        attachments: Sequence[PendingAttachment] = (),
    ) -> SentReply:
        """Add `text` (with `attachments`, copied into the store first: `AttachmentError` if
        that fails, before anything is added or sent) and stream the reply (with its tool
        rounds), asking `approve` about calls that are not allowed ahead of time."""
        conversation = self.conversation
        kept = [
            await asyncio.to_thread(self.store.attachments.put, pending) for pending in attachments
        ]
        conversation.add_user_message(text, kept)
        self._save()
        asked = len(conversation.messages)

        def joined(message: Message) -> None:
            if message.role == "assistant":
                self._live = message
            hooks.on_message(message)

        def checkpoint() -> None:
            self._save(checkpoint=True)
            hooks.checkpoint()

        reply = reply_with_tools(
            conversation,
            self.client,
            model=conversation.model,
            toolbox=self.toolbox,
            servers=servers_on(self._mcp_servers, conversation.tool_servers),
            approve=approve,
            max_rounds=self.max_tool_rounds,
            hooks=replace(hooks, on_message=joined, checkpoint=checkpoint),
            next_steps=SHELL_NEXT_STEPS,
            windows=self.windows,
            attachments=self.store.attachments,
            defaults=self.settings.generation_for(conversation.provider, conversation.model),
        )
        task = asyncio.create_task(reply)
        with _interrupt_cancels(task):
            await asyncio.wait([task])
        self._live = None
        message = _last_reply(conversation, asked)
        if not task.cancelled() and task.exception() is not None:
            # A bug must not lose the prompt or what arrived: the reply says what went wrong.
            message.status = "failed"
            message.error = f"Unexpected error: {task.exception()!r}"
        conversation.touch()
        self._save()
        return SentReply(message, stopped=task.cancelled() or message.status == "stopped")

    async def summarise(self) -> SummaryOutcome:
        """Have the model summarise the messages that no longer fit (as the app's "summarise
        earlier messages" does) and keep the summary; ctrl+C stops it, changing nothing."""
        conversation = self.conversation
        window = await self.windows.window_for(self.client, conversation.model)
        if not summary_cut(conversation, window):
            return SummaryOutcome(None, nothing_earlier=True)
        task = asyncio.create_task(
            write_summary(
                conversation,
                self.client,
                window,
                on_text=_ignore_text,
                attachments=self.store.attachments,
            )
        )
        with _interrupt_cancels(task):
            await asyncio.wait([task])
        if task.cancelled():
            return SummaryOutcome(None, stopped=True)
        error = task.exception()
        if isinstance(error, (ChatError, AttachmentError)):
            why = error.full_text if isinstance(error, ChatError) else str(error)
            return SummaryOutcome(None, error=why)
        if error is not None:
            raise error
        summary = task.result()
        if summary is not None:
            conversation.summary = summary
            conversation.touch()
            self._save()
        return SummaryOutcome(summary)

    async def close(self) -> bool:
        """Wait for the last saves, stop the tool servers and hang up; False if something
        could not be saved."""
        saved = await self._saver.flush() if self._saver is not None else True
        if self.toolbox is not None:
            await self.toolbox.close()
        await self.client.close()
        await asyncio.to_thread(self.store.close)
        return saved

    def _save(self, *, checkpoint: bool = False) -> None:
        if self._saver is not None:
            self._saver.request(self.conversation, checkpoint=checkpoint)

    def _save_failed(self, _conversation: Conversation, error: StoreError) -> None:
        self.save_error = str(error)


def _last_reply(conversation: Conversation, asked: int) -> Message:
    """The last assistant message after the prompt at `asked - 1`; a stopped empty one if
    the reply was stopped before its first turn began (while the tool servers started)."""
    for message in reversed(conversation.messages[asked:]):
        if message.role == "assistant":
            return message
    message = conversation.add_reply(conversation.model)
    message.status = "stopped"
    return message


@contextlib.contextmanager
def _interrupt_cancels(task: asyncio.Task[Any]) -> Iterator[None]:
    """While the block runs, ctrl+C (SIGINT) cancels `task` instead of the program."""
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, task.cancel)
    except (NotImplementedError, RuntimeError, ValueError):
        # No loop signal handlers here (Windows, or not the main thread): ctrl+C keeps
        # Python's default behaviour.
        yield
        return
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGINT)


def _ignore_text(_text: str) -> None:
    """The shell prints the summary once it is written."""


def _ignore(_conversation: Conversation) -> None:
    """The shell has no screen to update when a save lands or merges."""
