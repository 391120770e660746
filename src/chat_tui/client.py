"""The only module that knows the `openai` SDK exists.

`ChatClient.stream_reply` turns a Chat Completions stream into plain events, and every way a
request can fail into one `ChatError` (worded by `request_errors`) whose message says what
happened and what to do. The SDK is imported lazily and, from async code, in a thread so the
event loop never stalls on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import re
import threading
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeVar

from chat_tui.config import DEFAULT_PROVIDER, Provider
from chat_tui.generation import Generation, max_tokens_field, other_max_tokens_field
from chat_tui.request_errors import (
    ChatError,
    Request,
    colon,
    explain_failure,
    host_of,
    server_message,
)
from chat_tui.safetext import valid_unicode

CONNECT_TIMEOUT = 10.0
T = TypeVar("T")


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class ReasoningDelta:
    """Thinking text (`reasoning_content` / `reasoning`) streamed by some servers."""

    text: str


@dataclass(frozen=True)
class UsageReport:
    prompt_tokens: int | None
    completion_tokens: int | None


@dataclass(frozen=True)
class ToolCallDelta:
    """A piece of a tool call: the first piece of a call names it, the rest carry its
    arguments a few characters at a time. `index` tells the calls of one reply apart."""

    index: int
    id: str | None
    name: str | None
    arguments: str


@dataclass(frozen=True)
class Notice:
    """Something the person should know that is not a failure (tools were not accepted)."""

    text: str


@dataclass(frozen=True)
class ServedBy:
    """The model the server says is answering (the `model` field of its chunks), sent when
    it is not the one asked for."""

    model: str


@dataclass(frozen=True)
class Finished:
    reason: str | None
    """The server's `finish_reason` ("stop", "length", "tool_calls", ...), if it sent one."""


StreamEvent = (
    TextDelta | ReasoningDelta | ToolCallDelta | UsageReport | Notice | ServedBy | Finished
)


def load_sdk() -> ModuleType:
    """Import `openai` (about a second the first time, free afterwards)."""
    return importlib.import_module("openai")


