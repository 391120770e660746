"""Conversations and messages: pure data with a versioned JSON form.

`Conversation.messages` is the path the person sees and the model is sent. Earlier versions of
a reply (regenerated) or of a prompt (edited and resent) are kept as *alternatives* on the first
message of the path they branch from, so the file reads top to bottom as the conversation and
nothing is ever thrown away.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal, cast

from chat_tui import limits
from chat_tui.generation import Generation, from_file

SCHEMA_VERSION = 6
"""Version 1 had no message ids, alternatives, per-message models or revisions; version 2 had
no tool calls or tool messages; version 3 had no attachments (an older chat-tui shows a
version 4 file read-only, so it never rewrites one without them); version 4 had no
generation settings (`settings`, on the conversation and on each reply), for the same
reason; version 5 had no summary of earlier messages, and its replies did not record the
model the server answered with nor where the context they were sent began."""

Role = Literal["user", "assistant", "tool"]
ROLES: tuple[Role, ...] = ("user", "assistant", "tool")
Status = Literal["complete", "streaming", "stopped", "failed", "interrupted"]
STATUSES: tuple[Status, ...] = ("complete", "streaming", "stopped", "failed", "interrupted")
TITLE_LENGTH = 60

CallStatus = Literal["pending", "running", "done", "error", "denied", "stopped", "skipped"]
"""A tool call: arrived and not yet decided, running, answered, failed (the tool or its server
said so, or the call could not be made), denied by the person, stopped while waiting or
running, or not run at all (the reply's round limit)."""
CALL_STATUSES: tuple[CallStatus, ...] = (
    "pending",
    "running",
    "done",
    "error",
    "denied",
    "stopped",
    "skipped",
)
SETTLED_CALLS: frozenset[CallStatus] = frozenset({"done", "error", "denied", "stopped", "skipped"})
"""Calls whose outcome the model was (or can be) told; the others never reached a decision."""
NOT_RUN = "This call was not run."
"""What the model is told for a settled call whose tool message is missing from the file."""


class SchemaError(ValueError):
    """A file's JSON does not have the shape of a conversation."""


class NewerSchemaError(SchemaError):
    """A file was written by a newer chat-tui; reading it would risk a downgrade."""


AttachmentKind = Literal["text", "image"]
MEDIA_TYPES: dict[str, AttachmentKind] = {
    "text/plain": "text",
    "image/png": "image",
    "image/jpeg": "image",
    "image/gif": "image",
    "image/webp": "image",
}
"""Every media type an attachment can have, and its kind."""
EXTENSIONS = {
    "text/plain": "txt",
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
}
"""The extension of each media type's copy in the attachment store."""
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class Attachment:
    """A file sent with a user message, as the conversation file names it. Its bytes live in
    the attachment store under `sha256`, so the message can be sent again after the
    original moved or changed."""

    name: str
    """The file's name, without its directories."""
    kind: AttachmentKind
    media_type: str
    size: int
    """In bytes."""
    sha256: str
    """Hex digest of the bytes, lower case: the copy's name in the store."""

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.media_type]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "media_type": self.media_type,
            "size": self.size,
            "sha256": self.sha256,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Attachment:
        """Everything is checked: a bad entry is a `SchemaError` (the file is then reported
        and left as it is, rather than rewritten without the attachment)."""
        if not isinstance(data, dict):
            raise SchemaError("an attachment is not an object")
        name, media_type = data.get("name"), data.get("media_type")
        size, digest = data.get("size"), data.get("sha256")
        if not isinstance(name, str) or not valid_attachment_name(name):
            raise SchemaError("an attachment has no valid file name")
        if not isinstance(media_type, str) or media_type not in MEDIA_TYPES:
            raise SchemaError(f"an attachment has an unknown media type {media_type!r}")
        if data.get("kind") != MEDIA_TYPES[media_type]:
            raise SchemaError("an attachment's kind does not match its media type")
        size = _opt_int(size)
        if size is None or size < 0:
            raise SchemaError("an attachment's size is not a whole number of bytes")
        if not isinstance(digest, str) or len(digest) != 64 or not set(digest) <= _HEX:
            raise SchemaError("an attachment's sha256 is not 64 lower-case hex digits")
        return cls(name, MEDIA_TYPES[media_type], media_type, size, digest)


