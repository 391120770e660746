"""The `chat-tui` command: arguments -> Settings -> the app, a plain chat, or a subcommand.

Only the full-screen branch imports Textual; `ask`, `list`, `export`, `import`, `trash`,
`restore`, `mcp` and `--plain` start without it. Errors are one line on stderr
prefixed `chat-tui:`; the exit code is 0 on success, 1 when something failed and 2 when the
command line itself was wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from chat_tui import __version__, console
from chat_tui.console import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_USAGE

if TYPE_CHECKING:
    from chat_tui.config import Settings
    from chat_tui.models import Conversation
    from chat_tui.session import ChatSession
    from chat_tui.store import ConversationStore
    from chat_tui.tools.toolbox import Toolbox

FILE_COMMANDS = {
    "list": "list_conversations",
    "export": "export",
    "import": "import_file",
    "trash": "list_trash",
    "restore": "restore",
}
"""Subcommand -> function of `chat_tui.shell_files` (imported only when one is run)."""

SETTING_FLAGS = (
    "model",
    "base_url",
    "provider",
    "system_prompt",
    "theme",
    "preset",
    "temperature",
    "top_p",
    "max_tokens",
    "reasoning_effort",
    "seed",
    "context_window",
)
"""Flags that override the configuration (argparse destinations = Settings names)."""

NO_SERVER = (
    "no server configured: set OPENAI_API_KEY (or api_key in {config}), "
    "or pass --base-url URL for a local server"
)


class Parser(argparse.ArgumentParser):
    """argparse, except that a mistake is one line naming it, not a usage dump."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands: dict[str, Parser] = {}
        """Subcommand parsers by name, so an error names the right `--help`."""
        self._command_group: Any = None

    def error(self, message: str) -> NoReturn:
        console.error(f"{message} (see {self.prog} --help)")
        raise SystemExit(EXIT_USAGE)

    def add_command(self, name: str, summary: str, description: str) -> Parser:
        if self._command_group is None:
            self._command_group = self.add_subparsers(
                dest="command", metavar="COMMAND", title="commands"
            )
        command: Parser = self._command_group.add_parser(
            name, help=summary, description=description
        )
        self.commands[name] = command
        return command


def _server_flags(parser: argparse.ArgumentParser, default: Any) -> None:
    """Flags choosing the server and the conversation's settings, shared by the app and `ask`.

    On a subcommand they default to SUPPRESS, so `chat-tui --model X ask ...` keeps X.
    """
    parser.add_argument("--model", default=default, help="model for new conversations")
    parser.add_argument(
        "--base-url", default=default, help="server URL, e.g. http://localhost:8080/v1"
    )
    parser.add_argument("--provider", default=default, help="named provider from config.toml")
    parser.add_argument(
        "--system",
        dest="system_prompt",
        default=default,
        help="system prompt for new conversations",
    )
    parser.add_argument(
        "--preset", default=default, metavar="NAME", help="a [presets.NAME] of config.toml"
    )
    for flag, what in (
        ("--temperature", "sampling temperature, 0 to 2"),
        ("--top-p", "nucleus sampling, 0 to 1"),
        ("--max-tokens", "longest reply, in tokens"),
        ("--reasoning-effort", "minimal, low, medium or high (reasoning models)"),
        ("--seed", "a whole number, for repeatable replies where the server allows"),
    ):
        parser.add_argument(flag, default=default, metavar="VALUE", help=what)
    parser.add_argument(
        "--context-window",
        default=default,
        metavar="TOKENS",
        help="tokens the model's context holds, for this run (over config.toml)",
    )


def _tool_flags(parser: argparse.ArgumentParser, default: Any) -> None:
    """Flags choosing which tool calls run without asking, shared by `ask` and `--plain`."""
    parser.add_argument(
        "--allow-tool",
        dest="allow_tool",
        action="append",
        metavar="NAME",
        default=default,
        help="run calls of this tool (TOOL, or SERVER.TOOL) without asking; repeatable",
    )
    parser.add_argument(
        "--no-tools",
        dest="no_tools",
        action="store_true",
        default=default if default is not None else False,
        help="offer the model no tools from the MCP servers in config.toml",
    )


def build_parser() -> Parser:
    parser = Parser(
        prog="chat-tui",
        description="A terminal chat client for OpenAI-compatible servers. Without a "
        "command it opens the full-screen app (or, when stdout is not a terminal or "
        "TERM=dumb, the line-by-line chat of --plain).",
        epilog="Configuration: config.toml in the user config directory, OPENAI_API_KEY, "
        "OPENAI_BASE_URL and CHAT_TUI_* environment variables. See the README.",
    )
    parser.add_argument("--version", action="version", version=f"chat-tui {__version__}")
    _server_flags(parser, None)
    parser.add_argument("--theme", help="Textual theme name")
    parser.add_argument(
        "--open", dest="open_conversation", metavar="ID", help="open a saved conversation"
    )
    parser.add_argument(
        "--continue",
        dest="continue_latest",
        action="store_true",
        help="open the most recent conversation",
    )
    parser.add_argument(
        "--plain", action="store_true", help="line-by-line chat instead of the full-screen app"
    )
    _tool_flags(parser, None)
    _add_commands(parser)
    return parser


