"""Code the tests, the benchmarks and the screenshot script share: Pilot helpers
(`pilot`), the pseudo-terminal driver (`pty`), the `chat-tui` command in a subprocess
(`shell`), the loopback OpenAI server (`loopback`), a real MCP server (`mcp_server`), a disk
that fails (`disk`) and sample data (`sample_data`). Nothing here imports a test module.
"""
