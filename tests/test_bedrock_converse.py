"""Bedrock Converse and ConverseStream end to end: real boto3 (and aiobotocore) clients, SigV4-signed, against
the recorded responses and event streams on loopback.

Expected values are literal, one row per recorded interaction, written out from the recording (the JSON
body's ``usage``/``stopReason``/``metrics``, the stream's ``messageStop`` and ``metadata`` events, the
``x-amzn-requestid`` header); ``test_rows_match_the_recordings`` re-derives the plain numbers from the
recordings so a row cannot drift from its file.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import botocore.eventstream
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
    recorded_events,
    replay_all,
    span_attributes,
    sync_client,
    usage_attributes,
    with_stream_tail,
)
from conftest import Telemetry
from replay import ReplayServer

CONVERSE = [n for n in ALL if n.startswith("converse_")]
ERRORS = ["converse_error_400_invalid_model", "converse_stream_error_400_invalid_model"]
SUCCESS = [n for n in CONVERSE if n not in ERRORS]


@dataclass(frozen=True)
class Row:
    """One interaction's response: usage, finish reason, Bedrock's latency (ms), guardrail outcome."""

    input: int
    output: int
    finish: str
    latency_ms: int
    cache: tuple[int, int] | None = None  # (read, write) when the response reports them
    guardrail: dict[str, Any] = field(default_factory=dict)  # span attributes
    activations: dict[str, int] = field(default_factory=dict)  # guardrail counter: policy type -> count


ADDRESS_MASKED = {
    "aws.bedrock.guardrail.intervened": True,
    "aws.bedrock.guardrail.policies": ("sensitive_information",),
    "aws.bedrock.guardrail.sensitive_information": ("ADDRESS",),
}
# Readable model name per recording (the path's modelId, with profiles and ARNs resolved).
MODELS = {
    "converse_claude37_inference_profile_arn": "anthropic.claude-3-7-sonnet-20250219-v1:0",
    "converse_claude_v2": "anthropic.claude-v2",
    "converse_meta_llama3_2": "meta.llama3-2-1b-instruct-v1:0",
    "converse_mistral_devstral_tool_use": "mistral.devstral-2-123b",
    "converse_nova_tool_call_roundtrip": "amazon.nova-micro-v1:0",
    "converse_titan_guardrail_intervened": "amazon.titan-text-express-v1",
    "converse_titan_text_lite": "amazon.titan-text-lite-v1",
    "converse_stream_claude3_tool_use": "anthropic.claude-3-sonnet-20240229-v1:0",
    "converse_stream_claude3_tool_use_fragmented_roundtrip": "anthropic.claude-3-sonnet-20240229-v1:0",
    "converse_stream_claude_v2": "anthropic.claude-v2",
    "converse_stream_meta_llama3_2": "meta.llama3-2-1b-instruct-v1:0",
    "converse_stream_nova_guardrail_intervened": "amazon.nova-lite-v1:0",
    "converse_stream_nova_tool_call_roundtrip": "amazon.nova-micro-v1:0",
    "converse_stream_titan_guardrail_intervened": "amazon.titan-text-express-v1",
    "converse_stream_titan_text_lite": "amazon.titan-text-lite-v1",
}
SAMPLING_TITAN = {
    "gen_ai.request.max_tokens": 10,
    "gen_ai.request.temperature": 0.8,
    "gen_ai.request.top_p": 1.0,
    "gen_ai.request.stop_sequences": ("|",),
}
# Request-side attributes, from the recorded parameters (inferenceConfig, additionalModelRequestFields,
# guardrailConfig).
REQUESTS: dict[str, dict[str, Any]] = {
    "converse_claude37_inference_profile_arn": {
        "gen_ai.request.temperature": 0.5,
        "aws.bedrock.guardrail.id": "v9kpg6yrwhs2",
        "aws.bedrock.guardrail.version": "DRAFT",
    },
    "converse_meta_llama3_2": {"gen_ai.request.temperature": 0.5},
    "converse_titan_guardrail_intervened": {
        "aws.bedrock.guardrail.id": "5zwrmdlsra2e",
        "aws.bedrock.guardrail.version": "DRAFT",
    },
    "converse_titan_text_lite": SAMPLING_TITAN,
    "converse_stream_claude3_tool_use": {"gen_ai.request.max_tokens": 300, "gen_ai.request.temperature": 0.5},
    "converse_stream_meta_llama3_2": {"gen_ai.request.temperature": 0.5},
    "converse_stream_nova_guardrail_intervened": {
        "gen_ai.request.temperature": 0.5,
        "gen_ai.request.top_k": 10,
        "aws.bedrock.guardrail.id": "v9kpg6yrwhs2",
        "aws.bedrock.guardrail.version": "DRAFT",
    },
    "converse_stream_titan_guardrail_intervened": {
        "aws.bedrock.guardrail.id": "5zwrmdlsra2e",
        "aws.bedrock.guardrail.version": "DRAFT",
    },
    "converse_stream_titan_text_lite": SAMPLING_TITAN,
}
ROWS: dict[str, list[Row]] = {
    "converse_claude37_inference_profile_arn": [
        Row(20, 72, "stop", 2900, cache=(0, 0), guardrail={"aws.bedrock.guardrail.intervened": False})
    ],
    "converse_claude_v2": [Row(37, 8, "stop", 408)],
    "converse_meta_llama3_2": [Row(52, 30, "stop", 589)],
    "converse_mistral_devstral_tool_use": [Row(90, 14, "tool_call", 19273)],
    "converse_nova_tool_call_roundtrip": [Row(415, 190, "tool_call", 658), Row(553, 59, "stop", 496)],
    "converse_titan_guardrail_intervened": [
        Row(
            17, 17, "content_filter", 1562, guardrail=ADDRESS_MASKED, activations={"sensitive_information": 1}
        )
    ],
    "converse_titan_text_lite": [Row(8, 10, "length", 608)],
    "converse_stream_claude3_tool_use": [Row(236, 58, "tool_call", 1176)],
    "converse_stream_claude3_tool_use_fragmented_roundtrip": [
        Row(295, 43, "tool_call", 2499),
        Row(422, 82, "tool_call", 3089),
    ],
    "converse_stream_claude_v2": [Row(37, 8, "stop", 508)],
    "converse_stream_meta_llama3_2": [Row(52, 36, "stop", 638)],
    "converse_stream_nova_guardrail_intervened": [
        Row(
            54,
            18,
            "content_filter",
            821,
            guardrail={
                "aws.bedrock.guardrail.intervened": True,
                "aws.bedrock.guardrail.policies": ("sensitive_information",),
                "aws.bedrock.guardrail.sensitive_information": ("ADDRESS", "Account Number"),
            },
            activations={"sensitive_information": 1},
        )
    ],
    "converse_stream_nova_tool_call_roundtrip": [Row(415, 202, "tool_call", 625), Row(565, 52, "stop", 479)],
    "converse_stream_titan_guardrail_intervened": [
        Row(
            17, 16, "content_filter", 1445, guardrail=ADDRESS_MASKED, activations={"sensitive_information": 1}
        )
    ],
    "converse_stream_titan_text_lite": [Row(8, 10, "length", 605)],
}
RAW_STOP = {"stop": ("end_turn",), "length": ("max_tokens",), "tool_call": ("tool_use",)}


def expected(name: str, index: int, server: ReplayServer) -> dict[str, Any]:
    interaction = interactions(name)[index]
    call = call_of(interaction)
    row = ROWS[name][index]
    streaming = call.method == "converse_stream"
    attributes = base_attributes(server, "chat", MODELS[name], call.model_id, streaming)
    attributes.update(REQUESTS.get(name, {}))
    attributes.update(usage_attributes(row.input, row.output, *(row.cache or (None, None))))
    attributes.update(row.guardrail)
    attributes["gen_ai.response.finish_reasons"] = (row.finish,)
    attributes["gen_ai.response.model"] = MODELS[name]  # Converse names no model: the one asked for
    attributes["aws.bedrock.invocation.latency"] = row.latency_ms / 1000
    request_id = interaction["response"]["headers"].get("x-amzn-requestid")
    if request_id:
        attributes["aws.request_id"] = request_id
    return attributes


# --- the table is the recordings -----------------------------------------------------------------


def test_every_converse_recording_is_covered() -> None:
    assert set(SUCCESS) == set(ROWS) == set(MODELS)
    assert all(len(ROWS[name]) == len(interactions(name)) for name in SUCCESS)


@pytest.mark.parametrize("name", SUCCESS)
def test_rows_match_the_recordings(name: str) -> None:
    """Usage, latency and stop reason in each row are the recording's own numbers."""
    for index, row in enumerate(ROWS[name]):
        response = interactions(name)[index]["response"]
        if "json" in response:
            body = response["json"]
            usage, latency, stop = body["usage"], body["metrics"]["latencyMs"], body["stopReason"]
        else:
            events = dict(recorded_events(name, index))
            usage, latency = events["metadata"]["usage"], events["metadata"]["metrics"]["latencyMs"]
            stop = events["messageStop"]["stopReason"]
        cache = usage.get("cacheReadInputTokens", 0) + usage.get("cacheWriteInputTokens", 0)
        assert (row.input, row.output, row.latency_ms) == (
            usage["inputTokens"] + cache,
            usage["outputTokens"],
            latency,
        )
        assert stop in RAW_STOP.get(row.finish, ("guardrail_intervened",))


