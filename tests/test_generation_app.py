"""Generation settings and presets in the app: the ctrl+o picker's fields (checked as typed),
the top bar, presets chosen in the picker and the palette, "preset: save current", a default
preset and the app's flags."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, Select, Static

from chat_tui.config import load_settings
from chat_tui.paths import config_file
from chat_tui.tui.screens.modals import RenameDialog
from chat_tui.tui.screens.model_picker import ModelPicker
from tests.support.loopback import FakeOpenAI
from tests.support.pilot import (
    SIZE,
    run_palette_command,
    saved_files,
    send,
    settings_with_config,
    settle,
    type_text,
    wait_for,
    wait_for_screen,
)

PRESETS = """\
# presets for work
model = "gpt-4o-mini"

[presets.terse]
model = "local-llama"
system_prompt = "Be terse."
temperature = 0.1
max_tokens = 42

[presets.creative]
temperature = 1.5
"""


def top_bar(app) -> str:
    return str(app.screen.query_one("#conversation-model", Static).render())


async def open_picker(pilot) -> ModelPicker:
    await pilot.press("ctrl+o")
    await wait_for_screen(pilot, ModelPicker)
    await settle(pilot)
    assert isinstance(pilot.app.screen, ModelPicker)
    return pilot.app.screen


async def set_in_picker(pilot, field: str, value: str) -> None:
    """Open the picker, type `value` into the setting `field`, and apply."""
    picker = await open_picker(pilot)
    picker.query_one(f"#setting-{field}", Input).value = value
    picker.query_one("#apply").press()
    await settle(pilot)


async def test_the_picker_refuses_a_bad_temperature_and_sends_a_good_one(
    fake: FakeOpenAI, make_app, data_dir: Path
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        assert "temp" not in top_bar(app)
        picker = await open_picker(pilot)
        temperature = picker.query_one("#setting-temperature", Input)
        temperature.focus()
        await type_text(pilot, "3")
        status = picker.query_one("#settings-status", Static)
        await wait_for(pilot, lambda: "0 to 2" in str(status.render()), "the reason")
        assert "temperature: must be a number from 0 to 2" in str(status.render())
        assert temperature.has_class("-invalid")
        picker.query_one("#apply").press()
        await settle(pilot)
        assert app.screen is picker  # not dismissed with a wrong value
        temperature.value = "0.2"
        picker.query_one("#setting-max_tokens", Input).value = "500"
        await pilot.pause()
        assert str(status.render()) == ""
        picker.query_one("#apply").press()
        await wait_for(pilot, lambda: app.screen is not picker, "the picker to close")
        assert "gpt-4o-mini · temp 0.2 · max 500" in top_bar(app)
        await send(pilot, "hello")
        await settle(pilot)
    body = fake.chat_requests[0].body
    assert (body["temperature"], body["max_tokens"]) == (0.2, 500)
    assert "top_p" not in body and "seed" not in body
    [saved] = saved_files(data_dir)
    assert saved["settings"] == {"temperature": 0.2, "max_tokens": 500}
    assert saved["messages"][1]["settings"] == {"temperature": 0.2, "max_tokens": 500}


async def test_emptying_a_field_unsets_it_and_config_defaults_show_and_apply(
    fake: FakeOpenAI, make_app
) -> None:
    settings = settings_with_config(
        fake.base_url, 'model = "gpt-4o-mini"\ntop_p = 0.5\n[models."gpt-4o-mini"]\nseed = 8\n'
    )
    app = make_app(settings)
    async with app.run_test(size=SIZE) as pilot:
        assert "top_p 0.5 · seed 8" in top_bar(app)
        picker = await open_picker(pilot)
        assert picker.query_one("#setting-top_p", Input).placeholder == "0.5"
        await pilot.press("escape")
        await set_in_picker(pilot, "top_p", "0.9")
        await send(pilot, "one")
        await settle(pilot)
        picker = await open_picker(pilot)
        assert picker.query_one("#setting-top_p", Input).value == "0.9"
        await pilot.press("escape")
        await set_in_picker(pilot, "top_p", "")
        await send(pilot, "two")
        await settle(pilot)
    first, second = (r.body for r in fake.chat_requests)
    assert (first["top_p"], first["seed"]) == (0.9, 8)
    assert (second["top_p"], second["seed"]) == (0.5, 8)  # back to config.toml's


async def test_a_preset_chosen_in_the_picker(fake: FakeOpenAI, make_app) -> None:
    app = make_app(settings_with_config(fake.base_url, PRESETS))
    async with app.run_test(size=SIZE) as pilot:
        picker = await open_picker(pilot)
        picker.query_one("#preset", Select).value = "terse"
        await pilot.pause()
        assert picker.query_one("#model-name", Input).value == "local-llama"
        assert picker.query_one("#setting-max_tokens", Input).value == "42"
        picker.query_one("#apply").press()
        await settle(pilot)
        assert "local-llama · temp 0.1 · max 42" in top_bar(app)
        await send(pilot, "hi")
        await settle(pilot)
    body = fake.chat_requests[0].body
    assert (body["model"], body["temperature"], body["max_tokens"]) == ("local-llama", 0.1, 42)
    assert body["messages"][0] == {"role": "system", "content": "Be terse."}


async def test_a_preset_used_from_the_palette(fake: FakeOpenAI, make_app) -> None:
    app = make_app(settings_with_config(fake.base_url, PRESETS))
    async with app.run_test(size=SIZE) as pilot:
        await run_palette_command(pilot, "preset: use creative")
        await settle(pilot)
        assert "temp 1.5" in top_bar(app)
        await send(pilot, "hi")
        await settle(pilot)
    body = fake.chat_requests[0].body
    assert (body["model"], body["temperature"]) == ("gpt-4o-mini", 1.5)
    assert "max_tokens" not in body


async def test_save_current_writes_the_preset_and_leaves_the_rest_of_the_file(
    fake: FakeOpenAI, make_app
) -> None:
    app = make_app(settings_with_config(fake.base_url, PRESETS))
    async with app.run_test(size=SIZE) as pilot:
        await set_in_picker(pilot, "seed", "5")
        await run_palette_command(pilot, "preset: save current")
        await wait_for_screen(pilot, RenameDialog)
        await type_text(pilot, "not simple!")
        await pilot.press("enter")
        await settle(pilot)
        assert config_file().read_text() == PRESETS
        assert "not a simple name" in str(app.screen.query_one("#status").render())
        await run_palette_command(pilot, "preset: save current")
        await wait_for_screen(pilot, RenameDialog)
        await type_text(pilot, "seeded")
        await pilot.press("enter")
        await settle(pilot)
        await run_palette_command(pilot, "preset: use seeded")
        await settle(pilot)
    text = config_file().read_text()
    assert text == PRESETS + (
        '\n[presets.seeded]\nmodel = "gpt-4o-mini"\nprovider = "default"\n'
        'system_prompt = ""\nseed = 5\n'
    )
    assert load_settings(environ={}).presets["seeded"].settings.seed == 5


async def test_new_conversations_start_from_the_default_preset_and_flags_win(
    fake: FakeOpenAI, make_app
) -> None:
    settings_with_config(fake.base_url, 'default_preset = "terse"\n' + PRESETS)
    flagged = load_settings(
        environ={},
        cli={"base_url": fake.base_url, "timeout": 5, "max_retries": 0, "temperature": "0.7"},
    )
    app = make_app(flagged)
    async with app.run_test(size=SIZE) as pilot:
        assert "local-llama · temp 0.7 · max 42" in top_bar(app)
        await send(pilot, "hi")
        await settle(pilot)
    body = fake.chat_requests[0].body
    assert (body["model"], body["temperature"], body["max_tokens"]) == ("local-llama", 0.7, 42)
