"""Attachments: recognising and reading files, the copies in the data directory, the parts a
request carries, and their place in the conversation file."""

from __future__ import annotations

import base64
import hashlib
import os
import struct
from pathlib import Path

import pytest

from chat_tui import limits
from chat_tui.attachments import (
    COLLECT_AFTER_SECONDS,
    AttachmentError,
    AttachmentStore,
    PendingAttachment,
    check_message,
    decode_text,
    image_dimensions,
    read_attachment,
    request_parts,
)
from chat_tui.models import SCHEMA_VERSION, Attachment, Conversation, Message, SchemaError
from chat_tui.store import ConversationStore, StoreError
from tests.support.images import jpeg_header, png, webp_extended, webp_lossless, webp_lossy


def test_kind_comes_from_the_content_not_the_name(tmp_path: Path) -> None:
    image = tmp_path / "notes.txt"
    image.write_bytes(png(3, 2))
    log = tmp_path / "screenshot.png"
    log.write_text("ERROR connection refused\n", encoding="utf-8")
    read_image, read_log = read_attachment(image), read_attachment(log)
    assert (read_image.attachment.kind, read_image.attachment.media_type) == ("image", "image/png")
    assert (read_log.attachment.kind, read_log.attachment.media_type) == ("text", "text/plain")
    assert read_log.attachment.name == "screenshot.png"
    assert read_log.attachment.sha256 == hashlib.sha256(read_log.data).hexdigest()
    assert read_log.attachment.size == len(read_log.data)


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ("naïve café\n".encode(), "naïve café\n"),
        (b"\xef\xbb\xbfwith a BOM", "with a BOM"),
        ("UTF-16 ünïcode".encode("utf-16"), "UTF-16 ünïcode"),
        ("Windows “quotes” café".encode("cp1252"), "Windows “quotes” café"),
        (b"\x1b[31mred log line\x1b[0m\r\n\tindented", "\x1b[31mred log line\x1b[0m\r\n\tindented"),
    ],
)
def test_text_in_common_encodings_is_text(data: bytes, text: str) -> None:
    assert decode_text(data) == text


@pytest.mark.parametrize(
    "data",
    [
        b"ELF\x00\x01\x02binary",
        bytes(range(256)),
        b"\xc3\x28 almost latin-1 but \x01 a control byte",
        "UTF-16 without a BOM".encode("utf-16-le"),
        b"\x81\x8d undefined in Windows-1252",
    ],
)
def test_binary_is_not_text(data: bytes) -> None:
    assert decode_text(data) is None


def test_refusals_say_why(tmp_path: Path) -> None:
    binary = tmp_path / "program"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(100))
    with pytest.raises(AttachmentError, match=r"neither text .* nor a PNG"):
        read_attachment(binary)
    with pytest.raises(AttachmentError, match=r"no such file: .*missing.log") as missing:
        read_attachment(tmp_path / "missing.log")
    assert not missing.value.io_error
    with pytest.raises(AttachmentError, match="is a directory"):
        read_attachment(tmp_path)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(AttachmentError, match="not a regular file"):
        read_attachment(fifo)  # refused without blocking on the pipe


