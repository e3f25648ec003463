"""A negative, fractional or absurd token count from a server is unknown: never an attribute or a point."""

from __future__ import annotations

import copy
import json
from typing import Any

import openai
import pytest

from conftest import API_KEY
from otel_genai.core.invocation import Invocation
from otel_genai.core.recorder import _drop_bad_counts
from replay import RECORDINGS_DIR

BASIC = json.loads((RECORDINGS_DIR / "openai/chat_basic_gpt4o_mini.json").read_text(encoding="utf-8"))


def with_usage(**usage: Any) -> dict[str, Any]:
    recording = copy.deepcopy(BASIC)
    recording["interactions"][0]["response"]["json"]["usage"].update(usage)
    return recording


@pytest.mark.parametrize(("prompt", "completion"), [(-5, 4), (12.5, 4), (2**60, 4)])
def test_bad_input_count_is_unknown(instrument: Any, replay: Any, prompt: Any, completion: int) -> None:
    telemetry = instrument()
    server = replay(with_usage(prompt_tokens=prompt, completion_tokens=completion))
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=API_KEY, max_retries=0)
    client.chat.completions.create(**BASIC["interactions"][0]["request"]["json"])
    attributes = dict(telemetry.span().attributes or {})
    assert "gen_ai.usage.input_tokens" not in attributes
    assert "gen_ai.usage.prompt_tokens" not in attributes
    assert "llm.usage.total_tokens" not in attributes
    assert attributes["gen_ai.usage.output_tokens"] == completion
    points = telemetry.metrics()["gen_ai.client.token.usage"]
    assert [(p.attributes["gen_ai.token.type"], p.sum) for p in points] == [("output", completion)]


def test_negative_output_count_never_makes_the_histogram_sum_negative(instrument: Any, replay: Any) -> None:
    telemetry = instrument()
    server = replay(with_usage(prompt_tokens=7, completion_tokens=-100))
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=API_KEY, max_retries=0)
    client.chat.completions.create(**BASIC["interactions"][0]["request"]["json"])
    points = telemetry.metrics()["gen_ai.client.token.usage"]
    assert [(p.attributes["gen_ai.token.type"], p.sum) for p in points] == [("input", 7)]


def test_only_non_negative_ints_are_counts() -> None:
    inv = Invocation("chat", "openai")
    inv.input_tokens, inv.output_tokens = 0, True
    inv.cache_read_tokens, inv.reasoning_tokens = -1, 1.0  # type: ignore[assignment]
    inv.cache_write_tokens = 5
    _drop_bad_counts(inv)
    assert (inv.input_tokens, inv.output_tokens, inv.cache_read_tokens, inv.reasoning_tokens) == (
        0,
        None,
        None,
        None,
    )
    assert inv.cache_write_tokens == 5
