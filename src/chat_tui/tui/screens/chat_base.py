"""What the chat screen's parts share: its widgets, the open conversation, and the calls the
conversation actions make back into the screen.

`ConversationActions` builds on this and `ChatScreen` on both, so every use the actions
make of the screen is declared here and checked by the type checker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.screen import Screen
from textual.worker import Worker

from chat_tui.conversation_cache import ConversationCache
from chat_tui.fitting import context_start
from chat_tui.index import ConversationSummary
from chat_tui.models import Conversation
from chat_tui.tui.widgets.message_log import MessageLog
from chat_tui.tui.widgets.prompt_input import PromptInput
from chat_tui.tui.widgets.sidebar import Sidebar
from chat_tui.tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from chat_tui.tui.app import ChatApp


class ChatScreenBase(Screen[None]):
    conversation: Conversation
    """The conversation shown in the log (not on disk until its first message)."""
    cache: ConversationCache
    """Conversations a reply streams into, and the last ones left."""

    @property
    def chat_app(self) -> ChatApp:
        return self.app  # type: ignore[return-value]

    @property
    def log_view(self) -> MessageLog:
        return self.query_one(MessageLog)

    @property
    def prompt(self) -> PromptInput:
        return self.query_one(PromptInput)

    @property
    def sidebar(self) -> Sidebar:
        return self.query_one(Sidebar)

    @property
    def status(self) -> StatusBar:
        return self.query_one(StatusBar)

    async def mark_context(self) -> None:
        """Mark in the log where the last request began, and show the summary."""
        conversation = self.conversation
        await self.log_view.mark_context(context_start(conversation), conversation.summary)

    # -- provided by the chat screen -------------------------------------------------------

    @property
    def summaries(self) -> list[ConversationSummary]:
        """Every saved conversation, most recent first, as last listed."""
        raise NotImplementedError

    def is_streaming_in(self, conversation_id: str) -> bool:
        """Whether a reply is streaming into that conversation."""
        raise NotImplementedError

    def refresh_sidebar(self) -> Worker[None]:
        raise NotImplementedError

    async def open_conversation(self, conversation_id: str) -> bool:
        raise NotImplementedError

    async def start_new_conversation(self) -> None:
        raise NotImplementedError

    async def stop_reply(self, conversation_id: str) -> None:
        raise NotImplementedError

    def placeholder(self) -> str:
        """What the empty log says: how to start, or how to set up a server."""
        raise NotImplementedError

    def update_top_bar(self) -> None:
        raise NotImplementedError
