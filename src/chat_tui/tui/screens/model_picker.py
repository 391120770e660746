"""Choose the server, model, system prompt and tool servers of the open conversation (ctrl+o).

The list comes from the server's /models; when the server lists none (or cannot be asked),
any name can be typed. The MCP servers configured are listed with a tick for those whose
tools this conversation offers. The choice applies to the next reply, also mid-conversation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
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
    ):
        """`servers`: each configured MCP server's name and how it is reached."""
        super().__init__()
        self._providers = providers
        self._current = current
        self._list_models = list_models
        self._models: list[str] = []
        self._servers = servers
        self._focus_servers = focus_servers

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box -wide"):
            yield Label("Model and system prompt", classes="dialog-title")
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
        system_prompt = self.query_one("#system", TextArea).text
        tool_servers = self._current.tool_servers
        for servers in self.query("#tool-servers").results(SelectionList):
            tool_servers = frozenset(servers.selected)
        self.dismiss(ModelChoice(self._provider, model, system_prompt, tool_servers))

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)