def test_a_file_over_its_limit_is_refused_with_the_figures(tmp_path: Path) -> None:
    big_log = tmp_path / "big.log"
    big_log.write_bytes(b"line\n" * (limits.TEXT_ATTACHMENT_BYTES // 5 + 1))
    with pytest.raises(AttachmentError, match=r"big.log is 1.1 MB, more than the 1 MB"):
        read_attachment(big_log)
    huge = tmp_path / "huge.png"
    with open(huge, "wb") as handle:
        handle.write(png(1, 1))
        handle.truncate(limits.IMAGE_ATTACHMENT_BYTES + limits.MB)
    with pytest.raises(AttachmentError, match=r"huge.png is 21 MB, more than the 20 MB an image"):
        read_attachment(huge)
    huge_log, huge_binary = tmp_path / "huge.log", tmp_path / "huge.bin"
    huge_log.write_bytes("café ☕ log line\n".encode() * 1_500_000)
    huge_binary.write_bytes(b"\x00\x01binary" * 3_000_000)
    with pytest.raises(AttachmentError, match=r"huge.log is 27.2 MB, more than the 1 MB a text"):
        read_attachment(huge_log)  # bigger than even an image may be: still named as text
    with pytest.raises(AttachmentError, match=r"huge.bin is neither text"):
        read_attachment(huge_binary)


def test_too_many_or_too_much_for_one_message() -> None:
    one = Attachment("a.txt", "text", "text/plain", 10, "0" * 64)
    check_message([one] * limits.MESSAGE_ATTACHMENTS)
    with pytest.raises(AttachmentError, match="11 attachments, more than the 10"):
        check_message([one] * (limits.MESSAGE_ATTACHMENTS + 1))
    big = Attachment("a.png", "image", "image/png", limits.IMAGE_ATTACHMENT_BYTES, "0" * 64)
    with pytest.raises(AttachmentError, match="60 MB, more than the 50 MB"):
        check_message([big] * 3)


def test_image_dimensions_of_each_format() -> None:
    assert image_dimensions(png(640, 480)) == (640, 480)
    assert image_dimensions(jpeg_header(1920, 1080)) == (1920, 1080)
    assert image_dimensions(b"GIF89a" + struct.pack("<HH", 32, 16) + b"\x00" * 10) == (32, 16)
    assert image_dimensions(webp_lossy(300, 200)) == (300, 200)
    assert image_dimensions(webp_lossless(16383, 1)) == (16383, 1)
    assert image_dimensions(webp_extended(5000, 7000)) == (5000, 7000)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x89PNG\r\n\x1a\n",
        png(10, 10)[:20],
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x00\x00\x00\x00\x00",
        b"GIF89a\x01",
        b"\xff\xd8",
        b"\xff\xd8\xff\xe0\x00\x00",  # a zero length would loop forever
        b"\xff\xd8\xff\xe0\x00\x01",
        b"\xff\xd8\xff\xe0\xff\xff" + b"\x00" * 10,  # a length past the end
        b"\xff\xd8" + b"\xff" * 100_000,  # fill bytes to the end
        b"\xff\xd8\xff\xc0\x00\x11\x08\x00",  # a frame header cut short
        b"\xff\xd8\x00\x00garbage",
        b"RIFF\x00\x00\x00\x00WEBPVP8 ",
        b"RIFF\x00\x00\x00\x00WEBPVP8L\x00\x00\x00\x00\x00\x00\x00\x00\x00",
        b"RIFF\x00\x00\x00\x00WEBPVP9 " + b"\x00" * 30,
        b"not an image at all",
    ],
)
def test_image_dimensions_of_hostile_or_cut_headers_are_unknown(data: bytes) -> None:
    assert image_dimensions(data) is None


def test_jpeg_walk_skips_segments_to_the_frame() -> None:
    comment = b"\xff\xfe\x00\x06abcd"
    data = b"\xff\xd8" + comment + b"\xff\xd0" + jpeg_header(7, 9)[2:]
    assert image_dimensions(data) == (7, 9)


# -- the store ---------------------------------------------------------------------------


def test_the_copy_outlives_the_original_and_is_shared(tmp_path: Path) -> None:
    original = tmp_path / "shot.png"
    original.write_bytes(png(4, 4))
    store = AttachmentStore(tmp_path / "data" / "attachments")
    pending = read_attachment(original)
    attachment = store.put(pending)
    again = store.put(read_attachment(original))
    original.unlink()
    copies = list(store.root.iterdir())
    assert copies == [store.root / f"{attachment.sha256}.png"] and again == attachment
    assert (copies[0].stat().st_mode & 0o777) == 0o600
    assert store.bytes_of(attachment) == pending.data


