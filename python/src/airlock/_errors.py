"""Exceptions: errors the API answered (one class per stable code) and failures of the client itself.

Outcomes of the executed code (a non-zero exit, a timeout, running out of memory) are never exceptions: they are
fields of the result.
"""

from __future__ import annotations

import email.utils
import time
from typing import Dict, Mapping, Optional, Type


class AirlockError(Exception):
    """Base class of every exception this SDK raises."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigurationError(AirlockError):
    """The client is missing a setting or was given an invalid one; the message says how to fix it."""


class APIConnectionError(AirlockError):
    """The server could not be reached, or the connection broke before a complete answer."""


class APITimeoutError(APIConnectionError):
    """The server did not answer within the client's timeout."""


class WaitTimeoutError(AirlockError, TimeoutError):
    """`ExecutionHandle.wait(timeout=...)` gave up while the execution was still running."""


class APIError(AirlockError):
    """The server answered with an error: `status` (HTTP), `code` (stable, e.g. `thread_busy`), `message`,
    `request_id` (quote it when reporting a problem)."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: Optional[str],
        request_id: Optional[str],
        headers: Optional[Mapping[str, str]] = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.request_id = request_id
        self.headers: Dict[str, str] = {name.lower(): value for name, value in (headers or {}).items()}

    def __str__(self) -> str:
        details = [f"HTTP {self.status}"]
        if self.code:
            details.append(self.code)
        if self.request_id:
            details.append(f"request {self.request_id}")
        return f"{self.message} ({', '.join(details)})"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"message={self.message!r}, request_id={self.request_id!r})"
        )


class ValidationError(APIError):
    """400 `validation_error`: the message names the field and the rule."""


class AuthenticationError(APIError):
    """401 `unauthorized`: the API key is missing, malformed, unknown or revoked."""


class PermissionDeniedError(APIError):
    """403 `forbidden`: the key is valid but not allowed to do this (or a signed URL is invalid or expired)."""


class NotFoundError(APIError):
    """404 `not_found`: no such execution, thread or file in this organization."""


class MethodNotAllowedError(APIError):
    """405 `method_not_allowed`: the path exists but does not answer this method (its `Allow` header lists those)."""


class RequestTimeoutError(APIError):
    """408 `request_timeout`: the request's body did not arrive in time (or an upload stalled); the connection was closed."""


class ConflictError(APIError):
    """409 `conflict`: the resource is not in a state that allows this (e.g. a thread fork onto an existing thread)."""


class ThreadBusyError(ConflictError):
    """409 `thread_busy`: another execution is running on the same `thread_id`; retry when it ends."""


class PayloadTooLargeError(APIError):
    """413 `payload_too_large`: the request body is over the server's limit."""


class UnsupportedMediaTypeError(APIError):
    """415 `unsupported_media_type`: a JSON endpoint was sent a body that is not `application/json`."""


class IdempotencyKeyReusedError(APIError):
    """422 `idempotency_key_reused`: the idempotency key was used within 24 hours for a different request."""


class _RetryAfterError(APIError):
    @property
    def retry_after(self) -> Optional[float]:
        """Seconds the server asked to wait before retrying (its `Retry-After`), or None."""
        return parse_retry_after(self.headers.get("retry-after"))


class RateLimitError(_RetryAfterError):
    """429 `rate_limited`: too many requests or executions at once; wait `retry_after` seconds."""


class InternalServerError(APIError):
    """500 `internal_error` (or another 5xx): a server bug; quote `request_id` when reporting it."""


class ServiceUnavailableError(_RetryAfterError):
    """503 `unavailable`: no capacity or a dependency is down; wait `retry_after` seconds."""


ERROR_CLASSES: Dict[str, Type[APIError]] = {
    "validation_error": ValidationError,
    "unauthorized": AuthenticationError,
    "forbidden": PermissionDeniedError,
    "not_found": NotFoundError,
    "method_not_allowed": MethodNotAllowedError,
    "request_timeout": RequestTimeoutError,
    "conflict": ConflictError,
    "thread_busy": ThreadBusyError,
    "payload_too_large": PayloadTooLargeError,
    "unsupported_media_type": UnsupportedMediaTypeError,
    "idempotency_key_reused": IdempotencyKeyReusedError,
    "rate_limited": RateLimitError,
    "internal_error": InternalServerError,
    "unavailable": ServiceUnavailableError,
}

STATUS_CLASSES: Dict[int, Type[APIError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    405: MethodNotAllowedError,
    408: RequestTimeoutError,
    409: ConflictError,
    413: PayloadTooLargeError,
    415: UnsupportedMediaTypeError,
    429: RateLimitError,
    500: InternalServerError,
    503: ServiceUnavailableError,
}


def error_class(status: int, code: Optional[str]) -> Type[APIError]:
    """The class for an error answer: by its stable code, else by its HTTP status (answers of proxies, buckets)."""
    if code in ERROR_CLASSES:
        return ERROR_CLASSES[code]
    if status in STATUS_CLASSES:
        return STATUS_CLASSES[status]
    return InternalServerError if status >= 500 else APIError


def parse_retry_after(value: Optional[str]) -> Optional[float]:
    """`Retry-After` as seconds from now: delta-seconds or an HTTP date (RFC 9110); None when absent or invalid."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = moment.timestamp() - time.time()
    return max(0.0, seconds)
