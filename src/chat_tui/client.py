"""The only module that knows the `openai` SDK exists.

`ChatClient.stream_reply` turns a Chat Completions stream into plain events, and every way a
request can fail into one `ChatError` whose message says what happened and what to do. The SDK
is imported lazily (it costs about a second) and, from async code, in a thread so the event
loop never stalls on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import json
import re
import socket
import threading
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

from chat_tui.config import DEFAULT_PROVIDER, Provider
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
class Finished:
    reason: str | None
    """The server's `finish_reason` ("stop", "length", "tool_calls", ...), if it sent one."""


StreamEvent = TextDelta | ReasoningDelta | ToolCallDelta | UsageReport | Notice | Finished


NextStep = Literal["retry", "model", "context"]
"""What the person can do about a failure, for the caller to phrase with its own keys or
flags: try again, choose another model, or start over / choose a bigger model."""


class ChatError(Exception):
    """A request failed. `message` says what happened; `hint` what to check, in words that
    hold in the app and the shell alike; `next_step` what to do next, which the caller words
    (`explain`), because only it knows its keys."""

    def __init__(
        self,
        message: str,
        *,
        hint: str = "",
        kind: str = "error",
        status: int | None = None,
        retry_after: float | None = None,
        next_step: NextStep | None = "retry",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.kind = kind
        self.status = status
        self.retry_after = retry_after
        self.next_step = next_step

    @property
    def full_text(self) -> str:
        """What happened, then what to check, as sentences (no next step)."""
        return self.explain({})

    def explain(self, next_steps: Mapping[str, str]) -> str:
        """`full_text` followed by the caller's wording of the next step."""
        step = next_steps.get(self.next_step or "", "")
        return _sentences(self.message, self.hint, step)


def _sentences(*parts: str) -> str:
    """Join parts into sentences, adding the full stop a part may lack."""
    done: list[str] = []
    for part in (p.strip() for p in parts):
        if not part:
            continue
        if done and not done[-1].endswith((".", "!", "?", "…")):
            done[-1] += "."
        done.append(part)
    return " ".join(done)


def load_sdk() -> ModuleType:
    """Import `openai` (about a second the first time, free afterwards)."""
    return importlib.import_module("openai")


async def warm_up() -> None:
    """Import the SDK in a thread so the first request does not stall the event loop."""
    await _in_daemon_thread(load_sdk)


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
        self._send_stream_options = True
        """Cleared when a server rejects `stream_options` (it then gets plain requests)."""
        self._send_tools = True
        """Cleared when a server or model rejects `tools`: later requests go without them."""

    async def _client(self) -> Any:
        if self._sdk_client is None:
            # In a thread: the import, and the TLS context the HTTP client loads its
            # certificates into, would each hold the event loop for tens of milliseconds.
            self._sdk_client = await _in_daemon_thread(self._make_sdk_client)
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
    ) -> AsyncGenerator[StreamEvent, None]:
        """Stream one reply, offering `tools` (OpenAI `tools` entries) if given. Raises
        `ChatError`.

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
        stream = await self._open_stream(client, messages, model, tools or None, notes)
        for note in notes:
            yield Notice(note)
        reason: str | None = None
        received = False
        held = ""
        """The first half of a surrogate pair a server split across two frames."""
        try:
            async for chunk in stream:
                if not isinstance(chunk, dict):
                    continue
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
            raise self._explain(error, model, mid_stream=True, received=received) from error
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
    ) -> Any:
        """Send the request; `notes` gets what the person should hear about a retry."""
        body: dict[str, Any] = {"model": model, "messages": messages, "stream": True}
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
            if asks_usage and _rejects_stream_options(error):
                self._send_stream_options = False
                return await self._open_stream(client, messages, model, tools, notes)
            if offers_tools and _rejects_tools(error):
                self._send_tools = False
                notes.append(
                    f"{self.server_label} does not accept tools for {model!r}"
                    f"{_colon(_server_message(error))}; asked again without them"
                )
                return await self._open_stream(client, messages, model, tools, notes)
            raise self._explain(error, model, mid_stream=False) from error

    async def list_models(self) -> list[str]:
        """Model ids the server reports at /models, sorted."""
        client = await self._client()
        try:
            page = await client.models.list()
            ids = [model.id async for model in page]
        except asyncio.CancelledError:
            raise
        except Exception as error:
            raise self._explain(error, "", mid_stream=False) from error
        return sorted({str(i) for i in ids if i})

    # -- failures --------------------------------------------------------------------------

    def _explain(
        self, error: BaseException, model: str, *, mid_stream: bool, received: bool = False
    ) -> ChatError:
        explained = _explain(error, model, self.server_label, self.provider, self.timeout)
        if explained.kind == "timeout" and _is_connect_timeout(error):
            explained.message = (
                f"Cannot reach {self.server_label}: it did not accept the connection "
                f"within {self.connect_timeout:g} s"
            )
            explained.hint = "Is the server running, and reachable from here (firewall, VPN)?"
        if mid_stream and explained.kind in ("connection", "timeout"):
            where = "in the middle of the reply" if received else "before any text arrived"
            if explained.kind == "timeout":
                explained.message = (
                    f"{self.server_label} stopped sending {where} (nothing for {self.timeout:g} s)"
                )
                explained.hint = "If the model is slow to answer, raise `timeout` in config.toml."
            else:
                explained.message = f"The connection broke {where}: {_root_cause(error)}"
                explained.hint = ""
        if mid_stream and received:
            explained.hint = f"The text so far is kept. {explained.hint}"
        attempts = _attempts(error)
        if attempts > 1 and not mid_stream:
            explained.message += f" (tried {attempts} times)"
        explained.message = redact(explained.message, self.provider.api_key)
        explained.hint = redact(explained.hint, self.provider.api_key)
        return explained


def _explain(
    error: BaseException, model: str, server: str, provider: Provider, timeout: float
) -> ChatError:
    openai = load_sdk()
    detail = _server_message(error)
    status = getattr(error, "status_code", None)
    key_source = (
        f"${provider.api_key_env} or api_key in config.toml"
        if provider.api_key_env
        else "api_key in config.toml"
    )
    if isinstance(error, openai.AuthenticationError):
        return ChatError(
            f"{server} rejected the API key (401){_colon(detail)}",
            hint=f"Set a valid key in {key_source}.",
            kind="auth",
            next_step=None,
            status=401,
        )
    if isinstance(error, openai.PermissionDeniedError):
        return ChatError(
            f"{server} refused access (403){_colon(detail)}",
            hint="The key is not allowed to use this model or endpoint; check its permissions.",
            kind="permission",
            next_step=None,
            status=403,
        )
    if isinstance(error, openai.NotFoundError):
        if "model" in detail.lower() or (model and model in detail):
            return ChatError(
                f"{server} has no model {model!r} (404){_colon(detail)}",
                kind="model",
                next_step="model",
                status=404,
            )
        return ChatError(
            f"{server} answered 404 Not Found{_colon(detail)}",
            hint="Check base_url: OpenAI-compatible servers usually end in /v1.",
            kind="not_found",
            next_step=None,
            status=404,
        )
    if isinstance(error, openai.RateLimitError):
        wait = _retry_after(error)
        if "quota" in detail.lower():
            return ChatError(
                f"{server} says the account is out of quota (429){_colon(detail)}",
                hint="Check the plan and billing of this API key.",
                kind="quota",
                next_step=None,
                status=429,
            )
        return ChatError(
            f"{server} is rate limiting requests (429){_colon(detail)}",
            hint=f"Wait {wait:g} s." if wait else "Wait a moment.",
            kind="rate_limit",
            status=429,
            retry_after=wait,
        )
    if isinstance(error, openai.BadRequestError):
        lowered = detail.lower()
        if "context" in lowered or "too long" in lowered or "maximum" in lowered:
            return ChatError(
                f"The conversation is too long for {model!r} (400){_colon(detail)}",
                kind="context_length",
                next_step="context",
                status=400,
            )
        return ChatError(
            f"{server} rejected the request (400){_colon(detail)}",
            hint="Check the model name and settings.",
            kind="bad_request",
            next_step=None,
            status=400,
        )
    if isinstance(error, openai.APIStatusError):
        code = status or 0
        if 300 <= code < 400:
            location = _header(error, "location")
            target = f" to {host_of(location) or location}" if location else ""
            return ChatError(
                f"{server} redirected the request{target} ({code}); chat-tui only sends "
                "requests to the configured server",
                hint="If you trust the new address, set base_url to it.",
                kind="redirect",
                next_step=None,
                status=code,
            )
        if code >= 500:
            return ChatError(
                f"{server} failed with a server error ({code}){_colon(detail)}",
                hint="This is usually temporary.",
                kind="server",
                status=code,
            )
        return ChatError(
            f"{server} answered {code}{_colon(detail)}",
            kind="status",
            status=code,
        )
    if isinstance(error, openai.APITimeoutError):
        return ChatError(
            f"{server} sent nothing for {timeout:g} s (timed out)",
            hint="Check that the server is up, or raise `timeout` in config.toml.",
            kind="timeout",
        )
    if isinstance(error, openai.APIConnectionError):
        return ChatError(
            f"Cannot reach {server}: {_root_cause(error)}",
            hint="Is the server running and is base_url right?",
            kind="connection",
        )
    if isinstance(error, openai.APIError):
        return ChatError(
            f"{server} reported an error during the reply{_colon(detail or str(error))}",
            kind="stream_error",
        )
    if isinstance(error, json.JSONDecodeError | ValueError | TypeError | KeyError):
        return ChatError(
            f"{server} sent a response chat-tui cannot read ({type(error).__name__})",
            hint="The server may not speak the OpenAI protocol.",
            kind="protocol",
        )
    return ChatError(
        f"The request failed: {_root_cause(error)}",
        kind="connection",
    )


def _hold_half_pair(text: str) -> tuple[str, str]:
    """Valid text to show now, and a trailing high surrogate to join with the next frame."""
    if text and "\ud800" <= text[-1] <= "\udbff":
        return valid_unicode(text[:-1]), text[-1]
    return valid_unicode(text), ""


def _colon(detail: str) -> str:
    return f": {detail}" if detail else ""


def _server_message(error: BaseException) -> str:
    """The human part of an OpenAI-shaped error body, shortened to one line."""
    body = getattr(error, "body", None)
    message: Any = None
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else inner
    if not message:
        message = getattr(error, "message", "") if hasattr(error, "body") else ""
    text = " ".join(str(message or "").split())
    return text[:300] + ("…" if len(text) > 300 else "")


def _header(error: BaseException, name: str) -> str | None:
    response = getattr(error, "response", None)
    headers = getattr(response, "headers", None) or {}
    value = headers.get(name)
    return str(value) if value is not None else None


def _attempts(error: BaseException) -> int:
    """How many times the SDK sent the request (it retries 429, 5xx and connect errors)."""
    request = getattr(error, "request", None)
    if request is None:
        response = getattr(error, "response", None)
        request = getattr(response, "request", None)
    headers = getattr(request, "headers", None) or {}
    try:
        return int(headers.get("x-stainless-retry-count", 0)) + 1
    except (TypeError, ValueError):
        return 1


def _is_connect_timeout(error: BaseException) -> bool:
    return any(type(e).__name__ == "ConnectTimeout" for e in _chain(error))


def _chain(error: BaseException) -> list[BaseException]:
    chain: list[BaseException] = [error]
    while len(chain) < 10 and (chain[-1].__cause__ or chain[-1].__context__) is not None:
        chain.append(chain[-1].__cause__ or chain[-1].__context__)  # type: ignore[arg-type]
    return chain


def host_of(url: str | None) -> str:
    """`host:port` of a URL: no scheme, path, user name or password."""
    if not url:
        return ""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return ""
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}" if port else host


def _retry_after(error: BaseException) -> float | None:
    for name in ("retry-after-ms", "retry-after"):
        value = _header(error, name)
        if value is None:
            continue
        try:
            seconds = float(value)
        except ValueError:
            continue
        return seconds / 1000 if name.endswith("-ms") else seconds
    return None


def _root_cause(error: BaseException) -> str:
    """The innermost cause, phrased for a person ("connection refused", "name not known")."""
    chain = _chain(error)
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return "connection refused"
    if any(isinstance(e, socket.gaierror) for e in chain):
        return "the host name could not be resolved"
    text = " ".join(str(e) for e in chain).lower()
    if "refused" in text or "connect call failed" in text:
        return "connection refused"
    if "name or service not known" in text or "name resolution" in text:
        return "the host name could not be resolved"
    if "incomplete" in text or "peer closed" in text or "reset" in text:
        return "the server closed the connection"
    innermost = chain[-1]
    return " ".join((str(innermost) or type(innermost).__name__).split())[:200]


def _rejects_stream_options(error: BaseException) -> bool:
    return getattr(error, "status_code", None) in (400, 422) and "stream_options" in str(
        getattr(error, "body", "") or error
    )


_TOOLS_REJECTED = re.compile(
    r"(support|enable|allow|accept)\w*\b.{0,40}\btools?\b|\btools?\b.{0,60}"
    r"(support|enable|allow|accept|require)",
    re.IGNORECASE,
)
"""How servers word "no tools here": "does not support tools", "tools param requires --jinja
flag", "auto tool choice requires --enable-auto-tool-choice", "tools is not supported"."""


