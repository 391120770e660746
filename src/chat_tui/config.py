"""Settings: defaults < `config.toml` < environment < command-line flags.

The config file is the only place an API key is ever written, and it is written with mode
0600. Everything here is plain Python so the CLI, the TUI and the tests share one resolution.
"""

from __future__ import annotations

import json
import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from chat_tui import paths
from chat_tui.atomic import write_text_atomic

DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_PROVIDER = "default"
DEFAULT_THEME = "textual-dark"
DEFAULT_TIMEOUT = 120.0
DEFAULT_MAX_RETRIES = 2
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
}
_PROVIDER_KEYS = {"base_url", "api_key", "api_key_env", "model"}


def load_settings(
    *,
    environ: Mapping[str, str] | None = None,
    config_path: Path | None = None,
    cli: Mapping[str, Any] | None = None,
) -> Settings:
    """Resolve settings from every layer. Raises `ConfigError` with a one-line reason."""
    env = os.environ if environ is None else environ
    path = config_path or paths.config_file()
    file_values, warnings = _read_config_file(path)
    cli = {k: v for k, v in (cli or {}).items() if v is not None}

    def pick(name: str, env_name: str | None, default: Any) -> Any:
        if name in cli:
            return cli[name]
        if env_name and env.get(env_name):
            return env[env_name]
        return file_values.get(name, default)

    default_provider = Provider(
        name=DEFAULT_PROVIDER,
        base_url=_clean_url(pick("base_url", "OPENAI_BASE_URL", None), "base_url"),
        api_key=_text(env.get("OPENAI_API_KEY") or file_values.get("api_key"), "api_key") or None,
        api_key_env="OPENAI_API_KEY",
    )
    providers = {DEFAULT_PROVIDER: default_provider}
    providers.update(_read_providers(file_values.get("providers", {}), env))

    provider = _text(pick("provider", "CHAT_TUI_PROVIDER", DEFAULT_PROVIDER), "provider")
    if provider not in providers:
        known = ", ".join(sorted(providers))
        raise ConfigError(f"unknown provider {provider!r} (configured: {known})")
    if cli.get("base_url") and provider != DEFAULT_PROVIDER:
        providers[provider] = replace(providers[provider], base_url=cli["base_url"])

    model_default = providers[provider].model or DEFAULT_MODEL
    settings = Settings(
        providers=providers,
        provider=provider,
        model=_text(pick("model", "CHAT_TUI_MODEL", model_default), "model") or model_default,
        system_prompt=_text(pick("system_prompt", "CHAT_TUI_SYSTEM_PROMPT", ""), "system_prompt"),
        timeout=_positive_float(pick("timeout", "CHAT_TUI_TIMEOUT", DEFAULT_TIMEOUT), "timeout"),
        max_retries=_retries(pick("max_retries", "CHAT_TUI_MAX_RETRIES", DEFAULT_MAX_RETRIES)),
        theme=_text(pick("theme", "CHAT_TUI_THEME", DEFAULT_THEME), "theme") or DEFAULT_THEME,
        keys=_read_keys(file_values.get("keys", {})),
        config_path=path,
        warnings=tuple(warnings),
    )
    return settings


def _read_config_file(path: Path) -> tuple[dict[str, Any], list[str]]:
    """Parse the TOML file; a missing file is an empty config."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}, []
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from error
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
    if _holds_key(values) and _readable_by_others(path):
        warnings.append(
            f"{path.name} holds an API key and other users can read it: run chmod 600 {path}"
        )
    return values, warnings


def _holds_key(values: Mapping[str, Any]) -> bool:
    providers = values.get("providers")
    provider_keys = isinstance(providers, dict) and any(
        isinstance(p, dict) and p.get("api_key") for p in providers.values()
    )
    return bool(values.get("api_key")) or provider_keys


def _readable_by_others(path: Path) -> bool:
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return bool(mode & (stat.S_IRWXG | stat.S_IRWXO))


def _read_providers(table: Any, env: Mapping[str, str]) -> dict[str, Provider]:
    if not isinstance(table, dict):
        raise ConfigError("[providers] must be a table of [providers.NAME] tables")
    providers: dict[str, Provider] = {}
    for name, values in table.items():
        if not isinstance(values, dict):
            raise ConfigError(f"[providers.{name}] must be a table")
        unknown = set(values) - _PROVIDER_KEYS
        if unknown:
            raise ConfigError(f"[providers.{name}] has unknown setting {sorted(unknown)[0]!r}")
        key_env = _text(values.get("api_key_env"), f"providers.{name}.api_key_env") or None
        key = (env.get(key_env) if key_env else None) or values.get("api_key")
        providers[name] = Provider(
            name=name,
            base_url=_clean_url(values.get("base_url"), f"providers.{name}.base_url"),
            api_key=_text(key, f"providers.{name}.api_key") or None,
            api_key_env=key_env,
            model=_text(values.get("model"), f"providers.{name}.model") or None,
        )
    return providers


def _read_keys(table: Any) -> dict[str, str]:
    if not isinstance(table, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in table.items()
    ):
        raise ConfigError('[keys] must map binding ids to keys, e.g. "app.quit" = "ctrl+q"')
    return dict(table)


def _text(value: Any, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be text, not {type(value).__name__}")
    return value.strip() if name != "system_prompt" else value


def _clean_url(value: Any, name: str) -> str | None:
    text = _text(value, name)
    if not text:
        return None
    if not text.startswith(("http://", "https://")):
        raise ConfigError(f"{name} must start with http:// or https:// (got {text!r})")
    return text.rstrip("/")


def _positive_float(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number of seconds (got {value!r})") from None
    if not number > 0:
        raise ConfigError(f"{name} must be more than 0 (got {value!r})")
    return number


def _retries(value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"max_retries must be a whole number (got {value!r})") from None
    if not 0 <= number <= 10:
        raise ConfigError(f"max_retries must be between 0 and 10 (got {number})")
    return number


def save_top_level(path: Path, updates: Mapping[str, str]) -> None:
    """Set top-level string settings in the config file, keeping everything else as written.

    Lines are edited in place so the person's comments and layout survive. The result is
    re-parsed before it replaces the file, and the file is written with mode 0600 because it
    may hold a key.
    """
    try:
        lines = path.read_text("utf-8").splitlines(keepends=True)
    except FileNotFoundError:
        lines = []
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
