"""A loopback TCP proxy in front of the server that can cut a streamed execution's connection mid-stream."""

from __future__ import annotations

import socket
import threading
from typing import List, Tuple
from urllib.parse import urlsplit

OUTPUT_MARKER = b'"type":"output"'


class DroppingProxy:
    """Forwards connections to `target`; while `drop_streams` is set, the first NDJSON execute response is cut
    right after its first output event (a connection that breaks mid-stream, as a flaky network would)."""

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self._target: Tuple[str, int] = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.drop_streams = True
        self.dropped = 0
        self.requests: List[bytes] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._closed = True
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(self._target)
        head = client.recv(65536)
        self.requests.append(head.split(b"\r\n", 1)[0])
        cut = (
            self.drop_streams
            and head.startswith(b"POST /v1/sandbox/execute")
            and b"application/x-ndjson" in head.lower()
        )
        upstream.sendall(head)
        threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
        received = b""
        try:
            while True:
                chunk = upstream.recv(65536)
                if not chunk:
                    break
                if cut:
                    sent = len(received)
                    received += chunk
                    marker = received.find(OUTPUT_MARKER)
                    line_end = received.find(b"\n", marker) if marker >= 0 else -1
                    if line_end >= 0:
                        client.sendall(received[sent : line_end + 1])
                        self.dropped += 1
                        self.drop_streams = False
                        break
                client.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (client, upstream):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()

    @staticmethod
    def _pipe(source: socket.socket, destination: socket.socket) -> None:
        try:
            while True:
                chunk = source.recv(65536)
                if not chunk:
                    break
                destination.sendall(chunk)
        except OSError:
            pass
