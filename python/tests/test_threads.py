import io
import tarfile
from pathlib import Path

import pytest

from airlock import Airlock, ConflictError, IdempotencyKeyReusedError, ThreadBusyError


def test_the_home_persists_between_calls_on_a_thread(client: Airlock, thread_id: str) -> None:
    client.execute("echo kept > notes.txt; mkdir -p work", language="bash", thread_id=thread_id)
    assert client.execute("cat notes.txt; ls -d work", language="bash", thread_id=thread_id).stdout == "kept\nwork\n"
    # Another thread, or none, starts from an empty home.
    assert client.execute("ls -A | wc -l", language="bash").stdout == "0\n"


def test_a_second_call_on_a_running_thread_raises_thread_busy(client: Airlock, thread_id: str) -> None:
    running = client.execute_async("sleep 3", language="bash", thread_id=thread_id)
    with pytest.raises(ThreadBusyError) as raised:
        client.execute("print(1)", thread_id=thread_id)
    error = raised.value
    assert isinstance(error, ConflictError)
    assert (error.status, error.code) == (409, "thread_busy")
    assert thread_id in error.message
    client.cancel(running.trace_id)
    running.wait(timeout=20)


def test_fork_starts_a_new_thread_from_a_home_and_they_diverge(client: Airlock, thread_id: str) -> None:
    client.execute("echo original > shared.txt", language="bash", thread_id=thread_id)
    forked = client.threads.fork(thread_id, f"{thread_id}-fork")
    assert (forked.thread_id, forked.forked_from) == (f"{thread_id}-fork", thread_id)
    client.execute("echo changed > shared.txt", language="bash", thread_id=forked.thread_id)
    assert client.execute("cat shared.txt", language="bash", thread_id=thread_id).stdout == "original\n"
    assert client.execute("cat shared.txt", language="bash", thread_id=forked.thread_id).stdout == "changed\n"


def test_export_streams_the_home_as_a_tar_gz(client: Airlock, thread_id: str, tmp_path: Path) -> None:
    client.execute("mkdir -p data; echo 1,2 > data/table.csv", language="bash", thread_id=thread_id)
    target = tmp_path / "home.tar.gz"
    size = client.threads.export(thread_id, target)
    assert size == target.stat().st_size > 0
    with tarfile.open(target) as archive:
        names = [name.lstrip("./") for name in archive.getnames()]
        assert "data/table.csv" in names
        member = next(m for m in archive.getmembers() if m.name.lstrip("./") == "data/table.csv")
        assert archive.extractfile(member).read() == b"1,2\n"

    buffer = io.BytesIO()
    assert client.threads.export(thread_id, buffer) == size


def test_a_retry_with_the_idempotency_key_returns_the_first_result_and_runs_nothing(client: Airlock, thread_id: str) -> None:
    code = "echo x >> runs.txt; wc -l < runs.txt"
    first = client.execute(code, language="bash", thread_id=thread_id, idempotency_key=f"{thread_id}-1")
    again = client.execute(code, language="bash", thread_id=thread_id, idempotency_key=f"{thread_id}-1")
    assert (again.trace_id, again.stdout) == (first.trace_id, "1\n")
    with pytest.raises(IdempotencyKeyReusedError) as raised:
        client.execute("echo other", language="bash", thread_id=thread_id, idempotency_key=f"{thread_id}-1")
    assert (raised.value.status, raised.value.code) == (422, "idempotency_key_reused")
    assert client.execute("wc -l < runs.txt", language="bash", thread_id=thread_id).stdout == "1\n"