async def _in_daemon_thread(function: Callable[[], T]) -> T:
    """`asyncio.to_thread` in a thread the process does not wait for when it exits.

    The default executor's threads are joined on the way out, so an import still running
    held up the quit; importing the SDK, or building a client nobody will use now, is not
    worth waiting for.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def deliver(outcome: Callable[[], None]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is waiting
            loop.call_soon_threadsafe(lambda: None if future.done() else outcome())

    def run() -> None:
        try:
            result = function()
        except BaseException as error:
            deliver(functools.partial(future.set_exception, error))
        else:
            deliver(functools.partial(future.set_result, result))

    threading.Thread(target=run, name="openai-sdk", daemon=True).start()
    return await future


async def _post_chat_stream(client: Any, body: dict[str, Any]) -> Any:
    """`client.chat.completions.create(**body)`, with the chunks as plain dicts.

    Two costs of `create` sit on the event loop and grow with the work: it walks every
    message of the request through its type annotations before sending (225 ms for a
    2,000-message conversation, on every reply), and it builds a pydantic model of every
    chunk (three quarters of the CPU of reading a 4,000-token stream). Our messages are
    plain `role`/`content` text, which that transform leaves unchanged, and we read four
    fields of each chunk; so the body is posted as it is through the client's documented
    `post`, with the same retries, timeouts, error responses and error frames, and the
    chunks come as parsed JSON. (Tool turns are plain JSON too: the transform leaves them
    unchanged as well.)
    """
    from openai import AsyncStream

    return await client.post(
        "/chat/completions", body=body, cast_to=object, stream=True, stream_cls=AsyncStream[object]
    )


class ChatClient:
    """Talks to one OpenAI-compatible server."""

    def __init__(self, provider: Provider, *, timeout: float, max_retries: int) -> None:
        self.provider = provider
        self.timeout = timeout
        self.max_retries = max_retries
        self._sdk_client: Any = None
        self._building = threading.Lock()
        """Held while the SDK client is made, so `prepare` and a request make one."""
        self._send_stream_options = True
        """Cleared when a server rejects `stream_options` (it then gets plain requests)."""
        self._send_tools = True
        """Cleared when a server or model rejects `tools`: later requests go without them."""
        self._max_tokens_fields: dict[str, str] = {}
        """Per model, the length field this server asked for in a 400 (see `generation`)."""

    def prepare(self) -> None:
        """Import the SDK and make the client now, in a daemon thread, so that the first
        request finds them ready: the import alone takes about a second. Nothing is sent."""
        threading.Thread(target=self._prepare, name="openai-sdk", daemon=True).start()

    def _prepare(self) -> None:
        # A failure here (an SDK that cannot be imported, a bad setting) is met again, and
        # reported, by the request that needs the client.
        with contextlib.suppress(Exception):
            self._sdk_client_now()

    async def _client(self) -> Any:
        if self._sdk_client is None:
            # In a thread: the import, and the TLS context the HTTP client loads its
            # certificates into, would each hold the event loop for tens of milliseconds.
            return await _in_daemon_thread(self._sdk_client_now)
        return self._sdk_client

    def _sdk_client_now(self) -> Any:
        """The SDK client, made here unless another thread has made it or is making it."""
        with self._building:
            if self._sdk_client is None:
                self._sdk_client = self._make_sdk_client()
            return self._sdk_client

    def _make_sdk_client(self) -> Any:
        openai = load_sdk()
        timeout = openai.Timeout(self.timeout, connect=self.connect_timeout)
        return openai.AsyncOpenAI(
            api_key=self.provider.request_key,
            base_url=self.provider.base_url,
            max_retries=self.max_retries,
            timeout=timeout,
            # Requests go to the configured server only: a redirect elsewhere is an
            # error to report, not a place to send the conversation (and the key).
            http_client=openai.DefaultAsyncHttpxClient(timeout=timeout, follow_redirects=False),
        )

    async def close(self) -> None:
        if self._sdk_client is not None:
            await self._sdk_client.close()
            self._sdk_client = None

    @property
    def connect_timeout(self) -> float:
        return min(self.timeout, CONNECT_TIMEOUT)

    @property
    def server_label(self) -> str:
        """How messages name the server: the provider's name, else its host and port (never
        the key, nor a user name or password written into the URL)."""
        if self.provider.name != DEFAULT_PROVIDER:
            return self.provider.name
        return host_of(self.provider.base_url) if self.provider.base_url else "OpenAI"

    @property
    def accepts_tools(self) -> bool:
        """False once the server rejected tools: offering them again would be refused."""
        return self._send_tools

    async def stream_reply(
        self,
        messages: list[dict[str, Any]],
        model: str,
        tools: list[dict[str, Any]] | None = None,
        settings: Generation | None = None,
    ) -> AsyncGenerator[StreamEvent, None]:
        """Stream one reply, offering `tools` (OpenAI `tools` entries) if given, with the
        generation `settings` that are set. Raises `ChatError`.

        A server or model that rejects tools gets the same request again without them, and
        a `Notice` says so, once per client.

        The response is closed, and with it a connection whose reply was not read to the
        end, whenever the generator stops: at the end, on an error or a cancellation inside
        it, or when it is closed (`aclose`). A consumer that stops early must close it (see
        `replying.fill_reply`), or the server goes on sending into an unread socket.
        """
        client = await self._client()
        # A lone surrogate (kept from an earlier reply) would make the request unsendable.
        messages = [_sendable(m) for m in messages]
        model = valid_unicode(model)
        notes: list[str] = []
        stream = await self._open_stream(
            client, messages, model, tools or None, notes, settings or Generation()
        )
        for note in notes:
            yield Notice(note)
        reason: str | None = None
        served = ""
        received = False
        held = ""
        """The first half of a surrogate pair a server split across two frames."""
        try:
            async for chunk in stream:
                if not isinstance(chunk, dict):
                    continue
                named = chunk.get("model")
                if not served and isinstance(named, str) and named.strip():
                    served = valid_unicode(named.strip()[:200])
                    if served != model:
                        yield ServedBy(served)
                usage = chunk.get("usage")
                if isinstance(usage, dict):
                    yield UsageReport(
                        _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens"))
                    )
                choices = chunk.get("choices")
                choice = choices[0] if isinstance(choices, list) and choices else None
                if not isinstance(choice, dict):
                    continue
                delta = choice.get("delta")
                if isinstance(delta, dict):
                    thinking = _reasoning_text(delta)
                    if thinking:
                        received = True
                        yield ReasoningDelta(valid_unicode(thinking))
                    content = delta.get("content")
                    if isinstance(content, str) and content:
                        received = True
                        text, held = _hold_half_pair(held + content)
                        if text:
                            yield TextDelta(text)
                    for call in _tool_call_deltas(delta.get("tool_calls")):
                        received = True
                        yield call
                finish_reason = choice.get("finish_reason")
                if isinstance(finish_reason, str) and finish_reason:
                    reason = finish_reason
        except asyncio.CancelledError:
            raise
        except Exception as error:
            raise self._as_chat_error(error, model, mid_stream=True, received=received) from error
        finally:
            await _close_quietly(stream)
        if held:
            yield TextDelta(valid_unicode(held))
        yield Finished(reason)

    async def _open_stream(
        self,
        client: Any,
        messages: list[dict[str, Any]],
        model: str,
        tools: list[dict[str, Any]] | None,
        notes: list[str],
        settings: Generation,
        length_retried: bool = False,
    ) -> Any:
        """Send the request; `notes` gets what the person should hear about a retry.

        A server that refuses the length field sent and names the other one (OpenAI:
        "Use 'max_completion_tokens' instead") is asked once more with the other, and it
        is used for that model from then on.
        """
        length_field = self._max_tokens_fields.get(model) or max_tokens_field(model)
        body: dict[str, Any] = settings.request_fields(length_field)
        body.update({"model": model, "messages": messages, "stream": True})
        asks_usage = self._send_stream_options
        if asks_usage:
            body["stream_options"] = {"include_usage": True}
        offers_tools = bool(tools) and self._send_tools
        if offers_tools:
            body["tools"] = tools
        try:
            return await _post_chat_stream(client, body)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            again = functools.partial(
                self._open_stream, client, messages, model, tools, notes, settings
            )
            if asks_usage and _rejects_stream_options(error):
                self._send_stream_options = False
                return await again(length_retried)
            if offers_tools and _rejects_tools(error):
                self._send_tools = False
                notes.append(
                    f"{self.server_label} does not accept tools for {model!r}"
                    f"{colon(server_message(error))}; asked again without them"
                )
                return await again(length_retried)
            if (
                settings.max_tokens is not None
                and not length_retried
                and _names_length_field(error, length_field)
            ):
                self._max_tokens_fields[model] = other_max_tokens_field(length_field)
                return await again(True)
            raise self._as_chat_error(error, model, mid_stream=False) from error

    async def list_models(self) -> list[str]:
        """Model ids the server reports at /models, sorted."""
        client = await self._client()
        try:
            page = await client.models.list()
            ids = [model.id async for model in page]
        except asyncio.CancelledError:
            raise
        except Exception as error:
            raise self._as_chat_error(error, "", mid_stream=False) from error
        return sorted({str(i) for i in ids if i})

    async def server_json(self, method: str, path: str, body: Any = None, *, timeout: float) -> Any:
        """The JSON a server answers at `path` of its root (the base URL without its `/v1`),
        or None however that fails: for questions a server need not understand, such as
        llama.cpp's `/props`. No retries, and at most `timeout` seconds."""
        if not self.provider.base_url:
            return None
        root = self.provider.base_url.removesuffix("/v1")
        try:
            client = await self._client()
            options = {"timeout": timeout, "max_retries": 0}
            if method == "GET":
                return await client.get(root + path, cast_to=object, options=options)
            return await client.post(root + path, body=body, cast_to=object, options=options)
        except asyncio.CancelledError:
            raise
        except Exception:
            return None

    def _as_chat_error(
        self, error: BaseException, model: str, *, mid_stream: bool, received: bool = False
    ) -> ChatError:
        return explain_failure(
            error,
            load_sdk(),
            Request(
                model=model,
                server=self.server_label,
                provider=self.provider,
                timeout=self.timeout,
                connect_timeout=self.connect_timeout,
            ),
            mid_stream=mid_stream,
            received=received,
        )


