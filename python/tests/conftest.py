"""Fixtures: one real Airlock server for the session, clients of it, and unique thread ids."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Iterator

import pytest

from airlock import Airlock
from support.server import WEBHOOK_DEVELOPMENT, RunningServer, default_images_directory, ensure_image, serve


@pytest.fixture(scope="session")
def images_directory() -> Path:
    directory = default_images_directory()
    ensure_image(directory)
    return directory


@pytest.fixture(scope="session")
def airlock_server(images_directory: Path) -> Iterator[RunningServer]:
    with serve(images_directory, WEBHOOK_DEVELOPMENT) as server:
        yield server


@pytest.fixture
def client(airlock_server: RunningServer) -> Iterator[Airlock]:
    with Airlock(api_key=airlock_server.api_key, base_url=airlock_server.url) as airlock:
        yield airlock


@pytest.fixture
def thread_id() -> str:
    return f"py-{uuid.uuid4().hex[:16]}"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
