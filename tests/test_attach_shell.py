"""Attachments from the shell: `ask -a`, `--plain`'s `/attach`, and a model that cannot read
images, run as real processes against the loopback server."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from chat_tui import limits
from chat_tui.store import ConversationStore
from tests.support.images import png
from tests.support.loopback import FakeOpenAI
from tests.support.shell import Shell, one_line_error


@pytest.fixture
def files(tmp_path: Path) -> Path:
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "app.log").write_text("ERROR: the ``` fence\nWARN: retrying\n", encoding="utf-8")
    (folder / "screen.png").write_bytes(png(3, 2))
    return folder


def test_ask_sends_a_log_and_a_screenshot_as_parts(
    shell: Shell, fake: FakeOpenAI, files: Path
) -> None:
    result = shell.run(
        "ask", "What failed?", "-a", str(files / "app.log"), "--attach", str(files / "screen.png"),
        "--base-url", fake.base_url,
    )  # fmt: skip
    assert (result.returncode, result.stderr) == (0, "")
    [request] = fake.chat_requests
    [message] = request.messages
    text, log, image = message["content"]
    assert text == {"type": "text", "text": "What failed?"}
    assert log == {
        "type": "text",
        "text": "app.log\n````\nERROR: the ``` fence\nWARN: retrying\n````",
    }
    url = image["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.removeprefix("data:image/png;base64,")) == png(3, 2)
    assert b'"image_url"' in request.raw
    [saved] = shell.saved()
    names = [(a["name"], a["kind"], a["size"]) for a in saved["messages"][0]["attachments"]]
    assert names == [
        ("app.log", "text", (files / "app.log").stat().st_size),
        ("screen.png", "image", len(png(3, 2))),
    ]
    copies = sorted(p.name for p in (shell.data_dir / "attachments").iterdir())
    assert [name.rsplit(".", 1)[1] for name in copies] == ["png", "txt"]


def test_the_copy_is_sent_again_after_the_original_is_gone(
    shell: Shell, fake: FakeOpenAI, files: Path
) -> None:
    first = shell.run(
        "ask", "-a", str(files / "screen.png"), "--base-url", fake.base_url
    )  # only an attachment, no text
    assert first.returncode == 0, first.stderr
    assert fake.chat_requests[0].messages[0]["content"][0]["type"] == "image_url"
    (files / "screen.png").unlink()
    again = shell.run("ask", "--continue", "And now?", "--base-url", fake.base_url)
    assert again.returncode == 0, again.stderr
    sent = fake.chat_requests[1].messages
    assert sent[0]["content"] == fake.chat_requests[0].messages[0]["content"]
    assert sent[-1] == {"role": "user", "content": "And now?"}


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda folder: folder / "nowhere.log", "no such file: .*nowhere.log"),
        (lambda folder: folder, "is a directory"),
        (lambda folder: _write(folder / "tool.bin", b"\x7fELF\x00\x01" * 50), "neither text"),
        (
            lambda folder: _write(folder / "big.log", b"x" * (limits.TEXT_ATTACHMENT_BYTES + 1)),
            r"big.log is 1.1 MB, more than the 1 MB a text file",
        ),
    ],
)
def test_a_file_that_cannot_be_attached_is_one_line_and_exit_2_before_sending(
    shell: Shell, fake: FakeOpenAI, files: Path, make: Callable[[Path], Path], expected: str
) -> None:
    path = make(files)
    result = shell.run("ask", "look", "-a", str(path), "--base-url", fake.base_url)
    assert result.returncode == 2
    assert re.search(expected, one_line_error(result.stderr))
    assert fake.requests == [] and shell.saved() == []


def test_an_unreadable_file_is_refused_before_sending(
    shell: Shell, fake: FakeOpenAI, files: Path
) -> None:
    secret = files / "secret.log"
    secret.write_text("no\n")
    secret.chmod(0)
    result = shell.run(
        "ask", "look", "-a", str(secret), "--base-url", fake.base_url, obey_permissions=True
    )
    assert result.returncode == 2
    assert "permission denied" in one_line_error(result.stderr)
    assert fake.requests == []


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux's /proc")
def test_an_input_output_error_while_reading_is_exit_1_before_sending(
    shell: Shell, fake: FakeOpenAI
) -> None:
    # Reading /proc/self/mem from its start fails with EIO: a disk error, as a test can make it.
    result = shell.run("ask", "look", "-a", "/proc/self/mem", "--base-url", fake.base_url)
    assert result.returncode == 1
    assert "input/output error" in one_line_error(result.stderr).lower()
    assert fake.requests == [] and shell.saved() == []


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("server", ["openai", "llama.cpp", "vllm"])
def test_a_model_that_cannot_read_images_is_named_and_the_prompt_kept(
    shell: Shell, fake: FakeOpenAI, files: Path, server: str
) -> None:
    fake.rejects_images = server  # type: ignore[assignment]
    result = shell.run(
        "ask", "what is this", "-a", str(files / "screen.png"), "--model", "text-only",
        "--base-url", fake.base_url,
    )  # fmt: skip
    assert result.returncode == 1
    error = one_line_error(result.stderr)
    assert "'text-only'" in error and "does not accept images" in error
    assert "--model" in error
    [saved] = shell.saved()
    prompt, reply = saved["messages"]
    assert prompt["content"] == "what is this" and prompt["attachments"][0]["name"] == "screen.png"
    assert reply["status"] == "failed"


def test_plain_attaches_lists_and_detaches(shell: Shell, fake: FakeOpenAI, files: Path) -> None:
    typed = "\n".join(
        [
            "/attach",
            f"/attach {files / 'screen.png'}",
            "/detach",
            f"/attach {files / 'missing.png'}",
            f"/attach '{files / 'app.log'}'",
            "/attach",
            "",
            "thanks",
            "exit",
        ]
    )
    result = shell.run("--plain", "--base-url", fake.base_url, input=typed + "\n")
    assert result.returncode == 0, result.stderr
    assert "no such file" in result.stderr and "missing.png" in result.stderr
    assert "Nothing attached. /attach PATH" in result.stdout
    assert result.stdout.count("Attached: app.log (text, 36 bytes)") == 2
    first, second = (request.messages[-1]["content"] for request in fake.chat_requests)
    assert [part["text"].split("\n")[0] for part in first] == ["app.log"]  # sent alone
    assert second == "thanks"  # sent once, then no longer attached
    assert len(os.listdir(shell.data_dir / "attachments")) == 1  # the detached one never kept


def test_emptying_the_trash_drops_copies_nothing_else_refers_to(
    shell: Shell, fake: FakeOpenAI, files: Path, store: ConversationStore
) -> None:
    for attached in ("screen.png", "app.log"):
        result = shell.run("ask", "-a", str(files / attached), "--base-url", fake.base_url)
        assert result.returncode == 0, result.stderr
    copies = shell.data_dir / "attachments"
    for copy in copies.iterdir():  # older than the grace for copies not yet sent
        os.utime(copy, (0, 0))
    # By what each sent: ids made within the same second sort at random.
    chats = {saved["messages"][0]["attachments"][0]["name"]: saved["id"] for saved in shell.saved()}
    image_chat, log_chat = chats["screen.png"], chats["app.log"]
    store.delete(image_chat)
    store.delete(log_chat)
    purged = shell.run("trash", "--purge", image_chat)
    assert purged.returncode == 0, purged.stderr
    assert purged.stdout.splitlines() == [
        f"deleted for good  {image_chat}",
        "removed 1 attachment copy no conversation refers to",
    ]
    assert [p.suffix for p in copies.iterdir()] == [".txt"]  # the log's is still in the trash
    emptied = shell.run("trash", "--empty")
    assert (emptied.returncode, emptied.stderr) == (0, "")
    assert list(copies.iterdir()) == [] and store.trash() == []
    unknown = shell.run("trash", "--purge", image_chat)
    assert unknown.returncode == 1 and "in the trash" in one_line_error(unknown.stderr)


def test_export_names_attachments_and_json_carries_them_to_another_machine(
    shell: Shell, fake: FakeOpenAI, files: Path, tmp_path: Path
) -> None:
    asked = shell.run(
        "ask", "why?", "-a", str(files / "app.log"), "-a", str(files / "screen.png"),
        "--base-url", fake.base_url,
    )  # fmt: skip
    assert asked.returncode == 0, asked.stderr
    markdown = shell.run("export", "--all")
    assert "- app.log · text · 36 bytes\n- screen.png · image · " in markdown.stdout
    backup = tmp_path / "backup.json"
    exported = shell.run(
        "export", "--all", "--format", "json", "--embed-attachments", "-o", str(backup)
    )
    assert (exported.returncode, exported.stderr) == (0, "")
    shutil.rmtree(shell.data_dir)  # another machine
    imported = shell.run("import", str(backup))
    assert (imported.returncode, imported.stderr) == (0, "")
    copies = {p.suffix: p.read_bytes() for p in (shell.data_dir / "attachments").iterdir()}
    assert copies == {".txt": (files / "app.log").read_bytes(), ".png": png(3, 2)}
    again = shell.run("ask", "--continue", "more?", "--base-url", fake.base_url)
    assert again.returncode == 0, again.stderr
    assert fake.chat_requests[-1].messages[0] == fake.chat_requests[0].messages[0]


def test_an_embedded_attachment_that_does_not_check_out_is_one_line(
    shell: Shell, fake: FakeOpenAI, files: Path, tmp_path: Path
) -> None:
    assert (
        shell.run("ask", "-a", str(files / "app.log"), "--base-url", fake.base_url).returncode == 0
    )
    exported = shell.run("export", "--all", "--format", "json", "--embed-attachments")
    [data] = json.loads(exported.stdout)
    [digest] = data["attachment_data"]
    data["attachment_data"][digest] = base64.b64encode(b"not the log").decode()
    shutil.rmtree(shell.data_dir)
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps([data]))
    imported = shell.run("import", str(tampered))
    assert imported.returncode == 1
    assert "attachment app.log not imported: its bytes do not match its digest" in (
        one_line_error(imported.stderr)
    )
    assert len(shell.saved()) == 1 and not (shell.data_dir / "attachments").exists()
    markdown_embed = shell.run("export", "--all", "--embed-attachments")
    assert markdown_embed.returncode == 2


def test_a_copy_gone_from_the_store_fails_the_reply_before_sending(
    shell: Shell, fake: FakeOpenAI, files: Path
) -> None:
    assert (
        shell.run("ask", "-a", str(files / "app.log"), "--base-url", fake.base_url).returncode == 0
    )
    for copy in (shell.data_dir / "attachments").iterdir():
        copy.write_text("ERROR: edited by hand\n")
    again = shell.run("ask", "--continue", "and?", "--base-url", fake.base_url)
    assert again.returncode == 1
    assert "app.log" in again.stderr and "has changed since it was attached" in again.stderr
    assert len(fake.chat_requests) == 1
    [saved] = shell.saved()
    assert saved["messages"][-1]["status"] == "failed"
