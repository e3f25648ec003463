"""The one hook: ``Client._request`` / ``AsyncClient._request``, under every endpoint method.

Every ``ollama`` endpoint method builds its JSON body and calls ``_request(cls, method, path, json=...,
stream=...)``; the module-level ``ollama.chat(...)`` functions are bound methods of a default ``Client``, so
hooking the class method sees them, every client created before ``init()``, and the body after the client
has normalised it (``Options`` and ``Message`` objects already dumped to plain JSON).

With ``stream=True`` ``_request`` returns a (sync or async) generator that sends the request only when first
iterated, so for a stream even an HTTP or connection error surfaces from the iterator, where the stream
proxy records it. The mechanics are the core's (``core/hooks.py``); this module says where and what.
"""

from __future__ import annotations

import logging
from typing import Any

from ... import semconv as sc
from ...core.hooks import Call, Endpoint, Provider
from ...core.invocation import Invocation
from ...core.readers import as_str
from ...core.recorder import Recorder
from . import readers

_log = logging.getLogger("otel_genai")

# path -> gen_ai.operation.name; every other endpoint (pull, list, show, ...) passes through untouched
OPERATIONS = {
    "/api/chat": sc.OP_CHAT,
    "/api/generate": sc.OP_TEXT_COMPLETION,
    "/api/embed": sc.OP_EMBEDDINGS,
    "/api/embeddings": sc.OP_EMBEDDINGS,
}
_DEFAULT_PORTS = {"http": 80, "https": 443}


def target(client: Any) -> tuple[str | None, int | None]:
    """Host and port the client really talks to: its httpx base URL, which the client built from its
    ``host`` argument or ``OLLAMA_HOST`` (default ``http://127.0.0.1:11434``)."""
    try:
        url = client._client.base_url
        host = url.host or None
        port = url.port or _DEFAULT_PORTS.get(url.scheme)
        return host, port
    except Exception:
        _log.debug("otel-genai: reading the ollama client's host failed", exc_info=True)
        return None, None


def _fold(inv: Invocation, capture: bool) -> readers.StreamAccumulator:
    return readers.StreamAccumulator(inv.operation, capture)


# path -> the endpoint: operation, readers and stream fold (one shape for all four)
ENDPOINTS = {
    path: Endpoint(operation, readers.read_request, readers.read_response, _fold)
    for path, operation in OPERATIONS.items()
}


class OllamaHook(Provider):
    label = "ollama"

    def error_type(self, exc: BaseException) -> str | None:
        return readers.error_type(exc)

    def begin(
        self, recorder: Recorder, client: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Call | None:
        path = args[2] if len(args) > 2 else kwargs.get("url")
        endpoint = ENDPOINTS.get(path) if isinstance(path, str) else None
        if endpoint is None:
            return None
        body = kwargs.get("json")
        body = body if isinstance(body, dict) else {}
        host, port = target(client)
        inv = Invocation(
            endpoint.operation,
            sc.PROVIDER_OLLAMA,
            as_str(body.get("model")),
            server_address=host,
            server_port=port,
            streaming=bool(kwargs.get("stream")),
        )
        endpoint.read_request(inv, body, recorder.capture_content)
        recorder.start(inv)
        return Call(self, recorder, inv, endpoint)


__all__ = [
    "ENDPOINTS",
    "OPERATIONS",
    "OllamaHook",
    "target",
]
