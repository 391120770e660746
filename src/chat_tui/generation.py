"""Generation settings (temperature, top_p, max_tokens, ...): their type, their checks, and
how they go into a request body.

A setting left unset is not sent, so the server's own default stands. The same checks serve
config.toml, the command line, the picker's fields and the conversation files, each wording
its own error around the reason given here.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from chat_tui import limits

REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
"""The efforts OpenAI's models take; other servers' words of the same shape are sent too."""
_EFFORT_SHAPE = re.compile(r"[a-z][a-z_-]{0,19}")
MAX_STOP = limits.STOP_SEQUENCES
MAX_STOP_CHARS = limits.STOP_SEQUENCE_CHARS
MAX_EXTRA_KEYS = limits.EXTRA_BODY_FIELDS
MAX_EXTRA_DEPTH = limits.EXTRA_BODY_DEPTH
MAX_EXTRA_CHARS = limits.EXTRA_BODY_CHARS
MAX_TOKENS_LIMIT = 10_000_000
SEED_RANGE = (-(2**63), 2**63 - 1)
RESERVED_FIELDS = frozenset(
    {
        "messages",
        "model",
        "stream",
        "stream_options",
        "tools",
        "tool_choice",
        "n",
        "temperature",
        "top_p",
        "max_tokens",
        "max_completion_tokens",
        "reasoning_effort",
        "seed",
        "stop",
    }
)
"""Fields chat-tui sets itself (or has a setting for): `extra_body` may not replace them."""

MAX_TOKENS = "max_tokens"
MAX_COMPLETION_TOKENS = "max_completion_tokens"
_NEWER_OPENAI = re.compile(r"(?:^|/)(o\d|gpt-5)", re.IGNORECASE)
"""Models that refuse `max_tokens` and take `max_completion_tokens` (o1, o3, o4-mini, gpt-5
and later): OpenAI's reasoning models. gpt-4o and gpt-4.1 take either."""


class SettingError(ValueError):
    """A value a setting cannot take; the message says why, without naming where it came
    from (the caller adds that)."""


@dataclass(frozen=True)
class Generation:
    """The settings of one request; None (or empty) means "not sent"."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    reasoning_effort: str | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()
    extra_body: Mapping[str, Any] = field(default_factory=dict)

    def over(self, base: Generation) -> Generation:
        """These settings where set, `base` elsewhere (`extra_body` merged key by key)."""
        changes: dict[str, Any] = {}
        for name in NAMES:
            value = getattr(self, name)
            if name == "extra_body":
                if value:
                    changes[name] = {**base.extra_body, **value}
            elif value is not None and value != ():
                changes[name] = value
        return replace(base, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The settings that are set, as config.toml and the files write them."""
        data: dict[str, Any] = {}
        for name in NAMES:
            value = getattr(self, name)
            if value is None or value == () or value == {}:
                continue
            if name == "stop":
                value = list(value)
            elif name == "extra_body":
                value = dict(value)
            data[name] = value
        return data

    def __bool__(self) -> bool:
        return bool(self.to_dict())

    def request_fields(self, max_tokens_field: str) -> dict[str, Any]:
        """The fields to add to a request body: `extra_body` first, so the named settings
        (and the fields chat-tui sets, which it may not hold) win."""
        body = dict(self.extra_body)
        sent = self.to_dict()
        sent.pop("extra_body", None)
        if "max_tokens" in sent:
            body[max_tokens_field] = sent.pop("max_tokens")
        body.update(sent)
        return body

    def summary(self) -> str:
        """How the top bar shows them: "temp 0.2 · top_p 0.9 · max 500"."""
        parts = []
        if self.temperature is not None:
            parts.append(f"temp {self.temperature:g}")
        if self.top_p is not None:
            parts.append(f"top_p {self.top_p:g}")
        if self.max_tokens is not None:
            parts.append(f"max {self.max_tokens}")
        if self.reasoning_effort is not None:
            parts.append(f"effort {self.reasoning_effort}")
        if self.seed is not None:
            parts.append(f"seed {self.seed}")
        if self.stop:
            parts.append(f"stop ×{len(self.stop)}")
        if self.extra_body:
            parts.append("+" + ",".join(sorted(self.extra_body))[:40])
        return " · ".join(parts)


NAMES = tuple(f.name for f in fields(Generation))
FLAG_NAMES = ("temperature", "top_p", "max_tokens", "reasoning_effort", "seed")
"""Settings with a command-line flag (and a field in the picker)."""


def max_tokens_field(model: str) -> str:
    """The field a model's server expects the reply's length limit in."""
    return MAX_COMPLETION_TOKENS if _NEWER_OPENAI.search(model) else MAX_TOKENS