def _rejects_tools(error: BaseException) -> bool:
    return getattr(error, "status_code", None) in (400, 422) and bool(
        _TOOLS_REJECTED.search(_server_message(error))
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


_KEY_PATTERN = re.compile(r"\b(sk-[A-Za-z0-9_\-*]{6,})")
_URL_CREDENTIALS = re.compile(r"(?<=://)[^/\s@]+@")


def redact(text: str, api_key: str | None) -> str:
    """Remove anything that looks like an API key (servers sometimes echo it back, whole or
    in part) and any user name or password written into a URL."""
    if api_key:
        text = _hide_key(text, api_key)
    text = _URL_CREDENTIALS.sub("[hidden]@", text)
    return _KEY_PATTERN.sub("[key hidden]", text)


KEY_FRAGMENT = 10
"""Any run of this many characters of the key is hidden (a server may drop its prefix)."""


def _hide_key(text: str, key: str) -> str:
    if len(key) < KEY_FRAGMENT:
        return text.replace(key, "[key hidden]")
    windows = {key[i : i + KEY_FRAGMENT] for i in range(len(key) - KEY_FRAGMENT + 1)}
    shown: list[str] = []
    position = 0
    while position < len(text):
        if text[position : position + KEY_FRAGMENT] in windows:
            end = position + KEY_FRAGMENT
            while end < len(text) and text[position : end + 1] in key:
                end += 1
            shown.append("[key hidden]")
            position = end
        else:
            shown.append(text[position])
            position += 1
    return "".join(shown)


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