def valid_attachment_name(name: str) -> bool:
    """A bare file name: no directories, nothing that walks up, no control characters."""
    return (
        0 < len(name) <= 255
        and name not in (".", "..")
        and "/" not in name
        and "\\" not in name
        and name.isprintable()
    )


def now_iso() -> str:
    """Current UTC time in the form every timestamp in the files uses."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def new_id() -> str:
    """Sortable by creation time, unique across processes.

    48 random bits: a script or an import can make thousands within one second.
    """
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(6)


def new_message_id() -> str:
    return secrets.token_hex(6)


def derive_title(text: str) -> str:
    """First non-empty line of the first prompt, shortened at a word boundary."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    line = " ".join(line.split())
    if len(line) <= TITLE_LENGTH:
        return line
    cut = line[: TITLE_LENGTH - 1]
    if " " in cut[TITLE_LENGTH // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,.;:") + "…"


@dataclass
class Usage:
    """What the server reported about one reply, plus timings measured here."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    first_token_seconds: float | None = None
    duration_seconds: float | None = None

    @property
    def tokens_per_second(self) -> float | None:
        if not self.completion_tokens or not self.duration_seconds:
            return None
        generating = self.duration_seconds - (self.first_token_seconds or 0.0)
        return self.completion_tokens / generating if generating > 0 else None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def from_dict(cls, data: Any) -> Usage | None:
        if not isinstance(data, dict):
            return None
        return cls(
            prompt_tokens=_opt_int(data.get("prompt_tokens")),
            completion_tokens=_opt_int(data.get("completion_tokens")),
            first_token_seconds=_opt_float(data.get("first_token_seconds")),
            duration_seconds=_opt_float(data.get("duration_seconds")),
        )


@dataclass
class ToolCall:
    """One call a model asked for, as it sent it, and what became of it."""

    id: str
    name: str
    """The tool's name as the model used it (the name it was offered under)."""
    arguments: str = ""
    """The JSON arguments exactly as the model sent them (they may not be valid JSON)."""
    server: str | None = None
    """The MCP server and the tool's own name there, once the name was resolved."""
    tool: str | None = None
    status: CallStatus = "pending"
    result: str | None = None
    """The tool's output (or error text), kept whole up to `limits.TOOL_RESULT_CHARS`."""
    error: str | None = None
    """Why the call failed, was denied or was not run, in one line for the person."""
    duration_seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "arguments": self.arguments,
            "status": self.status,
        }
        optional = {
            "server": self.server,
            "tool": self.tool,
            "result": self.result,
            "error": self.error,
            "duration_seconds": self.duration_seconds,
        }
        data.update({k: v for k, v in optional.items() if v is not None})
        return data

    @classmethod
    def from_dict(cls, data: Any) -> ToolCall:
        if not isinstance(data, dict):
            raise SchemaError("a tool call is not an object")
        name, arguments = data.get("name"), data.get("arguments", "")
        if not isinstance(name, str) or not isinstance(arguments, str):
            raise SchemaError("a tool call's name or arguments are not text")
        status = data.get("status")
        return cls(
            id=_str_or_new(data.get("id"), new_call_id),
            name=name,
            arguments=arguments,
            server=_opt_str(data.get("server")),
            tool=_opt_str(data.get("tool")),
            status=cast(CallStatus, status if status in CALL_STATUSES else "pending"),
            result=data.get("result") if isinstance(data.get("result"), str) else None,
            error=_opt_str(data.get("error")),
            duration_seconds=_opt_float(data.get("duration_seconds")),
        )

    def api_dict(self) -> dict[str, Any]:
        """The call in a request's assistant message. Arguments that are not a JSON object
        (a cut-off stream) go as `{}`: some servers parse them and reject the request."""
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": sendable_arguments(self.arguments)},
        }


def new_call_id() -> str:
    """For a call whose server sent no id (the id only pairs a call with its result)."""
    return "call_" + secrets.token_hex(8)


