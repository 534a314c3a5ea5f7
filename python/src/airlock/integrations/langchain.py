"""The `code_sandbox` tool for LangChain and LangGraph (`pip install airlock-sdk[langchain]`).

from airlock.integrations.langchain import code_sandbox

agent = langchain.agents.create_agent("anthropic:claude-sonnet-4-5", tools=[code_sandbox])
# or: model.bind_tools([code_sandbox]) and answer its tool_calls with code_sandbox.invoke(tool_call)
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Optional

from langchain_core.tools import StructuredTool

from ._code_sandbox import CodeSandbox, SandboxOptions

if TYPE_CHECKING:
    from typing_extensions import Unpack


def create_code_sandbox(**options: Unpack[SandboxOptions]) -> StructuredTool:
    """A `code_sandbox` StructuredTool with its own client or defaults (see `CodeSandbox` for each option);
    `ainvoke` runs the execution in a worker thread."""
    sandbox = CodeSandbox(**options)

    async def run_async(
        code: str, language: Optional[str] = None, timeout: Optional[int] = None, thread_id: Optional[str] = None
    ) -> str:
        return await asyncio.to_thread(sandbox.run, code, language, timeout, thread_id)

    return StructuredTool.from_function(
        func=sandbox.run,
        coroutine=run_async,
        name=sandbox.name,
        description=sandbox.description,
        args_schema=sandbox.input_schema,
    )


code_sandbox = create_code_sandbox()
"""The tool with the defaults: AIRLOCK_API_KEY and AIRLOCK_URL, read on its first call."""

__all__ = ["code_sandbox", "create_code_sandbox"]
