"""Bedrock InvokeModel and InvokeModelWithResponseStream end to end, for every recorded model family, through
real boto3 (and aiobotocore) clients on loopback.

Token counts are Bedrock's own (billed) counts: the ``x-amzn-bedrock-*-token-count`` response headers, or
``amazon-bedrock-invocationMetrics`` on a stream's last chunk; input tokens include cache reads and writes.
Rows are literal; ``test_rows_match_the_recordings`` re-derives the counts from the recorded headers and
stream chunks so a row cannot drift from its file.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import botocore.eventstream
import botocore.response
import pytest
from botocore.exceptions import ClientError, EventStreamError

from bedrock_support import (
    ALL,
    HAS_AIOBOTOCORE,
    MODES,
    async_client,
    base_attributes,
    call_of,
    check_metrics,
    check_span,
    exception_frame,
    interactions,
    load,
    needs_aiobotocore,
    perform_async,
    perform_sync,
    recorded_body,
    recorded_events,
    replay_all,
    span_attributes,
    sync_client,
    usage_attributes,
    with_stream_tail,
)
from conftest import Telemetry
from otel_genai.instrumentation.bedrock.models import readable_name
from replay import ReplayServer

INVOKE = [n for n in ALL if n.startswith("invoke_")]
ERRORS = ["invoke_error_400_invalid_model", "invoke_stream_error_400_invalid_model"]
SUCCESS = [n for n in INVOKE if n not in ERRORS]


@dataclass(frozen=True)
class Row:
    """One interaction: usage, finish reason(s), Bedrock's latency (ms) and first-byte latency, ids."""

    input: int
    output: int
    finish: tuple[str, ...]
    latency_ms: int | None
    first_byte_ms: int | None = None  # streams with amazon-bedrock-invocationMetrics
    cache: tuple[int, int] | None = None  # (read, write)
    response_id: str | None = None
    response_model: str | None = None  # None: the body names none, so the requested model
    extra: dict[str, Any] = field(default_factory=dict)  # guardrail attributes
    activations: dict[str, int] = field(default_factory=dict)


