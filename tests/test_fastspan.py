"""core/fastspan.py against the SDK: the same stored attributes, in order, set at the end or at the start."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import context, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace import Span as SdkSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
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
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

from otel_genai.core.fastspan import SpanStarter, _LeanSpan, set_attributes
from otel_genai.core.invocation import Invocation
from otel_genai.export.otlp_encoder import SpanEncoder
from otlp_receiver import OtlpReceiver, attrs_to_dict

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


# --- the span itself: _LeanStart against Tracer.start_span ------------------------------------------


class _Ids(IdGenerator):
    """Deterministic ids, so two providers give the same spans."""

    def __init__(self, random: bool) -> None:
        self._next = 0
        self._random = random

    def generate_span_id(self) -> int:
        self._next += 1
        return self._next

    def generate_trace_id(self) -> int:
        self._next += 1
        return (7 << 64) + self._next

    def is_trace_id_random(self) -> bool:
        return self._random


SAMPLERS = [
    ALWAYS_ON,
    ALWAYS_OFF,
    TraceIdRatioBased(0.5),
    ParentBased(ALWAYS_ON),
    ParentBased(ALWAYS_OFF),
    ParentBasedTraceIdRatio(0.5),
    # each delegate unlike its default: the lean start's decision table picks the one the SDK picks
    ParentBased(
        ALWAYS_OFF,
        remote_parent_sampled=ALWAYS_OFF,
        remote_parent_not_sampled=ALWAYS_ON,
        local_parent_sampled=ALWAYS_OFF,
        local_parent_not_sampled=ALWAYS_ON,
    ),
]
PARENTS = st.one_of(
    st.none(),
    st.builds(
        lambda trace_id, span_id, sampled, remote, state: SpanContext(
            trace_id,
            span_id,
            is_remote=remote,
            trace_flags=TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT),
            trace_state=TraceState(state),
        ),
        st.integers(1, 2**128 - 1),
        st.integers(1, 2**64 - 1),
        st.booleans(),
        st.booleans(),
        st.lists(st.tuples(st.sampled_from(["a", "vendor"]), st.sampled_from(["1", "x"])), max_size=2),
    ),
)


def _plain(item: Any) -> Any:
    """An event or link as comparable values."""
    if isinstance(item, Event):
        return (item.name, item.timestamp, dict(item.attributes or {}))
    return (item.context, dict(item.attributes or {}))


def _fields(span: Any) -> dict[str, Any]:
    """What a span holds, comparable across two providers (its lock and clock aside)."""
    out: dict[str, Any] = {"type": isinstance(span, SdkSpan), "context": span.get_span_context()}
    if not isinstance(span, SdkSpan):
        return out
    for key, value in vars(span).items():
        if key in ("_lock", "_start_time") or key in ("_span_processor", "_sampler", "_limits"):
            out[key] = type(value)
        elif key == "_record_end_metrics":
            out[key] = callable(value)
        elif key == "_attributes":
            out[key] = (
                list(value.items()),
                value.maxlen,
                value.max_value_len,
                value._immutable,
                value.dropped,
            )
        elif key in ("_events", "_links"):
            out[key] = ([_plain(item) for item in value], value._dq.maxlen, value.dropped)
        elif key == "_status":
            out[key] = (value.status_code, value.description)
        else:
            out[key] = value
    return out


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(SAMPLERS),
    PARENTS,
    st.booleans(),
    st.sampled_from([None, 2, 128]),
    ATTRIBUTES,
)
def test_lean_spans_equal_the_sdks(
    sampler: Sampler, parent: SpanContext | None, random: bool, limit: int | None, start: dict[str, Any]
) -> None:
    limits = SpanLimits(max_span_attributes=limit, max_events=limit, max_links=limit)
    made = []
    for _ in range(2):
        provider = TracerProvider(sampler=sampler, id_generator=_Ids(random), span_limits=limits)
        made.append((provider, _exported(provider), provider.get_tracer("t", "1", schema_url="s")))
    (ours_provider, ours_out, tracer), (_, sdk_out, sdk_tracer) = made
    starter = SpanStarter(tracer, ours_provider)
    ctx = trace.set_span_in_context(NonRecordingSpan(parent)) if parent is not None else context.get_current()
    ours = starter.start("chat m", ctx, start)
    sdks = sdk_tracer.start_span("chat m", ctx, kind=SpanKind.CLIENT, attributes=start)
    assert starter._lean is not None and starter._blind
    assert _fields(ours) == _fields(sdks)
    for span in (ours, sdks):  # what an application may do with the current span
        span.set_attribute("k", "v")
        span.add_event("e", {"a": 1}, timestamp=5)
        span.add_link(SpanContext(1, 2, is_remote=False), {"l": True})
        span.set_status(Status(StatusCode.ERROR, "boom"))
        span.update_name("renamed")
    assert _fields(ours) == _fields(sdks)
    ours.end()
    sdks.end()
    ours.end()  # a second end is the SDK's warning, not a second export
    a, b = ours_out.get_finished_spans(), sdk_out.get_finished_spans()
    assert len(a) == len(b) <= 1
    if a:
        assert SpanEncoder().encode([_at_zero(a[0])]) == SpanEncoder().encode([_at_zero(b[0])])


def _at_zero(span: Any) -> Any:
    span._start_time = span._end_time = 1
    return span


def test_the_lean_start_is_what_init_builds() -> None:
    """init()'s provider takes the lean start; the span reaches a real OTLP/HTTP receiver with what the
    recorder and the application's own call on the current span set."""
    import otel_genai
    from otel_genai.core.recorder import Recorder

    with OtlpReceiver() as receiver:
        settings = otel_genai.init(endpoint=receiver.endpoint, service_name="lean")
        try:
            assert settings is not None
            recorder = Recorder(settings, trace.get_tracer_provider())
            assert recorder._starter is not None and recorder._starter._lean is not None
            inv = Invocation("chat", "openai", "m", server_address="h", server_port=1)
            recorder.start(inv)
            assert type(inv.span) is _LeanSpan
            trace.get_current_span().set_attribute("app.tag", "mine")
            recorder.finish(inv)
            otel_genai.force_flush()
            [span] = receiver.wait_for(receiver.spans)
        finally:
            otel_genai.shutdown()
    attributes = attrs_to_dict(span.attributes)
    assert span.name == "chat m" and span.kind == span.SPAN_KIND_CLIENT
    assert attributes["app.tag"] == "mine"
    assert attributes["gen_ai.request.model"] == "m" and attributes["server.port"] == 1
    assert len(span.trace_id) == 16 and len(span.span_id) == 8 and not span.parent_span_id


