"""An OpenAI Agents run against a fake Chat Completions API that calls code_sandbox; the tool runs on the real
server and the model's second request carries the sandbox's output."""

from __future__ import annotations

from agents import Agent, OpenAIChatCompletionsModel, Runner, set_tracing_disabled
from openai import AsyncOpenAI

from airlock import Airlock
from airlock.integrations.openai_agents import create_code_sandbox
from support.fake_provider import CHAT_TOOL_CALL, SANDBOX_STDOUT, chat_completion, chat_tool_answer, fake_provider

FINAL = chat_completion({"role": "assistant", "content": "The answer is 42."}, "stop")


def test_agent_run_calls_the_sandbox_and_sends_its_output_back(client: Airlock) -> None:
    set_tracing_disabled(True)
    with fake_provider([CHAT_TOOL_CALL, FINAL]) as provider:
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
    answer = chat_tool_answer(second)
    assert "exit_code: 0 (success)" in answer and SANDBOX_STDOUT in answer
