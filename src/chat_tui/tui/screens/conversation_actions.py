"""Managing conversations from the chat screen: rename, delete and undo, trash, model,
presets.

A base of `ChatScreen` (which declares the key bindings), kept apart so the screen module
stays about showing and streaming; what it needs of the screen is declared in `chat_base`.
The target of rename and delete is the conversation highlighted in the sidebar when the
sidebar has focus, otherwise the open one.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from textual.content import Content

from chat_tui.config import DEFAULT_PROVIDER, ConfigError, save_top_level
from chat_tui.models import Conversation
from chat_tui.paths import config_file
from chat_tui.presets import NAME_PATTERN, Preset, PresetError, apply_preset, save_preset
from chat_tui.safetext import one_line
from chat_tui.store import StoreError
from chat_tui.tools.servers import switches_for
from chat_tui.tui.messages import DeleteRequested
from chat_tui.tui.screens.chat_base import ChatScreenBase
from chat_tui.tui.screens.modals import ConfirmDialog, RenameDialog, TrashDialog
from chat_tui.tui.screens.model_picker import ModelChoice, ModelPicker
from chat_tui.tui.screens.setup import SetupAnswers, SetupDialog


class ConversationActions(ChatScreenBase):
    """Rename, delete/undo/restore and model choice for `ChatScreen`."""

    _last_deleted: str | None = None
    """Id of the conversation deleted last, for undo."""

    def _target_id(self) -> str | None:
        listing = self.sidebar.conversation_list
        if listing.has_focus:
            return listing.highlighted_id
        return self.conversation.id if self.conversation.messages else None

    def _title_of(self, conversation_id: str) -> str:
        if conversation_id == self.conversation.id:
            return self.conversation.title
        for summary in self.summaries:
            if summary.id == conversation_id:
                return summary.title
        return ""

    async def _conversation_by_id(self, conversation_id: str) -> Conversation | None:
        """The object in memory when there is one, else a fresh load (errors are shown)."""
        if conversation_id == self.conversation.id:
            return self.conversation
        live = self.cache.get(conversation_id)
        if live is not None:
            return live
        try:
            return await asyncio.to_thread(self.chat_app.store.load, conversation_id)
        except StoreError as error:
            self.status.show(str(error), "error")
            return None

    # -- rename ----------------------------------------------------------------------------

    def action_rename_conversation(self) -> None:
        target = self._target_id()
        if target is None:
            self.status.show("Nothing to rename yet: send a first message.", "error")
            return

        async def rename(title: object) -> None:
            if not isinstance(title, str) or not title:
                return
            conversation = await self._conversation_by_id(target)
            if conversation is None or conversation.read_only:
                return
            conversation.title = title
            self.chat_app.saver.request(conversation)
            await self.chat_app.saver.flush(conversation)
            self.update_top_bar()
            self.refresh_sidebar()

        self.app.push_screen(RenameDialog(self._title_of(target)), rename)

    # -- delete, undo, restore ------------------------------------------------------------

    def on_delete_requested(self, event: DeleteRequested) -> None:
        self._confirm_delete(event.conversation_id)

    def action_delete_conversation(self) -> None:
        target = self._target_id()
        if target is None:
            self.status.show("Nothing to delete: this conversation is not saved yet.", "error")
            return
        self._confirm_delete(target)

    def _confirm_delete(self, conversation_id: str) -> None:
        title = self._title_of(conversation_id) or "Untitled"
        streaming = ""
        if self.is_streaming_in(conversation_id):
            streaming = "\nIts reply is still streaming: deleting stops it."
        question = Content.assemble(
            "Move “",
            (one_line(title, 60), "bold"),
            f"” to the trash?{streaming}\nYou can undo this right after, or restore it later.",
        )

        async def delete(confirmed: object) -> None:
            if confirmed is True:
                await self._delete(conversation_id, title)

        self.app.push_screen(ConfirmDialog("Delete conversation", question), delete)

    async def _delete(self, conversation_id: str, title: str) -> None:
        # A reply still streaming there is stopped first (its request ends, its text is
        # saved, marked stopped), so the trash holds the conversation whole.
        await self.stop_reply(conversation_id)
        await self.chat_app.saver.flush()
        try:
            await asyncio.to_thread(self.chat_app.store.delete, conversation_id)
        except StoreError as error:
            self.status.show(f"Not deleted: {error}", "error")
            return
        self._last_deleted = conversation_id
        if conversation_id == self.conversation.id:
            await self.start_new_conversation()
        self.refresh_sidebar()
        self.sidebar.conversation_list.focus()
        self.status.show(f"Deleted “{one_line(title, 40)}” · ctrl+z to undo")

    async def action_undo_delete(self) -> None:
        if self._last_deleted is None:
            self.status.show("Nothing to undo.")
            return
        conversation_id, self._last_deleted = self._last_deleted, None
        await self._restore(conversation_id)

    async def _restore(self, conversation_id: str) -> None:
        try:
            await asyncio.to_thread(self.chat_app.store.restore, conversation_id)
        except StoreError as error:
            self.status.show(f"Not restored: {error}", "error")
            return
        self.refresh_sidebar()
        await self.open_conversation(conversation_id)
        self.status.show(f"Restored “{one_line(self.conversation.title, 40)}”")
        self.prompt.focus()

    async def action_open_trash(self) -> None:
        deleted = await asyncio.to_thread(self.chat_app.store.trash)

        async def restore(chosen: object) -> None:
            if isinstance(chosen, str):
                await self._restore(chosen)

        self.app.push_screen(TrashDialog(deleted), restore)

    # -- server setup ----------------------------------------------------------------------

    def action_setup_server(self) -> None:
        settings = self.chat_app.settings
        provider = settings.provider_named(DEFAULT_PROVIDER)
        dialog = SetupDialog(provider.base_url or "", settings.model, str(settings.config_path))

        async def save(answers: object) -> None:
            if isinstance(answers, SetupAnswers):
                await self._save_setup(answers)

        self.app.push_screen(dialog, save)

    async def _save_setup(self, answers: SetupAnswers) -> None:
        settings = self.chat_app.settings
        values = {
            key: value
            for key, value in (
                ("base_url", answers.base_url),
                ("api_key", answers.api_key),
                ("model", answers.model),
            )
            if value
        }
        try:
            await asyncio.to_thread(save_top_level, settings.config_path or config_file(), values)
        except (ConfigError, OSError) as error:
            self.status.show(f"Could not save the settings: {error}", "error")
            return
        default = settings.providers[DEFAULT_PROVIDER]
        providers = dict(settings.providers)
        providers[DEFAULT_PROVIDER] = replace(
            default,
            base_url=answers.base_url.rstrip("/") or default.base_url,
            api_key=answers.api_key or default.api_key,
        )
        model = answers.model or settings.model
        await self.chat_app.replace_settings(replace(settings, providers=providers, model=model))
        if not self.conversation.messages:
            self.conversation.model = model
            await self.log_view.show([], placeholder=self.placeholder())
        self.update_top_bar()
        self.status.show("Saved. Ask anything.")
        self.prompt.focus()

    # -- model, provider and system prompt -------------------------------------------------

    def action_choose_model(self, focus_servers: bool = False) -> None:
        conversation = self.conversation
        if conversation.read_only:
            self.status.show("This conversation is read-only.", "error")
            return
        settings = self.chat_app.settings
        current = ModelChoice(
            conversation.provider or settings.provider,
            conversation.model,
            conversation.system_prompt,
            frozenset(self.chat_app.tool_servers_for(conversation)),
            conversation.settings,
        )

        async def list_models(provider: str) -> list[str]:
            return await self.chat_app.client_for(provider).list_models()

        def chosen(choice: object) -> None:
            if isinstance(choice, ModelChoice):
                self._apply_model_choice(conversation, choice)

        servers = [(name, server.describe()) for name, server in settings.mcp_servers.items()]
        picker = ModelPicker(
            sorted(settings.providers),
            current,
            list_models,
            servers,
            focus_servers=focus_servers,
            presets=settings.presets,
            defaults=settings.generation_for(conversation.provider, conversation.model),
        )
        self.app.push_screen(picker, chosen)

    def _apply_model_choice(self, conversation: Conversation, choice: ModelChoice) -> None:
        conversation.model = choice.model
        conversation.provider = None if choice.provider == DEFAULT_PROVIDER else choice.provider
        conversation.system_prompt = choice.system_prompt
        servers = self.chat_app.settings.mcp_servers
        conversation.tool_servers = switches_for(servers, choice.tool_servers)
        conversation.settings = choice.settings
        if conversation.messages:
            self.chat_app.saver.request(conversation)
        self.update_top_bar()
        self.status.show(f"The next reply comes from {one_line(choice.model, 60)}.")

    # -- presets ---------------------------------------------------------------------------

    def action_use_preset(self, name: str) -> None:
        conversation = self.conversation
        preset = self.chat_app.settings.presets.get(name)
        if preset is None:
            self.status.show(f"No preset {one_line(name, 40)!r} in config.toml.", "error")
            return
        if conversation.read_only:
            self.status.show("This conversation is read-only.", "error")
            return
        try:
            apply_preset(conversation, preset, self.chat_app.settings)
        except PresetError as error:
            self.status.show(str(error), "error")
            return
        if conversation.messages:
            self.chat_app.saver.request(conversation)
        self.update_top_bar()
        self.status.show(
            f"Preset {name}: the next reply comes from {one_line(conversation.model, 60)}."
        )

    def action_save_preset(self) -> None:
        conversation = self.conversation

        async def save(name: object) -> None:
            if isinstance(name, str) and name:
                await self._save_preset(conversation, name)

        self.app.push_screen(
            RenameDialog("", heading="Save as preset (letters, digits, - and _)"), save
        )

    async def _save_preset(self, conversation: Conversation, name: str) -> None:
        if not NAME_PATTERN.fullmatch(name):
            self.status.show(
                f"Not saved: {one_line(name, 40)!r} is not a simple name "
                "(use letters, digits, - and _).",
                "error",
            )
            return
        settings = self.chat_app.settings
        preset = Preset(
            name=name,
            model=conversation.model,
            provider=conversation.provider or DEFAULT_PROVIDER,
            system_prompt=conversation.system_prompt,
            settings=conversation.settings,
        )
        path = settings.config_path or config_file()
        try:
            await asyncio.to_thread(save_preset, path, preset)
        except (PresetError, OSError) as error:
            self.status.show(f"The preset was not saved: {error}", "error")
            return
        presets = {**settings.presets, name: preset}
        self.chat_app.settings = replace(self.chat_app.settings, presets=presets)
        self.status.show(f"Saved preset {name} in {path}.")
