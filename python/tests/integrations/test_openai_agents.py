"""An OpenAI Agents run against a fake Chat Completions API that calls code_sandbox; the tool runs on the real
server and the model's second request carries the sandbox's output."""

from __future__ import annotations

import json
from typing import Any, Dict

from agents import Agent, OpenAIChatCompletionsModel, Runner, set_tracing_disabled
from openai import AsyncOpenAI

from airlock import Airlock
from airlock.integrations.openai_agents import create_code_sandbox
from support.fake_provider import SANDBOX_CODE, SANDBOX_STDOUT, fake_provider


def completion(message: Dict[str, Any], finish_reason: str) -> Dict[str, Any]:
    return {
        "id": f"chatcmpl-{finish_reason}",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-scripted",
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }


TOOL_CALL = completion(
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "code_sandbox", "arguments": json.dumps({"code": SANDBOX_CODE})},
            }
        ],
    },
    "tool_calls",
)
FINAL = completion({"role": "assistant", "content": "The answer is 42."}, "stop")


def test_agent_run_calls_the_sandbox_and_sends_its_output_back(client: Airlock) -> None:
    set_tracing_disabled(True)
    with fake_provider([TOOL_CALL, FINAL]) as provider:
        model = OpenAIChatCompletionsModel(
            model="gpt-scripted",
            openai_client=AsyncOpenAI(api_key="test-key", base_url=f"{provider.url}/v1", max_retries=0),
        )
        tool = create_code_sandbox(client=client)
        agent = Agent(name="Analyst", instructions="Use the sandbox.", model=model, tools=[tool])
        result = Runner.run_sync(agent, "What is 6 * 7, and where does code run?")

    assert result.final_output == "The answer is 42."
    first, second = (request.body for request in provider.requests)
    assert [request.path for request in provider.requests] == ["/v1/chat/completions"] * 2
    (tool,) = first["tools"]
    assert tool["function"]["name"] == "code_sandbox"
    assert tool["function"]["parameters"]["required"] == ["code"]
    (answer,) = [message for message in second["messages"] if message["role"] == "tool"]
    assert answer["tool_call_id"] == "call_1"
    assert "exit_code: 0 (success)" in answer["content"] and SANDBOX_STDOUT in answer["content"]
