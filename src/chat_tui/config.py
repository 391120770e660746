"""Settings: defaults < `config.toml` < environment < command-line flags.

The config file is the only place an API key is ever written, and it is written with mode
0600. Everything here is plain Python so the CLI, the TUI and the tests share one resolution.
"""

from __future__ import annotations

import ipaddress
import json
import math
import os
import re
import stat
import tomllib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from chat_tui import paths
from chat_tui.atomic import write_text_atomic
from chat_tui.context_window import (
    WindowConfig,
    WindowConfigError,
    read_window_config,
    window_flag,
)
from chat_tui.generation import NAMES as GENERATION_NAMES
from chat_tui.generation import Defaults, Generation, SettingError
from chat_tui.generation import parse as parse_generation
from chat_tui.limits import CONFIG_FILE_BYTES, TooLarge, read_file_at_most
from chat_tui.presets import Preset, read_presets, unknown_preset
from chat_tui.safetext import inline_text
from chat_tui.tools.servers import ServerConfig, ServerConfigError, read_servers

DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_PROVIDER = "default"
DEFAULT_THEME = "textual-dark"
DEFAULT_TIMEOUT = 120.0
TIMEOUT_RANGE = (1.0, 3600.0)
"""Seconds: under a second no server answers; over an hour the person has long given up."""
DEFAULT_MAX_RETRIES = 2
MAX_RETRIES_RANGE = (0, 10)
MAX_URL_LENGTH = 2048
"""Longer than any server address; a longer one is a paste gone wrong."""
DEFAULT_MAX_TOOL_ROUNDS = 8
"""Rounds of tool calls one reply may make before it is stopped (a model stuck calling)."""
TOOL_ROUNDS_RANGE = (1, 100)
DEFAULT_TOOL_TIMEOUT = 60.0
"""Seconds a tool call may take (checked against TIMEOUT_RANGE)."""
KEYLESS_PLACEHOLDER = "sk-no-key-required"
"""Sent to keyless local servers: the SDK insists on a key, llama.cpp & co. ignore it."""


class ConfigError(Exception):
    """The configuration cannot be used; the message names the problem in one line."""


@dataclass(frozen=True)
class Provider:
    """One OpenAI-compatible server the person can talk to."""

    name: str
    base_url: str | None = None
    """None means the SDK's default, the OpenAI API."""
    api_key: str | None = field(default=None, repr=False)
    """Resolved key (from the config or from `api_key_env`); never persisted elsewhere, and
    left out of repr() (Textual prints locals in crash reports)."""
    api_key_env: str | None = None
    """Name of the environment variable holding the key, for display and diagnostics."""
    model: str | None = None
    """Default model for new conversations on this provider."""

    @property
    def is_configured(self) -> bool:
        """A key or an explicit server: enough to attempt a request."""
        return bool(self.api_key or self.base_url)

    @property
    def request_key(self) -> str:
        """The key to send: the real one, or a placeholder for keyless local servers."""
        return self.api_key or KEYLESS_PLACEHOLDER


