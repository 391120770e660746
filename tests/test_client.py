"""The client against the loopback server: deltas, usage, and one clear error per failure."""

from __future__ import annotations

import pytest

from chat_tui.client import ChatClient, Finished, TextDelta, UsageReport
from chat_tui.config import Provider, Settings, load_settings
from chat_tui.request_errors import ChatError
from tests.support.loopback import FakeOpenAI, closed_port

MESSAGES = [{"role": "user", "content": "hi"}]
STEPS = {"retry": "Try again.", "model": "Choose a model.", "context": "Start over."}
"""How a caller words the next steps (the app names its keys, the shell its flags)."""


def client_for(settings: Settings, **provider_fields: object) -> ChatClient:
    provider = settings.active_provider
    if provider_fields:
        provider = Provider(**{**provider.__dict__, **provider_fields})
    return ChatClient(provider, timeout=settings.timeout, max_retries=0)


async def collect(client: ChatClient, model: str = "gpt-4o-mini") -> list[object]:
    return [event async for event in client.stream_reply(MESSAGES, model)]


async def test_streams_deltas_usage_and_finish(fake: FakeOpenAI, settings: Settings) -> None:
    fake.add(deltas=["Hel", "lo"], usage={"prompt_tokens": 3, "completion_tokens": 2})
    events = await collect(client_for(settings))
    assert events == [
        TextDelta("Hel"),
        TextDelta("lo"),
        UsageReport(3, 2),
        Finished("stop"),
    ]
    request = fake.chat_requests[0]
    assert request.body["messages"] == MESSAGES
    assert request.body["stream"] is True
    assert request.body["stream_options"] == {"include_usage": True}
    assert request.headers["authorization"] == "Bearer sk-no-key-required"


async def test_chunks_of_odd_shapes_are_skipped(fake: FakeOpenAI, settings: Settings) -> None:
    """Chunks arrive as parsed JSON: whatever a server puts in them, only text is text."""
    fake.add(
        deltas=["fine"],
        odd_frames=[
            {"choices": None},
            {"choices": [None]},
            {"choices": "nope"},
            {"choices": [{"delta": None, "finish_reason": 7}]},
            {"choices": [{"delta": {"content": 5, "reasoning_content": ["x"]}}]},
            {"choices": [{"delta": "text"}]},
            {"usage": {"prompt_tokens": "3", "completion_tokens": True}},
            [1, 2, 3],
            '"just a string"',
            "42",
        ],
    )
    events = await collect(client_for(settings))
    assert events == [UsageReport(None, None), TextDelta("fine"), Finished("stop")]


async def test_real_key_is_sent_as_bearer(fake: FakeOpenAI, settings: Settings) -> None:
    await collect(client_for(settings, api_key="sk-test-123"))
    assert fake.chat_requests[0].headers["authorization"] == "Bearer sk-test-123"


async def test_server_rejecting_stream_options_gets_a_plain_request(
    fake: FakeOpenAI, settings: Settings
) -> None:
    fake.add(status=400, error_message="Unrecognized request argument: stream_options")
    fake.add(deltas=["ok"])
    events = await collect(client_for(settings))
    assert TextDelta("ok") in events
    assert "stream_options" not in fake.chat_requests[1].body


@pytest.mark.parametrize(
    ("reply", "kind", "words"),
    [
        ({"status": 401, "error_message": "Incorrect API key"}, "auth", ["401", "key"]),
        ({"status": 403}, "permission", ["403"]),
        (
            {"status": 404, "error_message": "The model `gpt-x` does not exist"},
            "model",
            ["gpt-x", "Choose a model"],
        ),
        (
            {"status": 400, "error_message": "maximum context length is 8192 tokens"},
            "context_length",
            ["too long", "Start over"],
        ),
        ({"status": 429, "headers": {"retry-after": "7"}}, "rate_limit", ["429", "7 s"]),
        (
            {"status": 429, "error_message": "You exceeded your current quota"},
            "quota",
            ["quota"],
        ),
        ({"status": 500}, "server", ["500", "temporary", "Try again"]),
        ({"status": 502}, "server", ["502"]),
        ({"status": 503}, "server", ["503"]),
        ({"fault": "drop", "fault_after": 2}, "connection", ["broke", "closed"]),
        ({"fault": "error_frame", "fault_after": 1}, "stream_error", ["error during the reply"]),
        ({"fault": "malformed", "fault_after": 1}, "protocol", ["cannot read"]),
        ({"fault": "hang", "fault_after": 1}, "timeout", ["stopped sending", "nothing for 1 s"]),
    ],
)
async def test_each_failure_becomes_one_clear_error(
    fake: FakeOpenAI, reply: dict, kind: str, words: list[str]
) -> None:
    # A short timeout only where the timeout is the point: a loaded machine can be slow.
    timeout = 1 if kind == "timeout" else 15
    settings = load_settings(environ={}, cli={"base_url": fake.base_url, "timeout": timeout})
    fake.add(**reply)
    with pytest.raises(ChatError) as raised:
        await collect(client_for(settings), model="gpt-x")
    error = raised.value
    assert error.kind == kind
    for word in words:
        assert word in error.explain(STEPS)
    assert "Traceback" not in error.explain(STEPS)


async def test_connection_refused_is_named() -> None:
    settings = load_settings(environ={}, cli={"base_url": f"http://127.0.0.1:{closed_port()}/v1"})
    with pytest.raises(ChatError) as raised:
        await collect(client_for(settings))
    assert "connection refused" in raised.value.full_text


async def test_unknown_host_is_named() -> None:
    settings = load_settings(environ={}, cli={"base_url": "http://no-such-host.invalid/v1"})
    with pytest.raises(ChatError) as raised:
        await collect(client_for(settings))
    assert "could not be resolved" in raised.value.full_text


async def test_errors_never_show_the_key(fake: FakeOpenAI, settings: Settings) -> None:
    fake.add(status=401, error_message="Incorrect API key provided: sk-live-abcdef123456")
    with pytest.raises(ChatError) as raised:
        await collect(client_for(settings, api_key="sk-live-abcdef123456"))
    assert "sk-live" not in raised.value.full_text
    assert "[key hidden]" in raised.value.full_text


async def test_models_are_listed(fake: FakeOpenAI, settings: Settings) -> None:
    fake.models = ["b-model", "a-model"]
    assert await client_for(settings).list_models() == ["a-model", "b-model"]
