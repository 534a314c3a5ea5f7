"""When a failed call is tried again, and after how long: shared by the sync and async clients.

Only idempotent calls are retried (reads, signing URLs, listing, a replayable PUT to a signed URL), on a 429, a 503
or a connection failure. Executions are never sent twice: a lost answer cannot tell whether the code ran.
"""

from __future__ import annotations

import random
from typing import Optional

from ._errors import AirlockError, APIConnectionError, RateLimitError, ServiceUnavailableError

BASE_DELAY_SECONDS = 0.5
MAX_DELAY_SECONDS = 8.0
MAX_RETRY_AFTER_SECONDS = 60.0


def backoff(attempt: int, base: float = BASE_DELAY_SECONDS, cap: float = MAX_DELAY_SECONDS) -> float:
    """Exponential backoff with ±25% jitter: about base, 2 base, 4 base, ... at most cap."""
    delay = min(cap, base * (2.0**attempt))
    return delay * random.uniform(0.75, 1.25)  # noqa: S311 - jitter, not cryptography


def retry_delay(error: AirlockError, *, idempotent: bool, attempt: int, max_retries: int) -> Optional[float]:
    """Seconds to wait before retry number `attempt + 1`, or None when the error is final.

    A server's Retry-After is honoured when it asks for at most a minute; a longer wait is left to the caller.
    """
    if not idempotent or attempt >= max_retries:
        return None
    if isinstance(error, (RateLimitError, ServiceUnavailableError)):
        if error.retry_after is not None:
            return error.retry_after if error.retry_after <= MAX_RETRY_AFTER_SECONDS else None
        return backoff(attempt)
    if isinstance(error, APIConnectionError):
        return backoff(attempt)
    return None
