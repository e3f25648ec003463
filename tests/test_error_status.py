"""The span is ERROR whenever the user's call ends in an exception, on the two paths that missed it:
``with_raw_response...parse()`` of a malformed body, and the ``.stream()`` helper on a chunk it rejects."""

from __future__ import annotations

import copy
import json
from typing import Any

import openai
import pytest
from opentelemetry.trace import StatusCode

from conftest import API_KEY, chat_helpers
from replay import RECORDINGS_DIR

BASIC_PATH = "openai/chat_basic_gpt4o_mini.json"
STREAM_PATH = "openai/chat_stream_include_usage_gpt4.json"


def load(path: str) -> dict[str, Any]:
    return json.loads((RECORDINGS_DIR / path).read_text(encoding="utf-8"))


def malformed_body() -> dict[str, Any]:
    recording = copy.deepcopy(load(BASIC_PATH))
    response = recording["interactions"][0]["response"]
    response.pop("json", None)
    response["text"] = '{"id": "chatcmpl-x", "choices": ['  # cut off: not JSON
    return recording


def wrong_chunk_stream() -> dict[str, Any]:
    recording = copy.deepcopy(load(STREAM_PATH))
    response = recording["interactions"][0]["response"]
    first = response["text"].split("\n\n", 1)[0]
    response["text"] = first + '\n\ndata: {"id": "x", "object": "chat.completion.chunk", "choices": 7}\n\n'
    return recording


def body(path: str) -> dict[str, Any]:
    request = load(path)["interactions"][0]["request"]["json"]
    return {k: v for k, v in request.items() if k not in ("stream", "stream_options")}


def test_raw_response_parse_of_malformed_json_is_an_error(instrument: Any, replay: Any) -> None:
    telemetry = instrument()
    server = replay(malformed_body())
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=API_KEY, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(**body(BASIC_PATH))
    with pytest.raises(json.JSONDecodeError):
        raw.parse()
    span = telemetry.span()
    assert span.status.status_code is StatusCode.ERROR
    assert dict(span.attributes or {})["error.type"] == "json.decoder.JSONDecodeError"


async def test_async_raw_response_parse_of_malformed_json_is_an_error(instrument: Any, replay: Any) -> None:
    telemetry = instrument()
    server = replay(malformed_body())
    client = openai.AsyncOpenAI(base_url=server.url + "/v1", api_key=API_KEY, max_retries=0)
    raw = await client.chat.completions.with_raw_response.create(**body(BASIC_PATH))
    with pytest.raises(json.JSONDecodeError):
        raw.parse()
    assert telemetry.span().status.status_code is StatusCode.ERROR


def test_good_raw_response_is_still_ok(instrument: Any, replay: Any) -> None:
    telemetry = instrument()
    server = replay(BASIC_PATH)
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=API_KEY, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(**body(BASIC_PATH))
    assert raw.parse().choices[0].message.content == "This is a test."
    span = telemetry.span()
    assert span.status.status_code is StatusCode.UNSET
    assert dict(span.attributes or {})["gen_ai.usage.output_tokens"] == 5


def test_stream_helper_rejecting_a_chunk_is_an_error(instrument: Any, replay: Any) -> None:
    telemetry = instrument()
    server = replay(wrong_chunk_stream())
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=API_KEY, max_retries=0)
    with (
        pytest.raises(Exception) as info,
        chat_helpers(client).stream(**body(STREAM_PATH)) as stream,
    ):
        for _ in stream:
            pass
    assert not isinstance(info.value, openai.APIError)  # the helper's own complaint about the chunk
    span = telemetry.span()
    assert span.status.status_code is StatusCode.ERROR
    assert dict(span.attributes or {})["error.type"] == type(info.value).__qualname__ or "." in str(
        dict(span.attributes or {})["error.type"]
    )


async def test_async_stream_helper_rejecting_a_chunk_is_an_error(instrument: Any, replay: Any) -> None:
    telemetry = instrument()
    server = replay(wrong_chunk_stream())
    client = openai.AsyncOpenAI(base_url=server.url + "/v1", api_key=API_KEY, max_retries=0)
    with pytest.raises(Exception) as info:
        async with chat_helpers(client).stream(**body(STREAM_PATH)) as stream:
            async for _ in stream:
                pass
    assert not isinstance(info.value, openai.APIError)
    assert telemetry.span().status.status_code is StatusCode.ERROR
