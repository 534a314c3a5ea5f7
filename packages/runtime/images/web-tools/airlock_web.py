"""Airlock's web tools from Python: fetch a page or search the web through the sandbox's web gateway.

    from airlock_web import fetch, search
    page = fetch("https://docs.python.org/3/")    # {"final_url", "title", "text", "scan", ...}
    for result in search("python asyncio tutorial"):   # [{"title", "url", "snippet"}, ...]
        print(result["url"])

The gateway applies the sandbox's web policy (domains, https, rate limits, size) and records every request; it works
even when the sandbox's network is blocked. A refused request raises WebToolError with the rule that refused it.
"""

import http.client
import json
import os
import socket

__all__ = ["fetch", "search", "WebToolError"]


class WebToolError(Exception):
    """A request the gateway refused or could not carry out: `code` (blocked, rate_limited, ...) and `rule`."""

    def __init__(self, code, rule, message):
        super().__init__(message)
        self.code = code
        self.rule = rule


class _GatewayConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("gateway", timeout=60)
        self._path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


def _call(route, payload):
    path = os.environ.get("AIRLOCK_WEB_SOCKET")
    token = os.environ.get("AIRLOCK_WEB_TOKEN")
    if not path or not token:
        raise WebToolError("off", "policy", "the web tools are off for this sandbox: its sandbox config has no web policy")
    connection = _GatewayConnection(path)
    try:
        body = json.dumps(payload)
        connection.request("POST", route, body, {"Authorization": "Bearer " + token, "Content-Type": "application/json"})
        response = connection.getresponse()
        answer = json.loads(response.read().decode("utf-8") or "{}")
    finally:
        connection.close()
    if response.status != 200:
        raise WebToolError(answer.get("error", "error"), answer.get("rule", ""), answer.get("message", "the web gateway refused"))
    return answer


def fetch(url):
    """The page at `url` as readable text: final_url, status, title, text, truncated, withheld and the injection scan."""
    return _call("/fetch", {"url": url})


def search(query, count=5):
    """Web search results for `query` (at most `count`, up to 20), each a dict of title, url and snippet."""
    return _call("/search", {"query": query, "count": count})["results"]
