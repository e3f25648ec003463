"""The Bedrock hook itself: ApplyGuardrail, which calls it traces (and which not), uninstrument, lazy
patching of botocore and aiobotocore, and coexistence with opentelemetry-instrumentation-botocore."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import boto3
import botocore.client
import pytest
from botocore.exceptions import ClientError

import otel_genai
from bedrock_support import (
    ALL,
    MODES,
    base_attributes,
    call_of,
    check_metrics,
    check_span,
    interactions,
    perform_sync,
    replay_all,
    span_attributes,
    sync_client,
)
from conftest import Telemetry
from replay import ReplayServer
from test_bedrock_converse import CONVERSE
from test_bedrock_converse import expected as converse_expected
from test_bedrock_invoke import INVOKE

GUARDRAIL = "apply_guardrail_intervened"


def test_every_bedrock_recording_has_a_test() -> None:
    assert set(ALL) == {*CONVERSE, *INVOKE, GUARDRAIL}


# --- ApplyGuardrail -----------------------------------------------------------------------------------


def guardrail_attributes(server: ReplayServer) -> dict[str, Any]:
    attributes = base_attributes(server, "apply_guardrail", None, None, False)
    attributes.update(
        {
            "aws.bedrock.guardrail.id": "274u1upxm897",
            "aws.bedrock.guardrail.version": "1",
            "aws.bedrock.guardrail.source": "INPUT",
            "aws.bedrock.guardrail.intervened": True,
            # the topic was BLOCKED, the e-mail address BLOCKED; every content filter said NONE
            "aws.bedrock.guardrail.policies": ("denied_topic", "sensitive_information"),
            "aws.bedrock.guardrail.denied_topics": ("InvestmentObjectives",),
            "aws.bedrock.guardrail.sensitive_information": ("EMAIL",),
        }
    )
    return attributes


@MODES
async def test_apply_guardrail_span(
    is_async: bool, instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    """ApplyGuardrail has its own span: guardrail, verdict, fired policies, an activation per policy type."""
    if is_async:
        pytest.importorskip("aiobotocore")
    telemetry = instrument()
    server = replay(f"bedrock/{GUARDRAIL}.json")
    [result] = await replay_all(server, GUARDRAIL, is_async)
    assert result.response["action"] == "GUARDRAIL_INTERVENED"
    span = telemetry.span()
    check_span(span, "apply_guardrail")
    want = guardrail_attributes(server)
    assert span_attributes(span, streaming=False) == want
    check_metrics(telemetry, want, streaming=False, guardrail={"denied_topic": 1, "sensitive_information": 1})
    assert "abc@pqrt.com" not in json.dumps(dict(span.attributes))  # what the guardrail matched is content


def test_apply_guardrail_content(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    """With content capture: the guarded text in, the guardrail's replacement out (``content_filter``)."""
    telemetry = instrument(capture_message_content="SPAN_ONLY")
    server = replay(f"bedrock/{GUARDRAIL}.json")
    perform_sync(sync_client(server), call_of(interactions(GUARDRAIL)[0]))
    attributes = telemetry.span().attributes
    checked = interactions(GUARDRAIL)[0]["request"]["json"]["content"][0]["text"]["text"]
    assert json.loads(attributes["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": checked}]}
    ]
    assert json.loads(attributes["gen_ai.output.messages"]) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Sorry, the model cannot answer this question."}],
            "finish_reason": "content_filter",
        }
    ]


# --- which calls are traced ---------------------------------------------------------------------------


