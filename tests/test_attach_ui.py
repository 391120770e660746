"""Attachments in the app: the dialog, pasting a path, the chips, and what reaches the server."""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path

import pytest
from textual import events
from textual.app import App, ComposeResult
from textual.widgets import Input, Static

from chat_tui.config import load_settings
from chat_tui.models import Attachment
from chat_tui.tui.messages import ConversationChosen
from chat_tui.tui.screens.attach import AttachDialog, AttachmentViewer
from chat_tui.tui.screens.chat import ChatScreen
from chat_tui.tui.screens.modals import ConfirmDialog
from chat_tui.tui.widgets.attachment_chips import AttachmentChip, AttachmentChips
from chat_tui.tui.widgets.conversation_list import ConversationList
from chat_tui.tui.widgets.message_view import MessageView
from chat_tui.tui.widgets.prompt_input import PromptInput
from chat_tui.typed_paths import complete, expand, pasted_path
from tests.support.loopback import FakeOpenAI
from tests.support.pilot import (
    SIZE,
    run_palette_command,
    saved_files,
    screen_of,
    send,
    settle,
    type_text,
    wait_for,
    wait_for_screen,
)

LOG = "12:00:01 ERROR disk full\n12:00:02 retrying\n"


def png(width: int, height: int) -> bytes:
    """A real PNG (one grey pixel row repeated), so its header and size are genuine."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with a log, a screenshot and a binary file; the app starts in it."""
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "server.log").write_text(LOG)
    (folder / "screenshot one.png").write_bytes(png(3, 2))
    (folder / "blob.bin").write_bytes(bytes(range(256)))
    monkeypatch.chdir(folder)
    return folder


def chips(app) -> list[AttachmentChip]:
    """The chips above the input (also while a dialog is open over the screen)."""
    (screen,) = [s for s in app.screen_stack if isinstance(s, ChatScreen)]
    return list(screen.query_one("#attached").query(AttachmentChip))


async def open_tree(pilot, entries: int):
    """Open the attach dialog and wait until its tree lists `entries` files."""
    await pilot.press("ctrl+t")
    await wait_for_screen(pilot, AttachDialog)
    tree = pilot.app.screen.query_one("#attach-tree")
    await wait_for(pilot, lambda: tree.last_line >= entries - 1, "the tree to list the folder")
    return tree


async def attach_by_typing(pilot, typed: str) -> None:
    await pilot.press("ctrl+t")
    await wait_for_screen(pilot, AttachDialog)
    await type_text(pilot, typed)
    await pilot.press("enter")


async def attach_and_wait(pilot, typed: str, *, chip: int, what: str) -> None:
    """Attach `typed` and wait until it shows as chip number `chip` above the input."""
    await attach_by_typing(pilot, typed)
    await wait_for(pilot, lambda: len(chips(pilot.app)) == chip, what)


async def test_a_typed_path_becomes_a_chip(fake: FakeOpenAI, make_app, files: Path) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await attach_by_typing(pilot, "./server.log")
        await wait_for_screen(pilot, ChatScreen)
        await wait_for(pilot, lambda: len(chips(app)) == 1, "the chip")
        text = str(chips(app)[0].render())
        assert "server.log" in text and "text" in text and f"{len(LOG)} B" in text


async def test_the_palette_opens_the_dialog_and_a_bad_file_is_explained_there(
    fake: FakeOpenAI, make_app, files: Path
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await run_palette_command(pilot, "message: attach file")
        await wait_for_screen(pilot, AttachDialog)
        await type_text(pilot, "blob.bin")
        await pilot.press("enter")
        error = app.screen.query_one("#attach-error", Static)
        await wait_for(pilot, lambda: error.display, "the error")
        assert "neither text" in str(error.render())
        assert isinstance(app.screen, AttachDialog)  # still open, to try another
        box = app.screen.query_one(Input)
        box.value = ""
        await type_text(pilot, "missing.txt")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "no such file" in str(error.render()), "the new error")


