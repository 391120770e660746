"""`python -m chat_tui` runs the same entry point as the `chat-tui` command."""

from chat_tui.cli import main

raise SystemExit(main())