# recording -> (operation, readable model, request attributes from the recorded body)
TITAN_LITE = {
    "gen_ai.request.max_tokens": 10,
    "gen_ai.request.temperature": 0.8,
    "gen_ai.request.top_p": 1.0,
    "gen_ai.request.stop_sequences": ("|",),
}
GUARDRAIL = {"aws.bedrock.guardrail.id": "5zwrmdlsra2e", "aws.bedrock.guardrail.version": "DRAFT"}
REQUESTS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "invoke_ai21_j2_mid": (
        "text_completion",
        "ai21.j2-mid-v1",
        {"gen_ai.request.max_tokens": 200, "gen_ai.request.temperature": 0.5, "gen_ai.request.top_p": 0.5},
    ),
    "invoke_claude35_haiku_prompt_cache_write_read": (
        "chat",
        "anthropic.claude-3-5-haiku-20241022-v1:0",
        {
            "gen_ai.request.max_tokens": 50,
            "gen_ai.request.temperature": 0.1,
            "gen_ai.request.top_p": 0.1,
            "gen_ai.request.top_k": 250,
            "gen_ai.request.stop_sequences": ("stop",),
        },
    ),
    "invoke_claude35_sonnet_tool_call_roundtrip": (
        "chat",
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
        {"gen_ai.request.max_tokens": 1000},
    ),
    "invoke_claude3_sonnet_messages_complex_content": (
        "chat",
        "anthropic.claude-3-sonnet-20240229-v1:0",
        {"gen_ai.request.max_tokens": 200, "gen_ai.request.temperature": 0.5},
    ),
    "invoke_claude_v2_1_legacy_text_completion": (
        "text_completion",
        "anthropic.claude-v2:1",
        {"gen_ai.request.max_tokens": 200, "gen_ai.request.temperature": 0.5},
    ),
    "invoke_claude_v2_messages": ("chat", "anthropic.claude-v2", TITAN_LITE),
    "invoke_cohere_command_light_legacy": ("text_completion", "cohere.command-light-text-v14", TITAN_LITE),
    "invoke_cohere_command_r": (
        "chat",
        "cohere.command-r-v1:0",
        {**TITAN_LITE, "gen_ai.request.top_p": 0.99},
    ),
    "invoke_imported_model_sagemaker_arn": (
        "text_completion",
        "endpoint-quick-start-idr7y",
        {"gen_ai.request.max_tokens": 100, "gen_ai.request.temperature": 0.5, "gen_ai.request.top_p": 2.0},
    ),
    "invoke_meta_llama2_chat": (
        "text_completion",
        "meta.llama2-13b-chat-v1",
        {"gen_ai.request.max_tokens": 128, "gen_ai.request.temperature": 0.1, "gen_ai.request.top_p": 0.9},
    ),
    "invoke_meta_llama3_1": (
        "text_completion",
        "meta.llama3-1-70b-instruct-v1:0",
        {"gen_ai.request.max_tokens": 10, "gen_ai.request.temperature": 0.8, "gen_ai.request.top_p": 1.0},
    ),
    "invoke_mistral_7b": ("text_completion", "mistral.mistral-7b-instruct-v0:2", TITAN_LITE),
    "invoke_nova_lite_cross_region_profile": (
        "chat",
        "amazon.nova-lite-v1:0",
        {
            "gen_ai.request.max_tokens": 500,
            "gen_ai.request.temperature": 0.7,
            "gen_ai.request.top_p": 0.9,
            "gen_ai.request.top_k": 20,
        },
    ),
    "invoke_nova_micro": ("chat", "amazon.nova-micro-v1:0", TITAN_LITE),
    "invoke_nova_tool_call_roundtrip": (
        "chat",
        "amazon.nova-micro-v1:0",
        {"gen_ai.request.max_tokens": 1000},
    ),
    "invoke_titan_guardrail_intervened": (
        "text_completion",
        "amazon.titan-text-express-v1",
        {"gen_ai.request.max_tokens": 512, "gen_ai.request.temperature": 0.5, **GUARDRAIL},
    ),
    "invoke_titan_text_lite": ("text_completion", "amazon.titan-text-lite-v1", TITAN_LITE),
    "invoke_stream_claude35_sonnet_tool_call_roundtrip": (
        "chat",
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
        {"gen_ai.request.max_tokens": 1000},
    ),
    "invoke_stream_claude3_sonnet_messages": (
        "chat",
        "anthropic.claude-3-sonnet-20240229-v1:0",
        {"gen_ai.request.max_tokens": 200, "gen_ai.request.temperature": 0.5},
    ),
    "invoke_stream_claude_v2_messages": ("chat", "anthropic.claude-v2", TITAN_LITE),
    "invoke_stream_nova_micro": ("chat", "amazon.nova-micro-v1:0", TITAN_LITE),
    "invoke_stream_nova_tool_call_roundtrip": (
        "chat",
        "amazon.nova-micro-v1:0",
        {"gen_ai.request.max_tokens": 1000},
    ),
    "invoke_stream_titan_guardrail_intervened": (
        "text_completion",
        "amazon.titan-text-express-v1",
        {"gen_ai.request.max_tokens": 8000, "gen_ai.request.temperature": 0.5, **GUARDRAIL},
    ),
    "invoke_stream_titan_text_lite": ("text_completion", "amazon.titan-text-lite-v1", TITAN_LITE),
}
REGEX_MASKED = {
    "aws.bedrock.guardrail.intervened": True,
    "aws.bedrock.guardrail.policies": ("sensitive_information",),
    "aws.bedrock.guardrail.sensitive_information": ("Account Number",),
}
SONNET_35 = "claude-3-5-sonnet-20240620"
ROWS: dict[str, list[Row]] = {
    "invoke_ai21_j2_mid": [Row(26, 42, ("stop",), 696)],
    "invoke_claude35_haiku_prompt_cache_write_read": [
        # cache write then cache read: input tokens are 4 uncached + 18131 written or read
        Row(
            18135,
            50,
            ("length",),
            7275,
            None,
            (0, 18131),
            "msg_bdrk_01FmwvNC1ksCq1T8tjvgUdDB",
            "claude-3-5-haiku-20241022",
        ),
        Row(
            18135,
            50,
            ("length",),
            1859,
            None,
            (18131, 0),
            "msg_bdrk_01FGEZnKNgjbRv5m4joDoq3D",
            "claude-3-5-haiku-20241022",
        ),
    ],
    "invoke_claude35_sonnet_tool_call_roundtrip": [
        Row(392, 135, ("tool_call",), 3712, None, None, "msg_bdrk_01Vcemt76oWJo739rm2hmaxn", SONNET_35),
        Row(604, 146, ("stop",), 4047, None, None, "msg_bdrk_0177fGp1jEHWhhQXD31c6BEm", SONNET_35),
    ],
    "invoke_claude3_sonnet_messages_complex_content": [
        Row(
            16,
            29,
            ("stop",),
            844,
            None,
            None,
            "msg_bdrk_01Q6Z4xmUkMigo9K4qd1fshW",
            "claude-3-sonnet-20240229",
        )
    ],
    "invoke_claude_v2_1_legacy_text_completion": [Row(18, 87, ("stop",), 3304)],
    "invoke_claude_v2_messages": [
        Row(14, 10, ("length",), 1131, None, None, "msg_bdrk_01NCxHHwwdtMc7wioSxo2wBC", "claude-2.0")
    ],
    "invoke_cohere_command_light_legacy": [Row(5, 10, ("length",), 248)],
    "invoke_cohere_command_r": [
        Row(5, 10, ("length",), 196, None, None, "379ed018/aa2df2bf-edc8-483f-8cd0-d22d04ba34ba")
    ],
    "invoke_imported_model_sagemaker_arn": [Row(6, 100, ("length",), 7123, response_model="/opt/ml/model")],
    "invoke_meta_llama2_chat": [Row(158, 128, ("length",), 2631)],
    "invoke_meta_llama3_1": [Row(5, 10, ("length",), 604)],
    "invoke_mistral_7b": [Row(6, 10, ("length",), 174)],
    "invoke_nova_lite_cross_region_profile": [Row(7, 53, ("stop",), 596, cache=(0, 0))],
    "invoke_nova_micro": [Row(5, 10, ("length",), 186)],
    "invoke_nova_tool_call_roundtrip": [
        Row(427, 162, ("tool_call",), 433, cache=(0, 0)),
        Row(566, 60, ("stop",), 402, cache=(0, 0)),
    ],
    "invoke_titan_guardrail_intervened": [
        Row(28, 197, ("content_filter",), 10738, extra=REGEX_MASKED, activations={"sensitive_information": 1})
    ],
    "invoke_titan_text_lite": [Row(5, 10, ("length",), 647)],
    "invoke_stream_claude35_sonnet_tool_call_roundtrip": [
        # Anthropic's message_delta says 134 output tokens; Bedrock bills (and we report) 90
        Row(392, 90, ("tool_call",), 3722, 779, None, "msg_bdrk_01NGhpayLE52LwTzcggKudcq", SONNET_35),
        Row(603, 146, ("stop",), 5023, 558, None, "msg_bdrk_014iAAMKoJRdnetrFEau569K", SONNET_35),
    ],
    "invoke_stream_claude3_sonnet_messages": [
        Row(
            16, 21, ("stop",), 738, 378, None, "msg_bdrk_014eJfxWXNnxFKhmuiT8FYf7", "claude-3-sonnet-20240229"
        )
    ],
    "invoke_stream_claude_v2_messages": [
        Row(14, 10, ("length",), 1321, 439, None, "msg_bdrk_01Wh9w6Tv2opkib67YP3L9B6", "claude-2.0")
    ],
    "invoke_stream_nova_micro": [Row(5, 10, ("length",), 181, 59)],
    "invoke_stream_nova_tool_call_roundtrip": [
        Row(427, 156, ("tool_call",), 433, 61, cache=(0, 0)),
        Row(568, 56, ("stop",), 445, 62, cache=(0, 0)),
    ],
    "invoke_stream_titan_guardrail_intervened": [
        Row(
            28,
            188,
            ("content_filter",),
            9289,
            9288,
            extra=REGEX_MASKED,
            activations={"sensitive_information": 1},
        )
    ],
    "invoke_stream_titan_text_lite": [Row(5, 10, ("length",), 631, 631)],
}