@dataclass(frozen=True)
class Settings:
    """Everything chat-tui reads from the outside world, resolved once at start-up."""

    providers: dict[str, Provider]
    provider: str = DEFAULT_PROVIDER
    """Name of the provider new conversations use."""
    model: str = DEFAULT_MODEL
    system_prompt: str = ""
    timeout: float = DEFAULT_TIMEOUT
    """Seconds to wait for the server to send anything (connect is capped lower)."""
    max_retries: int = DEFAULT_MAX_RETRIES
    theme: str = DEFAULT_THEME
    keys: dict[str, str] = field(default_factory=dict)
    """Key remapping: binding id -> comma-separated keys."""
    mcp_servers: dict[str, ServerConfig] = field(default_factory=dict)
    """MCP servers whose tools models may use, by name, in the order of the file."""
    max_tool_rounds: int = DEFAULT_MAX_TOOL_ROUNDS
    tool_timeout: float = DEFAULT_TOOL_TIMEOUT
    """Seconds one tool call may take before it is stopped."""
    context_windows: WindowConfig = field(default_factory=WindowConfig)
    """`context_window` at the top, per provider and per model (`[models."NAME"]`)."""
    model_named: bool = True
    """Whether a flag, a variable or the top of config.toml named the model."""
    generation: Defaults = field(default_factory=Defaults)
    """Generation settings from config.toml: top level, per provider, per model."""
    generation_flags: Generation = field(default_factory=Generation)
    """Generation settings given as flags: new conversations start with them."""
    presets: dict[str, Preset] = field(default_factory=dict)
    preset: str | None = None
    """The preset new conversations start from (`--preset`, else `default_preset`)."""
    flags: frozenset[str] = frozenset()
    """The settings given on the command line, which win over a preset."""
    config_path: Path | None = None
    warnings: tuple[str, ...] = ()
    """Problems worth telling the person about that do not stop the app."""

    @property
    def active_provider(self) -> Provider:
        """The provider new conversations start on."""
        return self.providers[self.provider]

    def provider_named(self, name: str | None) -> Provider:
        """A provider by name, falling back to the active one for unknown names."""
        if name and name in self.providers:
            return self.providers[name]
        return self.active_provider

    def model_for(self, provider_name: str | None) -> str:
        """Model a new conversation on `provider_name` starts with."""
        provider = self.provider_named(provider_name)
        if provider.name == DEFAULT_PROVIDER:
            return self.model
        return provider.model or self.model

    def asks_server_for_model(self, provider_name: str | None) -> bool:
        """Whether a new conversation on `provider_name` takes the model its server serves:
        the server has a base URL and nothing names a model for it (DEFAULT_MODEL is an
        OpenAI model, which a local server does not serve)."""
        provider = self.provider_named(provider_name)
        return bool(provider.base_url) and not provider.model and not self.model_named

    def starting_model(self, provider_name: str | None) -> str:
        """The model a conversation starts with on `provider_name`: empty when the server is
        to be asked which one it serves."""
        return "" if self.asks_server_for_model(provider_name) else self.model_for(provider_name)

    def generation_for(self, provider_name: str | None, model: str) -> Generation:
        """The settings config.toml gives a conversation on this provider and model."""
        return self.generation.for_(self.provider_named(provider_name).name, model)


_TOP_LEVEL_KEYS = {
    "api_key",
    "base_url",
    "model",
    "system_prompt",
    "timeout",
    "max_retries",
    "theme",
    "provider",
    "providers",
    "keys",
    "mcp_servers",
    "max_tool_rounds",
    "tool_timeout",
    "models",
    "presets",
    "default_preset",
    "context_window",
    *GENERATION_NAMES,
}
_PROVIDER_KEYS = {
    "base_url",
    "api_key",
    "api_key_env",
    "model",
    "context_window",
    *GENERATION_NAMES,
}
_MODEL_KEYS = {"context_window", *GENERATION_NAMES}
"""What a `[models."NAME"]` table may set."""


