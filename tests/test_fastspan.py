"""core/fastspan.py against the SDK's ``Span.set_attributes``: the same stored attributes, in order."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import SpanLimits, TracerProvider

from otel_genai.core.fastspan import set_attributes

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
