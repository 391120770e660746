"""Conversations and messages: pure data with a versioned JSON form.

`Conversation.messages` is the path the person sees and the model is sent. Earlier versions of
a reply (regenerated) or of a prompt (edited and resent) are kept as *alternatives* on the first
message of the path they branch from, so the file reads top to bottom as the conversation and
nothing is ever thrown away.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal, cast

SCHEMA_VERSION = 2
"""Version 1 had no message ids, alternatives, per-message models or revisions."""

Role = Literal["user", "assistant"]
Status = Literal["complete", "streaming", "stopped", "failed", "interrupted"]
STATUSES: tuple[Status, ...] = ("complete", "streaming", "stopped", "failed", "interrupted")
TITLE_LENGTH = 60


class SchemaError(ValueError):
    """A file's JSON does not have the shape of a conversation."""


class NewerSchemaError(SchemaError):
    """A file was written by a newer chat-tui; reading it would risk a downgrade."""


def now_iso() -> str:
    """Current UTC time in the form every timestamp in the files uses."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def new_id() -> str:
    """Sortable by creation time, unique across processes."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


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
        }
        data.update({k: v for k, v in optional.items() if v})
        if self.alternatives:
            data["alternatives"] = [[m.to_dict() for m in branch] for branch in self.alternatives]
            data["variant"] = self.variant
        return data

    @classmethod
    def from_dict(cls, data: Any) -> Message:
        if not isinstance(data, dict):
            raise SchemaError("a message is not an object")
        role = data.get("role")
        if role not in ("user", "assistant"):
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

    def __post_init__(self) -> None:
        if not self.updated_at:
            self.updated_at = self.created_at

    # -- building the conversation ---------------------------------------------------------

    def add_user_message(self, text: str) -> Message:
        message = Message(role="user", content=text)
        self.messages.append(message)
        if not self.title:
            self.title = derive_title(text)
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

    def api_messages(self, upto: int | None = None) -> list[dict[str, str]]:
        """The request body's `messages`: system prompt first, then the visible path.

        Empty assistant messages (a reply that failed before its first token) are left out:
        servers reject them and they carry nothing.
        """
        sent: list[dict[str, str]] = []
        if self.system_prompt.strip():
            sent.append({"role": "system", "content": self.system_prompt})
        for message in self.messages[:upto]:
            if message.role == "assistant" and not message.content:
                continue
            sent.append({"role": message.role, "content": message.content})
        return sent

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
        )

    @classmethod
    def from_dict_read_only(cls, data: dict[str, Any]) -> Conversation:
        """Best-effort view of a newer file: shown read-only, never written back."""
        newer = dict(data, schema_version=SCHEMA_VERSION)
        conversation = cls.from_dict(newer)
        conversation.read_only = True
        return conversation


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


def _opt_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _opt_float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
