"""What the ML helpers share: the providers init() set up, one warning per process, a never-raise guard."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar, cast

from ..version import __version__

_log = logging.getLogger("otel_genai")
_warned: set[str] = set()
SCOPE = "otel_genai.ml"

_F = TypeVar("_F", bound=Callable[..., Any])


def pipeline() -> Any:
    """The pipeline ``otel_genai.init()`` built, or None before ``init()`` (and after ``shutdown()``)."""
    import otel_genai

    return otel_genai._pipeline


def meter(provider: Any) -> Any:
    return provider.get_meter(SCOPE, __version__)


def tracer(provider: Any) -> Any:
    return provider.get_tracer(SCOPE, __version__)


def warn_once(key: str, message: str, *args: Any, exc_info: bool = False) -> None:
    if key not in _warned:
        _warned.add(key)
        _log.warning(message, *args, exc_info=exc_info)


def guarded(method: _F) -> _F:
    """Run ``method``; an error inside is logged at debug level and never reaches the caller."""

    @functools.wraps(method)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except Exception:
            _log.debug("otel-genai: %s failed", method.__qualname__, exc_info=True)
            return None

    return cast(_F, run)


__all__ = [
    "SCOPE",
    "guarded",
    "meter",
    "pipeline",
    "tracer",
    "warn_once",
]