def other_max_tokens_field(name: str) -> str:
    return MAX_TOKENS if name == MAX_COMPLETION_TOKENS else MAX_COMPLETION_TOKENS


def parse(values: Mapping[str, Any]) -> Generation:
    """Settings from a table (config.toml, a preset) or flags (text); raises `SettingError`
    naming the first bad one. Keys that are not settings are ignored: the caller checks."""
    checked: dict[str, Any] = {}
    for name in NAMES:
        if name in values and values[name] is not None:
            try:
                checked[name] = check(name, values[name])
            except SettingError as error:
                raise SettingError(f"{name} {error}") from None
    return Generation(**checked)


def check(name: str, value: Any) -> Any:
    """One setting's value, checked (text is read as the setting's kind); `SettingError`
    says what it must be."""
    if name == "temperature":
        return _number_in(value, 0.0, 2.0)
    if name == "top_p":
        return _number_in(value, 0.0, 1.0)
    if name == "max_tokens":
        return _whole_in(value, 1, MAX_TOKENS_LIMIT, "a whole number of at least 1")
    if name == "seed":
        return _whole_in(value, *SEED_RANGE, "a whole number")
    if name == "reasoning_effort":
        text = value.strip().lower() if isinstance(value, str) else None
        if text is None or not _EFFORT_SHAPE.fullmatch(text):
            raise SettingError(f"must be a word such as {', '.join(REASONING_EFFORTS[1:5])}")
        return text
    if name == "stop":
        return _stop(value)
    if name == "extra_body":
        return _extra_body(value)
    raise SettingError("is not a setting")


def _number_in(value: Any, low: float, high: float) -> float:
    number: float | None = None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    if number is None or not math.isfinite(number) or not low <= number <= high:
        raise SettingError(f"must be a number from {low:g} to {high:g}")
    return number


def _whole_in(value: Any, low: int, high: int, what: str) -> int:
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"\s*-?[0-9]{1,19}\s*", value):
        number = int(value)
    if number is None or not low <= number <= high:
        raise SettingError(f"must be {what}")
    return number


def _stop(value: Any) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if (
        not isinstance(items, list | tuple)
        or not 1 <= len(items) <= MAX_STOP
        or not all(isinstance(s, str) and 0 < len(s) <= MAX_STOP_CHARS for s in items)
    ):
        raise SettingError(
            f"must be up to {MAX_STOP} pieces of text of up to {MAX_STOP_CHARS} characters"
        )
    return tuple(items)


def _extra_body(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise SettingError("must be a table, e.g. extra_body = { top_k = 40 }")
    if len(value) > MAX_EXTRA_KEYS:
        raise SettingError(f"has more than {MAX_EXTRA_KEYS} fields")
    reserved = sorted(set(value) & RESERVED_FIELDS)
    if reserved:
        raise SettingError(f"may not set {reserved[0]!r}: chat-tui sets it")
    if _depth(value) > MAX_EXTRA_DEPTH:
        raise SettingError(f"is nested more than {MAX_EXTRA_DEPTH} levels deep")
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        raise SettingError("holds something JSON cannot send (a date, infinity)") from None
    if len(text) > MAX_EXTRA_CHARS:
        raise SettingError(f"is longer than {MAX_EXTRA_CHARS} characters as JSON")
    parsed: dict[str, Any] = json.loads(text)
    return parsed


def _depth(value: Any, level: int = 1) -> int:
    if level > MAX_EXTRA_DEPTH:
        return level
    if isinstance(value, Mapping):
        return max((_depth(v, level + 1) for v in value.values()), default=level)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level)
    return level


def from_file(value: Any) -> Generation:
    """Settings read from a conversation file: whatever is wrong is left out (the file
    was written by chat-tui, or edited by hand; neither may stop it opening)."""
    if not isinstance(value, dict):
        return Generation()
    checked: dict[str, Any] = {}
    for name in NAMES:
        if name in value:
            try:
                checked[name] = check(name, value[name])
            except SettingError:
                continue
    return Generation(**checked)


@dataclass(frozen=True)
class Defaults:
    """The settings config.toml gives: at the top level, per provider, per model."""

    top: Generation = field(default_factory=Generation)
    providers: Mapping[str, Generation] = field(default_factory=dict)
    models: Mapping[str, Generation] = field(default_factory=dict)

    def for_(self, provider: str, model: str) -> Generation:
        """The most specific wins: the model's, then the provider's, then the top level's."""
        settings = self.top
        for layer in (self.providers.get(provider), self.models.get(model)):
            if layer is not None:
                settings = layer.over(settings)
        return settings
