"""The tools of the enabled servers, as the OpenAI `tools` a request offers.

OpenAI wants function names matching `^[a-zA-Z0-9_-]{1,64}$`, unique within a request; MCP
servers name their tools freely, and two servers may both have a `search`. A tool keeps its
own name when that is valid and no other server has it; otherwise it is prefixed with its
server's name; whatever is still taken gets a number. The catalogue maps each offered name
back to its server and tool.

What a server hands in is not trusted: a tool whose schema is too large or too deep is left
out (with a note), long descriptions are cut (see `limits`), and no more than `MAX_TOOLS` are
offered.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from chat_tui import limits

OPENAI_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
NAME_LENGTH = 64
MAX_TOOLS = 128
"""OpenAI's limit on tools in one request."""


@dataclass(frozen=True)
class ServerTool:
    """A tool as its server listed it."""

    server: str
    name: str
    description: str
    schema: Mapping[str, Any]
    """Its `inputSchema`: the JSON schema of its arguments."""


@dataclass(frozen=True)
class OfferedTool:
    """A tool under the name the model sees."""

    name: str
    server: str
    tool: str
    description: str
    schema: Mapping[str, Any]

    def spec(self) -> dict[str, Any]:
        """The entry of a request's `tools`."""
        function: dict[str, Any] = {"name": self.name, "parameters": dict(self.schema)}
        if self.description:
            function["description"] = self.description
        return {"type": "function", "function": function}


class Catalogue:
    """Offered tools by name; `problems` says what was left out and why."""

    def __init__(self, tools: Iterable[ServerTool]) -> None:
        self.problems: list[str] = []
        usable: list[tuple[ServerTool, dict[str, Any]]] = []
        for tool in tools:
            schema = _checked_schema(tool.schema)
            if schema is None:
                self.problems.append(
                    f"{tool.server}: tool {tool.name!r} left out: its argument schema is too "
                    "large or malformed"
                )
            else:
                usable.append((tool, schema))
        if len(usable) > MAX_TOOLS:
            self.problems.append(
                f"only {MAX_TOOLS} of {len(usable)} tools are offered (a request cannot hold "
                "more): disable a server to choose which"
            )
            usable = usable[:MAX_TOOLS]
        names = unique_names([(tool.server, tool.name) for tool, _ in usable])
        self.tools = [
            OfferedTool(
                name=name,
                server=tool.server,
                tool=tool.name,
                description=_cut(tool.description, limits.TOOL_DESCRIPTION_CHARS),
                schema=schema,
            )
            for name, (tool, schema) in zip(names, usable, strict=True)
        ]
        self._by_name = {tool.name: tool for tool in self.tools}

    def specs(self) -> list[dict[str, Any]]:
        return [tool.spec() for tool in self.tools]

    def find(self, name: str) -> OfferedTool | None:
        return self._by_name.get(name)

    def __len__(self) -> int:
        return len(self.tools)


def unique_names(tools: list[tuple[str, str]]) -> list[str]:
    """An OpenAI-valid name for each (server, tool), unique across them, in the same order."""
    own = [_valid(tool) for _, tool in tools]
    shared = Counter(own)
    wanted = [
        name if shared[name] == 1 else _valid(f"{server}_{tool}")
        for name, (server, tool) in zip(own, tools, strict=True)
    ]
    taken: set[str] = set()
    names: list[str] = []
    for name in wanted:
        candidate, number = name, 1
        while candidate in taken:
            number += 1
            suffix = f"_{number}"
            candidate = name[: NAME_LENGTH - len(suffix)] + suffix
        taken.add(candidate)
        names.append(candidate)
    return names


def _valid(name: str) -> str:
    """`name` with every character OpenAI refuses replaced by `_`, cut to 64 characters."""
    cleaned = re.sub(r"[^a-zA-Z0-9_-]", "_", name)[:NAME_LENGTH]
    return cleaned or "tool"


def _checked_schema(schema: Any) -> dict[str, Any] | None:
    """The schema to send: an object schema within the size and depth limits, else None."""
    if not isinstance(schema, Mapping) or _depth(schema) > limits.TOOL_SCHEMA_DEPTH:
        return None
    try:
        size = len(json.dumps(schema))
    except (TypeError, ValueError):
        return None
    if size > limits.TOOL_SCHEMA_CHARS:
        return None
    checked = dict(schema)
    kind = checked.setdefault("type", "object")
    return checked if kind == "object" else None


def _depth(value: Any) -> int:
    """How deeply containers nest in `value`, walked without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping | list):
            deepest = max(deepest, depth)
            if depth > limits.TOOL_SCHEMA_DEPTH:
                return depth
            children = item.values() if isinstance(item, Mapping) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
