"""Client configuration, resolved once at construction: argument -> environment variable -> default."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict, Mapping, Optional

from ._errors import ConfigurationError
from ._version import __version__

DEFAULT_BASE_URL = "http://127.0.0.1:8080"
DEFAULT_TIMEOUT_SECONDS = 60.0
DEFAULT_MAX_RETRIES = 2
USER_AGENT = f"airlock-python/{__version__}"


@dataclass(frozen=True)
class ClientConfig:
    api_key: str
    base_url: str
    timeout: float
    max_retries: int

    def headers(self) -> Dict[str, str]:
        """Headers of every API request (never sent to signed file URLs, which may be another host's)."""
        return {"Authorization": f"Bearer {self.api_key}", "User-Agent": USER_AGENT, "Accept": "application/json"}


def resolve_config(
    api_key: Optional[str],
    base_url: Optional[str],
    timeout: float,
    max_retries: int,
    environment: Mapping[str, str] = os.environ,
) -> ClientConfig:
    key = api_key or environment.get("AIRLOCK_API_KEY")
    if not key:
        raise ConfigurationError(
            "no API key: pass Airlock(api_key='sk-...') or set the AIRLOCK_API_KEY environment variable "
            "(`airlock serve` prints a key on its first start; `airlock keys create --name NAME` makes another)"
        )
    url = (base_url or environment.get("AIRLOCK_URL") or DEFAULT_BASE_URL).rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(
            f"base_url {url!r} is not an http(s) URL: pass base_url='http://host:8080' or set AIRLOCK_URL"
        )
    if not timeout > 0:
        raise ConfigurationError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if max_retries < 0:
        raise ConfigurationError(f"max_retries must be 0 or more, got {max_retries!r}")
    return ClientConfig(api_key=key, base_url=url, timeout=float(timeout), max_retries=int(max_retries))