def test_a_lean_span_takes_the_tracers_resource_of_now() -> None:
    """The SDK gives a forked child's tracers a new resource (service.instance.id); spans must follow."""
    provider = TracerProvider(resource=Resource.create({"service.instance.id": "parent"}))
    out = _exported(provider)
    tracer = provider.get_tracer("t")
    starter = SpanStarter(tracer, provider)
    tracer.resource = Resource.create({"service.instance.id": "child"})  # what _set_resource does
    starter.start("a", context.get_current(), {}).end()
    [span] = out.get_finished_spans()
    assert span.resource.attributes["service.instance.id"] == "child"


def test_a_disabled_tracer_gets_no_span() -> None:
    provider = TracerProvider()
    configure = getattr(provider, "_set_tracer_configurator", None)
    if configure is None:
        pytest.skip("this SDK has no tracer configurator")
    from opentelemetry.sdk.trace import _disable_tracer_configurator

    out = _exported(provider)
    starter = SpanStarter(provider.get_tracer("t"), provider)
    configure(tracer_configurator=_disable_tracer_configurator)
    span = starter.start("a", context.get_current(), {"k": "v"})
    assert not span.is_recording()
    span.end()
    assert out.get_finished_spans() == ()


def test_the_sdks_static_samplers_are_read_without_a_call() -> None:
    """ALWAYS_ON, ALWAYS_OFF and ParentBased over them (init()'s default) decide from a table; any other
    sampler, or a ParentBased with another kind of delegate, is asked as before."""
    from otel_genai.core.fastspan import _static_decisions

    on, off = Decision.RECORD_AND_SAMPLE, Decision.DROP
    assert _static_decisions(ALWAYS_ON) == (on,) * 5
    assert _static_decisions(ParentBased(ALWAYS_ON)) == (on, on, off, on, off)
    assert _static_decisions(ParentBasedTraceIdRatio(0.5)) is None
    assert _static_decisions(ParentBased(ALWAYS_ON, remote_parent_sampled=TraceIdRatioBased(1.0))) is None
    assert _static_decisions(_ReadingSampler()) is None
