"""Stream proxies that keep the user's stream type and end the span exactly once on every exit path.

Exit paths: exhaustion, an exception from the stream, ``close()``/``aclose()``, leaving a ``with`` block,
and an abandoned stream collected by the garbage collector. The proxies are ``wrapt.ObjectProxy``
subclasses, so ``isinstance`` and every attribute of the original stream (``response``,
``get_final_completion()``, ...) keep working.
"""

from __future__ import annotations

import inspect
import itertools
import logging
import operator
import time
from collections.abc import Iterator
from typing import Any, Protocol

import wrapt

from .invocation import Invocation
from .recorder import Recorder

_log = logging.getLogger("otel_genai")


class Accumulator(Protocol):
    """Folds chunks into one response; written once per provider stream type (``StreamFold`` gives the
    defaults). This is everything the core uses of one."""

    hide_usage_chunk: bool  # the hook asked for a usage-only chunk the user did not: add() hides it

    def add(self, chunk: Any) -> bool | None:
        """Fold one chunk; True hides it from the user (a chunk only the instrumentation asked for)."""

    def apply(self, inv: Invocation) -> None: ...

    def error_type(self, exc: BaseException) -> str | None:
        """Type an exception the stream raises (an HTTP status that surfaces only on the first chunk);
        None: the recorder's class-name rule."""


class StreamFold:
    """Defaults for an ``Accumulator``: no hidden chunk, no error typing of its own."""

    __slots__ = ("hide_usage_chunk",)

    hide_usage_chunk: bool

    def error_type(self, exc: BaseException) -> str | None:
        return None


class _Lifecycle:
    """Chunk timing and the once-only finish, shared by the sync and async proxies."""

    __slots__ = ("accumulator", "add", "done", "inv", "recorder", "times")

    def __init__(self, recorder: Recorder, inv: Invocation, accumulator: Accumulator) -> None:
        self.recorder = recorder
        self.inv = inv
        self.accumulator = accumulator
        self.add = accumulator.add
        self.done = False
        self.times: list[int] = []  # perf_counter_ns of each chunk the user received: one append a chunk

    def on_chunk(self, chunk: Any) -> bool | None:
        """Time and fold one chunk; True when the user must not see it."""
        try:
            if self.add(chunk):
                return True
        except Exception:
            _log.debug("otel-genai: reading a stream chunk failed", exc_info=True)
        self.times.append(time.perf_counter_ns())
        return None

    def _timings(self) -> None:
        """Chunk timing onto the invocation, once, at the end (cheaper than per chunk)."""
        times, inv = self.times, self.inv
        if not times:
            return
        inv.first_chunk_ns, inv.last_chunk_ns, inv.chunk_count = times[0], times[-1], len(times)
        if self.recorder.per_chunk_metrics and len(times) > 1:
            # map() runs in C: a stream's hundreds of gaps cost no Python-level loop
            inv.chunk_gaps_ns = list(map(operator.sub, itertools.islice(times, 1, None), times))

    def finish(self, exc: BaseException | None = None) -> None:
        if self.done:
            return
        self.done = True
        try:
            self._timings()
            self.accumulator.apply(self.inv)
        except Exception:
            _log.debug("otel-genai: folding a stream failed", exc_info=True)
        if exc is None:
            self.recorder.finish(self.inv)
        else:
            self.recorder.fail(self.inv, exc, self._error_type(exc))

    def _error_type(self, exc: BaseException) -> str | None:
        try:
            result = self.accumulator.error_type(exc)
            return result if isinstance(result, str) else None
        except Exception:
            _log.debug("otel-genai: typing a stream error failed", exc_info=True)
            return None


def _iterate(proxy: SyncStreamProxy) -> Iterator[Any]:
    """``for chunk in proxy``: a ``for`` over the stream's own iterator, with on_chunk inlined.

    Resuming the stream's iterator from a ``for`` costs a third of calling its ``__next__`` (openai's
    ``Stream.__iter__`` is a generator). It holds the proxy: ``for chunk in client.create(...)`` keeps no
    other reference, and the proxy's ``__del__`` ends the span (here: once this generator is dropped).
    """
    state: _Lifecycle = proxy._self_state
    chunks = iter(proxy.__wrapped__)
    add, stamp, clock = state.add, state.times.append, time.perf_counter_ns
    at_yield = False
    try:
        for chunk in chunks:
            try:
                if add(chunk):
                    continue
            except Exception:
                _log.debug("otel-genai: reading a stream chunk failed", exc_info=True)
            stamp(clock())
            at_yield = True
            yield chunk  # a consumer that stops here leaves the span to close(), __exit__ or __del__
            at_yield = False
    except BaseException as exc:
        if not at_yield:  # the stream's own error; at the yield it is the consumer's (close(), throw())
            state.finish(exc)
        raise
    state.finish()


class _ResponseProxy(wrapt.ObjectProxy):  # type: ignore[type-arg,misc,unused-ignore]
    """The stream's HTTP response: helpers (openai's ``ChatCompletionStream``) close it directly."""

    def __init__(self, wrapped: Any, state: _Lifecycle) -> None:
        super().__init__(wrapped)
        self._self_state = state

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            self._self_state.finish()

    async def aclose(self) -> Any:
        try:
            return await self.__wrapped__.aclose()
        finally:
            self._self_state.finish()


