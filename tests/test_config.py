"""Settings resolve as defaults < config.toml < environment < flags, and fail in one line."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from chat_tui.config import (
    DEFAULT_MODEL,
    KEYLESS_PLACEHOLDER,
    ConfigError,
    load_settings,
    save_top_level,
)
from chat_tui.paths import config_file, data_dir


def write_config(text: str) -> Path:
    path = config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults_without_any_configuration() -> None:
    settings = load_settings(environ={})
    assert settings.model == DEFAULT_MODEL
    assert settings.active_provider.base_url is None
    assert settings.active_provider.api_key is None
    assert not settings.active_provider.is_configured
    assert settings.timeout > 0 and settings.max_retries >= 0


def test_platformdirs_honours_xdg(isolated_dirs: Path) -> None:
    assert config_file() == isolated_dirs / "config" / "chat-tui" / "config.toml"
    assert data_dir() == isolated_dirs / "data" / "chat-tui"


def test_each_layer_overrides_the_one_below() -> None:
    write_config('model = "from-file"\nbase_url = "http://file:1/v1"\ntimeout = 7\n')
    from_file = load_settings(environ={})
    assert (from_file.model, from_file.active_provider.base_url) == (
        "from-file",
        "http://file:1/v1",
    )
    assert from_file.timeout == 7

    env = {"CHAT_TUI_MODEL": "from-env", "OPENAI_BASE_URL": "http://env:2/v1"}
    from_env = load_settings(environ=env)
    assert (from_env.model, from_env.active_provider.base_url) == ("from-env", "http://env:2/v1")

    from_cli = load_settings(environ=env, cli={"model": "from-cli", "base_url": "http://cli:3/v1"})
    assert (from_cli.model, from_cli.active_provider.base_url) == ("from-cli", "http://cli:3/v1")


def test_keyless_local_server_gets_a_placeholder_key() -> None:
    settings = load_settings(environ={}, cli={"base_url": "http://localhost:8080/v1"})
    provider = settings.active_provider
    assert provider.is_configured
    assert provider.api_key is None
    assert provider.request_key == KEYLESS_PLACEHOLDER


def test_api_key_from_environment_beats_the_file() -> None:
    write_config('api_key = "sk-file"\n')
    assert load_settings(environ={}).active_provider.api_key == "sk-file"
    assert load_settings(environ={"OPENAI_API_KEY": "sk-env"}).active_provider.api_key == "sk-env"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("model = \n", "not valid TOML"),
        ("timeout = -1\n", "timeout must be more than 0"),
        ('timeout = "soon"\n', "timeout must be a number"),
        ("max_retries = 99\n", "max_retries must be between 0 and 10"),
        ('base_url = "localhost:8080"\n', "must start with http"),
        ("model = 5\n", "model must be text"),
        ('provider = "nope"\n', "unknown provider 'nope'"),
        ("[providers]\nlocal = 3\n", "[providers.local] must be a table"),
    ],
)
def test_malformed_config_is_one_line_naming_the_problem(text: str, fragment: str) -> None:
    write_config(text)
    with pytest.raises(ConfigError) as raised:
        load_settings(environ={})
    assert fragment in str(raised.value)
    assert "\n" not in str(raised.value)


def test_unknown_settings_warn_instead_of_failing() -> None:
    write_config('modle = "typo"\n')
    settings = load_settings(environ={})
    assert any("modle" in warning for warning in settings.warnings)


def test_world_readable_config_with_a_key_warns() -> None:
    path = write_config('api_key = "sk-secret"\n')
    os.chmod(path, 0o644)
    assert any("chmod 600" in w for w in load_settings(environ={}).warnings)
    os.chmod(path, 0o600)
    assert not load_settings(environ={}).warnings


def test_named_providers_and_their_key_variables() -> None:
    write_config(
        'provider = "local"\n'
        "[providers.local]\n"
        'base_url = "http://127.0.0.1:9/v1"\n'
        'model = "llama"\n'
        "[providers.router]\n"
        'base_url = "https://router.example/v1"\n'
        'api_key_env = "ROUTER_KEY"\n'
    )
    settings = load_settings(environ={"ROUTER_KEY": "sk-router"})
    assert settings.provider == "local"
    assert settings.model == "llama"
    assert settings.providers["router"].api_key == "sk-router"
    assert settings.model_for("router") == "llama"


def test_saving_a_setting_keeps_comments_and_is_private() -> None:
    path = write_config(
        '# my settings\nmodel = "a"  # favourite\n\n[keys]\n"app.quit" = "ctrl+q"\n'
    )
    save_top_level(path, {"theme": "nord", "model": "b"})
    text = path.read_text()
    assert "# my settings" in text and '"app.quit" = "ctrl+q"' in text
    settings = load_settings(environ={})
    assert (settings.theme, settings.model, settings.keys["app.quit"]) == ("nord", "b", "ctrl+q")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_saving_creates_the_file_when_missing() -> None:
    path = config_file()
    save_top_level(path, {"api_key": 'sk-"quoted"\\'})
    assert load_settings(environ={}).active_provider.api_key == 'sk-"quoted"\\'
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
