"""Conversation data: titles, what is sent, alternatives, and the merge of two writers."""

from __future__ import annotations

from chat_tui.merge import merge_conversations
from chat_tui.models import Conversation, Message, derive_title, new_id


def test_ids_made_in_a_burst_do_not_collide() -> None:
    """An id names the file: two alike would write one conversation over another. A script
    or an import makes thousands within the second the id's time part shares."""
    made = [new_id() for _ in range(100_000)]
    assert len(set(made)) == len(made)


def test_title_is_first_line_shortened_at_a_word() -> None:
    assert derive_title("\n\n  How do I  bake bread?\nmore") == "How do I bake bread?"
    long = "word " * 30
    title = derive_title(long)
    assert title.endswith("…") and len(title) <= 60 and "wor…" not in title


def test_request_has_system_prompt_first_and_skips_empty_replies() -> None:
    conversation = Conversation(system_prompt="Be terse.")
    conversation.add_user_message("first")
    conversation.add_reply("m")  # failed before any token: empty
    conversation.add_user_message("second")
    assert conversation.api_messages() == [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "first"},
        {"role": "user", "content": "second"},
    ]


def reply(text: str) -> Message:
    return Message(role="assistant", content=text, model="m")


def test_branching_keeps_every_version_and_steps_between_them() -> None:
    conversation = Conversation()
    conversation.add_user_message("question")
    conversation.messages.append(reply("answer one"))
    conversation.branch(1, [reply("answer two")])
    conversation.branch(1, [reply("answer three")])
    last = conversation.messages[1]
    assert (last.content, last.variant, last.variant_count) == ("answer three", 2, 3)
    conversation.select_variant(1, 0)
    assert conversation.messages[1].content == "answer one"
    assert conversation.messages[1].variant_count == 3
    conversation.select_variant(1, 1)
    assert [m.content for m in conversation.messages] == ["question", "answer two"]
    # Round trip through JSON keeps all three.
    again = Conversation.from_dict(conversation.to_dict())
    assert sorted(m[0].content for m in again.branches_at(1)) == [
        "answer one",
        "answer three",
        "answer two",
    ]


def test_editing_a_prompt_keeps_the_old_exchange_as_an_alternative() -> None:
    conversation = Conversation()
    conversation.add_user_message("first try")
    conversation.messages.append(reply("reply to first"))
    new_prompt = Message(role="user", content="second try")
    conversation.branch(0, [new_prompt])
    assert [m.content for m in conversation.messages] == ["second try"]
    conversation.select_variant(0, 0)
    assert [m.content for m in conversation.messages] == ["first try", "reply to first"]


def test_merge_appends_what_only_one_side_has() -> None:
    base = Conversation()
    base.add_user_message("hello")
    theirs = Conversation.from_dict(base.to_dict())
    theirs.messages.append(reply("their reply"))
    merged = merge_conversations(theirs, Conversation.from_dict(base.to_dict()))
    assert [m.content for m in merged.messages] == ["hello", "their reply"]


def test_merge_keeps_our_live_reply_over_a_stale_copy() -> None:
    base = Conversation()
    base.add_user_message("hello")
    live = base.add_reply("m")
    live.content = "streaming a long answer"
    theirs = Conversation.from_dict(base.to_dict())
    theirs.messages[-1].content = "stream"
    theirs.mark_interrupted()
    merged = merge_conversations(theirs, base)
    assert merged.messages[-1] is live