def sendable_arguments(arguments: str) -> str:
    """`arguments` if they are a JSON object, else `{}`."""
    try:
        parsed = json.loads(arguments)
    except ValueError:
        return "{}"
    return arguments if isinstance(parsed, dict) else "{}"


@dataclass
class Message:
    role: Role
    content: str
    id: str = field(default_factory=new_message_id)
    created_at: str = field(default_factory=now_iso)
    status: Status = "complete"
    model: str | None = None
    """The model that wrote an assistant message."""
    error: str | None = None
    """Why a failed reply failed, as shown to the person."""
    reasoning: str | None = None
    """Thinking text some servers stream beside the answer."""
    usage: Usage | None = None
    alternatives: list[list[Message]] = field(default_factory=list)
    """Other versions of the path from this position on (this one excluded)."""
    variant: int = 0
    """Position of this version among all versions (0-based, oldest first)."""
    tool_calls: list[ToolCall] = field(default_factory=list)
    """Tools an assistant message asked to call, in the order the model sent them."""
    tool_call_id: str | None = None
    """For a `tool` message: the call whose result it carries."""
    served_model: str | None = None
    """The model the server says wrote this reply, when it is not the one asked for."""
    sent_from: str | None = None
    """For a reply whose request left earlier messages out (they did not fit the model's
    context): the id of the first message it was sent."""
    attachments: list[Attachment] = field(default_factory=list)
    """Files sent with a user message, in the order they were attached."""
    settings: Generation = field(default_factory=Generation)
    """For an assistant message: the generation settings it was asked for with."""

    @property
    def variant_count(self) -> int:
        return len(self.alternatives) + 1

    @property
    def is_partial(self) -> bool:
        return self.status in ("streaming", "stopped", "failed", "interrupted")

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "role": self.role,
            "content": self.content,
            "created_at": self.created_at,
            "status": self.status,
        }
        optional = {
            "model": self.model,
            "error": self.error,
            "reasoning": self.reasoning,
            "usage": self.usage.to_dict() if self.usage else None,
            "served_model": self.served_model,
            "sent_from": self.sent_from,
        }
        data.update({k: v for k, v in optional.items() if v})
        if self.tool_calls:
            data["tool_calls"] = [call.to_dict() for call in self.tool_calls]
        if self.tool_call_id is not None:
            data["tool_call_id"] = self.tool_call_id
        if self.attachments:
            data["attachments"] = [attachment.to_dict() for attachment in self.attachments]
        if self.settings:
            data["settings"] = self.settings.to_dict()
        if self.alternatives:
            data["alternatives"] = [[m.to_dict() for m in branch] for branch in self.alternatives]
            data["variant"] = self.variant
        return data

    @classmethod
    def from_dict(cls, data: Any) -> Message:
        if not isinstance(data, dict):
            raise SchemaError("a message is not an object")
        role = data.get("role")
        if role not in ROLES:
            raise SchemaError(f"a message has an unknown role {role!r}")
        content = data.get("content")
        if not isinstance(content, str):
            raise SchemaError("a message's content is not text")
        status = data.get("status", "complete")
        alternatives_data = data.get("alternatives", [])
        if not isinstance(alternatives_data, list):
            raise SchemaError("a message's alternatives are not a list")
        alternatives = [_branch_from_data(branch) for branch in alternatives_data]
        variant = data.get("variant", 0)
        if not isinstance(variant, int) or not 0 <= variant <= len(alternatives):
            variant = len(alternatives)
        calls_data = data.get("tool_calls", [])
        if not isinstance(calls_data, list):
            raise SchemaError("a message's tool calls are not a list")
        attachments_data = data.get("attachments", [])
        most = limits.MESSAGE_ATTACHMENTS
        if not isinstance(attachments_data, list) or len(attachments_data) > most:
            raise SchemaError(f"a message's attachments are not a list of {most} at most")
        return cls(
            role=cast(Role, role),
            content=content,
            id=_str_or_new(data.get("id"), new_message_id),
            created_at=_str_or_new(data.get("created_at"), now_iso),
            status=cast(Status, status if status in STATUSES else "complete"),
            model=_opt_str(data.get("model")),
            error=_opt_str(data.get("error")),
            reasoning=_opt_str(data.get("reasoning")),
            usage=Usage.from_dict(data.get("usage")),
            alternatives=alternatives,
            variant=variant,
            tool_calls=[ToolCall.from_dict(call) for call in calls_data],
            tool_call_id=_opt_str(data.get("tool_call_id")),
            served_model=_opt_str(data.get("served_model")),
            sent_from=_opt_str(data.get("sent_from")),
            attachments=[Attachment.from_dict(item) for item in attachments_data],
            settings=from_file(data.get("settings")),
        )


