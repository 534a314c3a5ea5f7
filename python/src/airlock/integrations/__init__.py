"""Ready-made `code_sandbox` tools for agent frameworks, one module per framework, each an optional extra.

Each module has `code_sandbox`, the tool with the defaults (AIRLOCK_API_KEY, AIRLOCK_URL, read on its first call),
and `create_code_sandbox(client=, api_key=, base_url=, thread_id=, language=, timeout=, network=, network_allow=)`
for other settings. They share one description, input schema and result format (`_code_sandbox`); importing this
package imports no framework.

- `airlock.integrations.anthropic` (`pip install airlock-sdk[anthropic]`)
- `airlock.integrations.openai_agents` (`pip install airlock-sdk[openai-agents]`)
- `airlock.integrations.langchain` (`pip install airlock-sdk[langchain]`)
- `airlock.integrations.google_genai` (`pip install airlock-sdk[google-genai]`)
- `airlock.integrations.crewai` (`pip install airlock-sdk[crewai]`, Python 3.10+)
"""

__all__: "list[str]" = []
