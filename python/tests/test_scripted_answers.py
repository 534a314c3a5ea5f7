"""The retry policy and error mapping, against scripted answers (httpx.MockTransport): no server needed."""

import json
from typing import Callable, List

import httpx
import pytest

import airlock._client
from airlock import (
    Airlock,
    APIConnectionError,
    APIError,
    InternalServerError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
)
from airlock._errors import parse_retry_after

RECORD = {
    "trace_id": "trc_aaaaaaaaaaaaaaaaaaaa",
    "status": "success",
    "exit_code": 0,
    "stdout": "",
    "stderr": "",
    "error": None,
    "duration_ms": 3,
    "delivery_mode": "inline",
    "created_at": "2026-01-01T00:00:00.000Z",
    "completed_at": "2026-01-01T00:00:01.000Z",
}


def scripted(answers: List[Callable[[httpx.Request], httpx.Response]], sleeps: List[float], monkeypatch) -> Airlock:
    requests: List[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return answers[min(len(requests), len(answers)) - 1](request)

    monkeypatch.setattr(airlock._client.Airlock, "_sleep", staticmethod(sleeps.append))
    client = Airlock(
        api_key="sk-test",
        base_url="http://airlock.test",
        http_client=httpx.Client(transport=httpx.MockTransport(handle)),
    )
    client.requests = requests  # type: ignore[attr-defined]
    return client


def error(status: int, code: str, headers=None) -> Callable[[httpx.Request], httpx.Response]:
    body = {"error": code, "message": f"{code} happened", "request_id": "req_1"}
    return lambda request: httpx.Response(status, json=body, headers=headers or {})


def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=RECORD)


def test_idempotent_calls_retry_503_and_429_honouring_retry_after(monkeypatch) -> None:
    sleeps: List[float] = []
    client = scripted(
        [error(503, "unavailable", {"Retry-After": "2"}), error(429, "rate_limited", {"Retry-After": "1"}), ok],
        sleeps,
        monkeypatch,
    )
    assert client.get_execution(RECORD["trace_id"]).status == "success"
    assert len(client.requests) == 3 and sleeps == [2.0, 1.0]
    assert client.requests[0].headers["authorization"] == "Bearer sk-test"


def test_retries_stop_after_max_retries_with_growing_backoff(monkeypatch) -> None:
    sleeps: List[float] = []
    client = scripted([error(503, "unavailable")], sleeps, monkeypatch)
    with pytest.raises(ServiceUnavailableError) as raised:
        client.files.list("t")
    assert len(client.requests) == 3 and raised.value.retry_after is None
    assert 0.375 <= sleeps[0] <= 0.625 and 0.75 <= sleeps[1] <= 1.25


def test_executions_are_never_retried(monkeypatch) -> None:
    sleeps: List[float] = []
    client = scripted([error(503, "unavailable", {"Retry-After": "1"})], sleeps, monkeypatch)
    with pytest.raises(ServiceUnavailableError) as raised:
        client.execute("print(1)")
    assert raised.value.retry_after == 1.0
    with pytest.raises(ServiceUnavailableError):
        client.execute_async("print(1)")
    with pytest.raises(ServiceUnavailableError):
        list(client.execute_stream("print(1)"))
    assert len(client.requests) == 3 and sleeps == []


def test_an_execution_with_an_idempotency_key_is_retried_with_the_same_key(monkeypatch) -> None:
    sleeps: List[float] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection reset", request=request)

    answer = httpx.Response(200, json=RESULT)
    client = scripted([refuse, error(503, "unavailable", {"Retry-After": "0"}), lambda request: answer], sleeps, monkeypatch)
    assert client.execute("print(1)", idempotency_key="job-42").stdout == RESULT["stdout"]
    assert [request.headers.get("idempotency-key") for request in client.requests] == ["job-42"] * 3


def test_a_long_retry_after_is_left_to_the_caller(monkeypatch) -> None:
    sleeps: List[float] = []
    client = scripted([error(429, "rate_limited", {"Retry-After": "120"})], sleeps, monkeypatch)
    with pytest.raises(RateLimitError) as raised:
        client.get_execution(RECORD["trace_id"])
    assert raised.value.retry_after == 120.0 and len(client.requests) == 1


