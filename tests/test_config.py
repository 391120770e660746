"""Settings resolve as defaults < config.toml < environment < flags, and fail in one line."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
        ("timeout = -1\n", "must be a number of seconds from 1 to 3600 (got -1)"),
        ('timeout = "soon"\n', "timeout in "),
        ("max_retries = 99\n", "must be a whole number from 0 to 10 (got 99)"),
        ('base_url = "localhost:8080"\n', "must start with http"),
        ("model = 5\n", "config.toml must be text, not a number"),
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


def test_a_config_file_too_large_or_not_a_file_is_refused_in_one_line() -> None:
    path = write_config("")
    with open(path, "wb") as handle:
        handle.truncate(5 * 1024 * 1024)  # sparse: takes no disk
    with pytest.raises(ConfigError, match=r"is 5 MB, more than the 4 MB chat-tui reads$"):
        load_settings(environ={})
    path.unlink()
    os.mkfifo(path)  # read as a file, it would wait for a writer for ever
    with pytest.raises(ConfigError, match=r"not a regular file$"):
        load_settings(environ={})


def test_a_setting_is_not_saved_into_a_config_file_too_large_to_read_back() -> None:
    path = write_config("")
    with open(path, "wb") as handle:
        handle.truncate(5 * 1024 * 1024)
    with pytest.raises(ConfigError, match=r"more than the 4 MB chat-tui reads$"):
        save_top_level(path, {"theme": "nord"})
    assert path.stat().st_size == 5 * 1024 * 1024


def test_unknown_settings_warn_instead_of_failing() -> None:
    write_config('modle = "typo"\n')
    settings = load_settings(environ={})
    assert any("modle" in warning for warning in settings.warnings)


def test_a_model_s_table_takes_generation_settings_and_its_window_and_warns_on_the_rest() -> None:
    write_config(
        "context_window = 4096\n"
        "[providers.local]\n"
        'base_url = "http://127.0.0.1:9/v1"\n'
        "context_window = 8192\n"
        "temperature = 0.3\n"
        '[models."m"]\n'
        "context_window = 16384\n"
        "temperature = 0.5\n"
        "max_tokens = 500\n"
        "contex_window = 1\n"
    )
    settings = load_settings(environ={})
    assert [w for w in settings.warnings if "contex_window" in w] == [
        "unknown setting 'contex_window' in [models.\"m\"] in config.toml (ignored)"
    ]
    assert len(settings.warnings) == 1
    windows = settings.context_windows
    assert (windows.configured("local", "m"), windows.configured("local", "x")) == (16384, 8192)
    assert windows.configured(None, "x") == 4096
    generation = settings.generation_for("local", "m")
    assert (generation.temperature, generation.max_tokens) == (0.5, 500)
    assert settings.generation_for("local", "x").temperature == 0.3
    flagged = load_settings(environ={}, cli={"context_window": "2048"})
    assert flagged.context_windows.configured("local", "m") == 2048


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


# -- bad values are one line naming where they came from --------------------------------


BAD_URLS = [
    ("http://[::1", "IPv6 address without its closing ]"),
    ("http://[::g]/v1", "not a valid IPv6 address"),
    ("http://::1/v1", "IPv6 address, which needs brackets"),
    ("http://localhost:99999/v1", "port 99999, which is outside 1-65535"),
    ("http://localhost:0/v1", "port 0, which is outside 1-65535"),
    ("http://localhost:80a/v1", "port '80a', which is not a number"),
    ("http://localhost:/v1", "no port after"),
    ("http://local\x1bhost/v1", "control character"),
    ("http://localhost/v1\x07", "control character"),
    ("http://local host/v1", "has a space in it"),
    ("http://local\u00a0host/v1", "has a space in it"),
    ("http://local\u200bhost/v1", "has an invisible character in it"),
    ("http://local\u202ehost/v1", "has an invisible character in it"),
    ("http://", "no host"),
    ("http:///v1", "no host"),
    ("http://300.1.1.1/v1", "not a valid IPv4 address"),
    ("http://a<b/v1", "character that cannot be in a host name"),
    ("http://localhost/v1?x=1", "query or fragment"),
    ("ftp://localhost/v1", "must start with http:// or https://"),
    ("localhost:8080", "must start with http:// or https://"),
    pytest.param("http://x/" + "a" * 5000, "longer than 2048 characters", id="too-long"),
]


@pytest.mark.parametrize(("url", "problem"), BAD_URLS)
@pytest.mark.parametrize(
    ("where", "source"),
    [
        ("flag", "--base-url"),
        ("env", "OPENAI_BASE_URL"),
        ("config", "base_url in "),
        ("provider", "providers.local.base_url in "),
    ],
)
def test_a_bad_server_url_is_one_line_naming_its_source(
    url: str, problem: str, where: str, source: str
) -> None:
    cli, env = {}, {}
    if where == "flag":
        cli["base_url"] = url
    elif where == "env":
        env["OPENAI_BASE_URL"] = url
    elif where == "config":
        write_config(f"base_url = {toml_string(url)}\n")
    else:
        write_config(f"[providers.local]\nbase_url = {toml_string(url)}\n")
    with pytest.raises(ConfigError) as raised:
        load_settings(environ=env, cli=cli)
    message = str(raised.value)
    assert message.startswith(source), message
    assert problem in message
    assert message.isprintable() and len(message) < 400, message
    if "\x1b" in url:
        assert "␛" in message


def toml_string(text: str) -> str:
    """`text` as a TOML basic string, control characters escaped."""
    return '"' + "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text) + '"'


@pytest.mark.parametrize(
    "url",
    ["http://me:hunter2@localhost/v1", "https://hunter2@example.com", "me:hunter2@localhost/v1"],
)
def test_a_password_in_the_server_url_is_refused_without_repeating_it(url: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(environ={}, cli={"base_url": url})
    assert "hunter2" not in str(raised.value)
    assert str(raised.value).startswith("--base-url")


def test_the_base_url_flag_is_checked_for_a_named_provider_too() -> None:
    write_config('provider = "local"\n[providers.local]\nbase_url = "http://127.0.0.1:9/v1"\n')
    with pytest.raises(ConfigError, match="port 70000, which is outside"):
        load_settings(environ={}, cli={"base_url": "http://127.0.0.1:70000/v1"})
    chosen = load_settings(environ={}, cli={"base_url": "http://127.0.0.1:8/v1/"})
    assert chosen.active_provider.base_url == "http://127.0.0.1:8/v1"


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8080/v1",
        "https://api.openai.com/v1/",
        "HTTP://LOCALHOST:1",
        "http://[::1]:65535/v1",
        "http://[fe80::1%25eth0]:8080",
        "http://127.0.0.1/v1",
        "http://my_host.lan/v1",
        "http://bücher.example/v1",
    ],
)
def test_good_server_urls_are_accepted(url: str) -> None:
    settings = load_settings(environ={}, cli={"base_url": url})
    assert settings.active_provider.base_url == url.rstrip("/")


def sdk_url(text: str):
    """`text` parsed by the HTTP library the SDK sends with, as the client would use it."""
    import openai

    url_type = type(openai.AsyncOpenAI(api_key="k", base_url="http://h/").base_url)
    return url_type(text)


URL_PIECES = st.tuples(
    st.sampled_from(["http://", "https://", "HTTPS://", "ftp://", "http:/", ""]),
    st.sampled_from(["", "me:pw@", "@"]),
    st.one_of(
        st.sampled_from(["localhost", "[::1]", "[::1", "::1", "10.0.0.1", "999.0.0.1", "bü.de"]),
        st.text(alphabet=st.characters(codec="utf-8"), max_size=12),
    ),
    st.one_of(
        st.just(""),
        st.integers(min_value=-5, max_value=10**6).map(lambda n: f":{n}"),
        st.text(max_size=6).map(lambda s: ":" + s),
    ),
    st.text(max_size=12).map(lambda s: "/" + s),
)


@given(URL_PIECES)
@settings(max_examples=300, deadline=None)
def test_a_server_url_is_either_usable_by_the_sdk_or_refused_in_one_line(
    pieces: tuple[str, ...],
) -> None:
    url = "".join(pieces)
    try:
        settings = load_settings(environ={}, cli={"base_url": url})
    except ConfigError as error:
        message = str(error)
        assert message.isprintable() and "\n" not in message
        assert ":pw@" not in message
        return
    accepted = settings.active_provider.base_url
    if accepted is None:
        assert not url.strip()
        return
    parsed = sdk_url(accepted)
    assert parsed.scheme in ("http", "https")
    assert parsed.host and not parsed.userinfo
    assert parsed.port is None or 1 <= parsed.port <= 65535
    assert not parsed.query and not parsed.fragment


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("timeout = 1e309\n", "timeout in "),
        ("timeout = inf\n", "from 1 to 3600"),
        ("timeout = nan\n", "from 1 to 3600"),
        ("timeout = 3601\n", "from 1 to 3600"),
        ("timeout = 0.5\n", "from 1 to 3600"),
        ("timeout = true\n", "from 1 to 3600"),
        ("timeout = [1]\n", "(got a list)"),
        ("max_retries = 1e309\n", "max_retries in "),
        ("max_retries = 2.5\n", "a whole number from 0 to 10"),
        ("max_retries = -1\n", "a whole number from 0 to 10"),
        ("max_retries = true\n", "a whole number from 0 to 10"),
        ("max_retries = 9223372036854775807\n", "a whole number from 0 to 10"),
    ],
)
def test_numbers_in_the_config_file_have_a_range(text: str, fragment: str) -> None:
    write_config(text)
    with pytest.raises(ConfigError) as raised:
        load_settings(environ={})
    assert fragment in str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"CHAT_TUI_TIMEOUT": "inf"}, "CHAT_TUI_TIMEOUT must be a number of seconds from 1"),
        ({"CHAT_TUI_TIMEOUT": "NaN"}, "CHAT_TUI_TIMEOUT must be"),
        ({"CHAT_TUI_TIMEOUT": "1e309"}, "CHAT_TUI_TIMEOUT must be"),
        ({"CHAT_TUI_MAX_RETRIES": "3.0"}, "CHAT_TUI_MAX_RETRIES must be a whole number"),
        ({"CHAT_TUI_MAX_RETRIES": "9" * 5000}, "CHAT_TUI_MAX_RETRIES must be a whole number"),
    ],
)
def test_numbers_in_the_environment_have_a_range(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(environ=env)
    assert fragment in str(raised.value)
    assert len(str(raised.value)) < 400


def test_the_ends_of_each_range_are_accepted() -> None:
    write_config("timeout = 1\nmax_retries = 0\n")
    assert (load_settings(environ={}).timeout, load_settings(environ={}).max_retries) == (1, 0)
    write_config("timeout = 3600.0\nmax_retries = 10\n")
    settings = load_settings(environ={})
    assert (settings.timeout, settings.max_retries) == (3600, 10)
    assert load_settings(environ={"CHAT_TUI_TIMEOUT": " 2.5 "}).timeout == 2.5


def test_a_key_of_the_wrong_type_is_named_in_a_warning_and_the_rest_apply() -> None:
    write_config(
        "[keys]\n"
        '"app.quit" = 5\n'
        '"reply.copy" = ["f5"]\n'
        'conversation.new = "ctrl+t"\n'
        '"prompt.send" = "ctrl+s"\n'
    )
    settings = load_settings(environ={})
    assert settings.keys == {"prompt.send": "ctrl+s"}
    warnings = "\n".join(settings.warnings)
    assert "[keys] app.quit = 5: a key must be text" in warnings
    assert "[keys] reply.copy = a list: a key must be text" in warnings
    assert '[keys] conversation is a table: put a dotted id in quotes, e.g. "app.quit"' in warnings


def test_keys_that_are_not_a_table_are_a_warning() -> None:
    write_config('keys = "ctrl+q"\nmodel = "m"\n')
    settings = load_settings(environ={})
    assert (settings.keys, settings.model) == ({}, "m")
    assert any("[keys] must be a table" in w for w in settings.warnings)


def test_thousands_of_wrong_keys_are_summed_up_and_the_good_ones_still_apply() -> None:
    wrong = "".join(f'"id{n}" = {n}\n' for n in range(5000))
    write_config(f'[keys]\n{wrong}"prompt.send" = "ctrl+s"\n')
    settings = load_settings(environ={})
    assert settings.keys == {"prompt.send": "ctrl+s"}
    assert len(settings.warnings) == 11
    assert settings.warnings[-1] == "[keys] has 4990 more entries that are not text (ignored)"
