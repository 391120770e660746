"""Reading ChatGPT's export and chat-tui JSON, and saving imports without duplicates."""

from __future__ import annotations

import contextlib
import copy
import json
import struct
import tracemalloc
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chat_tui import limits
from chat_tui.chatgpt import from_chatgpt
from chat_tui.importing import ImportFailed, parse, read_file, save
from chat_tui.models import Conversation, Message
from chat_tui.store import ConversationStore
from tests.support.sample_data import SPACES, bomb

FIXTURE = Path(__file__).parent / "fixtures" / "chatgpt_conversations.json"


def chatgpt_export() -> list[dict[str, Any]]:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def contents(messages: list[Message]) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in messages]


def test_the_current_branch_is_the_conversation_and_hidden_nodes_are_left_out() -> None:
    conversation = from_chatgpt(chatgpt_export()[0])
    assert conversation is not None
    assert conversation.title == "Sourdough 🍞 and other breads"
    assert contents(conversation.messages) == [
        ("user", "How do I bake sourdough? 🍞"),
        ("assistant", "Mix **flour**, water and starter.\n\n```text\n500 g flour\n```"),
        ("user", "And spelt bread? Größe 日本語"),
        ("assistant", "Spelt likes about 65 % water — schön locker."),
    ]
    assert [m.model for m in conversation.messages] == [None, "gpt-4o", None, "gpt-4o-mini"]
    assert conversation.model == "gpt-4o-mini"
    assert conversation.created_at == "2024-06-01T10:00:00.123+00:00"
    assert conversation.updated_at == "2024-06-01T10:08:20.500+00:00"
    assert conversation.messages[0].created_at == "2024-06-01T10:00:01.000+00:00"


def test_an_edited_prompt_keeps_the_earlier_branch_as_an_alternative() -> None:
    conversation = from_chatgpt(chatgpt_export()[0])
    assert conversation is not None
    edited = conversation.messages[2]
    assert (edited.variant, edited.variant_count) == (1, 2)
    older = conversation.branches_at(2)[0]
    assert contents(older) == [
        ("user", "And rye bread?"),
        ("assistant", "Rye needs a wetter dough."),
    ]
    conversation.select_variant(2, 0)
    assert contents(conversation.messages)[-1] == ("assistant", "Rye needs a wetter dough.")


def test_a_regenerated_reply_is_kept_and_the_one_last_seen_is_shown() -> None:
    conversation = from_chatgpt(chatgpt_export()[1])
    assert conversation is not None
    assert conversation.title == "What is in this picture?"
    assert conversation.messages[0].content == "What is in this picture?\n\n[image]"
    shown = conversation.messages[1]
    assert (shown.content, shown.variant) == ("A cat on a sofa.", 0)
    [[newer]] = shown.alternatives
    assert newer.content.startswith("A ginger cat") and newer.status == "stopped"


def test_a_conversation_with_nothing_shown_is_skipped() -> None:
    parsed = parse(chatgpt_export(), "conversations.json")
    assert parsed.empty == 1
    assert [c.title for c in parsed.conversations] == [
        "Sourdough 🍞 and other breads",
        "What is in this picture?",
    ]


def test_ids_are_stable_and_distinct() -> None:
    first = [c.id for c in parse(chatgpt_export(), "a").conversations]
    again = [c.id for c in parse(chatgpt_export(), "b").conversations]
    assert first == again
    assert len(set(first)) == 2
    assert first[0].startswith("20240601-100000-")


def test_a_cycle_in_a_damaged_export_still_ends() -> None:
    item = chatgpt_export()[0]
    item["mapping"]["a2-spelt"]["children"] = ["u1-0f3b"]
    conversation = from_chatgpt(item)
    assert conversation is not None
    assert len(conversation.messages) == 4


