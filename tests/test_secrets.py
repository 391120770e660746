"""The API key stays a secret, private data stays private, requests go to one place only."""

from __future__ import annotations

import logging
import os
import socket
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from chat_tui.cli import main
from chat_tui.client import ChatClient
from chat_tui.config import load_settings, save_top_level
from chat_tui.paths import config_file
from chat_tui.store import ConversationStore
from chat_tui.tui.widgets.message_view import MessageView
from tests.support.loopback import FakeOpenAI
from tests.support.pilot import SIZE, Notes, screen_text, send, settle, toasts
from tests.support.pty import environment

KEY = "sk-test-S3CRET-0123456789abcdefXYZ"


def everything_under(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


async def test_the_key_is_never_on_disk_on_screen_in_an_error_an_export_or_a_log(
    fake: FakeOpenAI,
    make_app,
    data_dir: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    save_top_level(config_file(), {"api_key": KEY, "base_url": fake.base_url})
    settings = load_settings(environ={}, cli={"max_retries": 0, "timeout": 5})
    assert settings.active_provider.api_key == KEY
    # A server that echoes the key back in its error, as OpenAI's 401 does.
    fake.add(status=401, error_message=f"Incorrect API key provided: {KEY}.")
    fake.add(status=500, error_message=f"upstream said {KEY[3:]} and key={KEY}")
    fake.add(deltas=["fine now"])
    caplog.set_level(logging.DEBUG)
    app = make_app(settings)
    notes = Notes()
    async with app.run_test(size=SIZE, notifications=True, message_hook=notes) as pilot:
        await send(pilot, "first")
        await settle(pilot)
        await pilot.press("ctrl+r")
        await settle(pilot)
        await pilot.press("ctrl+r")
        await settle(pilot)
        errors = [v.message.error or "" for v in app.screen.query(MessageView)]
        views = app.screen.query(MessageView)
        assert views[-1].message.content == "fine now"
        for _ in range(2):  # the failed versions, stepped back to, on screen
            await views[-1].query_one(".message-header").run_action("step(-1)")
            await settle(pilot)
            views = app.screen.query(MessageView)
            errors.append(views[-1].message.error or "")
            assert KEY not in screen_text(app) and KEY[8:20] not in screen_text(app)
        assert any("[key hidden]" in error for error in errors)
        svg = app.export_screenshot()
        assert KEY not in svg and KEY[8:20] not in svg
        assert all(KEY not in t for t in toasts(app))
        assert KEY not in notes.text and KEY[8:20] not in notes.text
        await pilot.press("ctrl+q")
    # Exports of those conversations, as Markdown and as JSON.
    exported = tmp_path / "exports"
    exported.mkdir()
    for form in ("md", "json"):
        output = exported / f"all.{form}"
        assert main(["export", "--all", "--format", form, "-o", str(output)]) == 0
        assert "key hidden" in output.read_text("utf-8")
    # Sent where it belongs, and nowhere else.
    assert {r.headers["authorization"] for r in fake.chat_requests} == {f"Bearer {KEY}"}
    for path, raw in [*everything_under(data_dir).items(), *everything_under(exported).items()]:
        assert KEY.encode() not in raw and KEY[8:20].encode() not in raw, path
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert caplog.records and KEY not in logged
    assert KEY not in repr(settings) and KEY not in repr(settings.active_provider)
    assert KEY not in repr(ChatClient(settings.active_provider, timeout=1, max_retries=0).__dict__)


def test_the_config_file_holding_a_key_is_private_and_a_readable_one_is_reported(
    fake: FakeOpenAI, chat_tui
) -> None:
    path = config_file()
    save_top_level(path, {"api_key": KEY})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    path.chmod(0o644)  # someone loosened it
    terminal = chat_tui("--base-url", fake.base_url, size=SIZE)
    terminal.wait_for("holds an API key")  # said in the app, on start
    terminal.wait_for("chmod")
    assert KEY not in terminal.output
    terminal.type("\x11")
    assert terminal.wait() == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # reported, not silently changed


@pytest.fixture
def loose_umask() -> Iterator[None]:
    previous = os.umask(0o022)  # what most systems use: files readable by everyone
    yield
    os.umask(previous)


async def test_the_data_directory_and_every_file_in_it_are_private(
    fake: FakeOpenAI, make_app, data_dir: Path, loose_umask: None
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "private thoughts")
        await settle(pilot)
        await pilot.press("ctrl+n")
        await send(pilot, "to be deleted")
        await settle(pilot)
        doomed = app.screen.conversation.id
        app.store.delete(doomed)  # into the trash
        await pilot.press("ctrl+n", *"a draft, typed and not sent")
        await settle(pilot)
        await pilot.press("ctrl+q")
    names = {str(p.relative_to(data_dir)) for p in data_dir.rglob("*")}
    for expected in (
        "conversations",
        "trash",
        f"trash/{doomed}.json",
        ".lock",
        "index.sqlite3",
    ):
        assert expected in names
    assert any(name.startswith("drafts/") for name in names), names
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    for path in data_dir.rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path.name}: {oct(mode)}"
    # While a store is open, SQLite's -wal and -shm exist; they are private too.
    store = ConversationStore(data_dir)
    store.refresh()
    for suffix in ("-wal", "-shm"):
        side = data_dir / f"index.sqlite3{suffix}"
        assert side.exists() and stat.S_IMODE(side.stat().st_mode) == 0o600
    store.close()


def test_an_index_left_readable_by_an_older_version_is_made_private(
    data_dir: Path, loose_umask: None
) -> None:
    data_dir.mkdir(parents=True)
    index = data_dir / "index.sqlite3"
    index.write_bytes(b"")
    index.chmod(0o644)
    store = ConversationStore(data_dir)
    store.refresh()
    assert stat.S_IMODE(index.stat().st_mode) == 0o600
    store.close()


# -- requests go to the configured server only ----------------------------------------------


class Sink:
    """A TCP listener that records every connection made to it (a would-be proxy)."""

    def __init__(self) -> None:
        self.connections: list[bytes] = []
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:
                continue
            with connection:
                connection.settimeout(1)
                try:
                    self.connections.append(connection.recv(4096))
                except OSError:
                    self.connections.append(b"")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._listener.close()


def test_requests_go_only_to_the_configured_base_url(
    fake: FakeOpenAI, isolated_dirs: Path, chat_tui
) -> None:
    """A real chat-tui, with every other destination routed to a recording proxy: the only
    requests made are chat completions to the configured server."""
    decoy = FakeOpenAI().start()
    sink = Sink()
    env = environment(
        isolated_dirs,
        OPENAI_BASE_URL=decoy.base_url,  # the flag below must win over this
        OPENAI_API_KEY=KEY,
        HTTP_PROXY=sink.url,
        HTTPS_PROXY=sink.url,
        ALL_PROXY=sink.url,
        NO_PROXY=f"127.0.0.1:{fake.port}",
    )
    fake.add(status=307, headers={"location": f"{decoy.base_url}/chat/completions"})
    terminal = chat_tui("--base-url", fake.base_url, env=env, size=SIZE)
    try:
        terminal.wait_for("Ask anything")
        terminal.type("first\r")
        terminal.wait_for("redirected the request")
        terminal.type("second\r")
        terminal.wait_for("Echo: second")
        terminal.type("\x11")
        assert terminal.wait() == 0
    finally:
        sink.close()
        decoy.stop()
    assert decoy.requests == []  # neither the environment's server nor the redirect
    assert sink.connections == []  # nothing else was contacted, directly or by proxy
    sent = [(r.method, r.path) for r in fake.requests]
    assert [s for s in sent if s[1].endswith("/completions")] == [
        ("POST", "/v1/chat/completions"),
        ("POST", "/v1/chat/completions"),
    ]
    # With no model configured, the server is asked what it serves and how long its context
    # is (llama.cpp's /props, Ollama's /api/show) before the first request: that server only.
    assert set(sent) - {("POST", "/v1/chat/completions")} <= {
        ("GET", "/v1/models"),
        ("GET", "/props"),
        ("POST", "/api/show"),
    }
    assert {r.headers["host"] for r in fake.requests} == {f"127.0.0.1:{fake.port}"}
