"""Helpers shared by the OpenAI API tests (test_openai_apis, _compat, _errors, _responses, _azure).

Real clients pointed at the replay server, expected-attribute builders and an exact metric check.
"""

from __future__ import annotations

import inspect
from typing import Any

import openai
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from conftest import API_KEY, Telemetry
from otel_genai import semconv as sc
from otel_genai.core.content import to_json
from replay import ReplayServer
from test_openai_chat import METRIC_KEYS, body_of

OPENAI_VERSION = tuple(int(part) for part in openai.__version__.split(".")[:2])
MODES = pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
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