def _add_commands(parser: Parser) -> None:
    ask = parser.add_command(
        "ask",
        "stream one reply to stdout",
        "Send one prompt and stream the reply to stdout. Text piped to stdin is added to "
        "the prompt after a blank line (or is the prompt when no argument is given). "
        "ctrl+C stops the reply, keeps what arrived and exits with 130.",
    )
    ask.add_argument("prompt", nargs="*", help="the prompt (quoting is optional)")
    _server_flags(ask, argparse.SUPPRESS)
    ask.add_argument(
        "--continue",
        dest="continue_latest",
        action="store_true",
        default=argparse.SUPPRESS,
        help="add to the most recent conversation",
    )
    ask.add_argument("--no-save", action="store_true", help="do not save the exchange")
    ask.add_argument(
        "-a",
        "--attach",
        metavar="FILE",
        action="append",
        default=[],
        help="send FILE with the prompt: text, or a PNG, JPEG, GIF or WebP image (repeatable)",
    )
    _tool_flags(ask, argparse.SUPPRESS)

    for name, what in (("list", "saved conversations"), ("trash", "deleted conversations")):
        listing = parser.add_command(
            name,
            f"list {what}",
            f"List {what}, most recent first: id, last active, message count, title.",
        )
        listing.add_argument("--json", action="store_true", help="print a JSON list")
    forget = parser.commands["trash"].add_mutually_exclusive_group()
    forget.add_argument(
        "--empty",
        action="store_true",
        help="delete every conversation in the trash for good, and the attachments only "
        "they referred to",
    )
    forget.add_argument(
        "--purge",
        metavar="ID",
        action="append",
        help="delete this conversation in the trash for good (repeatable)",
    )

    restore = parser.add_command(
        "restore", "bring a conversation back from the trash", "Restore a deleted conversation."
    )
    restore.add_argument("id", metavar="ID")

    export = parser.add_command(
        "export",
        "write conversations as Markdown or JSON",
        "Export one conversation (or --all) as Markdown to read and share, or as JSON "
        "that `chat-tui import` reads back.",
    )
    which = export.add_mutually_exclusive_group(required=True)
    which.add_argument("id", metavar="ID", nargs="?", help="the conversation (see chat-tui list)")
    which.add_argument("--all", action="store_true", help="every saved conversation")
    export.add_argument("--format", choices=("md", "json"), default="md", help="default: md")
    export.add_argument("-o", "--output", metavar="FILE", help="write to FILE, not stdout")
    export.add_argument(
        "--embed-attachments",
        action="store_true",
        help="with --format json: include the attached files' bytes, so that import "
        "restores them on another machine",
    )

    imports = parser.add_command(
        "import",
        "import ChatGPT's export or chat-tui JSON",
        "Import ChatGPT's conversations.json (or the zip it comes in) or chat-tui JSON (one "
        "conversation, or `export --all --format json`). Importing a file again adds only "
        "what is new.",
    )
    imports.add_argument("file", metavar="FILE", help="the file to import, - for stdin")

    mcp = parser.add_command(
        "mcp",
        "MCP servers whose tools models can use",
        "The MCP servers configured in config.toml ([mcp_servers.NAME] tables).",
    )
    mcp_commands = mcp.add_subparsers(dest="mcp_command", metavar="COMMAND", title="commands")
    mcp_commands.required = True
    mcp_commands.add_parser(
        "list",
        help="show each server, whether it starts, and its tools",
        description="Start each enabled server, show whether it starts (with the end of its "
        "stderr when not) and the tools it offers, then stop it. Exits with 1 when a server "
        "does not start.",
    )


class Failure(Exception):
    """Ends the command: the message is printed as one line and `code` is the exit status."""

    def __init__(self, message: str, code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.code = code


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _run(argv)
    except Failure as failure:
        console.error(str(failure))
        return failure.code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`chat-tui list | head -1`): stop quietly, as shell tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILURE


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        parser.commands.get(args.command, parser).error(
            f"unrecognized arguments: {' '.join(unknown)}"
        )
    if args.command == "export" and args.embed_attachments and args.format != "json":
        parser.commands["export"].error("--embed-attachments needs --format json")
    if args.command in FILE_COMMANDS:
        from chat_tui import shell_files

        return int(getattr(shell_files, FILE_COMMANDS[args.command])(args))
    if args.command == "ask":
        return _ask(args, parser.commands["ask"])
    if args.command == "mcp":
        return _mcp_list(args)
    if args.plain or not sys.stdout.isatty() or os.environ.get("TERM") == "dumb":
        return _plain(args)
    return _app(args)


