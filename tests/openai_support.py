"""The one support module of the OpenAI tests (test_openai_chat, _apis, _compat, _errors, _responses, _azure,
test_content_capture): the recordings and their literal expectations, real clients pointed at the replay
server, expected-attribute builders and an exact metric check.
"""

from __future__ import annotations

import inspect
import json
import ssl
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import openai
import pydantic
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from conftest import API_KEY, Telemetry, kwargs_for
from otel_genai import semconv as sc
from otel_genai.core.content import to_json
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


OPENAI_VERSION = tuple(int(part) for part in openai.__version__.split(".")[:2])
# OpenLLMetry's llm.request.type values (LLMRequestTypeValues); anything else is "unknown".
LEGACY_REQUEST_TYPES = {"chat": "chat", "text_completion": "completion", "embeddings": "embedding"}


def port_of(server: ReplayServer) -> int:
    return int(server.url.rsplit(":", 1)[1])


async def resolved(value: Any) -> Any:
    """The result of a sync or async client call."""
    return await value if inspect.isawaitable(value) else value


async def consumed(stream: Any) -> list[Any]:
    if hasattr(stream, "__aiter__"):
        return [item async for item in stream]
    return list(stream)


class Clients:
    """Real openai clients (sync or async, OpenAI or Azure) without retries, closed after the test.

    TLS verification is off because the replay server speaks plain HTTP (spares loading the CA bundle).
    """

    def __init__(self) -> None:
        self.made: list[Any] = []

    def openai(self, url: str, is_async: bool, **options: Any) -> Any:
        options.setdefault("max_retries", 0)
        if is_async:
            client: Any = openai.AsyncOpenAI(
                base_url=url,
                api_key=API_KEY,
                http_client=openai.DefaultAsyncHttpxClient(verify=False),
                **options,
            )
        else:
            client = openai.OpenAI(
                base_url=url, api_key=API_KEY, http_client=openai.DefaultHttpxClient(verify=False), **options
            )
        self.made.append(client)
        return client

    def azure(self, url: str, is_async: bool, **options: Any) -> Any:
        """``azure_endpoint=url``; pass ``azure_deployment`` and ``api_version`` from the recorded path."""
        options.setdefault("max_retries", 0)
        if is_async:
            client: Any = openai.AsyncAzureOpenAI(
                azure_endpoint=url,
                api_key=API_KEY,
                http_client=openai.DefaultAsyncHttpxClient(verify=False),
                **options,
            )
        else:
            client = openai.AzureOpenAI(
                azure_endpoint=url,
                api_key=API_KEY,
                http_client=openai.DefaultHttpxClient(verify=False),
                **options,
            )
        self.made.append(client)
        return client

    async def __aenter__(self) -> Clients:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        for client in self.made:
            await resolved(client.close())


def single_interaction(method: str, path: str, status: int, body: Any, **request_json: Any) -> dict[str, Any]:
    """A minimal recording for an endpoint with none on file (the replay server matches method and path)."""
    return {
        "interactions": [
            {
                "request": {"method": method, "path": path, "json": request_json or None},
                "response": {"status": status, "headers": {"content-type": "application/json"}, "json": body},
            }
        ]
    }


def base_attributes(
    server: ReplayServer,
    operation: str,
    model: str | None,
    *,
    path: str = "/v1",
    provider: str = "openai",
    legacy_system: str = "openai",
) -> dict[str, Any]:
    """What every span of a call to ``server`` carries before the response is known."""
    a: dict[str, Any] = {
        "gen_ai.operation.name": operation,
        "gen_ai.provider.name": provider,
        "gen_ai.system": legacy_system,
        "llm.request.type": LEGACY_REQUEST_TYPES.get(operation, "unknown"),
        "server.address": "127.0.0.1",
        "server.port": port_of(server),
        "gen_ai.openai.api_base": f"{server.url}{path}/",
    }
    if model is not None:
        a["gen_ai.request.model"] = model
    return a


def usage_attributes(input_tokens: int, output_tokens: int | None) -> dict[str, Any]:
    """Semconv and legacy token attributes (the legacy total only when both counts are known)."""
    a: dict[str, Any] = {
        "gen_ai.usage.input_tokens": input_tokens,
        "gen_ai.usage.prompt_tokens": input_tokens,
    }
    if output_tokens is not None:
        a["gen_ai.usage.output_tokens"] = a["gen_ai.usage.completion_tokens"] = output_tokens
        a["llm.usage.total_tokens"] = input_tokens + output_tokens
    return a


def span_of(telemetry: Telemetry, name: str, *, error: bool = False) -> dict[str, Any]:
    """The test's one span: a CLIENT span named ``name``; returns its attributes, without the neutral
    gen_ai.guardrail.* fields of Azure's content filters (test_guardrails.py checks those)."""
    span = telemetry.span()
    assert span.name == name
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is (StatusCode.ERROR if error else StatusCode.UNSET)
    return {k: v for k, v in (span.attributes or {}).items() if not k.startswith("gen_ai.guardrail.")}


