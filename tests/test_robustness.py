"""Odd shapes from a server or a caller yield less telemetry, never an exception in user code.

Property-based: hypothesis feeds JSON-like garbage, plausible-but-wrong shapes and attribute objects with
missing fields through the boundaries the openai hook really uses (``OpenAIHook.begin``, ``Call.end``,
``SyncStreamProxy``/``AsyncStreamProxy`` over ``ChatAccumulator``, ``Recorder.finish``), with real
recorders writing to the SDK's in-memory exporters.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any

import openai
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from openai._models import FinalRequestOptions
from openai.types.chat import ChatCompletion
from opentelemetry.trace import StatusCode

from conftest import Telemetry
from otel_genai.config import Settings
from otel_genai.core import content
from otel_genai.core.hooks import Call
from otel_genai.core.invocation import Invocation
from otel_genai.core.raw import RawResponseProxy
from otel_genai.core.recorder import Recorder, active_invocation
from otel_genai.core.streams import AsyncStreamProxy, SyncStreamProxy
from otel_genai.instrumentation.openai import chat, endpoints, hook

SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

# --- strategies ---------------------------------------------------------------------------------

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
json_like = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)

comparable_json = st.recursive(  # NaN never equals itself, so round trips use every other value
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)


def to_object(value: Any) -> Any:
    """Dicts become attribute objects: a missing field is a missing attribute, as on a partial model."""
    if isinstance(value, dict):
        return SimpleNamespace(**{str(k): to_object(v) for k, v in value.items()})
    if isinstance(value, list):
        return [to_object(v) for v in value]
    return value


def odd(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The plausible shape, or any JSON-like value in its place."""
    return strategy | json_like


