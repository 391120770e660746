"""`[mcp_servers.NAME]` tables of config.toml, read into checked settings.

A local server is started as a command and spoken to over stdio (`command`, `args`, `env`,
`cwd`); a remote one is reached over Streamable HTTP (`url`, `headers`). `enabled = false`
keeps one configured but unused; `auto_approve` names the tools that run without asking.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from chat_tui.safetext import inline_text

SERVER_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""Server names are shown, prefixed to tool names and written back into config.toml."""
SERVER_KEYS = frozenset(
    {"command", "args", "env", "cwd", "url", "headers", "enabled", "auto_approve"}
)


class ServerConfigError(ValueError):
    """An `[mcp_servers]` entry cannot be used; the message names the key."""


@dataclass(frozen=True)
class ServerConfig:
    """One configured MCP server."""

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Added to the small default environment the SDK gives a server (no keys of ours);
    left out of repr() because it often holds a token."""
    cwd: str | None = None
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    enabled: bool = True
    auto_approve: tuple[str, ...] = ()
    """Tools (their names on this server) that run without asking."""

    @property
    def transport(self) -> Literal["stdio", "http"]:
        return "stdio" if self.command is not None else "http"

    def describe(self) -> str:
        """How the server is reached, for listings: its command line or its address (never
        its environment or headers, which hold tokens)."""
        if self.command is not None:
            return " ".join([self.command, *self.args])
        return _without_credentials(self.url or "")


def read_servers(table: Any, *, in_file: str = "") -> dict[str, ServerConfig]:
    """The `mcp_servers` table, checked. Raises `ServerConfigError` naming the bad key
    (followed by `in_file`, " in PATH", to say where it is)."""
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise ServerConfigError(
            f"mcp_servers{in_file} must be a table of [mcp_servers.NAME] tables"
        )
    servers: dict[str, ServerConfig] = {}
    for name, values in table.items():
        if not SERVER_NAME.fullmatch(name):
            raise ServerConfigError(
                f"[mcp_servers.{inline_text(name, 80)}]{in_file}: a server name may only use "
                "letters, digits, _ and -"
            )
        servers[name] = _read_server(name, values, in_file)
    return servers


def _read_server(name: str, values: Any, in_file: str) -> ServerConfig:
    table = f"[mcp_servers.{name}]{in_file}"

    def key(setting: str) -> str:
        return f"mcp_servers.{name}.{setting}{in_file}"

    if not isinstance(values, dict):
        raise ServerConfigError(f"{table} must be a table")
    unknown = sorted(set(values) - SERVER_KEYS)
    if unknown:
        raise ServerConfigError(f"{table} has unknown setting '{inline_text(unknown[0], 80)}'")
    command = _text(values.get("command"), key("command"))
    url = _text(values.get("url"), key("url"))
    if command is None and url is None:
        raise ServerConfigError(f"{table} needs command (a local server) or url (a remote one)")
    if command is not None and url is not None:
        raise ServerConfigError(f"{table} has both command and url: keep one")
    if url is not None and not url.startswith(("http://", "https://")):
        raise ServerConfigError(f"{key('url')} must start with http:// or https://")
    local = [setting for setting in ("args", "env", "cwd") if setting in values]
    if local and command is None:
        raise ServerConfigError(f"{key(local[0])} is for servers started by command")
    if "headers" in values and url is None:
        raise ServerConfigError(f"{key('headers')} is for servers reached by url")
    enabled = values.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ServerConfigError(f"{key('enabled')} must be true or false")
    return ServerConfig(
        name=name,
        command=command,
        args=_texts(values.get("args", []), key("args")),
        env=_text_table(values.get("env", {}), key("env")),
        cwd=_text(values.get("cwd"), key("cwd")),
        url=url,
        headers=_text_table(values.get("headers", {}), key("headers")),
        enabled=enabled,
        auto_approve=_texts(values.get("auto_approve", []), key("auto_approve")),
    )


def _text(value: Any, key: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ServerConfigError(f"{key} must be non-empty text")
    return value.strip()


def _texts(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ServerConfigError(f'{key} must be a list of text, e.g. ["a", "b"]')
    return tuple(value)


def _text_table(value: Any, key: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ServerConfigError(f'{key} must be a table of text, e.g. {{ NAME = "value" }}')
    return dict(value)


def servers_on(servers: Mapping[str, ServerConfig], switches: Mapping[str, bool]) -> list[str]:
    """The servers a conversation offers: each as switched for it, else as configured."""
    return [name for name, server in servers.items() if switches.get(name, server.enabled)]


def switches_for(servers: Mapping[str, ServerConfig], chosen: Collection[str]) -> dict[str, bool]:
    """What a conversation keeps to offer exactly `chosen`: only where that differs from the
    config, so a server it never changed follows the config."""
    return {
        name: name in chosen
        for name, server in servers.items()
        if (name in chosen) != server.enabled
    }


_CREDENTIALS = re.compile(r"(?<=://)[^/\s@]+@")


def _without_credentials(url: str) -> str:
    """`url` without a user name or password, or a query (where tokens often go)."""
    return _CREDENTIALS.sub("", url).split("?", 1)[0]
