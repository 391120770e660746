"""The only module that knows the `mcp` SDK exists: connections to MCP servers.

A server is started when its tools are first wanted, never at start-up; the SDK (and the HTTP
client it brings) is imported then too. Each connection lives in a task of its own, because
the SDK's transports and sessions must be entered and left in one task; calls come from any
task. A server that does not start, or stops answering, is described with the end of what it
wrote to stderr; the others are not affected. A call has a time limit, and a call that is
cancelled or runs out of time is cancelled at the server too (`notifications/cancelled`).
Closing is bounded in time: a server that will not stop is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chat_tui import limits
from chat_tui.safetext import one_line
from chat_tui.tools.catalogue import ServerTool
from chat_tui.tools.servers import ServerConfig

if TYPE_CHECKING:
    from mcp import ClientSession
    from mcp.types import CallToolResult

START_SECONDS = 30.0
"""How long a server may take to start and list its tools (a first `npx` run downloads)."""
CLOSE_SECONDS = 5.0
"""How long closing waits for a server to stop by itself before it is killed."""
CANCEL_SECONDS = 1.0
STDERR_SHOWN = 600
"""Characters of the end of a server's stderr quoted when it fails."""
HTTP_TIMEOUT = 30.0
HTTP_READ_TIMEOUT = 300.0
"""A streamed answer may be silent for this long (a slow tool) before the read fails."""


class ToolServerError(Exception):
    """A server could not be started or reached, or a call could not be made or finished.
    The message is one line for the person (and the model)."""


@dataclass(frozen=True)
class CallResult:
    text: str
    is_error: bool
    """The tool said it failed (`isError`): the text is its error message."""


