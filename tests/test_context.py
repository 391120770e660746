"""The server's own model, and conversations longer than the model's context, through `ask`
run in this process against the loopback server (the app's side is in test_context_app.py)."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from chat_tui.attachments import image_part, text_part
from chat_tui.cli import main
from chat_tui.context_window import WindowMemory, window_from_ollama, window_from_refusal
from chat_tui.fitting import IMAGE_TOKENS, estimate_tokens, in_context, plan_request
from chat_tui.models import Attachment, Conversation, Message, Summary
from chat_tui.paths import config_file
from chat_tui.store import ConversationStore
from chat_tui.summarising import INSTRUCTION, summary_request
from tests.support.loopback import FakeOpenAI, closed_port
from tests.support.sample_data import seed_conversation
from tests.support.sample_data import stored_conversations as conversations

Ask = Callable[..., tuple[int, str, str]]
Plain = Callable[..., tuple[int, str]]
LONG = [f"Message {i}: " + "word " * 80 for i in range(20)]
"""Twenty messages of about a hundred tokens each."""
TOO_LONG = "This model's maximum context length is {} tokens. However, your messages resulted in"


@pytest.fixture
def ask(
    fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Ask:
    """`chat-tui ask ARGS --base-url (the loopback server)`: (exit code, stdout, stderr)."""
    monkeypatch.setenv("CHAT_TUI_MAX_RETRIES", "0")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b""), encoding="utf-8"))

    def ask(*args: str) -> tuple[int, str, str]:
        code = main(["ask", *args, "--base-url", fake.base_url])
        out, err = capsys.readouterr()
        return code, out, err

    return ask


def write_config(text: str) -> None:
    config_file().parent.mkdir(parents=True, exist_ok=True)
    config_file().write_text(text)


@pytest.fixture
def long_conversation(data_dir: Path) -> Conversation:
    store = ConversationStore(data_dir)
    try:
        return seed_conversation(store, "20250101-000000-aaaaaa", *LONG, model="m")
    finally:
        store.close()


# -- the server's own model ----------------------------------------------------------------


def test_ask_without_a_model_uses_the_only_one_the_server_serves(
    ask: Ask, fake: FakeOpenAI, data_dir: Path
) -> None:
    fake.models = ["qwen2.5-7b-instruct"]
    code, out, _ = ask("Hi")
    assert (code, out) == (0, "Echo: Hi\n")
    assert fake.chat_requests[0].body["model"] == "qwen2.5-7b-instruct"
    (saved,) = conversations(data_dir)
    assert saved.model == saved.messages[1].model == "qwen2.5-7b-instruct"


def test_ask_without_a_model_on_a_server_of_several_lists_them(ask: Ask, fake: FakeOpenAI) -> None:
    fake.models = ["b-model", "a-model"]
    code, out, err = ask("Hi")
    assert (code, out) == (2, "")
    first, *listed = err.splitlines()
    assert "serves 2 models" in first and "--model" in first
    assert listed == ["  a-model", "  b-model"]
    assert fake.chat_requests == []


def test_ask_without_a_model_says_when_the_server_cannot_be_asked(
    ask: Ask, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["ask", "Hi", "--base-url", f"http://127.0.0.1:{closed_port()}/v1"])
    err = capsys.readouterr().err
    assert code == 1
    assert "could not ask" in err and "--model" in err and len(err.splitlines()) == 1


def test_a_named_model_is_used_without_asking(ask: Ask, fake: FakeOpenAI) -> None:
    assert ask("Hi", "--model", "gpt-4o")[0] == 0
    assert not any(r.path.endswith("/models") for r in fake.requests)
    assert fake.chat_requests[0].body["model"] == "gpt-4o"


def test_the_model_that_answered_is_recorded_when_it_is_not_the_one_asked_for(
    ask: Ask, fake: FakeOpenAI, data_dir: Path
) -> None:
    fake.add_text("Hello.", model="llama-3-8b-instruct.Q4_K_M.gguf")
    fake.add_text("Again.")
    ask("Hi", "--model", "gpt-4o-mini")
    ask("--continue", "More", "--model", "gpt-4o-mini")
    replies = [m for m in conversations(data_dir)[0].messages if m.role == "assistant"]
    assert [(m.model, m.served_model) for m in replies] == [
        ("gpt-4o-mini", "llama-3-8b-instruct.Q4_K_M.gguf"),
        ("gpt-4o-mini", None),
    ]


# -- fitting -------------------------------------------------------------------------------


def test_a_conversation_longer_than_the_window_sends_the_system_prompt_and_the_newest_messages(
    ask: Ask, fake: FakeOpenAI, data_dir: Path, long_conversation: Conversation
) -> None:
    write_config("context_window = 1000\n")
    code, _, _ = ask("--continue", "Newest question", "--system", "Be brief.", "--model", "m")
    assert code == 0
    sent = fake.chat_requests[0].messages
    assert sent[0] == {"role": "system", "content": "Be brief."}
    assert sent[1]["role"] == "user"
    assert sent[-1] == {"role": "user", "content": "Newest question"}
    newest = [m["content"] for m in sent[1:-1]]
    assert 2 <= len(newest) < len(LONG) and newest == LONG[-len(newest) :]
    assert estimate_tokens(sent) <= 1000
    (saved,) = conversations(data_dir)
    assert [m.content for m in saved.messages[:20]] == LONG  # nothing removed from the file
    first_sent = saved.messages[len(LONG) - len(newest)]
    assert saved.messages[-1].sent_from == first_sent.id


def test_a_conversation_that_fits_is_sent_whole(
    ask: Ask, fake: FakeOpenAI, data_dir: Path, long_conversation: Conversation
) -> None:
    write_config('[models."m"]\ncontext_window = 100000\n')
    ask("--continue", "Newest question", "--model", "m")
    assert len(fake.chat_requests[0].messages) == len(LONG) + 1
    assert conversations(data_dir)[0].messages[-1].sent_from is None


def test_tool_turns_are_never_split_by_the_fit() -> None:
    """A request that begins inside a tool round would send results without their call."""
    conversation = Conversation(model="m")
    for i in range(6):
        conversation.messages.append(Message(role="user", content=LONG[i]))
        call = {"id": f"c{i}", "name": "look", "arguments": "{}", "status": "done"}
        asking = Message.from_dict(
            {"role": "assistant", "content": "", "tool_calls": [call], "id": f"a{i}"}
        )
        conversation.messages.append(asking)
        conversation.messages.append(Message(role="tool", content=LONG[i], tool_call_id=f"c{i}"))
        conversation.messages.append(Message(role="assistant", content=LONG[i + 6]))
    conversation.messages.append(Message(role="user", content="Now?"))
    for window in range(600, 3000, 37):
        plan = plan_request(conversation, None, window)
        sent = plan.messages
        assert plan.tokens == estimate_tokens(sent)
        assert sent[0]["role"] == "user" and sent[-1]["content"] == "Now?"
        called = {c["id"] for m in sent for c in m.get("tool_calls", [])}
        assert {m["tool_call_id"] for m in sent if m["role"] == "tool"} == called


def test_a_summary_is_sent_in_place_of_the_messages_it_covers() -> None:
    conversation = Conversation(model="m", system_prompt="Be brief.")
    conversation.messages = [Message(role="user", content=text) for text in LONG[:4]]
    conversation.summary = Summary(
        text="They talked about words.", covers=conversation.messages[1].id
    )
    plan = plan_request(conversation, None, None)
    sent = plan.messages
    assert plan.tokens == estimate_tokens(sent)
    assert sent[0] == {
        "role": "system",
        "content": "Be brief.\n\nSummary of the earlier conversation:\nThey talked about words.",
    }
    assert [m["content"] for m in sent[1:]] == LONG[2:4]


# -- learning the window -------------------------------------------------------------------


def test_a_refusal_teaches_the_window_the_reply_is_sent_again_once_and_it_is_remembered(
    ask: Ask, fake: FakeOpenAI, data_dir: Path, long_conversation: Conversation
) -> None:
    fake.context_window = 1200
    code, out, err = ask("--continue", "Newest question", "--model", "m")
    assert (code, out) == (0, "Echo: Newest question\n")
    first, second = fake.chat_requests
    assert len(second.messages) < len(first.messages) == len(LONG) + 1
    assert "sent again with the newest messages that fit" in err
    remembered = json.loads((data_dir / "context_windows.json").read_text())
    assert remembered["windows"] == [{"server": fake.base_url, "model": "m", "tokens": 1200}]

    code, _, _ = ask("--continue", "And now?", "--model", "m")  # a new run knows it at once
    assert code == 0 and len(fake.chat_requests) == 3


def test_a_second_refusal_is_the_reply_error_not_a_loop(
    ask: Ask, fake: FakeOpenAI, long_conversation: Conversation
) -> None:
    for _ in range(3):
        fake.add(
            status=400,
            error_type="invalid_request_error",
            error_code="context_length_exceeded",
            error_message=TOO_LONG.format(1000),
        )
    code, _, err = ask("--continue", "Newest question", "--model", "m")
    assert code == 1
    assert len(fake.chat_requests) == 2
    assert "too long" in err


def test_a_prompt_too_long_on_its_own_is_not_sent_again(ask: Ask, fake: FakeOpenAI) -> None:
    fake.context_window = 300
    code, _, err = ask("word " * 2000, "--model", "m")
    assert code == 1 and len(fake.chat_requests) == 1
    assert "too long" in err


def test_llama_cpp_props_tell_the_window_before_the_first_request(
    ask: Ask, fake: FakeOpenAI, long_conversation: Conversation
) -> None:
    fake.props = {"default_generation_settings": {"n_ctx": 1200}}
    fake.context_window = 1200
    code, _, err = ask("--continue", "Newest question", "--model", "m")
    assert (code, err) == (0, "")
    (request,) = fake.chat_requests
    assert len(request.messages) < len(LONG) + 1


def test_a_short_first_request_does_not_wait_for_the_server_to_say_its_window(
    ask: Ask, fake: FakeOpenAI
) -> None:
    """The window is asked for (llama.cpp's /props, then Ollama's /api/show) beside a request
    that fits any window, not before it. (The reply waits for the question: a reply over
    before it was asked cancels the question, as no request may outlive its reply.)"""
    fake.props_held = True
    fake.add(deltas=["Echo: Hello"], gate=fake.props_asked)
    code, out, _ = ask("Hello", "--model", "m")
    assert (code, out) == (0, "Echo: Hello\n")
    paths = [request.path for request in fake.requests]
    assert "/props" in paths
    assert "/api/show" not in paths[: paths.index("/v1/chat/completions")]


# -- a stream that ends empty --------------------------------------------------------------


def test_a_stream_that_ends_empty_is_not_called_finished(ask: Ask, fake: FakeOpenAI) -> None:
    fake.add(fault="empty")
    code, _, err = ask("Hi", "--model", "m")
    assert code == 1
    assert "ended the reply without any text or reason" in err
    assert "finished" not in err


def test_a_reply_finished_without_text_is_not_blamed_on_a_broken_stream(
    ask: Ask, fake: FakeOpenAI
) -> None:
    fake.add_text("")  # a finish reason, and nothing before it
    code, _, err = ask("Hi", "--model", "m")
    assert code == 1
    assert "The server finished without sending any text." in err
    assert "without any text or reason" not in err


def test_a_stream_that_ends_empty_in_a_long_conversation_blames_its_length(
    ask: Ask, fake: FakeOpenAI, long_conversation: Conversation
) -> None:
    write_config("context_window = 1000\n")
    fake.add(fault="empty")
    code, _, err = ask("--continue", "Newest question", "--model", "m")
    assert code == 1
    assert "probably too long for the model's context (1,000 tokens)" in err
    assert "Start a new conversation" in err


def test_an_empty_reply_whose_request_filled_the_window_blames_the_length(
    ask: Ask, fake: FakeOpenAI
) -> None:
    """The server counted the prompt (a usage frame) and then ended without a word: its own
    count says the request filled the window, though chat-tui's estimate did not."""
    write_config("context_window = 1000\n")
    usage = {"prompt_tokens": 990, "completion_tokens": 0, "total_tokens": 990}
    frame = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "m"}
    fake.add(deltas=[], odd_frames=[{**frame, "choices": [], "usage": usage}], fault="no_done")
    code, _, err = ask("Hi", "--model", "m")
    assert code == 1
    assert "probably too long for the model's context (1,000 tokens)" in err


