"""The public Baponi Python SDK (PyPI `baponi`, pinned in the test extra) against a real Airlock server, unchanged
except for its base URL and API key.
"""

import time
import uuid
import warnings
from typing import Iterator

import httpx
import pytest

baponi = pytest.importorskip("baponi", minversion="0.5.1")
from baponi import (  # noqa: E402
    APIValidationError,
    AsyncBaponi,
    Baponi,
    ExecutionHandle,
    KeepaliveEvent,
    OutputEvent,
    ResultEvent,
    StatusEvent,
    ThreadBusyError,
)


def quietly(factory, *args, **kwargs):
    # The SDK warns that a plain-http base URL sends the key in clear text: true, and expected on loopback.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return factory(*args, **kwargs)


@pytest.fixture
def sdk(airlock_server) -> Iterator[Baponi]:
    client = quietly(Baponi, api_key=airlock_server.api_key, base_url=airlock_server.url)
    with client:
        yield client


@pytest.fixture
def thread() -> str:
    return f"baponi-{uuid.uuid4().hex[:12]}"


def test_execute_python_and_bash(sdk: Baponi) -> None:
    result = sdk.execute("print('Hello!')")
    assert (result.success, result.stdout, result.stderr, result.exit_code, result.error) == (
        True,
        "Hello!\n",
        "",
        0,
        None,
    )
    bash = sdk.execute('echo "$GREETING"; echo oops >&2; exit 3', language="bash", env_vars={"GREETING": "hi"})
    assert (bash.success, bash.stdout, bash.stderr, bash.exit_code) == (False, "hi\n", "oops\n", 3)
    node = sdk.execute("console.log(6 * 7)", language="node", metadata={"job": "compat"})
    assert node.stdout == "42\n"


def test_execute_of_code_killed_by_its_timeout(sdk: Baponi) -> None:
    result = sdk.execute("import time; time.sleep(30)", timeout=1)
    assert result.success is False and result.exit_code == 137


def test_error_is_a_machine_readable_code(sdk: Baponi) -> None:
    result = sdk.execute("import time; time.sleep(30)", timeout=1)
    assert result.error == "timeout"


def test_the_thread_home_is_at_home_baponi(sdk: Baponi, thread: str) -> None:
    written = sdk.execute("open('/home/baponi/data.csv', 'w').write('x,1\\n')", thread_id=thread)
    assert written.success, written.stderr
    assert sdk.execute("print(open('/home/baponi/data.csv').read(), end='')", thread_id=thread).stdout == "x,1\n"
    assert [entry.path for entry in sdk.list_files(id=thread)] == ["data.csv"]


def test_execute_stream(sdk: Baponi) -> None:
    with sdk.execute_stream(
        "import sys, time\nprint('a', flush=True)\ntime.sleep(1)\nprint('b', file=sys.stderr)"
    ) as stream:
        events = list(stream)
        result = stream.get_final_result()
    assert isinstance(events[0], StatusEvent) and events[0].status == "running"
    assert all(isinstance(event, (OutputEvent, KeepaliveEvent)) for event in events[1:-1])
    assert isinstance(events[-1], ResultEvent) and events[-1].status == "success"
    assert [event.seq for event in events] == list(range(len(events)))
    assert (
        "".join(event.data for event in events if isinstance(event, OutputEvent) and event.stream == "stdout") == "a\n"
    )
    assert (result.stdout, result.stderr, result.exit_code) == ("a\n", "b\n", 0)
    assert stream.trace_id == events[0].trace_id and stream.last_seq == events[-1].seq

    with sdk.execute_stream("print('quiet')") as quiet:
        assert quiet.until_done().stdout == "quiet\n"

    with sdk.reconnect_stream(events[0].trace_id) as replay:
        assert replay.until_done().stdout == "a\n"
    with sdk.reconnect_stream(events[0].trace_id, after_seq=events[-2].seq) as tail:
        assert [type(event) for event in tail] == [ResultEvent]


def test_reconnect_stream_after_the_live_log_is_gone(sdk: Baponi) -> None:
    with sdk.execute_stream("import time\nfor i in range(4):\n    print(i, flush=True)\n    time.sleep(0.2)") as stream:
        events = list(stream)
    assert isinstance(events[-1], ResultEvent)
    time.sleep(62)  # the server keeps a finished execution's live events for 60 seconds
    with sdk.reconnect_stream(stream.trace_id, after_seq=events[2].seq) as replay:
        assert replay.until_done().stdout == "0\n1\n2\n3\n"


def test_sub_paths_in_the_sdk_form(sdk: Baponi) -> None:
    # A list of absolute paths under /data: an empty one narrows nothing; one naming a mount needs that mount.
    assert sdk.execute("print('ok')", sub_paths=[]).stdout == "ok\n"
    with pytest.raises(APIValidationError) as raised:
        sdk.execute("print('ok')", sub_paths=["/data/myvol/sub"])
    assert (raised.value.status_code, raised.value.error_type) == (400, "validation_error")
    assert raised.value.message.startswith("sub_paths.0: /data/myvol is not mounted in this sandbox")


