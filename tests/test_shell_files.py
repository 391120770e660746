"""`chat-tui list`, `export`, `import`, `trash` and `restore`, run as real processes."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from chat_tui.models import Conversation, Message, Usage
from chat_tui.store import ConversationStore
from tests.support.sample_data import bomb
from tests.support.shell import Shell, make_shell, one_line_error

FIXTURE = Path(__file__).parent / "fixtures" / "chatgpt_conversations.json"


@pytest.fixture
def shell(isolated_dirs: Path, data_dir: Path) -> Shell:
    return make_shell(data_dir)


def conversation(cid: str, title: str, when: str, *texts: str) -> Conversation:
    made = Conversation(id=cid, title=title, created_at=when, model="gpt-4o-mini")
    for i, text in enumerate(texts):
        role = "user" if i % 2 == 0 else "assistant"
        made.messages.append(Message(role=role, content=text, id=f"{cid}-{i}", created_at=when))
    made.updated_at = when
    return made


@pytest.fixture
def seeded(store: ConversationStore) -> list[Conversation]:
    """Three conversations, with a stopped reply, alternatives, usage and an escape."""
    rich = conversation(
        "20261125-090000-aaaaaa",
        "Retry a flaky call",
        "2026-11-25T09:00:00.000+00:00",
        "How do I retry?",
        "Use a loop.",
    )
    rich.system_prompt = "Be brief."
    rich.messages[1].usage = Usage(prompt_tokens=12, completion_tokens=4, duration_seconds=1.5)
    second = Message(
        role="assistant", content="Use tenacity.", status="stopped", created_at=rich.created_at
    )
    rich.branch(1, [second])
    rich.messages[1].reasoning = "Think."
    rich.updated_at = "2026-11-25T09:05:00.000+00:00"
    old = conversation(
        "20261120-080000-bbbbbb",
        "Old \x1b[31mred\x1b[0m",
        "2026-11-20T08:00:00.000+00:00",
        "Hi",
        "Hello",
    )
    kyoto = conversation(
        "20261124-070000-cccccc", "Kyoto trip 京都", "2026-11-24T07:00:00.000+00:00", "Plan it"
    )
    made = [old, rich, kyoto]
    for item in made:
        store.save(item)
    return made


def test_list_shows_the_most_recent_first_with_times_counts_and_safe_titles(
    shell: Shell, seeded: list[Conversation]
) -> None:
    result = shell.run("list")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        "20261125-090000-aaaaaa  2026-11-25 09:05     2  Retry a flaky call",
        "20261124-070000-cccccc  2026-11-24 07:00     1  Kyoto trip 京都",
        "20261120-080000-bbbbbb  2026-11-20 08:00     2  Old ␛[31mred␛[0m",
    ]


def test_list_json_is_machine_readable(shell: Shell, seeded: list[Conversation]) -> None:
    result = shell.run("list", "--json")
    rows = json.loads(result.stdout)
    assert [row["id"] for row in rows] == [
        "20261125-090000-aaaaaa",
        "20261124-070000-cccccc",
        "20261120-080000-bbbbbb",
    ]
    assert rows[0] == {
        "id": "20261125-090000-aaaaaa",
        "title": "Retry a flaky call",
        "created_at": "2026-11-25T09:00:00.000+00:00",
        "updated_at": "2026-11-25T09:05:00.000+00:00",
        "model": "gpt-4o-mini",
        "message_count": 2,
    }
    assert rows[2]["title"] == "Old \x1b[31mred\x1b[0m"
    assert "\x1b" not in result.stdout


def test_list_with_nothing_saved_prints_nothing(shell: Shell) -> None:
    result = shell.run("list")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_export_markdown_to_stdout_and_json_to_a_file(
    shell: Shell, seeded: list[Conversation], tmp_path: Path
) -> None:
    markdown = shell.run("export", "20261125-090000-aaaaaa")
    assert markdown.returncode == 0
    assert markdown.stdout.startswith("# Retry a flaky call\n\n*gpt-4o-mini · started")
    assert "## Assistant · 2026-11-25 09:00 · version 2 of 2" in markdown.stdout
    assert "Use tenacity.\n\n*■ Stopped: the reply was cut short.*" in markdown.stdout

    target = tmp_path / "out" / "retry.json"
    target.parent.mkdir()
    as_json = shell.run("export", "20261125-090000-aaaaaa", "--format", "json", "-o", str(target))
    assert (as_json.returncode, as_json.stdout, as_json.stderr) == (0, "", "")
    exported = json.loads(target.read_text(encoding="utf-8"))
    on_disk = json.loads(
        (shell.data_dir / "conversations" / "20261125-090000-aaaaaa.json").read_text()
    )
    assert exported == on_disk


def test_export_all_markdown_holds_every_conversation_oldest_first(
    shell: Shell, seeded: list[Conversation]
) -> None:
    result = shell.run("export", "--all", "--format", "md")
    titles = [line for line in result.stdout.splitlines() if line.startswith("# ")]
    assert titles == ["# Old ␛\\[31mred␛\\[0m", "# Kyoto trip 京都", "# Retry a flaky call"]
    assert "\x1b" not in result.stdout


def test_export_of_an_unknown_id_or_to_an_unwritable_file_fails_in_one_line(
    shell: Shell, seeded: list[Conversation], tmp_path: Path
) -> None:
    unknown = shell.run("export", "20990101-000000-ffffff")
    assert (unknown.returncode, unknown.stdout) == (1, "")
    assert one_line_error(unknown.stderr) == (
        "chat-tui: no conversation 20990101-000000-ffffff (see chat-tui list)"
    )
    unwritable = shell.run("export", "--all", "-o", str(tmp_path / "missing" / "x.md"))
    assert unwritable.returncode == 1
    assert "cannot write" in one_line_error(unwritable.stderr)


def test_export_all_then_import_after_a_wipe_gives_identical_conversations(
    shell: Shell, seeded: list[Conversation], tmp_path: Path
) -> None:
    backup = tmp_path / "backup.json"
    assert shell.run("export", "--all", "--format", "json", "-o", str(backup)).returncode == 0
    before = {c["id"]: c for c in shell.saved()}
    shutil.rmtree(shell.data_dir)

    result = shell.run("import", str(backup))
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines()[-1] == "3 added, 0 updated, 0 unchanged"
    after = {c["id"]: c for c in shell.saved()}
    assert after.keys() == before.keys()
    for cid, data in before.items():
        assert {**after[cid], "revision": 0} == {**data, "revision": 0}
    assert shell.run("list").stdout.count("\n") == 3

    again = shell.run("import", str(backup))
    assert again.stdout.splitlines()[-1] == "0 added, 0 updated, 3 unchanged"
    assert {c["id"]: c for c in shell.saved()} == after


def test_import_a_chatgpt_export_twice_without_duplicates(shell: Shell) -> None:
    first = shell.run("import", str(FIXTURE))
    assert (first.returncode, first.stderr) == (0, "")
    lines = first.stdout.splitlines()
    assert lines[-1] == "2 added, 0 updated, 0 unchanged, 1 empty skipped"
    assert lines[0].startswith("added      20240601-100000-")
    assert lines[0].endswith("Sourdough 🍞 and other breads")

    second = shell.run("import", str(FIXTURE))
    assert second.stdout.splitlines()[-1] == "0 added, 0 updated, 2 unchanged, 1 empty skipped"
    saved = shell.saved()
    assert len(saved) == 2
    bread = next(c for c in saved if c["title"].startswith("Sourdough"))
    assert [m["content"] for m in bread["messages"]][2] == "And spelt bread? Größe 日本語"
    assert bread["messages"][2]["variant"] == 1
    assert bread["messages"][2]["alternatives"][0][0]["content"] == "And rye bread?"

    listed = shell.run("list").stdout
    assert "Sourdough 🍞 and other breads" in listed and "What is in this picture?" in listed
    exported = shell.run("export", bread["id"]).stdout
    assert "## Assistant · gpt-4o-mini · 2024-06-01 10:00\n\nSpelt likes" in exported


def test_import_from_stdin_and_bad_files(shell: Shell, tmp_path: Path) -> None:
    piped = shell.run("import", "-", input=FIXTURE.read_text(encoding="utf-8"))
    assert piped.returncode == 0 and "2 added" in piped.stdout
    missing = shell.run("import", str(tmp_path / "nope.json"))
    assert missing.returncode == 1
    assert "cannot read" in one_line_error(missing.stderr)
    (tmp_path / "notes.json").write_text('{"notes": []}')
    wrong = shell.run("import", str(tmp_path / "notes.json"))
    assert wrong.returncode == 1
    assert "neither ChatGPT's conversations.json nor" in one_line_error(wrong.stderr)


def test_trash_lists_deleted_conversations_and_restore_brings_one_back(
    shell: Shell, seeded: list[Conversation], store: ConversationStore
) -> None:
    store.delete("20261124-070000-cccccc")
    assert "Kyoto" not in shell.run("list").stdout
    trash = shell.run("trash")
    assert trash.stdout.splitlines() == [
        "20261124-070000-cccccc  2026-11-24 07:00     1  Kyoto trip 京都"
    ]
    assert json.loads(shell.run("trash", "--json").stdout)[0]["id"] == "20261124-070000-cccccc"

    restored = shell.run("restore", "20261124-070000-cccccc")
    assert (restored.returncode, restored.stdout) == (
        0,
        "restored 20261124-070000-cccccc  Kyoto trip 京都\n",
    )
    assert "Kyoto trip 京都" in shell.run("list").stdout
    assert shell.run("trash").stdout == ""

    again = shell.run("restore", "20261124-070000-cccccc")
    assert again.returncode == 1
    assert one_line_error(again.stderr).startswith("chat-tui: a conversation 20261124")


def test_a_reader_that_goes_away_ends_the_command_quietly(
    shell: Shell, store: ConversationStore
) -> None:
    store.save(conversation("20261125-100000-dddddd", "Big", "2026-11-25T10:00:00.000+00:00",
                            "Tell me everything", "x" * 400_000))  # fmt: skip
    process = subprocess.Popen(
        [*shell.command, "export", "--all"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=shell.env,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.read(100)
    process.stdout.close()
    errors = process.stderr.read()
    assert process.wait(timeout=30) == 1
    assert errors == b""


DEEP = "20260101-000000-deep01.json"


def test_a_deep_file_beside_others_is_named_and_the_others_listed_and_exported(
    shell: Shell, seeded: list[Conversation], data_dir: Path
) -> None:
    deep = data_dir / "conversations" / DEEP
    deep.write_bytes(b"[" * 100_000)
    listed = shell.run("list")
    assert listed.returncode == 0
    assert [line.split()[0] for line in listed.stdout.splitlines()] == [
        "20261125-090000-aaaaaa",
        "20261124-070000-cccccc",
        "20261120-080000-bbbbbb",
    ]
    assert one_line_error(listed.stderr) == (
        f"chat-tui: warning: {DEEP} is nested more than 256 levels deep (left as it is)"
    )
    exported = shell.run("export", "--all", "--format", "json")
    assert exported.returncode == 1
    assert [c["id"] for c in json.loads(exported.stdout)] == [
        "20261120-080000-bbbbbb",
        "20261124-070000-cccccc",
        "20261125-090000-aaaaaa",
    ]
    assert one_line_error(exported.stderr) == (
        f"chat-tui: not exported: {DEEP} is nested more than 256 levels deep"
    )
    assert deep.read_bytes() == b"[" * 100_000


def test_importing_a_deep_file_or_a_zip_bomb_fails_in_one_line(
    shell: Shell, tmp_path: Path, data_dir: Path
) -> None:
    deep = tmp_path / "deep.json"
    deep.write_bytes(b"[" * 100_000)
    archive = bomb(tmp_path / "export.zip")
    for path, reason in (
        (deep, "is nested more than 256 levels deep"),
        (archive, "holds a conversations.json that expands more than 100 times"),
    ):
        result = shell.run("import", str(path))
        assert (result.returncode, result.stdout) == (1, "")
        assert one_line_error(result.stderr).startswith(f"chat-tui: {path} {reason}")
    assert not (data_dir / "conversations").exists()
