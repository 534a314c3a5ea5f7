"""The Google GenAI SDK against a fake generateContent endpoint that calls code_sandbox; the tool runs on the real
server and the model's second request carries the sandbox's output as a functionResponse."""

from __future__ import annotations

from typing import Any, Dict, List

from google import genai
from google.genai import types

from airlock import Airlock
from airlock.integrations.google_genai import create_code_sandbox
from support.fake_provider import SANDBOX_CODE, SANDBOX_STDOUT, fake_provider


def candidate(parts: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 10, "totalTokenCount": 20},
        "modelVersion": "gemini-scripted",
    }


FUNCTION_CALL = candidate([{"functionCall": {"id": "call_1", "name": "code_sandbox", "args": {"code": SANDBOX_CODE}}}])
FINAL = candidate([{"text": "The answer is 42."}])


def model_client(url: str) -> genai.Client:
    return genai.Client(api_key="test-key", http_options=types.HttpOptions(base_url=url))


def function_response_of(body: Dict[str, Any]) -> Dict[str, Any]:
    parts = [part for content in body["contents"] for part in content["parts"]]
    (response,) = [part["functionResponse"] for part in parts if "functionResponse" in part]
    assert response["name"] == "code_sandbox"
    return response


def assert_sandbox_output(output: str) -> None:
    assert "exit_code: 0 (success)" in output and SANDBOX_STDOUT in output


def test_declared_tool_answered_by_hand(client: Airlock) -> None:
    sandbox = create_code_sandbox(client=client)
    config = types.GenerateContentConfig(tools=[sandbox.tool])
    with fake_provider([FUNCTION_CALL, FINAL]) as provider:
        model = model_client(provider.url)
        contents: List[Any] = [types.Content(role="user", parts=[types.Part(text="What is 6 * 7?")])]
        response = model.models.generate_content(model="gemini-scripted", contents=contents, config=config)
        while response.function_calls:
            answers = types.Content(role="user", parts=sandbox.function_responses(response))
            contents += [response.candidates[0].content, answers]
            response = model.models.generate_content(model="gemini-scripted", contents=contents, config=config)

    assert response.text == "The answer is 42."
    first, second = (request.body for request in provider.requests)
    assert provider.requests[0].path.endswith("/models/gemini-scripted:generateContent")
    (declaration,) = first["tools"][0]["functionDeclarations"]
    # The SDK sends this field by its proto name, which the API accepts as well as the camelCase one.
    schema = declaration.get("parametersJsonSchema") or declaration["parameters_json_schema"]
    assert declaration["name"] == "code_sandbox" and schema == sandbox.input_schema
    answer = function_response_of(second)
    assert answer["id"] == "call_1"
    assert_sandbox_output(answer["response"]["output"])


def test_automatic_function_calling_runs_the_function(client: Airlock) -> None:
    sandbox = create_code_sandbox(client=client)
    config = types.GenerateContentConfig(tools=[sandbox.function])
    with fake_provider([FUNCTION_CALL, FINAL]) as provider:
        model = model_client(provider.url)
        response = model.chats.create(model="gemini-scripted", config=config).send_message("What is 6 * 7?")

    assert response.text == "The answer is 42."
    (declaration,) = provider.requests[0].body["tools"][0]["functionDeclarations"]
    assert declaration["name"] == "code_sandbox" and "/home/sandbox" in declaration["description"]
    answer = function_response_of(provider.requests[1].body)
    assert_sandbox_output(answer["response"]["result"])
