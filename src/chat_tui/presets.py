"""Presets: named sets of model, provider, system prompt and generation settings, kept as
`[presets.NAME]` tables in config.toml, and written there by "preset: save current".

Writing touches only the preset's own table: every other line of the file, comments
included, stays as the person wrote it.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chat_tui import limits, paths
from chat_tui.atomic import write_text_atomic
from chat_tui.generation import NAMES, Generation, SettingError, parse
from chat_tui.models import Conversation

if TYPE_CHECKING:
    from chat_tui.config import Settings

NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,40}")
"""A preset name is a bare TOML key: letters, digits, - and _."""
PRESET_KEYS = frozenset({"system_prompt", "model", "provider", *NAMES})


class PresetError(ValueError):
    """A preset cannot be read or written; the message says why in one line."""


@dataclass(frozen=True)
class Preset:
    name: str
    model: str | None = None
    provider: str | None = None
    system_prompt: str | None = None
    settings: Generation = field(default_factory=Generation)

    def to_table(self) -> dict[str, Any]:
        """The preset as config.toml holds it (only what it sets)."""
        table: dict[str, Any] = {}
        for key in ("model", "provider", "system_prompt"):
            value = getattr(self, key)
            if value is not None:
                table[key] = value
        table.update(self.settings.to_dict())
        return table


def read_presets(table: Any, where: str) -> tuple[dict[str, Preset], list[str]]:
    """The `[presets]` table's presets, and a warning for each one that cannot be used
    (it is left out; the others stay)."""
    if table is None:
        return {}, []
    if not isinstance(table, dict):
        return {}, [f"[presets] must be a table of [presets.NAME] tables{where} (ignored)"]
    presets: dict[str, Preset] = {}
    warnings: list[str] = []
    for name, values in list(table.items())[: limits.PRESETS]:
        try:
            presets[name] = _preset(name, values)
        except PresetError as error:
            warnings.append(f"[presets.{_shown(name)}] {error}{where} (preset ignored)")
    return presets, warnings


def _preset(name: str, values: Any) -> Preset:
    if not NAME_PATTERN.fullmatch(name):
        raise PresetError("has a name that is not letters, digits, - and _")
    if not isinstance(values, dict):
        raise PresetError("must be a table")
    unknown = sorted(set(values) - PRESET_KEYS)
    if unknown:
        raise PresetError(f"has unknown setting {_shown(unknown[0])!r}")
    texts: dict[str, str | None] = {}
    for key in ("model", "provider", "system_prompt"):
        value = values.get(key)
        if value is not None and not isinstance(value, str):
            raise PresetError(f"{key} must be text")
        texts[key] = value.strip() if isinstance(value, str) and key != "system_prompt" else value
    try:
        settings = parse(values)
    except SettingError as error:
        raise PresetError(str(error)) from None
    return Preset(
        name=name,
        model=texts["model"] or None,
        provider=texts["provider"] or None,
        system_prompt=texts["system_prompt"],
        settings=settings,
    )


def unknown_preset(name: str, known: Mapping[str, Preset]) -> str:
    """The one line that says a preset does not exist, listing the ones that do."""
    listed = ", ".join(sorted(known)) if known else "none configured"
    return f"unknown preset {_shown(name)!r} (known: {listed})"


def _shown(text: str) -> str:
    from chat_tui.safetext import inline_text

    return inline_text(text, 40)


# -- using -------------------------------------------------------------------------------


def apply_preset(conversation: Conversation, preset: Preset, settings: Settings) -> None:
    """The preset's provider, model, system prompt and settings on `conversation`; what
    it leaves out stays as it was, except that a new provider brings its own model."""
    if preset.provider is not None:
        if preset.provider not in settings.providers:
            known = ", ".join(sorted(settings.providers))
            raise PresetError(
                f"preset {preset.name}: unknown provider {_shown(preset.provider)!r} "
                f"(configured: {known})"
            )
        conversation.provider = None if preset.provider == "default" else preset.provider
        if preset.model is None:
            conversation.model = settings.starting_model(preset.provider)
    if preset.model:
        conversation.model = preset.model
    if preset.system_prompt is not None:
        conversation.system_prompt = preset.system_prompt
    conversation.settings = preset.settings


def apply_flags(conversation: Conversation, settings: Settings) -> None:
    """What the command line gave wins over a continued conversation and a preset."""
    flags = settings.flags
    if "provider" in flags or "base_url" in flags:
        chosen = settings.provider if settings.provider != "default" else None
        if "provider" in flags and chosen != conversation.provider:
            conversation.model = settings.starting_model(settings.provider)
        conversation.provider = chosen
    if "model" in flags:
        conversation.model = settings.model
    if "system_prompt" in flags:
        conversation.system_prompt = settings.system_prompt
    conversation.settings = settings.generation_flags.over(conversation.settings)


def new_conversation(settings: Settings) -> Conversation:
    """An empty conversation on the configured provider, model and system prompt, then
    the chosen preset (`--preset`, `default_preset`), then the flags; its model is left
    empty when the server is to be asked which one it serves."""
    provider = settings.provider
    conversation = Conversation(
        model=settings.starting_model(provider),
        provider=provider if provider != "default" else None,
        system_prompt=settings.system_prompt,
    )
    if settings.preset is not None and settings.preset in settings.presets:
        apply_preset(conversation, settings.presets[settings.preset], settings)
        apply_flags(conversation, settings)
    else:
        conversation.settings = settings.generation_flags
    return conversation


# -- writing -------------------------------------------------------------------------------


def save_preset(path: Path, preset: Preset) -> None:
    """Write `preset` as `[presets.NAME]` into the config file, replacing a table of that
    name; the rest of the file is kept byte for byte. Atomic, mode 0600 (the file may hold
    a key). Raises `PresetError` (a bad name, a file that would not read back) or `OSError`."""
    if not NAME_PATTERN.fullmatch(preset.name):
        raise PresetError(
            f"{_shown(preset.name)!r} is not a simple name: use letters, digits, - and _"
        )
    try:
        text = limits.read_file_at_most(path, limits.CONFIG_FILE_BYTES).decode("utf-8")
    except FileNotFoundError:
        text = ""
    except (limits.TooLarge, UnicodeDecodeError) as error:
        raise PresetError(f"could not update {path}: {error}") from error
    header = f"[presets.{preset.name}]"
    table = header + "\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in preset.to_table().items())
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.strip() == header), None)
    if start is None:
        separator = "" if not text else "\n" if text.endswith("\n") else "\n\n"
        new_text = text + separator + table
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")),
            len(lines),
        )
        while end > start + 1 and not lines[end - 1].strip():
            end -= 1  # keep the blank lines before the next table
        new_text = "".join(lines[:start]) + table + "".join(lines[end:])
    try:
        parsed = tomllib.loads(new_text)
    except tomllib.TOMLDecodeError as error:
        raise PresetError(f"could not add the preset to {path}: {error}") from None
    written = parsed.get("presets", {}).get(preset.name)
    if written != json.loads(json.dumps(preset.to_table())):
        raise PresetError(f"could not write [presets.{preset.name}] in {path}: edit it by hand")
    paths.ensure_private_dir(path.parent)
    write_text_atomic(path, new_text, mode=0o600)


def _toml(value: Any) -> str:
    """`value` as a TOML value: JSON's string escapes are TOML's too."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise PresetError("a setting is not a finite number")
        return repr(value)
    if isinstance(value, str):
        # TOML, unlike JSON, wants DEL escaped too.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, Mapping):
        items = ", ".join(f"{_toml(str(k))} = {_toml(v)}" for k, v in value.items())
        return "{ " + items + " }" if items else "{}"
    raise PresetError("a setting has a value config.toml cannot hold (null)")