# --- every recorded call ------------------------------------------------------------------------------


@MODES
@pytest.mark.parametrize("name", SUCCESS)
async def test_recorded_call(
    name: str, is_async: bool, instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    """One CLIENT span per call with exactly the recorded parameters, usage, finish reason and guardrail."""
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
            assert result.response["ResponseMetadata"]["HTTPStatusCode"] == 200
            streaming = call.method == "converse_stream"
            if streaming:
                assert len(result.events) == len(recorded_events(name, index))
            span = telemetry.span()
            check_span(span, f"chat {MODELS[name]}")
            want = expected(name, index, server)
            assert span_attributes(span, streaming=streaming) == want
            row = ROWS[name][index]
            check_metrics(telemetry, want, streaming=streaming, guardrail=row.activations)
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
    """A 400 is ``error.type=ValidationException`` (the AWS error code) and the very same ClientError."""
    if is_async and not HAS_AIOBOTOCORE:
        pytest.skip("aiobotocore not installed")
    telemetry = instrument()
    server = replay(f"bedrock/{name}.json")
    call = call_of(interactions(name)[0])
    with pytest.raises(ClientError) as raised:
        await replay_all(server, name, is_async)
    assert raised.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": "The provided model identifier is invalid.",
    }
    span = telemetry.span()
    check_span(span, "chat does-not-exist", error=True)
    streaming = call.method == "converse_stream"
    want = base_attributes(server, "chat", "does-not-exist", "does-not-exist", streaming)
    want["error.type"] = "ValidationException"
    want["aws.request_id"] = interactions(name)[0]["response"]["headers"]["x-amzn-requestid"]
    assert span_attributes(span, streaming=False) == want
    assert type(raised.value).__name__ == "ValidationException"  # the client's modelled ClientError subclass
    assert [e.attributes["exception.type"] for e in span.events] == [
        "botocore.errorfactory.ValidationException"
    ]
    check_metrics(telemetry, want, streaming=False, error_type="ValidationException")
    server.assert_all_served()


