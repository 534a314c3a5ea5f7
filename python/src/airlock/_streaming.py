"""NDJSON execution streams: typed events in order, output callbacks, and resumption after a dropped connection.

`StreamState` holds what both the sync and the async stream need: which request comes next, the events seen so far
(by `seq`) and the result. The streams only read lines and hand them to it.
"""

from __future__ import annotations

import inspect
import json
from types import TracebackType
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Iterator, Optional, Tuple, Type

import httpx

from . import _calls as calls
from ._errors import AirlockError, APIConnectionError
from ._retry import backoff
from ._types import (
    CancelResult,
    ExecutionEvent,
    ExecutionResult,
    OutputEvent,
    ResultEvent,
    StatusEvent,
    event_from_wire,
)

if TYPE_CHECKING:
    from ._async_client import AsyncAirlock
    from ._client import Airlock

OutputCallback = Callable[[str], Any]

DEFAULT_MAX_RECONNECTS = 3


class _CutLine(Exception):
    """A line that is not JSON: the connection ended in the middle of it."""


class StreamState:
    def __init__(
        self,
        first: calls.Call,
        *,
        trace_id: Optional[str] = None,
        after_seq: Optional[int] = None,
        on_stdout: Optional[OutputCallback] = None,
        on_stderr: Optional[OutputCallback] = None,
        max_reconnects: int = DEFAULT_MAX_RECONNECTS,
    ) -> None:
        self.trace_id = trace_id
        self.last_seq: Optional[int] = after_seq
        self.result: Optional[ExecutionResult] = None
        self._next: Optional[calls.Call] = first
        self._callbacks = {"stdout": on_stdout, "stderr": on_stderr}
        self._max_reconnects = max_reconnects
        self._reconnects = 0
        self._events_since_connect = 0

    @property
    def done(self) -> bool:
        return self.result is not None

    def next_call(self) -> calls.Call:
        call, self._next = self._next, None
        assert call is not None, "a stream connects again only after an interruption"
        self._events_since_connect = 0
        return call

    def accept(self, line: str) -> Optional[ExecutionEvent]:
        """The event of one line; None for blank lines, unknown event types and events already seen."""
        if not line.strip():
            return None
        try:
            data = json.loads(line)
        except ValueError as error:
            raise _CutLine(line) from error
        event = event_from_wire(data)
        seq = int(data["seq"])
        # After a reconnection the server may repeat events; a result is never a repeat (there is one).
        if self.last_seq is not None and seq <= self.last_seq and not isinstance(event, ResultEvent):
            return None
        self.last_seq = seq if self.last_seq is None else max(seq, self.last_seq)
        self._events_since_connect += 1
        if isinstance(event, StatusEvent) and self.trace_id is None:
            self.trace_id = event.trace_id
        if isinstance(event, ResultEvent):
            self.result = event.result
        return event

    def callback(self, event: ExecutionEvent) -> Optional[Tuple[OutputCallback, str]]:
        if isinstance(event, OutputEvent):
            callback = self._callbacks.get(event.stream)
            if callback is not None:
                return callback, event.data
        return None

    def interrupted(self, cause: Optional[BaseException]) -> float:
        """Plans the reconnection after the connection dropped or ended early; returns the seconds to wait first.

        Raises when it cannot resume: before the trace id arrived (the execution is never sent twice), or after
        `max_reconnects` attempts.
        """
        if self.trace_id is None:
            raise APIConnectionError(
                "the stream ended before the execution's trace id arrived; the execution may or may not have "
                f"started and is not sent again ({cause or 'no events'})"
            ) from cause
        if self._reconnects >= self._max_reconnects:
            raise APIConnectionError(
                f"the stream of execution {self.trace_id} was interrupted {self._reconnects + 1} times; "
                f"read its outcome with get_execution({self.trace_id!r}) ({cause or 'ended without a result'})"
            ) from cause
        # A replay that had nothing after `last_seq` is one renumbered from the finished record: read it whole,
        # for its result.
        after_seq = self.last_seq if self._reconnects == 0 or self._events_since_connect > 0 else None
        self._next = calls.execution_output(self.trace_id, after_seq)
        self._reconnects += 1
        return backoff(self._reconnects - 1, base=0.25)

    def final_result(self) -> ExecutionResult:
        if self.result is None:
            raise AirlockError("the stream has not produced its result yet; iterate it to the end first")
        return self.result


class _StreamBase:
    _state: StreamState

    @property
    def trace_id(self) -> Optional[str]:
        """The execution's trace id, once its first event arrived."""
        return self._state.trace_id

    @property
    def last_seq(self) -> Optional[int]:
        """The `seq` of the last event read: resume from it with `stream_output(trace_id, after_seq=...)`."""
        return self._state.last_seq

    @property
    def result(self) -> Optional[ExecutionResult]:
        """The final result once the `result` event was read, else None."""
        return self._state.result

    def _require_trace_id(self) -> str:
        if self._state.trace_id is None:
            raise AirlockError("the stream has no trace id yet: read its first event before cancelling")
        return self._state.trace_id


