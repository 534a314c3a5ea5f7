import asyncio
import io
import tarfile
from pathlib import Path
from typing import List

import pytest

from airlock import (
    AsyncAirlock,
    AsyncExecutionHandle,
    AuthenticationError,
    OutputEvent,
    ResultEvent,
    StatusEvent,
    ThreadBusyError,
    ValidationError,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
async def async_client(airlock_server):
    async with AsyncAirlock(api_key=airlock_server.api_key, base_url=airlock_server.url) as client:
        yield client


async def test_execute_and_errors(async_client: AsyncAirlock, airlock_server) -> None:
    result = await async_client.execute("print(6 * 7)")
    assert (result.success, result.stdout, result.exit_code) == (True, "42\n", 0)
    failed = await async_client.execute("exit 4", language="bash")
    assert (failed.success, failed.status, failed.exit_code) == (False, "failed", 4)
    with pytest.raises(ValidationError, match="code: must not be empty"):
        await async_client.execute("")
    async with AsyncAirlock(api_key="sk-test-wrong", base_url=airlock_server.url) as wrong:
        with pytest.raises(AuthenticationError):
            await wrong.execute("print(1)")


async def test_concurrent_executions_run_side_by_side(async_client: AsyncAirlock) -> None:
    results = await asyncio.gather(*(async_client.execute(f"print({n} * 2)") for n in range(4)))
    assert [result.stdout for result in results] == ["0\n", "2\n", "4\n", "6\n"]


async def test_stream_with_sync_and_async_callbacks(async_client: AsyncAirlock) -> None:
    stdout: List[str] = []
    stderr: List[str] = []

    async def collect_stderr(data: str) -> None:
        await asyncio.sleep(0)
        stderr.append(data)

    events = []
    async for event in async_client.execute_stream(
        "import sys, time\nprint('a', flush=True)\nprint('b', file=sys.stderr, flush=True)\n"
        "time.sleep(0.5)\nprint('c')",
        on_stdout=stdout.append,
        on_stderr=collect_stderr,
    ):
        events.append(event)
    assert isinstance(events[0], StatusEvent) and isinstance(events[-1], ResultEvent)
    assert [event.seq for event in events] == list(range(len(events)))
    assert ("".join(stdout), "".join(stderr)) == ("a\nc\n", "b\n")
    assert any(isinstance(event, OutputEvent) for event in events)

    async with async_client.execute_stream("print('done')") as stream:
        result = await stream.until_done()
    assert result.stdout == "done\n" and stream.trace_id == result.trace_id


async def test_background_execution_wait_and_cancel(async_client: AsyncAirlock, thread_id: str) -> None:
    handle = await async_client.execute_async("sleep 30", language="bash", thread_id=thread_id)
    assert isinstance(handle, AsyncExecutionHandle)
    with pytest.raises(ThreadBusyError):
        await async_client.execute("print(1)", thread_id=thread_id)
    assert (await handle.cancel()).status == "cancelled"
    record = await handle.wait(timeout=20)
    assert (record.status, record.exit_code) == ("cancelled", 137)
    assert (await async_client.get_execution(handle.trace_id)).status == "cancelled"


async def test_files_and_threads(async_client: AsyncAirlock, thread_id: str, tmp_path: Path) -> None:
    await async_client.files.upload(thread_id, "in.txt", "async\n")
    await async_client.files.upload(thread_id, "big.bin", io.BytesIO(b"y" * 2_500_000))
    run = await async_client.execute("cat in.txt; wc -c < big.bin", language="bash", thread_id=thread_id)
    assert run.stdout == "async\n2500000\n"
    assert sorted(entry.path for entry in await async_client.files.list(thread_id)) == ["big.bin", "in.txt"]
    assert await async_client.files.download(thread_id, "in.txt") == b"async\n"
    assert await async_client.files.download_to(thread_id, "big.bin", tmp_path / "big.bin") == 2_500_000
    await async_client.files.delete(thread_id, "big.bin")
    assert [entry.path for entry in await async_client.files.list(thread_id)] == ["in.txt"]

    forked = await async_client.threads.fork(thread_id, f"{thread_id}-copy")
    copy = await async_client.execute("cat in.txt", language="bash", thread_id=forked.thread_id)
    assert copy.stdout == "async\n"
    archive = tmp_path / "home.tar.gz"
    assert await async_client.threads.export(forked.thread_id, archive) > 0
    with tarfile.open(archive) as opened:
        assert "in.txt" in [name.lstrip("./") for name in opened.getnames()]
