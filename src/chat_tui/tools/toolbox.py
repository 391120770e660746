"""The tools one session offers: its servers, their catalogue, and who may run what.

Servers start on the first reply that offers tools, all at once; each problem (a server that
does not start, one that stops, a tool left out) is handed out once by `take_problems`, and the
servers that work go on being offered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chat_tui.tools.approvals import Approvals
from chat_tui.tools.catalogue import Catalogue, OfferedTool
from chat_tui.tools.mcp_client import CallResult, ToolServerError, ToolServers
from chat_tui.tools.servers import ServerConfig


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
        self._catalogue: Catalogue | None = None
        self._told: set[str] = set()
        self._untold: list[str] = []

    async def catalogue(self) -> Catalogue:
        """The tools on offer, starting the servers the first time."""
        if self._catalogue is None:
            tools, problems = await self._servers.start()
            catalogue = Catalogue(tools)
            for problem in [*problems.values(), *catalogue.problems]:
                self._tell(problem)
            self._catalogue = catalogue
        return self._catalogue

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

    async def close(self) -> None:
        await self._servers.close()

    def _tell(self, problem: str) -> None:
        if problem not in self._told:
            self._told.add(problem)
            self._untold.append(problem)