SUMMARY_HEADING = "Summary of the earlier conversation:"
"""How a summary is introduced to the model, after the system prompt."""


@dataclass
class Summary:
    """What the model wrote about the earlier messages, sent in their place."""

    text: str
    covers: str
    """The id of the last message it stands for: that one and all before it."""
    created_at: str = field(default_factory=now_iso)
    model: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {"text": self.text, "covers": self.covers, "created_at": self.created_at}
        return data | ({"model": self.model} if self.model else {})

    @classmethod
    def from_dict(cls, data: Any) -> Summary | None:
        """A summary from a file; anything not shaped like one is no summary."""
        if not isinstance(data, dict):
            return None
        text, covers = data.get("text"), data.get("covers")
        if not isinstance(text, str) or not isinstance(covers, str) or not covers:
            return None
        return cls(
            text=text,
            covers=covers,
            created_at=_str_or_new(data.get("created_at"), now_iso),
            model=_opt_str(data.get("model")),
        )


@dataclass
class Conversation:
    id: str = field(default_factory=new_id)
    title: str = ""
    created_at: str = field(default_factory=now_iso)
    updated_at: str = ""
    model: str = ""
    """Model for the next reply."""
    provider: str | None = None
    """Name of the configured provider (server) this conversation talks to."""
    system_prompt: str = ""
    messages: list[Message] = field(default_factory=list)
    revision: int = 0
    """Bumped on every save so two processes can tell they raced."""
    read_only: bool = False
    """Written by a newer chat-tui: shown, never saved (that would downgrade it)."""
    tool_servers: dict[str, bool] = field(default_factory=dict)
    """MCP servers turned on (True) or off (False) for this conversation, where that differs
    from their `enabled` in config.toml; the others follow the config."""
    summary: Summary | None = None
    """Sent in place of the messages it covers (which stay in the file and on screen)."""
    settings: Generation = field(default_factory=Generation)
    """Generation settings chosen for this conversation (a preset, flags, the picker); they
    win over config.toml's defaults for its provider and model."""

    def __post_init__(self) -> None:
        if not self.updated_at:
            self.updated_at = self.created_at

    # -- building the conversation ---------------------------------------------------------

    def add_user_message(self, text: str, attachments: Iterable[Attachment] = ()) -> Message:
        message = Message(role="user", content=text, attachments=list(attachments))
        self.messages.append(message)
        if not self.title:
            self.title = derive_title(text) or derive_title(
                ", ".join(attachment.name for attachment in message.attachments)
            )
        self.touch()
        return message

    def add_reply(self, model: str) -> Message:
        """An empty assistant message the stream will fill."""
        message = Message(role="assistant", content="", status="streaming", model=model)
        self.messages.append(message)
        self.touch()
        return message

    def mark_interrupted(self) -> None:
        """Replies left "streaming" in a file were cut off by a crash (or are still being
        written by another window); either way nothing is streaming them here."""

        def walk(messages: list[Message]) -> None:
            for message in messages:
                if message.status == "streaming":
                    message.status = "interrupted"
                for branch in message.alternatives:
                    walk(branch)

        walk(self.messages)

    def touch(self) -> None:
        self.updated_at = now_iso()

    def attachments_sent(self, upto: int | None = None) -> list[Attachment]:
        """The attachments `api_messages(upto)` sends, whose parts it needs."""
        return [
            attachment
            for message in self.messages[:upto]
            if message.role == "user"
            for attachment in message.attachments
        ]

    def api_messages(
        self, upto: int | None = None, parts: Mapping[Attachment, dict[str, Any]] | None = None
    ) -> list[dict[str, Any]]:
        """The request body's `messages`: system prompt first, then the visible path."""
        turns = self.api_turns(upto, parts)
        return [*self.system_messages(), *(m for turn in turns for m in turn)]

    def system_messages(self, summary: str = "") -> list[dict[str, Any]]:
        """The system prompt as a request's first message (none when empty), with `summary`
        after it: one system message, which every chat template accepts."""
        parts = [self.system_prompt.strip() and self.system_prompt]
        if summary.strip():
            parts.append(f"{SUMMARY_HEADING}\n{summary}")
        content = "\n\n".join(part for part in parts if part)
        return [{"role": "system", "content": content}] if content else []

    def api_turns(
        self, upto: int | None = None, parts: Mapping[Attachment, dict[str, Any]] | None = None
    ) -> list[list[dict[str, Any]]]:
        """What each message of the visible path (up to `upto`) adds to a request.

        A prompt with attachments is sent as content parts: its text (unless empty), then
        each attachment's part from `parts` (`attachments.request_parts`, read off the event
        loop), which must hold every one of `attachments_sent(upto)`. A prompt without
        attachments stays a plain string.

        Servers reject a request whose tool turns do not pair up, so only settled calls are
        sent, each followed by its result (a missing one, from a file cut off by a crash, is
        sent as "not run"): an assistant message's turn carries its results, and a tool
        message adds nothing of its own. Calls that never reached a decision and stray tool
        messages are left out. Empty assistant messages (a reply that failed before its first
        token) are left out too: servers reject them and they carry nothing.
        """
        path = self.messages[:upto]
        turns: list[list[dict[str, Any]]] = []
        for position, message in enumerate(path):
            if message.role == "user":
                turns.append([{"role": "user", "content": _user_content(message, parts or {})}])
            elif message.role == "assistant":
                turns.append(_assistant_turn(message, path[position + 1 :]))
            else:
                turns.append([])
        return turns

    def summary_end(self) -> int:
        """How many messages of the path the summary stands for (0 without one, or when the
        message it ends at is no longer on the path)."""
        if self.summary is None:
            return 0
        for position, message in enumerate(self.messages):
            if message.id == self.summary.covers:
                return position + 1
        return 0

    # -- alternatives ----------------------------------------------------------------------

    def branches_at(self, index: int) -> list[list[Message]]:
        """Every version of the path from `index` on, oldest first, the visible one included."""
        return branches_of(self.messages[index:])

    def branch(self, index: int, new_path: list[Message]) -> None:
        """Replace the path from `index` with `new_path`, keeping the old one as an alternative.

        `index == len(messages)` simply appends. The new path becomes the newest version.
        """
        if index < len(self.messages):
            branches = self.branches_at(index)
            branches.append(new_path)
            new_path = activate(branches, len(branches) - 1)
        self.messages[index:] = new_path
        self.touch()

    def select_variant(self, index: int, variant: int) -> None:
        """Show version `variant` of the path from `index` on."""
        branches = self.branches_at(index)
        if not 0 <= variant < len(branches):
            raise IndexError(f"no version {variant + 1} at message {index + 1}")
        self.messages[index:] = activate(branches, variant)
        self.touch()

    # -- persistence -----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "id": self.id,
            "title": self.title,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "model": self.model,
            "provider": self.provider,
            "system_prompt": self.system_prompt,
            "revision": self.revision,
            **({"tool_servers": dict(self.tool_servers)} if self.tool_servers else {}),
            **({"summary": self.summary.to_dict()} if self.summary else {}),
            **({"settings": self.settings.to_dict()} if self.settings else {}),
            "messages": [m.to_dict() for m in self.messages],
        }

    @classmethod
    def from_dict(cls, data: Any) -> Conversation:
        """Read any schema version up to ours; raises `SchemaError` for anything else."""
        if not isinstance(data, dict):
            raise SchemaError("the file does not hold a JSON object")
        version = data.get("schema_version", 1)
        if not isinstance(version, int) or version < 1:
            raise SchemaError(f"unknown schema_version {version!r}")
        if version > SCHEMA_VERSION:
            raise NewerSchemaError(
                f"written by a newer chat-tui (schema {version}, this one reads {SCHEMA_VERSION})"
            )
        conversation_id = data.get("id")
        if not isinstance(conversation_id, str) or not conversation_id:
            raise SchemaError("the conversation has no id")
        messages = data.get("messages", [])
        if not isinstance(messages, list):
            raise SchemaError("messages is not a list")
        created_at = _str_or_new(data.get("created_at"), now_iso)
        return cls(
            id=conversation_id,
            title=_str_or(data.get("title"), ""),
            created_at=created_at,
            updated_at=_str_or(data.get("updated_at"), created_at),
            model=_str_or(data.get("model"), ""),
            provider=_opt_str(data.get("provider")),
            system_prompt=_str_or(data.get("system_prompt"), ""),
            messages=[Message.from_dict(m) for m in messages],
            revision=_opt_int(data.get("revision")) or 0,
            tool_servers=_switches(data.get("tool_servers")),
            summary=Summary.from_dict(data.get("summary")),
            settings=from_file(data.get("settings")),
        )

    @classmethod
    def from_dict_read_only(cls, data: dict[str, Any]) -> Conversation:
        """Best-effort view of a newer file: shown read-only, never written back."""
        newer = dict(data, schema_version=SCHEMA_VERSION)
        conversation = cls.from_dict(newer)
        conversation.read_only = True
        return conversation


