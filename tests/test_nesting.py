"""One model call = one inference span and one set of token metrics, however many layers see it.

A framework layer (LangChain, later) opens the inference first; the client hook inside it must enrich
that span instead of opening a second one.
"""

from __future__ import annotations

import json
from typing import Any

import openai
from opentelemetry.trace import SpanKind

from conftest import API_KEY, kwargs_for
from otel_genai.config import Settings
from otel_genai.core.invocation import Invocation
from otel_genai.core.recorder import Recorder, active_invocation
from replay import RECORDINGS_DIR

NAME = "openai/chat_basic_gpt4o_mini.json"


def test_client_call_inside_an_open_inference_enriches_it(instrument: Any, replay: Any) -> None:
    telemetry = instrument()
    server = replay(NAME)
    recorded = json.loads((RECORDINGS_DIR / NAME).read_text())["interactions"][0]
    outer_recorder = Recorder(
        Settings.resolve({}, env={}), telemetry.tracer_provider, telemetry.meter_provider
    )
    outer = Invocation("chat", "openai")  # what a framework knows before the client runs: no model yet
    outer.attributes["traceloop.workflow.name"] = "my_chain"
    outer_recorder.start(outer)
    assert active_invocation() is outer

    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=API_KEY, max_retries=0)
    result = client.chat.completions.create(**kwargs_for(recorded["request"]["json"]))
    assert telemetry.spans() == []  # the client layer opened nothing of its own
    outer_recorder.finish(outer)

    span = telemetry.span()
    usage = recorded["response"]["json"]["usage"]
    assert span.name == "chat gpt-4o-mini"  # renamed once the client layer named the model
    assert span.kind is SpanKind.CLIENT
    attributes = dict(span.attributes or {})
    assert attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert attributes["server.address"] == "127.0.0.1"
    assert attributes["gen_ai.usage.input_tokens"] == usage["prompt_tokens"] == result.usage.prompt_tokens
    assert attributes["traceloop.workflow.name"] == "my_chain"
    tokens = telemetry.metrics()["gen_ai.client.token.usage"]
    assert sorted((p.attributes["gen_ai.token.type"], p.count, p.sum) for p in tokens) == [
        ("input", 1, usage["prompt_tokens"]),
        ("output", 1, usage["completion_tokens"]),
    ]


def test_without_an_open_inference_the_client_opens_its_own(instrument: Any, replay: Any) -> None:
    telemetry = instrument()
    server = replay(NAME)
    recorded = json.loads((RECORDINGS_DIR / NAME).read_text())["interactions"][0]
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=API_KEY, max_retries=0)
    client.chat.completions.create(**kwargs_for(recorded["request"]["json"]))
    assert [s.name for s in telemetry.spans()] == ["chat gpt-4o-mini"]
    assert active_invocation() is None  # the call left no inference open in the caller's context