async def test_the_same_file_twice_is_refused_in_the_dialog(
    fake: FakeOpenAI, make_app, files: Path
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await attach_and_wait(pilot, "server.log", chip=1, what="the chip")
        await attach_by_typing(pilot, "./server.log")
        error = app.screen.query_one("#attach-error", Static)
        await wait_for(pilot, lambda: "attached already" in str(error.render()), "the refusal")
        assert isinstance(app.screen, AttachDialog) and len(chips(app)) == 1


async def test_tab_completes_a_path_and_lists_the_choices(
    fake: FakeOpenAI, make_app, files: Path
) -> None:
    (files / "server.log.1").write_text("older\n")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+t")
        await wait_for_screen(pilot, AttachDialog)
        box = app.screen.query_one(Input)
        await type_text(pilot, "ser")
        await pilot.press("tab")
        await wait_for(pilot, lambda: box.value == "server.log", "the common prefix")
        choices = app.screen.query_one("#attach-choices", Static)
        await pilot.press("tab")
        await wait_for(pilot, lambda: choices.display, "the list of choices")
        assert "server.log.1" in str(choices.render())
        await pilot.press("enter")
        await wait_for_screen(pilot, ChatScreen)
        await wait_for(pilot, lambda: len(chips(app)) == 1, "the chip")


async def test_picking_a_file_in_the_tree_fills_the_path(
    fake: FakeOpenAI, make_app, files: Path
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        tree = await open_tree(pilot, 3)
        await pilot.press("shift+tab")  # into the tree
        assert app.focused is tree
        await pilot.press("down", "down", "enter")  # blob.bin, then screenshot one.png
        box = app.screen.query_one(Input)
        await wait_for(pilot, lambda: box.value.endswith("screenshot one.png"), "the path")
        assert app.focused is box


async def test_a_chip_is_removed_with_delete(fake: FakeOpenAI, make_app, files: Path) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await attach_and_wait(pilot, "server.log", chip=1, what="the first chip")
        await attach_and_wait(pilot, "screenshot\\ one.png", chip=2, what="the second chip")
        await pilot.press("shift+tab")  # from the input to the last chip
        assert app.focused is chips(app)[1]
        await pilot.press("delete")
        await wait_for(pilot, lambda: len(chips(app)) == 1, "the chip removed")
        assert chips(app)[0].attachment.name == "server.log"
        assert app.focused is chips(app)[0]
        chip = chips(app)[0]
        await pilot.click(chip, offset=(chip.outer_size.width - 2, 0))  # its × (then padding)
        await wait_for(pilot, lambda: not chips(app), "the last chip removed")
        assert not app.screen.query_one("#attached").display


async def test_a_pasted_path_is_offered_as_an_attachment(
    fake: FakeOpenAI, make_app, files: Path
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.post_message(events.Paste(f"'{files / 'screenshot one.png'}'"))
        await wait_for_screen(pilot, ConfirmDialog)
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(chips(app)) == 1, "the chip")
        assert chips(app)[0].attachment.kind == "image"
        assert app.query_one(PromptInput).text == ""


async def test_a_declined_offer_pastes_the_text(fake: FakeOpenAI, make_app, files: Path) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        pasted = (files / "server.log").as_uri()
        app.post_message(events.Paste(pasted))
        await wait_for_screen(pilot, ConfirmDialog)
        await pilot.press("escape")
        prompt = app.query_one(PromptInput)
        await wait_for(pilot, lambda: prompt.text == pasted, "the path pasted as text")
        assert not chips(app)
        # A path of no file, and text that is not a path, are pasted at once.
        app.post_message(events.Paste(" /no/such/file.png"))
        await wait_for(pilot, lambda: prompt.text.endswith("/no/such/file.png"), "the paste")
        app.post_message(events.Paste(" and more"))
        await wait_for(pilot, lambda: prompt.text.endswith("and more"), "the text")
        assert isinstance(app.screen, ChatScreen)


async def test_only_attachments_are_sent_as_parts_with_the_exact_bytes(
    fake: FakeOpenAI, make_app, files: Path, data_dir: Path
) -> None:
    fake.add_text("A disk is full.")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await attach_and_wait(pilot, "server.log", chip=1, what="the log chip")
        await attach_by_typing(pilot, str(files / "screenshot one.png"))
        await wait_for(pilot, lambda: len(chips(app)) == 2, "the image chip")
        await pilot.press("enter")  # the input is empty: the attachments alone are sent
        await settle(pilot)
        assert not chips(app)
        assert len(fake.chat_requests) == 1
        parts = fake.chat_requests[0].messages[-1]["content"]
        assert [p["type"] for p in parts] == ["text", "image_url"]
        assert "server.log" in parts[0]["text"] and LOG in parts[0]["text"]
        url = parts[1]["image_url"]["url"]
        assert url.startswith("data:image/png;base64,")
        assert base64.b64decode(url.split(",", 1)[1]) == png(3, 2)
        # The log shows the message's chips.
        sent = app.screen.query(MessageView).first()
        names = [chip.attachment.name for chip in sent.query(AttachmentChip)]
        assert names == ["server.log", "screenshot one.png"]
    (saved,) = saved_files(data_dir)
    names = [a["name"] for a in saved["messages"][0]["attachments"]]
    assert names == ["server.log", "screenshot one.png"]
    digest = saved["messages"][0]["attachments"][1]["sha256"]
    assert (data_dir / "attachments" / f"{digest}.png").read_bytes() == png(3, 2)


async def test_the_chips_stay_when_the_message_cannot_be_sent(
    make_app, files: Path, data_dir: Path
) -> None:
    unconfigured = load_settings(environ={}, cli={"model": "gpt-4o-mini"})
    app = make_app(unconfigured)
    async with app.run_test(size=SIZE) as pilot:
        await attach_and_wait(pilot, "server.log", chip=1, what="the chip")
        await pilot.press("escape")  # (any dialog the setup opened)
        screen_of(app).query_one(PromptInput).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert len(chips(app)) == 1


async def test_the_chips_stay_with_the_draft_of_their_conversation(
    fake: FakeOpenAI, make_app, files: Path
) -> None:
    fake.add_text("Hello.")
    fake.add_text("A disk is full.")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await type_text(pilot, "First")
        await pilot.press("enter")
        await settle(pilot)
        first = screen_of(app).conversation.id
        await attach_and_wait(pilot, "server.log", chip=1, what="the chip")
        await type_text(pilot, "Why?")
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: screen_of(app).conversation.id != first, "a new one")
        await settle(pilot)
        assert not chips(app)
        (files / "server.log").unlink()  # what was read is what is sent
        listing = app.query_one(ConversationList)
        listing.focus()
        listing.highlighted = listing.index_of(first)
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(chips(app)) == 1, "the chip back with its draft")
        prompt = screen_of(app).query_one(PromptInput)
        assert prompt.text == "Why?"
        prompt.focus()
        await pilot.press("enter")
        await settle(pilot)
        assert not chips(app)
    parts = fake.chat_requests[-1].messages[-1]["content"]
    assert [p["type"] for p in parts] == ["text", "text"]
    assert parts[0]["text"] == "Why?" and LOG in parts[1]["text"]


