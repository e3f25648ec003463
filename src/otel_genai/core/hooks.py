"""The generic client hook: every provider's begin/end/fail, stream hand-off, raw responses and the guard.

A provider supplies only a declarative part, a ``Provider``: ``begin(recorder, instance, args, kwargs)``
reads the request and returns an open ``Call`` (or None for a request that is no GenAI operation), with an
``Endpoint`` naming the operation, its response reader and its stream accumulator; ``error_type`` and
``read_error`` say what an exception means. Everything else is here, once: the user's call runs outside
every guard, so its result and its exceptions pass through untouched; reading runs inside one, logging at
debug level; a stream's span is handed to a proxy that ends it exactly once; a Stainless raw response
(``with_raw_response`` / ``with_streaming_response``) carries the span to ``parse()`` or ``close()``.
Duplicate suppression (another layer already holds the inference span) is the recorder's ``start``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from opentelemetry.instrumentation.utils import suppress_instrumentation

from .invocation import Invocation
from .recorder import Recorder
from .streams import Accumulator, AsyncStreamProxy, SyncStreamProxy

__all__ = [
    "Begin",
    "Call",
    "Endpoint",
    "Provider",
    "StainlessRequest",
    "async_wrapper",
    "hook",
    "nothing",
    "stainless_request",
    "sync_wrapper",
]

_log = logging.getLogger("otel_genai")

Reader = Callable[[Invocation, Any, bool], None]  # (inv, request body or response, capture content)
AccumulatorFactory = Callable[[Invocation, bool], Accumulator]


def nothing(inv: Invocation, data: Any, capture: bool) -> None:
    """A reader for operations recorded with operation name, model and duration only."""


class Endpoint(NamedTuple):
    """One GenAI operation of a provider: its name and how to read it."""

    operation: str
    read_request: Reader
    read_response: Reader
    accumulator: AccumulatorFactory | None = None  # stream folding, when it can stream
    model_in_span_name: bool = True


class Provider:
    """The declarative part of a client hook; subclasses override what their client needs."""

    label = "client"  # names the provider in debug log lines
    raw_responses = False  # results may be Stainless raw responses (openai, anthropic)

    def begin(
        self, recorder: Recorder, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Call | None:
        """Read the request, ``recorder.start`` the invocation and return its call; None to pass through."""
        raise NotImplementedError

    def error_type(self, exc: BaseException) -> str | None:
        """A low-cardinality ``error.type`` for ``exc``; None lets the recorder name the exception class."""
        return None

    def read_error(self, inv: Invocation, exc: BaseException) -> None:
        """What an error says besides its type (a content-filter verdict, a request id)."""

    def stream_of(self, call: Call, result: Any, is_async: bool) -> Any:
        """The iterator in ``result`` to proxy (None: not a stream); ``put_stream`` puts the proxy back."""
        return result if hasattr(result, "__anext__" if is_async else "__next__") else None

    def put_stream(self, result: Any, proxy: Any) -> Any:
        return proxy

    def needs_body(self, call: Call, result: Any) -> bool:
        """Whether the response body must be read (into ``call.body``) before the call ends."""
        return False

    def read_body(self, result: Any) -> bytes | None:
        raise NotImplementedError

    async def read_body_async(self, result: Any) -> bytes | None:
        raise NotImplementedError


class StainlessRequest(NamedTuple):
    """What a Stainless-generated client (openai, anthropic) is about to send, read in its ``request``."""

    method: str  # lower-case
    path: str  # without the query
    body: dict[str, Any]  # the JSON body, ``extra_body`` merged in as on the wire
    streaming: bool
    options: Any  # the client's FinalRequestOptions


def stainless_request(args: tuple[Any, ...], kwargs: dict[str, Any]) -> StainlessRequest:
    """``request(cast_to, options, *, stream=..., stream_cls=...)``'s arguments, read."""
    options = args[1] if len(args) > 1 else kwargs["options"]
    body = options.json_data if isinstance(options.json_data, dict) else {}
    extra = getattr(options, "extra_json", None)  # extra_body: merged into the JSON on the wire
    if isinstance(extra, dict) and extra:
        body = {**body, **extra}
    path = urlsplit(str(options.url)).path
    return StainlessRequest(str(options.method).lower(), path, body, bool(kwargs.get("stream")), options)