def expected(name: str, index: int, server: ReplayServer) -> dict[str, Any]:
    interaction = interactions(name)[index]
    call = call_of(interaction)
    operation, model, request = REQUESTS[name]
    row = ROWS[name][index]
    streaming = call.method == "invoke_model_with_response_stream"
    attributes = base_attributes(server, operation, model, call.model_id, streaming)
    attributes.update(request)
    attributes.update(usage_attributes(row.input, row.output, *(row.cache or (None, None))))
    attributes.update(row.extra)
    attributes["gen_ai.response.finish_reasons"] = row.finish
    attributes["gen_ai.response.model"] = row.response_model or model
    if row.response_id:
        attributes["gen_ai.response.id"] = row.response_id
    if row.latency_ms is not None:
        attributes["aws.bedrock.invocation.latency"] = row.latency_ms / 1000
    attributes["aws.request_id"] = interaction["response"]["headers"]["x-amzn-requestid"]
    return attributes


# --- the table is the recordings -----------------------------------------------------------------


def test_every_invoke_recording_is_covered() -> None:
    assert set(SUCCESS) == set(ROWS) == set(REQUESTS)
    assert all(len(ROWS[name]) == len(interactions(name)) for name in SUCCESS)


@pytest.mark.parametrize("name", SUCCESS)
def test_rows_match_the_recordings(name: str) -> None:
    """Counts and latencies in each row are the recording's own headers or invocationMetrics."""
    for index, row in enumerate(ROWS[name]):
        response = interactions(name)[index]["response"]
        if "json" in response:
            headers = response["headers"]

            def count(kind: str, headers: dict[str, str] = headers) -> int:
                return int(headers.get(f"x-amzn-bedrock-{kind}-token-count", 0))

            cached = count("cache-read-input") + count("cache-write-input")
            assert (row.input, row.output) == (count("input") + cached, count("output"))
            assert row.latency_ms == int(headers["x-amzn-bedrock-invocation-latency"])
            continue
        metrics = recorded_events(name, index)[-1][1]["amazon-bedrock-invocationMetrics"]
        assert (row.input, row.output) == (metrics["inputTokenCount"], metrics["outputTokenCount"])
        assert (row.latency_ms, row.first_byte_ms) == (
            metrics["invocationLatency"],
            metrics["firstByteLatency"],
        )


