"""The direct OTLP span encoder (export/otlp_encoder.py) against the SDK's ``encode_spans``.

Random spans (every attribute value type, unicode, events, links, status, kinds, remote parents, trace
state, dropped counts, several resources and scopes) are encoded by both; the outputs must be
byte-identical, and must parse to equal ``ExportTraceServiceRequest`` messages.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("opentelemetry.proto")

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util import BoundedList
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from otel_genai.export.otlp_encoder import SpanEncoder

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)  # no lone surrogates: not UTF-8
KEYS = st.one_of(st.sampled_from(["gen_ai.operation.name", "gen_ai.request.model", "k", ""]), TEXT)
INT64 = st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1)
FLOATS = st.floats(allow_nan=False)  # NaN != NaN would make message equality fail on both sides
SCALARS = st.one_of(TEXT, st.booleans(), INT64, FLOATS)
VALUES = st.one_of(
    SCALARS,
    st.tuples(),
    st.lists(TEXT, max_size=4).map(tuple),
    st.lists(st.booleans(), max_size=4).map(tuple),
    st.lists(INT64, max_size=4).map(tuple),
    st.lists(FLOATS, max_size=4).map(tuple),
)
ATTRIBUTES = st.dictionaries(KEYS, VALUES, max_size=8)
U64 = st.integers(min_value=0, max_value=(1 << 64) - 1)
TIMES = st.one_of(st.just(0), U64)


@st.composite
def bounded(draw: Any, attributes: Any = ATTRIBUTES) -> Any:
    """Plain dicts, or ``BoundedAttributes`` with a limit so some are dropped (and counted)."""
    values = draw(attributes)
    if draw(st.booleans()):
        return values
    limit = draw(st.integers(min_value=0, max_value=8))
    return BoundedAttributes(maxlen=limit, attributes=values, immutable=False)


@st.composite
def span_contexts(draw: Any) -> SpanContext:
    state = draw(
        st.lists(
            st.tuples(
                st.from_regex(r"[a-z][a-z0-9_\-*/]{0,8}", fullmatch=True),
                st.from_regex(r"[a-z0-9]{1,6}", fullmatch=True),
            ),
            max_size=3,
            unique_by=lambda kv: kv[0],
        )
    )
    return SpanContext(
        trace_id=draw(st.integers(min_value=1, max_value=(1 << 128) - 1)),
        span_id=draw(st.integers(min_value=1, max_value=(1 << 64) - 1)),
        is_remote=draw(st.booleans()),
        trace_flags=TraceFlags(draw(st.sampled_from([0, 1]))),
        trace_state=TraceState(state),
    )


@st.composite
def events(draw: Any) -> Event:
    return Event(draw(TEXT), draw(st.one_of(st.none(), bounded())), timestamp=draw(TIMES))


@st.composite
def links(draw: Any) -> Link:
    return Link(draw(span_contexts()), draw(st.one_of(st.none(), bounded())))


@st.composite
def sequences(draw: Any, items: Any) -> Any:
    values = draw(st.lists(items, max_size=3))
    if draw(st.booleans()):
        return tuple(values)
    bounded_list = BoundedList(draw(st.integers(min_value=0, max_value=3)))
    bounded_list.extend(values)
    return bounded_list


RESOURCES = st.builds(
    Resource,
    st.dictionaries(KEYS, SCALARS, max_size=4),
    st.sampled_from(["", "https://opentelemetry.io/schemas/1.30.0"]),
)
SCOPES = st.one_of(
    st.none(),
    st.builds(
        InstrumentationScope,
        st.sampled_from(["otel_genai", "other", ""]),
        st.sampled_from([None, "", "1.0"]),
        st.sampled_from([None, "", "https://schema"]),
        st.one_of(st.none(), st.dictionaries(KEYS, SCALARS, max_size=3)),
    ),
)
STATUSES = st.one_of(
    st.builds(Status, st.sampled_from(list(StatusCode))),
    st.builds(lambda d: Status(StatusCode.ERROR, d), TEXT),
)


class _SubSpan(ReadableSpan):
    """Not the SDK's own class: the encoder reads it through the public properties."""


@st.composite
def spans(draw: Any, resources: list[Resource], scopes: list[Any]) -> ReadableSpan:
    return draw(st.sampled_from([ReadableSpan, _SubSpan]))(
        name=draw(TEXT),
        context=draw(span_contexts()),
        parent=draw(st.one_of(st.none(), span_contexts())),
        resource=draw(st.sampled_from(resources)),
        attributes=draw(bounded()),
        events=draw(sequences(events())),
        links=draw(sequences(links())),
        kind=draw(st.sampled_from(list(SpanKind))),
        status=draw(STATUSES),
        start_time=draw(TIMES),
        end_time=draw(TIMES),
        instrumentation_scope=draw(st.sampled_from(scopes)),
    )


