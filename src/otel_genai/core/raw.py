"""``with_raw_response`` / ``with_streaming_response``: the span follows the raw response to ``parse()``.

A raw response whose body has not been read yet (streaming responses, and every
``with_streaming_response``) is handed back wrapped: ``parse()`` reads the completion (or, for a
stream, hands the span to a stream proxy); ``close()`` or garbage collection ends the span otherwise.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

import wrapt

from .streams import AsyncStreamProxy, SyncStreamProxy

_log = logging.getLogger("otel_genai")


class RawResponseProxy(wrapt.ObjectProxy):  # type: ignore[type-arg,misc,unused-ignore]
    def __init__(self, wrapped: Any, call: Any) -> None:
        super().__init__(wrapped)
        self._self_call = call  # the hook's Call: invocation, readers, recorder

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        try:
            result = self.__wrapped__.parse(*args, **kwargs)
        except Exception as exc:  # the user gets an exception: the span says so
            self._self_fail(exc)
            raise
        if inspect.isawaitable(result):
            return self._self_await(result)
        return self._self_take(result, is_async=False)

    async def _self_await(self, pending: Any) -> Any:
        try:
            parsed = await pending
        except Exception as exc:
            self._self_fail(exc)
            raise
        return self._self_take(parsed, is_async=True)

    def _self_fail(self, exc: BaseException) -> None:
        call, self._self_call = self._self_call, None
        if call is not None:
            call.fail(exc)

    def _self_take(self, parsed: Any, *, is_async: bool) -> Any:
        call, self._self_call = self._self_call, None
        if call is None:  # parsed before: the span is already finished or handed over
            return parsed
        try:
            if call.inv.streaming and not isinstance(parsed, (SyncStreamProxy, AsyncStreamProxy)):
                return call.wrap_stream(parsed, is_async=is_async)
            call.read_response(call.inv, parsed, call.recorder.capture_content)
        except Exception:
            _log.debug("otel-genai: reading a raw response failed", exc_info=True)
        call.recorder.finish(call.inv)
        return parsed

    def _self_finish(self) -> None:
        call, self._self_call = getattr(self, "_self_call", None), None
        if call is not None:
            call.recorder.finish(call.inv)

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            self._self_finish()

    def __del__(self) -> None:
        self._self_finish()


__all__ = [
    "RawResponseProxy",
]