class ExecutionStream(_StreamBase):
    """The events of an execution as it runs: iterate it (or use `until_done()`); use it as a context manager
    to close the connection early. The request is sent when iteration starts or the `with` block is entered."""

    def __init__(self, client: Airlock, state: StreamState) -> None:
        self._client = client
        self._state = state
        self._response: Optional[httpx.Response] = None
        self._lines: Optional[Iterator[str]] = None
        self._finished = False

    def __enter__(self) -> ExecutionStream:
        if self._lines is None and not self._finished:
            self._connect()
        return self

    def __exit__(
        self, kind: Optional[Type[BaseException]], error: Optional[BaseException], trace: Optional[TracebackType]
    ) -> None:
        self.close()

    def __iter__(self) -> ExecutionStream:
        return self

    def __next__(self) -> ExecutionEvent:
        while not self._finished:
            if self._lines is None:
                self._connect()
            assert self._lines is not None
            try:
                line = next(self._lines)
                event = self._state.accept(line)
            except StopIteration:
                self._interrupted(None)
                continue
            except (httpx.RequestError, _CutLine) as error:
                self._interrupted(error)
                continue
            if event is None:
                continue
            planned = self._state.callback(event)
            if planned is not None:
                planned[0](planned[1])
            return event
        raise StopIteration

    def until_done(self) -> ExecutionResult:
        """Reads every remaining event (callbacks still run) and returns the result."""
        for _ in self:
            pass
        return self._state.final_result()

    def cancel(self) -> CancelResult:
        return self._client.cancel(self._require_trace_id())

    def close(self) -> None:
        self._finished = True
        self._release()

    def _connect(self) -> None:
        try:
            self._response = self._client._run(self._state.next_call())
        except BaseException:
            self._finished = True
            raise
        self._lines = self._response.iter_lines()

    def _release(self) -> None:
        if self._response is not None:
            self._response.close()
        self._response, self._lines = None, None

    def _interrupted(self, cause: Optional[BaseException]) -> None:
        self._release()
        if self._state.done:
            self._finished = True
            return
        try:
            delay = self._state.interrupted(cause)
        except AirlockError:
            self._finished = True
            raise
        self._client._sleep(delay)


class AsyncExecutionStream(_StreamBase):
    """The async twin of `ExecutionStream`: `async for event in stream`, `async with`, `await until_done()`."""

    def __init__(self, client: AsyncAirlock, state: StreamState) -> None:
        self._client = client
        self._state = state
        self._response: Optional[httpx.Response] = None
        self._lines: Optional[AsyncIterator[str]] = None
        self._finished = False

    async def __aenter__(self) -> AsyncExecutionStream:
        if self._lines is None and not self._finished:
            await self._connect()
        return self

    async def __aexit__(
        self, kind: Optional[Type[BaseException]], error: Optional[BaseException], trace: Optional[TracebackType]
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> AsyncExecutionStream:
        return self

    async def __anext__(self) -> ExecutionEvent:
        while not self._finished:
            if self._lines is None:
                await self._connect()
            assert self._lines is not None
            try:
                line = await self._lines.__anext__()
                event = self._state.accept(line)
            except StopAsyncIteration:
                await self._interrupted(None)
                continue
            except (httpx.RequestError, _CutLine) as error:
                await self._interrupted(error)
                continue
            if event is None:
                continue
            planned = self._state.callback(event)
            if planned is not None:
                outcome = planned[0](planned[1])
                if inspect.isawaitable(outcome):
                    await outcome
            return event
        raise StopAsyncIteration

    async def until_done(self) -> ExecutionResult:
        """Reads every remaining event (callbacks still run) and returns the result."""
        async for _ in self:
            pass
        return self._state.final_result()

    async def cancel(self) -> CancelResult:
        return await self._client.cancel(self._require_trace_id())

    async def aclose(self) -> None:
        self._finished = True
        await self._release()

    async def _connect(self) -> None:
        try:
            self._response = await self._client._run(self._state.next_call())
        except BaseException:
            self._finished = True
            raise
        self._lines = self._response.aiter_lines()

    async def _release(self) -> None:
        if self._response is not None:
            await self._response.aclose()
        self._response, self._lines = None, None

    async def _interrupted(self, cause: Optional[BaseException]) -> None:
        await self._release()
        if self._state.done:
            self._finished = True
            return
        try:
            delay = self._state.interrupted(cause)
        except AirlockError:
            self._finished = True
            raise
        await self._client._sleep(delay)
