"""OpenAI Chat Completions end to end: the real ``openai`` client against recorded responses on loopback.

Each test replays the exact recorded request body, so expected values are read from the recording itself
(the response JSON, or the SSE stream folded chunk by chunk) and anchored by literal values per file.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import openai
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from conftest import Telemetry, chat_helpers, kwargs_for
from openai_support import (
    CHAT,
    ERRORS,
    MODES,
    RECORDED,
    SUCCESS,
    ClientFactory,
    StructuredAnswer,
    base_path,
    body_of,
    check_metrics,
    create,
    dumped,
    error_attributes,
    expected_attributes,
    load,
    new_client,
    sse_chunks,
)
from otel_genai import semconv as sc
from replay import ReplayServer


@pytest.fixture
async def client_for() -> AsyncIterator[ClientFactory]:
    """``client_for(base_url, is_async)``: a new client, closed in the test's own loop afterwards."""
    made: list[Any] = []

    def make(url: str, is_async: bool) -> Any:
        made.append(new_client(url, is_async))
        return made[-1]

    yield make
    for client in made:
        if isinstance(client, openai.AsyncOpenAI):
            await client.close()
        else:
            client.close()


# --- every recorded call ---------------------------------------------------------------------------


def test_every_chat_recording_is_covered() -> None:
    """A new chat_* recording must get literal expectations here, not silently skip the exact checks."""
    assert set(SUCCESS) == set(RECORDED)
    assert len(CHAT) == len(RECORDED) + len(ERRORS)


@MODES
@pytest.mark.parametrize("name", SUCCESS)
async def test_recorded_call(
    name: str,
    is_async: bool,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    client_for: ClientFactory,
) -> None:
    """One CLIENT span per call with exactly the recorded request parameters, response and usage."""
    telemetry = instrument()
    server = replay(f"openai/{name}.json")
    client = client_for(server.url + base_path(name), is_async)
    interactions = load(name)["interactions"]
    for index, interaction in enumerate(interactions):
        body = interaction["request"]["json"]
        result = await create(client, body)
        assert server.requests[index].json == body  # the instrumented client sent the recorded request

        spans = telemetry.spans()
        assert len(spans) == index + 1
        span = spans[index]
        assert span.name == f"chat {body['model']}"
        assert span.kind is SpanKind.CLIENT
        assert span.status.status_code is StatusCode.UNSET
        assert span.parent is None
        assert list(span.events) == []

        attributes = dict(span.attributes or {})
        streaming = bool(body.get("stream"))
        ttfc = attributes.pop("gen_ai.response.time_to_first_chunk", None)
        assert (ttfc is not None) is streaming
        expected = expected_attributes(name, index, server)
        assert attributes == expected

        input_tokens, output_tokens, finish_reasons, cached, reasoning = RECORDED[name][index]
        assert attributes.get("gen_ai.usage.input_tokens") == input_tokens
        assert attributes.get("gen_ai.usage.output_tokens") == output_tokens
        assert attributes["gen_ai.response.finish_reasons"] == finish_reasons
        assert attributes.get("gen_ai.usage.cache_read.input_tokens") == cached
        assert attributes.get("gen_ai.usage.reasoning.output_tokens") == reasoning
        if streaming:
            assert len(result) == len(sse_chunks(interaction["response"]["text"]))
        else:
            assert result.id == attributes["gen_ai.response.id"]

        check_metrics(telemetry.metrics(), expected, streaming=streaming, ttfc=ttfc)
    server.assert_all_served()


@pytest.mark.parametrize("name", ["chat_stream_no_usage_gpt4", "chat_stream_parallel_tool_calls_no_usage"])
def test_stream_without_usage_reports_no_tokens(
    name: str,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    client_for: ClientFactory,
) -> None:
    """Unknown token counts are absent, never zero: no usage attribute and no token.usage point."""
    telemetry = instrument()
    server = replay(f"openai/{name}.json")
    chunks = list(client_for(server.url + "/v1", False).chat.completions.create(**kwargs_for(body_of(name))))
    assert all(chunk.usage is None for chunk in chunks)
    attributes = dict(telemetry.span().attributes or {})
    assert [key for key in attributes if "token" in key] == []
    metrics = telemetry.metrics()
    assert sc.METRIC_TOKEN_USAGE not in metrics
    assert [p.count for p in metrics[sc.METRIC_OPERATION_DURATION]] == [1]


def test_per_chunk_metrics_record_every_gap(
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    client_for: ClientFactory,
) -> None:
    """With per_chunk_metrics, time_per_output_chunk gets one point per chunk after the first."""
    telemetry = instrument(per_chunk_metrics=True)
    name = "chat_stream_include_usage_gpt4"
    server = replay(f"openai/{name}.json")
    chunks = list(client_for(server.url + "/v1", False).chat.completions.create(**kwargs_for(body_of(name))))
    assert len(chunks) == 8
    metrics = telemetry.metrics()
    [per_chunk] = metrics[sc.METRIC_TIME_PER_OUTPUT_CHUNK]
    assert per_chunk.count == len(chunks) - 1
    assert [p.count for p in metrics[sc.METRIC_TIME_TO_FIRST_CHUNK]] == [1]


