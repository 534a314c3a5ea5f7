"""What each API operation sends and how its answer is read, without doing any I/O.

Every operation is a `Call` (one HTTP request and the parser of its answer) or a generator of calls and `Sleep`s
(an operation of several steps: upload through a signed URL, polling). `attempts()` turns an operation into the
`Attempt`s and `Sleep`s of its calls and their retries; the sync and async clients carry those out, and only
sending and sleeping differ between them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Callable, Dict, Generator, List, Mapping, Optional, TypeVar, Union
from urllib.parse import quote

import httpx

from ._bodies import CountingSink, UploadBody, UploadData
from ._config import USER_AGENT, ClientConfig
from ._errors import AirlockError, APIConnectionError, APIError, APITimeoutError, WaitTimeoutError, error_class
from ._retry import backoff, retry_delay
from ._types import CancelResult, ExecutionRecord, ExecutionResult, FileEntry, ForkResult, SignedUrl, WebhookDelivery

T = TypeVar("T")

DEFAULT_EXECUTION_TIMEOUT_SECONDS = 60
"""The server's default `timeout` when a request leaves it out."""
EXECUTION_READ_MARGIN_SECONDS = 30.0
"""How much longer than the execution's own timeout an inline answer may take (sandbox start, saving a thread)."""
NDJSON = "application/x-ndjson"


def _ignore(_response: httpx.Response) -> None:
    return None


def _json(response: httpx.Response) -> Any:
    return response.json()


@dataclass(frozen=True)
class Call:
    """One HTTP request of an operation and how to read its answer."""

    method: str
    path: str = ""
    """Relative to the client's base URL."""
    url: Optional[str] = None
    """An absolute signed file URL instead of `path`: sent without the API key, which it does not need."""
    json: Any = None
    params: Optional[Dict[str, str]] = None
    headers: Mapping[str, str] = field(default_factory=dict)
    idempotent: bool = False
    """Safe to send again after a connection failure, a 429 or a 503."""
    read_timeout: Optional[float] = None
    """Seconds to wait for the answer, when longer than the client's timeout (executions)."""
    body: Optional[UploadBody] = None
    parse: Callable[[httpx.Response], Any] = _ignore
    stream: bool = False
    """The successful response is handed on open (NDJSON streams) instead of being read and parsed."""
    sink: Optional[BinaryIO] = None
    """The successful response's body is written into it; the call returns the number of bytes written."""

    def describe(self) -> str:
        return f"{self.method} {self.url.split('?')[0] if self.url else self.path}"


@dataclass(frozen=True)
class Sleep:
    seconds: float


Step = Union[Call, Sleep]
Operation = Union[Call, Generator[Step, Any, Any]]


@dataclass(frozen=True)
class Attempt:
    """Send `call` once: the driver sends back its result, or throws its AirlockError in."""

    call: Call
    sink: Optional[CountingSink]


Attempts = Generator[Union[Attempt, Sleep], Any, Any]


def retrying(call: Call, max_retries: int) -> Attempts:
    """The attempts of one call and the waits between them; returns the call's result or raises its last error."""
    sink = CountingSink(call.sink) if call.sink is not None else None
    attempt = 0
    while True:
        try:
            return (yield Attempt(call, sink))
        except AirlockError as error:
            # A download that already wrote bytes cannot be repeated into the same destination.
            idempotent = call.idempotent and (sink is None or sink.written == 0)
            delay = retry_delay(error, idempotent=idempotent, attempt=attempt, max_retries=max_retries)
            if delay is None:
                raise
        yield Sleep(delay)
        attempt += 1


def attempts(operation: Operation, max_retries: int) -> Attempts:
    """An operation as the attempts and waits a client carries out: each of its calls expanded by `retrying`."""
    if isinstance(operation, Call):
        return (yield from retrying(operation, max_retries))
    value: Any = None
    while True:
        try:
            step = operation.send(value)
        except StopIteration as finished:
            return finished.value
        value = (yield step) if isinstance(step, Sleep) else (yield from retrying(step, max_retries))


def segment(value: str) -> str:
    """A value placed in a URL path, encoded so it cannot change the path."""
    return quote(value, safe="")