def _user_content(
    message: Message, parts: Mapping[Attachment, dict[str, Any]]
) -> str | list[dict[str, Any]]:
    if not message.attachments:
        return message.content
    content = [{"type": "text", "text": message.content}] if message.content.strip() else []
    return content + [parts[attachment] for attachment in message.attachments]


def _assistant_turn(message: Message, after: list[Message]) -> list[dict[str, Any]]:
    """An assistant message and the results of its settled calls, as a request sends them."""
    calls = [call for call in message.tool_calls if call.status in SETTLED_CALLS]
    if not message.content and not calls:
        return []
    turn: dict[str, Any] = {"role": "assistant", "content": message.content}
    if not calls:
        return [turn]
    turn["tool_calls"] = [call.api_dict() for call in calls]
    results: dict[str, str] = {}
    for following in after:
        if following.role != "tool":
            break
        if following.tool_call_id is not None:
            results.setdefault(following.tool_call_id, following.content)
    return [
        turn,
        *(
            {"role": "tool", "tool_call_id": call.id, "content": results.get(call.id, NOT_RUN)}
            for call in calls
        ),
    ]


def branches_of(path: list[Message]) -> list[list[Message]]:
    """All versions of a path, oldest first: the path itself plus its head's alternatives."""
    head = path[0]
    current = [replace(head, alternatives=[], variant=0), *path[1:]]
    branches = [list(branch) for branch in head.alternatives]
    branches.insert(min(head.variant, len(branches)), current)
    return branches


