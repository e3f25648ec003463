"""The one hook: ``SyncAPIClient.request`` / ``AsyncAPIClient.request``, under every typed resource method.

Hooking the request method (rather than each ``create``) sees every client, including those created
before ``init()``, Azure clients, ``with_raw_response``/``with_streaming_response`` and the ``parse`` and
``stream`` helpers; it sees the JSON body after the client has normalised it; and it spans the client's
own retries, as the conventions ask.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from ... import semconv as sc
from ...core import hooks
from ...core.invocation import Invocation
from ...core.recorder import Recorder
from ...core.streams import AsyncStreamProxy, SyncStreamProxy
from . import content_filters
from .endpoints import Endpoint, resolve
from .raw import RawResponseProxy
from .readers import as_str, get
from .targets import target

_log = logging.getLogger("otel_genai")
_INCLUDE_USAGE = {"include_usage": True}


def error_type(exc: BaseException) -> str | None:
    """``APIStatusError`` -> its error code or HTTP status; other openai errors -> ``openai.ClassName``."""
    code = getattr(exc, "code", None)
    if isinstance(code, str) and code:
        return code
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return str(status)
    cls = type(exc)
    if cls.__module__.startswith("openai"):
        return f"openai.{cls.__qualname__}"
    return None


class _Call:
    """One hooked request: the invocation plus the readers for its endpoint."""

    __slots__ = ("endpoint", "injected_usage", "inv", "recorder")

    def __init__(self, recorder: Recorder, inv: Invocation, endpoint: Endpoint, injected_usage: bool) -> None:
        self.recorder = recorder
        self.inv = inv
        self.endpoint = endpoint
        self.injected_usage = injected_usage

    def read_response(self, inv: Invocation, response: Any, capture: bool) -> None:
        self.endpoint.read_response(inv, response, capture)

    def fail(self, exc: BaseException) -> None:
        try:
            if getattr(exc, "code", None) == "content_filter":  # Azure blocked the prompt (HTTP 400)
                body = getattr(exc, "body", None)
                content_filters.read_error(self.inv, get(body, "error") or body or {"code": "content_filter"})
            self.recorder.fail(self.inv, exc, error_type(exc))
        except Exception:
            _log.debug("otel-genai: recording an openai error failed", exc_info=True)

    def wrap_stream(self, stream: Any, *, is_async: bool) -> Any:
        """Hand the span to a proxy that ends it when the stream ends, however it ends."""
        self.recorder.deactivate(self.inv)
        factory = self.endpoint.accumulator
        if factory is None:  # not a streaming endpoint after all: nothing to fold
            self.recorder.finish(self.inv)
            return stream
        accumulator = factory(self.recorder.capture_content, self.inv.choice_count)
        if self.injected_usage:
            accumulator.hide_usage_chunk = True
        proxy = AsyncStreamProxy if is_async else SyncStreamProxy
        return proxy(stream, self.recorder, self.inv, accumulator)

    def end(self, result: Any, *, is_async: bool) -> Any:
        """Return ``result`` as the user would get it uninstrumented, finishing or handing off the span."""
        try:
            if _is_raw(type(result)):  # with_raw_response / with_streaming_response
                return self._end_raw(result)
            if self.inv.streaming:
                return self.wrap_stream(result, is_async=is_async)
            self.read_response(self.inv, result, self.recorder.capture_content)
        except Exception:
            _log.debug("otel-genai: reading an openai response failed", exc_info=True)
        self.recorder.finish(self.inv)
        return result

    def _end_raw(self, raw: Any) -> Any:
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


def _begin(recorder: Recorder, client: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Call | None:
    """Read the request and open the span; None when the endpoint is not a GenAI operation."""
    try:
        options = args[1] if len(args) > 1 else kwargs["options"]
        found = resolve(str(options.method).lower(), urlsplit(str(options.url)).path)
        if found is None:
            return None
        endpoint, path_id = found
        body = options.json_data if isinstance(options.json_data, dict) else {}
        extra = getattr(options, "extra_json", None)  # extra_body: merged into the JSON on the wire
        if isinstance(extra, dict) and extra:
            body = {**body, **extra}
        where = target(client)
        streaming = bool(kwargs.get("stream"))
        model = as_str(body.get("model")) or where.deployment
        inv = Invocation(
            endpoint.operation,
            where.provider,
            model if endpoint.model_in_span_name else None,
            server_address=where.host,
            server_port=where.port,
            streaming=streaming,
        )
        attributes = inv.attributes
        attributes[sc.LEGACY_OPENAI_API_BASE] = where.api_base
        if where.api_version:
            attributes[sc.LEGACY_OPENAI_API_VERSION] = where.api_version
        if path_id:
            inv.response_id = path_id
        endpoint.read_request(inv, body, recorder.capture_content)
        injected = False
        if streaming and recorder.settings.stream_include_usage and endpoint.accumulator is not None:
            injected = _request_usage(options, body)
        recorder.start(inv)
        return _Call(recorder, inv, endpoint, injected)
    except Exception:
        _log.debug("otel-genai: reading an openai request failed", exc_info=True)
        return None


def _request_usage(options: Any, body: dict[str, Any]) -> bool:
    """Opt-in: ask for the usage chunk when the caller did not choose stream_options themselves."""
    if "stream_options" in body or not ("messages" in body or "prompt" in body):
        return False  # the caller's choice stands; the Responses API always reports usage
    json_data = options.json_data if isinstance(options.json_data, dict) else {}
    options.json_data = {**json_data, "stream_options": _INCLUDE_USAGE}
    return True


def sync_wrapper(recorder: Recorder) -> Callable[..., Any]:
    return hooks.sync_wrapper(functools.partial(_begin, recorder))


def async_wrapper(recorder: Recorder) -> Callable[..., Any]:
    return hooks.async_wrapper(functools.partial(_begin, recorder))
