"""The `chat-tui` command: arguments -> Settings -> the app (or a one-line error)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from chat_tui import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chat-tui",
        description="A terminal chat client for OpenAI-compatible servers.",
        epilog="Configuration: config.toml in the user config directory, OPENAI_API_KEY, "
        "OPENAI_BASE_URL and CHAT_TUI_* environment variables. See the README.",
    )
    parser.add_argument("--version", action="version", version=f"chat-tui {__version__}")
    parser.add_argument("--model", help="model for new conversations")
    parser.add_argument("--base-url", help="server URL, e.g. http://localhost:8080/v1")
    parser.add_argument("--provider", help="named provider from config.toml")
    parser.add_argument(
        "--system", dest="system_prompt", help="system prompt for new conversations"
    )
    parser.add_argument("--theme", help="Textual theme name")
    parser.add_argument(
        "--open", dest="open_conversation", metavar="ID", help="open a saved conversation"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)

    from chat_tui.config import ConfigError, load_settings

    try:
        settings = load_settings(
            cli={
                "model": args.model,
                "base_url": args.base_url,
                "provider": args.provider,
                "system_prompt": args.system_prompt,
                "theme": args.theme,
            }
        )
    except ConfigError as error:
        print(f"chat-tui: {error}", file=sys.stderr)
        return 2

    from chat_tui.app import ChatApp
    from chat_tui.paths import data_dir
    from chat_tui.store import ConversationStore

    app = ChatApp(settings, ConversationStore(data_dir()), open_conversation=args.open_conversation)
    app.run()
    return app.return_code or 0
