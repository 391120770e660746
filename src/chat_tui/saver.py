"""Saving off the event loop, one write at a time per conversation, retried until it lands.

The UI asks for a save whenever something worth keeping happens (a prompt, a finished reply,
a checkpoint of a long reply). The snapshot is taken on the event loop, where the conversation
is changed, and written in a thread. Requests that arrive while a write is running are folded
into one follow-up write. A failed write (disk full, read-only directory) keeps the
conversation in memory, is reported, and is retried.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from chat_tui.merge import merge_conversations
from chat_tui.models import Conversation, Message
from chat_tui.store import ConversationStore, StoreError

RETRY_SECONDS = 5.0


@dataclass
class _Pending:
    conversation: Conversation
    checkpoint: bool = True
    task: asyncio.Task[None] | None = None
    again: bool = False
    failed: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)


class Saver:
    """Coalescing, retrying, background saves for every open conversation."""

    def __init__(
        self,
        store: ConversationStore,
        *,
        on_error: Callable[[Conversation, StoreError], None],
        on_saved: Callable[[Conversation], None],
        on_merged: Callable[[Conversation], None],
        live_message: Callable[[Conversation], Message | None],
    ) -> None:
        self.store = store
        self._on_error = on_error
        self._on_saved = on_saved
        self._on_merged = on_merged
        self._live_message = live_message
        self._pending: dict[str, _Pending] = {}
        self.last_error: str | None = None
        """Why the most recent failed save failed (for the question asked before quitting)."""

    def request(self, conversation: Conversation, *, checkpoint: bool = False) -> None:
        """Save soon. A non-checkpoint request also re-indexes the conversation's text."""
        if conversation.read_only:
            return
        pending = self._pending.get(conversation.id)
        if pending is None:
            pending = self._pending[conversation.id] = _Pending(conversation, checkpoint)
        else:
            pending.conversation = conversation
            pending.checkpoint = pending.checkpoint and checkpoint
        if pending.task is None or pending.task.done():
            pending.done.clear()
            pending.task = asyncio.get_running_loop().create_task(self._run(pending))
        else:
            pending.again = True

    async def flush(self, conversation: Conversation | None = None) -> bool:
        """Wait for pending saves (of one conversation, or all); True if all landed."""
        targets = (
            [self._pending[conversation.id]]
            if conversation is not None and conversation.id in self._pending
            else list(self._pending.values())
            if conversation is None
            else []
        )
        for pending in targets:
            if pending.task is not None and not pending.task.done():
                await pending.done.wait()
        return not any(p.failed for p in targets)

    @property
    def unsaved(self) -> list[Conversation]:
        return [p.conversation for p in self._pending.values() if p.failed]

    @property
    def pending(self) -> list[Conversation]:
        """Conversations with a save requested that has not landed yet (or failed)."""
        return [
            p.conversation
            for p in self._pending.values()
            if p.failed or (p.task is not None and not p.task.done())
        ]

    def close(self) -> None:
        """Stop retrying (the app is exiting); whatever is unsaved stays unsaved."""
        for pending in self._pending.values():
            if pending.task is not None and not pending.task.done():
                pending.task.cancel()

    async def _run(self, pending: _Pending) -> None:
        try:
            while True:
                pending.done.clear()
                pending.again = False
                checkpoint = pending.checkpoint
                pending.checkpoint = True
                conversation = pending.conversation
                snapshot = conversation.to_dict()
                try:
                    result = await asyncio.to_thread(
                        self.store.save_snapshot, snapshot, checkpoint=checkpoint
                    )
                except Exception as failure:
                    # Anything but a StoreError is a bug; it must still be retried and
                    # reported, not end this task and leave the conversation unsaved.
                    error = (
                        failure
                        if isinstance(failure, StoreError)
                        else StoreError(f"could not save ({type(failure).__name__}: {failure})")
                    )
                    pending.failed = True
                    self.last_error = str(error)
                    pending.checkpoint = pending.checkpoint and checkpoint
                    pending.done.set()
                    self._on_error(conversation, error)
                    if not pending.again:
                        await asyncio.sleep(RETRY_SECONDS)
                    continue
                pending.failed = False
                conversation.revision = result.revision
                if result.merged is not None:
                    self._adopt(conversation, result.merged)
                    self._on_merged(conversation)
                self._on_saved(conversation)
                if not pending.again:
                    return
        finally:
            pending.done.set()

    def _adopt(self, conversation: Conversation, merged: Conversation) -> None:
        """Take the merged messages, keeping the object of a reply still streaming here.

        `merged` was built from the snapshot this save started with; the conversation may
        have grown since (the reply that follows a prompt is added while the prompt is being
        saved). Merging once more with what is in memory now keeps those messages: taking
        `merged` as it is dropped them, and a reply dropped this way streamed on, unsaved.
        """
        union = merge_conversations(merged, conversation)
        live = self._live_message(conversation)
        if live is not None:
            _replace_by_id(union.messages, live)
        conversation.messages = union.messages
        conversation.revision = merged.revision
        conversation.updated_at = union.updated_at


def _replace_by_id(messages: list[Message], live: Message) -> bool:
    for index, message in enumerate(messages):
        if message.id == live.id:
            live.alternatives, live.variant = message.alternatives, message.variant
            messages[index] = live
            return True
        for branch in message.alternatives:
            if _replace_by_id(branch, live):
                return True
    return False
