import time
from typing import Iterator

import pytest

from airlock import Airlock, RateLimitError
from support.server import WEBHOOK_DEVELOPMENT, RunningServer, serve


@pytest.fixture(scope="module")
def limited_server(images_directory) -> Iterator[RunningServer]:
    with serve(images_directory, {**WEBHOOK_DEVELOPMENT, "AIRLOCK_MAX_CONCURRENT_EXECUTIONS": "1"}) as server:
        yield server


def test_an_execution_over_the_concurrency_limit_raises_rate_limit_error(limited_server: RunningServer) -> None:
    with Airlock(api_key=limited_server.api_key, base_url=limited_server.url) as client:
        running = client.execute_async("sleep 30", language="bash")
        with pytest.raises(RateLimitError) as raised:
            client.execute("print(1)")
        error = raised.value
        assert (error.status, error.code, error.retry_after) == (429, "rate_limited", 1.0)
        assert "executions at once" in error.message
        running.cancel()
        running.wait(timeout=20)
        for _ in range(10):  # the slot frees as the cancelled execution is cleaned up
            try:
                assert client.execute("print(1)").stdout == "1\n"
                break
            except RateLimitError as limited:
                time.sleep(limited.retry_after or 1)
        else:
            pytest.fail("the execution slot was never freed")