@st.composite
def batches(draw: Any) -> list[ReadableSpan]:
    resources = draw(st.lists(RESOURCES, min_size=1, max_size=3))
    scopes = draw(st.lists(SCOPES, min_size=1, max_size=3))
    return draw(st.lists(spans(resources, scopes), max_size=6))


def assert_same(batch: list[Any], encoder: SpanEncoder | None = None) -> None:
    ours = (encoder or SpanEncoder()).encode(batch)
    theirs = encode_spans(batch).SerializePartialToString()
    assert ExportTraceServiceRequest.FromString(ours) == ExportTraceServiceRequest.FromString(theirs)
    assert ours == theirs


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_random_batches_encode_like_the_sdk(batch: list[ReadableSpan]) -> None:
    assert_same(batch)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(batches(), min_size=2, max_size=4))
def test_caches_never_leak_between_batches(batch_list: list[list[ReadableSpan]]) -> None:
    encoder = SpanEncoder()  # one encoder, as in the exporter: its caches survive from batch to batch
    for batch in batch_list:
        assert_same(batch, encoder)


def _span(attributes: Any, scope: Any = None, resource: Any = None) -> ReadableSpan:
    return ReadableSpan(
        "chat gpt-4o",
        context=SpanContext(1, 2, False),
        resource=resource or Resource.create({"service.name": "svc"}),
        attributes=attributes,
        instrumentation_scope=scope,
    )


def test_cached_pairs_keep_bool_int_and_float_apart() -> None:
    encoder = SpanEncoder()
    for value in (1, True, 1.0, 0, False, 0.0, -0.0, "1"):
        assert_same([_span({"v": value})], encoder)
    assert_same([_span({"v": 1}), _span({"v": True}), _span({"v": 1.0})], encoder)
    # tuples: only all-str ones are kept; an equal-looking tuple of other classes encodes as itself
    for value in (("stop",), ("1",), (1,), (True,), (1.0,), ("stop",), ("a", "b"), ("1", 1), ()):
        assert_same([_span({"r": value})], encoder)
    assert ("stop",) in encoder._pairs[b"\x4a"]["r"] and (1,) not in encoder._pairs[b"\x4a"]["r"]
    assert_same([_span({"r": ("a", ["b"])})], encoder)  # unhashable inside: no lookup error, as the SDK


def test_equal_scopes_of_distinct_objects_interleaved_group_like_the_sdk() -> None:
    a, b = (
        InstrumentationScope("otel_genai", "1"),
        InstrumentationScope("otel_genai", "1", attributes={"x": 1}),
    )
    r1, r2 = Resource.create({"a": "1"}), Resource.create({"a": "1"})  # equal, distinct
    assert_same([_span({"n": 1}, a, r1), _span({"n": 2}, b, r2), _span({"n": 3}, a, r2), _span({"n": 4})])


def test_unencodable_values_are_skipped_and_logged_like_the_sdk(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    values = {"big": 1 << 64, "obj": object(), "mixed": (1, object()), "ok": "kept", "nested": {"a": [1, 2]}}
    assert_same([_span(values)])
    assert any("big" in record.getMessage() for record in caplog.records)


def test_special_floats_and_bytes() -> None:
    for value in (math.inf, -math.inf, 5e-324, b"\x00\xff", (b"a", b""), {"k": "v", "n": None}):
        assert_same([_span({"v": value})])
    assert SpanEncoder().encode([]) == encode_spans([]).SerializePartialToString() == b""


def test_caches_stay_bounded_and_correct_under_unique_values() -> None:
    """Response ids never repeat: their key keeps only its last few encodings, the model's stays cached."""
    from otel_genai.export import otlp_encoder

    encoder = SpanEncoder()
    for i in range(3 * otlp_encoder._CACHE_LIMIT // 100):
        batch = [
            _span(
                {
                    "gen_ai.request.model": "gpt-4o",
                    "gen_ai.response.id": f"id-{i}-{j}",
                    "n": j % 7,
                    "c": j / 3,
                }
            )
            for j in range(100)
        ]
        if i % 20 == 0:
            assert_same(batch, encoder)
        else:
            encoder.encode(batch)
        held = sum(len(values) for keys in encoder._pairs.values() for values in keys.values())
        assert held == encoder._cached <= otlp_encoder._CACHE_LIMIT
        assert len(encoder._pairs[b"\x4a"]["gen_ai.response.id"]) <= otlp_encoder._VALUES_LIMIT
    assert "gpt-4o" in encoder._pairs[b"\x4a"]["gen_ai.request.model"]
    assert_same([_span({"gen_ai.response.id": "id-0-0", "v": True}), _span({"v": 1})], encoder)
