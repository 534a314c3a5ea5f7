"""Airlock: run untrusted code in isolated sandboxes from Python.

from airlock import Airlock

with Airlock() as airlock:  # AIRLOCK_API_KEY; AIRLOCK_URL or http://127.0.0.1:8080
    result = airlock.execute("print(6 * 7)")
    print(result.stdout)  # 42
"""

from ._async_client import AsyncAirlock, AsyncExecutionHandle, AsyncFiles, AsyncThreads
from ._client import Airlock, ExecutionHandle, Files, Threads
from ._errors import (
    AirlockError,
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    IdempotencyKeyReusedError,
    InternalServerError,
    MethodNotAllowedError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeoutError,
    ServiceUnavailableError,
    ThreadBusyError,
    UnsupportedMediaTypeError,
    ValidationError,
    WaitTimeoutError,
)
from ._streaming import AsyncExecutionStream, ExecutionStream
from ._types import (
    CancelResult,
    ExecutionEvent,
    ExecutionRecord,
    ExecutionResult,
    FileEntry,
    ForkResult,
    KeepaliveEvent,
    OutputEvent,
    ResultEvent,
    SignedUrl,
    StatusEvent,
    WebhookAttempt,
    WebhookDelivery,
)
from ._version import __version__

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "Airlock",
    "AirlockError",
    "AsyncAirlock",
    "AsyncExecutionHandle",
    "AsyncExecutionStream",
    "AsyncFiles",
    "AsyncThreads",
    "AuthenticationError",
    "CancelResult",
    "ConfigurationError",
    "ConflictError",
    "ExecutionEvent",
    "ExecutionHandle",
    "ExecutionRecord",
    "ExecutionResult",
    "ExecutionStream",
    "FileEntry",
    "Files",
    "ForkResult",
    "IdempotencyKeyReusedError",
    "InternalServerError",
    "KeepaliveEvent",
    "MethodNotAllowedError",
    "NotFoundError",
    "OutputEvent",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTimeoutError",
    "ResultEvent",
    "ServiceUnavailableError",
    "SignedUrl",
    "StatusEvent",
    "ThreadBusyError",
    "UnsupportedMediaTypeError",
    "Threads",
    "ValidationError",
    "WaitTimeoutError",
    "WebhookAttempt",
    "WebhookDelivery",
    "__version__",
]
