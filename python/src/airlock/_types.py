"""Typed results: frozen dataclasses read from the wire with `from_wire`, ignoring fields they do not know."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, List, Mapping, Optional, Union


def _timestamp(value: Optional[str]) -> Optional[datetime]:
    if value is None:
        return None
    # datetime.fromisoformat before Python 3.11 does not read the "Z" suffix.
    return datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)


def _required_timestamp(value: str) -> datetime:
    parsed = _timestamp(value)
    assert parsed is not None
    return parsed


@dataclass(frozen=True)
class ExecutionResult:
    """The outcome of an execution: the inline answer, a stream's last event, the webhook payload.

    A non-zero exit is a result, not an exception: `success` is true exactly when `exit_code` is 0. Code killed by
    a signal has 128 + the signal (137 after a timeout or a cancellation); -1 means the code never ran to an exit
    (the sandbox failed, the server stopped). `error` is a stable code for why the code did not finish normally
    (`timeout`, `memory_limit_exceeded`, `cancelled`, `sandbox_error`, `thread_save_error`, `server_stopped`, ...),
    `error_message` the same as a sentence.
    """

    success: bool
    stdout: str
    stderr: str
    exit_code: int
    error: Optional[str]
    trace_id: str
    status: str
    """`success`, `failed`, `timeout`, `oom`, `blocked` or `cancelled`."""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    duration_ms: int = 0
    overhead_ms: Optional[float] = None
    error_message: Optional[str] = None

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> ExecutionResult:
        return cls(
            success=bool(data["success"]),
            stdout=data.get("stdout") or "",
            stderr=data.get("stderr") or "",
            exit_code=int(data["exit_code"]),
            error=data.get("error"),
            trace_id=data["trace_id"],
            status=data["status"],
            stdout_truncated=bool(data.get("stdout_truncated", False)),
            stderr_truncated=bool(data.get("stderr_truncated", False)),
            duration_ms=int(data.get("duration_ms") or 0),
            overhead_ms=data.get("overhead_ms"),
            error_message=data.get("error_message"),
        )


@dataclass(frozen=True)
class ExecutionRecord:
    """A recorded execution (`GET /v1/executions/{trace_id}`); output and outcome are None while it runs."""

    trace_id: str
    status: str
    """`running`, then `success`, `failed`, `timeout`, `oom`, `blocked` or `cancelled`."""
    exit_code: Optional[int]
    stdout: Optional[str]
    stderr: Optional[str]
    error: Optional[str]
    duration_ms: int
    delivery_mode: str
    """`inline`, `streaming` or `webhook`."""
    created_at: datetime
    completed_at: Optional[datetime]
    webhook_url: Optional[str] = None
    webhook_delivery_status: Optional[str] = None
    """`pending`, `delivered` or `failed`; None without a webhook_url."""
    overhead_ms: Optional[float] = None
    warm: Optional[bool] = None
    error_message: Optional[str] = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    """The request's metadata."""

    @property
    def done(self) -> bool:
        return self.status != "running"

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> ExecutionRecord:
        return cls(
            trace_id=data["trace_id"],
            status=data["status"],
            exit_code=data.get("exit_code"),
            stdout=data.get("stdout"),
            stderr=data.get("stderr"),
            error=data.get("error"),
            duration_ms=int(data.get("duration_ms") or 0),
            delivery_mode=data.get("delivery_mode", "inline"),
            created_at=_required_timestamp(data["created_at"]),
            completed_at=_timestamp(data.get("completed_at")),
            webhook_url=data.get("webhook_url"),
            webhook_delivery_status=data.get("webhook_delivery_status"),
            overhead_ms=data.get("overhead_ms"),
            warm=data.get("warm"),
            error_message=data.get("error_message"),
            metadata=dict(data.get("metadata") or {}),
        )


@dataclass(frozen=True)
class CancelResult:
    trace_id: str
    status: str

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> CancelResult:
        return cls(trace_id=data["trace_id"], status=data["status"])


