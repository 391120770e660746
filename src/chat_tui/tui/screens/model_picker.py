"""Choose the server, model, system prompt, generation settings and tool servers of the open
conversation (ctrl+o), or start from a preset.

The list comes from the server's /models; when the server lists none (or cannot be asked),
any name can be typed. The settings are checked as they are typed, and an empty field means
config.toml's default, else the server's. The MCP servers configured are listed with a tick
for those whose tools this conversation offers. The choice applies to the next reply, also
mid-conversation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.validation import ValidationResult, Validator
from textual.widgets import (
    Button,
    Input,
    Label,
    OptionList,
    Select,
    SelectionList,
    Static,
    TextArea,
)
from textual.widgets.option_list import Option
from textual.widgets.selection_list import Selection

from chat_tui.generation import FLAG_NAMES, Generation, SettingError, check
from chat_tui.presets import Preset
from chat_tui.safetext import display_text, one_line
from chat_tui.tui.screens.modals import Dialog

ModelLister = Callable[[str], Awaitable[list[str]]]
"""Given a provider name, the model ids its server reports (raises on failure)."""


@dataclass(frozen=True)
class ModelChoice:
    provider: str
    model: str
    system_prompt: str
    tool_servers: frozenset[str] = field(default_factory=frozenset)
    """The MCP servers whose tools the conversation offers."""
    settings: Generation = field(default_factory=Generation)
    """The conversation's own generation settings (config.toml's defaults apart)."""


SETTING_LABELS = {
    "temperature": "temperature",
    "top_p": "top_p",
    "max_tokens": "max tokens",
    "reasoning_effort": "effort",
    "seed": "seed",
}


class SettingValidator(Validator):
    """One generation setting, checked as it is typed; empty is "not set"."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.setting = name

    def validate(self, value: str) -> ValidationResult:
        if not value.strip():
            return self.success()
        try:
            check(self.setting, value)
        except SettingError as error:
            return self.failure(f"{SETTING_LABELS[self.setting]}: {error}")
        return self.success()


def _shown_setting(value: object) -> str:
    if value is None:
        return ""
    return f"{value:g}" if isinstance(value, float) else str(value)


