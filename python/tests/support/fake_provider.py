"""A scripted model: a local fake of a provider's HTTP API on 127.0.0.1 that answers each POST with the next
scripted JSON body and records every request, so a test can read what the framework sent back to the model."""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, Iterator, List, Union

# What the scripted models ask the sandbox to run, and its stdout, which only a run in the sandbox produces.
SANDBOX_CODE = "import os; print(os.getcwd(), 6 * 7)"
SANDBOX_STDOUT = "/home/sandbox 42"

Answer = Union[Dict[str, Any], Callable[[Dict[str, Any]], Dict[str, Any]]]


def chat_completion(message: Dict[str, Any], finish_reason: str) -> Dict[str, Any]:
    """An OpenAI Chat Completions answer."""
    return {
        "id": f"chatcmpl-{finish_reason}",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-scripted",
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }


# A Chat Completions answer calling code_sandbox with SANDBOX_CODE.
CHAT_TOOL_CALL = chat_completion(
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


def chat_tool_answer(body: Dict[str, Any]) -> str:
    """The content of the tool message answering CHAT_TOOL_CALL in a Chat Completions request."""
    (answer,) = [message for message in body["messages"] if message["role"] == "tool"]
    assert answer["tool_call_id"] == "call_1"
    return str(answer["content"])


@dataclass
class RecordedRequest:
    path: str
    headers: Dict[str, str]
    body: Dict[str, Any]


@dataclass
class FakeProvider:
    url: str
    requests: List[RecordedRequest] = field(default_factory=list)


@contextmanager
def fake_provider(answers: List[Answer]) -> Iterator[FakeProvider]:
    """Serves `answers` in order, one per POST (a callable gets the request body); a POST past the script is
    answered 500 so the test fails with the framework's error rather than hanging."""
    script = list(answers)
    lock = threading.Lock()
    provider = FakeProvider(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else {}
            with lock:
                provider.requests.append(RecordedRequest(self.path, dict(self.headers), body))
                answer = script.pop(0) if script else None
            if answer is None:
                self._send(500, {"error": {"type": "api_error", "message": f"unscripted request to {self.path}"}})
                return
            self._send(200, answer(body) if callable(answer) else answer)

        def _send(self, status: int, payload: Dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    provider.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