# -- what servers say, and what is kept ----------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message", "window"),
    [
        ({}, TOO_LONG.format(8192), 8192),
        (
            {
                "error": {
                    "code": 400,
                    "message": "the request exceeds the available context size, try increasing it",
                    "type": "exceed_context_size_error",
                    "n_prompt_tokens": 9000,
                    "n_ctx": 4096,
                }
            },
            "the request exceeds the available context size, try increasing it",
            4096,
        ),
        (
            {},
            "This model's maximum context length is 32768 tokens. However, you requested 40000 "
            "tokens (39000 in the messages, 1000 in the completion).",
            32768,
        ),
        ({}, "Requested tokens (9000) exceed context window of 2048", 2048),
        ({}, "maximum context length is 99999999999999999999 tokens", None),
    ],
)
def test_the_window_is_read_from_a_refusal(body: object, message: str, window: int | None) -> None:
    assert window_from_refusal(body, message) == window


def test_ollama_reports_the_window_it_runs_with_before_the_model_s_own() -> None:
    info = {"model_info": {"general.architecture": "llama", "llama.context_length": 131072}}
    assert window_from_ollama(info) == 131072
    assert window_from_ollama({**info, "parameters": "stop <|eot_id|>\nnum_ctx 8192"}) == 8192
    assert window_from_ollama({"model_info": {"llama.context_length": "lots"}}) is None


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"[" * 10_000, b'{"windows": 5}', b" " * (2 * 1024 * 1024)],
)
def test_a_damaged_file_of_remembered_windows_is_read_as_empty_and_replaced(
    tmp_path: Path, content: bytes
) -> None:
    (tmp_path / "context_windows.json").write_bytes(content)
    memory = WindowMemory(tmp_path)
    assert memory.get("http://x/v1", "m") is None
    memory.remember("http://x/v1", "m", 4096)
    assert WindowMemory(tmp_path).get("http://x/v1", "m") == 4096