def activate(branches: list[list[Message]], chosen: int) -> list[Message]:
    """The path for version `chosen`, carrying the other versions as its alternatives."""
    path = branches[chosen]
    others = branches[:chosen] + branches[chosen + 1 :]
    head = replace(path[0], alternatives=others, variant=chosen)
    return [head, *path[1:]]


def _branch_from_data(data: Any) -> list[Message]:
    if not isinstance(data, list) or not data:
        raise SchemaError("an alternative is not a non-empty list of messages")
    return [Message.from_dict(m) for m in data]


def _str_or(value: Any, default: str) -> str:
    return value if isinstance(value, str) else default


def _str_or_new(value: Any, make: Callable[[], str]) -> str:
    """`value` if it is text, else a new one (made only then: reading 2,000 messages made
    2,000 random ids and timestamps just to throw them away)."""
    return value if isinstance(value, str) else make()


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


MAX_SWITCHES = 256
"""Entries of `tool_servers` read from a file (a person configures a handful of servers)."""


def _switches(value: Any) -> dict[str, bool]:
    """`tool_servers` as read from a file: names to true/false, anything else left out."""
    if not isinstance(value, dict):
        return {}
    switches = {
        name: on
        for name, on in value.items()
        if isinstance(name, str) and 0 < len(name) <= 64 and isinstance(on, bool)
    }
    return dict(list(switches.items())[:MAX_SWITCHES])


def _opt_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _opt_float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