class Call:
    """One hooked request: the invocation, its endpoint, and the provider that reads it."""

    __slots__ = ("body", "endpoint", "hide_usage_chunk", "inv", "provider", "recorder", "suppress")

    def __init__(self, provider: Provider, recorder: Recorder, inv: Invocation, endpoint: Endpoint) -> None:
        self.provider = provider
        self.recorder = recorder
        self.inv = inv
        self.endpoint = endpoint
        self.hide_usage_chunk = False  # the hook asked for a usage chunk the user did not ask for
        self.suppress = False  # run the user's call with other instrumentation suppressed
        self.body: bytes | None = None  # the response body, when the provider needs it read

    def read_response(self, inv: Invocation, response: Any, capture: bool) -> None:
        self.endpoint.read_response(inv, response, capture)

    def fail(self, exc: BaseException) -> None:
        try:
            self.provider.read_error(self.inv, exc)
            self.recorder.fail(self.inv, exc, self.provider.error_type(exc))
        except Exception:
            _log.debug("otel-genai: recording a %s error failed", self.provider.label, exc_info=True)

    def wrap_stream(self, stream: Any, *, is_async: bool) -> Any:
        """Hand the span to a proxy that ends it when the stream ends, however it ends."""
        self.recorder.deactivate(self.inv)
        factory = self.endpoint.accumulator
        if factory is None:  # not a streaming endpoint after all: nothing to fold
            self.recorder.finish(self.inv)
            return stream
        accumulator = factory(self.inv, self.recorder.capture_content)
        if self.hide_usage_chunk:
            accumulator.hide_usage_chunk = True
        proxy = AsyncStreamProxy if is_async else SyncStreamProxy
        return proxy(stream, self.recorder, self.inv, accumulator)

    def end(self, result: Any, *, is_async: bool) -> Any:
        """Return ``result`` as the user would get it uninstrumented, finishing or handing off the span."""
        try:
            if self.provider.raw_responses and _is_raw(type(result)):
                return self._end_raw(result)
            if self.inv.streaming:
                stream = self.provider.stream_of(self, result, is_async)
                if stream is not None:
                    return self.provider.put_stream(result, self.wrap_stream(stream, is_async=is_async))
            self.read_response(self.inv, result, self.recorder.capture_content)
        except Exception:
            _log.debug("otel-genai: reading a %s response failed", self.provider.label, exc_info=True)
        self.recorder.finish(self.inv)
        return result

    def _end_raw(self, raw: Any) -> Any:
        from .raw import RawResponseProxy

        http_response = raw.http_response
        if not self.inv.streaming and _has_body(http_response):
            # with_raw_response: the body is already read, so parsing our own copy costs no I/O.
            try:
                body = json.loads(http_response.content)
            except ValueError:  # the user's parse() will fail too: let it decide the span's status
                body = None
            if body is not None:
                self.read_response(self.inv, body, self.recorder.capture_content)
                self.recorder.finish(self.inv)
                return raw
        self.recorder.deactivate(self.inv)
        return RawResponseProxy(raw, self)  # the span follows the response to parse() or close()


_RAW_TYPES: dict[type, bool] = {}  # result type -> is a raw response; a handful of client classes


def _is_raw(cls: type) -> bool:
    # Cached per class: probing a pydantic model for a missing attribute costs microseconds each time.
    raw = _RAW_TYPES.get(cls)
    if raw is None:
        raw = _RAW_TYPES[cls] = hasattr(cls, "parse") and hasattr(cls, "headers")  # class-level members
    return raw


def _has_body(http_response: Any) -> bool:
    try:
        return bool(http_response.content)
    except Exception:  # httpx's ResponseNotRead: a streaming response nobody has read yet
        return False


Begin = Callable[[Any, tuple[Any, ...], dict[str, Any]], Call | None]


def guarded(provider: Provider, recorder: Recorder) -> Begin:
    """``provider.begin`` bound to ``recorder``, inside the guard: a reading failure passes through."""

    def begin(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call | None:
        try:
            return provider.begin(recorder, instance, args, kwargs)
        except Exception:
            _log.debug("otel-genai: reading a %s request failed", provider.label, exc_info=True)
            return None

    return begin


def _wants_body(call: Call, result: Any) -> bool:
    try:
        return call.provider.needs_body(call, result)
    except Exception:
        _log.debug("otel-genai: inspecting a %s response failed", call.provider.label, exc_info=True)
        return False


def sync_wrapper(begin: Begin) -> Callable[..., Any]:
    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        call = begin(instance, args, kwargs)
        if call is None:
            return wrapped(*args, **kwargs)
        try:
            if call.suppress:
                with suppress_instrumentation():
                    result = wrapped(*args, **kwargs)
            else:
                result = wrapped(*args, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        if _wants_body(call, result):
            try:
                call.body = call.provider.read_body(result)
            except Exception as exc:  # the body's own read failed: the user's read will raise it again
                call.fail(exc)
                return result
        return call.end(result, is_async=False)

    return wrapper


def async_wrapper(begin: Begin) -> Callable[..., Any]:
    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        call = begin(instance, args, kwargs)
        if call is None:
            return await wrapped(*args, **kwargs)
        try:
            if call.suppress:
                with suppress_instrumentation():
                    result = await wrapped(*args, **kwargs)
            else:
                result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        if _wants_body(call, result):
            try:
                call.body = await call.provider.read_body_async(result)
            except Exception as exc:
                call.fail(exc)
                return result
        return call.end(result, is_async=True)

    return wrapper


def hook(provider: Provider, recorder: Recorder) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """The (sync, async) wrappers for ``provider``'s hook points."""
    begin = guarded(provider, recorder)
    return sync_wrapper(begin), async_wrapper(begin)