def test_a_fifo_where_the_remembered_windows_belong_is_read_as_empty(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "context_windows.json")  # opened as a file: waits for ever
    memory = WindowMemory(tmp_path)
    assert memory.get("http://x/v1", "m") is None
    memory.remember("http://x/v1", "m", 4096)
    assert WindowMemory(tmp_path).get("http://x/v1", "m") == 4096


def test_remembered_windows_are_bounded_and_checked(tmp_path: Path) -> None:
    entries = [{"server": "s", "model": str(i), "tokens": 4096} for i in range(1500)]
    entries.append({"server": "s", "model": "huge", "tokens": 10**12})
    (tmp_path / "context_windows.json").write_text(json.dumps({"windows": entries}))
    memory = WindowMemory(tmp_path)
    assert memory.get("s", "huge") is None
    assert memory.get("s", "0") is None and memory.get("s", "1499") == 4096


def test_summaries_and_what_a_reply_was_sent_survive_the_file_and_older_files_read() -> None:
    conversation = Conversation(model="m")
    conversation.messages = [Message(role="user", content="Hi")]
    reply = conversation.add_reply("m")
    reply.served_model, reply.sent_from = "llama.gguf", conversation.messages[0].id
    conversation.summary = Summary(text="Greetings.", covers=conversation.messages[0].id)
    data = conversation.to_dict()
    assert data["schema_version"] == 6
    again = Conversation.from_dict(json.loads(json.dumps(data)))
    assert again.summary == conversation.summary
    assert (again.messages[1].served_model, again.messages[1].sent_from) == (
        "llama.gguf",
        conversation.messages[0].id,
    )
    older = {**data, "schema_version": 3, "summary": {"text": 5}}
    assert Conversation.from_dict(older).summary is None
    settings = {"settings": {"temperature": 0.5}}
    version_5 = {k: v for k, v in data.items() if k != "summary"} | settings
    read = Conversation.from_dict({**version_5, "schema_version": 5})
    assert (read.summary, read.settings.temperature, read.read_only) == (None, 0.5, False)


