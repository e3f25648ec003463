"""Setting the attributes the recorder built on an SDK span, without the SDK re-checking every value.

Why: ``Span.set_attributes`` cleans each value again (type dispatch, sequence copy, length limit) under
two locks; for the ~16 attributes a GenAI span gets at its end that is a measurable share of the call's
overhead. The recorder's values are plain ``str``/``bool``/``int``/``float`` (or sequences of them),
which the SDK would store unchanged (sequences as tuples), so when no length or count limit could
apply they are stored directly, in the order and with the replace-moves-to-end rule of the SDK.
Anything else (a limit that could bite, another value type, a non-SDK span) takes ``set_attributes``.
Used only on the TracerProvider ``init()`` builds; tests/test_fastspan.py proves it equal to the SDK.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.attributes import BoundedAttributes

_PLAIN = frozenset({str, bool, int, float})
_SEQUENCES = frozenset({list, tuple})


def _trusted(attributes: Mapping[str, Any]) -> dict[str, Any] | None:
    """The values as the SDK would store them, or None if any needs the SDK's own cleaning."""
    out: dict[str, Any] = {}
    plain = _PLAIN
    for key, value in attributes.items():
        if type(key) is not str or not key:
            return None
        cls = type(value)
        if cls not in plain:
            if cls not in _SEQUENCES or not all(type(v) in plain or v is None for v in value):
                return None
            value = tuple(value)
        out[key] = value
    return out


def set_attributes(span: Any, attributes: Mapping[str, Any]) -> None:
    """``span.set_attributes(attributes)``, skipping the per-value re-check when that changes nothing."""
    store = getattr(span, "_attributes", None)
    lock = getattr(span, "_lock", None)
    if (
        type(store) is not BoundedAttributes
        or lock is None
        or store.max_value_len is not None
        or store._immutable
        or (store.maxlen is not None and len(store) + len(attributes) > store.maxlen)
        or getattr(span, "_end_time", 0) is not None
    ):
        span.set_attributes(attributes)
        return
    values = _trusted(attributes)
    if values is None:
        span.set_attributes(attributes)
        return
    with lock:
        ended = span._end_time is not None
        if not ended:
            with store._lock:
                stored = store._dict
                for key, value in values.items():
                    if key in stored:
                        del stored[key]  # a replaced key moves to the end, as in the SDK
                    stored[key] = value
    if ended:  # ended meanwhile: the SDK's own call warns and ignores
        span.set_attributes(attributes)


__all__ = ["set_attributes"]
