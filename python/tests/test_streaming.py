import time
from typing import List, Tuple

import pytest

from airlock import (
    Airlock,
    APIConnectionError,
    KeepaliveEvent,
    OutputEvent,
    ResultEvent,
    StatusEvent,
    ValidationError,
)
from support.dropping_proxy import DroppingProxy


def test_events_arrive_in_order_while_the_code_runs(client: Airlock) -> None:
    stdout: List[str] = []
    stderr: List[str] = []
    arrivals: List[Tuple[float, object]] = []
    stream = client.execute_stream(
        'import sys, time\nprint("first", flush=True)\nprint("oops", file=sys.stderr, flush=True)\n'
        'time.sleep(2)\nprint("second")',
        on_stdout=stdout.append,
        on_stderr=stderr.append,
    )
    with stream:
        for event in stream:
            arrivals.append((time.monotonic(), event))
    events = [event for _, event in arrivals]
    assert isinstance(events[0], StatusEvent) and events[0].status == "running" and events[0].seq == 0
    assert [event.seq for event in events] == list(range(len(events)))
    assert all(isinstance(event, (OutputEvent, KeepaliveEvent)) for event in events[1:-1])
    last = events[-1]
    assert isinstance(last, ResultEvent) and last.status == "success" and last.trace_id == events[0].trace_id
    assert (last.result.stdout, last.result.stderr, last.result.exit_code) == ("first\nsecond\n", "oops\n", 0)
    assert ("".join(stdout), "".join(stderr)) == ("first\nsecond\n", "oops\n")
    assert stream.result == last.result and stream.trace_id == events[0].trace_id

    # "first" arrived while the code slept, not with the result.
    first_at = next(at for at, event in arrivals if isinstance(event, OutputEvent) and "first" in event.data)
    assert arrivals[-1][0] - first_at > 1.0


def test_until_done_runs_the_callbacks_and_returns_the_result(client: Airlock) -> None:
    seen: List[str] = []
    result = client.execute_stream("for i in range(3): print(i)", on_stdout=seen.append).until_done()
    assert result.stdout == "0\n1\n2\n" and "".join(seen) == "0\n1\n2\n"


def test_errors_before_the_code_starts_raise_when_iteration_starts(client: Airlock) -> None:
    stream = client.execute_stream("")
    with pytest.raises(ValidationError, match="code: must not be empty"):
        next(iter(stream))
    assert list(stream) == []


def test_a_dropped_connection_resumes_after_the_last_event_read(airlock_server) -> None:
    proxy = DroppingProxy(airlock_server.url)
    try:
        with Airlock(api_key=airlock_server.api_key, base_url=proxy.url) as client:
            stdout: List[str] = []
            stream = client.execute_stream(
                'import time\nprint("before", flush=True)\ntime.sleep(1.5)\nprint("after")', on_stdout=stdout.append
            )
            events = list(stream)
        assert proxy.dropped == 1
        assert any(
            line.startswith(b"GET /v1/executions/") and b"/output?after_seq=1 " in line for line in proxy.requests
        )
        assert "".join(stdout) == "before\nafter\n"
        assert [event.seq for event in events] == sorted({event.seq for event in events})
        assert isinstance(events[-1], ResultEvent) and events[-1].result.stdout == "before\nafter\n"
    finally:
        proxy.close()


def test_stream_output_replays_an_execution(client: Airlock) -> None:
    done = client.execute("echo out; echo err >&2", language="bash")
    events = list(client.stream_output(done.trace_id))
    assert isinstance(events[0], StatusEvent) and isinstance(events[-1], ResultEvent)
    assert events[-1].result.stdout == "out\n"
    later = list(client.stream_output(done.trace_id, after_seq=events[-2].seq))
    assert [type(event) for event in later] == [ResultEvent]


def test_a_stream_that_cannot_start_is_not_sent_again(airlock_server) -> None:
    with Airlock(api_key=airlock_server.api_key, base_url="http://127.0.0.1:9") as unreachable:
        with pytest.raises(APIConnectionError):
            list(unreachable.execute_stream("print(1)"))


def test_cancel_kills_a_streamed_execution(client: Airlock) -> None:
    with client.execute_stream("echo waiting; sleep 30", language="bash") as stream:
        for event in stream:
            if isinstance(event, OutputEvent):
                cancelled = stream.cancel()
                assert (cancelled.trace_id, cancelled.status) == (stream.trace_id, "cancelled")
        result = stream.result
    assert result is not None
    assert (result.status, result.success, result.stdout) == ("cancelled", False, "waiting\n")
