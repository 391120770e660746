"""How many tokens a model's context holds, and where chat-tui learned it.

In order: `context_window` in config.toml (per model, per provider, top level), else what the
server said: its own report (llama.cpp's `/props`, Ollama's model information), or the
number in its refusal of a request that was too long. What a server said is remembered per
server and model in a small file in the data directory, so the next run knows it at once.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chat_tui import limits
from chat_tui.atomic import write_text_atomic
from chat_tui.paths import ensure_private_dir

if TYPE_CHECKING:
    from chat_tui.client import ChatClient

WINDOW_RANGE = limits.CONTEXT_WINDOW_TOKENS
MEMORY_FILE = "context_windows.json"


class WindowConfigError(ValueError):
    """A `context_window` in config.toml is not a usable number; the message names it."""


@dataclass(frozen=True)
class WindowConfig:
    """The `context_window` settings of config.toml."""

    top: int | None = None
    providers: Mapping[str, int] = field(default_factory=dict)
    models: Mapping[str, int] = field(default_factory=dict)
    flag: int | None = None
    """`--context-window`: every model's window for this run, over the file's."""

    def configured(self, provider: str | None, model: str) -> int | None:
        """The window given for this run, else the most specific one configured for `model`
        on `provider`, if any."""
        return self.flag or self.models.get(model) or self.providers.get(provider or "") or self.top


def read_window_config(values: Mapping[str, Any], path: Path) -> WindowConfig:
    """`context_window` at the top of the file, in `[providers.NAME]` and in
    `[models."NAME"]` (other keys of those tables are not looked at here)."""
    providers: dict[str, int] = {}
    models: dict[str, int] = {}
    for table_name, found in (("providers", providers), ("models", models)):
        table = values.get(table_name)
        if not isinstance(table, dict):
            continue
        for name, entry in table.items():
            if isinstance(entry, dict) and "context_window" in entry:
                where = f'{table_name}."{name}".context_window in {path}'
                found[name] = window_setting(entry["context_window"], where)
    top = values.get("context_window")
    return WindowConfig(
        top=None if top is None else window_setting(top, f"context_window in {path}"),
        providers=providers,
        models=models,
    )


def window_setting(value: Any, source: str) -> int:
    """`value` as a window in tokens, or `WindowConfigError` naming `source`."""
    if (window := plausible(value)) is not None:
        return window
    low, high = WINDOW_RANGE
    raise WindowConfigError(
        f"{source} must be a whole number of tokens from {low} to {high:,} (got {value!r:.40})"
    )


def window_flag(text: str) -> int:
    """`--context-window TOKENS`, or `WindowConfigError` saying what it must be."""
    digits = text.strip().replace("_", "")
    number = digits.isascii() and digits.isdigit() and len(digits) <= 12
    value: Any = int(digits) if number else text
    return window_setting(value, "--context-window")


def plausible(value: object) -> int | None:
    """`value` if it is a window a server could mean, else None."""
    low, high = WINDOW_RANGE
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return value
    return None


# -- what a server says --------------------------------------------------------------------

_STATED = (
    re.compile(r"maximum context length is (\d+)", re.IGNORECASE),  # OpenAI, vLLM
    re.compile(r"context (?:length|window|size) (?:is|of) (\d+)", re.IGNORECASE),
    re.compile(r"\bn_ctx\b\D{0,10}(\d+)", re.IGNORECASE),  # llama.cpp's message or fields
    re.compile(r"max_model_len\D{0,10}(\d+)", re.IGNORECASE),
)


def window_from_refusal(body: Any, message: str) -> int | None:
    """The window a server's "too long" answer states: a number field (`n_ctx`, llama.cpp),
    else a number in its words ("This model's maximum context length is 8192 tokens")."""
    error = body.get("error", body) if isinstance(body, dict) else None
    if isinstance(error, dict):
        stated = plausible(error.get("n_ctx"))
        if stated is not None:
            return stated
    for pattern in _STATED:
        match = pattern.search(message)
        if match and len(match.group(1)) <= 10:
            stated = plausible(int(match.group(1)))
            if stated is not None:
                return stated
    return None


def window_from_props(props: Any) -> int | None:
    """llama.cpp's `GET /props`: `default_generation_settings.n_ctx`, or `n_ctx`."""
    if not isinstance(props, dict):
        return None
    settings = props.get("default_generation_settings")
    if isinstance(settings, dict) and (window := plausible(settings.get("n_ctx"))) is not None:
        return window
    return plausible(props.get("n_ctx"))


def window_from_ollama(show: Any) -> int | None:
    """Ollama's `POST /api/show`: the `num_ctx` the model runs with when its parameters set
    one, else the model's own `*.context_length`."""
    if not isinstance(show, dict):
        return None
    parameters = show.get("parameters")
    if isinstance(parameters, str):
        match = re.search(r"^\s*num_ctx\s+(\d{1,10})\s*$", parameters, re.MULTILINE)
        if match and plausible(int(match.group(1))) is not None:
            return int(match.group(1))
    info = show.get("model_info")
    if isinstance(info, dict):
        for key, value in info.items():
            if isinstance(key, str) and key.endswith(".context_length"):
                found = plausible(value)
                if found is not None:
                    return found
    return None