def test_a_context_window_in_the_config_must_be_a_sensible_number(
    ask: Ask, capsys: pytest.CaptureFixture[str]
) -> None:
    write_config('[models."m"]\ncontext_window = "big"\n')
    code, _, err = ask("Hi", "--model", "m")
    assert code == 2
    assert 'models."m".context_window' in err and "whole number of tokens" in err


# -- the command line's window, the reply's room, attachments ------------------------------


def test_the_context_window_flag_wins_over_the_config_for_this_run(
    ask: Ask, fake: FakeOpenAI, long_conversation: Conversation
) -> None:
    write_config('[models."m"]\ncontext_window = 100000\n')
    code, _, _ = ask("--continue", "Newest question", "--model", "m", "--context-window", "1000")
    assert code == 0
    sent = fake.chat_requests[0].messages
    assert len(sent) < len(LONG) + 1 and estimate_tokens(sent) <= 1000
    assert fake.requests[0].path.endswith("/chat/completions")  # no need to ask the server


@pytest.mark.parametrize("value", ["0", "255", "lots", "100000001", "-5", "1e6", "9" * 40, ""])
def test_a_bad_context_window_flag_is_one_line_and_exit_2(
    ask: Ask, fake: FakeOpenAI, value: str
) -> None:
    code, out, err = ask("Hi", "--model", "m", f"--context-window={value}")
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1
    assert "--context-window must be a whole number of tokens from 256 to 100,000,000" in err
    assert fake.chat_requests == []