def load_settings(
    *,
    environ: Mapping[str, str] | None = None,
    config_path: Path | None = None,
    cli: Mapping[str, Any] | None = None,
) -> Settings:
    """Resolve settings from every layer. Raises `ConfigError` with a one-line reason that
    names where the bad value came from: the flag, the environment variable or the file."""
    env = os.environ if environ is None else environ
    path = config_path or paths.config_file()
    file_values, warnings = _read_config_file(path)
    cli = {k: v for k, v in (cli or {}).items() if v is not None}

    def pick(name: str, env_name: str | None, default: Any) -> tuple[Any, str]:
        """The value of setting `name` from the highest layer that has it, and its source."""
        if name in cli:
            return cli[name], _FLAGS.get(name, "--" + name.replace("_", "-"))
        if env_name and env.get(env_name):
            return env[env_name], env_name
        return file_values.get(name, default), f"{name} in {path}"

    base_url = base_url_of(*pick("base_url", "OPENAI_BASE_URL", None))
    default_provider = Provider(
        name=DEFAULT_PROVIDER,
        base_url=base_url,
        api_key=_text(env.get("OPENAI_API_KEY") or file_values.get("api_key"), f"api_key in {path}")
        or None,
        api_key_env="OPENAI_API_KEY",
    )
    providers = {DEFAULT_PROVIDER: default_provider}
    providers.update(_read_providers(file_values.get("providers", {}), env, path))

    provider = _text(*pick("provider", "CHAT_TUI_PROVIDER", DEFAULT_PROVIDER))
    if provider not in providers:
        known = ", ".join(sorted(providers))
        raise ConfigError(f"unknown provider {_quoted(provider)} (configured: {known})")
    if "base_url" in cli and base_url and provider != DEFAULT_PROVIDER:
        providers[provider] = replace(providers[provider], base_url=base_url)

    keys, key_warnings = _read_keys(file_values.get("keys", {}))
    try:
        windows = read_window_config(file_values, path)
        if "context_window" in cli:
            windows = replace(windows, flag=window_flag(str(cli["context_window"])))
    except WindowConfigError as error:
        raise ConfigError(str(error)) from None
    generation, generation_warnings = _read_generation(file_values, path)
    presets, preset_warnings = read_presets(file_values.get("presets"), f" in {path}")
    preset, preset_warning = _chosen_preset(cli.get("preset"), file_values, presets, path)
    model_default = providers[provider].model or DEFAULT_MODEL
    model_named = bool(cli.get("model") or env.get("CHAT_TUI_MODEL") or file_values.get("model"))
    settings = Settings(
        providers=providers,
        provider=provider,
        model=_text(*pick("model", "CHAT_TUI_MODEL", model_default)) or model_default,
        system_prompt=_text(*pick("system_prompt", "CHAT_TUI_SYSTEM_PROMPT", ""), strip=False),
        timeout=_seconds(*pick("timeout", "CHAT_TUI_TIMEOUT", DEFAULT_TIMEOUT)),
        max_retries=_retries(*pick("max_retries", "CHAT_TUI_MAX_RETRIES", DEFAULT_MAX_RETRIES)),
        theme=_text(*pick("theme", "CHAT_TUI_THEME", DEFAULT_THEME)) or DEFAULT_THEME,
        keys=keys,
        mcp_servers=_read_mcp_servers(file_values.get("mcp_servers"), path),
        max_tool_rounds=_tool_rounds(*pick("max_tool_rounds", None, DEFAULT_MAX_TOOL_ROUNDS)),
        tool_timeout=_seconds(*pick("tool_timeout", None, DEFAULT_TOOL_TIMEOUT)),
        context_windows=windows,
        model_named=model_named,
        generation=generation,
        generation_flags=_generation_flags(cli),
        presets=presets,
        preset=preset,
        flags=frozenset(cli),
        config_path=path,
        warnings=(
            *warnings,
            *key_warnings,
            *generation_warnings,
            *preset_warnings,
            *preset_warning,
        ),
    )
    return settings


_FLAGS = {"system_prompt": "--system"}
"""The flags not spelled `--` + the setting's name with dashes."""


def _generation_flags(cli: Mapping[str, Any]) -> Generation:
    """The generation settings given on the command line; a bad one is a `ConfigError`
    naming its flag."""
    for name in GENERATION_NAMES:
        if name in cli:
            try:
                parse_generation({name: cli[name]})
            except SettingError as error:
                flag = "--" + name.replace("_", "-")
                raise ConfigError(
                    f"{flag} {str(error).removeprefix(name + ' ')} (got {_shown_value(cli[name])})"
                ) from None
    return parse_generation(cli)


def _read_generation(values: Mapping[str, Any], path: Path) -> tuple[Defaults, list[str]]:
    """The generation settings of the file's top level, `[providers.NAME]` and
    `[models."NAME"]` tables. A table with a bad value is left out with one warning line
    naming the value, so the app still starts (on the server's defaults there)."""
    warnings: list[str] = []

    def layer(table: Mapping[str, Any], where: str) -> Generation:
        try:
            return parse_generation(table)
        except SettingError as error:
            warnings.append(f"{where}{error} in {path.name} (ignored)")
            return Generation()

    top = layer(values, "")
    providers = {
        name: layer(table, f"[providers.{inline_text(name, 40)}] ")
        for name, table in _tables(values.get("providers")).items()
    }
    models_table = values.get("models")
    if models_table is not None and not isinstance(models_table, dict):
        warnings.append(f'[models] must hold [models."NAME"] tables in {path.name} (ignored)')
    models = {
        name: layer(table, f'[models."{inline_text(name, 40)}"] ')
        for name, table in _tables(models_table).items()
    }
    warnings.extend(
        f'unknown setting {key!r} in [models."{inline_text(name, 40)}"] in {path.name} (ignored)'
        for name, table in _tables(models_table).items()
        for key in sorted(set(table) - _MODEL_KEYS)
    )
    defaults = Defaults(
        top=top,
        providers={k: v for k, v in providers.items() if v},
        models={k: v for k, v in models.items() if v},
    )
    return defaults, warnings