def request_arguments(config: ClientConfig, call: Call, content: Any) -> Dict[str, Any]:
    """Keyword arguments of `httpx.Client.build_request` for a call: URL, headers, body and timeouts."""
    if call.url is None:
        url = config.base_url + call.path
        headers = {**config.headers(), **call.headers}
    else:
        url = call.url
        headers = {"User-Agent": USER_AGENT, **call.headers}
    return {
        "method": call.method,
        "url": url,
        "params": call.params,
        "headers": headers,
        "json": call.json,
        "content": content,
        "timeout": httpx.Timeout(config.timeout, read=max(config.timeout, call.read_timeout or 0.0)),
    }


def api_error(response: httpx.Response) -> APIError:
    """The exception for an error answer (its body read): the body's stable code, message and request id."""
    data: Any = None
    try:
        data = response.json()
    except ValueError:
        pass
    body: Mapping[str, Any] = data if isinstance(data, dict) else {}
    code = body.get("error") if isinstance(body.get("error"), str) else None
    message = body.get("message") if isinstance(body.get("message"), str) else None
    if not message:
        text = response.text.strip()
        message = text[:500] if text else f"HTTP {response.status_code} {response.reason_phrase}".strip()
    request_id = body.get("request_id") or response.headers.get("x-request-id")
    return error_class(response.status_code, code)(
        message, status=response.status_code, code=code, request_id=request_id, headers=response.headers
    )


def connection_error(error: httpx.RequestError, call: Call, base_url: str) -> APIConnectionError:
    where = call.url or base_url
    if isinstance(error, httpx.TimeoutException):
        return APITimeoutError(f"{call.describe()}: no answer from {where} within the timeout ({type(error).__name__})")
    detail = str(error) or type(error).__name__
    return APIConnectionError(f"{call.describe()}: could not complete the request to {where}: {detail}")


def execute_body(
    code: str,
    *,
    language: Optional[str],
    timeout: Optional[int],
    thread_id: Optional[str],
    metadata: Optional[Mapping[str, str]],
    env_vars: Optional[Mapping[str, str]],
    webhook_url: Optional[str] = None,
) -> Dict[str, Any]:
    """The execute request's JSON: only the fields given, so the server's defaults and rules apply."""
    body: Dict[str, Any] = {"code": code}
    optional = {
        "language": language,
        "timeout": timeout,
        "thread_id": thread_id,
        "metadata": dict(metadata) if metadata is not None else None,
        "env_vars": dict(env_vars) if env_vars is not None else None,
        "webhook_url": webhook_url,
    }
    body.update({name: value for name, value in optional.items() if value is not None})
    return body


def _execution_read_timeout(body: Mapping[str, Any]) -> float:
    return float(body.get("timeout") or DEFAULT_EXECUTION_TIMEOUT_SECONDS) + EXECUTION_READ_MARGIN_SECONDS


def _execute(body: Mapping[str, Any], idempotency_key: Optional[str], headers: Mapping[str, str], **call: Any) -> Call:
    """An execute call; with an Idempotency-Key it may be sent again (the server answers a repeat from its record)."""
    key_header = {"Idempotency-Key": idempotency_key} if idempotency_key is not None else {}
    return Call(
        "POST",
        "/v1/sandbox/execute",
        json=body,
        headers={**key_header, **headers},
        idempotent=idempotency_key is not None,
        **call,
    )


def execute(body: Mapping[str, Any], idempotency_key: Optional[str] = None) -> Call:
    return _execute(
        body,
        idempotency_key,
        {},
        read_timeout=_execution_read_timeout(body),
        parse=lambda response: ExecutionResult.from_wire(response.json()),
    )


def execute_stream(body: Mapping[str, Any], idempotency_key: Optional[str] = None) -> Call:
    return _execute(body, idempotency_key, {"Accept": NDJSON}, stream=True)


def execute_async(body: Mapping[str, Any], idempotency_key: Optional[str] = None) -> Call:
    return _execute(body, idempotency_key, {"Prefer": "respond-async"}, parse=_json)


def execution_output(trace_id: str, after_seq: Optional[int]) -> Call:
    params = {"after_seq": str(after_seq)} if after_seq is not None else None
    return Call(
        "GET",
        f"/v1/executions/{segment(trace_id)}/output",
        params=params,
        headers={"Accept": NDJSON},
        idempotent=True,
        stream=True,
    )


