"""Incremental encoding writes exactly the bytes a whole `json.dumps` would, however the
messages change between saves."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from chat_tui.encoding import ConversationEncoder
from chat_tui.models import Conversation, Message, Usage


def whole(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8")


def conversation_of(texts: list[str]) -> Conversation:
    conversation = Conversation(title="T", model="m")
    conversation.messages = [
        Message(role="user" if n % 2 == 0 else "assistant", content=text)
        for n, text in enumerate(texts)
    ]
    return conversation


@settings(max_examples=60, deadline=None)
@given(
    texts=st.lists(st.text(), min_size=1, max_size=6),
    edits=st.lists(st.tuples(st.integers(0, 5), st.text()), max_size=4),
    appended=st.lists(st.text(), max_size=2),
)
def test_every_save_is_the_whole_encoding(
    texts: list[str], edits: list[tuple[int, str]], appended: list[str]
) -> None:
    encoder = ConversationEncoder()
    conversation = conversation_of(texts)
    assert encoder.encode(conversation.to_dict()) == whole(conversation.to_dict())
    for position, text in edits:
        conversation.messages[position % len(conversation.messages)].content += text
    for text in appended:
        conversation.messages.append(Message(role="assistant", content=text))
    conversation.title = "changed"
    assert encoder.encode(conversation.to_dict()) == whole(conversation.to_dict())


def test_unchanged_messages_reuse_their_text_and_changes_are_seen() -> None:
    encoder = ConversationEncoder()
    conversation = conversation_of(["question", "answer"])
    encoder.encode(conversation.to_dict())
    reply = conversation.messages[1]
    reply.status = "stopped"
    reply.usage = Usage(prompt_tokens=3, completion_tokens=4)
    reply.alternatives = [[Message(role="assistant", content="an older answer")]]
    reply.variant = 1
    again = encoder.encode(conversation.to_dict())
    assert again == whole(conversation.to_dict())
    assert json.loads(again)["messages"][1]["alternatives"][0][0]["content"] == "an older answer"


def test_text_utf8_cannot_hold_is_kept_with_ascii_escapes() -> None:
    conversation = conversation_of(["fine", "lone \ud800 surrogate"])
    encoded = ConversationEncoder().encode(conversation.to_dict())
    assert json.loads(encoded)["messages"][1]["content"] == "lone \ud800 surrogate"


def test_a_conversation_without_messages() -> None:
    conversation = Conversation(title="empty")
    assert ConversationEncoder().encode(conversation.to_dict()) == whole(conversation.to_dict())
