"""The one hook: ``Client._request`` / ``AsyncClient._request``, under every endpoint method.

Every ``ollama`` endpoint method builds its JSON body and calls ``_request(cls, method, path, json=...,
stream=...)``; the module-level ``ollama.chat(...)`` functions are bound methods of a default ``Client``, so
hooking the class method sees them, every client created before ``init()``, and the body after the client
has normalised it (``Options`` and ``Message`` objects already dumped to plain JSON).

With ``stream=True`` ``_request`` returns a (sync or async) generator that sends the request only when first
iterated, so for a stream even an HTTP or connection error surfaces from the iterator, where the stream
proxy records it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from ... import semconv as sc
from ...core import hooks
from ...core.invocation import Invocation
from ...core.recorder import Recorder
from ...core.streams import AsyncStreamProxy, SyncStreamProxy
from ..openai.readers import as_str
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


class _Call:
    """One hooked request: its invocation, finished here or handed to a stream proxy."""

    __slots__ = ("inv", "recorder")

    def __init__(self, recorder: Recorder, inv: Invocation) -> None:
        self.recorder = recorder
        self.inv = inv

    def fail(self, exc: BaseException) -> None:
        try:
            self.recorder.fail(self.inv, exc, readers.error_type(exc))
        except Exception:
            _log.debug("otel-genai: recording an ollama error failed", exc_info=True)

    def end(self, result: Any, *, is_async: bool) -> Any:
        """Return ``result`` as the user would get it uninstrumented, finishing or handing off the span."""
        inv, recorder = self.inv, self.recorder
        try:
            if inv.streaming and hasattr(result, "__anext__" if is_async else "__next__"):
                recorder.deactivate(inv)
                accumulator = readers.StreamAccumulator(inv.operation, recorder.capture_content)
                proxy = AsyncStreamProxy if is_async else SyncStreamProxy
                return proxy(result, recorder, inv, accumulator)
            readers.read_response(inv, result, recorder.capture_content)
        except Exception:
            _log.debug("otel-genai: reading an ollama response failed", exc_info=True)
        recorder.finish(inv)
        return result


def _begin(recorder: Recorder, client: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Call | None:
    """Read the request and open the span; None when the endpoint is not a GenAI operation."""
    try:
        path = args[2] if len(args) > 2 else kwargs.get("url")
        operation = OPERATIONS.get(path) if isinstance(path, str) else None
        if operation is None:
            return None
        body = kwargs.get("json")
        body = body if isinstance(body, dict) else {}
        host, port = target(client)
        inv = Invocation(
            operation,
            sc.PROVIDER_OLLAMA,
            as_str(body.get("model")),
            server_address=host,
            server_port=port,
            streaming=bool(kwargs.get("stream")),
        )
        readers.read_request(inv, body, recorder.capture_content)
        recorder.start(inv)
        return _Call(recorder, inv)
    except Exception:
        _log.debug("otel-genai: reading an ollama request failed", exc_info=True)
        return None


def sync_wrapper(recorder: Recorder) -> Callable[..., Any]:
    return hooks.sync_wrapper(functools.partial(_begin, recorder))


def async_wrapper(recorder: Recorder) -> Callable[..., Any]:
    return hooks.async_wrapper(functools.partial(_begin, recorder))
