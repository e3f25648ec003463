"""OpenAI Chat Completions end to end: the real ``openai`` client against recorded responses on loopback.

Each test replays the exact recorded request body, so expected values are read from the recording itself
(the response JSON, or the SSE stream folded chunk by chunk) and anchored by literal values per file.
"""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from functools import cache
from pathlib import Path
from typing import Any

import openai
import pydantic
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from conftest import API_KEY, Telemetry, chat_helpers, kwargs_for
from otel_genai import semconv as sc
from replay import ReplayServer

RECORDINGS = Path(__file__).parent / "recordings" / "openai"
CHAT = sorted(p.stem for p in RECORDINGS.glob("chat_*.json"))
# error recording -> (error.type, exception class, HTTP status)
ERRORS: dict[str, tuple[str, type[openai.APIStatusError], int]] = {
    "chat_error_404_model_not_found": ("model_not_found", openai.NotFoundError, 404),
    "chat_error_400_invalid_image_url": ("invalid_image_url", openai.BadRequestError, 400),
}
SUCCESS = [name for name in CHAT if name not in ERRORS]
ClientFactory = Callable[[str, bool], Any]
MODES = pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])

# Literal anchors, one row per interaction: (input, output, finish reasons, cache read, reasoning tokens).
# None = the recording reports no such count, so the span must not carry the attribute at all.
# OpenAI finish reasons -> the semconv values (the core rule, docs/telemetry.md)
SEMCONV_REASONS = {"tool_calls": "tool_call", "function_call": "tool_call"}
RECORDED: dict[str, list[tuple[int | None, int | None, tuple[str, ...], int | None, int | None]]] = {
    "chat_basic_gpt4o_mini": [(12, 5, ("stop",), 0, 0)],
    "chat_legacy_function_call_gpt4": [(82, 16, ("tool_call",), 0, 0)],
    "chat_n2_choices": [(12, 24, ("stop", "stop"), 0, 0)],
    "chat_parallel_tool_calls_gpt35": [(70, 46, ("tool_call",), 0, 0)],
    "chat_parse_json_schema_gpt4o": [(68, 37, ("stop",), 0, 0)],
    "chat_parse_refusal_gpt4o": [(65, 13, ("stop",), 0, 0)],
    "chat_prompt_caching_cached_tokens": [(1149, 315, ("stop",), 0, 0), (1149, 353, ("stop",), 1024, 0)],
    "chat_reasoning_effort_gpt5_nano": [(11, 138, ("stop",), 0, 128)],
    "chat_request_params_gpt4o_mini": [(12, 12, ("stop",), 0, 0)],
    "chat_service_tier_priority_gpt5": [(8, 11, ("stop",), 0, 0)],
    "chat_stop_sequence_string": [(12, 12, ("stop",), 0, 0)],
    "chat_stream_deepseek_usage": [(12, 89, ("stop",), 0, None)],
    "chat_stream_include_usage_gpt4": [(12, 5, ("stop",), 0, 0)],
    "chat_stream_n2_include_usage": [(26, 104, ("stop", "stop"), 0, 0)],
    "chat_stream_no_usage_gpt4": [(None, None, ("stop",), None, None)],
    "chat_stream_parallel_tool_calls_no_usage": [(None, None, ("tool_call",), None, None)],
    "chat_stream_tool_calls_include_usage": [(75, 51, ("tool_call",), 0, 0)],
    "chat_tool_call_roundtrip": [(75, 51, ("tool_call",), 0, 0), (99, 25, ("stop",), 0, 0)],
    "chat_vision_image_url_finish_length": [(438, 16, ("length",), None, None)],
}

# Request-side attributes each recorded body must produce, written out from the recorded request JSON.
REQUEST_ATTRIBUTES: dict[str, dict[str, Any]] = {
    "chat_request_params_gpt4o_mini": {
        "gen_ai.request.max_tokens": 50,
        "gen_ai.request.temperature": 0.5,
        "gen_ai.request.seed": 42,
        "gen_ai.output.type": "text",
        "openai.request.service_tier": "default",
    },
    "chat_stop_sequence_string": {"gen_ai.request.stop_sequences": ("stop",)},
    "chat_n2_choices": {"gen_ai.request.choice.count": 2},
    "chat_stream_n2_include_usage": {"gen_ai.request.choice.count": 2},
    "chat_parse_json_schema_gpt4o": {"gen_ai.output.type": "json"},
    "chat_parse_refusal_gpt4o": {"gen_ai.output.type": "json"},
    "chat_reasoning_effort_gpt5_nano": {"gen_ai.request.reasoning.level": "low"},
    "chat_service_tier_priority_gpt5": {"openai.request.service_tier": "priority"},
}

