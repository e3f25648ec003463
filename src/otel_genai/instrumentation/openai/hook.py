"""The one hook: ``SyncAPIClient.request`` / ``AsyncAPIClient.request``, under every typed resource method.

Hooking the request method (rather than each ``create``) sees every client, including those created
before ``init()``, Azure clients, ``with_raw_response``/``with_streaming_response`` and the ``parse`` and
``stream`` helpers; it sees the JSON body after the client has normalised it; and it spans the client's
own retries, as the conventions ask. The mechanics (end, streams, raw responses, the guard) are the core's
(``core/hooks.py``); this module says only what OpenAI's requests and errors mean.
"""

from __future__ import annotations

from typing import Any

from ... import semconv as sc
from ...core import hooks
from ...core.invocation import Invocation
from ...core.readers import as_str, get
from ...core.recorder import Recorder
from . import content_filters
from .endpoints import resolve
from .targets import target

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


class OpenAIHook(hooks.Provider):
    label = "openai"
    raw_responses = True

    def error_type(self, exc: BaseException) -> str | None:
        return error_type(exc)

    def read_error(self, inv: Invocation, exc: BaseException) -> None:
        if getattr(exc, "code", None) == "content_filter":  # Azure blocked the prompt (HTTP 400)
            body = getattr(exc, "body", None)
            content_filters.read_error(inv, get(body, "error") or body or {"code": "content_filter"})

    def begin(
        self, recorder: Recorder, client: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> hooks.Call | None:
        request = hooks.stainless_request(args, kwargs)
        found = resolve(request.method, request.path)
        if found is None:
            return None
        endpoint, path_id = found
        body = request.body
        where = target(client)
        model = as_str(body.get("model")) or where.deployment
        inv = Invocation(
            endpoint.operation,
            where.provider,
            model if endpoint.model_in_span_name else None,
            server_address=where.host,
            server_port=where.port,
            streaming=request.streaming,
        )
        attributes = inv.attributes
        attributes[sc.LEGACY_OPENAI_API_BASE] = where.api_base
        if where.api_version:
            attributes[sc.LEGACY_OPENAI_API_VERSION] = where.api_version
        if path_id:
            inv.response_id = path_id
        endpoint.read_request(inv, body, recorder.capture_content)
        injected = False
        if request.streaming and recorder.settings.stream_include_usage and endpoint.accumulator is not None:
            injected = _request_usage(request.options, body)
        recorder.start(inv)
        call = hooks.Call(self, recorder, inv, endpoint)
        call.hide_usage_chunk = injected
        return call


def _request_usage(options: Any, body: dict[str, Any]) -> bool:
    """Opt-in: ask for the usage chunk when the caller did not choose stream_options themselves."""
    if "stream_options" in body or not ("messages" in body or "prompt" in body):
        return False  # the caller's choice stands; the Responses API always reports usage
    json_data = options.json_data if isinstance(options.json_data, dict) else {}
    options.json_data = {**json_data, "stream_options": _INCLUDE_USAGE}
    return True


__all__ = [
    "OpenAIHook",
    "error_type",
]
