"""Tools from the shell: calls shown on stderr, the y/a/n question, and `chat-tui mcp list`.

The reply's text goes to stdout as always; everything about tools goes to stderr, so a pipe
gets the answer alone. With a terminal (stdin and stderr both are one) each call that is not
allowed ahead of time is asked about; a key typed before the question appeared is thrown
away, never taken as the answer. Without a terminal nobody can be asked, and such calls are
denied. Text from servers is shown like text from models: control characters made visible.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import termios
from typing import TextIO

from chat_tui.console import EXIT_FAILURE, EXIT_OK, PREFIX, StreamPrinter
from chat_tui.models import ToolCall
from chat_tui.safetext import display_text, one_line
from chat_tui.tools.approvals import Decision
from chat_tui.tools.loop import ReplyHooks
from chat_tui.tools.servers import ServerConfig

SHOWN_ARGUMENTS = 2_000
"""Characters of a call's arguments shown before the question (the rest is counted)."""
ANSWERS = {
    "y": Decision.ONCE,
    "yes": Decision.ONCE,
    "a": Decision.ALWAYS,
    "always": Decision.ALWAYS,
}
QUESTION = "Run it? [y]es once, [a]lways, [N]o: "


def can_ask() -> bool:
    """Whether a person can be asked: stdin and stderr are a terminal."""
    return _is_terminal(sys.stdin) and _is_terminal(sys.stderr)


def _is_terminal(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except ValueError:  # closed
        return False


class ShellTools:
    """Shows a reply's tool calls on stderr and asks about them there."""

    def __init__(self, printer: StreamPrinter, *, ask: bool, out: TextIO | None = None) -> None:
        self.printer = printer
        self.ask = ask
        self.out = out or sys.stderr
        self._shown: set[str] = set()

    def hooks(self) -> ReplyHooks:
        """The hooks of a reply printed by `printer`, with its calls shown here."""
        return ReplyHooks(
            on_text=self.printer.write, on_call=self.call_changed, on_notice=self.notice
        )

    async def approve(self, call: ToolCall) -> Decision:
        """Ask about `call` on the terminal, or deny it where nobody can be asked."""
        if not self.ask:
            call.error = (
                "not run: there is no terminal to ask (allow it with "
                f"--allow-tool {one_line(call.tool or call.name, 80)})"
            )
            self._line(f"{_label(call)}: {call.error}")
            return Decision.DENY
        self._show(call)
        answer = await read_answer(QUESTION, self.out)
        return ANSWERS.get(answer.strip().lower(), Decision.DENY)

    def call_changed(self, call: ToolCall) -> None:
        if call.status == "running":
            self._show(call)
        elif call.status == "done":
            size = len(call.result or "")
            characters = "character" if size == 1 else "characters"
            self._line(f"{_label(call)}: done in {_seconds(call)} ({size:,} {characters})")
        elif call.status == "error":
            took = f" after {_seconds(call)}" if call.duration_seconds is not None else ""
            self._line(f"{_label(call)}: failed{took}: {call.error or 'error'}")
        elif call.status == "denied" and self.ask:
            self._line(f"{_label(call)}: denied")
        elif call.status in ("stopped", "skipped"):
            self._line(f"{_label(call)}: {call.error or call.status}")

    def notice(self, text: str) -> None:
        self._line(text)

    def _show(self, call: ToolCall) -> None:
        """The call and its arguments, once, before it is asked about or runs."""
        if call.id in self._shown:
            return
        self._shown.add(call.id)
        self._line(f"tool call: {_label(call)} {_arguments(call.arguments)}")

    def _line(self, text: str) -> None:
        self.printer.end_line()
        self.out.write(PREFIX + one_line(text) + "\n")
        self.out.flush()


def _label(call: ToolCall) -> str:
    if call.server and call.tool:
        return f"{call.server} · {call.tool}"
    return call.name


def _seconds(call: ToolCall) -> str:
    return f"{call.duration_seconds or 0:.2f} s"


def _arguments(arguments: str) -> str:
    """The arguments as compact JSON on one line, cut with a count of what is not shown."""
    try:
        text = json.dumps(json.loads(arguments), ensure_ascii=False) if arguments.strip() else "{}"
    except (ValueError, RecursionError):
        text = arguments
    text = " ".join(text.split())
    if len(text) <= SHOWN_ARGUMENTS:
        return text
    return f"{text[:SHOWN_ARGUMENTS]}… ({len(text) - SHOWN_ARGUMENTS:,} more characters)"


async def read_answer(question: str, out: TextIO) -> str:
    """Ask `question` on `out` and read one line typed at the terminal (stdin).

    Keys typed before the question appeared are discarded first. The read waits on the event
    loop, so a cancellation (ctrl+C) ends it at once; end of input is an empty answer.
    """
    fd = sys.stdin.fileno()
    with contextlib.suppress(termios.error):
        termios.tcflush(fd, termios.TCIFLUSH)
    out.write(display_text(question))
    out.flush()
    loop = asyncio.get_running_loop()
    readable: asyncio.Future[None] = loop.create_future()

    def typed() -> None:
        if not readable.done():
            readable.set_result(None)

    loop.add_reader(fd, typed)
    try:
        await readable
    except asyncio.CancelledError:
        out.write("\n")
        with contextlib.suppress(termios.error):
            termios.tcflush(fd, termios.TCIFLUSH)
        raise
    finally:
        loop.remove_reader(fd)
    return os.read(fd, 4096).decode("utf-8", "replace")


# -- chat-tui mcp list ---------------------------------------------------------------------


def list_servers(servers: dict[str, ServerConfig], config_path: str, out: TextIO) -> int:
    """Print each configured server, whether it starts, and its tools; 1 if one fails."""
    if not servers:
        out.write(f"No MCP servers configured: add [mcp_servers.NAME] tables to {config_path}\n")
        return EXIT_OK
    return asyncio.run(_list(servers, out))


async def _list(servers: dict[str, ServerConfig], out: TextIO) -> int:
    from chat_tui.tools.catalogue import Catalogue
    from chat_tui.tools.mcp_client import ToolServers

    started = ToolServers(servers)
    try:
        tools, problems = await started.start()
    finally:
        await started.close()
    offered = {(t.server, t.tool): t.name for t in Catalogue(tools).tools}
    for name, server in servers.items():
        out.write(f"{display_text(name)}  ({one_line(server.describe(), 200)})\n")
        if not server.enabled:
            out.write("  disabled (enabled = false)\n")
            continue
        if name in problems:
            out.write(f"  does not start: {one_line(problems[name])}\n")
            continue
        mine = [t for t in tools if t.server == name]
        out.write(f"  starts · {len(mine)} tool{'s' if len(mine) != 1 else ''}\n")
        for tool in mine:
            shown = one_line(tool.name, 80)
            given = offered.get((name, tool.name))
            if given is None:
                shown += " (not offered: its schema is too large or malformed)"
            elif given != tool.name:
                shown += f" (offered as {given})"
            description = one_line(tool.description.split("\n", 1)[0], 100)
            out.write(f"    {shown}" + (f"  {description}" if description else "") + "\n")
    out.flush()
    return EXIT_FAILURE if problems else EXIT_OK
