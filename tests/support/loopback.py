"""A real HTTP server on 127.0.0.1 that speaks the OpenAI Chat Completions protocol.

It runs in a thread, so it serves async Pilot tests and synchronous code (snapshot tests,
subprocesses, benchmarks) alike. Each test scripts what the next requests get: streamed deltas
with delays, tool calls (their arguments split into pieces, several at once, after some text),
error statuses with OpenAI-shaped bodies, an error frame or malformed frame in the middle of a
stream, a dropped connection, a server that stops sending, a stream that never ends. Every
request body is recorded so tests can assert what the app sent. Unscripted, it echoes the last
user message, or after a tool's result, that result.

The server also knows which answers are still being sent (`open_streams`): while it waits (a
delay, a gate, a hang) it watches the socket, and a write fails once the client is gone, so a
client that hangs up is noticed at once, as a real server notices and stops generating.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

Fault = Literal["drop", "hang", "error_frame", "malformed", "no_done", "no_headers", "empty"]
"""What goes wrong: the connection is cut (`drop`), the server stops sending (`hang`), an
error frame or a frame that is not JSON arrives, the stream ends without `[DONE]`, the server
reads the request and never answers (`no_headers`, before any status line), or the stream
ends with no text, no finish reason and no `[DONE]` (`empty`, as llama-cpp-python does with
a conversation longer than its context)."""


ImageRefusal = Literal["openai", "llama.cpp", "vllm"]
IMAGE_REFUSALS: dict[str, tuple[int, dict[str, Any]]] = {
    "openai": (
        400,
        {
            "error": {
                "message": "Invalid content type. image_url is only supported by certain models.",
                "type": "invalid_request_error",
                "param": "messages.[0].content.[1].type",
                "code": None,
            }
        },
    ),
    "llama.cpp": (
        500,
        {
            "error": {
                "code": 500,
                "message": "image input is not supported - hint: if this is unexpected, "
                "you may need to provide the mmproj",
                "type": "server_error",
            }
        },
    ),
    "vllm": (
        400,
        {
            "object": "error",
            "message": "{model} is not a multimodal model",
            "type": "BadRequestError",
            "param": None,
            "code": 400,
        },
    ),
}
"""Status and body of each server's refusal of an image (`{model}` is the model asked for)."""


def carries_image(body: Any) -> bool:
    """Whether a chat request's messages hold an `image_url` part."""
    messages = body.get("messages", []) if isinstance(body, dict) else []
    return any(
        isinstance(part, dict) and part.get("type") == "image_url"
        for message in messages
        if isinstance(message, dict) and isinstance(message.get("content"), list)
        for part in message["content"]
    )


