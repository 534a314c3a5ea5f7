"""The `code_sandbox` tool for the OpenAI Agents SDK (`pip install airlock-sdk[openai-agents]`).

from agents import Agent, Runner
from airlock.integrations.openai_agents import code_sandbox

agent = Agent(name="Analyst", instructions="Compute answers with the sandbox.", tools=[code_sandbox])
print(Runner.run_sync(agent, "What is 2**100?").final_output)
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from agents import FunctionTool

from ._code_sandbox import CodeSandbox, SandboxOptions

if TYPE_CHECKING:
    from typing_extensions import Unpack


def create_code_sandbox(**options: Unpack[SandboxOptions]) -> FunctionTool:
    """A `code_sandbox` FunctionTool with its own client or defaults (see `CodeSandbox` for each option). The
    execution runs in a worker thread, so the agent's event loop keeps going while the code runs."""
    sandbox = CodeSandbox(**options)

    async def invoke(_context: Any, arguments: str) -> str:
        return await asyncio.to_thread(sandbox.run_input, json.loads(arguments or "{}"))

    return FunctionTool(
        name=sandbox.name,
        description=sandbox.description,
        params_json_schema=sandbox.input_schema,
        on_invoke_tool=invoke,
        # Strict mode would make every field required; timeout and thread_id are optional.
        strict_json_schema=False,
    )


code_sandbox = create_code_sandbox()
"""The tool with the defaults: AIRLOCK_API_KEY and AIRLOCK_URL, read on its first call."""

__all__ = ["code_sandbox", "create_code_sandbox"]
