"""First-run setup: where the server is, the key (if any), the default model.

What the person enters is written to their own config.toml (mode 0600) and nowhere else;
the key field is masked on screen.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static

from chat_tui.config import ConfigError, base_url_of
from chat_tui.tui.screens.modals import Dialog


@dataclass(frozen=True)
class SetupAnswers:
    base_url: str
    api_key: str
    model: str


class SetupDialog(Dialog):
    """Dismisses with `SetupAnswers`, or None when cancelled."""

    def __init__(self, base_url: str, model: str, config_path: str) -> None:
        super().__init__()
        self._base_url = base_url
        self._model = model
        self._config_path = config_path

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box -wide"):
            yield Label("Set up a server", classes="dialog-title")
            yield Static(
                "Local servers (llama.cpp, vLLM, Ollama, LM Studio) need only their address; "
                "for OpenAI leave it empty and give a key.",
                classes="dialog-text",
                markup=False,
            )
            yield Label("Server address", classes="dialog-label")
            yield Input(
                self._base_url, placeholder="http://localhost:8080/v1", id="base-url", compact=True
            )
            yield Label("API key", classes="dialog-label")
            yield Input(
                placeholder="sk-… (not needed for local servers)",
                password=True,
                id="api-key",
                compact=True,
            )
            yield Label("Model", classes="dialog-label")
            yield Input(self._model, placeholder="gpt-4o-mini", id="default-model", compact=True)
            yield Static(
                f"Saved to {self._config_path} (readable by you only).",
                classes="dialog-hint",
                markup=False,
            )
            yield Static("", id="setup-error", classes="dialog-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Save", id="save", variant="primary", compact=True)

    @on(Input.Submitted)
    @on(Button.Pressed, "#save")
    def _save(self) -> None:
        base_url = self.query_one("#base-url", Input).value.strip()
        api_key = self.query_one("#api-key", Input).value.strip()
        model = self.query_one("#default-model", Input).value.strip()
        error = self.query_one("#setup-error", Static)
        try:
            base_url = base_url_of(base_url, "The address") or ""
        except ConfigError as problem:
            error.update(str(problem))
            return
        if not base_url and not api_key:
            error.update("Give a server address, an API key, or both.")
            return
        self.dismiss(SetupAnswers(base_url, api_key, model))

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)
