"""The `code_sandbox` tool for the Google GenAI SDK (`pip install airlock-sdk[google-genai]`).

from google import genai
from google.genai import types
from airlock.integrations.google_genai import code_sandbox

client = genai.Client()
# Automatic function calling: the SDK calls the function and sends its answer back.
chat = client.chats.create(model="gemini-2.5-flash", config=types.GenerateContentConfig(tools=[code_sandbox.function]))
print(chat.send_message("What is 2**100?").text)

# Or by hand: declare the tool and answer the response's function calls.
config = types.GenerateContentConfig(tools=[code_sandbox.tool])
response = client.models.generate_content(model="gemini-2.5-flash", contents=contents, config=config)
answers = types.Content(role="user", parts=code_sandbox.function_responses(response))
contents += [response.candidates[0].content, answers]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, List, Optional

from google.genai import types

from ._code_sandbox import CodeSandbox, SandboxOptions

if TYPE_CHECKING:
    from typing_extensions import Unpack


class GoogleGenAICodeSandbox(CodeSandbox):
    """`tool` (a `types.Tool` with the declaration) with `function_responses(response)`, or `function` for the
    SDK's automatic function calling."""

    @property
    def declaration(self) -> types.FunctionDeclaration:
        return types.FunctionDeclaration(
            name=self.name, description=self.description, parameters_json_schema=self.input_schema
        )

    @property
    def tool(self) -> types.Tool:
        return types.Tool(function_declarations=[self.declaration])

    def function_response(self, call: types.FunctionCall) -> types.Part:
        """Runs one function call of the model and returns the part answering it."""
        output = self.run_input(call.args or {})
        part = types.Part.from_function_response(name=self.name, response={"output": output})
        if part.function_response is not None:
            part.function_response.id = call.id
        return part

    def function_responses(self, response: types.GenerateContentResponse) -> List[types.Part]:
        """The parts answering every `code_sandbox` call of a response: the next user turn's parts."""
        return [self.function_response(call) for call in response.function_calls or [] if call.name == self.name]

    @property
    def function(self) -> Callable[..., str]:
        """A plain function for `tools=[...]` with automatic function calling; the SDK reads its signature and
        docstring."""

        def code_sandbox(
            code: str, language: Optional[str] = None, timeout: Optional[int] = None, thread_id: Optional[str] = None
        ) -> str:
            return self.run(code, language=language, timeout=timeout, thread_id=thread_id)

        code_sandbox.__doc__ = self.description
        return code_sandbox


def create_code_sandbox(**options: Unpack[SandboxOptions]) -> GoogleGenAICodeSandbox:
    """A `code_sandbox` tool with its own client or defaults (see `CodeSandbox` for each option)."""
    return GoogleGenAICodeSandbox(**options)


code_sandbox = create_code_sandbox()
"""The tool with the defaults: AIRLOCK_API_KEY and AIRLOCK_URL, read on its first call."""

__all__ = ["GoogleGenAICodeSandbox", "code_sandbox", "create_code_sandbox"]