def test_the_reply_s_room_is_the_conversation_s_max_tokens(
    ask: Ask, fake: FakeOpenAI, long_conversation: Conversation
) -> None:
    """Without max_tokens the whole conversation fits a window of 4,000 (1,000 kept for the
    reply); asking for replies of up to 3,000 tokens leaves room for far fewer messages."""
    write_config("context_window = 4000\n")
    code, _, _ = ask("--continue", "Newest question", "--model", "m", "--max-tokens", "3000")
    assert code == 0
    request = fake.chat_requests[0].body
    assert request["max_tokens"] == 3000
    assert len(request["messages"]) < len(LONG) + 1
    assert estimate_tokens(request["messages"]) + 3000 <= 4000


def attached_conversation() -> tuple[Conversation, dict[Attachment, dict[str, object]]]:
    """A prompt with a 3 MB image and a text file, after an exchange; and their parts."""
    image = Attachment("shot.png", "image", "image/png", 3_000_000, "a" * 64)
    notes = Attachment("notes.txt", "text", "text/plain", 4_000, "b" * 64)
    conversation = Conversation(model="m")
    conversation.messages = [
        Message(role="user", content="Hello"),
        Message(role="assistant", content="Hi."),
        Message(role="user", content="Look at these", attachments=[image, notes]),
    ]
    parts = {image: image_part(image, b"\x89PNG" * 750_000), notes: text_part(notes, "n" * 4_000)}
    return conversation, parts


def test_attachments_count_by_what_they_hold_not_by_their_encoding() -> None:
    conversation, parts = attached_conversation()
    plan = plan_request(conversation, None, 100_000, parts=parts)
    assert plan.messages[-1]["content"][1]["type"] == "image_url"
    assert IMAGE_TOKENS + 1_000 < plan.tokens < IMAGE_TOKENS + 1_200  # not the 4 MB of base64
    # The status line estimates without reading the files: from their kinds and sizes.
    assert IMAGE_TOKENS + 1_000 < in_context(conversation, 100_000) < IMAGE_TOKENS + 1_200


def test_a_summary_request_carries_the_attachments_of_what_it_summarises() -> None:
    conversation, parts = attached_conversation()
    conversation.messages.append(Message(role="assistant", content="A screenshot and notes."))
    sent = summary_request(conversation, len(conversation.messages), None, parts)
    assert sent[2]["content"][1:] == [parts[a] for a in conversation.messages[2].attachments]
    assert sent[-1] == {"role": "user", "content": INSTRUCTION}


# -- /summarise in --plain -----------------------------------------------------------------


@pytest.fixture
def plain(
    fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Plain:
    """`chat-tui --plain --continue ARGS` with what is typed as its input: (exit code,
    stdout)."""
    monkeypatch.setenv("CHAT_TUI_MAX_RETRIES", "0")

    def plain(typed: str, *args: str) -> tuple[int, str]:
        stdin = io.TextIOWrapper(io.BytesIO(typed.encode()), encoding="utf-8")
        monkeypatch.setattr(sys, "stdin", stdin)
        code = main(["--plain", "--continue", "--model", "m", "--base-url", fake.base_url, *args])
        return code, capsys.readouterr().out

    return plain


def test_plain_summarise_writes_the_summary_keeps_it_and_prints_it(
    plain: Plain, fake: FakeOpenAI, data_dir: Path, long_conversation: Conversation
) -> None:
    write_config("context_window = 100000\n")
    fake.add_text("They counted words, \x1b[2J twenty times.")
    code, out = plain("/summarise\nNext?\nexit\n", "--context-window", "1000")
    assert code == 0
    assert "Earlier messages are now sent as this summary:\nThey counted words, ␛[2J" in out
    summarising, asked = fake.chat_requests
    assert summarising.messages[-1] == {"role": "user", "content": INSTRUCTION}
    (saved,) = conversations(data_dir)
    assert saved.summary is not None and saved.summary.text.startswith("They counted words")
    assert asked.messages[0]["content"].endswith(saved.summary.text)  # sent in their place
    assert [m.content for m in saved.messages[: len(LONG)]] == LONG


def test_plain_summarise_says_when_there_is_nothing_to_summarise(
    plain: Plain, fake: FakeOpenAI, data_dir: Path
) -> None:
    store = ConversationStore(data_dir)
    seed_conversation(store, "20250101-000000-bbbbbb", "Hi", "Hello.", model="m")
    store.close()
    write_config("context_window = 100000\n")
    code, out = plain("/summarize\nexit\n")
    assert code == 0
    assert "Nothing earlier to summarise: the conversation still fits." in out
    assert fake.chat_requests == []