def _tables(value: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(v, dict)}


def _chosen_preset(
    flag: Any, values: Mapping[str, Any], presets: Mapping[str, Preset], path: Path
) -> tuple[str | None, list[str]]:
    """`--preset` (unknown: a `ConfigError`), else `default_preset` (unknown: a warning)."""
    if flag is not None:
        if flag not in presets:
            raise ConfigError(unknown_preset(str(flag), presets))
        return str(flag), []
    default = values.get("default_preset")
    if default is None or default == "":
        return None, []
    if not isinstance(default, str) or default not in presets:
        shown = default if isinstance(default, str) else _toml_type(default)
        return None, [f"default_preset: {unknown_preset(shown, presets)} in {path.name}"]
    return default, []


def _read_config_file(path: Path) -> tuple[dict[str, Any], list[str]]:
    """Parse the TOML file; a missing file is an empty config."""
    try:
        raw = read_file_at_most(path, CONFIG_FILE_BYTES)
    except FileNotFoundError:
        return {}, []
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from error
    except TooLarge as error:
        raise ConfigError(f"{path} {error}") from error
    try:
        values = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path} is not UTF-8 text") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from error
    warnings = [
        f"unknown setting {key!r} in {path.name} (ignored)"
        for key in values
        if key not in _TOP_LEVEL_KEYS
    ]
    secret = _secret_held(values)
    if secret and _readable_by_others(path):
        warnings.append(
            f"{path.name} holds {secret} and other users can read it: run chmod 600 {path}"
        )
    return values, warnings


def _secret_held(values: Mapping[str, Any]) -> str:
    """What secret the file holds ("an API key", ...), or "" if none."""
    providers = values.get("providers")
    provider_keys = isinstance(providers, dict) and any(
        isinstance(p, dict) and p.get("api_key") for p in providers.values()
    )
    if values.get("api_key") or provider_keys:
        return "an API key"
    servers = values.get("mcp_servers")
    if isinstance(servers, dict) and any(
        isinstance(s, dict) and (s.get("env") or s.get("headers")) for s in servers.values()
    ):
        return "MCP server env or headers (often tokens)"
    return ""


def _readable_by_others(path: Path) -> bool:
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return bool(mode & (stat.S_IRWXG | stat.S_IRWXO))


def _read_providers(table: Any, env: Mapping[str, str], path: Path) -> dict[str, Provider]:
    if not isinstance(table, dict):
        raise ConfigError("[providers] must be a table of [providers.NAME] tables")
    providers: dict[str, Provider] = {}
    for name, values in table.items():
        if not isinstance(values, dict):
            raise ConfigError(f"[providers.{name}] must be a table")
        unknown = set(values) - _PROVIDER_KEYS
        if unknown:
            raise ConfigError(f"[providers.{name}] has unknown setting {sorted(unknown)[0]!r}")
        where = f"providers.{name}.{{}} in {path}"
        key_env = _text(values.get("api_key_env"), where.format("api_key_env")) or None
        key = (env.get(key_env) if key_env else None) or values.get("api_key")
        providers[name] = Provider(
            name=name,
            base_url=base_url_of(values.get("base_url"), where.format("base_url")),
            api_key=_text(key, where.format("api_key")) or None,
            api_key_env=key_env,
            model=_text(values.get("model"), where.format("model")) or None,
        )
    return providers


_KEY_EXAMPLE = '"app.quit" = "ctrl+q"'
MAX_KEY_WARNINGS = 10
"""Entries warned about one by one; a table of thousands is summed up in one more line."""


def _read_mcp_servers(table: Any, path: Path) -> dict[str, ServerConfig]:
    try:
        return read_servers(table, in_file=f" in {path}")
    except ServerConfigError as error:
        raise ConfigError(str(error)) from None