@dataclass(frozen=True)
class WebhookAttempt:
    attempt: int
    attempted_at: datetime
    status_code: Optional[int]
    """The receiver's HTTP status; None when it gave none."""
    error: Optional[str]
    duration_ms: float

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> WebhookAttempt:
        return cls(
            attempt=int(data["attempt"]),
            attempted_at=_required_timestamp(data["attempted_at"]),
            status_code=data.get("status_code"),
            error=data.get("error"),
            duration_ms=float(data.get("duration_ms") or 0),
        )


@dataclass(frozen=True)
class WebhookDelivery:
    """An execution's webhook delivery (`GET /v1/executions/{trace_id}/webhook`)."""

    url: str
    status: str
    """`pending`, `delivered` or `failed`."""
    attempts: List[WebhookAttempt]
    next_attempt_at: Optional[datetime]

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> WebhookDelivery:
        return cls(
            url=data["url"],
            status=data["status"],
            attempts=[WebhookAttempt.from_wire(attempt) for attempt in data.get("attempts", [])],
            next_attempt_at=_timestamp(data.get("next_attempt_at")),
        )


@dataclass(frozen=True)
class FileEntry:
    """A file or directory of a thread's home; `path` is relative to the home."""

    name: str
    path: str
    size: int
    modified: Optional[datetime]
    is_directory: bool

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> FileEntry:
        path = data["path"]
        return cls(
            name=data.get("name") or path.rsplit("/", 1)[-1],
            path=path,
            size=int(data.get("size") or 0),
            modified=_timestamp(data.get("modified")),
            is_directory=bool(data.get("is_directory", False)),
        )


@dataclass(frozen=True)
class SignedUrl:
    """A signed, expiring URL allowing one method on one file; send `headers` with the request."""

    url: str
    method: str
    headers: Dict[str, str]
    expires_at: datetime

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> SignedUrl:
        return cls(
            url=data["url"],
            method=data["method"],
            headers={header["name"]: header["value"] for header in data.get("headers", [])},
            expires_at=_required_timestamp(data["expires_at"]),
        )


@dataclass(frozen=True)
class ForkResult:
    thread_id: str
    forked_from: str

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> ForkResult:
        return cls(thread_id=data["thread_id"], forked_from=data["forked_from"])


@dataclass(frozen=True)
class StatusEvent:
    """The first event of a stream: the execution runs, under `trace_id`."""

    seq: int
    trace_id: str
    status: str
    type: str = field(default="status", init=False)


@dataclass(frozen=True)
class OutputEvent:
    """A chunk of output, in the order the code produced it; `stream` is `stdout` or `stderr`."""

    seq: int
    stream: str
    data: str
    type: str = field(default="output", init=False)


@dataclass(frozen=True)
class KeepaliveEvent:
    """Sent while the code prints nothing, so idle connections stay open."""

    seq: int
    type: str = field(default="keepalive", init=False)


@dataclass(frozen=True)
class ResultEvent:
    """The last event of a stream: the same result as the inline answer."""

    seq: int
    trace_id: str
    status: str
    result: ExecutionResult
    output_truncated: bool = False
    type: str = field(default="result", init=False)


ExecutionEvent = Union[StatusEvent, OutputEvent, KeepaliveEvent, ResultEvent]


def event_from_wire(data: Mapping[str, Any]) -> Optional[ExecutionEvent]:
    """One NDJSON event; None for an event type this SDK does not know (newer servers may add some)."""
    kind = data.get("type")
    seq = int(data["seq"])
    if kind == "status":
        return StatusEvent(seq=seq, trace_id=data["trace_id"], status=data["status"])
    if kind == "output":
        return OutputEvent(seq=seq, stream=data["stream"], data=data["data"])
    if kind == "keepalive":
        return KeepaliveEvent(seq=seq)
    if kind == "result":
        return ResultEvent(
            seq=seq,
            trace_id=data["trace_id"],
            status=data["status"],
            result=ExecutionResult.from_wire(data["result"]),
            output_truncated=bool(data.get("output_truncated", False)),
        )
    return None
