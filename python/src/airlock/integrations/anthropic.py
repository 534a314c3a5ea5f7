"""The `code_sandbox` tool for the Anthropic SDK (`pip install airlock-sdk[anthropic]`).

import anthropic
from airlock.integrations.anthropic import code_sandbox

client = anthropic.Anthropic()
messages = [{"role": "user", "content": "What is 2**100? Use the sandbox."}]
response = client.messages.create(model=..., max_tokens=1024, tools=[code_sandbox.definition], messages=messages)
while response.stop_reason == "tool_use":
    messages += [{"role": "assistant", "content": response.content},
                 {"role": "user", "content": code_sandbox.tool_results(response)}]
    response = client.messages.create(model=..., max_tokens=1024, tools=[code_sandbox.definition], messages=messages)

# Or the SDK's tool runner, which loops for you:
final = client.beta.messages.tool_runner(model=..., max_tokens=1024, tools=[code_sandbox.beta_tool],
                                         messages=messages).until_done()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List

from ._code_sandbox import CodeSandbox, SandboxOptions

if TYPE_CHECKING:
    from typing_extensions import Unpack


def _field(block: Any, name: str) -> Any:
    return block.get(name) if isinstance(block, dict) else getattr(block, name, None)


class AnthropicCodeSandbox(CodeSandbox):
    """`definition` for `tools=[...]`, `tool_results(message)` to answer its `tool_use` blocks, and `beta_tool`
    for `client.beta.messages.tool_runner`."""

    @property
    def definition(self) -> Dict[str, Any]:
        """The tool as the Messages API takes it: name, description, input_schema."""
        return {"name": self.name, "description": self.description, "input_schema": self.input_schema}

    def tool_result(self, block: Any) -> Dict[str, Any]:
        """Runs one `tool_use` block (the SDK's object or a dict) and returns its `tool_result` block."""
        content = self.run_input(_field(block, "input"))
        return {"type": "tool_result", "tool_use_id": _field(block, "id"), "content": content}

    def tool_results(self, message: Any) -> List[Dict[str, Any]]:
        """The `tool_result` blocks answering every `code_sandbox` call of an assistant message (its `content`
        list, or the message itself): the content of the next user message."""
        content = _field(message, "content") if not isinstance(message, list) else message
        return [
            self.tool_result(block)
            for block in content or []
            if _field(block, "type") == "tool_use" and _field(block, "name") == self.name
        ]

    @property
    def beta_tool(self) -> Any:
        """The tool for `client.beta.messages.tool_runner(tools=[...])` (anthropic's `BetaFunctionTool`)."""
        try:
            from anthropic.lib.tools import BetaFunctionTool
        except ImportError as error:  # pragma: no cover - depends on the installed anthropic
            raise ImportError(
                "this anthropic version has no tool runner (anthropic.lib.tools.BetaFunctionTool); "
                "upgrade anthropic, or use code_sandbox.definition with code_sandbox.tool_results"
            ) from error

        return BetaFunctionTool(self.run, name=self.name, description=self.description, input_schema=self.input_schema)


def create_code_sandbox(**options: Unpack[SandboxOptions]) -> AnthropicCodeSandbox:
    """A `code_sandbox` tool with its own client or defaults (see `CodeSandbox` for each option)."""
    return AnthropicCodeSandbox(**options)


code_sandbox = create_code_sandbox()
"""The tool with the defaults: AIRLOCK_API_KEY and AIRLOCK_URL, read on its first call."""

__all__ = ["AnthropicCodeSandbox", "code_sandbox", "create_code_sandbox"]
