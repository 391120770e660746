"""Themes: chosen from the palette, remembered in the config file, checked at start."""

from __future__ import annotations

import stat

from chat_tui.config import load_settings
from chat_tui.paths import config_file
from tests.support.loopback import FakeOpenAI
from tests.support.pilot import (
    SIZE,
    Notes,
    palette_shows,
    run_palette_command,
    settings_with_config,
    settle,
    type_text,
    wait_for,
)


async def test_a_theme_chosen_in_the_palette_is_saved_and_used_after_a_restart(
    fake: FakeOpenAI, make_app
) -> None:
    settings = settings_with_config(
        fake.base_url, '# my settings\nmodel = "gpt-4o-mini"  # the cheap one\n\n[keys]\n'
    )
    first = make_app(settings)
    async with first.run_test(size=SIZE) as pilot:
        assert first.theme == "textual-dark"
        await run_palette_command(pilot, "theme: change")
        await type_text(pilot, "nord")
        await wait_for(pilot, lambda: palette_shows(first, "nord"), "the nord theme")
        await pilot.press("enter")
        await settle(pilot)
        assert first.theme == "nord"
        assert first.settings.theme == "nord"
    text = config_file().read_text()
    assert 'theme = "nord"' in text
    assert "# my settings" in text and "# the cheap one" in text and "[keys]" in text
    assert stat.S_IMODE(config_file().stat().st_mode) == 0o600

    restarted = load_settings(environ={}, cli={"base_url": fake.base_url})
    second = make_app(restarted)
    async with second.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert second.theme == "nord"


async def test_flags_and_environment_still_choose_the_theme(fake: FakeOpenAI, make_app) -> None:
    settings_with_config(fake.base_url, 'theme = "nord"\n')
    from_env = load_settings(environ={"CHAT_TUI_THEME": "dracula"}, cli={"base_url": fake.base_url})
    from_flag = load_settings(
        environ={"CHAT_TUI_THEME": "dracula"},
        cli={"base_url": fake.base_url, "theme": "textual-light"},
    )
    for settings, expected in ((from_env, "dracula"), (from_flag, "textual-light")):
        app = make_app(settings)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert app.theme == expected


async def test_an_unknown_theme_falls_back_with_a_warning(fake: FakeOpenAI, make_app) -> None:
    settings = load_settings(environ={}, cli={"base_url": fake.base_url, "theme": "no-such"})
    app, notes = make_app(settings), Notes()
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        await pilot.pause()
        assert app.is_running
        assert app.theme == "textual-dark"
        assert "unknown theme 'no-such': using textual-dark" in notes.text
