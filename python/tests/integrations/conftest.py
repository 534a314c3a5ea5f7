"""Each framework test runs the real package against a scripted model on loopback; nothing may reach the network
or send telemetry. The settings are in place before any test module imports its framework (some read them then)."""

from __future__ import annotations

import os

QUIET = {
    "OTEL_SDK_DISABLED": "true",
    "OPENAI_AGENTS_DISABLE_TRACING": "1",
    "CREWAI_DISABLE_TELEMETRY": "true",
    "CREWAI_DISABLE_TRACKING": "true",
    "CREWAI_TRACING_ENABLED": "false",
    "ANONYMIZED_TELEMETRY": "false",
    "LANGCHAIN_TRACING_V2": "false",
    "LANGSMITH_TRACING": "false",
}

os.environ.update(QUIET)
for name in ("ANTHROPIC_BASE_URL", "OPENAI_BASE_URL", "GOOGLE_GEMINI_BASE_URL", "LANGSMITH_API_KEY"):
    os.environ.pop(name, None)
