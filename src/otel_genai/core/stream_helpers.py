"""A client's stream helpers (openai's ``chat.completions.stream()`` / ``responses.stream()``, anthropic's
``messages.stream()``) failing on a chunk.

The helper iterates our stream proxy and folds each chunk itself; when its folding raises (a chunk of an
unexpected shape), our proxy has already handed the chunk over, and the span would end as if all went well
when the helper closes the response. Wrapping the helper's ``__stream__`` generator (which both its
``__next__`` and ``__iter__`` drain) ends the span with that error instead; the exception reaches the user
unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from types import ModuleType
from typing import Any

from .streams import AsyncStreamProxy, SyncStreamProxy

_log = logging.getLogger("otel_genai")


def helper_classes(module: ModuleType, sync_name: str, async_name: str) -> list[tuple[type, str, Any]]:
    """(class, method, wrapper) for the helper stream classes ``module`` has (older releases lack some)."""
    found: list[tuple[type, str, Any]] = []
    for name, wrapper in ((sync_name, _stream), (async_name, _astream)):
        cls = getattr(module, name, None)
        method = "__stream__"  # (a dunder-style name: not mangled)
        if isinstance(cls, type) and method in cls.__dict__:
            found.append((cls, method, wrapper))
    return found


def _fail(helper: Any, exc: BaseException) -> None:
    try:
        raw = getattr(helper, "_raw_stream", None)
        if isinstance(raw, SyncStreamProxy | AsyncStreamProxy):
            raw._self_state.finish(exc)  # a no-op when the stream itself already ended the span
    except Exception:
        _log.debug("otel-genai: recording a stream helper error failed", exc_info=True)


def _stream(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return _guarded(instance, wrapped(*args, **kwargs))


def _guarded(helper: Any, events: Iterator[Any]) -> Iterator[Any]:
    try:
        yield from events
    except Exception as exc:
        _fail(helper, exc)
        raise


def _astream(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return _aguarded(instance, wrapped(*args, **kwargs))


async def _aguarded(helper: Any, events: AsyncIterator[Any]) -> AsyncIterator[Any]:
    try:
        async for event in events:
            yield event
    except Exception as exc:
        _fail(helper, exc)
        raise


__all__ = [
    "helper_classes",
]
