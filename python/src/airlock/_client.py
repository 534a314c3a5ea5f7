"""The synchronous client. Every method builds its operation in `_calls` and runs it here."""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any, List, Mapping, Optional, Type

import httpx

from . import _calls as calls
from ._bodies import CountingSink, Destination, UploadData, open_sink
from ._config import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_SECONDS, resolve_config
from ._errors import AirlockError
from ._streaming import DEFAULT_MAX_RECONNECTS, ExecutionStream, OutputCallback, StreamState
from ._types import CancelResult, ExecutionRecord, ExecutionResult, FileEntry, ForkResult, SignedUrl, WebhookDelivery


class Airlock:
    """Client of an Airlock server.

    Args:
        api_key: the API key (`sk-...`). Default: the AIRLOCK_API_KEY environment variable; a missing key raises
            ConfigurationError.
        base_url: the server. Default: the AIRLOCK_URL environment variable, else http://127.0.0.1:8080.
        timeout: seconds to wait to connect and for an answer (an execution's answer may also take its own
            timeout plus 30 seconds).
        max_retries: how often an idempotent call is retried after a 429, a 503 or a connection failure, with
            exponential backoff and the server's Retry-After. Executions are never retried.
        http_client: an httpx.Client of your own (proxies, certificates); it is not closed by `close()`.
    """

    def __init__(
        self,
        api_key: Optional[str] = None,
        base_url: Optional[str] = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: Optional[httpx.Client] = None,
    ) -> None:
        self._config = resolve_config(api_key, base_url, timeout, max_retries)
        self._http = http_client if http_client is not None else httpx.Client()
        self._owns_http = http_client is None
        self.files = Files(self)
        self.threads = Threads(self)

    @property
    def base_url(self) -> str:
        return self._config.base_url

    def execute(
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
        """Runs code and returns its result once it ends.

        A non-zero exit, a timeout or running out of memory is a result (`success`, `status`, `exit_code`), not an
        exception. Retried only with `idempotency_key`; without one, on RateLimitError or ServiceUnavailableError wait
        `retry_after` and call again.

        Args:
            language: `python`, `node` or `bash`.
            timeout: seconds the code may run (server default 60).
            thread_id: keeps /home/sandbox between calls with the same id; a call while another runs on the same
                thread raises ThreadBusyError.
            metadata: stored with the execution, never passed to the code.
            env_vars: environment variables for the code.
            idempotency_key: sent as `Idempotency-Key` (1-255 visible ASCII characters, e.g. a UUID): the same call
                with the same key within 24 hours returns the first execution's result and runs nothing. With a
                key the call is retried after a connection failure, a 429 or a 503; without one it never is.
        """
        body = calls.execute_body(
            code, language=language, timeout=timeout, thread_id=thread_id, metadata=metadata, env_vars=env_vars
        )
        result: ExecutionResult = self._run(calls.execute(body, idempotency_key))
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
    ) -> ExecutionStream:
        """Runs code and yields its events while it runs: StatusEvent, OutputEvent..., KeepaliveEvent, ResultEvent.

        `on_stdout`/`on_stderr` are called with each chunk of output as it is read. If the connection drops after
        the first event, the stream resumes from the last event read (`GET /v1/executions/{id}/output?after_seq=N`),
        at most `max_reconnects` times. The execution itself is never sent twice.
        """
        body = calls.execute_body(
            code, language=language, timeout=timeout, thread_id=thread_id, metadata=metadata, env_vars=env_vars
        )
        state = StreamState(
            calls.execute_stream(body, idempotency_key),
            on_stdout=on_stdout,
            on_stderr=on_stderr,
            max_reconnects=max_reconnects,
        )
        return ExecutionStream(self, state)

    def stream_output(
        self,
        trace_id: str,
        *,
        after_seq: Optional[int] = None,
        on_stdout: Optional[OutputCallback] = None,
        on_stderr: Optional[OutputCallback] = None,
        max_reconnects: int = DEFAULT_MAX_RECONNECTS,
    ) -> ExecutionStream:
        """The events of an execution started elsewhere (or earlier), from the start or after `after_seq`,
        following it live while it runs."""
        state = StreamState(
            calls.execution_output(trace_id, after_seq),
            trace_id=trace_id,
            after_seq=after_seq,
            on_stdout=on_stdout,
            on_stderr=on_stderr,
            max_reconnects=max_reconnects,
        )
        return ExecutionStream(self, state)

    def execute_async(
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
    ) -> ExecutionHandle:
        """Starts code in the background (`Prefer: respond-async`) and returns once it runs.

        With `webhook_url` the result is POSTed there, signed per Standard Webhooks. Either way,
        `handle.wait()` polls the execution until it ends. Never retried, like `execute`.
        """
        body = calls.execute_body(
            code,
            language=language,
            timeout=timeout,
            thread_id=thread_id,
            metadata=metadata,
            env_vars=env_vars,
            webhook_url=webhook_url,
        )
        accepted = self._run(calls.execute_async(body, idempotency_key))
        return ExecutionHandle(self, accepted["trace_id"], accepted["status"])

    def get_execution(self, trace_id: str) -> ExecutionRecord:
        record: ExecutionRecord = self._run(calls.get_execution(trace_id))
        return record

    def cancel(self, trace_id: str) -> CancelResult:
        """Kills a running execution and answers once it has ended (`cancelled`, or `cancelling` if stopping takes
        longer than a few seconds); a finished execution answers with the status it finished with."""
        result: CancelResult = self._run(calls.cancel(trace_id))
        return result

    def get_webhook_delivery(self, trace_id: str) -> WebhookDelivery:
        """The webhook delivery of an execution started with a webhook_url: its state and every attempt."""
        delivery: WebhookDelivery = self._run(calls.webhook_delivery(trace_id))
        return delivery

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Airlock:
        return self

    def __exit__(
        self, kind: Optional[Type[BaseException]], error: Optional[BaseException], trace: Optional[TracebackType]
    ) -> None:
        self.close()

    def _run(self, operation: calls.Operation) -> Any:
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
                self._sleep(step.seconds)
                continue
            try:
                value = self._attempt(step.call, step.sink)
            except AirlockError as failure:
                error = failure

    def _attempt(self, call: calls.Call, sink: Optional[CountingSink]) -> Any:
        content = call.body.sync_content() if call.body is not None else None
        request = self._http.build_request(**calls.request_arguments(self._config, call, content))
        try:
            response = self._http.send(request, stream=True)
        except httpx.RequestError as error:
            raise calls.connection_error(error, call, self._config.base_url) from error
        handed_on = False
        try:
            if not response.is_success:
                response.read()
                raise calls.api_error(response)
            if call.stream:
                handed_on = True
                return response
            if sink is not None:
                for chunk in response.iter_bytes():
                    sink.write(chunk)
                return sink.written
            response.read()
            return call.parse(response)
        except httpx.RequestError as error:
            raise calls.connection_error(error, call, self._config.base_url) from error
        finally:
            if not handed_on:
                response.close()

    @staticmethod
    def _sleep(seconds: float) -> None:
        time.sleep(seconds)