class _StderrTail:
    """The last bytes a server process wrote to stderr, read as they come (a pipe nobody
    reads would block a chatty server), with nothing older kept."""

    def __init__(self) -> None:
        read_end, write_end = os.pipe()
        os.set_blocking(read_end, False)
        self._fd: int | None = read_end
        self.file = os.fdopen(write_end, "w")
        """Given to the process as its stderr; our copy is closed once it has started."""
        self._kept = b""

    def started(self) -> None:
        """The process has its own copy of the pipe: read it from now on."""
        self.file.close()
        if self._fd is not None:
            asyncio.get_running_loop().add_reader(self._fd, self._drain)

    def _drain(self) -> None:
        while self._fd is not None:
            try:
                chunk = os.read(self._fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:
                self._stop_reading()
                return
            self._kept = (self._kept + chunk)[-limits.SERVER_STDERR_BYTES :]

    def text(self) -> str:
        """What was written last, on one line, cut to its end."""
        self._drain()
        text = one_line(self._kept.decode("utf-8", "replace"))
        return text if len(text) <= STDERR_SHOWN else "…" + text[-STDERR_SHOWN:]

    def close(self) -> None:
        self._drain()
        self._stop_reading()
        if not self.file.closed:
            self.file.close()

    def _stop_reading(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(RuntimeError, ValueError):  # the loop has closed
            asyncio.get_running_loop().remove_reader(self._fd)
        os.close(self._fd)
        self._fd = None


class ServerConnection:
    """One MCP server: started once, on demand; its tools; calls to them."""

    def __init__(self, config: ServerConfig, *, start_timeout: float = START_SECONDS) -> None:
        self.config = config
        self.start_timeout = start_timeout
        self.problem: str | None = None
        """Why the server cannot be used (it did not start, or it stopped), once it failed."""
        self._session: ClientSession | None = None
        self._ready: asyncio.Future[list[ServerTool]] | None = None
        self._runner: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
        self._stderr: _StderrTail | None = None

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def started(self) -> bool:
        """Whether it was asked to start (it may still be starting, or have failed)."""
        return self._ready is not None

    @property
    def tools(self) -> list[ServerTool] | None:
        """Its tools once it has started (None before, and after it failed to start)."""
        ready = self._ready
        if ready is None or not ready.done() or ready.cancelled() or ready.exception():
            return None
        return ready.result()

    async def start(self) -> list[ServerTool]:
        """Start the server (the first time) and return its tools. Raises `ToolServerError`."""
        if self.problem is not None:
            raise ToolServerError(self.problem)
        if self._ready is None:
            self._ready = asyncio.get_running_loop().create_future()
            self._ready.add_done_callback(_retrieve)
            self._runner = asyncio.create_task(self._run(self._ready), name=f"mcp {self.name}")
        try:
            return await asyncio.wait_for(asyncio.shield(self._ready), self.start_timeout)
        except TimeoutError:
            self._failed(f"did not start: no answer within {self.start_timeout:g} s")
            await self.close()
            raise ToolServerError(self.problem or "") from None

    async def call(self, tool: str, arguments: Mapping[str, Any], timeout: float) -> CallResult:
        """Call `tool`; raises `ToolServerError` if the call cannot be made or finished."""
        from mcp.shared.exceptions import McpError
        from mcp.types import CONNECTION_CLOSED

        session = self._session
        if session is None:
            raise ToolServerError(self.problem or f"{self.name} is not running")
        # The id `call_tool` is about to give its request (taken before it runs: nothing else
        # can send on this session in between), to cancel it at the server if need be. The
        # SDK does not send the cancellation itself.
        request_id = getattr(session, "_request_id", None)
        try:
            async with asyncio.timeout(timeout):
                result = await session.call_tool(tool, dict(arguments))
        except TimeoutError:
            await _cancel_request(session, request_id, "timed out")
            raise ToolServerError(
                f"no answer within {timeout:g} s: the call was stopped (tool_timeout)"
            ) from None
        except asyncio.CancelledError:
            await _cancel_request(session, request_id, "stopped by the person")
            raise
        except McpError as error:
            if error.error.code == CONNECTION_CLOSED:
                raise ToolServerError(self._stopped()) from None
            raise ToolServerError(
                f"{self.name} refused the call: {one_line(error.error.message, 300)}"
            ) from None
        except Exception as error:
            if _is_closed(error):
                raise ToolServerError(self._stopped()) from None
            raise ToolServerError(f"the call failed: {_reason(error)}") from None
        return CallResult(text=result_text(result), is_error=bool(result.isError))

    async def close(self) -> None:
        """Stop the server: it is asked to end, and killed if it has not after CLOSE_SECONDS."""
        self._closing.set()
        runner = self._runner
        if runner is None or runner.done():
            return
        done, _ = await asyncio.wait([runner], timeout=CLOSE_SECONDS)
        if not done:
            runner.cancel()
            await asyncio.wait([runner], timeout=CLOSE_SECONDS)

    # -- the connection's own task ---------------------------------------------------------

    async def _run(self, ready: asyncio.Future[list[ServerTool]]) -> None:
        from mcp import ClientSession

        try:
            async with contextlib.AsyncExitStack() as stack:
                read, write = await self._connect(stack)
                session = await stack.enter_async_context(ClientSession(read, write))
                await session.initialize()
                tools = await _list_tools(session, self.name)
                self._session = session
                if not ready.done():
                    ready.set_result(tools)
                await self._closing.wait()
        except asyncio.CancelledError:
            if not ready.done():
                ready.set_exception(ToolServerError(self.problem or f"{self.name} was stopped"))
            raise
        except Exception as error:
            if not ready.done():
                self._failed(f"did not start: {_reason(error)}")
                ready.set_exception(ToolServerError(self.problem or ""))
            elif not self._closing.is_set():
                self._stopped()
        finally:
            self._session = None
            if self._stderr is not None:
                self._stderr.close()
            if not ready.done():  # whatever happened, nobody waits for a start forever
                ready.set_exception(ToolServerError(self.problem or f"{self.name} stopped"))

    async def _connect(self, stack: contextlib.AsyncExitStack) -> tuple[Any, Any]:
        """Start the transport: the process over stdio, or the HTTP connection."""
        config = self.config
        if config.command is not None:
            from mcp import StdioServerParameters
            from mcp.client.stdio import stdio_client

            parameters = StdioServerParameters(
                command=config.command,
                args=list(config.args),
                env=dict(config.env) or None,
                cwd=config.cwd,
            )
            self._stderr = _StderrTail()
            read, write = await stack.enter_async_context(
                stdio_client(parameters, errlog=self._stderr.file)
            )
            self._stderr.started()
            return read, write
        import httpx
        from mcp.client.streamable_http import streamable_http_client

        client = await stack.enter_async_context(
            httpx.AsyncClient(
                headers=dict(config.headers),
                timeout=httpx.Timeout(HTTP_TIMEOUT, read=HTTP_READ_TIMEOUT),
                follow_redirects=False,
            )
        )
        read, write, _ = await stack.enter_async_context(
            streamable_http_client(config.url or "", http_client=client)
        )
        return read, write

    def _failed(self, what: str) -> None:
        words = self._stderr.text() if self._stderr is not None else ""
        self.problem = f"{self.name} {what}" + (f" (stderr: {words})" if words else "")
        self._session = None

    def _stopped(self) -> str:
        """Mark the server as stopped (it crashed, or closed the connection); why."""
        if self.problem is None:
            self._failed("stopped: the connection to it closed")
            self._closing.set()
        return self.problem or ""


class ToolServers:
    """The configured servers, each started on first use and kept until closed.

    The enabled ones are the default set; a conversation may choose others (a server with
    `enabled = false` turned on for it), which are started the first time they are asked for.
    """

    def __init__(self, servers: Mapping[str, ServerConfig]) -> None:
        self.configs = dict(servers)
        self.connections = {
            name: ServerConnection(config) for name, config in servers.items() if config.enabled
        }

    async def start(
        self, names: Iterable[str] | None = None
    ) -> tuple[list[ServerTool], dict[str, str]]:
        """The tools of the servers named (configured ones; by default the enabled ones),
        and why each of them that failed did."""
        if names is None:
            names = [name for name, config in self.configs.items() if config.enabled]
        wanted = [name for name in dict.fromkeys(names) if name in self.configs]
        for name in wanted:
            if name not in self.connections:
                self.connections[name] = ServerConnection(self.configs[name])
        outcomes = await asyncio.gather(
            *(self.connections[name].start() for name in wanted), return_exceptions=True
        )
        tools: list[ServerTool] = []
        problems: dict[str, str] = {}
        for name, outcome in zip(wanted, outcomes, strict=True):
            if isinstance(outcome, ToolServerError):
                problems[name] = str(outcome)
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                tools.extend(outcome)
        return tools, problems

    async def restart(self, name: str) -> None:
        """Stop server `name` (if it runs, or failed); the next `start` starts it afresh."""
        connection = self.connections.pop(name, None)
        if connection is not None:
            await connection.close()

    async def call(
        self, server: str, tool: str, arguments: Mapping[str, Any], timeout: float
    ) -> CallResult:
        if server not in self.connections and server in self.configs:
            _, problems = await self.start([server])  # restarted since its tools were listed
            if server in problems:
                raise ToolServerError(problems[server])
        connection = self.connections.get(server)
        if connection is None:
            raise ToolServerError(f"no enabled server {server!r}")
        return await connection.call(tool, arguments, timeout)

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in self.connections.values()))