def test_importing_twice_changes_nothing_and_a_grown_conversation_gains_messages(
    store: ConversationStore,
) -> None:
    export = chatgpt_export()
    first = [save(store, c).outcome for c in parse(export, "x").conversations]
    files = {p.name: p.read_bytes() for p in store.conversations_dir.glob("*.json")}
    second = [save(store, c).outcome for c in parse(export, "x").conversations]
    assert (first, second) == (["added", "added"], ["unchanged", "unchanged"])
    assert {p.name: p.read_bytes() for p in store.conversations_dir.glob("*.json")} == files

    grown = copy.deepcopy(export)
    mapping = grown[0]["mapping"]
    mapping["a2-spelt"]["children"] = ["u3-new"]
    new_node = copy.deepcopy(mapping["u2-spelt"])
    new_node.update(id="u3-new", parent="a2-spelt", children=[])
    new_node["message"].update(id="u3-new", create_time=1717236600.0)
    new_node["message"]["content"]["parts"] = ["Thanks!"]
    mapping["u3-new"] = new_node
    grown[0]["current_node"] = "u3-new"
    outcomes = [save(store, c).outcome for c in parse(grown, "x").conversations]
    assert outcomes == ["updated", "unchanged"]
    updated = store.load(parse(grown, "x").conversations[0].id)
    assert updated.messages[-1].content == "Thanks!"
    assert updated.messages[2].variant_count == 2


def test_messages_added_here_survive_a_reimport(store: ConversationStore) -> None:
    [imported, _] = parse(chatgpt_export(), "x").conversations
    save(store, imported)
    here = store.load(imported.id)
    here.add_user_message("Asked in chat-tui")
    store.save(here)
    assert save(store, parse(chatgpt_export(), "x").conversations[0]).outcome == "unchanged"
    assert store.load(imported.id).messages[-1].content == "Asked in chat-tui"


def test_chat_tui_json_single_or_list() -> None:
    conversation = Conversation(id="20261125-115700-abc123", model="m")
    conversation.add_user_message("Hello")
    single = parse(conversation.to_dict(), "one.json")
    several = parse([conversation.to_dict(), conversation.to_dict()], "all.json")
    assert [c.to_dict() for c in single.conversations] == [conversation.to_dict()]
    assert len(several.conversations) == 2


def test_unsafe_ids_are_refused(store: ConversationStore) -> None:
    conversation = Conversation(id="evil\x1b[2J", model="m")
    conversation.add_user_message("Hello")
    result = save(store, conversation)
    assert result.outcome == "failed" and "safe file name" in result.problem
    assert not store.conversations_dir.exists() or not list(store.conversations_dir.iterdir())


