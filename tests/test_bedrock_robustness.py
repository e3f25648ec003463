"""Odd Bedrock shapes yield less telemetry, never an exception: hypothesis feeds plausible-but-wrong request
parameters, response bodies and stream events (the keys our readers look for, holding anything) to the
readers and accumulators the hook uses, with a real recorder writing to in-memory exporters."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import Telemetry
from otel_genai.config import Settings
from otel_genai.core.invocation import Invocation
from otel_genai.core.recorder import Recorder
from otel_genai.instrumentation.bedrock import converse, invoke
from otel_genai.instrumentation.bedrock.guardrails import Verdict
from otel_genai.instrumentation.bedrock.models import readable_name

SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# Keys the Bedrock readers look up, so generated objects reach deep into every reader.
KEYS = [
    "output",
    "message",
    "role",
    "content",
    "text",
    "toolUse",
    "toolResult",
    "toolUseId",
    "name",
    "input",
    "json",
    "image",
    "format",
    "source",
    "s3Location",
    "uri",
    "reasoningContent",
    "reasoningText",
    "guardContent",
    "cachePoint",
    "stopReason",
    "usage",
    "inputTokens",
    "outputTokens",
    "cacheReadInputTokens",
    "cacheWriteInputTokens",
    "cacheReadInputTokenCount",
    "metrics",
    "latencyMs",
    "trace",
    "guardrail",
    "inputAssessment",
    "outputAssessments",
    "input",
    "outputs",
    "contentPolicy",
    "filters",
    "topicPolicy",
    "topics",
    "wordPolicy",
    "customWords",
    "managedWordLists",
    "sensitiveInformationPolicy",
    "piiEntities",
    "regexes",
    "action",
    "detected",
    "type",
    "contextualGroundingPolicy",
    "results",
    "outputText",
    "completionReason",
    "tokenCount",
    "inputTextTokenCount",
    "generation",
    "prompt_token_count",
    "generation_token_count",
    "stop_reason",
    "generations",
    "finish_reason",
    "index",
    "completions",
    "data",
    "finishReason",
    "reason",
    "choices",
    "delta",
    "tool_calls",
    "function",
    "arguments",
    "completion",
    "is_finished",
    "event_type",
    "response_id",
    "id",
    "model",
    "stop_sequence",
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "content_block",
    "partial_json",
    "thinking",
    "tool_use_id",
    "embedding",
    "embeddings",
    "amazon-bedrock-invocationMetrics",
    "inputTokenCount",
    "outputTokenCount",
    "invocationLatency",
    "firstByteLatency",
    "amazon-bedrock-guardrailAction",
    "amazon-bedrock-trace",
    "messageStart",
    "contentBlockStart",
    "contentBlockDelta",
    "contentBlockStop",
    "contentBlockIndex",
    "messageStop",
    "metadata",
    "start",
    "chunk",
    "bytes",
    "system",
    "messages",
    "inferenceConfig",
    "maxTokens",
    "max_new_tokens",
    "temperature",
    "topP",
    "topK",
    "stopSequences",
    "additionalModelRequestFields",
    "top_k",
    "guardrailConfig",
    "guardrailIdentifier",
    "guardrailVersion",
    "toolConfig",
    "tools",
    "toolSpec",
    "anthropic_version",
    "max_tokens",
    "top_p",
    "stop_sequences",
    "prompt",
    "inputText",
    "textGenerationConfig",
    "maxTokenCount",
    "max_gen_len",
    "p",
    "k",
    "stop",
    "seed",
    "chat_history",
    "preamble",
    "schemaVersion",
]
scalars = st.none() | st.booleans() | st.integers(-3, 10**9) | st.floats() | st.text(max_size=8)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=14,
)
objects = st.dictionaries(st.sampled_from(KEYS), values, max_size=6)

# Shapes one level closer to the real ones, so the deep readers meet wrong types where they expect structure.
blocks = st.lists(values | objects, max_size=3)
message = st.fixed_dictionaries({}, optional={"role": values, "content": blocks | values})
messages = st.lists(message | values, max_size=3)
entries = st.lists(objects | values, max_size=3) | values
policies = [
    "contentPolicy",
    "topicPolicy",
    "wordPolicy",
    "sensitiveInformationPolicy",
    "contextualGroundingPolicy",
]
lists = ["filters", "topics", "customWords", "managedWordLists", "piiEntities", "regexes"]
assessment = st.dictionaries(
    st.sampled_from(policies),
    st.dictionaries(st.sampled_from(lists), entries, max_size=2) | values,
    max_size=3,
)
by_id = st.dictionaries(st.text(max_size=3), assessment | values, max_size=2)
guardrail_trace = (
    st.fixed_dictionaries(
        {},
        optional={
            "inputAssessment": by_id | values,
            "outputAssessments": st.dictionaries(
                st.text(max_size=3), st.lists(assessment | values, max_size=2)
            )
            | values,
            "input": by_id | values,
            "outputs": st.lists(by_id | values, max_size=2) | values,
        },
    )
    | st.lists(assessment | values, max_size=2)
    | values
)
stop = values | st.sampled_from(["end_turn", "guardrail_intervened", "INTERVENED", "tool_use", "FINISH"])
converse_params = st.fixed_dictionaries(
    {},
    optional={
        "messages": messages | values,
        "system": blocks | values,
        "inferenceConfig": objects | values,
        "toolConfig": st.fixed_dictionaries({}, optional={"tools": entries}) | values,
        "guardrailConfig": objects | values,
        "additionalModelRequestFields": objects | values,
    },
)
converse_responses = st.fixed_dictionaries(
    {},
    optional={
        "output": st.fixed_dictionaries({}, optional={"message": message | values}) | values,
        "stopReason": stop,
        "usage": objects | values,
        "metrics": objects | values,
        "trace": st.fixed_dictionaries({}, optional={"guardrail": guardrail_trace}) | values,
    },
)
invoke_bodies = st.fixed_dictionaries(
    {},
    optional={
        "anthropic_version": values,
        "messages": messages | values,
        "system": blocks | values,
        "content": blocks | values,
        "tools": entries,
        "choices": entries,
        "results": entries,
        "outputs": entries,
        "generations": entries,
        "completions": entries,
        "chat_history": entries,
        "message": values,
        "stop_reason": stop,
        "usage": objects | values,
        "amazon-bedrock-guardrailAction": stop,
        "amazon-bedrock-trace": st.fixed_dictionaries({}, optional={"guardrail": guardrail_trace}) | values,
    },
)
known_events = st.sampled_from(
    ["messageStart", "contentBlockStart", "contentBlockDelta", "contentBlockStop", "messageStop", "metadata"]
)
converse_events = st.lists(
    st.dictionaries(known_events, values, min_size=1, max_size=1) | objects, max_size=6
)


def recorder(telemetry: Telemetry) -> Recorder:
    settings_ = Settings.resolve({"capture_message_content": "SPAN_AND_EVENT"})
    return Recorder(settings_, telemetry.tracer_provider, telemetry.meter_provider, telemetry.logger_provider)


def finish(rec: Recorder, inv: Invocation, telemetry: Telemetry) -> None:
    rec.finish(inv)
    [span] = telemetry.span_exporter.get_finished_spans()
    json.dumps(dict(span.attributes or {}), default=list)  # every value an OTel-valid scalar or sequence
    telemetry.span_exporter.clear()


@SETTINGS
@given(params=objects | converse_params, response=objects | converse_responses)
def test_converse_readers(params: dict[str, Any], response: dict[str, Any], telemetry: Telemetry) -> None:
    rec = recorder(telemetry)
    inv = Invocation("chat", "aws.bedrock", "m")
    converse.read_request(inv, params, True)
    rec.start(inv)
    converse.read_response(inv, response, True)
    finish(rec, inv, telemetry)


@SETTINGS
@given(events=converse_events)
def test_converse_stream_accumulator(events: list[dict[str, Any]], telemetry: Telemetry) -> None:
    rec = recorder(telemetry)
    inv = Invocation("chat", "aws.bedrock", "m", streaming=True)
    rec.start(inv)
    accumulator = converse.ConverseStreamAccumulator(rec.capture_content)
    for event in events:
        accumulator.add(event)
    accumulator.apply(inv)
    finish(rec, inv, telemetry)


@SETTINGS
@given(
    body=objects | invoke_bodies,
    response=objects | invoke_bodies,
    operation=st.sampled_from(["chat", "text_completion", "embeddings"]),
)
def test_invoke_readers(
    body: dict[str, Any], response: dict[str, Any], operation: str, telemetry: Telemetry
) -> None:
    rec = recorder(telemetry)
    inv = Invocation(operation, "aws.bedrock", "anthropic.m" if "anthropic_version" in body else "m")
    invoke.read_request(inv, body, True)
    rec.start(inv)
    invoke.read_response(inv, response, True).apply(inv)
    invoke.header_usage({k: str(v) for k, v in response.items()}).apply_billed(inv)
    finish(rec, inv, telemetry)


@SETTINGS
@given(
    chunks=st.lists(objects | invoke_bodies | converse_events.map(lambda e: e[0] if e else {}), max_size=6)
)
def test_invoke_stream_accumulator(chunks: list[dict[str, Any]], telemetry: Telemetry) -> None:
    rec = recorder(telemetry)
    inv = Invocation("chat", "aws.bedrock", "m", streaming=True)
    rec.start(inv)
    accumulator = invoke.InvokeStreamAccumulator(rec.capture_content)
    for chunk in chunks:
        accumulator.add({"chunk": {"bytes": json.dumps(chunk, default=str).encode()}})
    accumulator.add({"chunk": {"bytes": b"not json"}})
    accumulator.add({"internalServerException": {}})
    accumulator.apply(inv)
    finish(rec, inv, telemetry)


@SETTINGS
@given(trace=guardrail_trace, intervened=st.none() | st.booleans())
def test_guardrail_traces(trace: Any, intervened: bool | None, telemetry: Telemetry) -> None:
    rec = recorder(telemetry)
    inv = Invocation("chat", "aws.bedrock", "m")
    rec.start(inv)
    verdict = Verdict()
    verdict.intervened = intervened
    verdict.read_trace(trace)
    verdict.apply(inv)
    finish(rec, inv, telemetry)


@SETTINGS
@given(
    model_id=st.text(max_size=40)
    | st.sampled_from(["arn:", "arn:aws:bedrock:::/", "us.", "us..x", "arn:a:b:c:d:e"])
)
def test_readable_name(model_id: str) -> None:
    name = readable_name(model_id)
    assert isinstance(name, str)
    assert name in model_id