def fields(**optional: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A dict with any subset of these keys, each holding its plausible shape or garbage."""
    return st.fixed_dictionaries({}, optional={key: odd(value) for key, value in optional.items()})


def objects_or_dicts(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return strategy | strategy.map(to_object)


text = st.text(max_size=10)
token_count = st.integers(min_value=-5, max_value=10**6) | st.integers()
function = fields(
    name=text, arguments=st.sampled_from(['{"city": "Paris"}', '{"broken', "", "[1, 2]"]) | text
)
tool_call = fields(id=text, type=st.just("function"), index=st.integers(-2, 3), function=function)
part = fields(
    type=st.sampled_from(["text", "image_url", "input_audio", "refusal", "file"]),
    text=text,
    image_url=fields(url=st.sampled_from(["data:image/png;base64,AA==", "https://example.com/a.png"]) | text),
)
message = fields(
    role=st.sampled_from(["system", "developer", "user", "assistant", "tool"]),
    content=text | st.lists(odd(part), max_size=3),
    tool_calls=st.lists(odd(tool_call), max_size=3),
    function_call=function,
    name=text,
    tool_call_id=text,
    refusal=text,
)
request_body = fields(
    model=st.sampled_from(["gpt-4o-mini", ""]) | text,
    messages=st.lists(objects_or_dicts(odd(message)), max_size=4),
    max_tokens=token_count,
    max_completion_tokens=token_count,
    temperature=st.floats(),
    top_p=st.floats(),
    stop=text | st.lists(text, max_size=3),
    seed=st.integers(),
    n=st.integers(-1, 4) | st.integers(),
    frequency_penalty=st.floats(),
    presence_penalty=st.floats(),
    reasoning_effort=st.sampled_from(["low", "high"]),
    response_format=fields(type=st.sampled_from(["text", "json_object", "json_schema"])),
    service_tier=st.sampled_from(["auto", "default", "priority"]),
    tools=st.lists(odd(fields(type=st.just("function"), function=fields(name=text))), max_size=3),
)
usage = fields(
    prompt_tokens=token_count,
    completion_tokens=token_count,
    prompt_tokens_details=fields(cached_tokens=token_count),
    completion_tokens_details=fields(reasoning_tokens=token_count),
)
choice = fields(
    index=st.integers(-1, 3) | st.integers(),
    finish_reason=st.sampled_from(["stop", "length", "tool_calls", ""]),
    message=message,
    delta=message,
)
completion = fields(
    id=text,
    model=text,
    system_fingerprint=text,
    service_tier=text,
    usage=usage,
    choices=st.lists(odd(choice), max_size=3),
)
# What a raw response (``with_raw_response``) looks like to the hook: an http_response plus parse().
raw_response = st.builds(
    lambda body: SimpleNamespace(http_response=SimpleNamespace(content=body), parse=lambda: None),
    st.binary(max_size=30) | text | st.just(b'{"choices": [{"finish_reason": 1}], "usage": 7}'),
)
response = objects_or_dicts(odd(completion)) | raw_response
chunk = completion.map(to_object) | odd(completion)

# --- shared telemetry ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sink() -> Iterator[Telemetry]:
    telemetry = Telemetry()
    yield telemetry
    telemetry.shutdown()


@pytest.fixture(scope="module")
def recorders(sink: Telemetry) -> dict[str, Recorder]:
    """No content; content on span and event with a short truncation limit; per-chunk metrics."""
    overrides: dict[str, dict[str, Any]] = {
        "plain": {},
        "content": {"capture_message_content": "SPAN_AND_EVENT", "max_content_length": 4},
        "per_chunk": {"per_chunk_metrics": True, "capture_message_content": "SPAN_ONLY"},
    }
    return {
        name: Recorder(
            Settings.resolve(keywords, env={}),
            tracer_provider=sink.tracer_provider,
            meter_provider=sink.meter_provider,
            logger_provider=sink.logger_provider,
        )
        for name, keywords in overrides.items()
    }


RECORDER_NAMES = st.sampled_from(["plain", "content", "per_chunk"])


def reset(sink: Telemetry) -> None:
    sink.span_exporter.clear()
    sink.log_exporter.clear()
    sink.metric_reader.get_metrics_data()  # drop the delta points of earlier examples


def assert_one_span_ended(sink: Telemetry) -> None:
    spans = sink.spans()
    assert len(spans) == 1, [s.name for s in spans]
    assert spans[0].end_time is not None
    assert active_invocation() is None  # the span's context was left, whatever happened


CLIENT = openai.OpenAI(
    base_url="http://127.0.0.1:9/v1",
    api_key="sk-test",
    max_retries=0,
    http_client=openai.DefaultHttpxClient(verify=False),  # never used to send; spares the CA bundle
)


# --- request readers through the hook's guard ---------------------------------------------------


@SETTINGS
@given(body=request_body, result=response, name=RECORDER_NAMES, stream=st.booleans())
def test_hook_begin_and_end_survive_odd_requests_and_responses(
    sink: Telemetry,
    recorders: dict[str, Recorder],
    body: Any,
    result: Any,
    name: str,
    stream: bool,
) -> None:
    """Any dict body still opens the span (request readers never give up); ``end`` returns the result."""
    reset(sink)
    options = FinalRequestOptions.construct(method="post", url="/chat/completions", json_data=body)
    call = hook.OpenAIHook().begin(
        recorders[name], CLIENT, (ChatCompletion, options), {"stream": stream, "stream_cls": None}
    )
    assert call is not None
    assert sink.spans() == []
    if stream:  # a stream's span outlives the call; the proxy ends it
        proxy = call.end(iter([result]), is_async=False)
        assert isinstance(proxy, SyncStreamProxy)
        received = list(proxy)
        assert len(received) == 1 and received[0] is result
    else:
        returned = call.end(result, is_async=False)
        if isinstance(returned, RawResponseProxy):  # an unread raw response: the span follows it
            assert returned.__wrapped__ is result
            returned.parse()
        else:
            assert returned is result
    assert_one_span_ended(sink)
    span = sink.spans()[0]
    assert span.name == (
        f"chat {body['model']}" if isinstance(body.get("model"), str) and body["model"] else "chat"
    )
    assert span.attributes["gen_ai.operation.name"] == "chat"


@SETTINGS
@given(body=request_body, capture=st.booleans())
@example(body={"model": "m", "messages": [{"role": "assistant", "tool_calls": True}]}, capture=True)
def test_read_request_accepts_any_dict_body(body: dict[str, Any], capture: bool) -> None:
    """Content readers too: a caller's malformed message is reported as far as it can be, not dropped."""
    inv = Invocation("chat", "openai")
    chat.read_request(inv, body, capture)
    if capture and isinstance(body.get("messages"), list):
        assert inv.input_messages is not None and len(inv.input_messages) == len(body["messages"])


# --- response readers through Call.end ---------------------------------------------------------


@SETTINGS
@given(result=response, name=RECORDER_NAMES, n=st.none() | st.integers(-1, 3))
def test_call_end_returns_the_identical_result(
    sink: Telemetry, recorders: dict[str, Recorder], result: Any, name: str, n: int | None
) -> None:
    reset(sink)
    recorder = recorders[name]
    inv = Invocation("chat", "openai", "gpt-4o-mini", server_address="127.0.0.1", server_port=9)
    inv.choice_count = n
    recorder.start(inv)
    assert active_invocation() is inv
    returned = Call(hook.OpenAIHook(), recorder, inv, endpoints.CHAT).end(result, is_async=False)
    if isinstance(returned, RawResponseProxy):  # an unread raw response: the span follows it
        assert returned.__wrapped__ is result
        returned.parse()
    else:
        assert returned is result
    assert_one_span_ended(sink)
    recorder.finish(inv)  # a late second finish is a no-op
    assert len(sink.spans()) == 1


def test_long_conversation_keeps_the_core_attributes(sink: Telemetry, recorders: dict[str, Recorder]) -> None:
    """100 messages of legacy content exceed the SDK's 128-attribute limit; only content may be evicted."""
    reset(sink)
    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": f"turn {i}"} for i in range(100)],
    }
    options = FinalRequestOptions.construct(method="post", url="/chat/completions", json_data=body)
    call = hook.OpenAIHook().begin(recorders["content"], CLIENT, (ChatCompletion, options), {"stream": False})
    assert call is not None
    result = {
        "id": "chatcmpl-1",
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok"}}],
        "usage": {"prompt_tokens": 700, "completion_tokens": 1},
    }
    assert call.end(result, is_async=False) is result
    attributes = dict(sink.span().attributes)
    kept = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "server.address": "127.0.0.1",
        "server.port": 9,
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "gen_ai.response.id": "chatcmpl-1",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 700,
        "gen_ai.usage.output_tokens": 1,
        "llm.request.type": "chat",
        "llm.usage.total_tokens": 701,
        "gen_ai.completion.0.content": "ok",
        "gen_ai.prompt.99.content": "turn…[truncated]",  # the newest turns survive, the oldest go first
    }
    assert {key: attributes.get(key) for key in kept} == kept
    assert len(json.loads(attributes["gen_ai.input.messages"])) == 100
    assert "gen_ai.prompt.0.content" not in attributes


