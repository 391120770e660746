"""Tools from MCP servers: configuration, naming, consent, and the reply loop that runs them.

Plain Python like the rest of the core; only `mcp_client` talks to the `mcp` SDK, and it
imports it when a server is first started, so start-up never pays for it.
"""
