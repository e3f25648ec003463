"""The audit trail (one OTLP log record per model call), and redaction of content before it is recorded.

In process through the SDK's in-memory exporters; ``test_audit_and_masking_on_the_wire`` runs a separate
process against the OTLP/HTTP receiver and checks the decoded protobuf and the raw exported bytes.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import openai
import pytest
from opentelemetry.proto.metrics.v1.metrics_pb2 import AGGREGATION_TEMPORALITY_DELTA
from opentelemetry.sdk.trace import TracerProvider, sampling
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

import otel_genai
from conftest import API_KEY, Telemetry
from otel_genai import semconv as sc
from otel_genai.core import redaction
from otlp_receiver import OtlpReceiver, attrs_to_dict
from replay import RECORDINGS_DIR, ReplayServer

needs_prices = pytest.mark.skipif(
    importlib.util.find_spec("genai_prices") is None, reason="genai-prices needs Python 3.11"
)
BASIC = "openai/chat_basic_gpt4o_mini.json"
RECORDED = json.loads((RECORDINGS_DIR / BASIC).read_text())["interactions"][0]
BODY = RECORDED["request"]["json"]
ANSWER = RECORDED["response"]["json"]["choices"][0]["message"]["content"]


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _call(server: ReplayServer, body: dict[str, Any] = BODY) -> Any:
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=API_KEY, max_retries=0)
    return client.chat.completions.create(**body)


def _audits(telemetry: Telemetry) -> list[Any]:
    return [r for r in telemetry.logs() if r.event_name == sc.EVENT_AUDIT]


@needs_prices
def test_one_audit_record_per_call(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    telemetry = instrument(audit=True, cost=True, service_name="audited")
    server = replay(BASIC)
    with otel_genai.association_properties(user_id="u-7", session_id="ticket-42"):
        _call(server)
    span = telemetry.span()
    [record] = _audits(telemetry)
    attributes = dict(record.attributes)
    usage = RECORDED["response"]["json"]["usage"]
    [message] = BODY["messages"]
    assert attributes == {
        "event.type": "gen_ai.auditing",
        "service.name": "audited",
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": BODY["model"],
        "gen_ai.response.model": RECORDED["response"]["json"]["model"],
        "gen_ai.response.id": RECORDED["response"]["json"]["id"],
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": usage["prompt_tokens"],
        "gen_ai.usage.output_tokens": usage["completion_tokens"],
        "gen_ai.usage.cache_read.input_tokens": usage["prompt_tokens_details"]["cached_tokens"],
        "gen_ai.usage.reasoning.output_tokens": usage["completion_tokens_details"]["reasoning_tokens"],
        "gen_ai.usage.cost": span.attributes[sc.USAGE_COST],
        "gen_ai.usage.cache_savings": 0.0,
        "server.address": "127.0.0.1",
        "user.id": "u-7",
        "gen_ai.conversation.id": "ticket-42",
        "traceloop.association.properties.session_id": "ticket-42",
        "traceloop.association.properties.user_id": "u-7",
        "trace_id": format(span.context.trace_id, "032x"),
        "span_id": format(span.context.span_id, "016x"),
        # the digests of the messages in semconv form, without holding their text
        "gen_ai.input.messages.sha256": _digest(
            [{"role": message["role"], "parts": [{"type": "text", "content": message["content"]}]}]
        ),
        "gen_ai.output.messages.sha256": _digest(
            [{"role": "assistant", "parts": [{"type": "text", "content": ANSWER}], "finish_reason": "stop"}]
        ),
    }
    assert record.trace_id == span.context.trace_id and record.span_id == span.context.span_id
    assert record.severity_text is None or record.severity_text == "INFO"
    # content capture is off: the digests needed the text, the span and the record still hold none of it
    assert sc.INPUT_MESSAGES not in span.attributes and sc.OUTPUT_MESSAGES not in span.attributes


def test_failed_call_is_audited_with_its_error(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    telemetry = instrument(audit=True)
    server = replay("openai/chat_error_404_model_not_found.json")
    body = json.loads((RECORDINGS_DIR / "openai/chat_error_404_model_not_found.json").read_text())
    with pytest.raises(openai.NotFoundError):
        _call(server, body["interactions"][0]["request"]["json"])
    [record] = _audits(telemetry)
    assert record.attributes["error.type"] == "model_not_found"
    assert sc.USAGE_COST not in record.attributes


@needs_prices
def test_audit_and_metrics_do_not_depend_on_sampling(
    telemetry: Telemetry, instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    telemetry.tracer_provider = TracerProvider(sampler=sampling.ALWAYS_OFF)
    telemetry.tracer_provider.add_span_processor(SimpleSpanProcessor(telemetry.span_exporter))
    instrument(audit=True, cost=True)
    _call(replay(BASIC))
    assert telemetry.spans() == []  # sampled out
    [record] = _audits(telemetry)
    assert (
        record.attributes["gen_ai.usage.output_tokens"]
        == RECORDED["response"]["json"]["usage"]["completion_tokens"]
    )
    assert record.attributes[sc.USAGE_COST] > 0
    metrics = telemetry.metrics(features=True)
    assert [p.value for p in metrics[sc.METRIC_COST]] == [record.attributes[sc.USAGE_COST]]
    assert {p.attributes[sc.TOKEN_TYPE] for p in metrics[sc.METRIC_TOKEN_USAGE]} == {"input", "output"}


def test_no_audit_by_default(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    telemetry = instrument()
    _call(replay(BASIC))
    assert _audits(telemetry) == []


def test_audit_with_content_capture_holds_the_text(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    telemetry = instrument(audit=True, capture_message_content="SPAN_ONLY")
    _call(replay(BASIC))
    [record] = _audits(telemetry)
    assert (
        json.loads(record.attributes[sc.INPUT_MESSAGES])[0]["parts"][0]["content"]
        == BODY["messages"][0]["content"]
    )
    assert json.loads(record.attributes[sc.OUTPUT_MESSAGES])[0]["parts"][0]["content"] == ANSWER


# --- redaction -------------------------------------------------------------------------------------

PII = (
    "Mail jane.doe@example.com or call +1 415-555-0134; card 4111 1111 1111 1111; "
    "key sk-proj-AbCdEf0123456789XyZ"
)
NOT_A_CARD = "order 4111 1111 1111 1112"  # fails the Luhn check: kept


def test_builtin_masks() -> None:
    assert redaction.mask(PII) == "Mail [EMAIL] or call [PHONE]; card [CARD]; key [SECRET]"
    assert redaction.mask(NOT_A_CARD) == NOT_A_CARD
    assert redaction.mask("AWS AKIAIOSFODNN7EXAMPLE here") == "AWS [SECRET] here"
    assert redaction.mask("the year 2024 and 3 apples") == "the year 2024 and 3 apples"
    assert redaction.mask("released 2024-07-18") == "released 2024-07-18"
    assert redaction.mask("(415) 555-0134") == "[PHONE]"


def test_redact_hook_applies_to_span_event_and_audit(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    telemetry = instrument(
        audit=True, capture_message_content="SPAN_AND_EVENT", redact=lambda text: text.replace("test", "[X]")
    )
    _call(replay(BASIC))
    span = telemetry.span()
    everything = json.dumps(
        [dict(span.attributes)] + [dict(r.attributes) for r in telemetry.logs()], default=str
    )
    assert "test" not in everything.replace("sk-test", "")  # the API key constant is checked elsewhere
    assert "[X]" in span.attributes[sc.INPUT_MESSAGES] and "[X]" in span.attributes[sc.OUTPUT_MESSAGES]


def test_failing_redact_hook_drops_the_content(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    def broken(text: str) -> str:
        raise RuntimeError("no")

    telemetry = instrument(capture_message_content="SPAN_ONLY", redact=broken)
    result = _call(replay(BASIC))
    assert result.choices[0].message.content == ANSWER  # the user's call is untouched
    assert sc.INPUT_MESSAGES not in telemetry.span().attributes


E2E_APP = """
import json, sys
import otel_genai
otel_genai.init()
import openai
client = openai.OpenAI(base_url=sys.argv[1], api_key="sk-test-e2e", max_retries=0)
print(client.chat.completions.create(**json.loads(sys.argv[2])).choices[0].message.content)
"""


@needs_prices
def test_audit_and_masking_on_the_wire() -> None:
    """A user's process configured by variables only: the audit record and the cost metric (DELTA) reach
    the OTLP/HTTP receiver, and no masked value is anywhere in the exported bytes."""
    body = {**BODY, "messages": [{"role": "user", "content": PII}]}
    with OtlpReceiver() as receiver, ReplayServer(BASIC) as replay:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_"))}
        env.update(
            OTEL_SERVICE_NAME="audit-e2e",
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
            OTEL_GENAI_AUDIT="true",
            OTEL_GENAI_MASK_CONTENT="true",
            OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="SPAN_AND_EVENT",
        )
        process = subprocess.run(
            [sys.executable, "-c", E2E_APP, f"{replay.url}/v1", json.dumps(body)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert process.returncode == 0, process.stderr
    assert process.stdout.strip() == ANSWER
    [record] = [r for r in receiver.log_records() if r.event_name == sc.EVENT_AUDIT]
    attributes = attrs_to_dict(record.attributes)
    assert attributes["event.type"] == "gen_ai.auditing"
    assert attributes["service.name"] == "audit-e2e"
    [span] = receiver.spans()
    assert record.trace_id == span.trace_id and record.span_id == span.span_id
    assert attributes[sc.USAGE_COST] == attrs_to_dict(span.attributes)[sc.USAGE_COST] > 0
    masked = "Mail [EMAIL] or call [PHONE]; card [CARD]; key [SECRET]"
    assert json.loads(attributes[sc.INPUT_MESSAGES])[0]["parts"][0]["content"] == masked
    [cost] = [m for m in receiver.metrics() if m.name == sc.METRIC_COST]
    assert cost.unit == "USD"
    assert cost.sum.aggregation_temporality == AGGREGATION_TEMPORALITY_DELTA and cost.sum.is_monotonic
    assert [p.as_double for p in cost.sum.data_points] == [attributes[sc.USAGE_COST]]
    raw = b"".join(body for _, body in receiver.raw_bodies)
    for secret in (
        "jane.doe@example.com",
        "415-555-0134",
        "4111 1111 1111 1111",
        "sk-proj-AbCdEf0123456789XyZ",
    ):
        assert secret.encode() not in raw, secret
    assert b"[EMAIL]" in raw  # the masked text itself was exported (capture is on)


def test_bad_redact_setting_warns(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from otel_genai.config import Settings

    with caplog.at_level(logging.WARNING, logger="otel_genai"):
        settings = Settings.resolve({"redact": "not callable"}, env={})
    assert settings.redact is None
    assert any("init(redact=...)" in r.getMessage() for r in caplog.records)


def test_masks_apply_to_tool_arguments_and_results(instrument: Callable[..., Telemetry]) -> None:
    telemetry = instrument(capture_message_content="SPAN_ONLY", mask_content=True)

    @otel_genai.tool
    def lookup(email: str) -> dict[str, str]:
        return {"owner": email, "card": "4111 1111 1111 1111"}

    assert lookup("jane.doe@example.com") == {"owner": "jane.doe@example.com", "card": "4111 1111 1111 1111"}
    attributes = dict(telemetry.span().attributes)
    assert json.loads(attributes[sc.TOOL_CALL_ARGUMENTS]) == {"email": "[EMAIL]"}
    assert json.loads(attributes[sc.TOOL_CALL_RESULT]) == {"owner": "[EMAIL]", "card": "[CARD]"}
    assert "jane.doe" not in json.dumps(attributes)