async def _list_tools(session: ClientSession, server: str) -> list[ServerTool]:
    """Every tool the server lists, page by page, within the limits."""
    from mcp.types import PaginatedRequestParams

    tools: list[ServerTool] = []
    cursor: str | None = None
    for _ in range(limits.SERVER_TOOL_PAGES):
        params = PaginatedRequestParams(cursor=cursor) if cursor else None
        page = await session.list_tools(params=params)
        tools.extend(
            ServerTool(
                server=server,
                name=tool.name,
                description=tool.description or "",
                schema=tool.inputSchema,
            )
            for tool in page.tools
        )
        cursor = page.nextCursor
        if not cursor or len(tools) >= limits.SERVER_TOOLS:
            break
    return tools[: limits.SERVER_TOOLS]


def result_text(result: CallToolResult) -> str:
    """A call's content as text: text as it is, anything else named in brackets; structured
    content (as JSON) when there is nothing else."""
    import json

    from mcp import types

    parts: list[str] = []
    for block in result.content:
        if isinstance(block, types.TextContent):
            parts.append(block.text)
        elif isinstance(block, types.ImageContent | types.AudioContent):
            kind = "image" if isinstance(block, types.ImageContent) else "audio"
            parts.append(f"[{kind}: {block.mimeType}, {len(block.data) * 3 // 4:,} bytes]")
        elif isinstance(block, types.EmbeddedResource):
            resource = block.resource
            if isinstance(resource, types.TextResourceContents):
                parts.append(resource.text)
            else:
                parts.append(f"[resource {resource.uri}]")
        elif isinstance(block, types.ResourceLink):
            parts.append(f"[resource link {block.uri}]")
    if not parts and result.structuredContent is not None:
        parts.append(json.dumps(result.structuredContent, ensure_ascii=False))
    return "\n".join(parts)


async def _cancel_request(session: ClientSession, request_id: object, reason: str) -> None:
    """Tell the server to stop working on a request (best effort, bounded in time)."""
    if not isinstance(request_id, int):
        return
    from mcp import types

    notice = types.ClientNotification(
        types.CancelledNotification(
            params=types.CancelledNotificationParams(requestId=request_id, reason=reason)
        )
    )
    with contextlib.suppress(Exception):
        async with asyncio.timeout(CANCEL_SECONDS):
            await asyncio.shield(session.send_notification(notice))


def _retrieve(future: asyncio.Future[list[ServerTool]]) -> None:
    """Mark a failed start as seen even when nobody waited for it (it is reported anyway)."""
    if not future.cancelled():
        future.exception()


def _leaves(error: BaseException) -> list[BaseException]:
    """The exceptions inside (nested) exception groups, or the error itself."""
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


def _is_closed(error: BaseException) -> bool:
    import anyio

    closed = (
        anyio.ClosedResourceError,
        anyio.BrokenResourceError,
        anyio.EndOfStream,
        BrokenPipeError,
    )
    return any(isinstance(leaf, closed) for leaf in _leaves(error))


def _reason(error: BaseException) -> str:
    """Why a start or a call failed, in words, from the most telling exception inside."""
    import httpx
    from mcp.shared.exceptions import McpError
    from mcp.types import CONNECTION_CLOSED

    leaves = [e for e in _leaves(error) if not isinstance(e, asyncio.CancelledError)] or [error]
    leaf = next((e for e in leaves if not _is_closed(e)), leaves[0])
    if isinstance(leaf, FileNotFoundError | PermissionError):
        return f"cannot run {leaf.filename or 'the command'}: {leaf.strerror}"
    if isinstance(leaf, McpError) and leaf.error.code != CONNECTION_CLOSED:
        return one_line(leaf.error.message, 300)
    if isinstance(leaf, httpx.HTTPStatusError):
        return f"the server answered {leaf.response.status_code}"
    if isinstance(leaf, httpx.ConnectError):
        return "cannot connect to it"
    if isinstance(leaf, httpx.TimeoutException):
        return "it did not answer in time"
    if _is_closed(leaf) or isinstance(leaf, McpError):
        return "the connection to it closed"
    return one_line(f"{type(leaf).__name__}: {leaf}", 300)
