"""Tolerant field readers shared by the OpenAI readers: pydantic objects and parsed JSON alike."""

from __future__ import annotations

from typing import Any


def get(obj: Any, name: str) -> Any:
    """Attribute or key lookup that tolerates missing fields and foreign shapes."""
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def as_float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def as_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def as_list(value: Any) -> list[Any] | tuple[Any, ...]:
    """Sequence fields (``tool_calls``) only when they are sequences: iterating a stray int would raise."""
    return value if isinstance(value, (list, tuple)) else ()
