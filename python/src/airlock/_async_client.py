"""The asyncio client: the same operations as `Airlock` (see its docstrings), awaited."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any, List, Mapping, Optional, Type

import httpx

from . import _calls as calls
from ._bodies import CountingSink, Destination, UploadData, open_sink
from ._config import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_SECONDS, resolve_config
from ._errors import AirlockError
from ._streaming import DEFAULT_MAX_RECONNECTS, AsyncExecutionStream, OutputCallback, StreamState
from ._types import CancelResult, ExecutionRecord, ExecutionResult, FileEntry, ForkResult, SignedUrl, WebhookDelivery


class AsyncAirlock:
    """Async client of an Airlock server; arguments as `Airlock` (`http_client` is an httpx.AsyncClient).

    Output callbacks of `execute_stream` may be plain functions or coroutine functions.
    """

    def __init__(
        self,
        api_key: Optional[str] = None,
        base_url: Optional[str] = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: Optional[httpx.AsyncClient] = None,
    ) -> None:
        self._config = resolve_config(api_key, base_url, timeout, max_retries)
        self._http = http_client if http_client is not None else httpx.AsyncClient()
        self._owns_http = http_client is None
        self.files = AsyncFiles(self)
        self.threads = AsyncThreads(self)

    @property
    def base_url(self) -> str:
        return self._config.base_url

    async def execute(
        self,
        code: str,
        *,
        language: str = "python",
        timeout: Optional[int] = None,
        thread_id: Optional[str] = None,
        metadata: Optional[Mapping[str, str]] = None,
        env_vars: Optional[Mapping[str, str]] = None,
        idempotency_key: Optional[str] = None,
    ) -> ExecutionResult:
        body = calls.execute_body(
            code, language=language, timeout=timeout, thread_id=thread_id, metadata=metadata, env_vars=env_vars
        )
        result: ExecutionResult = await self._run(calls.execute(body, idempotency_key))
        return result

    def execute_stream(
        self,
        code: str,
        *,
        language: str = "python",
        timeout: Optional[int] = None,
        thread_id: Optional[str] = None,
        metadata: Optional[Mapping[str, str]] = None,
        env_vars: Optional[Mapping[str, str]] = None,
        idempotency_key: Optional[str] = None,
        on_stdout: Optional[OutputCallback] = None,
        on_stderr: Optional[OutputCallback] = None,
        max_reconnects: int = DEFAULT_MAX_RECONNECTS,
    ) -> AsyncExecutionStream:
        """`async for event in client.execute_stream(code)`; the request is sent on the first iteration."""
        body = calls.execute_body(
            code, language=language, timeout=timeout, thread_id=thread_id, metadata=metadata, env_vars=env_vars
        )
        state = StreamState(
            calls.execute_stream(body, idempotency_key),
            on_stdout=on_stdout,
            on_stderr=on_stderr,
            max_reconnects=max_reconnects,
        )
        return AsyncExecutionStream(self, state)

    def stream_output(
        self,
        trace_id: str,
        *,
        after_seq: Optional[int] = None,
        on_stdout: Optional[OutputCallback] = None,
        on_stderr: Optional[OutputCallback] = None,
        max_reconnects: int = DEFAULT_MAX_RECONNECTS,
    ) -> AsyncExecutionStream:
        state = StreamState(
            calls.execution_output(trace_id, after_seq),
            trace_id=trace_id,
            after_seq=after_seq,
            on_stdout=on_stdout,
            on_stderr=on_stderr,
            max_reconnects=max_reconnects,
        )
        return AsyncExecutionStream(self, state)

    async def execute_async(
        self,
        code: str,
        *,
        language: str = "python",
        timeout: Optional[int] = None,
        thread_id: Optional[str] = None,
        metadata: Optional[Mapping[str, str]] = None,
        env_vars: Optional[Mapping[str, str]] = None,
        idempotency_key: Optional[str] = None,
        webhook_url: Optional[str] = None,
    ) -> AsyncExecutionHandle:
        body = calls.execute_body(
            code,
            language=language,
            timeout=timeout,
            thread_id=thread_id,
            metadata=metadata,
            env_vars=env_vars,
            webhook_url=webhook_url,
        )
        accepted = await self._run(calls.execute_async(body, idempotency_key))
        return AsyncExecutionHandle(self, accepted["trace_id"], accepted["status"])

    async def get_execution(self, trace_id: str) -> ExecutionRecord:
        record: ExecutionRecord = await self._run(calls.get_execution(trace_id))
        return record

    async def cancel(self, trace_id: str) -> CancelResult:
        result: CancelResult = await self._run(calls.cancel(trace_id))
        return result

    async def get_webhook_delivery(self, trace_id: str) -> WebhookDelivery:
        delivery: WebhookDelivery = await self._run(calls.webhook_delivery(trace_id))
        return delivery

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncAirlock:
        return self

    async def __aexit__(
        self, kind: Optional[Type[BaseException]], error: Optional[BaseException], trace: Optional[TracebackType]
    ) -> None:
        await self.aclose()

    async def _run(self, operation: calls.Operation) -> Any:
        steps = calls.attempts(operation, self._config.max_retries)
        value: Any = None
        error: Optional[AirlockError] = None
        while True:
            try:
                step = steps.throw(error) if error is not None else steps.send(value)
            except StopIteration as finished:
                return finished.value
            value, error = None, None
            if isinstance(step, calls.Sleep):
                await self._sleep(step.seconds)
                continue
            try:
                value = await self._attempt(step.call, step.sink)
            except AirlockError as failure:
                error = failure

    async def _attempt(self, call: calls.Call, sink: Optional[CountingSink]) -> Any:
        content = call.body.async_content() if call.body is not None else None
        request = self._http.build_request(**calls.request_arguments(self._config, call, content))
        try:
            response = await self._http.send(request, stream=True)
        except httpx.RequestError as error:
            raise calls.connection_error(error, call, self._config.base_url) from error
        handed_on = False
        try:
            if not response.is_success:
                await response.aread()
                raise calls.api_error(response)
            if call.stream:
                handed_on = True
                return response
            if sink is not None:
                async for chunk in response.aiter_bytes():
                    sink.write(chunk)
                return sink.written
            await response.aread()
            return call.parse(response)
        except httpx.RequestError as error:
            raise calls.connection_error(error, call, self._config.base_url) from error
        finally:
            if not handed_on:
                await response.aclose()

    @staticmethod
    async def _sleep(seconds: float) -> None:
        await asyncio.sleep(seconds)


class AsyncExecutionHandle:
    """An execution started with `AsyncAirlock.execute_async`."""

    def __init__(self, client: AsyncAirlock, trace_id: str, status: str) -> None:
        self._client = client
        self.trace_id = trace_id
        self.status = status

    async def get(self) -> ExecutionRecord:
        return await self._client.get_execution(self.trace_id)

    async def wait(
        self, *, timeout: Optional[float] = None, poll_interval: float = 0.25, max_interval: float = 2.0
    ) -> ExecutionRecord:
        record: ExecutionRecord = await self._client._run(
            calls.wait(self.trace_id, timeout=timeout, poll_interval=poll_interval, max_interval=max_interval)
        )
        return record

    async def cancel(self) -> CancelResult:
        return await self._client.cancel(self.trace_id)

    async def webhook_delivery(self) -> WebhookDelivery:
        return await self._client.get_webhook_delivery(self.trace_id)

    def __repr__(self) -> str:
        return f"AsyncExecutionHandle(trace_id={self.trace_id!r}, status={self.status!r})"


class AsyncFiles:
    def __init__(self, client: AsyncAirlock) -> None:
        self._client = client

    async def list(self, thread_id: str, path: Optional[str] = None) -> List[FileEntry]:
        entries: List[FileEntry] = await self._client._run(calls.files_list(thread_id, path))
        return entries

    async def upload_url(
        self, thread_id: str, path: str, content_length: int, content_type: Optional[str] = None
    ) -> SignedUrl:
        signed: SignedUrl = await self._client._run(
            calls.files_upload_url(thread_id, path, content_length, content_type)
        )
        return signed

    async def download_url(self, thread_id: str, path: str) -> SignedUrl:
        signed: SignedUrl = await self._client._run(calls.files_download_url(thread_id, path))
        return signed

    async def upload(self, thread_id: str, path: str, data: UploadData, content_type: Optional[str] = None) -> None:
        await self._client._run(calls.upload(thread_id, path, data, content_type))

    async def download(self, thread_id: str, path: str) -> bytes:
        content: bytes = await self._client._run(calls.download(thread_id, path))
        return content

    async def download_to(self, thread_id: str, path: str, destination: Destination) -> int:
        with open_sink(destination) as sink:
            written: int = await self._client._run(calls.download(thread_id, path, sink))
        return written

    async def delete(self, thread_id: str, path: str) -> None:
        await self._client._run(calls.files_delete(thread_id, path))


class AsyncThreads:
    def __init__(self, client: AsyncAirlock) -> None:
        self._client = client

    async def fork(self, thread_id: str, new_thread_id: str) -> ForkResult:
        forked: ForkResult = await self._client._run(calls.thread_fork(thread_id, new_thread_id))
        return forked

    async def export(self, thread_id: str, destination: Destination) -> int:
        with open_sink(destination) as sink:
            written: int = await self._client._run(calls.thread_export(thread_id, sink))
        return written
