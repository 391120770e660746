"""A conversation driven from the shell (`ask`, `--plain`): one reply at a time, saved as it goes.

It uses the same client, saver and files as the app, and never imports Textual. Ctrl+C while a
reply streams stops that reply instead of killing the process, so the text that arrived is
kept (marked stopped) and saved.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable, Iterator, Mapping

from chat_tui.client import ChatClient, Stopwatch, load_sdk
from chat_tui.config import DEFAULT_PROVIDER, Settings
from chat_tui.models import Conversation, Message
from chat_tui.replying import fill_reply
from chat_tui.saver import Saver
from chat_tui.store import ConversationStore, StoreError

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


def new_conversation(settings: Settings) -> Conversation:
    """An empty conversation on the configured provider, model and system prompt."""
    provider = settings.provider
    return Conversation(
        model=settings.model_for(provider),
        provider=provider if provider != DEFAULT_PROVIDER else None,
        system_prompt=settings.system_prompt,
    )


def latest_conversation(store: ConversationStore) -> Conversation | None:
    """The conversation with the most recent activity, if there is one."""
    store.refresh()
    summaries = store.summaries()
    return store.load(summaries[0].id) if summaries else None


def apply_flags(
    conversation: Conversation, settings: Settings, flags: Mapping[str, str | None]
) -> None:
    """Flags given on the command line win over what a continued conversation remembers."""
    if flags.get("provider") or flags.get("base_url"):
        chosen = settings.provider if settings.provider != DEFAULT_PROVIDER else None
        if flags.get("provider") and chosen != conversation.provider:
            conversation.model = settings.model_for(settings.provider)
        conversation.provider = chosen
    if flags.get("model"):
        conversation.model = settings.model
    if flags.get("system_prompt") is not None:
        conversation.system_prompt = settings.system_prompt


class ChatSession:
    """Sends prompts in one conversation and streams the replies to a callback."""

    def __init__(
        self,
        settings: Settings,
        conversation: Conversation,
        store: ConversationStore,
        *,
        save: bool = True,
    ) -> None:
        self.conversation = conversation
        self.store = store
        self.client = ChatClient(
            settings.provider_named(conversation.provider),
            timeout=settings.timeout,
            max_retries=settings.max_retries,
        )
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

    async def send(self, text: str, on_text: Callable[[str], None]) -> Message:
        """Add `text` and stream the reply; the returned message's status says how it ended."""
        conversation = self.conversation
        conversation.add_user_message(text)
        self._save()
        message = self._live = conversation.add_reply(conversation.model)
        request = conversation.api_messages(upto=len(conversation.messages) - 1)
        reply = fill_reply(
            message,
            self.client.stream_reply(request, conversation.model),
            watch=Stopwatch(),
            on_text=on_text,
            checkpoint=lambda: self._save(checkpoint=True),
            next_steps=SHELL_NEXT_STEPS,
        )
        task = asyncio.create_task(reply)
        with _interrupt_cancels(task):
            await asyncio.wait([task])
        self._live = None
        conversation.touch()
        self._save()
        return message

    async def close(self) -> bool:
        """Wait for the last saves and hang up; False if something could not be saved."""
        saved = await self._saver.flush() if self._saver is not None else True
        await self.client.close()
        await asyncio.to_thread(self.store.close)
        return saved

    def _save(self, *, checkpoint: bool = False) -> None:
        if self._saver is not None:
            self._saver.request(self.conversation, checkpoint=checkpoint)

    def _save_failed(self, _conversation: Conversation, error: StoreError) -> None:
        self.save_error = str(error)


@contextlib.contextmanager
def _interrupt_cancels(task: asyncio.Task[None]) -> Iterator[None]:
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


def _ignore(_conversation: Conversation) -> None:
    """The shell has no screen to update when a save lands or merges."""
