"""The `code_sandbox` tool every integration exposes: its name, its description for the model, its input schema,
and the call that runs it and formats the result as text for the model. Imports no framework."""

from __future__ import annotations

import threading
from typing import Any, Dict, Mapping, Optional, Sequence, TypedDict

from .._client import Airlock
from .._errors import ThreadBusyError, ValidationError
from .._types import ExecutionResult

TOOL_NAME = "code_sandbox"
LANGUAGES = ("python", "node", "bash")

DESCRIPTION = """\
Run code in an isolated Linux sandbox and get back its exit code, stdout and stderr.

The sandbox is a Debian 13 system with bash, coreutils, Python 3.13 with pip and numpy, pandas, scipy, \
scikit-learn, matplotlib (no display: save figures to files), pillow, pyarrow, sympy, requests, httpx, \
beautifulsoup4, lxml, openpyxl and the drivers psycopg, pymysql, redis, pymongo, boto3, google-cloud-storage, \
google-cloud-bigquery and azure-storage-blob installed, Node.js 24 with npm, curl, git, gh, jq, sqlite3, psql, \
mysql and redis-cli. \
It has no network access (no DNS, loopback only): pip install, npm install and downloads fail, so work with what \
is installed. The code runs as an unprivileged user in /home/sandbox. /tmp is emptied after every call and no \
process outlives it. stdout and stderr are each cut after 64 KB, so print summaries, \
not whole data sets. Code still running at its timeout is killed (exit code 137); a non-zero exit code, a timeout \
or running out of memory is a normal result, not an error: read stderr and fix the code.

language is "python" (the code is a Python script), "node" (a JavaScript file run by Node.js) or "bash" \
(a shell script). Files in /home/sandbox persist between calls that pass the same thread_id; without a thread_id \
every call starts from a fresh home. Each call has a time limit (timeout, in seconds, default 60)."""


BLOCKED_NETWORK = (
    "It has no network access (no DNS, loopback only): pip install, npm install and downloads fail, so work with what "
    "is installed."
)
UNRESTRICTED_NETWORK = (
    "It has internet access (DNS, HTTP and HTTPS; pip install --user and npm install work), but private networks, "
    "cloud metadata addresses and the host itself are unreachable, and so is port 25 (mail)."
)
ALLOWLIST_NETWORK = (
    "It reaches only these names and networks: {entries}. Names outside the list "
    "do not resolve and other addresses are refused; HTTPS and HTTP go to the listed names only (QUIC is refused, so "
    "clients use TCP). Private networks, cloud metadata addresses, the host itself and port 25 are always unreachable."
)


def description(network: str = "blocked", network_allow: Optional[Sequence[str]] = None) -> str:
    """The tool's description for a sandbox whose network is `network` ("blocked", "allowlist" with the entries
    `network_allow`, or "unrestricted")."""
    if network_allow is not None and network != "allowlist":
        raise ValueError(f"network_allow: only network 'allowlist' has entries, not {network!r}")
    if network == "blocked":
        return DESCRIPTION
    if network == "unrestricted":
        return DESCRIPTION.replace(BLOCKED_NETWORK, UNRESTRICTED_NETWORK)
    if network == "allowlist":
        if not network_allow or isinstance(network_allow, str):
            raise ValueError(
                "network_allow: network 'allowlist' needs its entries (an execution record's network_allow)"
            )
        return DESCRIPTION.replace(BLOCKED_NETWORK, ALLOWLIST_NETWORK.replace("{entries}", ", ".join(network_allow)))
    raise ValueError(f"network must be 'blocked', 'allowlist' or 'unrestricted', got {network!r}")


def input_schema(default_language: str = "python") -> Dict[str, Any]:
    """The JSON Schema of the tool's input: code, language, optional timeout and thread_id."""
    return {
        "type": "object",
        "properties": {
            "code": {"type": "string", "description": "The program to run, as a complete script."},
            "language": {
                "type": "string",
                "enum": list(LANGUAGES),
                "description": f"How to run the code. Default: {default_language}.",
            },
            "timeout": {
                "type": "integer",
                "minimum": 1,
                "maximum": 3600,
                "description": "Seconds the code may run before it is killed. Default: 60.",
            },
            "thread_id": {
                "type": "string",
                "description": "Reuse the same id to keep the files in /home/sandbox between calls.",
            },
        },
        "required": ["code"],
        "additionalProperties": False,
    }


