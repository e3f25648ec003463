"""Keep what botocore returns usable after we read it: InvokeModel bodies and event streams.

* InvokeModel's ``response["body"]`` is a one-shot stream. We read it (telemetry needs the model's JSON)
  and put back a new body of the **same class** over the same bytes, so ``read()``, ``iter_lines()``,
  ``iter_chunks()`` and ``async with`` behave as before. A read that fails leaves a body whose first read
  raises that same exception, as the original would have.
* botocore's ``EventStream`` is iterable but no iterator (each ``iter()`` resumes one shared generator), and
  aiobotocore's ``AioEventStream.__anext__`` is an async *generator function*; the core stream proxies call
  ``__next__``/``__anext__``, so a thin adapter pulls from the stream's own iterator. Both layers are
  ``wrapt`` proxies: ``isinstance(stream, EventStream)`` and every attribute still work.
"""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator
from typing import Any

import wrapt

from ...core.invocation import Invocation

_log = logging.getLogger("otel_genai")


def aws_error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ``ClientError`` (``ValidationException``, ``throttlingException``)."""
    response = getattr(exc, "response", None)
    error = response.get("Error") if isinstance(response, dict) else None
    code = error.get("Code") if isinstance(error, dict) else None
    return code if isinstance(code, str) and code else None


# --- InvokeModel bodies ----------------------------------------------------------------------------


class _Raising(io.RawIOBase):
    """A raw stream whose reads raise the exception the original body raised."""

    def __init__(self, error: BaseException) -> None:
        self._error = error

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        raise self._error

    def readinto(self, buffer: Any) -> int:
        raise self._error


def _same_class(body: Any, raw: Any, length: int | None) -> Any:
    return type(body)(raw, length)


def read_sync(response: dict[str, Any]) -> bytes | None:
    """Read ``response["body"]`` and put back a fresh body of its class; None when that is impossible."""
    body = response.get("body")
    if body is None:
        return None
    try:
        _same_class(body, io.BytesIO(b""), 0)  # the class must be rebuildable before we consume anything
    except Exception:
        return None
    try:
        data = body.read()
    except Exception as exc:
        response["body"] = _same_class(body, _Raising(exc), None)
        raise
    return _put_back(response, body, lambda: _same_class(body, io.BytesIO(data), len(data)), data)


def _put_back(response: dict[str, Any], body: Any, rebuild: Any, data: Any) -> bytes | None:
    """Install the rebuilt body; never raises (a failure here is ours, not the user's I/O)."""
    try:
        response["body"] = rebuild()
    except Exception:  # only if the class accepted an empty stream but not this one: nothing better to do
        _log.debug("otel-genai: rebuilding a bedrock body failed", exc_info=True)
        return None
    return bytes(data) if isinstance(data, (bytes, bytearray)) else None


class _AsyncContent:
    """The part of aiohttp's ``StreamReader`` aiobotocore's body reads: ``read(n)`` and ``at_eof()``."""

    def __init__(self, data: bytes, error: BaseException | None) -> None:
        self._data = data
        self._position = 0
        self._error = error

    async def read(self, size: int = -1) -> bytes:
        if self._error is not None:
            raise self._error
        start = self._position
        end = len(self._data) if size is None or size < 0 else min(len(self._data), start + size)
        self._position = end
        return self._data[start:end]

    async def readany(self) -> bytes:
        return await self.read()

    def at_eof(self) -> bool:
        return self._error is None and self._position >= len(self._data)

    async def chunks(self) -> AsyncIterator[bytes]:
        data = await self.read()
        if data:
            yield data


class _AsyncRaw:
    """Enough of aiohttp's ``ClientResponse`` / httpx's ``Response`` for aiobotocore bodies to replay."""

    def __init__(self, data: bytes, url: Any, error: BaseException | None = None) -> None:
        self.content = _AsyncContent(data, error)
        self.url = url

    def aiter_raw(self) -> AsyncIterator[bytes]:  # the httpx backend
        return self.content.chunks()

    def close(self) -> None:
        """Nothing to release: the bytes are in memory."""

    def release(self) -> None:
        """Nothing to release: the bytes are in memory."""

    async def aclose(self) -> None:
        """Nothing to release: the bytes are in memory."""


async def read_async(response: dict[str, Any]) -> bytes | None:
    """``read_sync`` for aiobotocore's async bodies (aiohttp and httpx backends)."""
    body = response.get("body")
    if body is None:
        return None
    url = getattr(getattr(body, "_raw_stream", None), "url", None)
    try:
        _same_class(body, _AsyncRaw(b"", url), 0)
    except Exception:
        return None
    try:
        data = await body.read()
    except Exception as exc:
        response["body"] = _same_class(body, _AsyncRaw(b"", url, exc), None)
        raise
    return _put_back(response, body, lambda: _same_class(body, _AsyncRaw(data, url), len(data)), data)


# --- event streams ---------------------------------------------------------------------------------


class EventIterator(wrapt.ObjectProxy):  # type: ignore[type-arg,misc,unused-ignore]
    """``next()`` over a botocore ``EventStream``; an error event's AWS code becomes the span's error.type."""

    def __init__(self, wrapped: Any, inv: Invocation) -> None:
        super().__init__(wrapped)
        self._self_events: Any = None
        self._self_inv = inv

    def __iter__(self) -> EventIterator:  # an iterator: iterating it goes through __next__ below
        return self

    def __next__(self) -> Any:
        events = self._self_events
        if events is None:
            events = self._self_events = iter(self.__wrapped__)
        try:
            return next(events)
        except StopIteration:
            raise
        except BaseException as exc:
            self._self_inv.error_type = aws_error_code(exc)
            raise


class AsyncEventIterator(wrapt.ObjectProxy):  # type: ignore[type-arg,misc,unused-ignore]
    """``__anext__`` over an aiobotocore ``AioEventStream`` (whose own ``__anext__`` is a generator)."""

    def __init__(self, wrapped: Any, inv: Invocation) -> None:
        super().__init__(wrapped)
        self._self_events: Any = None
        self._self_inv = inv

    async def __anext__(self) -> Any:
        events = self._self_events
        if events is None:
            events = self._self_events = self.__wrapped__.__aiter__()
        try:
            return await events.__anext__()
        except StopAsyncIteration:
            raise
        except BaseException as exc:
            self._self_inv.error_type = aws_error_code(exc)
            raise


__all__ = [
    "AsyncEventIterator",
    "EventIterator",
    "aws_error_code",
    "read_async",
    "read_sync",
]