def assert_metrics(
    metrics: dict[str, list[Any]],
    span_attributes: dict[str, Any],
    *,
    tokens: dict[str, int] | None = None,
    choices: int | None = None,
    vector_size: int | None = None,
    streaming: bool = False,
    error_type: str | None = None,
) -> None:
    """Exactly the expected instruments got points, each with the span's low-cardinality attributes."""
    attributes = {k: span_attributes[k] for k in METRIC_KEYS if k in span_attributes}
    expected_names = {sc.METRIC_OPERATION_DURATION}
    [duration] = metrics[sc.METRIC_OPERATION_DURATION]
    assert dict(duration.attributes) == (
        {**attributes, "error.type": error_type} if error_type else attributes
    )
    assert duration.count == 1
    assert tuple(duration.explicit_bounds) == sc.DURATION_BUCKETS
    if tokens:
        expected_names.add(sc.METRIC_TOKEN_USAGE)
        got = {p.attributes["gen_ai.token.type"]: p for p in metrics[sc.METRIC_TOKEN_USAGE]}
        assert len(metrics[sc.METRIC_TOKEN_USAGE]) == len(got) == len(tokens)
        for token_type, count in tokens.items():
            point = got[token_type]
            assert dict(point.attributes) == {**attributes, "gen_ai.token.type": token_type}
            assert (point.count, point.sum) == (1, count)
    if choices is not None:
        expected_names.add(sc.METRIC_GENERATION_CHOICES)
        [point] = metrics[sc.METRIC_GENERATION_CHOICES]
        assert (dict(point.attributes), point.value) == (attributes, choices)
    if vector_size is not None:
        expected_names.add(sc.METRIC_EMBEDDINGS_VECTOR_SIZE)
        [point] = metrics[sc.METRIC_EMBEDDINGS_VECTOR_SIZE]
        assert (dict(point.attributes), point.value) == (attributes, vector_size)
    if streaming:
        expected_names |= {sc.METRIC_TIME_TO_FIRST_CHUNK, sc.METRIC_TIME_PER_OUTPUT_CHUNK}
        for name in (sc.METRIC_TIME_TO_FIRST_CHUNK, sc.METRIC_TIME_PER_OUTPUT_CHUNK):
            [point] = metrics[name]
            assert (dict(point.attributes), point.count) == (attributes, 1)
    assert {name for name, pts in metrics.items() if pts} == expected_names


def content_json(value: Any) -> str:
    """Content attributes are compact JSON, as the recorder writes them."""
    return to_json(value)


# --- the two chat recordings the helper and opt-in tests replay ---------------------------------

STREAM = "chat_stream_include_usage_gpt4"  # 8 chunks, the last one usage-only
BASIC = "chat_basic_gpt4o_mini"


def chat_expected(server: ReplayServer, name: str) -> dict[str, Any]:
    """Span attributes of the two recordings the helpers replay, written out."""
    if name == BASIC:
        return {
            **base_attributes(server, "chat", "gpt-4o-mini"),
            "openai.api.type": "chat_completions",
            "gen_ai.response.id": "chatcmpl-ASYMQRl3A3DXL9FWCK9tnGRcKIO7q",
            "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
            "gen_ai.response.finish_reasons": ("stop",),
            "openai.response.system_fingerprint": "fp_0ba0d124f1",
            "gen_ai.openai.system_fingerprint": "fp_0ba0d124f1",
            **usage_attributes(12, 5),
            "gen_ai.usage.cache_read.input_tokens": 0,
            "gen_ai.usage.reasoning.output_tokens": 0,
        }
    return {
        **base_attributes(server, "chat", "gpt-4"),
        "openai.api.type": "chat_completions",
        "gen_ai.request.stream": True,
        "llm.is_streaming": True,
        "gen_ai.response.id": "chatcmpl-ASYMZ4oSykiIFK4lXLReDiKyAjsQl",
        "gen_ai.response.model": "gpt-4-0613",
        "gen_ai.response.finish_reasons": ("stop",),
        **usage_attributes(12, 5),
        "gen_ai.usage.cache_read.input_tokens": 0,
        "gen_ai.usage.reasoning.output_tokens": 0,
    }


def assert_chat_span(telemetry: Telemetry, server: ReplayServer, name: str) -> dict[str, list[Any]]:
    """The one span and the metrics of a call replaying ``name``; returns the metrics it checked."""
    attributes = span_of(telemetry, f"chat {body_of(name)['model']}")
    streaming = name == STREAM
    ttfc = attributes.pop("gen_ai.response.time_to_first_chunk", None)
    assert (ttfc is not None) is streaming
    assert attributes == chat_expected(server, name)
    metrics = telemetry.metrics()
    assert_metrics(metrics, attributes, tokens={"input": 12, "output": 5}, choices=1, streaming=streaming)
    return metrics