def _ask(args: argparse.Namespace, parser: Parser) -> int:
    from chat_tui.ask import AttachFailed, ask, compose_prompt, piped_input, read_attachments
    from chat_tui.limits import TooLarge
    from chat_tui.session import preload_sdk

    try:
        attachments = read_attachments(args.attach)
    except AttachFailed as error:
        raise Failure(str(error), error.code) from None
    preload_sdk()
    # Made, and its client prepared, before stdin is read: a prompt piped by a program that
    # takes its time is then sent the moment it ends.
    session = _session(args, save=not args.no_save)
    session.client.prepare()
    try:
        piped = piped_input()
    except TooLarge as error:
        session.store.close()
        raise Failure(f"the text piped to ask {error}", EXIT_USAGE) from None
    prompt = compose_prompt(" ".join(args.prompt), piped)
    if not prompt and not attachments:
        session.store.close()
        parser.error("ask needs a prompt: an argument, text piped to stdin, or --attach FILE")
    return asyncio.run(ask(session, prompt, attachments))


def _mcp_list(args: argparse.Namespace) -> int:
    from chat_tui.shell_tools import list_servers

    settings = _settings(args)
    return list_servers(settings.mcp_servers, str(settings.config_path), sys.stdout)


def _plain(args: argparse.Namespace) -> int:
    from chat_tui.plain import chat
    from chat_tui.session import preload_sdk

    preload_sdk()
    session = _session(args, save=True)
    session.client.prepare()
    return chat(session)


def _app(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from chat_tui.paths import data_dir
    from chat_tui.session import latest_conversation
    from chat_tui.store import ConversationStore, StoreError

    store = ConversationStore(data_dir())
    open_id = args.open_conversation
    if args.continue_latest and open_id is None:
        try:
            latest = latest_conversation(store)
        except StoreError as error:
            raise Failure(str(error)) from None
        open_id = latest.id if latest is not None else None
    from chat_tui.tui.launch import run_app

    return run_app(settings, store, open_conversation=open_id)


def _settings(args: argparse.Namespace) -> Settings:
    from chat_tui.config import ConfigError, load_settings

    try:
        return load_settings(cli={name: getattr(args, name, None) for name in SETTING_FLAGS})
    except ConfigError as error:
        raise Failure(str(error), EXIT_USAGE) from None


def _session(args: argparse.Namespace, *, save: bool) -> ChatSession:
    """The conversation `ask` and `--plain` talk in: new, `--open ID` or `--continue`."""
    from chat_tui.paths import data_dir
    from chat_tui.session import ChatSession
    from chat_tui.store import ConversationStore

    settings = _settings(args)
    for warning in settings.warnings:
        console.error(f"warning: {warning}")
    store = ConversationStore(data_dir())
    try:
        conversation = _conversation(args, settings, store)
    except BaseException:
        store.close()
        raise
    toolbox = _toolbox(args, settings, conversation)
    return ChatSession(settings, conversation, store, save=save, toolbox=toolbox)


def _toolbox(
    args: argparse.Namespace, settings: Settings, conversation: Conversation
) -> Toolbox | None:
    """The tools of the servers the conversation offers (as configured, or as switched for
    it in the app), unless there are none or `--no-tools` says so."""
    from chat_tui.tools.servers import servers_on

    if getattr(args, "no_tools", False) or not servers_on(
        settings.mcp_servers, conversation.tool_servers
    ):
        return None
    from chat_tui.tools.approvals import Approvals
    from chat_tui.tools.toolbox import Toolbox

    approvals = Approvals(
        settings.mcp_servers,
        allowed=getattr(args, "allow_tool", None) or (),
        config_path=settings.config_path,
    )
    return Toolbox(settings.mcp_servers, approvals, call_timeout=settings.tool_timeout)


def _conversation(
    args: argparse.Namespace, settings: Settings, store: ConversationStore
) -> Conversation:
    from chat_tui.presets import PresetError, apply_flags, apply_preset, new_conversation
    from chat_tui.session import latest_conversation
    from chat_tui.store import StoreError

    try:
        if args.open_conversation:
            if not store.exists(args.open_conversation):
                raise Failure(f"no conversation {args.open_conversation} (see chat-tui list)")
            conversation: Conversation | None = store.load(args.open_conversation)
        else:
            conversation = latest_conversation(store) if args.continue_latest else None
    except StoreError as error:
        raise Failure(str(error)) from None
    try:
        if conversation is None:
            conversation = new_conversation(settings)
        elif conversation.read_only:
            raise Failure(
                f"{conversation.id} was written by a newer chat-tui; it cannot be continued"
            )
        else:
            if getattr(args, "preset", None):
                apply_preset(conversation, settings.presets[args.preset], settings)
            apply_flags(conversation, settings)
    except PresetError as error:
        raise Failure(str(error), EXIT_USAGE) from None
    if not settings.provider_named(conversation.provider).is_configured:
        raise Failure(NO_SERVER.format(config=settings.config_path))
    return conversation
