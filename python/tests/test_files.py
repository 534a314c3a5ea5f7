import io
from datetime import datetime
from pathlib import Path

import pytest

from airlock import Airlock, ConflictError, NotFoundError, SignedUrl, ValidationError


def test_upload_list_download_delete(client: Airlock, thread_id: str, tmp_path: Path) -> None:
    client.files.upload(thread_id, "inputs/data.csv", b"a,b\n1,2\n")
    client.files.upload(thread_id, "inputs/notes.txt", "héllo\n")
    client.files.upload(thread_id, "inputs/stream.bin", io.BytesIO(b"x" * 3_000_000))
    local = tmp_path / "local.txt"
    local.write_bytes(b"from disk\n")
    with local.open("rb") as file:
        client.files.upload(thread_id, "inputs/local.txt", file)

    run = client.execute(
        "cat inputs/data.csv inputs/notes.txt inputs/local.txt; wc -c < inputs/stream.bin; mkdir out; echo 3 > out/sum",
        language="bash",
        thread_id=thread_id,
    )
    assert run.stdout == "a,b\n1,2\nhéllo\nfrom disk\n3000000\n"

    entries = {entry.path: entry for entry in client.files.list(thread_id)}
    assert sorted(entries) == [
        "inputs",
        "inputs/data.csv",
        "inputs/local.txt",
        "inputs/notes.txt",
        "inputs/stream.bin",
        "out",
        "out/sum",
    ]
    assert entries["inputs"].is_directory and not entries["inputs/data.csv"].is_directory
    assert (entries["inputs/notes.txt"].name, entries["inputs/notes.txt"].size) == (
        "notes.txt",
        len("héllo\n".encode()),
    )
    assert isinstance(entries["out/sum"].modified, datetime)
    assert [entry.path for entry in client.files.list(thread_id, "out")] == ["out/sum"]

    assert client.files.download(thread_id, "out/sum") == b"3\n"
    target = tmp_path / "stream.bin"
    assert client.files.download_to(thread_id, "inputs/stream.bin", target) == 3_000_000
    assert target.read_bytes() == b"x" * 3_000_000

    client.files.delete(thread_id, "inputs/data.csv")
    with pytest.raises(NotFoundError):
        client.files.download(thread_id, "inputs/data.csv")
    with pytest.raises(NotFoundError):
        client.files.delete(thread_id, "inputs/data.csv")
    assert not (tmp_path / "missing.txt").exists()
    with pytest.raises(NotFoundError):
        client.files.download_to(thread_id, "nothing-here.txt", tmp_path / "missing.txt")
    assert not (tmp_path / "missing.txt").exists()


def test_signed_urls_are_typed(client: Airlock, thread_id: str) -> None:
    upload = client.files.upload_url(thread_id, "a.txt", 3, content_type="text/plain")
    assert isinstance(upload, SignedUrl) and upload.method == "PUT"
    assert upload.headers == {"Content-Type": "text/plain"}
    assert upload.expires_at > datetime.now(upload.expires_at.tzinfo)
    download = client.files.download_url(thread_id, "a.txt")
    assert download.method == "GET" and download.url.startswith(client.base_url)


def test_paths_are_validated_by_the_server(client: Airlock, thread_id: str) -> None:
    with pytest.raises(ValidationError, match="path"):
        client.files.upload(thread_id, "../outside.txt", b"x")
    with pytest.raises(ValidationError):
        client.files.list(thread_id, "/etc")


def test_an_upload_to_a_running_thread_is_a_conflict(client: Airlock, thread_id: str) -> None:
    running = client.execute_async("sleep 2", language="bash", thread_id=thread_id)
    with pytest.raises(ConflictError):
        client.files.upload(thread_id, "late.txt", b"late")
    running.wait(timeout=20)
    client.files.upload(thread_id, "late.txt", b"late")
    assert client.files.download(thread_id, "late.txt") == b"late"
