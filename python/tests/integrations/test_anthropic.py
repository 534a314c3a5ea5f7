"""The Anthropic SDK calls a fake Messages API that asks for code_sandbox; the tool runs it on the real server."""

from __future__ import annotations

from typing import Any, Dict, List

import anthropic

from airlock import Airlock
from airlock.integrations.anthropic import create_code_sandbox
from support.fake_provider import SANDBOX_CODE, SANDBOX_STDOUT, fake_provider


def message(content: List[Dict[str, Any]], stop_reason: str) -> Dict[str, Any]:
    return {
        "id": f"msg_{stop_reason}",
        "type": "message",
        "role": "assistant",
        "model": "claude-scripted",
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 10},
    }


TOOL_USE = message(
    [
        {"type": "text", "text": "Let me run that."},
        {"type": "tool_use", "id": "toolu_1", "name": "code_sandbox", "input": {"code": SANDBOX_CODE}},
    ],
    "tool_use",
)
FINAL = message([{"type": "text", "text": "The answer is 42."}], "end_turn")


def tool_result_of(body: Dict[str, Any]) -> Dict[str, Any]:
    last = body["messages"][-1]
    assert last["role"] == "user"
    (block,) = last["content"]
    assert block["type"] == "tool_result" and block["tool_use_id"] == "toolu_1"
    return block


def test_messages_loop_answers_tool_use_with_the_sandbox_output(client: Airlock) -> None:
    sandbox = create_code_sandbox(client=client)
    with fake_provider([TOOL_USE, FINAL]) as provider:
        model = anthropic.Anthropic(api_key="test-key", base_url=provider.url, max_retries=0)
        messages: List[Any] = [{"role": "user", "content": "What is 6 * 7, and where does code run?"}]
        response = model.messages.create(
            model="claude-scripted", max_tokens=512, tools=[sandbox.definition], messages=messages
        )
        while response.stop_reason == "tool_use":
            messages += [
                {"role": "assistant", "content": response.content},
                {"role": "user", "content": sandbox.tool_results(response)},
            ]
            response = model.messages.create(
                model="claude-scripted", max_tokens=512, tools=[sandbox.definition], messages=messages
            )

    assert response.content[0].text == "The answer is 42."
    first, second = (request.body for request in provider.requests)
    (tool,) = first["tools"]
    assert tool["name"] == "code_sandbox" and "/home/sandbox" in tool["description"]
    # Only what the server serves: no network, no storage mounts yet.
    assert "no network access" in tool["description"] and "/data" not in tool["description"]
    assert tool["input_schema"]["required"] == ["code"]
    result = tool_result_of(second)
    assert "exit_code: 0 (success)" in result["content"]
    assert SANDBOX_STDOUT in result["content"]


def test_tool_runner_runs_the_beta_tool(client: Airlock, thread_id: str) -> None:
    sandbox = create_code_sandbox(client=client, thread_id=thread_id, language="bash")
    tool_use = message(
        [{"type": "tool_use", "id": "toolu_1", "name": "code_sandbox", "input": {"code": "echo kept > note; pwd"}}],
        "tool_use",
    )
    with fake_provider([tool_use, FINAL]) as provider:
        model = anthropic.Anthropic(api_key="test-key", base_url=provider.url, max_retries=0)
        runner = model.beta.messages.tool_runner(
            model="claude-scripted",
            max_tokens=512,
            tools=[sandbox.beta_tool],
            messages=[{"role": "user", "content": "Leave a note."}],
        )
        final = runner.until_done()

    assert final.content[0].text == "The answer is 42."
    result = tool_result_of(provider.requests[1].body)
    content = result["content"] if isinstance(result["content"], str) else result["content"][0]["text"]
    assert "--- stdout ---\n/home/sandbox" in content
    assert provider.requests[0].body["tools"][0]["input_schema"] == sandbox.input_schema
    # The factory's thread_id and language applied: the note is in that thread's home.
    assert client.execute("cat note", language="bash", thread_id=thread_id).stdout == "kept\n"
