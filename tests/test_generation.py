"""Generation settings and presets without a screen: what reaches the request body, the
layers of config.toml, the retry with the other length field, presets written into the
config file, and the flags of `ask` and `--plain` run as real processes."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from chat_tui.client import ChatClient, Finished
from chat_tui.config import ConfigError, Settings, load_settings
from chat_tui.generation import Generation, SettingError, check, max_tokens_field, parse
from chat_tui.models import Conversation, Message
from chat_tui.presets import Preset, PresetError, new_conversation, save_preset
from tests.support.loopback import FakeOpenAI
from tests.support.shell import Shell, make_shell, one_line_error

MESSAGES = [{"role": "user", "content": "hi"}]
EVERY_SETTING = Generation(
    temperature=0.2,
    top_p=0.9,
    max_tokens=500,
    reasoning_effort="low",
    seed=7,
    stop=("END", "\n\n"),
    extra_body={"top_k": 40, "repeat_penalty": 1.1},
)
NAMED_FIELDS = ("temperature", "top_p", "max_tokens", "reasoning_effort", "seed", "stop")


@pytest.fixture
def shell(isolated_dirs: Path, data_dir: Path) -> Shell:
    return make_shell(data_dir)


@pytest.fixture
def config_path(isolated_dirs: Path) -> Path:
    path = isolated_dirs / "config" / "chat-tui" / "config.toml"
    path.parent.mkdir(parents=True)
    return path


def client_for(settings: Settings) -> ChatClient:
    return ChatClient(settings.active_provider, timeout=settings.timeout, max_retries=0)


async def send(client: ChatClient, model: str, generation: Generation) -> list[object]:
    return [e async for e in client.stream_reply(MESSAGES, model, None, generation)]


# -- the request body ----------------------------------------------------------------------


async def test_each_setting_reaches_the_request_body(fake: FakeOpenAI, settings: Settings) -> None:
    await send(client_for(settings), "local-llama", EVERY_SETTING)
    body = fake.chat_requests[0].body
    assert {k: body[k] for k in NAMED_FIELDS} == {
        "temperature": 0.2,
        "top_p": 0.9,
        "max_tokens": 500,
        "reasoning_effort": "low",
        "seed": 7,
        "stop": ["END", "\n\n"],
    }
    assert (body["top_k"], body["repeat_penalty"]) == (40, 1.1)
    assert body["model"] == "local-llama" and body["messages"] == MESSAGES


async def test_unset_settings_are_absent_not_null(fake: FakeOpenAI, settings: Settings) -> None:
    await send(client_for(settings), "local-llama", Generation(temperature=1.0))
    body = fake.chat_requests[0].body
    assert body["temperature"] == 1.0
    absent = {*NAMED_FIELDS, "max_completion_tokens", "top_k"} - {"temperature"}
    assert absent.isdisjoint(body)


async def test_newer_openai_models_get_max_completion_tokens(
    fake: FakeOpenAI, settings: Settings
) -> None:
    client = client_for(settings)
    for model in ("o3-mini", "gpt-5", "openai/o4-mini", "gpt-4.1", "gpt-4o"):
        await send(client, model, Generation(max_tokens=50))
    fields = [
        "max_completion_tokens" if "max_completion_tokens" in r.body else "max_tokens"
        for r in fake.chat_requests
    ]
    assert fields == [
        "max_completion_tokens",
        "max_completion_tokens",
        "max_completion_tokens",
        "max_tokens",
        "max_tokens",
    ]


async def test_a_400_naming_the_other_length_field_is_retried_once_and_remembered(
    fake: FakeOpenAI, settings: Settings
) -> None:
    fake.length_field = "max_completion_tokens"
    client = client_for(settings)
    events = await send(client, "gpt-4o", Generation(max_tokens=50))
    assert events[-1] == Finished("stop")
    first, retried = fake.chat_requests
    assert (first.body["max_tokens"], retried.body["max_completion_tokens"]) == (50, 50)
    assert "max_tokens" not in retried.body
    await send(client, "gpt-4o", Generation(max_tokens=60))
    assert len(fake.chat_requests) == 3  # remembered: no second refusal
    assert fake.chat_requests[2].body["max_completion_tokens"] == 60


async def test_the_length_retry_happens_once_then_the_error_is_shown(
    fake: FakeOpenAI, settings: Settings
) -> None:
    from chat_tui.request_errors import ChatError

    fake.length_field = "max_completion_tokens"
    fake.add(status=400, error_message="Unsupported parameter: 'max_completion_tokens'.")
    with pytest.raises(ChatError, match="max_completion_tokens"):
        await send(client_for(settings), "gpt-4o", Generation(max_tokens=50))
    assert len(fake.chat_requests) == 2


def test_extra_body_cannot_replace_what_chat_tui_sets() -> None:
    for field in ("messages", "model", "stream", "tools", "temperature"):
        with pytest.raises(SettingError, match=field):
            parse({"extra_body": {field: 1}})
    with pytest.raises(SettingError, match="nested"):
        parse({"extra_body": {"a": {"b": {"c": {"d": {"e": 1}}}}}})
    with pytest.raises(SettingError, match="longer"):
        parse({"extra_body": {"text": "x" * 5000}})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("temperature", "2.5"),
        ("temperature", "hot"),
        ("temperature", "nan"),
        ("top_p", -0.1),
        ("max_tokens", 0),
        ("max_tokens", "1.5"),
        ("seed", "x"),
        ("seed", True),
        ("reasoning_effort", "very high!"),
        ("stop", ["a", "b", "c", "d", "e"]),
        ("stop", [""]),
    ],
)
def test_bad_values_are_refused_with_the_reason(name: str, value: object) -> None:
    with pytest.raises(SettingError, match="must"):
        check(name, value)


def test_max_tokens_field_rule() -> None:
    assert max_tokens_field("o1") == "max_completion_tokens"
    assert max_tokens_field("gpt-5-mini") == "max_completion_tokens"
    assert max_tokens_field("llama-3.1-8b") == "max_tokens"
    assert max_tokens_field("gpt-4o-mini") == "max_tokens"


# -- conversations record them -------------------------------------------------------------


def test_settings_round_trip_through_the_file_and_old_files_still_read() -> None:
    conversation = Conversation(model="m", settings=Generation(temperature=0.5, stop=("x",)))
    reply = Message(role="assistant", content="hi", settings=EVERY_SETTING)
    conversation.messages.append(reply)
    data = json.loads(json.dumps(conversation.to_dict()))
    assert data["schema_version"] >= 5  # settings came with version 5
    assert data["settings"] == {"temperature": 0.5, "stop": ["x"]}
    assert data["messages"][0]["settings"]["extra_body"] == {"top_k": 40, "repeat_penalty": 1.1}
    again = Conversation.from_dict(data)
    assert again.settings == conversation.settings
    assert again.messages[0].settings.to_dict() == EVERY_SETTING.to_dict()
    old = {k: v for k, v in data.items() if k != "settings"}
    old["schema_version"] = 3
    assert not Conversation.from_dict(old).settings
    data["settings"] = {"temperature": 9, "top_p": 0.5, "extra_body": {"model": "x"}}
    assert Conversation.from_dict(data).settings == Generation(top_p=0.5)


# -- config.toml ---------------------------------------------------------------------------


def test_config_layers_top_provider_model_most_specific_wins(config_path: Path) -> None:
    config_path.write_text(
        "temperature = 0.5\nmax_tokens = 100\nseed = 1\n"
        '[providers.local]\nbase_url = "http://127.0.0.1:1/v1"\ntemperature = 0.7\n'
        "top_p = 0.8\n[providers.local.extra_body]\ntop_k = 20\n"
        '[models."gpt-4o"]\ntemperature = 0.1\n'
    )
    settings = load_settings(environ={})
    assert settings.warnings == ()
    assert settings.generation_for(None, "gpt-4o-mini") == Generation(
        temperature=0.5, max_tokens=100, seed=1
    )
    assert settings.generation_for("local", "other") == Generation(
        temperature=0.7, top_p=0.8, max_tokens=100, seed=1, extra_body={"top_k": 20}
    )
    assert settings.generation_for("local", "gpt-4o").temperature == 0.1


def test_a_bad_value_in_the_file_is_one_warning_and_the_rest_applies(config_path: Path) -> None:
    config_path.write_text(
        'model = "m"\ntemperature = 3\n[models."gpt-4o"]\ntop_p = "high"\n'
        "[presets.good]\nseed = 4\n[presets.bad]\nmax_tokens = -1\n"
    )
    settings = load_settings(environ={})
    assert settings.model == "m"
    assert settings.generation_for(None, "gpt-4o") == Generation()
    assert list(settings.presets) == ["good"]
    assert settings.warnings == (
        f"temperature must be a number from 0 to 2 in {config_path.name} (ignored)",
        f'[models."gpt-4o"] top_p must be a number from 0 to 1 in {config_path.name} (ignored)',
        "[presets.bad] max_tokens must be a whole number of at least 1 "
        f"in {config_path} (preset ignored)",
    )


def test_flags_win_over_the_default_preset_which_wins_over_the_config(config_path: Path) -> None:
    config_path.write_text(
        'model = "base"\nsystem_prompt = "plain"\ndefault_preset = "terse"\n'
        '[presets.terse]\nmodel = "small"\nsystem_prompt = "Be terse."\n'
        "temperature = 0.3\nmax_tokens = 200\n"
    )
    conversation = new_conversation(load_settings(environ={}))
    assert (conversation.model, conversation.system_prompt) == ("small", "Be terse.")
    assert conversation.settings == Generation(temperature=0.3, max_tokens=200)
    flagged = load_settings(environ={}, cli={"model": "big", "temperature": "1.1"})
    conversation = new_conversation(flagged)
    assert (conversation.model, conversation.system_prompt) == ("big", "Be terse.")
    assert conversation.settings == Generation(temperature=1.1, max_tokens=200)


def test_an_unknown_preset_names_the_known_ones(config_path: Path) -> None:
    config_path.write_text("[presets.a]\nseed = 1\n[presets.b]\nseed = 2\n")
    with pytest.raises(ConfigError, match=r"unknown preset 'c' \(known: a, b\)"):
        load_settings(environ={}, cli={"preset": "c"})


# -- writing a preset ----------------------------------------------------------------------

CONFIG = """\
# my settings
api_key = "sk-secret"   # keep this
model = "gpt-4o"

