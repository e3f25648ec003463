"""Prompt-cache token counts and provider-neutral guardrail telemetry, for every recording that has them.

Bedrock Guardrails and Azure OpenAI content filters are translated by their providers into the same
invocation fields; the core records ``gen_ai.guardrail.*`` span attributes and the executions/activations
counters from them. Expected values are literal, read off the recordings (comments say where).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import openai
import pytest

from bedrock_support import call_of, interactions, perform_sync, sync_client
from conftest import API_KEY, Telemetry
from otel_genai import semconv as sc
from replay import RECORDINGS_DIR, ReplayServer

CONFIGURED, INTERVENED = sc.GUARDRAIL_CONFIGURED, sc.GUARDRAIL_INTERVENED
ACTIVATIONS, BLOCKED = sc.GUARDRAIL_ACTIVATIONS, sc.GUARDRAIL_BLOCKED

# recording -> the neutral attributes of each call, in order
BEDROCK: dict[str, list[dict[str, Any]]] = {
    # an input assessment that found nothing: configured, not intervened
    "converse_claude37_inference_profile_arn": [{CONFIGURED: True, INTERVENED: False}],
    # outputAssessments mask an account number (sensitiveInformationPolicy): the response was filtered
    "converse_titan_guardrail_intervened": [
        {CONFIGURED: True, INTERVENED: True, ACTIVATIONS: ("sensitive_information",), BLOCKED: "output"}
    ],
    "converse_stream_titan_guardrail_intervened": [
        {CONFIGURED: True, INTERVENED: True, ACTIVATIONS: ("sensitive_information",), BLOCKED: "output"}
    ],
    "converse_stream_nova_guardrail_intervened": [
        {CONFIGURED: True, INTERVENED: True, ACTIVATIONS: ("sensitive_information",), BLOCKED: "output"}
    ],
    "invoke_titan_guardrail_intervened": [
        {CONFIGURED: True, INTERVENED: True, ACTIVATIONS: ("sensitive_information",), BLOCKED: "output"}
    ],
    "invoke_stream_titan_guardrail_intervened": [
        {CONFIGURED: True, INTERVENED: True, ACTIVATIONS: ("sensitive_information",), BLOCKED: "output"}
    ],
    # ApplyGuardrail with source INPUT: a denied topic (stock advice) and an e-mail address
    "apply_guardrail_intervened": [
        {
            CONFIGURED: True,
            INTERVENED: True,
            ACTIVATIONS: ("denied_topic", "sensitive_information"),
            BLOCKED: "input",
        }
    ],
}


def _neutral(span: Any) -> dict[str, Any]:
    return {k: v for k, v in (span.attributes or {}).items() if k.startswith("gen_ai.guardrail.")}


def _counted(
    telemetry: Telemetry, metrics: dict[str, list[Any]] | None = None
) -> tuple[int, dict[tuple[str, str], int]]:
    """(executions, {(type, stage): activations}); metrics are deltas, so pass them if read already."""
    metrics = metrics if metrics is not None else telemetry.metrics(features=True)
    executions = sum(p.value for p in metrics.get(sc.METRIC_GUARDRAIL_EXECUTIONS, []))
    activations: dict[tuple[str, str], int] = {}
    for point in metrics.get(sc.METRIC_GUARDRAIL_ACTIVATIONS, []):
        assert {sc.PROVIDER_NAME, sc.OPERATION_NAME} <= set(point.attributes)
        key = (point.attributes[sc.GUARDRAIL_TYPE], point.attributes[sc.GUARDRAIL_STAGE])
        activations[key] = activations.get(key, 0) + point.value
    return executions, activations


@pytest.mark.parametrize("name", sorted(BEDROCK))
def test_bedrock_guardrails(
    name: str, instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    telemetry = instrument()
    server = replay(f"bedrock/{name}.json")
    client = sync_client(server)
    for interaction in interactions(name):
        perform_sync(client, call_of(interaction))
    assert [_neutral(s) for s in telemetry.spans()] == BEDROCK[name]
    metrics = telemetry.metrics(features=True)
    executions, activations = _counted(telemetry, metrics)
    assert executions == len(BEDROCK[name])
    want = {
        (kind, row[BLOCKED]): 1 for row in BEDROCK[name] for kind in row.get(ACTIVATIONS, ())
    }  # one stage fired in each of these recordings
    assert activations == want
    if want:  # the OpenLLMetry-named Bedrock counter is still there for the dashboards that read it
        assert metrics[sc.METRIC_BEDROCK_GUARDRAIL_ACTIVATION]


def _azure(server: ReplayServer, name: str) -> openai.AzureOpenAI:
    from test_openai_azure import request_of

    _, deployment, _, version = request_of(name)
    return openai.AzureOpenAI(
        azure_endpoint=server.url,
        api_key=API_KEY,
        azure_deployment=deployment,
        api_version=version,
        max_retries=0,
    )


def _azure_body(name: str) -> dict[str, Any]:
    from test_openai_azure import request_of

    return request_of(name)[0]


@pytest.mark.parametrize(
    ("name", "neutral", "activations"),
    [
        # prompt_filter_results present, nothing filtered: Azure's filter ran
        ("chat_basic", {CONFIGURED: True, INTERVENED: False}, {}),
        # a stream: prompt_filter_results in its first chunk, content_filter_results in the others
        ("chat_stream_no_usage", {CONFIGURED: True, INTERVENED: False}, {}),
        # the choice's content_filter_results filter "hate"; finish reason content_filter
        (
            "chat_content_filter_finish_reason",
            {CONFIGURED: True, INTERVENED: True, ACTIVATIONS: ("content",), BLOCKED: "output"},
            {("content", "output"): 1},
        ),
        # HTTP 200 with a content_filter error body: hate, self-harm and violence filtered in the prompt
        (
            "chat_prompt_filtered_error_body",
            {CONFIGURED: True, INTERVENED: True, ACTIVATIONS: ("content",), BLOCKED: "input"},
            {("content", "input"): 1},
        ),
    ],
)
def test_azure_content_filters(
    name: str,
    neutral: dict[str, Any],
    activations: dict[tuple[str, str], int],
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
) -> None:
    telemetry = instrument()
    server = replay(f"azure-openai/{name}.json")
    body = _azure_body(name)
    result = _azure(server, name).chat.completions.create(**body)
    if body.get("stream"):
        list(result)
    assert _neutral(telemetry.span()) == neutral
    assert _counted(telemetry) == (1, activations)


def test_azure_content_filter_http_400(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    """The 400 ``content_filter`` error (as Azure sends it today) blocks the prompt: same metrics."""
    recording = json.loads(
        (RECORDINGS_DIR / "azure-openai" / "chat_prompt_filtered_error_body.json").read_text()
    )
    recording["interactions"][0]["response"]["status"] = 400
    telemetry = instrument()
    server = replay(recording)
    with pytest.raises(openai.BadRequestError):
        _azure(server, "chat_prompt_filtered_error_body").chat.completions.create(
            **_azure_body("chat_prompt_filtered_error_body")
        )
    span = telemetry.span()
    assert span.attributes[sc.ERROR_TYPE] == "content_filter"
    assert _neutral(span) == {CONFIGURED: True, INTERVENED: True, ACTIVATIONS: ("content",), BLOCKED: "input"}
    assert _counted(telemetry) == (1, {("content", "input"): 1})


def test_openai_has_no_guardrail_fields(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    telemetry = instrument()
    server = replay("openai/chat_basic_gpt4o_mini.json")
    body = json.loads((RECORDINGS_DIR / "openai" / "chat_basic_gpt4o_mini.json").read_text())["interactions"][
        0
    ]
    openai.OpenAI(base_url=f"{server.url}/v1", api_key=API_KEY, max_retries=0).chat.completions.create(
        **body["request"]["json"]
    )
    assert _neutral(telemetry.span()) == {}
    assert _counted(telemetry) == (0, {})


# --- prompt caching ------------------------------------------------------------------------------------


def _cache_points(metrics: dict[str, list[Any]]) -> dict[tuple[str, str], int]:
    result: dict[tuple[str, str], int] = {}
    for point in metrics.get(sc.METRIC_TOKEN_CACHE, []):
        assert {sc.PROVIDER_NAME, sc.REQUEST_MODEL, sc.OPERATION_NAME} <= set(point.attributes)
        key = (point.attributes[sc.REQUEST_MODEL], point.attributes[sc.TOKEN_TYPE])
        result[key] = result.get(key, 0) + point.value
    return result


def test_openai_cached_tokens_counter(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    name = "chat_prompt_caching_cached_tokens"
    recorded = json.loads((RECORDINGS_DIR / "openai" / f"{name}.json").read_text())["interactions"]
    telemetry = instrument()
    server = replay(f"openai/{name}.json")
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=API_KEY, max_retries=0)
    for interaction in recorded:
        client.chat.completions.create(**interaction["request"]["json"])
    reads = sum(i["response"]["json"]["usage"]["prompt_tokens_details"]["cached_tokens"] for i in recorded)
    inputs = sum(i["response"]["json"]["usage"]["prompt_tokens"] for i in recorded)
    model = recorded[0]["request"]["json"]["model"]
    assert reads > 0
    metrics = telemetry.metrics(features=True)
    assert _cache_points(metrics) == {(model, "cache_read"): reads}
    # the hit ratio a backend derives: cache reads over input tokens of gen_ai.client.token.usage
    usage = metrics[sc.METRIC_TOKEN_USAGE]
    assert sum(p.sum for p in usage if p.attributes[sc.TOKEN_TYPE] == "input") == inputs


@pytest.mark.parametrize(
    "name",
    [
        "invoke_claude35_haiku_prompt_cache_write_read",  # Anthropic on Bedrock: a write, then a read
        "converse_claude37_inference_profile_arn",  # Converse cacheReadInputTokens / cacheWriteInputTokens
        "invoke_nova_lite_cross_region_profile",  # InvokeModel headers / invocation metrics
    ],
)
def test_bedrock_cache_counter(
    name: str, instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    """The counter adds up the span attributes (which the Bedrock tests check against the recordings)."""
    telemetry = instrument()
    server = replay(f"bedrock/{name}.json")
    client = sync_client(server)
    for interaction in interactions(name):
        perform_sync(client, call_of(interaction))
    spans = telemetry.spans()
    reads = sum(s.attributes.get(sc.USAGE_CACHE_READ_INPUT_TOKENS, 0) for s in spans)
    writes = sum(s.attributes.get(sc.USAGE_CACHE_CREATION_INPUT_TOKENS, 0) for s in spans)
    assert any(sc.USAGE_CACHE_READ_INPUT_TOKENS in s.attributes for s in spans)
    counted = _cache_points(telemetry.metrics(features=True))
    assert sum(v for (_, kind), v in counted.items() if kind == "cache_read") == reads
    assert sum(v for (_, kind), v in counted.items() if kind == "cache_write") == writes
    if name.startswith("invoke_claude35"):
        assert reads > 0 and writes > 0


def test_azure_stream_filtered_output(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    """The recorded stream with its last chunk turned into what Azure sends when it filters the output:
    a ``violence`` verdict ``filtered: true`` and the ``content_filter`` finish reason."""
    name = "chat_stream_no_usage"
    recording = json.loads((RECORDINGS_DIR / "azure-openai" / f"{name}.json").read_text())
    response = recording["interactions"][0]["response"]
    last = response["text"].rindex('"violence":{"filtered":false')
    text = response["text"][:last] + response["text"][last:].replace(
        '"violence":{"filtered":false,"severity":"safe"}', '"violence":{"filtered":true,"severity":"high"}', 1
    )
    response["text"] = text.replace('"finish_reason":"stop"', '"finish_reason":"content_filter"')
    telemetry = instrument()
    server = replay(recording)
    list(_azure(server, name).chat.completions.create(**_azure_body(name)))
    span = telemetry.span()
    assert span.attributes[sc.RESPONSE_FINISH_REASONS] == ("content_filter",)
    assert _neutral(span) == {
        CONFIGURED: True,
        INTERVENED: True,
        ACTIVATIONS: ("content",),
        BLOCKED: "output",
    }
    assert _counted(telemetry) == (1, {("content", "output"): 1})