# --- stream proxies over odd chunks -------------------------------------------------------------


class StreamBroke(Exception):
    pass


def chunks_then(chunks: list[Any], error: BaseException | None) -> Iterator[Any]:
    yield from chunks
    if error is not None:
        raise error


def open_stream_invocation(recorder: Recorder, n: Any) -> Invocation:
    """What the hook does before it wraps a stream: start the span, then leave its context."""
    inv = Invocation("chat", "openai", "gpt-4o-mini", streaming=True)
    inv.choice_count = n
    recorder.start(inv)
    recorder.deactivate(inv)
    return inv


@SETTINGS
@given(
    chunks=st.lists(chunk, max_size=5),
    name=RECORDER_NAMES,
    n=st.none() | st.integers(-1, 3) | st.integers(),
    fails=st.booleans(),
)
def test_sync_proxy_yields_odd_chunks_unchanged(
    sink: Telemetry, recorders: dict[str, Recorder], chunks: list[Any], name: str, n: Any, fails: bool
) -> None:
    reset(sink)
    recorder = recorders[name]
    inv = open_stream_invocation(recorder, n)
    error = StreamBroke("mid-stream") if fails else None
    accumulator = chat.ChatAccumulator(recorder.capture_content, inv.choice_count)
    proxy = SyncStreamProxy(chunks_then(chunks, error), recorder, inv, accumulator)
    received = []
    if fails:
        with pytest.raises(StreamBroke) as raised:
            for item in proxy:
                received.append(item)
        assert raised.value is error
    else:
        received = list(proxy)
    assert len(received) == len(chunks)
    assert all(got is sent for got, sent in zip(received, chunks, strict=True))
    assert_one_span_ended(sink)
    span = sink.spans()[0]
    assert (span.attributes.get("error.type"), span.status.status_code) == (
        (f"{__name__}.StreamBroke", StatusCode.ERROR) if fails else (None, StatusCode.UNSET)
    )
    del proxy
    assert len(sink.spans()) == 1  # the finaliser does not end it again


@settings(SETTINGS, max_examples=100)  # an event loop per example
@given(chunks=st.lists(chunk, max_size=4), name=RECORDER_NAMES)
def test_async_proxy_yields_odd_chunks_unchanged(
    sink: Telemetry, recorders: dict[str, Recorder], chunks: list[Any], name: str
) -> None:
    reset(sink)
    recorder = recorders[name]
    inv = open_stream_invocation(recorder, None)

    async def source() -> AsyncIterator[Any]:
        for item in chunks:
            yield item

    async def consume() -> list[Any]:
        proxy = AsyncStreamProxy(
            source(), recorder, inv, chat.ChatAccumulator(recorder.capture_content, None)
        )
        return [item async for item in proxy]

    received = asyncio.run(consume())
    assert len(received) == len(chunks)
    assert all(got is sent for got, sent in zip(received, chunks, strict=True))
    assert_one_span_ended(sink)


