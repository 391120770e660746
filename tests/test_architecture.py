"""The layering the design relies on, checked from the source and in a fresh interpreter.

The core and the shell commands must start without Textual (about half a second), without
the OpenAI SDK until a request is made (seconds on a slow machine), and without the MCP SDK
until a tool server is started. Code the tests share lives in `tests/support/`: no test
module, benchmark or script borrows from a test module or from `conftest.py`.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import chat_tui

PACKAGE = Path(chat_tui.__file__).parent
ROOT = Path(__file__).resolve().parent.parent
UI_PACKAGE = PACKAGE / "tui"
ONLY_IMPORTED_BY = {
    "textual": UI_PACKAGE,
    "rich": UI_PACKAGE,
    "openai": PACKAGE / "client.py",
    "mcp": PACKAGE / "tools" / "mcp_client.py",
}
"""Heavy or boundary packages -> the one place (file or folder) allowed to import them."""


def core_modules() -> list[str]:
    """Every module of the package outside `tui/`: the core and the shell commands."""
    return sorted(
        ".".join(("chat_tui", *path.relative_to(PACKAGE).with_suffix("").parts))
        for path in PACKAGE.rglob("*.py")
        if UI_PACKAGE not in path.parents and path.name != "__main__.py"
    )


def imported_packages(path: Path) -> set[str]:
    """Top-level names of every package `path` imports, inside functions too."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_boundary_packages_are_imported_only_in_their_place() -> None:
    """A path rule, read from the source: nothing outside `tui/` imports Textual (or Rich),
    nothing but the client imports the OpenAI SDK and nothing but the MCP client the MCP SDK,
    however deep in a function the import hides."""
    offenders = [
        f"{path.relative_to(PACKAGE)} imports {package}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for package in imported_packages(path) & ONLY_IMPORTED_BY.keys()
        if not (path == ONLY_IMPORTED_BY[package] or ONLY_IMPORTED_BY[package] in path.parents)
    ]
    assert offenders == []


def private_textual_imports(path: Path) -> list[str]:
    """Textual's private modules and names that `path` imports."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("textual"):
            module = node.module or ""
            private = [a.name for a in node.names if a.name.startswith("_")]
            if any(part.startswith("_") for part in module.split(".")) or private:
                found.append(f"{module}:{','.join(a.name for a in node.names)}")
        elif isinstance(node, ast.Import):
            found.extend(
                alias.name
                for alias in node.names
                if alias.name.startswith("textual.")
                and any(part.startswith("_") for part in alias.name.split("."))
            )
    return found


def test_textual_private_names_are_reached_only_through_the_compat_module() -> None:
    compat = UI_PACKAGE / "textual_compat.py"
    offenders = {
        str(path.relative_to(PACKAGE)): found
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != compat and (found := private_textual_imports(path))
    }
    assert offenders == {}
    assert private_textual_imports(compat), "the check can fail: the compat module has some"


def test_the_path_rule_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    """The check above can fail: a lazy import is found as well as a top-level one."""
    module = tmp_path / "lazy.py"
    module.write_text("def f():\n    from textual.widgets import Static\n    import rich\n")
    assert imported_packages(module) == {"textual", "rich"}


PROBE = """
import importlib, json, sys
found = {}
for name in sys.argv[1:]:
    importlib.import_module(name)
    for package in ("textual", "rich", "openai", "httpx", "mcp"):
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
    found = first_importers(*core_modules())
    assert found == {}, f"imported too early: {found}"


def test_the_probe_sees_textual_when_the_app_is_imported() -> None:
    """The check above can fail: the same probe names the module that brings Textual in."""
    found = first_importers("chat_tui.client", "chat_tui.tui.app")
    assert found["textual"] == "chat_tui.tui.app"
    assert "openai" not in found


RUN_PROBE = """
import sys

import pytest
from chat_tui.cli import main
code = main(sys.argv[1:])
print("textual" in sys.modules or "rich" in sys.modules, code)
"""


@pytest.mark.parametrize(
    "args",
    [
        ["list"],
        ["export", "--all"],
        ["mcp", "list"],
        ["--plain", "--base-url", "http://127.0.0.1:9/v1", "--model", "m"],
    ],
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


SHARED_TEST_CODE = "tests.support"
USERS_OF_TEST_CODE = ("tests", "benchmarks", "scripts")


def imported_modules(path: Path, package: str) -> set[str]:
    """Full names of what `path` imports, inside functions too: `from a import b` gives `a`
    and `a.b` (`b` may be a module); `package` resolves relative imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, or `level - 1` packages up
                anchor = package.rsplit(".", node.level - 1)[0]
                base = f"{anchor}.{base}".rstrip(".")
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def borrowed_test_code(path: Path, package: str) -> set[str]:
    """The modules of `tests` outside `tests/support/` that `path` imports."""
    return {
        ".".join(name.split(".")[:2])
        for name in imported_modules(path, package)
        if name.startswith("tests.")
        and name != SHARED_TEST_CODE
        and not name.startswith(SHARED_TEST_CODE + ".")
    }


def test_tests_benchmarks_and_scripts_share_test_code_only_through_tests_support() -> None:
    """No test module imports another (or conftest.py); the benchmarks and the screenshot
    script take the loopback server, the terminal driver and the sample data from the same
    place, so changing a test never breaks something else."""
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for folder in USERS_OF_TEST_CODE
        for path in sorted((ROOT / folder).rglob("*.py"))
        for name in sorted(borrowed_test_code(path, ".".join(path.parent.relative_to(ROOT).parts)))
    ]
    assert offenders == []


def test_the_shared_code_rule_sees_every_way_of_borrowing(tmp_path: Path) -> None:
    """The check above can fail: absolute, package-relative, module-relative and lazy imports
    of test modules and of conftest.py are all found; tests.support is not."""
    module = tmp_path / "test_borrower.py"
    module.write_text(
        "from tests.test_app import send\n"
        "from tests import support, test_disk\n"
        "import tests.conftest\n"
        "from .test_manage import titles\n"
        "from . import test_copy\n"
        "from tests.support.pilot import settle\n"
        "import tests.support.pty\n"
        "def later():\n"
        "    from tests.test_hostile_text import screen_text\n"
    )
    assert borrowed_test_code(module, "tests") == {
        "tests.test_app",
        "tests.test_disk",
        "tests.conftest",
        "tests.test_manage",
        "tests.test_copy",
        "tests.test_hostile_text",
    }