# --- API surfaces ----------------------------------------------------------------------------------


@MODES
async def test_with_raw_response(
    is_async: bool,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    client_for: ClientFactory,
) -> None:
    """The user still gets the raw response (and its parse()); the span still has the usage."""
    telemetry = instrument()
    name = "chat_basic_gpt4o_mini"
    server = replay(f"openai/{name}.json")
    client = client_for(server.url + "/v1", is_async)
    raw = client.chat.completions.with_raw_response.create(**kwargs_for(body_of(name)))
    if is_async:
        raw = await raw
    assert raw.http_response.status_code == 200
    parsed = raw.parse()
    assert isinstance(parsed, openai.types.chat.ChatCompletion)
    recorded = load(name)["interactions"][0]["response"]["json"]
    assert parsed.model_dump() == openai.types.chat.ChatCompletion.model_validate(recorded).model_dump()

    span = telemetry.span()
    assert span.name == "chat gpt-4o-mini"
    expected = expected_attributes(name, 0, server)
    assert dict(span.attributes or {}) == expected
    assert (expected["gen_ai.usage.input_tokens"], expected["gen_ai.usage.output_tokens"]) == (12, 5)
    check_metrics(telemetry.metrics(), expected, streaming=False)


@MODES
async def test_parse_with_pydantic_model(
    is_async: bool,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    client_for: ClientFactory,
) -> None:
    """chat.completions.parse sends the recorded json_schema and still returns the parsed object."""
    telemetry = instrument()
    name = "chat_parse_json_schema_gpt4o"
    server = replay(f"openai/{name}.json")
    client = client_for(server.url + "/v1", is_async)
    kwargs = {"model": "gpt-4o", "messages": body_of(name)["messages"], "response_format": StructuredAnswer}
    result = chat_helpers(client).parse(**kwargs)
    if is_async:
        result = await result
    recorded = body_of(name)
    if "stream" not in server.requests[0].json:  # older openai releases leave out stream=False
        del recorded["stream"]
    assert server.requests[0].json == recorded  # the model yields exactly the recorded request
    parsed = result.choices[0].message.parsed
    assert isinstance(parsed, StructuredAnswer)
    assert parsed.rating == 4
    assert parsed.joke.startswith("Why was the OpenTelemetry developer always relaxed?")

    span = telemetry.span()
    attributes = dict(span.attributes or {})
    assert attributes["gen_ai.output.type"] == "json"
    assert attributes["gen_ai.response.id"] == "chatcmpl-DPTNRoiGqxBojFnuCPUJMirVqlthl"
    assert attributes["gen_ai.response.model"] == "gpt-4o-2024-08-06"
    assert (attributes["gen_ai.usage.input_tokens"], attributes["gen_ai.usage.output_tokens"]) == (68, 37)
    assert attributes == expected_attributes(name, 0, server)


def test_tool_call_round_trip(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer], client_for: ClientFactory
) -> None:
    """Two calls, two independent spans: the first ends in tool_calls, the second (with results) in stop."""
    telemetry = instrument()
    name = "chat_tool_call_roundtrip"
    server = replay(f"openai/{name}.json")
    client = client_for(server.url + "/v1", False)
    first = client.chat.completions.create(**kwargs_for(body_of(name, 0)))
    calls = first.choices[0].message.tool_calls
    assert [c.id for c in calls] == ["call_JpNb8OiAkbIbHzDggfpdDHpi", "call_vaFQc3zK6hHTRZKXRI5Eo2cJ"]
    second = client.chat.completions.create(**kwargs_for(body_of(name, 1)))
    assert second.choices[0].finish_reason == "stop"

    spans = telemetry.spans()
    assert [s.name for s in spans] == ["chat gpt-4o-mini", "chat gpt-4o-mini"]
    assert [s.attributes["gen_ai.response.finish_reasons"] for s in spans] == [("tool_call",), ("stop",)]
    assert [s.attributes["gen_ai.response.id"] for s in spans] == [first.id, second.id]
    assert [s.attributes["gen_ai.usage.input_tokens"] for s in spans] == [75, 99]
    assert [s.attributes["gen_ai.usage.output_tokens"] for s in spans] == [51, 25]
    assert spans[0].context.trace_id != spans[1].context.trace_id  # no span leaked into the next call
    server.assert_all_served()


# --- errors ----------------------------------------------------------------------------------------