METRIC_KEYS = (
    "gen_ai.operation.name",
    "gen_ai.provider.name",
    "gen_ai.request.model",
    "gen_ai.response.model",
    "server.address",
    "server.port",
    "openai.response.service_tier",
)


# The schema of chat_parse_*: openai derives the recorded json_schema (name included) from this model, so
# it has no docstring (that would become the schema's "description").
class StructuredAnswer(pydantic.BaseModel):
    rating: int
    joke: str


# --- recordings ------------------------------------------------------------------------------------


@cache
def _load_text(name: str) -> str:
    return (RECORDINGS / f"{name}.json").read_text(encoding="utf-8")


def load(name: str) -> dict[str, Any]:
    """A fresh copy of the recording, so a test can never alter another test's expectations."""
    return json.loads(_load_text(name))


def body_of(name: str, index: int = 0) -> dict[str, Any]:
    return load(name)["interactions"][index]["request"]["json"]


def base_path(name: str) -> str:
    return "/beta" if "deepseek" in name else "/v1"


def sse_chunks(text: str) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: {")]


def recorded_response(name: str, index: int) -> dict[str, Any]:
    """The response as one object: the JSON body, or the stream folded (first chunk's envelope, the usage
    chunk, the last finish reason per choice index)."""
    response = load(name)["interactions"][index]["response"]
    if "json" in response:
        body = response["json"]
        body["choices"] = sorted(body["choices"], key=lambda c: c["index"])
        return body
    chunks = sse_chunks(response["text"])
    folded = {k: chunks[0].get(k) for k in ("id", "model", "system_fingerprint", "service_tier")}
    finish: dict[int, str] = {}
    for chunk in chunks:
        folded["usage"] = chunk.get("usage") or folded.get("usage")
        for choice in chunk["choices"]:
            if choice.get("finish_reason"):
                finish[choice["index"]] = choice["finish_reason"]
    folded["choices"] = [{"index": i, "finish_reason": finish[i]} for i in sorted(finish)]
    return folded


def expected_attributes(name: str, index: int, server: ReplayServer) -> dict[str, Any]:
    """Every attribute a successful call's span must carry (default settings), from the recording."""
    body = body_of(name, index)
    response = recorded_response(name, index)
    port = int(server.url.rsplit(":", 1)[1])
    a: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.system": "openai",
        "llm.request.type": "chat",
        "gen_ai.request.model": body["model"],
        "server.address": "127.0.0.1",
        "server.port": port,
        "gen_ai.openai.api_base": f"{server.url}{base_path(name)}/",
        "openai.api.type": "chat_completions",
        **REQUEST_ATTRIBUTES.get(name, {}),
        "gen_ai.response.id": response["id"],
        "gen_ai.response.model": response["model"],
        "gen_ai.response.finish_reasons": tuple(
            SEMCONV_REASONS.get(c["finish_reason"], c["finish_reason"]) for c in response["choices"]
        ),
    }
    if body.get("stream"):
        a["gen_ai.request.stream"] = True
        a["llm.is_streaming"] = True
    if response.get("system_fingerprint"):
        a["openai.response.system_fingerprint"] = response["system_fingerprint"]
        a["gen_ai.openai.system_fingerprint"] = response["system_fingerprint"]
    if response.get("service_tier"):
        a["openai.response.service_tier"] = response["service_tier"]
    usage = response.get("usage")
    if usage:
        a["gen_ai.usage.input_tokens"] = a["gen_ai.usage.prompt_tokens"] = usage["prompt_tokens"]
        a["gen_ai.usage.output_tokens"] = a["gen_ai.usage.completion_tokens"] = usage["completion_tokens"]
        a["llm.usage.total_tokens"] = usage["total_tokens"]
        cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
        if cached is not None:
            a["gen_ai.usage.cache_read.input_tokens"] = cached
        reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens")
        if reasoning is not None:
            a["gen_ai.usage.reasoning.output_tokens"] = reasoning
    return a