def test_the_zip_from_chatgpt_is_read_directly(tmp_path: Path) -> None:
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("chat.html", "<html></html>")
        zipped.writestr("conversations.json", FIXTURE.read_text(encoding="utf-8"))
    assert read_file(str(archive)) == chatgpt_export()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "is not JSON"),
        (b'{"hello": "world"}', "neither ChatGPT's conversations.json nor"),
        (b"[1, 2]", "neither ChatGPT's conversations.json nor"),
        pytest.param(b"[" * 100_000, "is nested more than 256 levels deep", id="deep"),
    ],
)
def test_files_that_are_not_exports_are_refused_in_one_line(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "file.json"
    path.write_bytes(content)
    with pytest.raises(ImportFailed, match=message):
        parse(read_file(str(path)), str(path))


def test_a_damaged_entry_is_reported_and_the_rest_imported() -> None:
    good = Conversation(id="good", model="m")
    good.add_user_message("Fine")
    bad = {"id": "bad", "messages": [{"role": "wizard", "content": "?"}]}
    parsed = parse([good.to_dict(), bad], "mixed.json")
    assert [c.id for c in parsed.conversations] == ["good"]
    assert parsed.problems == [
        "conversation 2 of mixed.json skipped: a message has an unknown role 'wizard'"
    ]


def test_an_imported_message_over_the_length_limit_skips_its_conversation() -> None:
    fine = Conversation(id="fine", model="m")
    fine.add_user_message("short")
    long = Conversation(id="long", model="m")
    long.add_user_message("short")
    long.branch(0, [Message(role="user", content="x" * (limits.MESSAGE_CHARS + 1))])
    parsed = parse([fine.to_dict(), long.to_dict()], "big.json")
    assert [c.id for c in parsed.conversations] == ["fine"]
    assert parsed.problems == [
        "conversation 2 of big.json skipped: a message is longer than 10,000,000 characters"
    ]


@contextlib.contextmanager
def peak_memory() -> Iterator[list[int]]:
    """The most memory Python allocated inside the block (in the list, once it ends)."""
    peak: list[int] = []
    tracemalloc.start()
    try:
        yield peak
        peak.append(tracemalloc.get_traced_memory()[1])
    finally:
        tracemalloc.stop()


def test_an_import_file_over_the_size_limit_is_refused_without_reading_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "conversations.json"
    with open(path, "wb") as handle:
        handle.truncate(limits.IMPORT_FILE_BYTES + limits.MB)  # sparse: takes no disk
    with peak_memory() as peak, pytest.raises(ImportFailed) as refused:
        read_file(str(path))
    assert str(refused.value) == f"{path} is 513 MB, more than the 512 MB chat-tui reads"
    assert peak[0] < limits.MB


def declare(path: Path, *, compressed: int | None = None, expanded: int | None = None) -> None:
    """Make the archive lie about the sizes of its conversations.json, in both headers."""
    raw = bytearray(path.read_bytes())
    name = b"conversations.json"
    for signature, sizes_at in ((b"PK\x03\x04", 18), (b"PK\x01\x02", 20)):
        start = 0
        while (start := raw.find(signature, start)) >= 0:
            name_at = start + (30 if signature == b"PK\x03\x04" else 46)
            if raw[name_at : name_at + len(name)] == name:
                if compressed is not None:
                    struct.pack_into("<I", raw, start + sizes_at, compressed)
                if expanded is not None:
                    struct.pack_into("<I", raw, start + sizes_at + 4, expanded)
            start += 4
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize(
    ("lie", "message"),
    [
        ({}, "expands more than 100 times its compressed size (a zip bomb?)"),
        ({"expanded": 600 * limits.MB}, "expands to more than the 512 MB chat-tui reads"),
        # Said to be compressed hardly at all: caught by what really expands.
        ({"compressed": SPACES - limits.MB}, "expands more than 100 times"),
        # Said to be small: zipfile stops there, and the checksum does not match.
        ({"expanded": 1000}, "is a damaged zip archive (Bad CRC-32"),
    ],
)
def test_a_zip_bomb_is_refused_early_in_one_line(
    tmp_path: Path, lie: dict[str, int], message: str
) -> None:
    archive = bomb(tmp_path / "export.zip")
    declare(archive, **lie)
    with peak_memory() as peak, pytest.raises(ImportFailed) as refused:
        read_file(str(archive))
    assert str(refused.value).startswith(f"{archive} ")
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)
    assert peak[0] < 16 * limits.MB  # stopped long before the 64 MB it expands to


def test_a_zip_compressed_in_a_way_zipfile_does_not_bound_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_BZIP2) as zipped:
        zipped.writestr("conversations.json", FIXTURE.read_text(encoding="utf-8"))
    with pytest.raises(ImportFailed, match="compressed in a way chat-tui does not read"):
        read_file(str(archive))


def test_a_zip_listing_too_many_files_is_refused_before_they_are_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("conversations.json", FIXTURE.read_text(encoding="utf-8"))
        for number in range(2000):
            zipped.writestr(f"file-{number:05}.png", b"")
    assert read_file(str(archive)) == chatgpt_export()
    monkeypatch.setattr(limits, "ARCHIVE_DIRECTORY_BYTES", 64 * 1024)
    with pytest.raises(ImportFailed) as refused:
        read_file(str(archive))
    assert str(refused.value) == (
        f"{archive} lists its files in more than 65,536 bytes (a zip bomb?)"
    )