def test_a_huge_choice_index_does_not_size_finish_reasons() -> None:
    """A foreign server's choice index (or request ``n``) must not allocate one finish reason per index."""
    delta = SimpleNamespace(content="x", tool_calls=None)
    accumulator = chat.ChatAccumulator(True, None)
    accumulator.add(
        SimpleNamespace(
            id="c",
            model="m",
            usage=None,
            choices=[SimpleNamespace(index=10**6, finish_reason="stop", delta=delta)],
        )
    )
    inv = Invocation("chat", "openai")
    accumulator.apply(inv)
    assert (inv.finish_reasons, inv.output_messages) == (
        ["error"],
        [{"role": "assistant", "parts": [], "finish_reason": "error"}],
    )
    accumulator = chat.ChatAccumulator(False, 10**12)
    accumulator.add(SimpleNamespace(id="c", model="m", usage=None, choices=[]))
    accumulator.apply(inv)
    assert len(inv.finish_reasons) == 128  # OpenAI's upper limit for n


# --- Recorder.finish with wrong-typed invocation fields -----------------------------------------

# The recorder owns span, context_token, outer and start_ns; everything else is written by providers.
PROVIDER_FIELDS = sorted(set(Invocation.__slots__) - {"span", "context_token", "outer", "start_ns"})


@SETTINGS
@given(
    values=st.dictionaries(
        st.sampled_from(PROVIDER_FIELDS), json_like | json_like.map(to_object), max_size=8
    ),
    name=RECORDER_NAMES,
)
def test_finish_with_wrong_field_types_still_ends_the_span(
    sink: Telemetry, recorders: dict[str, Recorder], values: dict[str, Any], name: str
) -> None:
    reset(sink)
    recorder = recorders[name]
    inv = Invocation("chat", "openai", "gpt-4o-mini")
    recorder.start(inv)
    for field, value in values.items():
        setattr(inv, field, value)
    recorder.finish(inv)
    assert_one_span_ended(sink)
    recorder.finish(inv)
    recorder.fail(inv, StreamBroke("late"))
    assert len(sink.spans()) == 1


# --- content helpers on what the readers produce ------------------------------------------------


@SETTINGS
@given(body=request_body, result=objects_or_dicts(odd(completion)), limit=st.integers(-1, 6))
def test_content_of_reader_messages_is_always_written(body: dict[str, Any], result: Any, limit: int) -> None:
    """Whatever the readers make of odd input, the content helpers turn it into attributes without failing."""
    inv = Invocation("chat", "openai")
    chat.read_request(inv, body, True)
    chat.read_response(inv, result, True)
    for messages in (inv.input_messages, inv.output_messages, inv.tool_definitions):
        if messages is not None:
            text_json = content.to_json(content.truncate(messages, limit))
            assert isinstance(text_json, str)
    for prefix, messages in (
        ("gen_ai.prompt", inv.input_messages),
        ("gen_ai.completion", inv.output_messages),
    ):
        attributes = content.legacy_attributes(prefix, messages or [], limit)
        assert all(key.startswith(prefix + ".") for key in attributes)
        roles = [key for key in attributes if key.endswith(".role") and key.count(".") == 3]
        assert len(roles) == len(messages or [])


@SETTINGS
@given(value=json_like, limit=st.integers(1, 8))
def test_truncate_keeps_structure_and_bounds_strings(value: Any, limit: int) -> None:
    shortened = content.truncate(value, limit)

    def check(original: Any, result: Any) -> None:
        if isinstance(original, str):
            assert (
                result == original if len(original) <= limit else result == original[:limit] + "…[truncated]"
            )
        elif isinstance(original, dict):
            assert list(result) == list(original)
            for key in original:
                check(original[key], result[key])
        elif isinstance(original, list):
            assert len(result) == len(original)
            for a, b in zip(original, result, strict=True):
                check(a, b)
        else:
            assert result is original

    check(value, shortened)
    assert content.truncate(value, 0) is value


@SETTINGS
@given(value=comparable_json)
def test_to_json_round_trips_any_json_value(value: Any) -> None:
    written = content.to_json(value)
    assert json.loads(written) == value
    assert "\n" not in written and ", " not in written.replace('", ', "")  # compact separators


def test_to_json_writes_bytes_as_base64_and_other_objects_as_text() -> None:
    assert content.to_json({"b": b"\x00\xff", "o": SimpleNamespace()}) == '{"b":"AP8=","o":"namespace()"}'