def test_a_changed_or_missing_copy_is_an_error_not_other_bytes(tmp_path: Path) -> None:
    store = AttachmentStore(tmp_path / "attachments")
    data = b"the log\n"
    attachment = Attachment(
        "a.log", "text", "text/plain", len(data), hashlib.sha256(data).hexdigest()
    )
    store.put(PendingAttachment(attachment, data))
    assert store.text_of(attachment) == "the log\n"
    store.path_of(attachment).write_bytes(b"the LOG\n")
    with pytest.raises(AttachmentError, match=r"a.log .* has changed"):
        store.bytes_of(attachment)
    store.put(PendingAttachment(attachment, data))  # attaching it again repairs the copy
    assert store.bytes_of(attachment) == data
    store.path_of(attachment).unlink()
    with pytest.raises(AttachmentError, match=r"copy of a.log .* is missing"):
        request_parts(store, [attachment])


def test_collect_removes_only_old_unreferenced_copies(tmp_path: Path) -> None:
    store = AttachmentStore(tmp_path / "attachments")
    kept, dropped, fresh = (
        store.put(PendingAttachment(_text_attachment(text), text.encode()))
        for text in ("kept", "dropped", "fresh")
    )
    old = store.path_of(kept).stat().st_mtime - COLLECT_AFTER_SECONDS - 1
    for attachment in (kept, dropped):
        os.utime(store.path_of(attachment), (old, old))
    removed = store.collect({kept.sha256})
    assert removed == [store.path_of(dropped)]
    assert store.path_of(kept).exists() and store.path_of(fresh).exists()


def _text_attachment(text: str) -> Attachment:
    data = text.encode()
    return Attachment(
        f"{text}.txt", "text", "text/plain", len(data), hashlib.sha256(data).hexdigest()
    )


# -- in the conversation -----------------------------------------------------------------


def test_attachments_round_trip_in_the_file() -> None:
    conversation = Conversation()
    log = _text_attachment("log")
    conversation.add_user_message("", [log])
    data = conversation.to_dict()
    assert data["schema_version"] == SCHEMA_VERSION >= 4  # attachments came with version 4
    assert data["messages"][0]["attachments"] == [
        {
            "name": "log.txt",
            "kind": "text",
            "media_type": "text/plain",
            "size": 3,
            "sha256": log.sha256,
        }
    ]
    assert conversation.title == "log.txt"
    assert Conversation.from_dict(data).messages[0].attachments == [log]
    assert "attachments" not in Message(role="user", content="hi").to_dict()


@pytest.mark.parametrize(
    "change",
    [
        {"name": "../../etc/passwd"},
        {"name": ""},
        {"name": "a\nb"},
        {"kind": "image"},
        {"media_type": "application/pdf"},
        {"size": -1},
        {"size": True},
        {"sha256": "ABC"},
        {"sha256": "g" * 64},
    ],
)
def test_a_bad_attachment_entry_makes_the_file_unreadable_not_rewritten(change: dict) -> None:
    entry = _text_attachment("x").to_dict() | change
    data = {
        "id": "c",
        "schema_version": 4,
        "messages": [{"role": "user", "content": "", "attachments": [entry]}],
    }
    with pytest.raises(SchemaError):
        Conversation.from_dict(data)


def test_too_many_attachments_in_a_file_are_refused() -> None:
    entry = _text_attachment("x").to_dict()
    message = {"role": "user", "content": "", "attachments": [entry] * 11}
    with pytest.raises(SchemaError, match="10 at most"):
        Conversation.from_dict({"id": "c", "messages": [message]})