async def test_enter_as_another_conversation_opens_sends_nothing_into_it(
    fake: FakeOpenAI, make_app, files: Path
) -> None:
    """Enter pressed as the sidebar opens another conversation reaches the screen after it:
    the text and chip written in the first are not sent into the second (they were), and
    stay with the first."""
    fake.add_text("Hello.")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "First")
        await settle(pilot)
        screen = screen_of(app)
        first = screen.conversation.id
        await pilot.press("ctrl+n")
        await send(pilot, "Second")
        await settle(pilot)
        second = screen.conversation.id
        await attach_and_wait(pilot, "server.log", chip=1, what="the chip")
        await type_text(pilot, "Why?")
        prompt = screen.query_one(PromptInput)
        screen.post_message(ConversationChosen(first))
        prompt.submit()
        await wait_for(pilot, lambda: screen.conversation.id == first, "the first shown")
        await settle(pilot)
        assert "Not sent" in str(screen.status.render())
        assert len(fake.chat_requests) == 2
        assert [m.content for m in screen.conversation.messages] == ["First", "Hello."]
        assert (prompt.text, chips(app)) == ("", [])
        screen.post_message(ConversationChosen(second))
        await wait_for(pilot, lambda: screen.conversation.id == second, "the second again")
        await wait_for(pilot, lambda: len(chips(app)) == 1, "the chip back with its draft")
        assert prompt.text == "Why?"
    assert len(fake.chat_requests) == 2


async def test_chips_shown_in_quick_succession_end_as_the_last_asked() -> None:
    """An edit cancelled by a switch shows chips twice before either is drawn: the row must
    end as the last call said, never with both sets."""

    def attachment(name: str) -> Attachment:
        return Attachment(name, "text", "text/plain", 1, name.encode().hex().ljust(64, "0"))

    class Row(App[None]):
        def compose(self) -> ComposeResult:
            yield AttachmentChips(removable=True)

    app = Row()
    async with app.run_test() as pilot:
        row = app.query_one(AttachmentChips)
        await row.show([attachment("first.txt")])
        row.show([attachment("a.txt"), attachment("b.txt")])
        row.show([])
        await row.show([attachment("c.txt")])
        await pilot.pause()
        assert [chip.attachment.name for chip in row.query(AttachmentChip)] == ["c.txt"]
        assert row.attachments == [attachment("c.txt")]


