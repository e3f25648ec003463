"""A long conversation with content capture stays under the span attribute limit without a log flood."""

from __future__ import annotations

import logging
from typing import Any

import openai
import pytest

from otel_genai.local.simulator import Simulator


def conversation(n: int) -> list[dict[str, str]]:
    roles = ("user", "assistant")
    return [{"role": roles[i % 2], "content": f"message number {i}"} for i in range(n - 1)] + [
        {"role": "user", "content": "the last question"}
    ]


def test_hundred_messages_three_calls_log_nothing(instrument: Any, caplog: pytest.LogCaptureFixture) -> None:
    telemetry = instrument(capture_message_content="SPAN_ONLY")
    with caplog.at_level(logging.WARNING), Simulator() as sim:
        client = openai.OpenAI(base_url=sim.base_url, api_key="sk-test-limit", max_retries=0)
        for _ in range(3):
            client.chat.completions.create(model="gpt-4o-mini", messages=conversation(100))  # type: ignore[arg-type]
    assert [r.getMessage() for r in caplog.records if "Attributes dict is full" in r.getMessage()] == []
    spans = telemetry.spans()
    assert len(spans) == 3
    for span in spans:
        attributes = dict(span.attributes or {})
        assert len(attributes) <= 128
        assert span.dropped_attributes == 0
        # identity, usage and the semconv content are all kept; the newest legacy messages too
        for key in ("gen_ai.operation.name", "gen_ai.request.model", "gen_ai.usage.input_tokens"):
            assert key in attributes
        assert "gen_ai.input.messages" in attributes
        assert attributes["gen_ai.prompt.99.content"] == "the last question"
        assert attributes["gen_ai.completion.0.role"] == "assistant"
        assert "gen_ai.prompt.0.content" not in attributes  # the oldest went first, as the SDK would


def test_short_conversation_keeps_every_legacy_attribute(instrument: Any) -> None:
    telemetry = instrument(capture_message_content="SPAN_ONLY")
    with Simulator() as sim:
        client = openai.OpenAI(base_url=sim.base_url, api_key="sk-test-limit", max_retries=0)
        client.chat.completions.create(model="gpt-4o-mini", messages=conversation(5))  # type: ignore[arg-type]
    attributes = dict(telemetry.span().attributes or {})
    assert [attributes[f"gen_ai.prompt.{i}.content"] for i in range(5)] == [
        *[f"message number {i}" for i in range(4)],
        "the last question",
    ]
