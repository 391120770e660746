"""Copying text out of chat-tui: the system clipboard tools, and what to tell the person.

The app always sends copied text to the terminal as an OSC 52 sequence (Textual's
`App.copy_to_clipboard`), which reaches the clipboard of the machine in front of the person
even over SSH, on terminals that allow it. Where a clipboard tool exists it is used as well,
so copying also works in terminals that ignore OSC 52. Nothing here imports Textual, and
nothing here fails loudly: a missing, broken or slow tool just means "not copied this way".
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from chat_tui.models import Message

TOOL_TIMEOUT = 2.0
"""Seconds a clipboard tool may take before it is given up on."""


@dataclass(frozen=True)
class ClipboardTool:
    name: str
    """What the person is told, e.g. "xclip"."""
    command: tuple[str, ...]
    encoding: str = "utf-8"
    """How the text is fed to the tool's standard input."""


def candidate_tools(
    environ: Mapping[str, str] | None = None, platform: str | None = None
) -> list[ClipboardTool]:
    """The clipboard tools worth trying here, best first (only those on PATH)."""
    env = os.environ if environ is None else environ
    platform = platform or sys.platform
    path = env.get("PATH", os.defpath)
    tools: list[ClipboardTool] = []
    if env.get("WAYLAND_DISPLAY"):
        tools.append(ClipboardTool("wl-copy", ("wl-copy",)))
    if env.get("DISPLAY"):
        tools.append(ClipboardTool("xclip", ("xclip", "-selection", "clipboard", "-in")))
        tools.append(ClipboardTool("xsel", ("xsel", "--clipboard", "--input")))
    if platform == "darwin":
        tools.append(ClipboardTool("pbcopy", ("pbcopy",)))
    # Windows, and WSL where the Windows tools are on PATH. clip.exe reads UTF-16 with a BOM.
    tools.append(ClipboardTool("clip.exe", ("clip.exe",), encoding="utf-16"))
    found: list[ClipboardTool] = []
    for tool in tools:
        executable = shutil.which(tool.command[0], path=path)
        if executable is not None:
            found.append(ClipboardTool(tool.name, (executable, *tool.command[1:]), tool.encoding))
    return found


def copy_to_system(
    text: str, tools: Sequence[ClipboardTool] | None = None, timeout: float = TOOL_TIMEOUT
) -> str | None:
    """Put `text` on the system clipboard; the name of the tool that did it, or None.

    Blocking (run it in a thread). Each tool gets `timeout` seconds; its output is
    discarded, so tools that stay in the background to serve the clipboard (xclip,
    wl-copy) cannot hold the call open.
    """
    for tool in candidate_tools() if tools is None else tools:
        try:
            result = subprocess.run(
                tool.command,
                input=text.encode(tool.encoding),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=timeout,
                check=False,
            )
        except (OSError, subprocess.SubprocessError, UnicodeError):
            continue
        if result.returncode == 0:
            return tool.name
    return None


def size_of(text: str) -> str:
    """How much text is: "12 lines", or "42 characters" when it is on one line."""
    lines = len(text.rstrip("\n").split("\n"))
    if lines > 1:
        return f"{lines:,} lines"
    characters = len(text)
    return f"{characters:,} character" + ("" if characters == 1 else "s")


def copied_message(text: str, what: str, tool: str | None) -> str:
    """What the person is told after a copy: what, how much, and which way it went."""
    if tool is not None:
        how = f"System clipboard via {tool}, and the terminal (OSC 52)."
    else:
        how = "Sent via the terminal (OSC 52); no system clipboard found."
    return f"Copied {what}: {size_of(text)}.\n{how}"


def code_blocks(markdown: str) -> list[str]:
    """The text of every code block in `markdown`, in order (parsed as the Markdown widget
    parses it), without the newline that ends each block."""
    from markdown_it import MarkdownIt  # not needed at start-up

    tokens = MarkdownIt("gfm-like").parse(markdown)
    return [t.content.rstrip("\n") for t in tokens if t.type in ("fence", "code_block")]


def last_reply(messages: Sequence[Message]) -> Message | None:
    return next((m for m in reversed(messages) if m.role == "assistant"), None)


def last_code_block(messages: Sequence[Message]) -> str | None:
    """The last code block of the newest message that has one."""
    for message in reversed(messages):
        blocks = code_blocks(message.content)
        if blocks:
            return blocks[-1]
    return None
