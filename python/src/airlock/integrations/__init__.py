"""Ready-made `code_sandbox` tools for agent frameworks, one module per framework, each an optional extra.

Planned (issue 6): `airlock.integrations.anthropic`, `.openai_agents`, `.langchain`, `.google_genai`, `.crewai`.
None is shipped yet; the core clients (`airlock.Airlock`, `airlock.AsyncAirlock`) are what they will wrap.
"""

__all__: "list[str]" = []