def _read_keys(table: Any) -> tuple[dict[str, str], list[str]]:
    """The `[keys]` entries that are text, and a warning naming each one that is not.

    Whether the text names a binding and keys chat-tui knows is checked by the app, which
    knows its bindings; a wrong entry never costs the person the rest of the table.
    """
    if not isinstance(table, dict):
        return {}, [
            f"[keys] must be a table of binding ids and keys, e.g. {_KEY_EXAMPLE} (ignored)"
        ]
    keys: dict[str, str] = {}
    warnings: list[str] = []
    wrong = 0
    for binding_id, spec in table.items():
        if isinstance(spec, str):
            keys[binding_id] = spec
            continue
        wrong += 1
        if wrong > MAX_KEY_WARNINGS:
            continue
        shown = inline_text(binding_id, 80)
        if isinstance(spec, dict):
            warnings.append(
                f"[keys] {shown} is a table: put a dotted id in quotes, e.g. {_KEY_EXAMPLE} "
                "(ignored)"
            )
        else:
            warnings.append(
                f'[keys] {shown} = {_shown_value(spec)}: a key must be text, e.g. "ctrl+q" '
                "(ignored)"
            )
    if wrong > MAX_KEY_WARNINGS:
        more = wrong - MAX_KEY_WARNINGS
        warnings.append(f"[keys] has {more} more entries that are not text (ignored)")
    return keys, warnings


def _text(value: Any, source: str, *, strip: bool = True) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ConfigError(f"{source} must be text, not {_toml_type(value)}")
    return value.strip() if strip else value


def _quoted(text: str, limit: int = 120) -> str:
    """A value quoted in a message: one line, every control character visible, cut."""
    return f"'{inline_text(text, limit)}'"


