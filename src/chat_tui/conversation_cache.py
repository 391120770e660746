"""Conversations kept in memory beyond the one on screen: those a reply is streaming into,
and the last few left.

A streaming one must be the very object the reply writes to, so switching back shows the
live text. A recently left one is re-used when its file is unchanged, instead of reading
and parsing it again (for long conversations most of a switch, and memory each time).
"""

from __future__ import annotations

from chat_tui.models import Conversation

RECENT = 4
"""Conversations left that are kept, newest last."""


class ConversationCache:
    def __init__(self, recent: int = RECENT) -> None:
        self._streaming: dict[str, Conversation] = {}
        self._recent: dict[str, Conversation] = {}
        self._keep = recent

    def hold_streaming(self, conversation: Conversation) -> None:
        """Keep `conversation` while a reply streams into it."""
        self._streaming[conversation.id] = conversation

    def release_streaming(self, conversation_id: str) -> None:
        self._streaming.pop(conversation_id, None)

    def streaming(self, conversation_id: str) -> Conversation | None:
        return self._streaming.get(conversation_id)

    def keep_recent(self, conversation: Conversation) -> None:
        """Remember a conversation just left (an empty one is not worth it)."""
        if not conversation.messages:
            return
        self._recent.pop(conversation.id, None)
        self._recent[conversation.id] = conversation
        while len(self._recent) > self._keep:
            del self._recent[next(iter(self._recent))]

    def take_recent(self, conversation_id: str) -> Conversation | None:
        """A recently left conversation, forgotten here (the caller checks it is current)."""
        return self._recent.pop(conversation_id, None)

    def get(self, conversation_id: str) -> Conversation | None:
        """Whichever copy is in memory, streaming first; None if neither."""
        return self._streaming.get(conversation_id) or self._recent.get(conversation_id)