def test_a_prompt_with_attachments_is_sent_as_parts(tmp_path: Path) -> None:
    store = AttachmentStore(tmp_path / "attachments")
    image_bytes = png(2, 2)
    text = "a ``` fence and ```` four\n"
    image = store.put(PendingAttachment(_image_attachment(image_bytes), image_bytes))
    log = store.put(PendingAttachment(_text_attachment(text), text.encode()))
    conversation = Conversation()
    conversation.add_user_message("plain")
    conversation.add_user_message("What is wrong?", [log, image])
    conversation.add_user_message("", [image])
    parts = request_parts(store, conversation.attachments_sent())
    sent = conversation.api_messages(parts=parts)
    assert sent[0] == {"role": "user", "content": "plain"}
    assert sent[1]["content"][0] == {"type": "text", "text": "What is wrong?"}
    assert sent[1]["content"][1] == {
        "type": "text",
        "text": f"{log.name}\n`````\n{text}`````",
    }
    url = sent[1]["content"][2]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == image_bytes
    assert sent[2]["content"] == [sent[1]["content"][2]]  # no empty text part


def _image_attachment(data: bytes) -> Attachment:
    return Attachment("shot.png", "image", "image/png", len(data), hashlib.sha256(data).hexdigest())


# -- collection: a copy goes when nothing refers to it -----------------------------------


def _age(store: AttachmentStore, attachment: Attachment) -> None:
    """Make a copy older than the grace period that protects copies not yet sent."""
    old = store.path_of(attachment).stat().st_mtime - COLLECT_AFTER_SECONDS - 1
    os.utime(store.path_of(attachment), (old, old))


def _saved_with(store: ConversationStore, *attachments: Attachment) -> Conversation:
    conversation = Conversation()
    conversation.add_user_message("see attached", attachments)
    return store.save(conversation)


def test_a_copy_is_kept_while_any_conversation_or_the_trash_refers_to_it(
    store: ConversationStore,
) -> None:
    shared = store.attachments.put(PendingAttachment(_text_attachment("shared"), b"shared"))
    _age(store.attachments, shared)
    first, second = _saved_with(store, shared), _saved_with(store, shared)
    store.delete(first.id)
    assert store.purge([first.id]).deleted == [first.id]
    assert store.attachments.path_of(shared).exists()  # the second one refers to it
    store.delete(second.id)
    assert store.purge([]).collected == []
    assert store.attachments.path_of(shared).exists()  # the trash refers to it
    purged = store.purge()
    assert purged.deleted == [second.id]
    assert purged.collected == [store.attachments.path_of(shared)]
    assert not store.attachments.path_of(shared).exists()


def test_nothing_is_collected_when_a_conversation_cannot_be_read(
    store: ConversationStore,
) -> None:
    orphan = store.attachments.put(PendingAttachment(_text_attachment("orphan"), b"orphan"))
    _age(store.attachments, orphan)
    _saved_with(store)
    (store.conversations_dir / "20260101-000000-badbad.json").write_text("{not json")
    assert store.purge().collected is None
    assert store.attachments.path_of(orphan).exists()
    with pytest.raises(StoreError, match="no conversation nope in the trash"):
        store.purge(["nope"])


def test_search_finds_the_content_of_text_attachments_and_every_name(
    store: ConversationStore, tmp_path: Path
) -> None:
    log_file = tmp_path / "server.log"
    log_file.write_text("12:00 ECONNREFUSED upstream\n", encoding="utf-8")
    shot = tmp_path / "error-dialog.png"
    shot.write_bytes(png(1, 1))
    log, image = (store.attachments.put(read_attachment(path)) for path in (log_file, shot))
    conversation = _saved_with(store, log, image)
    assert [hit.summary.id for hit in store.search("econnrefused")] == [conversation.id]
    assert [hit.summary.id for hit in store.search("error-dialog")] == [conversation.id]
    store.close()
    reopened = ConversationStore(store.root)  # the index read back, or rebuilt from the files
    reopened.refresh()
    assert [hit.summary.id for hit in reopened.search("ECONNREFUSED")] == [conversation.id]
    reopened.close()