def test_thread_persistence_and_busy_threads(sdk: Baponi, thread: str) -> None:
    sdk.execute("echo state > saved.txt", language="bash", thread_id=thread)
    assert sdk.execute("print(open('saved.txt').read().strip())", thread_id=thread).stdout == "state\n"

    running = sdk.execute_webhook("import time; time.sleep(3)", thread_id=thread)
    with pytest.raises(ThreadBusyError) as raised:
        sdk.execute("print(1)", thread_id=thread)
    assert raised.value.status_code == 409 and raised.value.error_type == "thread_busy"
    assert running.cancel().status == "cancelled"
    assert running.wait(poll_interval=0.2, timeout=30).status == "cancelled"


def test_execute_webhook_then_wait(sdk: Baponi) -> None:
    started = time.monotonic()
    handle = sdk.execute_webhook("import time; time.sleep(1); print('later')", metadata={"job": "1"})
    assert isinstance(handle, ExecutionHandle) and time.monotonic() - started < 0.9
    assert handle.poll().status == "running"
    status = handle.wait(poll_interval=0.2, timeout=30)
    assert (status.status, status.exit_code, status.stdout, status.delivery_mode) == (
        "success",
        0,
        "later\n",
        "webhook",
    )

    # The SDK accepts only https webhook URLs; a loopback one is accepted by a server in development mode.
    hooked = sdk.execute_webhook("print('hooked')", webhook_url="https://127.0.0.1:9/hook")
    final = hooked.wait(poll_interval=0.2, timeout=30)
    assert (final.status, final.webhook_url) == ("success", "https://127.0.0.1:9/hook")
    assert final.webhook_delivery_status in ("pending", "failed")


def test_get_and_cancel_execution(sdk: Baponi) -> None:
    done = sdk.execute_webhook("print('recorded')").wait(poll_interval=0.2, timeout=30)
    record = sdk.get_execution(done.trace_id)
    assert (record.trace_id, record.status, record.stdout, record.exit_code) == (
        done.trace_id,
        "success",
        "recorded\n",
        0,
    )
    assert record.created_at and record.completed_at and isinstance(record.duration_ms, int)

    running = sdk.execute_webhook("sleep 30", language="bash")
    cancelled = sdk.cancel_execution(running.trace_id)
    assert (cancelled.trace_id, cancelled.status) == (running.trace_id, "cancelled")
    assert running.wait(poll_interval=0.2, timeout=30).status == "cancelled"


def test_files_upload_list_download(sdk: Baponi, thread: str) -> None:
    content = b"name,score\nada,3\n"
    signed = sdk.upload_url(path="inputs/scores.csv", content_length=len(content), id=thread, content_type="text/csv")
    assert signed.method == "PUT" and signed.expires_at
    put = httpx.request(signed.method, signed.url, content=content, headers={h.name: h.value for h in signed.headers})
    assert put.status_code in (200, 204)

    run = sdk.execute("cat inputs/scores.csv | wc -l; echo done > inputs/out.txt", language="bash", thread_id=thread)
    assert run.stdout == "2\n"

    listed = {entry.path: entry for entry in sdk.list_files(id=thread)}
    assert set(listed) == {"inputs", "inputs/scores.csv", "inputs/out.txt"}
    assert listed["inputs/scores.csv"].size == len(content) and listed["inputs/scores.csv"].modified
    assert {entry.path for entry in sdk.list_files(id=thread, path="inputs")} == {"inputs/out.txt", "inputs/scores.csv"}

    download = sdk.download_url(path="inputs/out.txt", id=thread)
    fetched = httpx.request(download.method, download.url, headers={h.name: h.value for h in download.headers})
    assert (fetched.status_code, fetched.content) == (200, b"done\n")


@pytest.mark.anyio
async def test_async_client(airlock_server, thread: str) -> None:
    async with quietly(AsyncBaponi, api_key=airlock_server.api_key, base_url=airlock_server.url) as sdk:
        result = await sdk.execute("echo async > a.txt; cat a.txt", language="bash", thread_id=thread)
        assert (result.stdout, result.exit_code) == ("async\n", 0)
        async with await sdk.execute_stream("print('streamed')") as stream:
            assert (await stream.until_done()).stdout == "streamed\n"
        handle = await sdk.execute_webhook("cat a.txt", language="bash", thread_id=thread)
        assert (await handle.wait(poll_interval=0.2, timeout=30)).stdout == "async\n"
        assert [entry.path for entry in await sdk.list_files(id=thread)] == ["a.txt"]
