"""Markdown and JSON export: readable on GitHub, lossless as JSON, harmless in a terminal."""

from __future__ import annotations

import json

from chat_tui.exporting import (
    conversation_to_json,
    conversation_to_markdown,
    conversations_to_json,
    conversations_to_markdown,
    json_text,
)
from chat_tui.models import Conversation, Message

WHEN = "2026-11-25T11:57:00.000+00:00"


def sample() -> Conversation:
    conversation = Conversation(
        id="20261125-115700-abc123",
        title="Retry *flaky* calls <script>",
        created_at=WHEN,
        model="gpt-4o-mini",
        system_prompt="Be brief.\nUse Python.",
    )
    conversation.messages = [
        Message(role="user", content="How do I retry?", created_at=WHEN),
        Message(
            role="assistant",
            content="Use a loop:\n\n```python\nfor attempt in range(3):\n    call()\n```\n",
            created_at="2026-11-25T11:58:00.000+00:00",
            model="gpt-4o",
            reasoning="They want backoff.",
        ),
    ]
    conversation.updated_at = "2026-11-25T11:58:00.000+00:00"
    return conversation


def test_markdown_has_title_metadata_and_one_section_per_message() -> None:
    text = conversation_to_markdown(sample())
    assert text == (
        "# Retry \\*flaky\\* calls \\<script\\>\n\n"
        "*gpt-4o-mini · started 2026-11-25 11:57 · last active 2026-11-25 11:58 · "
        "2 messages · id `20261125-115700-abc123`*\n\n"
        "> **System prompt**\n>\n> Be brief.\n> Use Python.\n\n"
        "## You · 2026-11-25 11:57\n\n"
        "How do I retry?\n\n"
        "## Assistant · gpt-4o · 2026-11-25 11:58\n\n"
        "<details>\n<summary>Thinking</summary>\n\nThey want backoff.\n\n</details>\n\n"
        "Use a loop:\n\n```python\nfor attempt in range(3):\n    call()\n```\n"
    )


def test_stopped_and_failed_replies_are_marked_and_open_fences_closed() -> None:
    conversation = sample()
    conversation.messages[1].status = "stopped"
    conversation.messages[1].content = "Start:\n\n~~~~bash\necho half"
    conversation.messages.append(Message(role="user", content="Again?"))
    conversation.messages.append(
        Message(role="assistant", content="", status="failed", error="Server said *no* (500).")
    )
    text = conversation_to_markdown(conversation)
    assert "~~~~bash\necho half\n~~~~\n\n*■ Stopped: the reply was cut short.*" in text
    assert text.endswith("> **Failed:** Server said \\*no\\* (500).\n")


def test_a_closed_fence_is_left_alone() -> None:
    conversation = sample()
    assert conversation_to_markdown(conversation).count("```") == 2


def test_versions_are_named_in_the_heading() -> None:
    conversation = sample()
    conversation.branch(1, [Message(role="assistant", content="Second try", model="gpt-4o")])
    text = conversation_to_markdown(conversation)
    assert "## Assistant · gpt-4o · " in text and "· version 2 of 2\n\nSecond try" in text
    assert "Use a loop" not in text  # only the visible path is exported as Markdown


def test_terminal_escapes_in_text_are_shown_not_obeyed() -> None:
    conversation = sample()
    conversation.title = "Evil \x1b]52;c;ZXZpbA==\x07 title"
    conversation.messages[0].content = "Clear \x1b[2J screen \x9b31m and \u202eevil"
    text = conversation_to_markdown(conversation)
    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text
    assert "\u202e" not in text
    assert "# Evil ␛\\]52;c;ZXZpbA==␇ title" in text
    assert "Clear ␛[2J screen \ufffd31m and \ufffdevil" in text


def test_json_export_is_the_file_format_and_reads_back() -> None:
    conversation = sample()
    conversation.branch(1, [Message(role="assistant", content="Second try")])
    data = json.loads(conversation_to_json(conversation))
    assert data == conversation.to_dict()
    assert Conversation.from_dict(data).to_dict() == conversation.to_dict()
    assert json.loads(conversations_to_json([conversation, sample()]))[1]["id"] == sample().id


def test_json_escapes_what_a_terminal_could_obey_and_keeps_unicode() -> None:
    value = {"text": "日本語 \x1b[31m \x9b \u202e \x7f ok"}
    text = json_text(value)
    assert json.loads(text) == value
    assert "日本語" in text
    assert all(c not in text for c in "\x1b\x9b\u202e\x7f")


def test_several_conversations_are_separated_by_rules() -> None:
    second = sample()
    second.title = "Second"
    text = conversations_to_markdown([sample(), second])
    assert text.count("\n---\n") == 1
    assert text.index("# Retry") < text.index("# Second")