def format_result(result: ExecutionResult) -> str:
    """The execution as the model reads it: exit code and status, then each non-empty stream."""
    lines = [f"exit_code: {result.exit_code} ({result.status})"]
    if result.error_message:
        lines.append(f"error: {result.error_message}")
    for name, text, truncated in (
        ("stdout", result.stdout, result.stdout_truncated),
        ("stderr", result.stderr, result.stderr_truncated),
    ):
        if text or truncated:
            note = " (truncated at 64 KB)" if truncated else ""
            lines.append(f"--- {name}{note} ---\n{text.rstrip(chr(10))}")
    if len(lines) == 1:
        lines.append("(no output)")
    return "\n".join(lines)


class SandboxOptions(TypedDict, total=False):
    """The options of every integration's `create_code_sandbox(**options)`, as `CodeSandbox` takes them."""

    client: Airlock
    api_key: str
    base_url: str
    thread_id: str
    language: str
    timeout: int
    network: str
    network_allow: Sequence[str]


class CodeSandbox:
    """Runs the tool's calls on an Airlock server and answers text for the model.

    Args:
        client: an `Airlock` client of your own. Default: one made on the first call from `api_key` and
            `base_url` (AIRLOCK_API_KEY and AIRLOCK_URL when those are not given), so building the tool needs no
            key yet.
        thread_id: the thread of calls that pass none, so /home/sandbox persists across the whole conversation.
        language: the language of calls that pass none.
        timeout: the timeout in seconds of calls that pass none (server default 60).
        network: the network of the API key (its sandbox config's, as the key narrows it): "blocked" (default),
            "allowlist" or "unrestricted", so the description tells the model what it allows.
        network_allow: with network="allowlist", its entries (an execution record's network_allow shows them),
            named to the model.
    """

    def __init__(
        self,
        *,
        client: Optional[Airlock] = None,
        api_key: Optional[str] = None,
        base_url: Optional[str] = None,
        thread_id: Optional[str] = None,
        language: str = "python",
        timeout: Optional[int] = None,
        network: str = "blocked",
        network_allow: Optional[Sequence[str]] = None,
    ) -> None:
        if language not in LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, got {language!r}")
        self._client = client
        self._owns_client = client is None
        self._api_key = api_key
        self._base_url = base_url
        self._lock = threading.Lock()
        self.thread_id = thread_id
        self.language = language
        self.timeout = timeout
        self.name = TOOL_NAME
        self.description = description(network, network_allow)
        self.input_schema = input_schema(language)

    @property
    def client(self) -> Airlock:
        with self._lock:
            if self._client is None:
                self._client = Airlock(api_key=self._api_key, base_url=self._base_url)
            return self._client

    def close(self) -> None:
        """Closes the client the tool made (a client passed in stays open)."""
        with self._lock:
            if self._client is not None and self._owns_client:
                self._client.close()
                self._client = None

    def run(
        self,
        code: str,
        language: Optional[str] = None,
        timeout: Optional[int] = None,
        thread_id: Optional[str] = None,
    ) -> str:
        """Runs one call. Mistakes the model can correct (an invalid timeout, a busy thread) come back as text;
        configuration and connection errors raise."""
        try:
            result = self.client.execute(
                code,
                language=language or self.language,
                timeout=timeout if timeout is not None else self.timeout,
                thread_id=thread_id or self.thread_id,
            )
        except ValidationError as error:
            return f"The sandbox refused the call: {error.message}"
        except ThreadBusyError:
            return "Another call is still running on this thread_id; wait for it to finish, then call again."
        return format_result(result)

    def run_input(self, arguments: Mapping[str, Any]) -> str:
        """Runs a call from the model's arguments as a mapping (a tool_use block's input, parsed JSON)."""
        return self.run(
            str(arguments["code"]),
            language=arguments.get("language"),
            timeout=arguments.get("timeout"),
            thread_id=arguments.get("thread_id"),
        )
