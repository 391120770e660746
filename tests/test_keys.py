"""Key bindings: every one has an id, the help lists them all, and `[keys]` remaps them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chat_tui.tui.commands import PALETTE
from chat_tui.tui.keys.catalogue import all_bindings, binding_groups, resolve_keymap
from chat_tui.tui.keys.owners import key_owners
from chat_tui.tui.keys.spec import check_key_spec, current_keys, key_label
from chat_tui.tui.screens.chat import ChatScreen
from chat_tui.tui.screens.help import HelpRow, HelpScreen
from chat_tui.tui.widgets.message_view import MessageView
from chat_tui.tui.widgets.prompt_input import PromptInput
from tests.support.loopback import FakeOpenAI
from tests.support.pilot import SIZE, Notes, send, settings_with_config, settle

KEYS_DOC = Path(__file__).resolve().parent.parent / "docs" / "keys.md"
"""The key reference: the full table of keys, with every binding id."""


def test_every_binding_has_a_unique_dotted_id_and_a_tooltip() -> None:
    bindings = all_bindings(key_owners())
    owners = {group.owner.__name__ for group in binding_groups(key_owners())}
    assert {"ChatApp", "ChatScreen", "MessageView", "CodeFence", "PromptInput"} <= owners
    assert {"ConversationList", "SearchBox", "HelpScreen"} <= owners
    for binding in bindings:
        assert binding.id and re.fullmatch(r"[a-z]+(\.[a-z_]+)+", binding.id), binding
        assert binding.tooltip.strip(), binding.id
        assert check_key_spec(binding.key) is None, binding.id
    ids = [b.id for b in bindings]
    assert len(ids) == len(set(ids)), "binding ids must be unique"


def test_the_key_reference_documents_every_binding_id() -> None:
    reference = KEYS_DOC.read_text("utf-8")
    missing = [b.id for b in all_bindings(key_owners()) if f"`{b.id}`" not in reference]
    assert not missing, f"docs/keys.md does not mention {missing}"


def help_rows(app) -> dict[str, HelpRow]:
    return {row.binding_id or row.keys: row for row in app.screen.query(HelpRow)}


def shown(row: HelpRow) -> tuple[str, str]:
    keys, what, _ = row.query("Static")
    return str(keys.render()), str(what.render())


async def test_help_lists_every_binding_with_its_current_key(fake: FakeOpenAI, make_app) -> None:
    settings = settings_with_config(
        fake.base_url, '[keys]\n"conversation.new" = "ctrl+t"\n"message.copy" = "y,ctrl+y"\n'
    )
    app = make_app(settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f1")  # works while typing in the input
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        rows = help_rows(app)
        for binding in all_bindings(key_owners()):
            keys = ", ".join(key_label(k) for k in current_keys(binding, app._keymap))
            assert shown(rows[binding.id]) == (keys, binding.tooltip), binding.id
        assert shown(rows["conversation.new"])[0] == "ctrl+t"  # remapped, not ctrl+n
        assert shown(rows["message.copy"])[0] == "y, ctrl+y"
        assert shown(rows["app.help"])[0] == "f1, ?"
        assert shown(rows["app.quit"])[0] == "ctrl+q"
        for command in PALETTE:
            assert shown(rows[command.name]) == (command.name, command.help)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ChatScreen)


async def test_question_mark_opens_help_only_outside_text_boxes(fake: FakeOpenAI, make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "hello")
        await settle(pilot)
        await pilot.press("question_mark")
        assert app.query_one(PromptInput).text == "?"  # typed, not a command
        assert isinstance(app.screen, ChatScreen)
        await pilot.press("shift+tab")  # select the last message
        assert isinstance(app.focused, MessageView)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("question_mark")  # the same key closes it
        await pilot.pause()
        assert isinstance(app.screen, ChatScreen)
        assert isinstance(app.focused, MessageView)


async def test_a_remapped_key_does_the_action_and_the_old_one_no_longer_does(
    fake: FakeOpenAI, make_app, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no system clipboard tool
    settings = settings_with_config(
        fake.base_url,
        '[keys]\n"conversation.new" = "ctrl+t"\n"message.copy" = "y"\n"prompt.send" = "ctrl+s"\n',
    )
    app = make_app(settings)
    async with app.run_test(size=SIZE) as pilot:
        prompt = app.query_one(PromptInput)
        await pilot.press(*"first", "enter")  # Enter no longer sends: a new line
        assert prompt.text == "first\n"
        await pilot.press("backspace", "ctrl+s")
        await settle(pilot)
        assert [v.message.content for v in app.screen.query(MessageView)] == [
            "first",
            "Echo: first",
        ]
        await pilot.press("shift+tab", "c")  # the old copy key does nothing now
        await settle(pilot)
        assert app.clipboard == ""
        await pilot.press("y")
        await settle(pilot)
        assert app.clipboard == "Echo: first"

        prompt.focus()
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert len(app.screen.query(MessageView)) == 2  # still the same conversation
        await pilot.press("ctrl+t")
        await settle(pilot)
        assert not app.screen.query(MessageView)
        assert app.screen.conversation.messages == []


async def test_bad_key_settings_warn_and_leave_the_defaults(fake: FakeOpenAI, make_app) -> None:
    settings = settings_with_config(
        fake.base_url,
        "[keys]\n"
        '"conversation.nwe" = "ctrl+t"\n'
        '"app.quit" = "ctrl+"\n'
        '"reply.copy" = "hyper+nope"\n'
        '"reply.regenerate" = "ctlr+g"\n',
    )
    app, notes = make_app(settings), Notes()
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        await pilot.pause()
        warnings = notes.text
        assert "unknown binding id 'conversation.nwe'" in warnings
        assert "app.quit = 'ctrl+': 'ctrl+' has no key after the modifier" in warnings
        assert "unknown key 'nope' in 'hyper+nope'" in warnings
        assert "unknown modifier 'ctlr'" in warnings
        assert app._keymap == {}
        await pilot.press("ctrl+q")  # the default still quits
        await pilot.pause()
    assert app.return_code == 0


async def test_a_key_setting_of_the_wrong_type_is_named_and_the_rest_apply(
    fake: FakeOpenAI, make_app
) -> None:
    settings = settings_with_config(
        fake.base_url,
        '[keys]\n"app.quit" = 5\n"reply.copy" = ["f5"]\n"conversation.new" = "ctrl+t"\n',
    )
    app, notes = make_app(settings), Notes()
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        await pilot.pause()
        assert "[keys] app.quit = 5: a key must be text" in notes.text
        assert "[keys] reply.copy = a list: a key must be text" in notes.text
        await send(pilot, "first")
        await settle(pilot)
        await pilot.press("ctrl+t")
        await settle(pilot)
        assert not app.screen.query(MessageView)
        await pilot.press("ctrl+q")  # the default still quits
        await pilot.pause()
    assert app.return_code == 0


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("ctrl+t", None),
        ("f1,question_mark", None),
        ("?", None),
        ("ctrl+shift+up", None),
        ("alt+enter, ctrl+j", None),
        ("", "empty key"),
        ("a,,b", "empty key"),
        ("ctrl+", "no key after the modifier"),
        ("cmd+k", "unknown modifier 'cmd'"),
        ("ctrl+return_key", "unknown key 'return_key'"),
        ("f99", "unknown key 'f99'"),
    ],
)
def test_key_specs_are_checked(spec: str, problem: str | None) -> None:
    found = check_key_spec(spec)
    assert found is None if problem is None else problem in (found or "")


def test_two_bindings_on_one_key_are_reported() -> None:
    keymap, warnings = resolve_keymap({"reply.regenerate": "ctrl+n"}, key_owners)
    assert keymap == {"reply.regenerate": "ctrl+n"}
    assert any(
        "ctrl+n is bound to both conversation.new and reply.regenerate" in w for w in warnings
    )


def test_every_class_with_bindings_is_in_the_catalogue() -> None:
    """The owners are named by hand: importing every module finds any that were left out."""
    import importlib
    import pkgutil

    from textual.dom import DOMNode

    import chat_tui.tui

    for module in pkgutil.walk_packages(chat_tui.tui.__path__, "chat_tui.tui."):
        importlib.import_module(module.name)
    pending, declaring = list(DOMNode.__subclasses__()), set()
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith("chat_tui.") and cls.__dict__.get("BINDINGS"):
            declaring.add(cls)
    assert declaring == set(key_owners())


async def test_error_hints_name_the_installed_key_never_a_rejected_one(
    fake: FakeOpenAI, make_app
) -> None:
    settings = settings_with_config(
        fake.base_url, '[keys]\n"reply.regenerate" = "ctlr+g"\n"model.choose" = "f6"\n'
    )
    fake.add(status=404, error_message="The model does not exist", error_code="model_not_found")
    app = make_app(settings)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "hello")
        await settle(pilot)
        error = app.screen.query(MessageView)[-1].message.error
    assert "f6" in error
    assert "ctlr+g" not in error
    fake.add(status=503)
    app = make_app(settings)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "hello")
        await settle(pilot)
        error = app.screen.query(MessageView)[-1].message.error
    assert "Press ctrl+r to retry" in error


def test_a_huge_table_of_unknown_ids_is_summed_up() -> None:
    keymap, warnings = resolve_keymap({f"no.such_{i}": "f5" for i in range(5000)}, key_owners)
    assert keymap == {}
    assert len(warnings) == 11
    assert warnings[-1] == "[keys]: 4990 more problems (ignored)"
