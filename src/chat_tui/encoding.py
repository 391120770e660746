"""A conversation's file bytes: readable, indented UTF-8 JSON, encoded incrementally.

A long reply is checkpointed every second, and re-encoding a 2,000-message conversation
whole each time cost more than the rest of the save (the indented encoder is pure Python).
Messages that did not change since the conversation was last encoded re-use their text,
so a checkpoint encodes the header and the growing reply. The bytes are exactly what
`json.dumps(data, ensure_ascii=False, indent=1)` gives when `messages` is the last key.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any

REMEMBERED = 4
"""Conversations whose encoded messages are kept (the open one and a few streaming)."""
_ITEM_INDENT = "  "
"""Where `indent=1` puts the items of the top-level object's `messages` list."""


class ConversationEncoder:
    """Thread-safe: saves of different conversations run in different threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: OrderedDict[str, dict[str, tuple[dict[str, Any], str]]] = OrderedDict()
        """Conversation id -> message id -> (the message's data, its encoded text)."""

    def encode(self, data: dict[str, Any]) -> bytes:
        try:
            return self._encode(data).encode("utf-8")
        except UnicodeEncodeError:
            # Text UTF-8 cannot hold (lone surrogates a server sent) is kept exactly by
            # writing the file with ASCII escapes instead.
            return json.dumps(data, ensure_ascii=True, indent=1).encode("ascii")

    def _encode(self, data: dict[str, Any]) -> str:
        messages = data.get("messages")
        conversation_id = data.get("id")
        if not isinstance(messages, list) or not messages or not isinstance(conversation_id, str):
            return json.dumps(data, ensure_ascii=False, indent=1)
        with self._lock:
            known = self._messages.pop(conversation_id, {})
        encoded: dict[str, tuple[dict[str, Any], str]] = {}
        items: list[str] = []
        for message in messages:
            message_id = message.get("id") if isinstance(message, dict) else None
            cached = known.get(message_id) if isinstance(message_id, str) else None
            if cached is not None and cached[0] == message:
                text = cached[1]
            else:
                text = json.dumps(message, ensure_ascii=False, indent=1).replace(
                    "\n", "\n" + _ITEM_INDENT
                )
            if isinstance(message_id, str):
                encoded[message_id] = (message, text)
            items.append(_ITEM_INDENT + text)
        with self._lock:
            self._messages[conversation_id] = encoded
            while len(self._messages) > REMEMBERED:
                self._messages.popitem(last=False)
        header = {key: value for key, value in data.items() if key != "messages"}
        header["messages"] = []
        head = json.dumps(header, ensure_ascii=False, indent=1)  # ends with `[]\n}`
        return head[: -len("[]\n}")] + "[\n" + ",\n".join(items) + "\n ]\n}"