class ModelPicker(Dialog):
    """Provider, model, system prompt and tool servers in one dialog; dismisses with a
    `ModelChoice`."""

    def __init__(
        self,
        providers: list[str],
        current: ModelChoice,
        list_models: ModelLister,
        servers: Sequence[tuple[str, str]] = (),
        *,
        focus_servers: bool = False,
        presets: Mapping[str, Preset] | None = None,
        defaults: Generation | None = None,
    ):
        """`servers`: each configured MCP server's name and how it is reached; `defaults`:
        what config.toml sets, shown in the empty fields."""
        super().__init__()
        self._providers = providers
        self._current = current
        self._presets = dict(presets or {})
        self._defaults = defaults or Generation()
        self._kept = current.settings
        """The settings without a field here (stop, extra_body) come from this."""
        self._list_models = list_models
        self._models: list[str] = []
        self._servers = servers
        self._focus_servers = focus_servers

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box -wide"):
            yield Label("Model and system prompt", classes="dialog-title")
            if self._presets:
                yield Select(
                    [(Content(f"Preset: {name}"), name) for name in sorted(self._presets)],
                    prompt="Preset…",
                    id="preset",
                    compact=True,
                )
            if len(self._providers) > 1:
                yield Select(
                    [(Content(one_line(name)), name) for name in self._providers],
                    value=self._current.provider,
                    allow_blank=False,
                    id="provider",
                )
            yield Input(
                self._current.model, placeholder="Model name", id="model-name", compact=True
            )
            yield OptionList(id="models")
            yield Static("Loading models…", id="models-status", markup=False)
            yield Label("System prompt", classes="dialog-label", id="system-label")
            yield TextArea(
                display_text(self._current.system_prompt),
                id="system",
                soft_wrap=True,
                show_line_numbers=False,
                compact=True,
            )
            yield Label(
                "Settings (empty: config.toml's default, else the server's)",
                classes="dialog-label",
                id="settings-label",
            )
            with Horizontal(id="settings"):
                for name in FLAG_NAMES:
                    with Vertical(classes="setting-column"):
                        yield Label(SETTING_LABELS[name], classes="dialog-label")
                        yield Input(
                            _shown_setting(getattr(self._current.settings, name)),
                            placeholder=_shown_setting(getattr(self._defaults, name)) or "default",
                            validators=[SettingValidator(name)],
                            id=f"setting-{name}",
                            classes="setting",
                            compact=True,
                        )
            yield Static("", id="settings-status", markup=False)
            if self._servers:
                yield Label(
                    "Tools from MCP servers (space turns one on or off)",
                    classes="dialog-label",
                    id="servers-label",
                )
                yield SelectionList[str](
                    *(
                        Selection(
                            Content.assemble((one_line(name, 40), "bold"), "  ", one_line(how, 60)),
                            name,
                            name in self._current.tool_servers,
                        )
                        for name, how in self._servers
                    ),
                    id="tool-servers",
                    compact=True,
                )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Apply", id="apply", variant="primary", compact=True)

    def on_mount(self) -> None:
        servers = self.query("#tool-servers")
        if self._focus_servers and servers:
            servers.first().focus()
        else:
            self.query_one("#model-name", Input).focus()
        self._load(self._current.provider)

    @property
    def _provider(self) -> str:
        selects = self.query("#provider")
        if selects:
            value = selects.first(Select).value
            if isinstance(value, str):
                return value
        return self._current.provider

    @work(exclusive=True, group="models", exit_on_error=False)
    async def _load(self, provider: str) -> None:
        status = self.query_one("#models-status", Static)
        status.update("Loading models…")
        try:
            models = await self._list_models(provider)
        except Exception as error:  # any failure just means "type a name"
            self._models = []
            status.update(Content(one_line(f"Could not list models: {error} — type a name.")))
        else:
            self._models = models
            status.update(
                f"{len(models)} models · type to filter, Enter to choose"
                if models
                else "The server lists no models: type the name of one."
            )
        self._show_models(self.query_one("#model-name", Input).value)

    def _show_models(self, query: str) -> None:
        """List the models containing `query`; the current model's name lists them all."""
        wanted = "" if query == self._current.model else query.strip().casefold()
        matching = [m for m in self._models if wanted in m.casefold()] or self._models
        listing = self.query_one("#models", OptionList)
        listing.clear_options()
        listing.add_options(Option(Content(one_line(m)), id=m) for m in matching)
        if self._current.model in matching:
            listing.highlighted = matching.index(self._current.model)
        elif matching:
            listing.highlighted = 0

    @on(Input.Changed, ".setting")
    def _setting_typed(self, event: Input.Changed) -> None:
        result = event.validation_result
        why = result.failure_descriptions[0] if result and not result.is_valid else ""
        self.query_one("#settings-status", Static).update(why)

    @on(Select.Changed, "#preset")
    def _preset_chosen(self, event: Select.Changed) -> None:
        """Fill the dialog from the preset; Apply still decides."""
        preset = self._presets.get(str(event.value))
        if preset is None:
            return
        if preset.provider is not None:
            for select in self.query("#provider").results(Select):
                select.value = preset.provider
        if preset.model:
            self.query_one("#model-name", Input).value = preset.model
        if preset.system_prompt is not None:
            self.query_one("#system", TextArea).text = preset.system_prompt
        for name in FLAG_NAMES:
            self.query_one(f"#setting-{name}", Input).value = _shown_setting(
                getattr(preset.settings, name)
            )
        self._kept = preset.settings

    def _settings(self) -> Generation | None:
        """The settings typed, or None (with the reason shown) while one is wrong."""
        typed: dict[str, Any] = {}
        for name in FLAG_NAMES:
            field_input = self.query_one(f"#setting-{name}", Input)
            value = field_input.value.strip()
            if not value:
                continue
            try:
                typed[name] = check(name, value)
            except SettingError as error:
                why = f"{SETTING_LABELS[name]}: {error}"
                self.query_one("#settings-status", Static).update(why)
                field_input.focus()
                return None
        fields: dict[str, Any] = {n: typed.get(n) for n in FLAG_NAMES}
        return replace(self._kept, **fields)

    @on(Select.Changed, "#provider")
    def _provider_changed(self) -> None:
        self._load(self._provider)

    @on(Input.Changed, "#model-name")
    def _model_typed(self, event: Input.Changed) -> None:
        self._show_models(event.value)

    @on(OptionList.OptionSelected, "#models")
    def _model_chosen(self, event: OptionList.OptionSelected) -> None:
        self.query_one("#model-name", Input).value = event.option.id or ""
        self._apply()

    @on(Input.Submitted, "#model-name")
    def _typed_enter(self) -> None:
        """Enter takes the highlighted match, unless the typed name is exact or unlisted."""
        typed = self.query_one("#model-name", Input).value.strip()
        listing = self.query_one("#models", OptionList)
        if typed not in self._models and listing.highlighted is not None and listing.option_count:
            option = listing.get_option_at_index(listing.highlighted)
            self.query_one("#model-name", Input).value = option.id or typed
        self._apply()

    def key_down(self) -> None:
        if self.focused is self.query_one("#model-name", Input):
            self.query_one("#models", OptionList).focus()

    @on(Button.Pressed, "#apply")
    def _apply(self) -> None:
        model = self.query_one("#model-name", Input).value.strip()
        if not model:
            self.query_one("#models-status", Static).update("Type or choose a model first.")
            return
        settings = self._settings()
        if settings is None:
            return
        system_prompt = self.query_one("#system", TextArea).text
        tool_servers = self._current.tool_servers
        for servers in self.query("#tool-servers").results(SelectionList):
            tool_servers = frozenset(servers.selected)
        self.dismiss(ModelChoice(self._provider, model, system_prompt, tool_servers, settings))

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)
