"""The model a server serves, for a conversation that names none.

A local server (llama.cpp, Ollama, vLLM, ...) answers for whatever model it loaded, under its
own name; asking it for OpenAI's default model only mislabels its replies. So when nothing
names a model, the server's `/models` list decides: its only model is used, and a choice
among several is left to the person.
"""

from __future__ import annotations

from chat_tui.client import ChatClient
from chat_tui.request_errors import ChatError
from chat_tui.safetext import one_line

SHOWN_MODELS = 50
"""Models listed in a message (a router may serve hundreds)."""


class NoServedModel(Exception):
    """The server did not name one model to use; the message says why, in one line."""

    def __init__(self, message: str, models: list[str] | None = None) -> None:
        super().__init__(message)
        self.models = models or []
        """The models to choose from, when the server serves several."""

    @property
    def listing(self) -> str:
        """The models, one per line (at most SHOWN_MODELS), for the shell."""
        shown = [f"  {one_line(name, 120)}" for name in self.models[:SHOWN_MODELS]]
        if len(self.models) > SHOWN_MODELS:
            shown.append(f"  … and {len(self.models) - SHOWN_MODELS} more")
        return "\n".join(shown)


async def served_model(client: ChatClient, *, choose_with: str) -> str:
    """The only model `client`'s server lists; `NoServedModel` when it lists several (the
    person chooses, `choose_with` says how), none, or cannot be asked."""
    server = client.server_label
    try:
        models = await client.list_models()
    except ChatError as error:
        raise NoServedModel(
            f"could not ask {server} which model it serves: {error.message}; {choose_with}"
        ) from error
    if not models:
        raise NoServedModel(f"{server} lists no models at /models; {choose_with}")
    if len(models) > 1:
        raise NoServedModel(f"{server} serves {len(models)} models; {choose_with}", models)
    return models[0]
