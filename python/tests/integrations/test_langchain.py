"""A LangChain fake chat model asks for code_sandbox; the tool runs on the real server and the model's second
call receives the ToolMessage with the sandbox's output."""

from __future__ import annotations

from typing import Any, List

import anyio
import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.utils.function_calling import convert_to_openai_tool

from airlock import Airlock
from airlock.integrations.langchain import create_code_sandbox
from support.fake_provider import SANDBOX_CODE, SANDBOX_STDOUT


class RecordedPrompts(BaseCallbackHandler):
    """The messages of every model call, as the model received them."""

    def __init__(self) -> None:
        self.prompts: List[List[BaseMessage]] = []

    def on_chat_model_start(self, serialized: Any, messages: List[List[BaseMessage]], **kwargs: Any) -> None:
        self.prompts.extend(messages)


def scripted_model() -> FakeMessagesListChatModel:
    call = {"name": "code_sandbox", "args": {"code": SANDBOX_CODE}, "id": "call_1", "type": "tool_call"}
    return FakeMessagesListChatModel(responses=[AIMessage(content="", tool_calls=[call]), AIMessage("It is 42.")])


@pytest.mark.parametrize("asynchronous", [False, True], ids=["invoke", "ainvoke"])
def test_tool_calls_of_the_model_run_in_the_sandbox(client: Airlock, asynchronous: bool) -> None:
    tool = create_code_sandbox(client=client)
    model, recorded = scripted_model(), RecordedPrompts()
    messages: List[BaseMessage] = [HumanMessage("What is 6 * 7, and where does code run?")]
    config = {"callbacks": [recorded]}

    response = model.invoke(messages, config=config)
    while response.tool_calls:
        messages.append(response)
        for call in response.tool_calls:
            answer = anyio.run(tool.ainvoke, call) if asynchronous else tool.invoke(call)
            messages.append(answer)
        response = model.invoke(messages, config=config)

    assert response.content == "It is 42."
    (tool_message,) = [message for message in recorded.prompts[1] if isinstance(message, ToolMessage)]
    assert tool_message.tool_call_id == "call_1"
    assert "exit_code: 0 (success)" in tool_message.content and SANDBOX_STDOUT in tool_message.content


def test_the_tool_schema_is_the_shared_one(client: Airlock) -> None:
    tool = create_code_sandbox(client=client, language="bash")
    # What bind_tools sends a provider.
    function = convert_to_openai_tool(tool)["function"]
    assert function["name"] == "code_sandbox" and "/home/sandbox" in function["description"]
    assert function["parameters"]["required"] == ["code"]
    assert function["parameters"]["properties"]["language"]["description"] == "How to run the code. Default: bash."
    assert tool.invoke({"code": "echo shell $((6 * 7))"}).endswith("--- stdout ---\nshell 42")