def _response_of(proxy: Any) -> Any:
    """``stream.response`` wrapped so that closing it ends the span too (created once per stream)."""
    wrapped = proxy._self_response
    if wrapped is None:
        wrapped = proxy._self_response = _ResponseProxy(proxy.__wrapped__.response, proxy._self_state)
    return wrapped


def _entered(stream: Any, name: str) -> Any:
    """The stream's own ``__enter__``/``__aenter__``; a stream without one fails as it would unproxied."""
    inner = stream
    while isinstance(inner, wrapt.ObjectProxy):  # our own event-stream proxies (bedrock) included
        inner = inner.__wrapped__
    if not hasattr(inner, name):
        kind = "asynchronous context manager" if name == "__aenter__" else "context manager"
        raise TypeError(f"{type(inner).__name__!r} object does not support the {kind} protocol")
    return getattr(stream, name)


class SyncStreamProxy(wrapt.ObjectProxy):  # type: ignore[type-arg,misc,unused-ignore]
    """A synchronous iterator that looks and behaves exactly like the wrapped stream."""

    def __init__(self, wrapped: Any, recorder: Recorder, inv: Invocation, accumulator: Accumulator) -> None:
        super().__init__(wrapped)
        self._self_state = _Lifecycle(recorder, inv, accumulator)
        self._self_response: Any = None

    @property
    def response(self) -> Any:
        return _response_of(self)

    def __iter__(self) -> Iterator[Any]:
        # A generator, like openai's own Stream.__iter__: resuming it costs less per chunk than a call
        # into __next__ does. next(stream) still works, through __next__.
        return _iterate(self)

    def __next__(self) -> Any:
        while True:
            try:
                chunk = self.__wrapped__.__next__()
            except StopIteration:
                self._self_state.finish()
                raise
            except BaseException as exc:
                self._self_state.finish(exc)
                raise
            if not self._self_state.on_chunk(chunk):
                return chunk

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            self._self_state.finish()

    def __enter__(self) -> SyncStreamProxy:
        _entered(self.__wrapped__, "__enter__")()
        return self

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(*exc_info)
        finally:
            self._self_state.finish()

    def __del__(self) -> None:
        state = getattr(self, "_self_state", None)
        if state is not None:
            state.finish()


class AsyncStreamProxy(wrapt.ObjectProxy):  # type: ignore[type-arg,misc,unused-ignore]
    """An asynchronous iterator that looks and behaves exactly like the wrapped stream."""

    def __init__(self, wrapped: Any, recorder: Recorder, inv: Invocation, accumulator: Accumulator) -> None:
        super().__init__(wrapped)
        self._self_state = _Lifecycle(recorder, inv, accumulator)
        self._self_response: Any = None

    @property
    def response(self) -> Any:
        return _response_of(self)

    def __aiter__(self) -> AsyncStreamProxy:
        # Not an async generator: one abandoned by ``break`` is closed only when the event loop gets
        # to it, and the span must end when the stream is collected.
        return self

    async def __anext__(self) -> Any:
        state: _Lifecycle = self._self_state
        while True:
            try:
                chunk = await self.__wrapped__.__anext__()
            except StopAsyncIteration:
                state.finish()
                raise
            except BaseException as exc:
                state.finish(exc)
                raise
            try:  # on_chunk, inlined: this runs once per chunk
                if state.add(chunk):
                    continue
            except Exception:
                _log.debug("otel-genai: reading a stream chunk failed", exc_info=True)
            state.times.append(time.perf_counter_ns())
            return chunk

    def __getattr__(self, name: str) -> Any:
        # close()/aclose() exist on some async streams and not on others (openai's AsyncStream has
        # close, async generators aclose): intercept whichever the stream really has, add none.
        attribute = getattr(self.__wrapped__, name)
        if name in ("close", "aclose") and callable(attribute):
            return self._self_closing(attribute)
        return attribute

    def _self_closing(self, method: Any) -> Any:
        # Keep the method's own kind: aiobotocore's AioEventStream.close() is synchronous.
        if not inspect.iscoroutinefunction(method):

            def close_now(*args: Any, **kwargs: Any) -> Any:
                try:
                    return method(*args, **kwargs)
                finally:
                    self._self_state.finish()

            return close_now

        async def close(*args: Any, **kwargs: Any) -> Any:
            try:
                return await method(*args, **kwargs)
            finally:
                self._self_state.finish()

        return close

    async def __aenter__(self) -> AsyncStreamProxy:
        await _entered(self.__wrapped__, "__aenter__")()
        return self

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(*exc_info)
        finally:
            self._self_state.finish()

    def __del__(self) -> None:
        state = getattr(self, "_self_state", None)
        if state is not None:
            state.finish()


__all__ = [
    "Accumulator",
    "AsyncStreamProxy",
    "StreamFold",
    "SyncStreamProxy",
]
