"""Consent: no tool runs unless the person allowed it, now or ahead of time.

A call is allowed ahead of time when its tool is in its server's `auto_approve` or was named
with `--allow-tool`; otherwise the caller's approver asks (the app's prompt, the shell's
y/a/n on a terminal, or a refusal where nobody can be asked). "Always" adds the tool to that
server's `auto_approve` in config.toml, editing the one line (or inserting it) so the rest of
the file stays exactly as the person wrote it.
"""

from __future__ import annotations

import copy
import enum
import json
import re
import tomllib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from chat_tui import paths
from chat_tui.atomic import write_text_atomic
from chat_tui.config import ConfigError
from chat_tui.limits import CONFIG_FILE_BYTES, TooLarge, read_file_at_most
from chat_tui.models import ToolCall
from chat_tui.tools.servers import ServerConfig


class Decision(enum.Enum):
    ONCE = "once"
    """Run this call."""
    ALWAYS = "always"
    """Run this call, and every later call of the same tool without asking."""
    DENY = "deny"
    """Do not run it; the model is told the person denied it."""


Approver = Callable[[ToolCall], Awaitable[Decision]]
"""Asks the person about one call (its `server`, `tool` and `arguments` are set). One that
denies without asking anybody sets the call's `error` to say why."""


async def deny_all(_call: ToolCall) -> Decision:
    """The approver where nobody can be asked."""
    return Decision.DENY


class Approvals:
    """Which tools may run without asking, and the memory of "always"."""

    def __init__(
        self,
        servers: Mapping[str, ServerConfig],
        *,
        allowed: Iterable[str] = (),
        config_path: Path | None = None,
    ) -> None:
        self._approved = {name: set(server.auto_approve) for name, server in servers.items()}
        self._allowed = frozenset(allowed)
        """`--allow-tool` names: a tool's name (on any server) or SERVER.TOOL."""
        self._config_path = config_path

    def pre_approved(self, server: str, tool: str) -> bool:
        return (
            tool in self._approved.get(server, ())
            or tool in self._allowed
            or f"{server}.{tool}" in self._allowed
        )

    async def decide(self, call: ToolCall, ask: Approver) -> Decision:
        """ONCE for a tool allowed ahead of time, otherwise what `ask` answers."""
        assert call.server is not None and call.tool is not None
        if self.pre_approved(call.server, call.tool):
            return Decision.ONCE
        return await ask(call)

    def always(self, server: str, tool: str) -> None:
        """Stop asking about `tool` of `server`, here and in config.toml.

        Raises `ConfigError` when the file cannot be updated (this process remembers anyway).
        """
        self._approved.setdefault(server, set()).add(tool)
        if self._config_path is not None:
            add_auto_approve(self._config_path, server, tool)


def add_auto_approve(path: Path, server: str, tool: str) -> None:
    """Add `tool` to `auto_approve` of `[mcp_servers.SERVER]` in the file at `path`.

    Only that table's `auto_approve` line (or lines, for a list written over several) is
    replaced, or one is inserted under the table's header; the result is parsed again and
    must differ from the file only there before it replaces the file (mode 0600: it may
    hold tokens).
    """
    try:
        text = read_file_at_most(path, CONFIG_FILE_BYTES).decode("utf-8")
        before = tomllib.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, TooLarge) as error:
        raise ConfigError(f"could not read {path}: {error}") from error
    table = before.get("mcp_servers", {}).get(server)
    if not isinstance(table, dict):
        raise ConfigError(f"{path} has no [mcp_servers.{server}] table")
    approved = table.get("auto_approve", [])
    if tool in approved:
        return
    wanted = [*approved, tool]
    lines = text.splitlines(keepends=True)
    new_line = f"auto_approve = {json.dumps(wanted, ensure_ascii=False)}\n"
    header = _table_header(lines, server)
    if header is None:
        raise ConfigError(
            f"could not find the [mcp_servers.{server}] header in {path}: "
            f"add {tool!r} to its auto_approve by hand"
        )
    existing = _key_lines(lines, header + 1, "auto_approve")
    if existing is not None:
        start, end = existing
        lines[start:end] = [new_line]
    else:
        if not lines[header].endswith("\n"):
            lines[header] += "\n"
        lines.insert(header + 1, new_line)
    updated = "".join(lines)
    expected = copy.deepcopy(before)
    expected["mcp_servers"][server]["auto_approve"] = wanted
    try:
        same = tomllib.loads(updated) == expected
    except tomllib.TOMLDecodeError:
        same = False
    if not same:
        raise ConfigError(
            f"could not update [mcp_servers.{server}] in {path}: add {tool!r} to its "
            "auto_approve by hand"
        )
    paths.ensure_private_dir(path.parent)
    write_text_atomic(path, updated, mode=0o600)


def _table_header(lines: list[str], server: str) -> int | None:
    """The line of `[mcp_servers.SERVER]` (spaces and quotes as TOML allows)."""
    name = re.escape(server)
    pattern = re.compile(
        rf"\s*\[\s*(mcp_servers|\"mcp_servers\")\s*\.\s*({name}|\"{name}\"|'{name}')\s*\]"
        r"\s*(#.*)?"
    )
    return next((i for i, line in enumerate(lines) if pattern.fullmatch(line.rstrip("\n"))), None)


def _key_lines(lines: list[str], start: int, key: str) -> tuple[int, int] | None:
    """Lines `[i, j)` holding `key = value` in the table that starts at `start`, or None.

    The value ends at the first line after which the lines read alone parse as TOML (a list
    may be written over several lines).
    """
    for i in range(start, len(lines)):
        stripped = lines[i].lstrip()
        if stripped.startswith("["):
            return None
        if "=" not in stripped or _key_name(stripped) != key:
            continue
        for j in range(i + 1, len(lines) + 1):
            if _parses("".join(lines[i:j])):
                return i, j
        return None
    return None


def _key_name(line: str) -> str:
    return line.split("=", 1)[0].strip().strip("\"'")


def _parses(text: str) -> bool:
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return False
    return True


def describe_arguments(arguments: str, limit: int = 300) -> str:
    """The arguments on one line as JSON (compact, unicode kept), cut to `limit`."""
    try:
        value: Any = json.loads(arguments) if arguments.strip() else {}
        text = json.dumps(value, ensure_ascii=False)
    except ValueError:
        text = arguments
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