def test_connection_failures_are_retried_for_reads_only(monkeypatch) -> None:
    sleeps: List[float] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = scripted([refuse, ok], sleeps, monkeypatch)
    assert client.get_execution(RECORD["trace_id"]).trace_id == RECORD["trace_id"]
    assert len(client.requests) == 2 and len(sleeps) == 1

    client = scripted([refuse], sleeps, monkeypatch)
    with pytest.raises(APIConnectionError, match="connection refused"):
        client.execute("print(1)")
    assert len(client.requests) == 1


def test_answers_without_an_airlock_body_map_by_status(monkeypatch) -> None:
    client = scripted([lambda request: httpx.Response(403, text="<Error>AccessDenied</Error>")], [], monkeypatch)
    with pytest.raises(PermissionDeniedError) as raised:
        client.cancel(RECORD["trace_id"])
    assert (raised.value.status, raised.value.code, raised.value.message) == (403, None, "<Error>AccessDenied</Error>")

    client = scripted([lambda request: httpx.Response(502, headers={"X-Request-Id": "req_9"})], [], monkeypatch)
    with pytest.raises(InternalServerError) as raised:
        client.cancel(RECORD["trace_id"])
    assert raised.value.request_id == "req_9" and "502" in raised.value.message

    client = scripted(
        [lambda request: httpx.Response(418, json={"error": "teapot", "message": "short and stout"})], [], monkeypatch
    )
    with pytest.raises(APIError) as raised:
        client.cancel(RECORD["trace_id"])
    assert type(raised.value) is APIError and raised.value.code == "teapot"


def test_trace_ids_cannot_change_the_path(monkeypatch) -> None:
    client = scripted([ok], [], monkeypatch)
    client.get_execution("../admin/v1/api-keys")
    assert client.requests[0].url.raw_path == b"/v1/executions/..%2Fadmin%2Fv1%2Fapi-keys"


def test_retry_after_as_an_http_date() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("soon") is None


def test_requests_carry_only_the_fields_given(monkeypatch) -> None:
    seen: List[dict] = []

    def capture(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(202, json={"trace_id": RECORD["trace_id"], "status": "running"})

    client = scripted([capture], [], monkeypatch)
    handle = client.execute_async("print(1)", thread_id="t", webhook_url="https://example.test/hook")
    assert seen == [
        {"code": "print(1)", "language": "python", "thread_id": "t", "webhook_url": "https://example.test/hook"}
    ]
    assert client.requests[0].headers["prefer"] == "respond-async"
    assert handle.trace_id == RECORD["trace_id"]


def ndjson(*events: dict) -> bytes:
    return b"".join(json.dumps(event).encode() + b"\n" for event in events)


RESULT = {
    "success": True,
    "stdout": "0\n1\n",
    "stderr": "",
    "exit_code": 0,
    "error": None,
    "trace_id": RECORD["trace_id"],
    "status": "success",
}


def test_a_replay_renumbered_from_the_record_still_gives_the_result(monkeypatch) -> None:
    # Once the server no longer has an execution's live events, it rebuilds them from the record, numbered anew.
    renumbered = ndjson(
        {"type": "status", "seq": 0, "trace_id": RECORD["trace_id"], "status": "running"},
        {"type": "output", "seq": 1, "stream": "stdout", "data": "0\n1\n"},
        {"type": "result", "seq": 2, "trace_id": RECORD["trace_id"], "status": "success", "result": RESULT},
    )

    def replay(request: httpx.Request) -> httpx.Response:
        after = int(request.url.params.get("after_seq", "-1"))
        body = b"" if after >= 2 else renumbered
        return httpx.Response(200, content=body, headers={"Content-Type": "application/x-ndjson"})

    client = scripted([replay], [], monkeypatch)
    seen: List[str] = []
    events = list(client.stream_output(RECORD["trace_id"], after_seq=5, on_stdout=seen.append))
    assert [event.type for event in events] == ["result"] and events[0].result.stdout == "0\n1\n"
    assert seen == []
    assert [str(request.url.query, "ascii") for request in client.requests] == ["after_seq=5", "after_seq=5", ""]


def test_a_stream_cut_before_its_trace_id_is_not_resent(monkeypatch) -> None:
    client = scripted(
        [lambda request: httpx.Response(200, content=b"", headers={"Content-Type": "application/x-ndjson"})],
        [],
        monkeypatch,
    )
    with pytest.raises(APIConnectionError, match="not sent again"):
        list(client.execute_stream("print(1)"))
    assert len(client.requests) == 1