@MODES
@pytest.mark.parametrize("name", [*SUCCESS, *ERRORS])
async def test_results_equal_without_instrumentation(
    name: str, is_async: bool, instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    """The same recorded calls return equal responses and events (or equal errors) either way."""
    if is_async and not HAS_AIOBOTOCORE:
        pytest.skip("aiobotocore not installed")
    recording = f"bedrock/{name}.json"
    server = replay(recording, recording)
    outcomes: list[Any] = []
    for step in ("plain", "instrumented"):
        if step == "instrumented":
            instrument()
        try:
            results = await replay_all(server, name, is_async)
            outcomes.append([(without_date(r.response), r.events) for r in results])
        except ClientError as exc:
            # each client builds its own modelled exception classes: compare them by name
            outcomes.append((type(exc).__module__, type(exc).__qualname__, str(exc), exc.response["Error"]))
    plain, instrumented = outcomes
    assert instrumented == plain
    half = len(server.requests) // 2
    assert [r.json for r in server.requests[half:]] == [r.json for r in server.requests[:half]]
    server.assert_all_served()


def without_date(response: dict[str, Any]) -> dict[str, Any]:
    """The response minus the proxies and the replay server's Date header (a second may pass)."""
    response = {k: v for k, v in response.items() if k not in ("stream",)}
    metadata = dict(response["ResponseMetadata"])
    metadata["HTTPHeaders"] = {k: v for k, v in metadata["HTTPHeaders"].items() if k != "date"}
    response["ResponseMetadata"] = metadata
    return response


# --- content ------------------------------------------------------------------------------------------


def content_of(span: Any) -> dict[str, Any]:
    keys = (
        "gen_ai.system_instructions",
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.tool.definitions",
    )
    return {k: span.attributes[k] for k in keys if k in span.attributes}


def test_system_prompt_and_turns_are_captured(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    """Converse ``system`` -> gen_ai.system_instructions; the turns -> input messages; legacy prompt.N."""
    telemetry = instrument(capture_message_content="SPAN_ONLY")
    server = replay("bedrock/converse_claude_v2.json")
    perform_sync(sync_client(server), call_of(interactions("converse_claude_v2")[0]))
    span = telemetry.span()
    assert content_of(span) == {
        "gen_ai.system_instructions": '[{"type":"text","content":"You are a friendly app"}]',
        "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"Say this is a test"}]},'
        '{"role":"assistant","parts":[{"type":"text","content":"This is a test"}]},'
        '{"role":"user","parts":[{"type":"text","content":"Say again this is a test"}]}]',
        "gen_ai.output.messages": '[{"role":"assistant","parts":[{"type":"text","content":"This is a test"}],'
        '"finish_reason":"stop"}]',
    }
    legacy = {
        k: v for k, v in span.attributes.items() if k.startswith(("gen_ai.prompt.", "gen_ai.completion."))
    }
    assert legacy == {
        "gen_ai.prompt.0.role": "system",
        "gen_ai.prompt.0.content": "You are a friendly app",
        "gen_ai.prompt.1.role": "user",
        "gen_ai.prompt.1.content": "Say this is a test",
        "gen_ai.prompt.2.role": "assistant",
        "gen_ai.prompt.2.content": "This is a test",
        "gen_ai.prompt.3.role": "user",
        "gen_ai.prompt.3.content": "Say again this is a test",
        "gen_ai.completion.0.role": "assistant",
        "gen_ai.completion.0.content": "This is a test",
        "gen_ai.completion.0.finish_reason": "stop",
    }


def test_tool_use_and_tool_results_are_parts(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    """toolUse blocks -> tool_call parts (arguments as objects), toolResult -> tool_call_response parts."""
    name = "converse_nova_tool_call_roundtrip"
    telemetry = instrument(capture_message_content="SPAN_ONLY")
    server = replay(f"bedrock/{name}.json")
    client = sync_client(server)
    for interaction in interactions(name):
        perform_sync(client, call_of(interaction))
    first, second = telemetry.spans()
    thinking = (
        "<thinking> To provide the weather information for both Seattle and San Francisco, I will use the "
        "`get_current_weather` tool for each city. I will start with Seattle and then proceed with San "
        "Francisco.</thinking>\\n"
    )
    calls = (
        '{"type":"tool_call","id":"tooluse_tggNKJbGSrm48inRqf3Rvw","name":"get_current_weather",'
        '"arguments":{"location":"Seattle"}},'
        '{"type":"tool_call","id":"tooluse_bRV9WIcFSxyrLY6-MVkZRA","name":"get_current_weather",'
        '"arguments":{"location":"San Francisco"}}'
    )
    question = (
        '{"role":"user","parts":[{"type":"text","content":'
        '"What is the weather in Seattle and San Francisco today?"}]}'
    )
    assert content_of(first) == {
        "gen_ai.input.messages": f"[{question}]",
        "gen_ai.output.messages": '[{"role":"assistant","parts":[{"type":"text","content":"'
        f'{thinking}"}},{calls}],"finish_reason":"tool_call"}}]',
        "gen_ai.tool.definitions": '[{"type":"function","name":"get_current_weather"}]',
    }
    assert second.attributes["gen_ai.input.messages"] == (
        f'[{question},{{"role":"assistant","parts":[{{"type":"text","content":"{thinking}"}},{calls}]}},'
        '{"role":"user","parts":['
        '{"type":"tool_call_response","id":"tooluse_tggNKJbGSrm48inRqf3Rvw",'
        '"response":{"weather":"50 degrees and raining"}},'
        '{"type":"tool_call_response","id":"tooluse_bRV9WIcFSxyrLY6-MVkZRA",'
        '"response":{"weather":"70 degrees and sunny"}}'
        "]}]"
    )
    assert second.attributes["gen_ai.prompt.2.tool_call_id"] == "tooluse_tggNKJbGSrm48inRqf3Rvw"
    assert second.attributes["gen_ai.prompt.1.tool_calls.1.name"] == "get_current_weather"


@MODES
async def test_stream_output_is_assembled(
    is_async: bool, instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    """Text deltas and a toolUse input split over many events become one text part and one tool call."""
    if is_async and not HAS_AIOBOTOCORE:
        pytest.skip("aiobotocore not installed")
    name = "converse_stream_claude3_tool_use"
    telemetry = instrument(capture_message_content="SPAN_ONLY")
    server = replay(f"bedrock/{name}.json")
    await replay_all(server, name, is_async)
    assert telemetry.span().attributes["gen_ai.output.messages"] == (
        '[{"role":"assistant","parts":[{"type":"text","content":"Okay, let me check the weather for '
        'Barcelona using the available tool:"},{"type":"tool_call","id":"tooluse_yypYDr71TwCwByoyao4-Vg",'
        '"name":"get_weather","arguments":{"location":"Barcelona"}}],"finish_reason":"tool_call"}]'
    )


def test_guard_content_and_system_on_a_guarded_stream(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    """guardContent blocks are text; the output is the masked text the user saw; finish content_filter."""
    name = "converse_stream_nova_guardrail_intervened"
    telemetry = instrument(capture_message_content="SPAN_ONLY")
    server = replay(f"bedrock/{name}.json")
    perform_sync(sync_client(server), call_of(interactions(name)[0]))
    assert content_of(telemetry.span()) == {
        "gen_ai.system_instructions": '[{"type":"text","content":"You are an app that knows about capitals. '
        'Keep the message short and finish with 1234561666."}]',
        "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"Tokyo is the capital '
        'of Japan 1234561666."},{"type":"text","content":"What is the capital of Japan?"}]}]',
        "gen_ai.output.messages": '[{"role":"assistant","parts":[{"type":"text","content":"{ADDRESS} is the '
        'capital of Japan {Account Number}."}],"finish_reason":"content_filter"}]',
    }


def test_no_content_by_default(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    name = "converse_nova_tool_call_roundtrip"
    telemetry = instrument()
    server = replay(f"bedrock/{name}.json")
    client = sync_client(server)
    for interaction in interactions(name):
        perform_sync(client, call_of(interaction))
    for span in telemetry.spans():
        content = [k for k in span.attributes if k.startswith(("gen_ai.prompt.", "gen_ai.completion."))]
        content += [k for k in span.attributes if k.endswith(("messages", "instructions", "definitions"))]
        assert content == []


# --- clients created before init() --------------------------------------------------------------------


def test_client_created_before_init(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    """The hook is on botocore's base class, so a client that already existed is traced too."""
    name = "converse_claude_v2"
    server = replay(f"bedrock/{name}.json")
    client = sync_client(server)
    telemetry = instrument()
    perform_sync(client, call_of(interactions(name)[0]))
    span = telemetry.span()
    assert span_attributes(span, streaming=False) == expected(name, 0, server)


@needs_aiobotocore
async def test_async_client_created_before_init(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    name = "converse_stream_claude_v2"
    server = replay(f"bedrock/{name}.json")
    async with async_client(server) as client:
        telemetry = instrument()
        result = await perform_async(client, call_of(interactions(name)[0]))
    assert len(result.events) == 8
    assert span_attributes(telemetry.span(), streaming=True) == expected(name, 0, server)


# --- ConverseStream exit paths -------------------------------------------------------------------------

STREAM = "converse_stream_claude_v2"  # messageStart, 4 text deltas, contentBlockStop, messageStop, metadata
STREAM_EVENTS = 8


@pytest.fixture(autouse=True, scope="module")
def _cheap_gc() -> Iterator[None]:
    """Freeze the import-time heap so each ``gc.collect()`` scans only what a test created."""
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


def partial_attributes(server: ReplayServer, received: int, error: str | None = None) -> dict[str, Any]:
    """A stream left after ``received`` events: no messageStop yet, so the finish reason is ``error``."""
    attributes = base_attributes(server, "chat", MODELS[STREAM], MODELS[STREAM], True)
    attributes["aws.request_id"] = interactions(STREAM)[0]["response"]["headers"]["x-amzn-requestid"]
    attributes["gen_ai.response.model"] = MODELS[STREAM]
    if received:
        attributes["gen_ai.response.finish_reasons"] = ("error",)
    if error:
        attributes["error.type"] = error
    return attributes


def check_partial(
    telemetry: Telemetry, server: ReplayServer, received: int, error: str | None = None
) -> None:
    span = telemetry.span()
    check_span(span, f"chat {MODELS[STREAM]}", error=error is not None)
    want = partial_attributes(server, received, error)
    assert span_attributes(span, streaming=received > 0) == want
    metrics = telemetry.metrics()
    [duration] = metrics["gen_ai.client.operation.duration"]
    assert duration.attributes.get("error.type") == error
    assert "gen_ai.client.token.usage" not in metrics  # no metadata event: no invented counts


def start_stream(server: ReplayServer) -> Any:
    response = sync_client(server).converse_stream(**call_of(interactions(STREAM)[0]).kwargs)
    stream = response["stream"]
    assert isinstance(stream, botocore.eventstream.EventStream)
    return stream


def test_stream_exhausted_then_closed(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    telemetry, server = instrument(), replay(f"bedrock/{STREAM}.json")
    stream = start_stream(server)
    assert len(list(stream)) == STREAM_EVENTS
    assert len(telemetry.spans()) == 1
    stream.close()
    del stream
    gc.collect()
    span = telemetry.span()
    assert span_attributes(span, streaming=True) == expected(STREAM, 0, server)


def test_stream_break_then_garbage_collected(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    telemetry, server = instrument(), replay(f"bedrock/{STREAM}.json")
    stream = start_stream(server)
    for _event in stream:
        break
    assert telemetry.spans() == []  # still the user's to finish
    del stream
    gc.collect()
    check_partial(telemetry, server, received=1)


def test_stream_closed_early(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    telemetry, server = instrument(), replay(f"bedrock/{STREAM}.json")
    stream = start_stream(server)
    assert next(iter(stream)) == {"messageStart": {"role": "assistant"}}
    assert stream.close() is None
    assert len(telemetry.spans()) == 1
    stream.close()
    del stream
    gc.collect()
    check_partial(telemetry, server, received=1)


def test_stream_never_iterated_then_garbage_collected(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    telemetry, server = instrument(), replay(f"bedrock/{STREAM}.json")
    stream = start_stream(server)
    assert telemetry.spans() == []
    del stream
    gc.collect()
    check_partial(telemetry, server, received=0)


def test_stream_user_exception_in_loop_then_close(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    """The user's own exception is no failed call: the span ends when the stream is closed, without ERROR."""
    telemetry, server = instrument(), replay(f"bedrock/{STREAM}.json")
    stream = start_stream(server)
    with pytest.raises(KeyError, match="user code"):
        for _event in stream:
            raise KeyError("user code")
    assert telemetry.spans() == []
    stream.close()
    check_partial(telemetry, server, received=1)


def test_stream_error_event_mid_stream(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    """An exception frame after two events: the user gets botocore's EventStreamError, the span the code."""
    telemetry = instrument()
    server = replay(with_stream_tail(STREAM, 2, exception_frame("throttlingException", "slow down")))
    stream = start_stream(server)
    received = []
    with pytest.raises(EventStreamError) as raised:
        for event in stream:
            received.append(event)
    assert len(received) == 2
    assert raised.value.response["Error"] == {"Code": "throttlingException", "Message": "slow down"}
    check_partial(telemetry, server, received=2, error="throttlingException")
    (event,) = telemetry.span().events
    assert event.attributes["exception.type"] == "botocore.exceptions.EventStreamError"


@needs_aiobotocore
async def test_async_stream_exit_paths(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    """aiobotocore: exhausted, closed early (its close() stays synchronous), and an error event."""
    from aiobotocore.eventstream import AioEventStream

    telemetry = instrument()
    recording = load(STREAM)
    server = replay(
        recording, recording, with_stream_tail(STREAM, 2, exception_frame("throttlingException", "x"))
    )
    call = call_of(interactions(STREAM)[0])
    async with async_client(server) as client:
        response = await client.converse_stream(**call.kwargs)
        stream = response["stream"]
        assert isinstance(stream, AioEventStream)
        assert len([e async for e in stream]) == STREAM_EVENTS
        [span] = telemetry.spans()
        assert span_attributes(span, streaming=True) == expected(STREAM, 0, server)
        telemetry.span_exporter.clear()
        telemetry.metrics()

        response = await client.converse_stream(**call.kwargs)
        stream = response["stream"]
        assert await stream.__aiter__().__anext__() == {"messageStart": {"role": "assistant"}}
        assert stream.close() is None  # synchronous, as aiobotocore defines it
        check_partial(telemetry, server, received=1)
        telemetry.span_exporter.clear()

        response = await client.converse_stream(**call.kwargs)
        with pytest.raises(EventStreamError):
            async for _event in response["stream"]:
                pass
        check_partial(telemetry, server, received=2, error="throttlingException")
    server.assert_all_served()


def test_content_event(instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]) -> None:
    """EVENT_ONLY: no content on the span; one details event with the messages as structured values."""
    telemetry = instrument(capture_message_content="EVENT_ONLY")
    server = replay("bedrock/converse_claude_v2.json")
    perform_sync(sync_client(server), call_of(interactions("converse_claude_v2")[0]))
    span = telemetry.span()
    assert "gen_ai.input.messages" not in span.attributes
    [event] = telemetry.logs()
    assert event.event_name == "gen_ai.client.inference.operation.details"
    assert event.attributes["gen_ai.provider.name"] == "aws.bedrock"
    assert event.attributes["gen_ai.system_instructions"] == (
        {"type": "text", "content": "You are a friendly app"},
    )
    assert event.attributes["gen_ai.output.messages"] == (
        {
            "role": "assistant",
            "parts": ({"type": "text", "content": "This is a test"},),
            "finish_reason": "stop",
        },
    )
    assert event.span_id == span.context.span_id