class ExecutionHandle:
    """An execution started with `execute_async`: `trace_id`, and ways to read, wait for or cancel it."""

    def __init__(self, client: Airlock, trace_id: str, status: str) -> None:
        self._client = client
        self.trace_id = trace_id
        self.status = status
        """The status at acceptance (`running`); `get()` reads the current one."""

    def get(self) -> ExecutionRecord:
        return self._client.get_execution(self.trace_id)

    def wait(
        self, *, timeout: Optional[float] = None, poll_interval: float = 0.25, max_interval: float = 2.0
    ) -> ExecutionRecord:
        """Polls until the execution ends, every `poll_interval` seconds doubling up to `max_interval`;
        WaitTimeoutError after `timeout` seconds (None: no limit)."""
        record: ExecutionRecord = self._client._run(
            calls.wait(self.trace_id, timeout=timeout, poll_interval=poll_interval, max_interval=max_interval)
        )
        return record

    def cancel(self) -> CancelResult:
        return self._client.cancel(self.trace_id)

    def webhook_delivery(self) -> WebhookDelivery:
        return self._client.get_webhook_delivery(self.trace_id)

    def __repr__(self) -> str:
        return f"ExecutionHandle(trace_id={self.trace_id!r}, status={self.status!r})"


class Files:
    """The files of threads' homes (`/home/sandbox`); paths are relative to the home."""

    def __init__(self, client: Airlock) -> None:
        self._client = client

    def list(self, thread_id: str, path: Optional[str] = None) -> List[FileEntry]:
        """Every file and directory of the home, or of the directory `path` (its whole subtree)."""
        entries: List[FileEntry] = self._client._run(calls.files_list(thread_id, path))
        return entries

    def upload_url(
        self, thread_id: str, path: str, content_length: int, content_type: Optional[str] = None
    ) -> SignedUrl:
        """A signed URL to PUT exactly `content_length` bytes to `path` (send its `headers`)."""
        signed: SignedUrl = self._client._run(calls.files_upload_url(thread_id, path, content_length, content_type))
        return signed

    def download_url(self, thread_id: str, path: str) -> SignedUrl:
        signed: SignedUrl = self._client._run(calls.files_download_url(thread_id, path))
        return signed

    def upload(self, thread_id: str, path: str, data: UploadData, content_type: Optional[str] = None) -> None:
        """Writes `data` (bytes; str as UTF-8; a binary file object, streamed) to `path`, through a signed URL.

        ConflictError while an execution runs on the thread."""
        self._client._run(calls.upload(thread_id, path, data, content_type))

    def download(self, thread_id: str, path: str) -> bytes:
        """The content of `path`, through a signed URL. For large files use `download_to`."""
        content: bytes = self._client._run(calls.download(thread_id, path))
        return content

    def download_to(self, thread_id: str, path: str, destination: Destination) -> int:
        """Streams `path` into a file (a path, or a binary file object); returns the number of bytes written."""
        with open_sink(destination) as sink:
            written: int = self._client._run(calls.download(thread_id, path, sink))
        return written

    def delete(self, thread_id: str, path: str) -> None:
        self._client._run(calls.files_delete(thread_id, path))


class Threads:
    """Airlock's thread extensions: forks and exports of a thread's home."""

    def __init__(self, client: Airlock) -> None:
        self._client = client

    def fork(self, thread_id: str, new_thread_id: str) -> ForkResult:
        """Starts `new_thread_id` from `thread_id`'s home (no copy is made); the two then diverge."""
        forked: ForkResult = self._client._run(calls.thread_fork(thread_id, new_thread_id))
        return forked

    def export(self, thread_id: str, destination: Destination) -> int:
        """Streams the home as a .tar.gz into `destination` (a path, or a binary file object); returns its size."""
        with open_sink(destination) as sink:
            written: int = self._client._run(calls.thread_export(thread_id, sink))
        return written