async def test_what_was_being_written_comes_back_after_an_edit(
    fake: FakeOpenAI, make_app, files: Path, data_dir: Path
) -> None:
    """ctrl+up puts the draft (text and chips) aside while the last message is edited; Esc,
    or sending the edit, brings it back, and the draft on disk is the draft all along."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await type_text(pilot, "first version")
        await pilot.press("enter")
        await settle(pilot)
        screen = screen_of(app)
        draft = data_dir / "drafts" / f"{screen.conversation.id}.txt"
        await type_text(pilot, "half a thought")
        await attach_and_wait(pilot, "server.log", chip=1, what="the chip")
        prompt = screen.query_one(PromptInput)
        prompt.focus()

        def editing() -> bool:
            return prompt.text == "first version" and not chips(app)

        def put_back() -> bool:
            return prompt.text == "half a thought" and len(chips(app)) == 1

        await pilot.press("ctrl+up")
        await wait_for(pilot, editing, "the message to edit")
        await screen.save_draft_now()
        await settle(pilot)
        assert draft.read_text("utf-8") == "half a thought"
        await pilot.press("escape")
        await wait_for(pilot, put_back, "the draft back after Esc")
        await pilot.press("ctrl+up")
        await wait_for(pilot, editing, "the message to edit again")
        prompt.load_text("second version")
        await pilot.press("enter")
        await settle(pilot)
        await wait_for(pilot, put_back, "the draft back after sending the edit")
        await screen.save_draft_now()
        await settle(pilot)
        assert draft.read_text("utf-8") == "half a thought"
    assert fake.chat_requests[-1].messages == [{"role": "user", "content": "second version"}]


async def test_quitting_from_an_edit_keeps_the_draft_put_aside(
    fake: FakeOpenAI, make_app, data_dir: Path
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await type_text(pilot, "first version")
        await pilot.press("enter")
        await settle(pilot)
        draft = data_dir / "drafts" / f"{screen_of(app).conversation.id}.txt"
        await type_text(pilot, "half a thought")
        await pilot.press("ctrl+up")
        prompt = screen_of(app).query_one(PromptInput)
        await wait_for(pilot, lambda: prompt.text == "first version", "the message to edit")
        prompt.load_text("/quit")
        await pilot.press("enter")
        await wait_for(pilot, lambda: not app.is_running, "the app to quit")
    assert draft.read_text("utf-8") == "half a thought"


async def test_regenerate_and_edit_send_the_attachments_again(
    fake: FakeOpenAI, make_app, files: Path
) -> None:
    fake.add_text("First.")
    fake.add_text("Second.")
    fake.add_text("Third.")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await attach_and_wait(pilot, "server.log", chip=1, what="the chip")
        await type_text(pilot, "Why?")
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("ctrl+r")
        await settle(pilot)
        await pilot.press("ctrl+up")
        await wait_for(pilot, lambda: len(chips(app)) == 1, "the chips of the edited message")
        await pilot.press("enter")
        await settle(pilot)
        assert len(fake.chat_requests) == 3
        for request in fake.chat_requests:
            parts = request.messages[-1]["content"]
            assert parts[0] == {"type": "text", "text": "Why?"}
            assert LOG in parts[1]["text"]


async def test_a_sent_chip_shows_the_image_or_the_text(
    fake: FakeOpenAI, make_app, files: Path
) -> None:
    fake.add_text("Seen.")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await attach_and_wait(pilot, "screenshot one.png", chip=1, what="the image chip")
        await attach_and_wait(pilot, "server.log", chip=2, what="the log chip")
        await pilot.press("enter")
        await settle(pilot)
        sent = list(app.screen.query(MessageView).first().query(AttachmentChip))
        sent[0].focus()
        await pilot.press("enter")
        await wait_for_screen(pilot, AttachmentViewer)
        shown = " ".join(str(w.render()) for w in app.screen.query(Static))
        assert "3 × 2 pixels" in shown and "image/png" in shown
        await pilot.press("escape")
        await wait_for_screen(pilot, ChatScreen)
        await pilot.click(sent[1])
        await wait_for_screen(pilot, AttachmentViewer)
        shown = " ".join(str(w.render()) for w in app.screen.query(Static))
        assert "ERROR disk full" in shown


# -- paths as typed and pasted ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("pasted", "path"),
    [
        ("/home/me/shot.png", "/home/me/shot.png"),
        ("'/home/me/my shot.png'", "/home/me/my shot.png"),
        ('"/home/me/my shot.png"\n', "/home/me/my shot.png"),
        ("/home/me/my\\ shot.png", "/home/me/my shot.png"),
        ("file:///home/me/my%20shot.png", "/home/me/my shot.png"),
        ("~/notes.txt", "~/notes.txt"),
        ("hello world", None),
        ("/a/b /c/d", None),
        ("see /a/b", None),
        ("/a\n/b", None),
        ("file://server/share/x.png", None),
        ("x" * 5000, None),
    ],
)
def test_pasted_paths_in_the_forms_terminals_use(pasted: str, path: str | None) -> None:
    assert pasted_path(pasted) == path


def test_completion_and_expansion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "alpha.txt").write_text("a")
    (tmp_path / "alps").mkdir()
    (tmp_path / ".hidden").write_text("h")
    assert complete("al", tmp_path).text == "alp"
    assert complete("al", tmp_path).choices == ["alpha.txt", "alps/"]
    assert complete("alps", tmp_path).text == "alps/"
    assert complete("zz", tmp_path).choices == []
    assert complete(".", tmp_path).choices == [".hidden"]
    monkeypatch.setenv("HOME", str(tmp_path))
    assert complete("~/alph", Path("/")).text == "~/alpha.txt"
    assert expand("~/alpha.txt", Path("/")) == tmp_path / "alpha.txt"
    assert expand("alpha.txt", tmp_path) == tmp_path / "alpha.txt"
    assert json.dumps(complete(f"{tmp_path}/alp", Path("/")).choices) == '["alpha.txt", "alps/"]'


# -- text is text, and the system viewer ------------------------------------------------------


async def test_file_names_are_shown_as_text(fake: FakeOpenAI, make_app, files: Path) -> None:
    from chat_tui.models import Attachment
    from chat_tui.tui.widgets.attachment_chips import chip_content

    name = "[bold red]x[blink]\x1b[31m.txt"
    chip = chip_content(Attachment(name, "text", "text/plain", 5, "0" * 64), removable=True)
    assert "[bold red]x[blink]" in chip.plain and "\x1b" not in chip.plain
    (files / name).write_text("odd\n")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        tree = await open_tree(pilot, 4)
        labels = [str(node.label) for node in tree.root.children]
        assert "[bold red]x[blink]␛[31m.txt" in labels


def fake_viewer(folder: Path) -> Path:
    """An `xdg-open` on PATH that records the file it was asked to open."""
    record = folder / "opened.txt"
    script = folder / "xdg-open"
    script.write_text(f'#!/bin/sh\nprintf "%s" "$1" > "{record}"\n')
    script.chmod(0o755)
    return record


def test_a_missing_viewer_is_a_clear_note(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from chat_tui.viewer import open_in_viewer, viewer_command

    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    problem = open_in_viewer(tmp_path / "shot.png", platform="linux")
    assert problem is not None and "xdg-open is not installed" in problem
    assert str(tmp_path / "shot.png") in problem
    assert viewer_command("darwin") == "open"


async def test_the_image_viewer_opens_the_stored_copy(
    fake: FakeOpenAI, make_app, files: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = files.parent / "bin"
    bin_dir.mkdir()
    record = fake_viewer(bin_dir)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await attach_and_wait(pilot, "screenshot one.png", chip=1, what="the chip")
        chips(app)[0].focus()
        await pilot.press("enter")  # a chip not sent yet can be looked at too
        await wait_for_screen(pilot, AttachmentViewer)
        await pilot.press("o")
        note = app.screen.query_one("#viewer-note", Static)
        await wait_for(pilot, lambda: "Opened" in str(note.render()), "the note")
        await wait_for(pilot, record.exists, "the viewer to be started")
        digest = chips(app)[0].attachment.sha256
        assert record.read_text() == str(data_dir / "attachments" / f"{digest}.png")