def _toml_type(value: Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return "a date or time"


def _shown_value(value: Any) -> str:
    """A value from any layer as a message shows it: numbers as written, text quoted, and
    for anything else only its kind (a list can be as long as the file)."""
    if isinstance(value, str):
        return _quoted(value, 40)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return inline_text(repr(value), 40)
    return _toml_type(value)


def _seconds(value: Any, source: str) -> float:
    low, high = TIMEOUT_RANGE
    number = _float(value)
    if number is None or not low <= number <= high:
        raise ConfigError(
            f"{source} must be a number of seconds from {low:g} to {high:g} "
            f"(got {_shown_value(value)})"
        )
    return number


def _float(value: Any) -> float | None:
    """`value` as a finite number, or None: a number from the file, text from elsewhere."""
    try:
        if isinstance(value, str):
            number = float(value.strip())
        elif isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
        else:
            return None
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _retries(value: Any, source: str) -> int:
    return _whole_in(value, source, MAX_RETRIES_RANGE)


def _tool_rounds(value: Any, source: str) -> int:
    return _whole_in(value, source, TOOL_ROUNDS_RANGE)


def _whole_in(value: Any, source: str, bounds: tuple[int, int]) -> int:
    """`value` as a whole number within `bounds`, or one error naming `source`."""
    low, high = bounds
    number = _whole(value)
    if number is None or not low <= number <= high:
        raise ConfigError(
            f"{source} must be a whole number from {low} to {high} (got {_shown_value(value)})"
        )
    return number


def _whole(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip()) if len(value.strip()) <= 4 else None
    return None


# -- server addresses ----------------------------------------------------------------------

_SCHEME = re.compile(r"https?://", re.IGNORECASE)
_HOST_NAME = re.compile(r"[A-Za-z0-9._-]+")
_IPV4_LIKE = re.compile(r"[0-9]+(\.[0-9]+){3}")
_USERINFO = "has a user name or password in it (not repeated here)"


def base_url_of(value: Any, source: str) -> str | None:
    """`value` as a server address, None when empty; otherwise a `ConfigError` naming
    `source` and what is wrong, so a bad address never reaches the HTTP library.

    The address must be http or https, with a host, a port (if any) from 1 to 65535, and no
    control characters, spaces, user name, password, query or fragment. A password in it is
    never repeated in the message.
    """
    text = _text(value, source)
    if not text:
        return None
    problem = _url_problem(text)
    if problem == _USERINFO:
        raise ConfigError(
            f"{source} {problem}: take it out; the key goes in OPENAI_API_KEY or api_key"
        )
    if problem:
        raise ConfigError(f"{source} {problem}: {_quoted(_without_userinfo(text))}")
    return text.rstrip("/")


def _url_problem(text: str) -> str | None:
    if len(text) > MAX_URL_LENGTH:
        return f"is longer than {MAX_URL_LENGTH} characters"
    odd = next((c for c in text if c.isspace() or not c.isprintable()), None)
    if odd is not None:
        if unicodedata.category(odd) == "Cc":
            return f"has a control character in it ({inline_text(odd, 1)})"
        return "has a space in it" if odd.isspace() else "has an invisible character in it"
    scheme = _SCHEME.match(text)
    if scheme is None:
        return "must start with http:// or https://"
    authority, rest = _split_authority(text[scheme.end() :])
    if "@" in authority:
        return _USERINFO
    if "?" in rest or "#" in rest:
        return "has a query or fragment (? or #), which the API paths cannot follow"
    return _authority_problem(authority)


def _split_authority(after_scheme: str) -> tuple[str, str]:
    """(host and port, the rest): the host and port end at the first / ? or #."""
    match = re.search(r"[/?#]", after_scheme)
    end = match.start() if match else len(after_scheme)
    return after_scheme[:end], after_scheme[end:]


def _authority_problem(authority: str) -> str | None:
    if authority.startswith("["):
        address, bracket, port = authority[1:].partition("]")
        if not bracket:
            return "has an IPv6 address without its closing ]"
        try:
            ipaddress.IPv6Address(address.replace("%25", "%", 1))
        except ValueError:
            return f"has {_quoted(address, 60)}, which is not a valid IPv6 address"
        if port and not port.startswith(":"):
            return "has something other than a :port after the IPv6 address"
        return _port_problem(port[1:]) if port else None
    host, colon, port = authority.partition(":")
    if ":" in port:
        return "has an IPv6 address, which needs brackets: http://[::1]:8080"
    if not host:
        return "has no host"
    if _IPV4_LIKE.fullmatch(host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return f"has {_quoted(host, 60)}, which is not a valid IPv4 address"
    elif not _host_name_ok(host):
        return f"has a character that cannot be in a host name in {_quoted(host, 60)}"
    return _port_problem(port) if colon else None


def _host_name_ok(host: str) -> bool:
    if host.isascii():
        return _HOST_NAME.fullmatch(host) is not None
    # The rules the HTTP library encodes such a name by (IDNA 2008), not the older ones
    # of Python's own codec, which take names the library then refuses.
    import idna

    try:
        idna.encode(host.lower())
    except UnicodeError:
        return False
    return True


def _port_problem(port: str) -> str | None:
    if not port:
        return "has no port after the ':'"
    if not (port.isascii() and port.isdigit()):
        return f"has port {_quoted(port, 20)}, which is not a number"
    if len(port) > 5 or not 1 <= int(port) <= 65535:
        return f"has port {inline_text(port.lstrip('0') or '0', 20)}, which is outside 1-65535"
    return None


def _without_userinfo(text: str) -> str:
    """`text` without what comes before its last @, so that an address refused for another
    reason never shows a password in the message, however mangled its scheme is."""
    at = text.rfind("@")
    return text if at < 0 else "…" + text[at:]


def save_top_level(path: Path, updates: Mapping[str, str]) -> None:
    """Set top-level string settings in the config file, keeping everything else as written.

    Lines are edited in place so the person's comments and layout survive. The result is
    re-parsed before it replaces the file, and the file is written with mode 0600 because it
    may hold a key.
    """
    try:
        lines = read_file_at_most(path, CONFIG_FILE_BYTES).decode("utf-8").splitlines(True)
    except FileNotFoundError:
        lines = []
    except (TooLarge, UnicodeDecodeError) as error:
        raise ConfigError(f"could not update {path}: {error}") from error
    for key, value in updates.items():
        lines = _set_line(lines, key, f"{key} = {json.dumps(value, ensure_ascii=False)}\n")
    text = "".join(lines)
    try:
        parsed = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"could not update {path}: {error}") from error
    for key, value in updates.items():
        if parsed.get(key) != value:
            raise ConfigError(f"could not update {key!r} in {path}: edit it by hand")
    paths.ensure_private_dir(path.parent)
    write_text_atomic(path, text, mode=0o600)


def _set_line(lines: list[str], key: str, new_line: str) -> list[str]:
    """Replace `key = ...` before the first table header, or insert it there."""
    first_table = next(
        (i for i, line in enumerate(lines) if line.lstrip().startswith("[")), len(lines)
    )
    for i in range(first_table):
        name = lines[i].split("=", 1)[0].strip().strip('"')
        if "=" in lines[i] and name == key:
            return [*lines[:i], new_line, *lines[i + 1 :]]
    if first_table and not lines[first_table - 1].endswith("\n"):
        lines[first_table - 1] += "\n"
    return [*lines[:first_table], new_line, *lines[first_table:]]
