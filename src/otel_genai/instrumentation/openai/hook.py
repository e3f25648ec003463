"""The one hook: ``SyncAPIClient.request`` / ``AsyncAPIClient.request``, under every typed resource method.

Hooking the request method (rather than each ``create``) sees every client, including those created
before ``init()``, Azure clients and ``with_raw_response``; it sees the JSON body after the client has
normalised it; and it spans the client's own retries, as the conventions ask.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from ... import semconv as sc
from ...core.invocation import Invocation
from ...core.recorder import Recorder
from ...core.streams import AsyncStreamProxy, SyncStreamProxy
from . import chat

_log = logging.getLogger("otel_genai")

# Hosts whose provider is not plain "openai" (semconv.md section 1.4); anything else reached through
# the openai client reports "openai". Suffix match, so regional hosts are covered too.
PROVIDERS_BY_HOST: tuple[tuple[str, str], ...] = (
    (".openai.azure.com", "azure.ai.openai"),
    (".cognitiveservices.azure.com", "azure.ai.openai"),
    ("api.deepseek.com", "deepseek"),
    ("api.groq.com", "groq"),
    ("api.x.ai", "x_ai"),
    ("api.mistral.ai", "mistral_ai"),
    ("api.perplexity.ai", "perplexity"),
    ("generativelanguage.googleapis.com", "gcp.gemini"),
)

# (method, path) -> (operation, request reader, response reader, stream accumulator factory)
_CHAT = (sc.OP_CHAT, chat.read_request, chat.read_response, chat.ChatAccumulator)
ENDPOINTS: dict[tuple[str, str], tuple[str, Any, Any, Any]] = {("post", "/chat/completions"): _CHAT}


def provider_for_host(host: str) -> str:
    for suffix, provider in PROVIDERS_BY_HOST:
        if host == suffix.lstrip(".") or host.endswith(suffix):
            return provider
    return "openai"


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


class _Target:
    """Where a client sends its requests, derived once per base URL (kept on the client, so nothing grows)."""

    __slots__ = ("api_base", "base_url", "host", "port", "provider")

    def __init__(self, base_url: Any) -> None:
        self.base_url = base_url
        self.api_base = str(base_url)
        parts = urlsplit(self.api_base)
        self.host = parts.hostname or None
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.provider = provider_for_host(self.host or "")


def _target(client: Any) -> _Target:
    base_url = client.base_url
    target = getattr(client, "_otel_genai_target", None)
    if target is None or target.base_url is not base_url:  # base_url is settable: re-derive on change
        target = _Target(base_url)
        with contextlib.suppress(Exception):  # a client that refuses attributes: derive each time
            client._otel_genai_target = target
    return target


class _Call:
    """One hooked request: the invocation plus the readers for its endpoint."""

    __slots__ = ("accumulator", "inv", "read_response", "recorder")

    def __init__(self, recorder: Recorder, inv: Invocation, read_response: Any, accumulator: Any) -> None:
        self.recorder = recorder
        self.inv = inv
        self.read_response = read_response
        self.accumulator = accumulator

    def fail(self, exc: BaseException) -> None:
        try:
            self.recorder.fail(self.inv, exc, error_type(exc))
        except Exception:
            _log.debug("otel-genai: recording an openai error failed", exc_info=True)

    def end(self, result: Any, *, is_async: bool) -> Any:
        """Return ``result`` as the user would get it uninstrumented, finishing or handing off the span."""
        try:
            recorder, inv = self.recorder, self.inv
            if hasattr(result, "http_response") and hasattr(result, "parse"):  # with_raw_response
                self._read_raw(result)
                recorder.finish(inv)
                return result
            if inv.streaming:
                recorder.deactivate(inv)
                accumulator = self.accumulator(recorder.capture_content, inv.choice_count)
                proxy = AsyncStreamProxy if is_async else SyncStreamProxy
                return proxy(result, recorder, inv, accumulator)
            self.read_response(inv, result, recorder.capture_content)
            recorder.finish(inv)
        except Exception:
            _log.debug("otel-genai: reading an openai response failed", exc_info=True)
            self.recorder.finish(self.inv)
        return result

    def _read_raw(self, raw: Any) -> None:
        # Raw responses keep the body for the user; for non-streams it is already read, so parsing our
        # own copy of the JSON costs no I/O. A raw stream is left to the user: its span ends here.
        if self.inv.streaming:
            return
        body = json.loads(raw.http_response.content)
        self.read_response(self.inv, body, self.recorder.capture_content)


def _begin(recorder: Recorder, client: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Call | None:
    """Read the request and open the span; None when the endpoint is not a GenAI operation."""
    try:
        options = args[1] if len(args) > 1 else kwargs["options"]
        path = urlsplit(str(options.url)).path
        endpoint = ENDPOINTS.get((str(options.method).lower(), "/" + path.rsplit("/v1/", 1)[-1].lstrip("/")))
        if endpoint is None:
            return None
        operation, read_request, read_response, accumulator = endpoint
        body = options.json_data if isinstance(options.json_data, dict) else {}
        target = _target(client)
        inv = Invocation(
            operation,
            target.provider,
            chat.as_str(body.get("model")),
            server_address=target.host,
            server_port=target.port,
            streaming=bool(kwargs.get("stream")),
        )
        inv.attributes[sc.LEGACY_OPENAI_API_BASE] = target.api_base
        read_request(inv, body, recorder.capture_content)
        recorder.start(inv)
        return _Call(recorder, inv, read_response, accumulator)
    except Exception:
        _log.debug("otel-genai: reading an openai request failed", exc_info=True)
        return None


def sync_wrapper(recorder: Recorder) -> Callable[..., Any]:
    def request(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        call = _begin(recorder, instance, args, kwargs)
        if call is None:
            return wrapped(*args, **kwargs)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        return call.end(result, is_async=False)

    return request


def async_wrapper(recorder: Recorder) -> Callable[..., Any]:
    async def request(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        call = _begin(recorder, instance, args, kwargs)
        if call is None:
            return await wrapped(*args, **kwargs)
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        return call.end(result, is_async=True)

    return request
