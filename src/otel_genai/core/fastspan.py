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
On that path the span itself is made by ``_LeanStart``: the same steps as ``Tracer.start_span`` (parent,
ids, the sampler, flags, the SDK's own span metrics) without its per-call generality, and an SDK ``Span``
(a subclass, so every method the application may call on it is the SDK's) filled in directly.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from time import time_ns
from typing import Any

from opentelemetry import trace as trace_api
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk import trace as sdk_trace
from opentelemetry.sdk.trace import SpanProcessor, sampling
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import SpanContext, SpanKind, TraceFlags

_PLAIN = frozenset({str, bool, int, float})
_SEQUENCES = frozenset({list, tuple})


def _uniform(values: Any) -> bool:
    """Plain values of one type, or None: what every SDK release stores unchanged (before 1.4x a mixed
    sequence is dropped, since then kept)."""
    kind = None
    for value in values:
        if value is None:
            continue
        cls = type(value)
        if kind is None:
            if cls not in _PLAIN:
                return False
            kind = cls
        elif cls is not kind:
            return False
    return True


def _trusted(attributes: Mapping[str, Any]) -> dict[str, Any] | None:
    """The values as the SDK would store them, or None if any needs the SDK's own cleaning."""
    out: dict[str, Any] = {}
    plain = _PLAIN
    for key, value in attributes.items():
        if type(key) is not str or not key:
            return None
        cls = type(value)
        if cls not in plain:
            if cls not in _SEQUENCES or not _uniform(value):
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
                if stored.keys().isdisjoint(values):  # the usual case: keys the span has not got yet
                    stored.update(values)
                else:
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


class _LeanSpan(sdk_trace.Span):
    """An SDK ``Span`` whose fields ``_LeanStart`` fills in; every method is the SDK's."""


# Names Tracer.start_span and Span.__init__ use in the SDK releases this was checked against (1.30-1.45):
# a release whose code uses any other name does something we do not reproduce, and keeps the SDK path.
_START_NAMES = frozenset(
    {
        "DEFAULT", "NonRecordingSpan", "RANDOM_TRACE_ID", "SAMPLED", "SpanContext", "TraceFlags",
        "TypeError", "_Span", "_instrumentation_scope", "_is_enabled", "_span_limits", "_tracer_metrics",
        "attributes", "copy", "decision", "generate_span_id", "generate_trace_id", "get_current_span",
        "get_span_context", "id_generator", "instrumentation_info", "is_recording", "is_sampled",
        "is_trace_id_random", "is_valid", "isinstance", "random_trace_id", "resource", "sampler",
        "should_sample", "span_processor", "start", "start_span", "trace_api", "trace_flags", "trace_id",
        "trace_state",
    }
)  # fmt: skip
_INIT_NAMES = frozenset(
    {
        "BoundedAttributes", "Lock", "Resource", "__init__", "_attributes", "_events", "_limits", "_links",
        "_lock", "_new_events", "_new_links", "_record_end_metrics", "_record_exception", "_sampler",
        "_set_status_on_exception", "_span_processor", "_trace_config", "append", "attributes", "create",
        "max_attribute_length", "max_event_attributes", "max_span_attribute_length", "max_span_attributes",
        "super", "threading",
    }
)  # fmt: skip
# A span's own fields, and what it takes from its tracer, read per span as the SDK does (the SDK replaces a
# tracer's resource in a forked child), then the constants every span starts with (copied from a probe).
_PER_SPAN = frozenset(
    {
        "_name", "_context", "_parent", "_start_time", "_lock", "_attributes", "_events", "_links",
        "_sampler", "_resource", "_span_processor", "_instrumentation_info", "_limits",
        "_instrumentation_scope",
    }
)  # fmt: skip
_SHARED = frozenset(
    {
        "_kind", "_trace_config", "_record_exception", "_set_status_on_exception", "_status", "_end_time",
        "_record_end_metrics",
    }
)  # fmt: skip
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_NOT_SAMPLED = TraceFlags(TraceFlags.DEFAULT)
_RANDOM = getattr(TraceFlags, "RANDOM_TRACE_ID", None)


def _code_names(function: Any) -> frozenset[str] | None:
    code = getattr(function, "__code__", None)
    return frozenset(code.co_names) if code is not None else None


# What ParentBased and StaticSampler.should_sample read in the releases checked (1.30-1.45).
_PARENT_BASED_NAMES = frozenset(
    {
        "_local_parent_not_sampled", "_local_parent_sampled", "_remote_parent_not_sampled",
        "_remote_parent_sampled", "_root", "get_current_span", "get_span_context", "is_remote", "is_valid",
        "sampled", "should_sample", "trace_flags",
    }
)  # fmt: skip
_STATIC_NAMES = frozenset({"DROP", "Decision", "SamplingResult", "_decision", "_get_parent_trace_state"})


def _static_decisions(sampler: Any) -> tuple[Any, ...] | None:
    """The decisions of ``StaticSampler``s alone (ALWAYS_ON, ParentBased(ALWAYS_ON), the default), as
    (root, remote sampled, remote not sampled, local sampled, local not sampled); None for any other.

    Such a sampler's answer is its decision and the parent's trace state: ``_LeanStart`` reads it from
    here instead of building a SamplingResult through two calls per span."""
    if _code_names(sampling.StaticSampler.should_sample) != _STATIC_NAMES:
        return None
    if type(sampler) is sampling.StaticSampler:
        return (sampler._decision,) * 5
    if type(sampler) is sampling.ParentBased:
        if _code_names(sampling.ParentBased.should_sample) != _PARENT_BASED_NAMES:
            return None
        delegates = [getattr(sampler, name, None) for name in _DELEGATES]
        if all(type(d) is sampling.StaticSampler for d in delegates):
            return tuple(d._decision for d in delegates)  # type: ignore[union-attr]
    return None


class _LeanStart:
    """``tracer.start_span(name, context, kind=CLIENT)`` for one SDK tracer, step for step, cheaper.

    Built only when the tracer is the SDK's own class running code we have read (``_START_NAMES``) and a
    probe span shows the fields we fill in; tests/test_fastspan.py proves the spans equal to the SDK's.
    """

    __slots__ = ("_enabled", "_metrics", "_random", "_sampler", "_static", "_template", "_tracer")

    def __init__(self, tracer: Any, template: dict[str, Any], names: frozenset[str]) -> None:
        self._tracer = tracer
        self._sampler = tracer.sampler  # a provider's sampler is fixed at its construction
        self._static = _static_decisions(tracer.sampler)
        self._template = template
        self._enabled = "_is_enabled" in names
        self._metrics = "_tracer_metrics" in names
        self._random = "RANDOM_TRACE_ID" in names and _RANDOM is not None

    @classmethod
    def build(cls, tracer: Any) -> _LeanStart | None:
        try:
            if type(tracer) is not sdk_trace.Tracer:
                return None
            names = _code_names(sdk_trace.Tracer.start_span)
            init = _code_names(sdk_trace.Span.__init__)
            if names is None or init is None or not names <= _START_NAMES or not init <= _INIT_NAMES:
                return None
            probe = sdk_trace._Span(
                name="probe",
                context=trace_api.INVALID_SPAN_CONTEXT,
                sampler=tracer.sampler,
                resource=tracer.resource,
                span_processor=tracer.span_processor,
                kind=SpanKind.CLIENT,
                instrumentation_info=tracer.instrumentation_info,
                limits=tracer._span_limits,
                instrumentation_scope=tracer._instrumentation_scope,
            )
            fields = vars(probe)
            if not _PER_SPAN <= set(fields) <= _PER_SPAN | _SHARED:
                return None
            template = {k: v for k, v in fields.items() if k in _SHARED}
            return cls(tracer, template, names)
        except Exception:  # an SDK laid out differently: its own start_span
            return None

    def start(self, name: str, context: Any) -> Any:
        tracer = self._tracer
        parent: SpanContext | None = trace_api.get_current_span(context).get_span_context()
        if type(parent) is not SpanContext or (self._enabled and not tracer._is_enabled()):
            return tracer.start_span(name, context, kind=SpanKind.CLIENT)  # the SDK's own answer
        ids = tracer.id_generator
        if not parent.is_valid:
            parent = None
            trace_id = ids.generate_trace_id()
        else:
            trace_id = parent.trace_id
        sampler = tracer.sampler
        static = self._static
        if static is not None and sampler is self._sampler:
            if parent is None:
                decision, trace_state = static[0], None
            else:
                trace_state = parent.trace_state
                sampled = parent.trace_flags.sampled
                decision = static[(1 if sampled else 2) if parent.is_remote else (3 if sampled else 4)]
        else:
            result = sampler.should_sample(context, trace_id, name, SpanKind.CLIENT, None, ())
            decision, trace_state = result.decision, result.trace_state
        flags = _SAMPLED if decision.is_sampled() else _NOT_SAMPLED
        if self._random and (
            ids.is_trace_id_random() if parent is None else parent.trace_flags.random_trace_id
        ):
            flags = TraceFlags(flags | _RANDOM)  # type: ignore[operator]  # _random: _RANDOM is set
        span_context = SpanContext(
            trace_id,
            ids.generate_span_id(),
            is_remote=False,
            trace_flags=flags,
            trace_state=trace_state,
        )
        end_metrics = tracer._tracer_metrics.start_span(parent, decision) if self._metrics else None
        if not decision.is_recording():
            return trace_api.NonRecordingSpan(span_context)
        limits = tracer._span_limits
        span = object.__new__(_LeanSpan)
        fields = span.__dict__
        fields.update(self._template)
        fields["_name"] = name
        fields["_context"] = span_context
        fields["_parent"] = parent
        fields["_sampler"] = sampler
        fields["_resource"] = tracer.resource
        fields["_span_processor"] = tracer.span_processor
        fields["_instrumentation_info"] = tracer.instrumentation_info
        fields["_limits"] = limits
        fields["_instrumentation_scope"] = tracer._instrumentation_scope
        fields["_lock"] = threading.Lock()
        fields["_attributes"] = BoundedAttributes(
            limits.max_span_attributes, None, immutable=False, max_value_len=limits.max_span_attribute_length
        )
        fields["_events"] = BoundedList(limits.max_events)
        fields["_links"] = BoundedList(limits.max_links)
        if end_metrics is not None:
            fields["_record_end_metrics"] = end_metrics
        fields["_start_time"] = time_ns()
        return span


class SpanStarter:
    """``tracer.start_span(name, context, kind=CLIENT, attributes=...)`` on the provider init() built,
    with the attributes set after the start when no sampler or processor can observe the difference."""

    __slots__ = ("_blind", "_lean", "_multi", "_processors", "_sampler_blind", "_tracer")

    def __init__(self, tracer: Any, provider: Any) -> None:
        self._tracer = tracer
        self._sampler_blind = _ignores_attributes(getattr(provider, "sampler", None))
        self._multi = getattr(provider, "_active_span_processor", None)
        self._processors: Any = None  # the processor tuple last checked (a new tuple once one is added)
        self._blind = False
        self._lean = _LeanStart.build(tracer) if self._sampler_blind else None

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
        lean = self._lean
        if lean is not None:
            span = lean.start(name, context)
        else:
            span = self._tracer.start_span(name, context, kind=SpanKind.CLIENT)
        set_attributes(span, attributes)
        return span


__all__ = ["SpanStarter", "set_attributes"]