@MODES
@pytest.mark.parametrize("name", list(ERRORS))
async def test_recorded_error(
    name: str,
    is_async: bool,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    client_for: ClientFactory,
) -> None:
    """An HTTP error: ERROR span, the provider's code as error.type, the user's exception untouched."""
    error_type, error_class, status = ERRORS[name]
    telemetry = instrument()
    server = replay(f"openai/{name}.json")
    with pytest.raises(openai.APIStatusError) as info:
        await create(client_for(server.url + "/v1", is_async), body_of(name))
    exc = info.value
    assert type(exc) is error_class
    assert (exc.code, exc.status_code) == (error_type, status)
    assert exc.body == load(name)["interactions"][0]["response"]["json"]["error"]

    span = telemetry.span()
    assert span.name == f"chat {body_of(name)['model']}"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.ERROR
    expected = error_attributes(name, server, error_type)
    assert dict(span.attributes or {}) == expected
    [event] = span.events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == f"openai.{error_class.__name__}"
    # no content capture: the provider's code and type, not its free text (which may quote the request)
    assert event.attributes["exception.message"] == f"{status} {error_type} {exc.type}"
    check_metrics(telemetry.metrics(), expected, streaming=False, error_type=error_type)
    server.assert_all_served()


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@MODES
async def test_connection_error(
    is_async: bool, instrument: Callable[..., Telemetry], client_for: ClientFactory
) -> None:
    """No response at all: error.type is the openai exception class, and the user gets APIConnectionError."""
    telemetry = instrument()
    port = _closed_port()
    client = client_for(f"http://127.0.0.1:{port}/v1", is_async)
    with pytest.raises(openai.APIConnectionError) as info:
        await create(client, body_of("chat_basic_gpt4o_mini"))
    assert type(info.value) is openai.APIConnectionError

    span = telemetry.span()
    assert span.name == "chat gpt-4o-mini"
    assert span.status.status_code is StatusCode.ERROR
    expected = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.system": "openai",
        "llm.request.type": "chat",
        "gen_ai.request.model": "gpt-4o-mini",
        "server.address": "127.0.0.1",
        "server.port": port,
        "gen_ai.openai.api_base": f"http://127.0.0.1:{port}/v1/",
        "openai.api.type": "chat_completions",
        "error.type": "openai.APIConnectionError",
    }
    assert dict(span.attributes or {}) == expected
    assert [e.attributes["exception.type"] for e in span.events] == ["openai.APIConnectionError"]
    check_metrics(telemetry.metrics(), expected, streaming=False, error_type="openai.APIConnectionError")


# --- transparency ----------------------------------------------------------------------------------


@MODES
@pytest.mark.parametrize("name", SUCCESS)
async def test_results_equal_without_instrumentation(
    name: str,
    is_async: bool,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    client_for: ClientFactory,
) -> None:
    """The same recorded call returns equal objects, of the same types, with and without instrumentation."""
    recording = f"openai/{name}.json"
    server = replay(recording, recording)
    client = client_for(server.url + base_path(name), is_async)
    bodies = [i["request"]["json"] for i in load(name)["interactions"]]
    plain = [await create(client, body) for body in bodies]
    telemetry = instrument()
    instrumented = [await create(client, body) for body in bodies]

    assert len(telemetry.spans()) == len(bodies)  # only the instrumented calls made spans
    assert [dumped(r) for r in instrumented] == [dumped(r) for r in plain]
    assert [type(r) for r in instrumented] == [type(r) for r in plain]
    half = len(server.requests) // 2
    assert [r.json for r in server.requests[half:]] == [r.json for r in server.requests[:half]]
    server.assert_all_served()


@MODES
async def test_stream_object_keeps_its_type(
    is_async: bool,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    client_for: ClientFactory,
) -> None:
    """The returned stream is still an openai Stream/AsyncStream with its HTTP response."""
    instrument()
    name = "chat_stream_include_usage_gpt4"
    server = replay(f"openai/{name}.json")
    client = client_for(server.url + "/v1", is_async)
    if is_async:
        stream = await client.chat.completions.create(**kwargs_for(body_of(name)))
        assert isinstance(stream, openai.AsyncStream)
        assert stream.response.status_code == 200
        assert len([chunk async for chunk in stream]) == 8
    else:
        stream = client.chat.completions.create(**kwargs_for(body_of(name)))
        assert isinstance(stream, openai.Stream)
        assert stream.response.status_code == 200
        assert len(list(stream)) == 8


@MODES
@pytest.mark.parametrize("name", list(ERRORS))
async def test_errors_equal_without_instrumentation(
    name: str,
    is_async: bool,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    client_for: ClientFactory,
) -> None:
    """The user gets the very same exception type, message, code, status and body either way."""
    recording = f"openai/{name}.json"
    server = replay(recording, recording)
    client = client_for(server.url + "/v1", is_async)
    caught = []
    for step in ("plain", "instrumented"):
        if step == "instrumented":
            instrument()
        with pytest.raises(openai.APIStatusError) as info:
            await create(client, body_of(name))
        caught.append(info.value)
    plain, instrumented = caught
    assert type(instrumented) is type(plain)
    assert str(instrumented) == str(plain)
    assert (instrumented.code, instrumented.status_code, instrumented.body) == (
        plain.code,
        plain.status_code,
        plain.body,
    )
    server.assert_all_served()