def _hold_half_pair(text: str) -> tuple[str, str]:
    """Valid text to show now, and a trailing high surrogate to join with the next frame."""
    if text and "\ud800" <= text[-1] <= "\udbff":
        return valid_unicode(text[:-1]), text[-1]
    return valid_unicode(text), ""


def _rejects_stream_options(error: BaseException) -> bool:
    return getattr(error, "status_code", None) in (400, 422) and "stream_options" in str(
        getattr(error, "body", "") or error
    )


def _names_length_field(error: BaseException, sent: str) -> bool:
    """A 400 about the reply's length field: it names the other one ("Use
    'max_completion_tokens' instead") or refuses the one sent."""
    if getattr(error, "status_code", None) not in (400, 422):
        return False
    message = server_message(error)
    if re.search(rf"\b{other_max_tokens_field(sent)}\b", message):
        return True
    return bool(re.search(rf"\b{sent}\b", message) and _REFUSED.search(message))


_REFUSED = re.compile(r"unsupported|not supported|unknown|unrecognized|not permitted", re.I)


_TOOLS_REJECTED = re.compile(
    r"(support|enable|allow|accept)\w*\b.{0,40}\btools?\b|\btools?\b.{0,60}"
    r"(support|enable|allow|accept|require)",
    re.IGNORECASE,
)
"""How servers word "no tools here": "does not support tools", "tools param requires --jinja
flag", "auto tool choice requires --enable-auto-tool-choice", "tools is not supported"."""


