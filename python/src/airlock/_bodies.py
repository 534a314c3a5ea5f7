"""File bodies: what an upload sends (bytes, text or a file object) and where a download is written."""

from __future__ import annotations

import io
import os
from contextlib import contextmanager
from typing import IO, Any, AsyncIterator, BinaryIO, Iterator, Optional, Union

UploadData = Union[bytes, bytearray, memoryview, str, IO[Any]]
Destination = Union[str, "os.PathLike[str]", BinaryIO]

CHUNK_BYTES = 1024 * 1024


class UploadBody:
    """An upload's content and exact length (the signed URL is made for that length).

    `str` is sent as UTF-8 text. A seekable binary file is streamed from its current position to its end, and
    rewound for a retry; a text file or a non-seekable stream is read whole into memory first.
    """

    def __init__(self, data: UploadData) -> None:
        self._file: Optional[IO[bytes]] = None
        self._start = 0
        self._bytes = b""
        if isinstance(data, str):
            self._bytes = data.encode("utf-8")
        elif isinstance(data, (bytes, bytearray, memoryview)):
            self._bytes = bytes(data)
        elif hasattr(data, "read"):
            if isinstance(data, io.TextIOBase):
                self._bytes = data.read().encode("utf-8")
            elif _seekable(data):
                self._file = data
                self._start = data.tell()
                end = data.seek(0, io.SEEK_END)
                data.seek(self._start)
                self.length = end - self._start
                return
            else:
                content = data.read()
                self._bytes = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        else:
            raise TypeError(f"upload data must be bytes, str or a file object, not {type(data).__name__}")
        self.length = len(self._bytes)

    def sync_content(self) -> Union[bytes, Iterator[bytes]]:
        if self._file is None:
            return self._bytes
        self._file.seek(self._start)
        return self._chunks(self._file)

    def async_content(self) -> Union[bytes, AsyncIterator[bytes]]:
        if self._file is None:
            return self._bytes
        self._file.seek(self._start)
        return self._async_chunks(self._file)

    @staticmethod
    def _chunks(file: IO[bytes]) -> Iterator[bytes]:
        while True:
            chunk = file.read(CHUNK_BYTES)
            if not chunk:
                return
            yield chunk

    @staticmethod
    async def _async_chunks(file: IO[bytes]) -> AsyncIterator[bytes]:
        while True:
            chunk = file.read(CHUNK_BYTES)
            if not chunk:
                return
            yield chunk


class CountingSink:
    """A download's destination that counts what was written: a call that wrote something is not retried."""

    def __init__(self, file: BinaryIO) -> None:
        self.file = file
        self.written = 0

    def write(self, chunk: bytes) -> None:
        self.file.write(chunk)
        self.written += len(chunk)


def _seekable(data: Any) -> bool:
    try:
        return bool(data.seekable())
    except (AttributeError, OSError, ValueError):
        return False


@contextmanager
def open_sink(destination: Destination) -> Iterator[BinaryIO]:
    """A binary file object to write a download into: the one given, or the file at a path (removed on failure)."""
    if hasattr(destination, "write"):
        yield destination  # type: ignore[misc]
        return
    path = os.fspath(destination)
    file = open(path, "wb")
    try:
        yield file
    except BaseException:
        file.close()
        os.unlink(path)
        raise
    file.close()
