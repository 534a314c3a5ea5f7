"""A CrewAI crew whose LLM is a fake Chat Completions API that calls code_sandbox; the tool runs on the real
server and the model's second request carries the sandbox's output."""

from __future__ import annotations

import pytest
from crewai import LLM, Agent, Crew, Task

from airlock import Airlock
from airlock.integrations.crewai import create_code_sandbox
from support.fake_provider import CHAT_TOOL_CALL, SANDBOX_STDOUT, chat_completion, chat_tool_answer, fake_provider

# CrewAI reads its own deprecated fields while it runs a crew.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:crewai")

FINAL = chat_completion({"role": "assistant", "content": "Thought: I have it.\nFinal Answer: 42"}, "stop")


def test_crew_agent_calls_the_sandbox_and_sends_its_output_back(client: Airlock) -> None:
    tool = create_code_sandbox(client=client)
    with fake_provider([CHAT_TOOL_CALL, FINAL]) as provider:
        llm = LLM(model="openai/gpt-scripted", base_url=f"{provider.url}/v1", api_key="test-key", max_retries=0)
        agent = Agent(role="Analyst", goal="Compute answers", backstory="You run code.", tools=[tool], llm=llm)
        task = Task(description="What is 6 * 7?", expected_output="A number", agent=agent)
        output = Crew(agents=[agent], tasks=[task]).kickoff()

    assert "42" in output.raw
    assert len(provider.requests) == 2
    first, second = (request.body for request in provider.requests)
    (declared,) = first["tools"]
    assert declared["function"]["name"] == "code_sandbox"
    answer = chat_tool_answer(second)
    assert "exit_code: 0 (success)" in answer and SANDBOX_STDOUT in answer