def _rejects_tools(error: BaseException) -> bool:
    return getattr(error, "status_code", None) in (400, 422) and bool(
        _TOOLS_REJECTED.search(server_message(error))
    )


def _sendable(message: dict[str, Any]) -> dict[str, Any]:
    """`message` with its text (content, call arguments) made valid Unicode."""
    sent = dict(message)
    if isinstance(sent.get("content"), str):
        sent["content"] = valid_unicode(sent["content"])
    calls = sent.get("tool_calls")
    if isinstance(calls, list):
        sent["tool_calls"] = [
            {**call, "function": {k: valid_unicode(v) for k, v in call["function"].items()}}
            for call in calls
        ]
    return sent


def _tool_call_deltas(value: object) -> list[ToolCallDelta]:
    """The tool call pieces of one delta, skipping anything not shaped like one."""
    if not isinstance(value, list):
        return []
    found: list[ToolCallDelta] = []
    for position, item in enumerate(value):
        if not isinstance(item, dict):
            continue
        function = item.get("function")
        function = function if isinstance(function, dict) else {}
        index = _count(item.get("index"))
        name, arguments, call_id = function.get("name"), function.get("arguments"), item.get("id")
        found.append(
            ToolCallDelta(
                index=index if index is not None else position,
                id=valid_unicode(call_id) if isinstance(call_id, str) and call_id else None,
                name=valid_unicode(name) if isinstance(name, str) and name else None,
                arguments=valid_unicode(arguments) if isinstance(arguments, str) else "",
            )
        )
    return found


def _reasoning_text(delta: dict[str, Any]) -> str:
    for name in ("reasoning_content", "reasoning"):
        value = delta.get(name)
        if isinstance(value, str) and value:
            return value
    return ""


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


async def _close_quietly(stream: Any) -> None:
    # Closing a broken stream must not mask the error that broke it.
    with contextlib.suppress(Exception):
        await asyncio.shield(stream.close())


class Stopwatch:
    """Time to first token and total duration of one reply."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.first_token: float | None = None

    def token_arrived(self) -> None:
        if self.first_token is None:
            self.first_token = time.monotonic() - self.started

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started