# --- every recorded call ------------------------------------------------------------------------------


@MODES
@pytest.mark.parametrize("name", SUCCESS)
async def test_recorded_call(
    name: str, is_async: bool, instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    """One CLIENT span per call: family parameters, Bedrock's token counts, finish reasons, guardrail."""
    if is_async and not HAS_AIOBOTOCORE:
        pytest.skip("aiobotocore not installed")
    telemetry = instrument()
    server = replay(f"bedrock/{name}.json")
    calls = [call_of(i) for i in interactions(name)]
    client_cm = async_client(server) if is_async else None
    client = await client_cm.__aenter__() if client_cm else sync_client(server)
    try:
        for index, call in enumerate(calls):
            result = await perform_async(client, call) if is_async else perform_sync(client, call)
            streaming = call.method == "invoke_model_with_response_stream"
            if streaming:
                assert len(result.events) == len(recorded_events(name, index))
            else:
                assert result.body == recorded_body(name, index)  # the user's read() is untouched
            span = telemetry.span()
            operation, model, _ = REQUESTS[name]
            check_span(span, f"{operation} {model}")
            want = expected(name, index, server)
            assert span_attributes(span, streaming=streaming) == want
            row = ROWS[name][index]
            first_byte = row.first_byte_ms / 1000 if row.first_byte_ms is not None else None
            check_metrics(
                telemetry,
                want,
                streaming=streaming,
                chunks=len(result.events),
                server_ttft=first_byte,
                guardrail=row.activations,
            )
            telemetry.span_exporter.clear()
    finally:
        if client_cm:
            await client_cm.__aexit__(None, None, None)
    server.assert_all_served()


@MODES
@pytest.mark.parametrize("name", ERRORS)
async def test_recorded_error(
    name: str, is_async: bool, instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    if is_async and not HAS_AIOBOTOCORE:
        pytest.skip("aiobotocore not installed")
    telemetry = instrument()
    server = replay(f"bedrock/{name}.json")
    with pytest.raises(ClientError) as raised:
        await replay_all(server, name, is_async)
    assert type(raised.value).__name__ == "ValidationException"
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    span = telemetry.span()
    check_span(span, "chat does-not-exist", error=True)
    streaming = name.startswith("invoke_stream")
    want = base_attributes(server, "chat", "does-not-exist", "does-not-exist", streaming)
    want["error.type"] = "ValidationException"
    want["aws.request_id"] = interactions(name)[0]["response"]["headers"]["x-amzn-requestid"]
    assert span_attributes(span, streaming=False) == want
    check_metrics(telemetry, want, streaming=False, error_type="ValidationException")


# --- the user's body ----------------------------------------------------------------------------------


@MODES
@pytest.mark.parametrize("name", [n for n in SUCCESS if not n.startswith("invoke_stream")])
async def test_results_equal_without_instrumentation(
    name: str, is_async: bool, instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    """Same body bytes, same body class, same response dict, with and without instrumentation."""
    if is_async and not HAS_AIOBOTOCORE:
        pytest.skip("aiobotocore not installed")
    recording = f"bedrock/{name}.json"
    server = replay(recording, recording)
    outcomes = []
    for step in ("plain", "instrumented"):
        if step == "instrumented":
            instrument()
        results = await replay_all(server, name, is_async)
        outcomes.append([(r.body, type(r.response["body"]), comparable(r.response)) for r in results])
    plain, instrumented = outcomes
    assert instrumented == plain
    assert [body for body, _, _ in instrumented] == [recorded_body(name, i) for i in range(len(instrumented))]
    server.assert_all_served()


def comparable(response: dict[str, Any]) -> dict[str, Any]:
    result = {k: v for k, v in response.items() if k not in ("body",)}
    metadata = dict(result["ResponseMetadata"])
    metadata["HTTPHeaders"] = {k: v for k, v in metadata["HTTPHeaders"].items() if k != "date"}
    result["ResponseMetadata"] = metadata
    return result


def test_body_reads_like_the_original(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    """The body is a botocore StreamingBody over exactly the recorded bytes: partial reads, lines, chunks."""
    name = "invoke_claude3_sonnet_messages_complex_content"
    recording = f"bedrock/{name}.json"
    server = replay(recording, recording, recording)
    instrument()
    client = sync_client(server)
    call = call_of(interactions(name)[0])
    data = recorded_body(name)

    body = client.invoke_model(**call.kwargs)["body"]
    assert type(body) is botocore.response.StreamingBody
    assert body.read(10) + body.read() == data
    assert body.read() == b""
    assert b"".join(client.invoke_model(**call.kwargs)["body"].iter_chunks(7)) == data
    assert list(client.invoke_model(**call.kwargs)["body"].iter_lines()) == data.splitlines()


@needs_aiobotocore
async def test_async_body_reads_like_the_original(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    """aiobotocore's body keeps its class and async API: read(n), iter_chunks, async with."""
    from aiobotocore.response import AioStreamingBody

    name = "invoke_claude3_sonnet_messages_complex_content"
    recording = f"bedrock/{name}.json"
    server = replay(recording, recording)
    instrument()
    call = call_of(interactions(name)[0])
    data = recorded_body(name)
    async with async_client(server) as client:
        body = (await client.invoke_model(**call.kwargs))["body"]
        assert type(body) is AioStreamingBody
        async with body:
            assert await body.read(10) + await body.read() == data
        body = (await client.invoke_model(**call.kwargs))["body"]
        assert b"".join([chunk async for chunk in body.iter_chunks(7)]) == data


# --- content ------------------------------------------------------------------------------------------


def captured(telemetry: Telemetry, name: str, server: ReplayServer) -> list[dict[str, Any]]:
    client = sync_client(server)
    for interaction in interactions(name):
        perform_sync(client, call_of(interaction))
    keys = (
        "gen_ai.system_instructions",
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.tool.definitions",
    )
    return [{k: json.loads(s.attributes[k]) for k in keys if k in s.attributes} for s in telemetry.spans()]


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "content": value}


def test_claude_tool_use_and_results(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    name = "invoke_claude35_sonnet_tool_call_roundtrip"
    telemetry = instrument(capture_message_content="SPAN_ONLY")
    first, second = captured(telemetry, name, replay(f"bedrock/{name}.json"))
    body = interactions(name)[0]["response"]["json"]
    calls = [
        {"type": "tool_call", "id": b["id"], "name": "get_current_weather", "arguments": b["input"]}
        for b in body["content"][1:]
    ]
    assert first["gen_ai.output.messages"] == [
        {
            "role": "assistant",
            "parts": [text(body["content"][0]["text"]), *calls],
            "finish_reason": "tool_call",
        }
    ]
    assert first["gen_ai.tool.definitions"] == [{"type": "function", "name": "get_current_weather"}]
    assert second["gen_ai.input.messages"][2] == {
        "role": "user",
        "parts": [
            {"type": "tool_call_response", "id": calls[0]["id"], "response": "50 degrees and raining"},
            {"type": "tool_call_response", "id": calls[1]["id"], "response": "70 degrees and sunny"},
        ],
    }


def test_claude_system_prompt(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    name = "invoke_claude35_haiku_prompt_cache_write_read"
    telemetry = instrument(capture_message_content="SPAN_ONLY")
    first, _ = captured(telemetry, name, replay(f"bedrock/{name}.json"))
    assert first["gen_ai.system_instructions"] == [text("very very long system prompt")]
    assert first["gen_ai.input.messages"] == [{"role": "user", "parts": [text("How do I write js?")]}]


@MODES
async def test_streamed_claude_tool_calls(
    is_async: bool, instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    """input_json_delta fragments become tool-call arguments; text deltas one text part."""
    if is_async and not HAS_AIOBOTOCORE:
        pytest.skip("aiobotocore not installed")
    name = "invoke_stream_claude35_sonnet_tool_call_roundtrip"
    telemetry = instrument(capture_message_content="SPAN_ONLY")
    await replay_all(replay(f"bedrock/{name}.json"), name, is_async)
    output = json.loads(telemetry.spans()[0].attributes["gen_ai.output.messages"])
    events = [payload for _, payload in recorded_events(name, 0)]
    said = "".join(e["delta"]["text"] for e in events if e.get("delta", {}).get("type") == "text_delta")
    assert output == [
        {
            "role": "assistant",
            "parts": [
                text(said),
                {
                    "type": "tool_call",
                    "id": "toolu_bdrk_01KatiGijVFb9yuMPcnVk38e",
                    "name": "get_current_weather",
                    "arguments": {"location": "Seattle"},
                },
                {
                    "type": "tool_call",
                    "id": "toolu_bdrk_01Tzb35EydKHWz4UZP3puTbF",
                    "name": "get_current_weather",
                    "arguments": {"location": "San Francisco"},
                },
            ],
            "finish_reason": "tool_call",
        }
    ]


def test_streamed_nova_text_is_one_part(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    """Nova streams every text delta as its own content block; the output is one text part."""
    name = "invoke_stream_nova_micro"
    telemetry = instrument(capture_message_content="SPAN_ONLY")
    [spans] = captured(telemetry, name, replay(f"bedrock/{name}.json"))
    said = "".join(
        p["contentBlockDelta"]["delta"]["text"] for _, p in recorded_events(name) if "contentBlockDelta" in p
    )
    assert spans["gen_ai.output.messages"] == [
        {"role": "assistant", "parts": [text(said)], "finish_reason": "length"}
    ]
    assert spans["gen_ai.input.messages"] == [{"role": "user", "parts": [text("Say this is a test")]}]


@pytest.mark.parametrize(
    ("name", "prompt", "output"),
    [
        ("invoke_titan_text_lite", "Say this is a test", " comment\nHello! I am writing this as a"),
        ("invoke_meta_llama3_1", "Say this is a test", " post. This is a test post. This is"),
        ("invoke_mistral_7b", "Say this is a test", "\n\nA man stands before a crowd of people"),
        (
            "invoke_cohere_command_light_legacy",
            "Say this is a test",
            " Let it be a test of knowledge, skills,",
        ),
        ("invoke_cohere_command_r", "Say this is a test", "This is a test. How are you doing today"),
        (
            "invoke_stream_titan_text_lite",
            "Say this is a test",
            "\nHello! I am a computer program designed to",
        ),
    ],
)
def test_text_families_prompt_and_output(
    name: str,
    prompt: str,
    output: str,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
) -> None:
    telemetry = instrument(capture_message_content="SPAN_ONLY")
    [spans] = captured(telemetry, name, replay(f"bedrock/{name}.json"))
    assert spans["gen_ai.input.messages"] == [{"role": "user", "parts": [text(prompt)]}]
    assert spans["gen_ai.output.messages"] == [
        {"role": "assistant", "parts": [text(output)], "finish_reason": ROWS[name][0].finish[0]}
    ]


# --- model ids and unknown families -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model_id", "name"),
    [
        ("anthropic.claude-3-5-haiku-20241022-v1:0", "anthropic.claude-3-5-haiku-20241022-v1:0"),
        ("us.anthropic.claude-3-5-sonnet-20240620-v1:0", "anthropic.claude-3-5-sonnet-20240620-v1:0"),
        ("eu.amazon.nova-lite-v1:0", "amazon.nova-lite-v1:0"),
        ("apac.meta.llama3-2-1b-instruct-v1:0", "meta.llama3-2-1b-instruct-v1:0"),
        ("global.anthropic.claude-sonnet-4-20250514-v1:0", "anthropic.claude-sonnet-4-20250514-v1:0"),
        (
            "arn:aws:bedrock:us-east-1:012345678901:inference-profile/us.anthropic.claude-3-7-sonnet-20250219-v1:0",
            "anthropic.claude-3-7-sonnet-20250219-v1:0",
        ),
        (
            "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-text-lite-v1",
            "amazon.titan-text-lite-v1",
        ),
        ("arn:aws:bedrock:us-east-1:111122223333:imported-model/k2v8ucpsid0x", "k2v8ucpsid0x"),
        (
            "arn:aws:bedrock:us-east-1:111122223333:custom-model/amazon.titan-text-express-v1:0:8k/abcd1234",
            "amazon.titan-text-express-v1:0:8k",
        ),
        ("arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/a1b2c3", "a1b2c3"),
        (
            "arn:aws:sagemaker:us-east-1:111122223333:endpoint/endpoint-quick-start-idr7y",
            "endpoint-quick-start-idr7y",
        ),
        ("usa.model-v1", "usa.model-v1"),  # not a geography prefix
        ("us.model", "us.model"),  # a prefix with nothing after the model's own dot
    ],
)
def test_readable_model_name(model_id: str, name: str) -> None:
    assert readable_name(model_id) == name


def test_unknown_family_gets_headers_usage(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    """An imported model answering in a shape no reader knows: model, duration and Bedrock's header counts."""
    recording = load("invoke_mistral_7b")
    interaction = recording["interactions"][0]
    model_id = "arn:aws:bedrock:us-east-1:111122223333:imported-model/k2v8ucpsid0x"
    interaction["request"]["path"] = f"/model/{model_id}/invoke"
    interaction["response"]["json"] = {"answer": {"tokens": ["A", "man"]}}  # no known family's shape
    telemetry = instrument()
    server = replay(recording)
    client = sync_client(server)
    body = client.invoke_model(modelId=model_id, body=json.dumps({"input": "Say this is a test"}))["body"]
    assert json.loads(body.read()) == {"answer": {"tokens": ["A", "man"]}}
    span = telemetry.span()
    check_span(span, "chat k2v8ucpsid0x")
    want = base_attributes(server, "chat", "k2v8ucpsid0x", model_id, False)
    want.update(usage_attributes(6, 10))
    want["gen_ai.response.model"] = "k2v8ucpsid0x"
    want["aws.bedrock.invocation.latency"] = 0.174
    want["aws.request_id"] = interaction["response"]["headers"]["x-amzn-requestid"]
    assert span_attributes(span, streaming=False) == want
    check_metrics(telemetry, want, streaming=False)


def test_embeddings_model(instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]) -> None:
    """Titan embeddings: operation ``embeddings``, vector size, input tokens; the vector is never recorded.

    No embeddings recording exists (recordings/INDEX.md); the response is Titan's documented shape, served
    with the headers of a recorded InvokeModel call."""
    recording = load("invoke_titan_text_lite")
    interaction = recording["interactions"][0]
    interaction["request"]["path"] = "/model/amazon.titan-embed-text-v2:0/invoke"
    interaction["response"]["json"] = {"embedding": [0.25] * 256, "inputTextTokenCount": 5}
    del interaction["response"]["headers"]["x-amzn-bedrock-output-token-count"]
    telemetry = instrument(capture_message_content="SPAN_ONLY")
    server = replay(recording)
    body = sync_client(server).invoke_model(
        modelId="amazon.titan-embed-text-v2:0",
        body=json.dumps({"inputText": "Say this is a test", "dimensions": 256}),
    )["body"]
    assert len(json.loads(body.read())["embedding"]) == 256
    span = telemetry.span()
    check_span(span, "embeddings amazon.titan-embed-text-v2:0")
    attributes = span_attributes(span, streaming=False)
    assert attributes["gen_ai.operation.name"] == "embeddings"
    assert attributes["llm.request.type"] == "embedding"
    assert attributes["gen_ai.embeddings.dimension.count"] == 256
    assert attributes["gen_ai.usage.input_tokens"] == 5
    assert "gen_ai.usage.output_tokens" not in attributes
    assert not [k for k in attributes if "messages" in k or k.startswith("gen_ai.prompt.")]
    assert [p.value for p in telemetry.metrics()["llm.openai.embeddings.vector_size"]] == [256]


def test_file_body_is_never_read(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    """A file-like request body is botocore's to read: the span has no request parameters, the call works."""
    import io

    name = "invoke_titan_text_lite"
    telemetry = instrument()
    server = replay(f"bedrock/{name}.json")
    payload = json.dumps(interactions(name)[0]["request"]["json"]).encode()
    body = sync_client(server).invoke_model(modelId="amazon.titan-text-lite-v1", body=io.BytesIO(payload))[
        "body"
    ]
    assert body.read() == recorded_body(name)
    assert server.requests[0].body == payload
    attributes = span_attributes(telemetry.span(), streaming=False)
    assert "gen_ai.request.max_tokens" not in attributes
    assert attributes["gen_ai.operation.name"] == "chat"  # nothing read: the Bedrock default
    assert attributes["gen_ai.usage.input_tokens"] == 5


# --- InvokeModelWithResponseStream exit paths -------------------------------------------------------------

STREAM = "invoke_stream_claude_v2_messages"  # 15 chunks: message_start ... message_stop
STREAM_EVENTS = 15


@pytest.fixture(autouse=True, scope="module")
def _cheap_gc() -> Iterator[None]:
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


def start_stream(server: ReplayServer) -> Any:
    response = sync_client(server).invoke_model_with_response_stream(
        **call_of(interactions(STREAM)[0]).kwargs
    )
    stream = response["body"]
    assert isinstance(stream, botocore.eventstream.EventStream)
    return stream


def check_partial(
    telemetry: Telemetry, server: ReplayServer, received: int, error: str | None = None
) -> None:
    """Left after ``received`` chunks: message_start gave id, model and input tokens; no stop reason yet."""
    span = telemetry.span()
    check_span(span, "chat anthropic.claude-v2", error=error is not None)
    want = base_attributes(server, "chat", "anthropic.claude-v2", "anthropic.claude-v2", True)
    want.update(TITAN_LITE)
    want["aws.request_id"] = interactions(STREAM)[0]["response"]["headers"]["x-amzn-requestid"]
    want["gen_ai.response.model"] = "anthropic.claude-v2"
    if received:
        want.update(
            {
                "gen_ai.response.model": "claude-2.0",
                "gen_ai.response.id": "msg_bdrk_01Wh9w6Tv2opkib67YP3L9B6",
                "gen_ai.response.finish_reasons": ("error",),
                "gen_ai.usage.input_tokens": 14,
                "gen_ai.usage.prompt_tokens": 14,
            }
        )
    if error:
        want["error.type"] = error
    assert span_attributes(span, streaming=received > 0) == want


def test_stream_exhausted(instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]) -> None:
    telemetry, server = instrument(), replay(f"bedrock/{STREAM}.json")
    stream = start_stream(server)
    events = list(stream)
    assert [json.loads(e["chunk"]["bytes"]) for e in events] == [p for _, p in recorded_events(STREAM)]
    stream.close()
    del stream
    gc.collect()
    assert span_attributes(telemetry.span(), streaming=True) == expected(STREAM, 0, server)


def test_stream_break_then_garbage_collected(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    telemetry, server = instrument(), replay(f"bedrock/{STREAM}.json")
    stream = start_stream(server)
    for _event in stream:
        break
    assert telemetry.spans() == []
    del stream
    gc.collect()
    check_partial(telemetry, server, received=1)


def test_stream_closed_early(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    telemetry, server = instrument(), replay(f"bedrock/{STREAM}.json")
    stream = start_stream(server)
    next(iter(stream))
    stream.close()
    stream.close()
    check_partial(telemetry, server, received=1)


def test_stream_never_iterated(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    telemetry, server = instrument(), replay(f"bedrock/{STREAM}.json")
    stream = start_stream(server)
    del stream
    gc.collect()
    check_partial(telemetry, server, received=0)


def test_stream_error_event_mid_stream(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    telemetry = instrument()
    frame = exception_frame("modelStreamErrorException", "the model failed")
    server = replay(with_stream_tail(STREAM, 3, frame))
    stream = start_stream(server)
    received = []
    with pytest.raises(EventStreamError) as raised:
        for event in stream:
            received.append(event)
    assert len(received) == 3
    assert raised.value.response["Error"]["Code"] == "modelStreamErrorException"
    check_partial(telemetry, server, received=3, error="modelStreamErrorException")


@needs_aiobotocore
async def test_async_stream_exit_paths(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    telemetry = instrument()
    recording = load(STREAM)
    server = replay(
        recording, recording, with_stream_tail(STREAM, 3, exception_frame("throttlingException", "x"))
    )
    call = call_of(interactions(STREAM)[0])
    async with async_client(server) as client:
        stream = (await client.invoke_model_with_response_stream(**call.kwargs))["body"]
        assert len([e async for e in stream]) == STREAM_EVENTS
        assert span_attributes(telemetry.span(), streaming=True) == expected(STREAM, 0, server)
        telemetry.span_exporter.clear()

        stream = (await client.invoke_model_with_response_stream(**call.kwargs))["body"]
        async for _event in stream:
            break
        stream.close()
        check_partial(telemetry, server, received=1)
        telemetry.span_exporter.clear()

        stream = (await client.invoke_model_with_response_stream(**call.kwargs))["body"]
        with pytest.raises(EventStreamError):
            async for _event in stream:
                pass
        check_partial(telemetry, server, received=3, error="throttlingException")
    server.assert_all_served()


def test_failed_body_read_fails_again_for_the_user() -> None:
    """A connection that drops while we read the body: the user's own read raises the very same exception.

    (The replay server always sends whole bodies, so this drives the body reader directly, with botocore's
    real StreamingBody over a raw stream that fails as urllib3 does when a connection breaks.)"""
    import io

    from urllib3.exceptions import ProtocolError

    from otel_genai.instrumentation.bedrock import bodies

    class Dropped(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def read(self, size: int | None = -1) -> bytes:  # urllib3's HTTPResponse.read(amt=None)
            raise ProtocolError("Connection broken: IncompleteRead")

    response = {"body": botocore.response.StreamingBody(Dropped(), 120)}
    with pytest.raises(botocore.exceptions.ResponseStreamingError) as ours:
        bodies.read_sync(response)
    body = response["body"]
    assert type(body) is botocore.response.StreamingBody
    with pytest.raises(botocore.exceptions.ResponseStreamingError) as users:
        body.read()
    assert users.value is ours.value