def get_execution(trace_id: str) -> Call:
    return Call(
        "GET",
        f"/v1/executions/{segment(trace_id)}",
        idempotent=True,
        parse=lambda response: ExecutionRecord.from_wire(response.json()),
    )


def cancel(trace_id: str) -> Call:
    return Call(
        "POST",
        f"/v1/executions/{segment(trace_id)}/cancel",
        parse=lambda response: CancelResult.from_wire(response.json()),
    )


def webhook_delivery(trace_id: str) -> Call:
    return Call(
        "GET",
        f"/v1/executions/{segment(trace_id)}/webhook",
        idempotent=True,
        parse=lambda response: WebhookDelivery.from_wire(response.json()),
    )


def _thread_file(thread_id: str, path: Optional[str]) -> Dict[str, Any]:
    body: Dict[str, Any] = {"source": "thread", "id": thread_id}
    if path is not None:
        body["path"] = path
    return body


def _file_entries(response: httpx.Response) -> List[FileEntry]:
    return [FileEntry.from_wire(entry) for entry in response.json().get("files", [])]


def _signed_url(response: httpx.Response) -> SignedUrl:
    return SignedUrl.from_wire(response.json())


def files_list(thread_id: str, path: Optional[str]) -> Call:
    return Call("POST", "/v1/files/list", json=_thread_file(thread_id, path), idempotent=True, parse=_file_entries)


def files_upload_url(thread_id: str, path: str, content_length: int, content_type: Optional[str]) -> Call:
    body = {**_thread_file(thread_id, path), "content_length": content_length}
    if content_type is not None:
        body["content_type"] = content_type
    return Call("POST", "/v1/files/upload_url", json=body, idempotent=True, parse=_signed_url)


def files_download_url(thread_id: str, path: str) -> Call:
    return Call(
        "POST", "/v1/files/download_url", json=_thread_file(thread_id, path), idempotent=True, parse=_signed_url
    )


def files_delete(thread_id: str, path: str) -> Call:
    return Call("POST", "/v1/files/delete", json=_thread_file(thread_id, path))


def signed_request(
    signed: SignedUrl,
    *,
    body: Optional[UploadBody] = None,
    sink: Optional[BinaryIO] = None,
    parse: Callable[[httpx.Response], Any] = _ignore,
) -> Call:
    """A request to a signed URL, with the headers the server said to send (GETs and PUTs are idempotent)."""
    headers = dict(signed.headers)
    if body is not None:
        headers["Content-Length"] = str(body.length)
    return Call(signed.method, url=signed.url, headers=headers, body=body, sink=sink, parse=parse, idempotent=True)


def upload(thread_id: str, path: str, data: UploadData, content_type: Optional[str]) -> Generator[Step, Any, None]:
    body = UploadBody(data)
    signed = yield files_upload_url(thread_id, path, body.length, content_type)
    yield signed_request(signed, body=body)


def download(thread_id: str, path: str, sink: Optional[BinaryIO] = None) -> Generator[Step, Any, Any]:
    signed = yield files_download_url(thread_id, path)
    return (yield signed_request(signed, sink=sink, parse=lambda response: response.content))


def thread_fork(thread_id: str, new_thread_id: str) -> Call:
    return Call(
        "POST",
        f"/v1/threads/{segment(thread_id)}/fork",
        json={"thread_id": new_thread_id},
        parse=lambda response: ForkResult.from_wire(response.json()),
    )


def thread_export(thread_id: str, sink: BinaryIO) -> Call:
    path = f"/v1/threads/{segment(thread_id)}/export"
    return Call("GET", path, headers={"Accept": "application/gzip"}, idempotent=True, sink=sink)


def wait(
    trace_id: str, *, timeout: Optional[float], poll_interval: float, max_interval: float
) -> Generator[Step, Any, ExecutionRecord]:
    """Polls the execution's record, at growing intervals, until it has finished."""
    deadline = None if timeout is None else time.monotonic() + timeout
    attempt = 0
    while True:
        record: ExecutionRecord = yield get_execution(trace_id)
        if record.done:
            return record
        delay = backoff(attempt, base=poll_interval, cap=max_interval)
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WaitTimeoutError(f"execution {trace_id} was still running after {timeout} seconds")
            delay = min(delay, remaining)
        yield Sleep(delay)
        attempt += 1
