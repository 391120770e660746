"""The tools one session offers: its servers, their catalogue, and who may run what.

Servers start on the first reply that offers tools, each the first time it is wanted; each
problem (a server that does not start, one that stops, a tool left out) is handed out once by
`take_problems`, and the servers that work go on being offered. A conversation may offer the
tools of other servers than the enabled ones (`catalogue(servers)`); they share the started
servers and the memory of what was told.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from chat_tui.tools.approvals import Approvals
from chat_tui.tools.catalogue import Catalogue, OfferedTool, ServerTool
from chat_tui.tools.mcp_client import CallResult, ToolServerError, ToolServers
from chat_tui.tools.servers import ServerConfig


@dataclass(frozen=True)
class ServerState:
    """How one configured server is doing, for listings."""

    config: ServerConfig
    started: bool
    tools: list[ServerTool] | None
    """Its tools once it has started; None before, or when it failed."""
    problem: str | None
    """Why it cannot be used (it did not start, or it stopped)."""


class Toolbox:
    """Start with `catalogue()`, run calls with `run()`, end with `close()`."""

    def __init__(
        self,
        servers: Mapping[str, ServerConfig],
        approvals: Approvals,
        *,
        call_timeout: float,
    ) -> None:
        self.approvals = approvals
        self.call_timeout = call_timeout
        self._servers = ToolServers(servers)
        self._told: set[str] = set()
        self._untold: list[str] = []

    async def catalogue(self, servers: Collection[str] | None = None) -> Catalogue:
        """The tools on offer from `servers` (by default the enabled ones), starting those
        not started yet. A server that failed is left out (and told once)."""
        tools, problems = await self._servers.start(servers)
        catalogue = Catalogue(tools)
        for problem in [*problems.values(), *catalogue.problems]:
            self._tell(problem)
        return catalogue

    async def run(self, tool: OfferedTool, arguments: Mapping[str, Any]) -> CallResult:
        """Call `tool`; raises `ToolServerError` (told once when its server has stopped)."""
        try:
            return await self._servers.call(tool.server, tool.tool, arguments, self.call_timeout)
        except ToolServerError:
            connection = self._servers.connections.get(tool.server)
            if connection is not None and connection.problem is not None:
                self._tell(connection.problem)
            raise

    def take_problems(self) -> list[str]:
        """Problems not handed out before (each is handed out once)."""
        problems, self._untold = self._untold, []
        return problems

    def states(self) -> list[ServerState]:
        """Every configured server, in the order of the file, as it is now."""
        states: list[ServerState] = []
        for name, config in self._servers.configs.items():
            connection = self._servers.connections.get(name)
            started = connection is not None and connection.started
            states.append(
                ServerState(
                    config=config,
                    started=started,
                    tools=connection.tools if connection is not None else None,
                    problem=connection.problem if connection is not None else None,
                )
            )
        return states

    async def restart(self, name: str) -> None:
        """Stop server `name`; it starts again when its tools are next wanted, and a
        problem it has then is told again."""
        connection = self._servers.connections.get(name)
        if connection is not None and connection.problem is not None:
            self._told.discard(connection.problem)
        await self._servers.restart(name)

    async def close(self) -> None:
        await self._servers.close()

    def _tell(self, problem: str) -> None:
        if problem not in self._told:
            self._told.add(problem)
            self._untold.append(problem)
