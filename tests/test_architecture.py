"""The layering the design relies on, checked in a fresh interpreter.

The core and the shell commands must start without Textual (about half a second) and without
the OpenAI SDK until a request is made (seconds on a slow machine).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

CORE = [
    "models",
    "store",
    "index",
    "client",
    "config",
    "paths",
    "limits",
    "saver",
    "merge",
    "safetext",
    "mdsplit",
    "timefmt",
    "replying",
    "clipboard",
    "signals",
]
SHELL = [
    "cli",
    "console",
    "session",
    "ask",
    "plain",
    "shell_files",
    "exporting",
    "importing",
    "chatgpt",
]


PROBE = """
import importlib, json, sys
found = {}
for name in sys.argv[1:]:
    importlib.import_module(name)
    for package in ("textual", "rich", "openai", "httpx"):
        if package in sys.modules:
            found.setdefault(package, name)
print(json.dumps(found))
"""


def first_importers(*modules: str) -> dict[str, str]:
    """Import `modules` in order in a fresh interpreter: heavy package -> the module that
    first pulled it in."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *modules],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(result.stdout)


def test_core_and_shell_modules_import_neither_textual_nor_the_sdk() -> None:
    found = first_importers(*(f"chat_tui.{name}" for name in CORE + SHELL))
    assert found == {}, f"imported too early: {found}"


def test_the_probe_sees_textual_when_the_app_is_imported() -> None:
    """The check above can fail: the same probe names the module that brings Textual in."""
    found = first_importers("chat_tui.client", "chat_tui.app")
    assert found["textual"] == "chat_tui.app"
    assert "openai" not in found


RUN_PROBE = """
import sys

import pytest
from chat_tui.cli import main
code = main(sys.argv[1:])
print("textual" in sys.modules or "rich" in sys.modules, code)
"""


@pytest.mark.parametrize(
    "args", [["list"], ["export", "--all"], ["--plain", "--base-url", "http://127.0.0.1:9/v1"]]
)
def test_running_shell_commands_does_not_import_textual(args: list[str]) -> None:
    """Commands import lazily, so running them is checked too, not only importing them."""
    result = subprocess.run(
        [sys.executable, "-c", RUN_PROBE, *args],
        input="exit\n",
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stdout.splitlines()[-1] == "False 0"
