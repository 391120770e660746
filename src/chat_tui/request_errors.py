"""Every way a request to the server can fail, worded as one `ChatError` a person can act on.

The ladder reads the SDK's exception types from the module it is handed, so this module never
imports the SDK itself (only `client` does). Keys never appear in a message: `redact` hides
them, and credentials in URLs, wherever the server or a library echoed them.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal
from urllib.parse import urlsplit

from chat_tui.config import Provider
from chat_tui.context_window import window_from_refusal

NextStep = Literal["retry", "model", "context"]
"""What the person can do about a failure, for the caller to phrase with its own keys or
flags: try again, choose another model, or start over / choose a bigger model."""


@dataclass(frozen=True)
class Request:
    """What a failure message needs to know about the request that failed."""

    model: str
    server: str
    provider: Provider
    timeout: float
    connect_timeout: float


def explain_failure(
    error: BaseException,
    openai: ModuleType,
    request: Request,
    *,
    mid_stream: bool,
    received: bool = False,
) -> ChatError:
    """`error` as a `ChatError`: what happened, and what the person can do about it."""
    server = request.server
    explained = _by_kind(error, openai, request.model, server, request.provider, request.timeout)
    if explained.kind == "timeout" and _is_connect_timeout(error):
        explained.message = (
            f"Cannot reach {server}: it did not accept the connection "
            f"within {request.connect_timeout:g} s"
        )
        explained.hint = "Is the server running, and reachable from here (firewall, VPN)?"
    if mid_stream and explained.kind in ("connection", "timeout"):
        where = "in the middle of the reply" if received else "before any text arrived"
        if explained.kind == "timeout":
            explained.message = (
                f"{server} stopped sending {where} (nothing for {request.timeout:g} s)"
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
    explained.message = redact(explained.message, request.provider.api_key)
    explained.hint = redact(explained.hint, request.provider.api_key)
    return explained


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
        window: int | None = None,
    ) -> None:
        super().__init__(message)
        self.window = window
        """For a conversation too long for the model: the context window the server stated."""
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


def _by_kind(
    error: BaseException,
    openai: ModuleType,
    model: str,
    server: str,
    provider: Provider,
    timeout: float,
) -> ChatError:
    detail = server_message(error)
    status = getattr(error, "status_code", None)
    key_source = (
        f"${provider.api_key_env} or api_key in config.toml"
        if provider.api_key_env
        else "api_key in config.toml"
    )
    if isinstance(error, openai.APIStatusError) and rejects_images(detail):
        return ChatError(
            f"{model!r} on {server} does not accept images ({status}){colon(detail)}",
            hint="The prompt and its attachments are kept; a model that reads images can "
            "answer it.",
            kind="images",
            next_step="model",
            status=status,
        )
    if isinstance(error, openai.AuthenticationError):
        return ChatError(
            f"{server} rejected the API key (401){colon(detail)}",
            hint=f"Set a valid key in {key_source}.",
            kind="auth",
            next_step=None,
            status=401,
        )
    if isinstance(error, openai.PermissionDeniedError):
        return ChatError(
            f"{server} refused access (403){colon(detail)}",
            hint="The key is not allowed to use this model or endpoint; check its permissions.",
            kind="permission",
            next_step=None,
            status=403,
        )
    if isinstance(error, openai.NotFoundError):
        if "model" in detail.lower() or (model and model in detail):
            return ChatError(
                f"{server} has no model {model!r} (404){colon(detail)}",
                kind="model",
                next_step="model",
                status=404,
            )
        return ChatError(
            f"{server} answered 404 Not Found{colon(detail)}",
            hint="Check base_url: OpenAI-compatible servers usually end in /v1.",
            kind="not_found",
            next_step=None,
            status=404,
        )
    if isinstance(error, openai.RateLimitError):
        wait = _retry_after(error)
        if "quota" in detail.lower():
            return ChatError(
                f"{server} says the account is out of quota (429){colon(detail)}",
                hint="Check the plan and billing of this API key.",
                kind="quota",
                next_step=None,
                status=429,
            )
        return ChatError(
            f"{server} is rate limiting requests (429){colon(detail)}",
            hint=f"Wait {wait:g} s." if wait else "Wait a moment.",
            kind="rate_limit",
            status=429,
            retry_after=wait,
        )
    if isinstance(error, openai.BadRequestError):
        lowered = detail.lower()
        if "context" in lowered or "too long" in lowered or "maximum" in lowered:
            return ChatError(
                f"The conversation is too long for {model!r} (400){colon(detail)}",
                kind="context_length",
                next_step="context",
                status=400,
                window=window_from_refusal(getattr(error, "body", None), detail),
            )
        return ChatError(
            f"{server} rejected the request (400){colon(detail)}",
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
                f"{server} failed with a server error ({code}){colon(detail)}",
                hint="This is usually temporary.",
                kind="server",
                status=code,
            )
        return ChatError(
            f"{server} answered {code}{colon(detail)}",
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
            f"{server} reported an error during the reply{colon(detail or str(error))}",
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


_NO_IMAGES = re.compile(
    r"image_url is only supported by certain models"  # OpenAI
    r"|does not support (image|vision|multimodal)"  # OpenAI's newer wording, and others
    r"|image input is not supported"  # llama.cpp without a vision projector
    r"|is not a multimodal model"  # vLLM
    r"|images? (are|is) not supported",
    re.IGNORECASE,
)


def rejects_images(detail: str) -> bool:
    """Whether a server's error message says the model cannot read images."""
    return bool(_NO_IMAGES.search(detail))


def colon(detail: str) -> str:
    return f": {detail}" if detail else ""


def server_message(error: BaseException) -> str:
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


_URL_CREDENTIALS = re.compile(r"(?<=://)[^/\s@]+@")
_KEY_PATTERN = re.compile(r"\b(sk-[A-Za-z0-9_\-*]{6,})")


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