def test_other_services_are_not_traced(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    """Only bedrock-runtime operations make spans: the Bedrock control plane (same hook) makes none."""
    telemetry = instrument()
    server = replay()
    client = boto3.client(
        "bedrock",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    with pytest.raises(ClientError):
        client.list_foundation_models()  # unmatched on the replay server: a 599
    assert telemetry.spans() == []
    assert telemetry.metrics() == {}


def test_uninstrument_restores_botocore(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    original = botocore.client.BaseClient.__dict__["_make_api_call"]
    telemetry = instrument()
    assert botocore.client.BaseClient.__dict__["_make_api_call"] is not original
    otel_genai.uninstrument()
    assert botocore.client.BaseClient.__dict__["_make_api_call"] is original
    server = replay("bedrock/converse_claude_v2.json")
    perform_sync(sync_client(server), call_of(interactions("converse_claude_v2")[0]))
    assert telemetry.spans() == []


def test_disabled_bedrock_instrumentation(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    original = botocore.client.BaseClient.__dict__["_make_api_call"]
    instrument(disabled_instrumentations="bedrock")
    assert botocore.client.BaseClient.__dict__["_make_api_call"] is original


LAZY = """
import sys
import otel_genai
otel_genai.init(traces_exporter="none", metrics_exporter="none", logs_exporter="none")
assert "botocore" not in sys.modules, "init() imported botocore"

def patched(cls):
    return type(cls.__dict__["_make_api_call"]).__name__ == "FunctionWrapper"

import botocore.client
assert patched(botocore.client.BaseClient), "botocore imported after init(): not patched"
import aiobotocore.client
assert patched(aiobotocore.client.AioBaseClient), "aiobotocore imported after init(): not patched"
otel_genai.shutdown()
assert not patched(botocore.client.BaseClient) and not patched(aiobotocore.client.AioBaseClient)
print("OK")
"""


def test_lazy_patching_of_botocore_and_aiobotocore() -> None:
    """init() imports neither library; each is patched when first imported, and unpatched by shutdown()."""
    pytest.importorskip("aiobotocore")
    env = {"PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", LAZY], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "OK"


# --- opentelemetry-instrumentation-botocore -------------------------------------------------------------


@pytest.fixture
def contrib(telemetry: Telemetry, instrument: Any) -> Any:  # after ``instrument``: torn down before it
    """The contrib botocore instrumentation, instrumented by the test and uninstrumented in the reverse order
    of wrapping (whichever wrapper is on top must come off first, or the one below stays in place)."""
    module = pytest.importorskip("opentelemetry.instrumentation.botocore")
    instrumentor = module.BotocoreInstrumentor()
    ours_first: list[bool] = []

    def start() -> None:
        ours_first.append(
            type(botocore.client.BaseClient.__dict__["_make_api_call"]).__name__ == "FunctionWrapper"
        )
        instrumentor.instrument(
            tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
        )

    original = botocore.client.BaseClient.__dict__["_make_api_call"]
    if type(original).__name__ == "FunctionWrapper":
        original = None  # already wrapped before the test: nothing to compare against
    yield start
    if ours_first and ours_first[0]:
        instrumentor.uninstrument()
        otel_genai.uninstrument()
    else:
        otel_genai.uninstrument()
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()
    if original is not None:
        assert botocore.client.BaseClient.__dict__["_make_api_call"] is original


@pytest.mark.parametrize("order", ["contrib_first", "otel_genai_first"])
def test_one_span_with_the_botocore_instrumentation(
    order: str, contrib: Any, instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    """Both hooks on ``_make_api_call``: a Bedrock call still makes exactly one span.

    Contrib inside ours (instrumented first): ours traces and runs the call with instrumentation suppressed.
    Contrib outside ours (instrumented later): its span is already open, so ours steps aside."""
    name = "converse_claude_v2"
    if order == "contrib_first":
        contrib()
        telemetry = instrument()
    else:
        telemetry = instrument()
        contrib()
    server = replay(f"bedrock/{name}.json", f"bedrock/{name}.json")
    client = sync_client(server)
    perform_sync(client, call_of(interactions(name)[0]))
    span = telemetry.span()
    if order == "contrib_first":
        assert span.instrumentation_scope.name == "otel_genai"
        assert span_attributes(span, streaming=False) == converse_expected(name, 0, server)
    else:
        assert span.instrumentation_scope.name.startswith("opentelemetry.instrumentation.botocore")
        assert span.name == "chat anthropic.claude-v2"
    telemetry.span_exporter.clear()
    perform_sync(client, call_of(interactions(name)[0]))
    assert len(telemetry.spans()) == 1


def test_wrapper_left_under_the_botocore_instrumentation_goes_quiet(
    contrib: Any, instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    """Uninstrumented while the contrib wrapper sits on top of ours, ours cannot be removed yet; it must then
    pass every call straight through (the contrib span is the only one), and come off with the contrib one."""
    telemetry = instrument()
    contrib()
    otel_genai.uninstrument()  # ours stays in place, under the contrib wrapper
    name = "converse_claude_v2"
    server = replay(f"bedrock/{name}.json")
    perform_sync(sync_client(server), call_of(interactions(name)[0]))
    [span] = telemetry.spans()
    assert span.instrumentation_scope.name.startswith("opentelemetry.instrumentation.botocore")
    # The contrib unwrap puts back the bound form of ours; nothing of ours is registered any more, so the
    # test removes it by hand (an application would simply keep a wrapper that does nothing).
    from opentelemetry.instrumentation.botocore import BotocoreInstrumentor

    BotocoreInstrumentor().uninstrument()
    left = botocore.client.BaseClient.__dict__["_make_api_call"]
    assert left._self_parent._self_wrapper.__qualname__ == "sync_wrapper.<locals>.wrapper"  # core/hooks.py
    botocore.client.BaseClient._make_api_call = left._self_parent.__wrapped__


# The Bedrock column of the Dynatrace attribute table (semconv.md section 10.1).
DYNATRACE_BEDROCK = {
    "gen_ai.completion.0.content",
    "gen_ai.completion.0.finish_reason",
    "gen_ai.completion.0.role",
    "gen_ai.prompt.0.content",
    "gen_ai.prompt.0.role",
    "gen_ai.request.max_tokens",
    "gen_ai.request.model",
    "gen_ai.request.temperature",
    "gen_ai.response.model",
    "gen_ai.system",
    "gen_ai.usage.completion_tokens",
    "gen_ai.usage.prompt_tokens",
    "llm.request.type",
}


@pytest.mark.parametrize(
    "name", ["converse_titan_text_lite", "converse_stream_titan_text_lite", "invoke_mistral_7b"]
)
def test_dynatrace_bedrock_table(
    name: str, instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    """With content capture on, a call that sets max_tokens and temperature carries every attribute of the
    table's Bedrock column, and the legacy values are the ones the dashboards expect."""
    telemetry = instrument(capture_message_content="SPAN_ONLY")
    server = replay(f"bedrock/{name}.json")
    perform_sync(sync_client(server), call_of(interactions(name)[0]))
    attributes = telemetry.span().attributes
    assert DYNATRACE_BEDROCK - set(attributes) == set()
    assert (attributes["gen_ai.system"], attributes["gen_ai.prompt.0.content"]) == (
        "aws.bedrock",
        "Say this is a test",
    )
    assert attributes["gen_ai.completion.0.role"] == "assistant"