def error_attributes(name: str, server: ReplayServer, error_type: str) -> dict[str, Any]:
    """A failed call's span: what was known before the request, plus error.type."""
    port = int(server.url.rsplit(":", 1)[1])
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.system": "openai",
        "llm.request.type": "chat",
        "gen_ai.request.model": body_of(name)["model"],
        "server.address": "127.0.0.1",
        "server.port": port,
        "gen_ai.openai.api_base": f"{server.url}/v1/",
        "openai.api.type": "chat_completions",
        "error.type": error_type,
    }


# --- clients and calls -----------------------------------------------------------------------------


# Building an SSL context (CA bundle included) costs ~30 ms per client: share one (loopback is plain HTTP).
_SSL = ssl.create_default_context()


def new_client(url: str, is_async: bool) -> Any:
    """The real client with its default HTTP client type, without retries."""
    if is_async:
        http: Any = openai.DefaultAsyncHttpxClient(verify=_SSL)
        return openai.AsyncOpenAI(base_url=url, api_key=API_KEY, max_retries=0, http_client=http)
    return openai.OpenAI(
        base_url=url, api_key=API_KEY, max_retries=0, http_client=openai.DefaultHttpxClient(verify=_SSL)
    )


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


async def create(client: Any, body: dict[str, Any]) -> Any:
    """``chat.completions.create``; a stream is consumed and returned as its list of chunks."""
    if isinstance(client, openai.AsyncOpenAI):
        result = await client.chat.completions.create(**kwargs_for(body))
        return [chunk async for chunk in result] if body.get("stream") else result
    result = client.chat.completions.create(**kwargs_for(body))
    return list(result) if body.get("stream") else result


def dumped(result: Any) -> Any:
    return [c.model_dump() for c in result] if isinstance(result, list) else result.model_dump()


# --- metric checks ---------------------------------------------------------------------------------


def points(metrics: dict[str, list[Any]], name: str) -> list[Any]:
    return metrics.get(name, [])


def check_metrics(
    metrics: dict[str, list[Any]],
    span_attributes: dict[str, Any],
    *,
    streaming: bool,
    error_type: str | None = None,
    ttfc: float | None = None,
) -> None:
    """One call's metric points: exact attribute sets, counts and sums, semconv bucket boundaries."""
    attributes = {k: span_attributes[k] for k in METRIC_KEYS if k in span_attributes}
    present = {name for name, pts in metrics.items() if pts}
    expected_names = {sc.METRIC_OPERATION_DURATION}

    [duration] = metrics[sc.METRIC_OPERATION_DURATION]
    expected = {**attributes, "error.type": error_type} if error_type else attributes
    assert dict(duration.attributes) == expected
    assert duration.count == 1
    assert sum(duration.bucket_counts) == 1
    assert tuple(duration.explicit_bounds) == sc.DURATION_BUCKETS

    input_tokens = span_attributes.get("gen_ai.usage.input_tokens")
    output_tokens = span_attributes.get("gen_ai.usage.output_tokens")
    if input_tokens is not None:
        expected_names.add(sc.METRIC_TOKEN_USAGE)
        by_type = {p.attributes["gen_ai.token.type"]: p for p in metrics[sc.METRIC_TOKEN_USAGE]}
        assert len(metrics[sc.METRIC_TOKEN_USAGE]) == 2
        for token_type, tokens in (("input", input_tokens), ("output", output_tokens)):
            point = by_type[token_type]
            assert dict(point.attributes) == {**attributes, "gen_ai.token.type": token_type}
            assert (point.count, point.sum, point.min, point.max) == (1, tokens, tokens, tokens)
            assert tuple(point.explicit_bounds) == sc.TOKEN_BUCKETS

    finish_reasons = span_attributes.get("gen_ai.response.finish_reasons")
    if finish_reasons:
        expected_names.add(sc.METRIC_GENERATION_CHOICES)
        [choices] = metrics[sc.METRIC_GENERATION_CHOICES]
        assert dict(choices.attributes) == attributes
        assert choices.value == len(finish_reasons)

    if streaming:
        expected_names |= {sc.METRIC_TIME_TO_FIRST_CHUNK, sc.METRIC_TIME_PER_OUTPUT_CHUNK}
        [first] = metrics[sc.METRIC_TIME_TO_FIRST_CHUNK]
        [per_chunk] = metrics[sc.METRIC_TIME_PER_OUTPUT_CHUNK]
        for point in (first, per_chunk):
            assert dict(point.attributes) == attributes
            assert point.count == 1
            assert tuple(point.explicit_bounds) == sc.DURATION_BUCKETS
        assert first.sum == ttfc  # the span attribute and the metric are the same measurement
    assert present == expected_names


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
