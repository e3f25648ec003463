"""Setting the attributes the recorder built on an SDK span, without the SDK re-checking every value.

Why: ``Span.set_attributes`` cleans each value again (type dispatch, sequence copy, length limit) under
two locks; for the ~16 attributes a GenAI span gets at its end that is a measurable share of the call's
overhead. The recorder's values are plain ``str``/``bool``/``int``/``float`` (or sequences of them),
which the SDK would store unchanged (sequences as tuples), so when no length or count limit could
apply they are stored directly, in the order and with the replace-moves-to-end rule of the SDK.
Anything else (a limit that could bite, another value type, a non-SDK span) takes ``set_attributes``.
Used only on the TracerProvider ``init()`` builds; tests/test_fastspan.py proves it equal to the SDK.

The start attributes get the same treatment (``SpanStarter``): the SDK cleans them in ``Span.__init__``,
about 40 % of an SDK span's cost, so they are set right after ``start_span`` instead, whenever nothing that
sees a span before that could read them: a sampler of the SDK's own that decides on the trace id and the
parent only, and span processors whose ``on_start`` does nothing (the batch and simple processors). A
user's own sampler or ``on_start`` processor on that provider sees them passed to ``start_span`` as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import SpanProcessor, sampling
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.trace import SpanKind

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


# on_start implementations that ignore the span (the SDK's batch and simple processors, the base class)
_IDLE_ON_START = frozenset(
    {SpanProcessor.on_start, BatchSpanProcessor.on_start, SimpleSpanProcessor.on_start}
)
_STATIC_SAMPLERS = (sampling.StaticSampler, sampling.TraceIdRatioBased)  # decide without attributes
_PARENT_BASED = (sampling.ParentBased, sampling.ParentBasedTraceIdRatio)
_DELEGATES = (
    "_root",
    "_remote_parent_sampled",
    "_remote_parent_not_sampled",
    "_local_parent_sampled",
    "_local_parent_not_sampled",
)


def _ignores_attributes(sampler: Any) -> bool:
    """The SDK's own samplers, exactly those classes: their decision never reads the attributes."""
    if type(sampler) in _STATIC_SAMPLERS:
        return True
    if type(sampler) in _PARENT_BASED:
        return all(_ignores_attributes(getattr(sampler, name, None)) for name in _DELEGATES)
    return False


class SpanStarter:
    """``tracer.start_span(name, context, kind=CLIENT, attributes=...)`` on the provider init() built,
    with the attributes set after the start when no sampler or processor can observe the difference."""

    __slots__ = ("_blind", "_multi", "_processors", "_sampler_blind", "_tracer")

    def __init__(self, tracer: Any, provider: Any) -> None:
        self._tracer = tracer
        self._sampler_blind = _ignores_attributes(getattr(provider, "sampler", None))
        self._multi = getattr(provider, "_active_span_processor", None)
        self._processors: Any = None  # the processor tuple last checked (a new tuple once one is added)
        self._blind = False

    def start(self, name: str, context: Any, attributes: dict[str, Any]) -> Any:
        processors = getattr(self._multi, "_span_processors", None)
        if processors is not self._processors:
            self._processors = processors
            self._blind = (
                self._sampler_blind
                and isinstance(processors, tuple)
                and all(type(p).on_start in _IDLE_ON_START for p in processors)
            )
        if not self._blind:
            return self._tracer.start_span(name, context, kind=SpanKind.CLIENT, attributes=attributes)
        span = self._tracer.start_span(name, context, kind=SpanKind.CLIENT)
        set_attributes(span, attributes)
        return span


__all__ = ["SpanStarter", "set_attributes"]