# -- remembered across runs ----------------------------------------------------------------


class WindowMemory:
    """Windows servers reported, by server address and model, kept in `MEMORY_FILE`.

    Read once, on first use (callers do that off the event loop); each new value rewrites the
    file atomically. A damaged, oversized or strange file is read as empty and replaced on
    the next write: it only saves a probe or one refused request.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._windows: dict[str, int] | None = None
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self.directory / MEMORY_FILE

    def get(self, server: str, model: str) -> int | None:
        with self._lock:
            return self._loaded().get(_key(server, model))

    def load(self) -> None:
        """Read the file now (blocking), so `peek` knows what it holds."""
        with self._lock:
            self._loaded()

    def peek(self, server: str, model: str) -> int | None:
        """What is known without touching the disk (nothing before the file was read)."""
        windows = self._windows
        return windows.get(_key(server, model)) if windows is not None else None

    def remember(self, server: str, model: str, tokens: int) -> None:
        """Keep `tokens` for `model` on `server` (blocking: writes the file when it changed)."""
        if plausible(tokens) is None:
            return
        key = _key(server, model)
        with self._lock:
            windows = self._loaded()
            if windows.get(key) == tokens:
                return
            windows.pop(key, None)
            windows[key] = tokens
            while len(windows) > limits.WINDOWS_REMEMBERED:
                del windows[next(iter(windows))]
            entries = [
                {"server": s, "model": m, "tokens": t}
                for (s, m), t in ((k.split("\n", 1), v) for k, v in windows.items())
            ]
            ensure_private_dir(self.directory)
            write_text_atomic(self.path, json.dumps({"version": 1, "windows": entries}, indent=1))

    def _loaded(self) -> dict[str, int]:
        if self._windows is None:
            self._windows = _read(self.path)
        return self._windows


def _key(server: str, model: str) -> str:
    return f"{server}\n{model}"


def _read(path: Path) -> dict[str, int]:
    try:
        with limits.open_regular_file(path) as handle:
            data = limits.load_json(handle, limits.WINDOWS_FILE_BYTES)
    except (OSError, ValueError):
        return {}
    entries = data.get("windows") if isinstance(data, dict) else None
    windows: dict[str, int] = {}
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        server, model = entry.get("server"), entry.get("model")
        tokens = plausible(entry.get("tokens"))
        if isinstance(server, str) and isinstance(model, str) and "\n" not in server and tokens:
            windows[_key(server, model)] = tokens
    return dict(list(windows.items())[-limits.WINDOWS_REMEMBERED :])


# -- one place to ask ----------------------------------------------------------------------

PROBE_TIMEOUT = 3.0
"""Seconds a server gets to answer a question about its window: one that does not answer
costs the first reply this much at most, once per run."""
OPENAI_API = "https://api.openai.com/v1"


class ContextWindows:
    """The windows of every server and model this process talks to.

    `window_for` answers from config.toml, else from what servers said (remembered in
    `WindowMemory`), else asks the server once per run; `learn` keeps what a refusal stated.
    The file is read and written in a thread, never on the event loop.
    """

    def __init__(self, config: WindowConfig, memory: WindowMemory) -> None:
        self.config = config
        self.memory = memory
        self._asked: set[str] = set()

    def known(self, client: ChatClient, model: str) -> int | None:
        """What is known without asking anyone or reading the disk: config.toml, and the
        file once it was read (`window_for` reads it)."""
        configured = self.config.configured(_provider_name(client), model)
        return configured or self.memory.peek(server_of(client), model)

    async def window_for(self, client: ChatClient, model: str) -> int | None:
        configured = self.config.configured(_provider_name(client), model)
        if configured:
            return configured
        server = server_of(client)
        if _key(server, model) in self._asked:  # the file was read before it was asked
            return self.memory.peek(server, model)
        remembered = await asyncio.to_thread(self.memory.get, server, model)
        if remembered:
            return remembered
        self._asked.add(_key(server, model))
        try:
            reported = await self._ask(client, model)
        except asyncio.CancelledError:  # the reply ended first: the next one asks again
            self._asked.discard(_key(server, model))
            raise
        if reported is not None:
            await asyncio.to_thread(self.memory.remember, server, model, reported)
        return reported

    async def learn(self, client: ChatClient, model: str, tokens: int) -> None:
        await asyncio.to_thread(self.memory.remember, server_of(client), model, tokens)

    async def _ask(self, client: ChatClient, model: str) -> int | None:
        """What a local server reports (llama.cpp, then Ollama); None from anything else."""
        if client.provider.base_url is None:
            return None  # OpenAI's API reports no windows
        props = await client.server_json("GET", "/props", timeout=PROBE_TIMEOUT)
        found = window_from_props(props)
        if found is None:
            show = await client.server_json(
                "POST", "/api/show", {"model": model}, timeout=PROBE_TIMEOUT
            )
            found = window_from_ollama(show)
        return found


def server_of(client: ChatClient) -> str:
    """The address a window is remembered under."""
    return client.provider.base_url or OPENAI_API


def _provider_name(client: ChatClient) -> str:
    return client.provider.name
