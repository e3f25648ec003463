"""core/fastspan.py against the SDK: the same stored attributes, in order, set at the end or at the start."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import context
from opentelemetry.sdk.trace import SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    Decision,
    ParentBased,
    ParentBasedTraceIdRatio,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import SpanKind

from otel_genai.core.fastspan import SpanStarter, set_attributes

PLAIN = st.one_of(st.text(max_size=8), st.booleans(), st.integers(), st.floats(allow_nan=False))
VALUES = st.one_of(
    PLAIN,
    st.none(),
    st.lists(st.one_of(PLAIN, st.none()), max_size=3),
    st.lists(PLAIN, max_size=3).map(tuple),
    st.dictionaries(st.text(max_size=3), PLAIN, max_size=2),  # the SDK path, whatever it does
    st.builds(object),
)
KEYS = st.one_of(
    st.sampled_from(["gen_ai.operation.name", "gen_ai.request.model", "a", ""]), st.text(max_size=6)
)
ATTRIBUTES = st.dictionaries(KEYS, VALUES, max_size=6)


def _pair(limits: SpanLimits) -> tuple[Any, Any]:
    tracer = TracerProvider(span_limits=limits).get_tracer("t")
    return tracer.start_span("s", attributes={"start": 1}), tracer.start_span("s", attributes={"start": 1})


@settings(max_examples=300, deadline=None)
@given(
    st.lists(ATTRIBUTES, min_size=1, max_size=3),
    st.sampled_from([None, 3, 8]),
    st.sampled_from([None, 4]),
    st.booleans(),
)
def test_same_attributes_as_the_sdk(
    updates: list[dict[str, Any]], max_attributes: int | None, max_length: int | None, end_first: bool
) -> None:
    limits = SpanLimits(max_span_attributes=max_attributes, max_span_attribute_length=max_length)
    ours, sdks = _pair(limits)
    for update in updates:
        if end_first:
            ours.end()
            sdks.end()
        set_attributes(ours, update)
        sdks.set_attributes(update)
    ours_items = list(ours.attributes.items())
    assert ours_items == list(sdks.attributes.items())
    assert [type(v) for _, v in ours_items] == [type(v) for _, v in sdks.attributes.items()]
    assert ours.dropped_attributes == sdks.dropped_attributes


def test_the_fast_path_is_taken_for_plain_values() -> None:
    span, _ = _pair(SpanLimits())
    store = span._attributes
    calls: list[Any] = []
    span.set_attributes = calls.append  # the SDK path would go through here
    set_attributes(span, {"a": "x", "b": 1, "c": ["s", "t"], "start": 2.5})
    assert calls == []
    assert dict(store) == {"start": 2.5, "a": "x", "b": 1, "c": ("s", "t")}
    assert list(store) == ["a", "b", "c", "start"]  # a replaced key moves to the end


def test_non_sdk_spans_use_their_own_set_attributes() -> None:
    from opentelemetry.trace import INVALID_SPAN

    set_attributes(INVALID_SPAN, {"a": 1})  # no error, nothing stored


# --- start attributes: SpanStarter ----------------------------------------------------------------


class _Recording(SpanProcessor):
    """An on_start processor that reads the attributes (the starter must then pass them at start)."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        self.seen.append(dict(span.attributes))


class _ReadingSampler(Sampler):
    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def should_sample(
        self, parent_context, trace_id, name, kind=None, attributes=None, links=None, trace_state=None
    ):  # type: ignore[no-untyped-def]
        self.seen.append(dict(attributes or {}))
        return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)

    def get_description(self) -> str:
        return "reads attributes"


def _exported(provider: TracerProvider) -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


@settings(max_examples=200, deadline=None)
@given(ATTRIBUTES, st.sampled_from([None, 3, 8]), st.sampled_from([None, 4]), ATTRIBUTES)
def test_started_spans_equal_the_sdks(
    start: dict[str, Any], max_attributes: int | None, max_length: int | None, end: dict[str, Any]
) -> None:
    limits = SpanLimits(max_span_attributes=max_attributes, max_span_attribute_length=max_length)
    ours_provider, sdk_provider = TracerProvider(span_limits=limits), TracerProvider(span_limits=limits)
    ours_out, sdk_out = _exported(ours_provider), _exported(sdk_provider)
    tracer = ours_provider.get_tracer("t")
    starter = SpanStarter(tracer, ours_provider)
    ours = starter.start("chat m", context.get_current(), start)
    sdks = sdk_provider.get_tracer("t").start_span("chat m", kind=SpanKind.CLIENT, attributes=start)
    assert starter._blind  # the default sampler and a simple processor: the fast path was taken
    set_attributes(ours, end)
    sdks.set_attributes(end)
    ours.end()
    sdks.end()
    [a], [b] = ours_out.get_finished_spans(), sdk_out.get_finished_spans()
    assert list(a.attributes.items()) == list(b.attributes.items())
    assert [type(v) for v in a.attributes.values()] == [type(v) for v in b.attributes.values()]
    assert (a.dropped_attributes, a.name, a.kind) == (b.dropped_attributes, b.name, b.kind)


def test_an_on_start_processor_added_later_sees_the_start_attributes() -> None:
    provider = TracerProvider()
    _exported(provider)
    starter = SpanStarter(provider.get_tracer("t"), provider)
    starter.start("a", context.get_current(), {"gen_ai.operation.name": "chat"}).end()
    assert starter._blind
    reader = _Recording()
    provider.add_span_processor(reader)  # a new processor tuple: checked again on the next start
    starter.start("b", context.get_current(), {"gen_ai.operation.name": "chat"}).end()
    assert not starter._blind
    assert reader.seen == [{"gen_ai.operation.name": "chat"}]


def test_a_sampler_that_reads_attributes_gets_them_at_start() -> None:
    sampler = _ReadingSampler()
    for chosen in (sampler, ParentBased(root=sampler)):
        provider = TracerProvider(sampler=chosen)
        out = _exported(provider)
        starter = SpanStarter(provider.get_tracer("t"), provider)
        starter.start("a", context.get_current(), {"gen_ai.request.model": "m"}).end()
        assert not starter._blind
        assert sampler.seen[-1] == {"gen_ai.request.model": "m"}
        assert dict(out.get_finished_spans()[0].attributes) == {"gen_ai.request.model": "m"}


@pytest.mark.parametrize(
    "sampler",
    [ALWAYS_ON, ALWAYS_OFF, TraceIdRatioBased(0.5), ParentBased(ALWAYS_ON), ParentBasedTraceIdRatio(0.1)],
)
def test_the_sdks_own_samplers_ignore_attributes(sampler: Sampler) -> None:
    provider = TracerProvider(sampler=sampler)
    starter = SpanStarter(provider.get_tracer("t"), provider)
    span = starter.start("a", context.get_current(), {"k": "v"})
    assert starter._blind
    assert dict(getattr(span, "attributes", None) or {}) == ({"k": "v"} if span.is_recording() else {})
