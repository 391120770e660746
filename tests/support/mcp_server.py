"""A real MCP server for the tests, written with the SDK's server side (FastMCP).

Run as a script it serves over stdio, as a person's configured server would
(`python tests/support/mcp_server.py`); `serve_http()` runs the same tools over Streamable
HTTP on 127.0.0.1 in a thread. Its tools succeed, fail, run slowly, crash the server, and
return huge or hostile text. Every call is appended to `calls.log` in `$MCP_TEST_DIR` (when
set), a slow call that is cancelled writes `cancelled`, and each server started notes its
process id in `pids.log`, so tests can tell what ran, what was stopped, and that no server
outlived the app.

`python tests/support/mcp_server.py broken` writes to stderr and exits before speaking the
protocol: a server that does not start.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from mcp.server.fastmcp import FastMCP

HOSTILE = (
    "[bold red]not markup[/] \x1b[31mred\x1b[0m \x1b]52;c;aGVsbG8=\x07"
    "\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\ \u202eevil\u202c done"
)
"""Rich markup, a colour, a clipboard write (OSC 52), a hyperlink (OSC 8), a bidi override."""


SCRIPT = Path(__file__).resolve()


def stdio_table(name: str, folder: Path, *, args: tuple[str, ...] = (), extra: str = "") -> str:
    """A config.toml table that starts this server over stdio, noting its calls in `folder`."""
    return (
        f"[mcp_servers.{name}]\n"
        f"command = {json.dumps(sys.executable)}\n"
        f"args = {json.dumps([str(SCRIPT), *args])}\n"
        f"env = {{ MCP_TEST_DIR = {json.dumps(str(folder))} }}\n"
        f"{extra}"
    )


def calls_made(folder: Path) -> list[str]:
    """The calls the server ran, in order (`add 1 2`, `echo hi`, ...)."""
    log = folder / "calls.log"
    return log.read_text("utf-8").splitlines() if log.exists() else []


def server_pids(folder: Path) -> list[int]:
    """The process ids of the servers started over stdio, in the order they started."""
    log = folder / "pids.log"
    return [int(line) for line in log.read_text("utf-8").split()] if log.exists() else []


def process_ended(pid: int) -> bool:
    """Whether process `pid` has exited (and was reaped, or is only a zombie)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")


def _note(what: str) -> None:
    folder = os.environ.get("MCP_TEST_DIR")
    if folder:
        with (Path(folder) / "calls.log").open("a", encoding="utf-8") as log:
            log.write(what + "\n")


def _mark(name: str) -> None:
    folder = os.environ.get("MCP_TEST_DIR")
    if folder:
        (Path(folder) / name).write_text("yes", encoding="utf-8")


def build(name: str = "test-tools") -> FastMCP:
    """A fresh server (a Streamable HTTP app can be started only once per server)."""
    server = FastMCP(name, log_level="WARNING")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two whole numbers."""
        _note(f"add {a} {b}")
        return a + b

    @server.tool()
    def echo(text: str) -> str:
        """Return the text unchanged."""
        _note(f"echo {text}")
        return text

    @server.tool()
    def fail(message: str) -> str:
        """Always fails with the given message."""
        _note(f"fail {message}")
        raise ValueError(message)

    @server.tool()
    async def slow(seconds: float) -> str:
        """Wait, then answer."""
        _note(f"slow {seconds}")
        _mark("started")
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            _mark("cancelled")
            raise
        return f"waited {seconds} s"

    @server.tool()
    def huge(size: int) -> str:
        """Return `size` characters of text."""
        _note(f"huge {size}")
        line = "0123456789abcdef" * 4 + "\n"
        return (line * (size // len(line) + 1))[:size]

    @server.tool()
    def hostile() -> str:
        """Return text that tries to act as markup and terminal escapes."""
        _note("hostile")
        return HOSTILE

    @server.tool()
    def crash() -> str:
        """End the server process at once."""
        _note("crash")
        print("crashing on purpose", file=sys.stderr, flush=True)
        os._exit(3)

    @server.tool(name="dotted.name")
    def dotted() -> str:
        """A name OpenAI does not accept as it is."""
        return "dotted"

    return server


@contextlib.contextmanager
def serve_http(name: str = "test-tools") -> Iterator[str]:
    """The tools over Streamable HTTP on a free port of 127.0.0.1; yields the endpoint URL."""
    import uvicorn

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    app = build(name).streamable_http_app()
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the MCP server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        listener.close()


def main() -> None:
    if sys.argv[1:] == ["broken"]:
        print("broken server: missing setting FOO", file=sys.stderr, flush=True)
        sys.exit(1)
    folder = os.environ.get("MCP_TEST_DIR")
    if folder:
        with (Path(folder) / "pids.log").open("a", encoding="utf-8") as log:
            log.write(f"{os.getpid()}\n")
    build().run("stdio")


if __name__ == "__main__":
    main()