[presets.old]
seed = 1 # first

[keys]
"app.quit" = "ctrl+q"
"""


def test_saving_a_preset_leaves_every_other_line_untouched(config_path: Path) -> None:
    config_path.write_text(CONFIG)
    os.chmod(config_path, 0o600)
    preset = Preset(
        name="review",
        model="gpt-4o",
        provider="default",
        system_prompt='Say "why".\nTwo lines.\x7f',
        settings=EVERY_SETTING,
    )
    save_preset(config_path, preset)
    text = config_path.read_text()
    assert text.startswith(CONFIG)
    settings = load_settings(environ={})
    assert settings.presets["review"] == preset
    assert settings.presets["old"].settings.seed == 1
    assert stat.S_IMODE(config_path.stat().st_mode) == 0o600
    replaced = Preset(name="old", settings=Generation(seed=2))
    save_preset(config_path, replaced)
    assert config_path.read_text() == text.replace("seed = 1 # first\n", "seed = 2\n")


def test_a_preset_name_that_is_not_simple_is_refused(config_path: Path) -> None:
    config_path.write_text(CONFIG)
    for name in ("", "a b", "x]\n[evil", "ü" * 3, "a" * 41):
        with pytest.raises(PresetError, match="not a simple name"):
            save_preset(config_path, Preset(name=name))
    assert config_path.read_text() == CONFIG


def test_a_preset_is_not_saved_into_a_config_file_too_large_to_read_back(
    config_path: Path,
) -> None:
    with open(config_path, "wb") as handle:
        handle.truncate(5 * 1024 * 1024)
    with pytest.raises(PresetError, match=r"more than the 4 MB chat-tui reads$"):
        save_preset(config_path, Preset(name="review"))
    assert config_path.stat().st_size == 5 * 1024 * 1024


# -- the shell -----------------------------------------------------------------------------


def test_ask_sends_the_flags_and_records_them(shell: Shell, fake: FakeOpenAI) -> None:
    result = shell.run(
        "ask",
        "Hi",
        "--base-url",
        fake.base_url,
        "--temperature",
        "0.4",
        "--top-p",
        "0.5",
        "--max-tokens",
        "64",
        "--reasoning-effort",
        "high",
        "--seed",
        "3",
    )
    assert (result.returncode, result.stderr) == (0, "")
    body = fake.chat_requests[0].body
    wanted = {"temperature": 0.4, "top_p": 0.5, "max_tokens": 64, "reasoning_effort": "high"}
    assert {k: body[k] for k in wanted} == wanted and body["seed"] == 3
    [saved] = shell.saved()
    assert saved["messages"][1]["settings"] == {**wanted, "seed": 3}


def test_plain_uses_a_preset_and_the_config_defaults(
    shell: Shell, fake: FakeOpenAI, config_path: Path
) -> None:
    config_path.write_text(
        f'base_url = "{fake.base_url}"\ntop_p = 0.25\n'
        '[presets.coder]\nmodel = "local-llama"\nsystem_prompt = "Code."\nseed = 9\n'
    )
    result = shell.run("--plain", "--preset", "coder", input="Hello\n")
    assert result.returncode == 0, result.stderr
    body = fake.chat_requests[0].body
    assert (body["model"], body["seed"], body["top_p"]) == ("local-llama", 9, 0.25)
    assert body["messages"][0] == {"role": "system", "content": "Code."}
    assert "temperature" not in body


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--temperature", "3"], "--temperature must be a number from 0 to 2 (got '3')"),
        (["--max-tokens", "lots"], "--max-tokens must be a whole number of at least 1"),
        (["--preset", "nope"], "unknown preset 'nope' (known: a)"),
    ],
)
def test_a_bad_flag_or_unknown_preset_is_one_line_and_exit_2(
    shell: Shell, fake: FakeOpenAI, config_path: Path, args: list[str], message: str
) -> None:
    config_path.write_text("[presets.a]\nseed = 1\n")
    for command in (["ask", "Hi", *args], ["--plain", *args]):
        result = shell.run(*command, "--base-url", fake.base_url)
        assert (result.returncode, result.stdout) == (2, "")
        assert message in one_line_error(result.stderr)
    assert fake.chat_requests == []
