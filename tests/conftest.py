"""Shared fixtures: isolated user directories, the loopback OpenAI server, the app in Pilot
and in a pseudo-terminal. The code behind them is in `tests/support/`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chat_tui.config import Settings, load_settings
from tests.support.loopback import FakeOpenAI
from tests.support.pty import Terminal, chat_tui_command, environment
from tests.support.sample_data import FIXED_NOW
from tests.support.shell import Shell, make_shell

_ENVIRONMENT = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "CHAT_TUI_MODEL",
    "CHAT_TUI_PROVIDER",
    "CHAT_TUI_SYSTEM_PROMPT",
    "CHAT_TUI_TIMEOUT",
    "CHAT_TUI_MAX_RETRIES",
    "CHAT_TUI_THEME",
)


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own data and config directories and no API key."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("TZ", "UTC")
    for name in _ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture(autouse=True)
def collector_given_back() -> Iterator[None]:
    """Every app a test ran gave the process's garbage collector back when it ended."""
    from chat_tui.collector import active_collectors

    yield
    assert active_collectors() == 0, "an app ended without stopping its collector"


@pytest.fixture
def data_dir(isolated_dirs: Path) -> Path:
    return isolated_dirs / "data" / "chat-tui"


@pytest.fixture
def shell(data_dir: Path) -> Shell:
    """The `chat-tui` command in a subprocess, on the isolated directories."""
    return make_shell(data_dir)


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture
def settings(fake: FakeOpenAI) -> Settings:
    """Settings pointing at the fake server: no key, no retries, short timeouts."""
    return load_settings(
        environ={},
        cli={"base_url": fake.base_url, "model": "gpt-4o-mini", "timeout": 10, "max_retries": 0},
    )


@pytest.fixture
def store(data_dir: Path):
    from chat_tui.store import ConversationStore

    conversation_store = ConversationStore(data_dir)
    yield conversation_store
    conversation_store.close()


@pytest.fixture
def make_app(settings: Settings, data_dir: Path):
    """Build a ChatApp on the isolated data directory talking to the fake server."""
    from chat_tui.store import ConversationStore
    from chat_tui.tui.app import ChatApp

    stores: list[ConversationStore] = []

    def build(app_settings: Settings | None = None, **kwargs: object) -> ChatApp:
        app_store = ConversationStore(data_dir)
        stores.append(app_store)
        return ChatApp(app_settings or settings, app_store, clock=lambda: FIXED_NOW, **kwargs)

    yield build
    for app_store in stores:
        app_store.close()


@pytest.fixture
def chat_tui(isolated_dirs: Path):
    """Start the real `chat-tui` in a pseudo-terminal (tests/support/pty.py), on the isolated
    directories unless `env` says otherwise; every process started is closed afterwards."""
    started: list[Terminal] = []

    def start(
        *args: str,
        env: dict[str, str] | None = None,
        size: tuple[int, int] = (100, 30),
        obey_permissions: bool = False,
    ) -> Terminal:
        command = chat_tui_command(*args, obey_permissions=obey_permissions)
        terminal = Terminal(command, env or environment(isolated_dirs), size=size)
        started.append(terminal)
        return terminal

    yield start
    for terminal in started:
        terminal.close()
