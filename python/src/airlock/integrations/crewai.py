"""The `code_sandbox` tool for CrewAI (`pip install airlock-sdk[crewai]`).

from crewai import Agent
from airlock.integrations.crewai import code_sandbox

analyst = Agent(role="Analyst", goal="Answer with computed numbers", backstory="...", tools=[code_sandbox])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Optional, Type

from crewai.tools import BaseTool
from pydantic import BaseModel, Field, PrivateAttr

from ._code_sandbox import DESCRIPTION, TOOL_NAME, CodeSandbox, SandboxOptions, input_schema

if TYPE_CHECKING:
    from typing_extensions import Unpack

_PROPERTIES = input_schema()["properties"]


class CodeSandboxInput(BaseModel):
    """The shared input schema as the pydantic model CrewAI validates the model's arguments with."""

    code: str = Field(description=_PROPERTIES["code"]["description"])
    language: Optional[Literal["python", "node", "bash"]] = Field(
        default=None, description="How to run the code. Default: the tool's language (python unless configured)."
    )
    timeout: Optional[int] = Field(default=None, ge=1, le=3600, description=_PROPERTIES["timeout"]["description"])
    thread_id: Optional[str] = Field(default=None, description=_PROPERTIES["thread_id"]["description"])


class CodeSandboxTool(BaseTool):
    name: str = TOOL_NAME
    description: str = DESCRIPTION
    args_schema: Type[BaseModel] = CodeSandboxInput
    _sandbox: CodeSandbox = PrivateAttr()

    def __init__(self, sandbox: CodeSandbox, **data: Any) -> None:
        super().__init__(**data)
        self._sandbox = sandbox

    def _run(
        self, code: str, language: Optional[str] = None, timeout: Optional[int] = None, thread_id: Optional[str] = None
    ) -> str:
        return self._sandbox.run(code, language=language, timeout=timeout, thread_id=thread_id)


def create_code_sandbox(**options: Unpack[SandboxOptions]) -> CodeSandboxTool:
    """A `code_sandbox` BaseTool with its own client or defaults (see `CodeSandbox` for each option)."""
    sandbox = CodeSandbox(**options)
    return CodeSandboxTool(sandbox, description=sandbox.description)


code_sandbox = create_code_sandbox()
"""The tool with the defaults: AIRLOCK_API_KEY and AIRLOCK_URL, read on its first call."""

__all__ = ["CodeSandboxInput", "CodeSandboxTool", "code_sandbox", "create_code_sandbox"]
