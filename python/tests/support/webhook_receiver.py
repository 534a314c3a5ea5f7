"""A webhook receiver on loopback: records every request and answers 204."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List


@dataclass(frozen=True)
class ReceivedWebhook:
    headers: Dict[str, str]
    body: str


class WebhookReceiver:
    def __init__(self) -> None:
        self.received: List[ReceivedWebhook] = []
        self._arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length).decode("utf-8")
                headers = {name.lower(): value for name, value in self.headers.items()}
                self.send_response(204)
                self.end_headers()
                with receiver._arrived:
                    receiver.received.append(ReceivedWebhook(headers, body))
                    receiver._arrived.notify_all()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def wait_for(self, count: int, timeout: float = 20.0) -> List[ReceivedWebhook]:
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.received) >= count, timeout):
                raise AssertionError(f"expected {count} webhook requests, got {len(self.received)}")
            return self.received[:count]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