@dataclass
class Call:
    """A tool call the model makes: its arguments are streamed in `pieces` parts."""

    name: str
    arguments: str | dict[str, Any] = field(default_factory=dict)
    id: str = ""
    """Empty: `call_1`, `call_2`, ... in the order of the reply."""
    pieces: int = 3

    @property
    def arguments_text(self) -> str:
        return self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments)

    def split(self) -> list[str]:
        text = self.arguments_text
        size = max(1, -(-len(text) // max(self.pieces, 1)))
        return [text[i : i + size] for i in range(0, len(text), size)] or [""]


@dataclass
class Reply:
    """What the server does for one chat completion request."""

    deltas: list[str] = field(default_factory=lambda: ["Hello", " from", " the", " fake", "."])
    reasoning: list[str] = field(default_factory=list)
    """Sent as `reasoning_content` before the answer."""
    delay: float = 0.0
    """Seconds between chunks."""
    first_delay: float = 0.0
    """Seconds before the first chunk (time to first token)."""
    odd_frames: list[Any] = field(default_factory=list)
    """JSON values sent as frames before the answer, whatever their shape."""
    gate: threading.Event | None = None
    """When set, the first chunk also waits for this event, so a test can look at the
    waiting state for as long as it needs on a loaded machine."""
    answer_gate: threading.Event | None = None
    """When set, the answer's first delta waits for this event (the reasoning does not), so
    a test can look at a reply that is still only thinking."""
    rate: float = 0.0
    """Chunks per second on a fixed schedule that does not drift (used instead of `delay`)."""
    status: int = 200
    """Anything but 200 answers with an OpenAI-shaped error body instead of a stream."""
    error_message: str = "Something went wrong."
    error_type: str = "server_error"
    error_code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    fault: Fault | None = None
    """What goes wrong after `fault_after` chunks."""
    fault_after: int = 0
    usage: dict[str, int] | None = None
    """Sent in a final chunk with empty choices when the request asks for usage."""
    finish_reason: str | None = None
    """None: "tool_calls" when the reply makes calls, else "stop"."""
    tool_calls: list[Call] = field(default_factory=list)
    """Streamed after the text (one call after another, or interleaved when `parallel`)."""
    parallel: bool = False
    model: str | None = None
    """The model the chunks say answered; None: the one asked for."""
    endless: bool = False
    """After the deltas, send the last one again and again (flat out unless `rate` or
    `delay` say otherwise) until the client hangs up: a reply that never ends."""


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    raw: bytes = b""
    """The body exactly as it arrived."""
    at: float = field(default_factory=time.monotonic)
    """`time.monotonic()` when the request had arrived whole, for benchmarks."""

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", [])) if isinstance(self.body, dict) else []


class FakeOpenAI:
    """Start with `start()`, point the client at `base_url`, script with `add(...)`."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.default_reply: Reply | None = None
        """Used when the queue is empty; None means echo the last user message."""
        self.reply_for: Callable[[list[dict[str, Any]]], Reply] | None = None
        """When set and the queue is empty: decides the reply from the request's messages."""
        self.requests: list[RecordedRequest] = []
        self.models: list[str] = ["gpt-4o-mini"]
        """What `/v1/models` lists: one model, as a local server serves."""
        self.models_status = 200
        self.context_window: int | None = None
        """When set, a chat request whose estimated prompt tokens (`estimated_tokens`) plus
        its `max_tokens` exceed it is answered 400 with OpenAI's wording and code."""
        self.props: dict[str, Any] | None = None
        """When set, `GET /props` (at the server's root, as llama.cpp) answers this."""
        self.props_held = False
        """When set, `GET /props` is answered only once the server stops (or the client
        hangs up): a server slow to say its window."""
        self.props_waiting = 0
        """Held `GET /props` requests whose client has not hung up."""
        self.props_asked = threading.Event()
        """Set when a `GET /props` arrives (a reply's `gate` can wait for it)."""
        self.rejects_images: ImageRefusal | None = None
        """When set, a chat request carrying an image is answered as that server answers
        for a model that cannot read images."""
        self.length_field: str | None = None
        """When set ("max_completion_tokens" or "max_tokens"), a request that limits the
        reply's length with the other field is refused as OpenAI refuses it."""
        self.release = threading.Event()
        """Set to let every hanging response finish (done on stop)."""
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.chunks_sent = 0
        self.sent: list[tuple[float, str]] = []
        """(time.monotonic(), text) of every answer delta written to a client, in order."""
        self._open_streams = 0
        self._streams_changed = threading.Condition(self._lock)

    @property
    def open_streams(self) -> int:
        """Chat completion requests still being answered to a client that has not hung up."""
        with self._lock:
            return self._open_streams

    def streams_closed(self, within: float) -> bool:
        """Wait (blocking: for tests that drive a separate process) until no answer is
        still being sent; False if one still is after `within` seconds."""
        with self._streams_changed:
            return self._streams_changed.wait_for(lambda: self._open_streams == 0, within)

    @contextlib.contextmanager
    def _answering(self) -> Iterator[None]:
        with self._streams_changed:
            self._open_streams += 1
        try:
            yield
        finally:
            with self._streams_changed:
                self._open_streams -= 1
                self._streams_changed.notify_all()

    @property
    def sent_at(self) -> list[float]:
        """`time.monotonic()` when each answer delta was written, for benchmarks."""
        with self._lock:
            return [at for at, _ in self.sent]

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, port: int = 0) -> FakeOpenAI:
        """Serve on `port` (any free one by default) in a background thread."""
        handler = _make_handler(self)
        self._server = _QuietServer(("127.0.0.1", port), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def tool_messages(self) -> list[list[dict[str, Any]]]:
        """The `tool` messages of each chat request, in order."""
        return [[m for m in r.messages if m.get("role") == "tool"] for r in self.chat_requests]

    # -- scripting -------------------------------------------------------------------------

    def add(self, reply: Reply | None = None, /, **fields: Any) -> Reply:
        """Queue the reply for the next request (build it from `fields` if not given)."""
        reply = reply or Reply(**fields)
        with self._lock:
            self.replies.append(reply)
        return reply

    def add_text(self, text: str, *, chunk: int = 4, **fields: Any) -> Reply:
        """Queue `text` streamed in chunks of `chunk` characters."""
        deltas = [text[i : i + chunk] for i in range(0, len(text), chunk)]
        return self.add(deltas=deltas, **fields)

    def add_calls(self, *calls: Call, text: str = "", **fields: Any) -> Reply:
        """Queue a reply that says `text` (if any), then makes `calls`."""
        return self.add(deltas=[text] if text else [], tool_calls=list(calls), **fields)

    def next_reply(self, body: Any) -> Reply:
        with self._lock:
            if self.replies:
                return self.replies.popleft()
        if self.reply_for is not None and isinstance(body, dict):
            return self.reply_for(list(body.get("messages", [])))
        if self.default_reply is not None:
            return self.default_reply
        last_user = ""
        messages = body.get("messages", []) if isinstance(body, dict) else []
        for message in messages:
            if isinstance(message, dict) and message.get("role") == "user":
                last_user = _text_of(message.get("content", ""))
        last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
        if last.get("role") == "tool":
            return Reply(deltas=["Result: ", str(last.get("content", ""))])
        return Reply(deltas=["Echo: ", last_user] if last_user else ["Echo."])

    def too_long(self, body: Any) -> int | None:
        """The request's estimated tokens if they do not fit `context_window`, else None."""
        if self.context_window is None or not isinstance(body, dict):
            return None
        tokens = estimated_tokens(body.get("messages", []))
        wanted = body.get("max_tokens") or body.get("max_completion_tokens") or 0
        return tokens if tokens + int(wanted) > self.context_window else None

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]


def estimated_tokens(messages: Any) -> int:
    """A prompt's size as this server counts it: a token per four characters of each
    message's JSON (a stand-in for a real tokenizer, and deliberately not chat-tui's own
    estimate, so a test cannot pass because both sides count alike)."""
    if not isinstance(messages, list):
        return 0
    return sum(len(json.dumps(m)) // 4 for m in messages)


def _text_of(content: Any) -> str:
    """A message's text: its content, or the text of its parts (an image as `[image]`)."""
    if not isinstance(content, list):
        return str(content)
    return "\n".join(
        str(part.get("text", "")) if part.get("type") == "text" else "[image]"
        for part in content
        if isinstance(part, dict)
    )


def _finish_reason(reply: Reply) -> str:
    if reply.finish_reason is not None:
        return reply.finish_reason
    return "tool_calls" if reply.tool_calls else "stop"


def _call_frames(reply: Reply) -> list[dict[str, Any]]:
    """The deltas that stream `reply.tool_calls`: each call's first piece names it, the
    others carry more of its arguments."""
    per_call: list[list[dict[str, Any]]] = []
    for index, call in enumerate(reply.tool_calls):
        pieces = call.split()
        first = {
            "index": index,
            "id": call.id or f"call_{index + 1}",
            "type": "function",
            "function": {"name": call.name, "arguments": pieces[0]},
        }
        rest = [{"index": index, "function": {"arguments": piece}} for piece in pieces[1:]]
        per_call.append([first, *rest])
    if reply.parallel:
        ordered = [
            piece
            for group in itertools.zip_longest(*per_call)
            for piece in group
            if piece is not None
        ]
    else:
        ordered = [piece for pieces in per_call for piece in pieces]
    return [{"tool_calls": [piece]} for piece in ordered]


class _QuietServer(ThreadingHTTPServer):
    """Clients hanging up mid-response (a stopped reply) is normal here, not an error."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening (connection refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def unanswered_port() -> Iterator[int]:
    """A port on 127.0.0.1 whose connections never complete (a connect timeout).

    The socket listens with a backlog of 0 and never accepts; once a few connections fill
    its queue, the kernel drops further connection attempts, as a firewalled or overloaded
    host does, so the client waits for its connect timeout.
    """
    listener = socket.socket()
    fillers: list[socket.socket] = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = int(listener.getsockname()[1])
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
            fillers.append(filler)
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


class _HungUp(Exception):
    """The client closed the connection while the server was waiting to send more."""


HANG_UP_CHECK = 0.02
"""Seconds between looks at the socket while a scripted wait is not over."""


def _length_field_refused(wanted: str | None, body: Any) -> dict[str, Any] | None:
    """OpenAI's 400 for a length field the model does not take, or None."""
    if wanted is None or not isinstance(body, dict):
        return None
    other = "max_tokens" if wanted == "max_completion_tokens" else "max_completion_tokens"
    if other not in body:
        return None
    message = (
        f"Unsupported parameter: '{other}' is not supported with this model. "
        f"Use '{wanted}' instead."
    )
    error = {
        "message": message,
        "type": "invalid_request_error",
        "param": other,
        "code": "unsupported_parameter",
    }
    return {"error": error}


def _make_handler(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _record(self, body: Any, raw: bytes = b"") -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            with fake._lock:
                fake.requests.append(RecordedRequest(self.command, self.path, headers, body, raw))

        def do_GET(self) -> None:
            self._record(None)
            if self.path.rstrip("/").endswith("/models"):
                if fake.models_status != 200:
                    self._send_error(Reply(status=fake.models_status))
                    return
                data = [
                    {"id": m, "object": "model", "created": 0, "owned_by": "fake"}
                    for m in fake.models
                ]
                self._send_json(200, {"object": "list", "data": data})
                return
            if self.path.rstrip("/") == "/props" and self._answered_props():
                return
            self._send_json(404, {"error": {"message": "Not found", "type": "invalid_request"}})

        def _answered_props(self) -> bool:
            """llama.cpp's `/props`, held while `props_held`; False if `props` is unset (the
            caller says 404)."""
            fake.props_asked.set()
            if fake.props_held:
                with fake._lock:
                    fake.props_waiting += 1
                try:
                    self._wait_for(fake.release, 60)
                except (_HungUp, OSError):
                    self.close_connection = True
                    return True
                finally:
                    with fake._lock:
                        fake.props_waiting -= 1
            if fake.props is None:
                return False
            self._send_json(200, fake.props)
            return True

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except json.JSONDecodeError:
                body = None
            self._record(body, raw)
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send_json(404, {"error": {"message": "Unknown path", "type": "not_found"}})
                return
            tokens = fake.too_long(body)
            if tokens is not None:
                self._send_error(
                    Reply(
                        status=400,
                        error_type="invalid_request_error",
                        error_code="context_length_exceeded",
                        error_message=(
                            f"This model's maximum context length is {fake.context_window} "
                            f"tokens. However, your messages resulted in {tokens} tokens. "
                            "Please reduce the length of the messages."
                        ),
                    )
                )
                return
            if fake.rejects_images is not None and carries_image(body):
                status, refusal = IMAGE_REFUSALS[fake.rejects_images]
                model = str(body.get("model", ""))
                self._send_json(status, json.loads(json.dumps(refusal).replace("{model}", model)))
                return
            refused = _length_field_refused(fake.length_field, body)
            if refused is not None:
                self._send_json(400, refused)
                return
            reply = fake.next_reply(body)
            with fake._answering():
                try:
                    self._answer(reply, body)
                except (_HungUp, OSError):  # the client hung up: stop sending, as servers do
                    self.close_connection = True

        def _answer(self, reply: Reply, body: Any) -> None:
            if reply.fault == "no_headers":
                self.close_connection = True
                self._wait_for(fake.release, 60)
                return
            if reply.status != 200:
                self._send_error(reply)
                return
            stream = isinstance(body, dict) and body.get("stream")
            model = body.get("model", "") if isinstance(body, dict) else ""
            if not stream:
                self._send_completion(reply, model)
                return
            include_usage = bool(
                isinstance(body, dict)
                and isinstance(body.get("stream_options"), dict)
                and body["stream_options"].get("include_usage")
            )
            self._stream(reply, reply.model or model, include_usage)

        # -- waiting, and noticing the client hang up --------------------------------------

        def _client_gone(self) -> bool:
            """Whether the client has closed its end (the socket reads end-of-file)."""
            try:
                readable, _, _ = select.select([self.connection], [], [], 0)
                return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
            except OSError:
                return True

        def _pause(self, seconds: float) -> None:
            """Sleep `seconds`, giving up (`_HungUp`) as soon as the client hangs up."""
            deadline = time.monotonic() + seconds
            while (left := deadline - time.monotonic()) > 0:
                if self._client_gone():
                    raise _HungUp
                time.sleep(min(left, HANG_UP_CHECK))

        def _wait_for(self, event: threading.Event, seconds: float) -> None:
            """Wait until `event` is set (or `seconds` pass), unless the client hangs up."""
            deadline = time.monotonic() + seconds
            while not event.wait(min(HANG_UP_CHECK, max(0.0, deadline - time.monotonic()))):
                if self._client_gone():
                    raise _HungUp
                if time.monotonic() >= deadline:
                    return

        # -- responses ---------------------------------------------------------------------

        def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None):
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _send_error(self, reply: Reply) -> None:
            error: dict[str, Any] = {"message": reply.error_message, "type": reply.error_type}
            if reply.error_code:
                error["code"] = reply.error_code
            self._send_json(reply.status, {"error": error}, reply.headers)

        def _send_completion(self, reply: Reply, model: str) -> None:
            payload = {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "".join(reply.deltas)},
                        "finish_reason": _finish_reason(reply),
                    }
                ],
                "usage": reply.usage,
            }
            self._send_json(200, payload)

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def _event(self, payload: Any) -> None:
            text = payload if isinstance(payload, str) else json.dumps(payload)
            self._chunk(f"data: {text}\n\n".encode())
            with fake._lock:
                fake.chunks_sent += 1

        def _stream(self, reply: Reply, model: str, include_usage: bool) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("cache-control", "no-cache")
            self.send_header("transfer-encoding", "chunked")
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.flush()

            def frame(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
                return {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                }

            if reply.fault == "empty":
                self._chunk(b"")
                return
            if reply.first_delay:
                self._pause(reply.first_delay)
            if reply.gate is not None:
                self._wait_for(reply.gate, 60)
            self._event(frame({"role": "assistant", "content": ""}))
            for odd in reply.odd_frames:
                self._event(odd)
            pieces: Iterable[tuple[str, str]] = [
                *(("reasoning_content", r) for r in reply.reasoning),
                *(("content", d) for d in reply.deltas),
            ]
            if reply.endless and reply.deltas:
                pieces = itertools.chain(pieces, itertools.repeat(("content", reply.deltas[-1])))
            start = time.monotonic()
            for sent, (kind, text) in enumerate(pieces):
                if reply.fault and sent == reply.fault_after:
                    self._fault(reply)
                    return
                if kind == "content" and sent == len(reply.reasoning) and reply.answer_gate:
                    self._wait_for(reply.answer_gate, 60)
                if reply.rate:
                    self._pause(start + sent / reply.rate - time.monotonic())
                elif reply.delay and sent:
                    self._pause(reply.delay)
                self._event(frame({kind: text}))
                if kind == "content":
                    with fake._lock:
                        fake.sent.append((time.monotonic(), text))
            if reply.fault:
                self._fault(reply)
                return
            for call_frame in _call_frames(reply):
                self._event(frame(call_frame))
            self._event(frame({}, _finish_reason(reply)))
            if include_usage and reply.usage is not None:
                usage_frame = frame({})
                usage_frame["choices"] = []
                usage_frame["usage"] = reply.usage
                self._event(usage_frame)
            self._event("[DONE]")
            self._chunk(b"")

        def _fault(self, reply: Reply) -> None:
            if reply.fault == "drop":
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
            elif reply.fault == "hang":
                self.close_connection = True
                self._wait_for(fake.release, 60)
            elif reply.fault == "error_frame":
                self._event({"error": {"message": reply.error_message, "type": reply.error_type}})
                self._event("[DONE]")
                self._chunk(b"")
            elif reply.fault == "malformed":
                self._chunk(b"data: {this is not json\n\n")
                self._event("[DONE]")
                self._chunk(b"")
            elif reply.fault == "no_done":
                self._chunk(b"")

    return Handler
