"""Message content and privacy for OpenAI Chat Completions, through the real client against recordings.

Content is opt-in (``capture_message_content``): nothing by default; JSON strings on the span per the semconv
message schema (plus the legacy ``gen_ai.prompt.N``/``gen_ai.completion.N`` names); structured values on the
``gen_ai.client.inference.operation.details`` event. Expected messages are written out from the recordings.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import openai
import pytest
from opentelemetry._logs import SeverityNumber

from conftest import API_KEY, Telemetry, kwargs_for
from openai_support import body_of, expected_attributes, load, new_client, sse_chunks
from replay import ReplayServer

ROUNDTRIP = "chat_tool_call_roundtrip"
CONTENT_KEYS = frozenset(
    {
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "gen_ai.tool.definitions",
    }
)
LEGACY_KEYS = frozenset(
    {
        "gen_ai.system",
        "llm.request.type",
        "llm.usage.total_tokens",
        "llm.is_streaming",
        "gen_ai.usage.prompt_tokens",
        "gen_ai.usage.completion_tokens",
        "gen_ai.openai.api_base",
        "gen_ai.openai.system_fingerprint",
    }
)
EVENT_NAME = "gen_ai.client.inference.operation.details"


def text(content: str) -> dict[str, Any]:
    return {"type": "text", "content": content}


def call(call_id: str, location: str) -> dict[str, Any]:
    return {
        "type": "tool_call",
        "id": call_id,
        "name": "get_current_weather",
        "arguments": {"location": location},
    }


def result(call_id: str, response: str) -> dict[str, Any]:
    return {"type": "tool_call_response", "id": call_id, "response": response}


# chat_tool_call_roundtrip, written out from the recorded requests and responses.
SEATTLE, SAN_FRANCISCO = "call_JpNb8OiAkbIbHzDggfpdDHpi", "call_vaFQc3zK6hHTRZKXRI5Eo2cJ"
SYSTEM_TEXT = "You're a helpful assistant."
USER_TEXT = "What's the weather in Seattle and San Francisco today?"
FINAL_TEXT = (
    "Today, the weather in Seattle is 50 degrees and raining, "
    "while in San Francisco, it's 70 degrees and sunny."
)
SYSTEM = {"role": "system", "parts": [text(SYSTEM_TEXT)]}
USER = {"role": "user", "parts": [text(USER_TEXT)]}
CALLS = [call(SEATTLE, "Seattle, WA"), call(SAN_FRANCISCO, "San Francisco, CA")]
ROUNDTRIP_INPUT = [
    [SYSTEM, USER],
    [
        SYSTEM,
        USER,
        {"role": "assistant", "parts": CALLS},
        {"role": "tool", "parts": [result(SEATTLE, "50 degrees and raining")]},
        {"role": "tool", "parts": [result(SAN_FRANCISCO, "70 degrees and sunny")]},
    ],
]
ROUNDTRIP_OUTPUT = [
    [{"role": "assistant", "parts": CALLS, "finish_reason": "tool_call"}],
    [{"role": "assistant", "parts": [text(FINAL_TEXT)], "finish_reason": "stop"}],
]
ROUNDTRIP_TOOLS = [[{"type": "function", "name": "get_current_weather"}], None]  # only call 1 offers tools
ROUNDTRIP_LEGACY = [
    {
        "gen_ai.prompt.0.role": "system",
        "gen_ai.prompt.0.content": SYSTEM_TEXT,
        "gen_ai.prompt.1.role": "user",
        "gen_ai.prompt.1.content": USER_TEXT,
        "gen_ai.completion.0.role": "assistant",
        "gen_ai.completion.0.finish_reason": "tool_call",
        "gen_ai.completion.0.tool_calls.0.id": SEATTLE,
        "gen_ai.completion.0.tool_calls.0.name": "get_current_weather",
        "gen_ai.completion.0.tool_calls.0.arguments": '{"location":"Seattle, WA"}',
        "gen_ai.completion.0.tool_calls.1.id": SAN_FRANCISCO,
        "gen_ai.completion.0.tool_calls.1.name": "get_current_weather",
        "gen_ai.completion.0.tool_calls.1.arguments": '{"location":"San Francisco, CA"}',
    },
    {
        "gen_ai.prompt.0.role": "system",
        "gen_ai.prompt.0.content": SYSTEM_TEXT,
        "gen_ai.prompt.1.role": "user",
        "gen_ai.prompt.1.content": USER_TEXT,
        "gen_ai.prompt.2.role": "assistant",
        "gen_ai.prompt.2.tool_calls.0.id": SEATTLE,
        "gen_ai.prompt.2.tool_calls.0.name": "get_current_weather",
        "gen_ai.prompt.2.tool_calls.0.arguments": '{"location":"Seattle, WA"}',
        "gen_ai.prompt.2.tool_calls.1.id": SAN_FRANCISCO,
        "gen_ai.prompt.2.tool_calls.1.name": "get_current_weather",
        "gen_ai.prompt.2.tool_calls.1.arguments": '{"location":"San Francisco, CA"}',
        "gen_ai.prompt.3.role": "tool",
        "gen_ai.prompt.3.content": "50 degrees and raining",
        "gen_ai.prompt.3.tool_call_id": SEATTLE,
        "gen_ai.prompt.4.role": "tool",
        "gen_ai.prompt.4.content": "70 degrees and sunny",
        "gen_ai.prompt.4.tool_call_id": SAN_FRANCISCO,
        "gen_ai.completion.0.role": "assistant",
        "gen_ai.completion.0.content": FINAL_TEXT,
        "gen_ai.completion.0.finish_reason": "stop",
    },
]


def compact(value: Any) -> str:
    """JSON as the semconv Python util writes it on spans: compact separators, non-ASCII kept."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def content_of(attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in attributes.items()
        if k in CONTENT_KEYS or k.startswith(("gen_ai.prompt.", "gen_ai.completion."))
    }


def plain(value: Any) -> Any:
    """An event attribute as plain JSON-like data (the SDK stores sequences as tuples)."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def semconv_content(inputs: list[Any], outputs: list[Any], tools: list[Any] | None = None) -> dict[str, Any]:
    content = {"gen_ai.input.messages": inputs, "gen_ai.output.messages": outputs}
    if tools:
        content["gen_ai.tool.definitions"] = tools
    return content


@pytest.fixture
def sync_client() -> Iterator[Callable[[str], openai.OpenAI]]:
    made: list[openai.OpenAI] = []

    def make(url: str) -> openai.OpenAI:
        made.append(new_client(url, False))
        return made[-1]

    yield make
    for client in made:
        client.close()


def run_recording(name: str, server: ReplayServer, client: openai.OpenAI) -> list[Any]:
    """Replay every recorded request of ``name``; streams are consumed."""
    results = []
    for interaction in load(name)["interactions"]:
        body = interaction["request"]["json"]
        response = client.chat.completions.create(**kwargs_for(body))
        results.append(list(response) if body.get("stream") else response)
    server.assert_all_served()
    return results


def span_attributes(telemetry: Telemetry) -> list[dict[str, Any]]:
    """Each span's attributes, without the (timing) time_to_first_chunk."""
    spans = []
    for span in telemetry.spans():
        attributes = dict(span.attributes or {})
        attributes.pop("gen_ai.response.time_to_first_chunk", None)
        spans.append(attributes)
    return spans


# --- default: nothing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        ROUNDTRIP,
        "chat_basic_gpt4o_mini",
        "chat_stream_tool_calls_include_usage",
        "chat_stream_n2_include_usage",
        "chat_vision_image_url_finish_length",
    ],
)
def test_no_content_by_default(
    name: str,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    sync_client: Callable[[str], openai.OpenAI],
) -> None:
    """Without the keyword no message attribute of either family is set, and no event is emitted."""
    telemetry = instrument()
    server = replay(f"openai/{name}.json")
    run_recording(name, server, sync_client(server.url + "/v1"))
    spans = span_attributes(telemetry)
    assert [content_of(a) for a in spans] == [{} for _ in spans]
    assert spans == [expected_attributes(name, i, server) for i in range(len(spans))]
    assert telemetry.logs() == []


# --- SPAN_ONLY -------------------------------------------------------------------------------------


def test_span_only_tool_round_trip(
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    sync_client: Callable[[str], openai.OpenAI],
) -> None:
    """Semconv JSON (system message kept in input, tool calls with object arguments, tool_call_response parts)
    and the legacy indexed names; everything else on the span is unchanged and no event is emitted."""
    telemetry = instrument(capture_message_content="SPAN_ONLY")
    server = replay(f"openai/{ROUNDTRIP}.json")
    run_recording(ROUNDTRIP, server, sync_client(server.url + "/v1"))
    spans = span_attributes(telemetry)
    assert len(spans) == 2
    for index, attributes in enumerate(spans):
        content = semconv_content(ROUNDTRIP_INPUT[index], ROUNDTRIP_OUTPUT[index], ROUNDTRIP_TOOLS[index])
        expected = {k: compact(v) for k, v in content.items()} | ROUNDTRIP_LEGACY[index]
        assert content_of(attributes) == expected
        assert "gen_ai.system_instructions" not in attributes  # a system message is part of the history
        rest = {k: v for k, v in attributes.items() if k not in expected}
        assert rest == expected_attributes(ROUNDTRIP, index, server)
    assert telemetry.logs() == []


def _fold_stream(name: str) -> tuple[list[str], dict[int, list[list[str]]]]:
    """Per choice: the concatenated text, and each tool call's [id, name, arguments] from the SSE deltas."""
    texts: dict[int, str] = {}
    tools: dict[int, dict[int, list[str]]] = {}
    for chunk in sse_chunks(load(name)["interactions"][0]["response"]["text"]):
        for choice in chunk["choices"]:
            delta = choice["delta"]
            texts[choice["index"]] = texts.get(choice["index"], "") + (delta.get("content") or "")
            for tool in delta.get("tool_calls") or ():
                slot = tools.setdefault(choice["index"], {}).setdefault(tool["index"], ["", "", ""])
                slot[0] += tool.get("id") or ""
                slot[1] += tool["function"].get("name") or ""
                slot[2] += tool["function"].get("arguments") or ""
    return [texts[i] for i in sorted(texts)], {i: [tools[i][j] for j in sorted(tools[i])] for i in tools}


def test_span_only_streamed_tool_calls(
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    sync_client: Callable[[str], openai.OpenAI],
) -> None:
    """A stream's tool calls are assembled from their argument deltas into parsed objects at the end."""
    name = "chat_stream_tool_calls_include_usage"
    telemetry = instrument(capture_message_content="SPAN_ONLY")
    server = replay(f"openai/{name}.json")
    run_recording(name, server, sync_client(server.url + "/v1"))
    _, tools = _fold_stream(name)
    assert tools[0] == [
        ["call_fHCjJqt9Pysde6vcJcvbXGBx", "get_current_weather", '{"location": "Seattle, WA"}'],
        ["call_3J9foSw3CUb48lrqIXoTky6U", "get_current_weather", '{"location": "San Francisco, CA"}'],
    ]
    output = [
        {
            "role": "assistant",
            "parts": [
                {"type": "tool_call", "id": i, "name": n, "arguments": json.loads(a)} for i, n, a in tools[0]
            ],
            "finish_reason": "tool_call",
        }
    ]
    [attributes] = span_attributes(telemetry)
    assert attributes["gen_ai.input.messages"] == compact([SYSTEM, USER])
    assert attributes["gen_ai.output.messages"] == compact(output)
    assert attributes["gen_ai.tool.definitions"] == compact(
        [{"type": "function", "name": "get_current_weather"}]
    )
    assert attributes["gen_ai.completion.0.tool_calls.1.arguments"] == '{"location":"San Francisco, CA"}'


def test_span_only_stream_two_choices(
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    sync_client: Callable[[str], openai.OpenAI],
) -> None:
    """n=2 interleaved in one stream: one output message per choice, in choice order, with its own text."""
    name = "chat_stream_n2_include_usage"
    telemetry = instrument(capture_message_content="SPAN_ONLY")
    server = replay(f"openai/{name}.json")
    [chunks] = run_recording(name, server, sync_client(server.url + "/v1"))
    texts, _ = _fold_stream(name)
    assert texts[0].startswith("I'm unable to provide real-time weather updates. To get")
    assert texts[1].startswith("I'm unable to provide real-time weather updates as my")
    for index, expected in enumerate(texts):  # what the user read is what the span says
        assert (
            "".join(
                c.choices[0].delta.content or "" for c in chunks if c.choices and c.choices[0].index == index
            )
            == expected
        )
    output = [{"role": "assistant", "parts": [text(t)], "finish_reason": "stop"} for t in texts]
    [attributes] = span_attributes(telemetry)
    assert attributes["gen_ai.output.messages"] == compact(output)
    assert [attributes[f"gen_ai.completion.{i}.content"] for i in (0, 1)] == texts


def test_span_only_image_url_part(
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    sync_client: Callable[[str], openai.OpenAI],
) -> None:
    """An image_url content part becomes a semconv ``uri`` part with the image modality."""
    name = "chat_vision_image_url_finish_length"
    telemetry = instrument(capture_message_content="SPAN_ONLY")
    server = replay(f"openai/{name}.json")
    run_recording(name, server, sync_client(server.url + "/v1"))
    answer = "The image shows a series of undulating forms that resemble sand dunes. It"
    image = {"type": "uri", "modality": "image", "uri": "https://source.unsplash.com/8xznAGy4HcY/800x400"}
    [attributes] = span_attributes(telemetry)
    assert content_of(attributes) == {
        "gen_ai.input.messages": compact(
            [{"role": "user", "parts": [text("What is in this image?"), image]}]
        ),
        "gen_ai.output.messages": compact(
            [{"role": "assistant", "parts": [text(answer)], "finish_reason": "length"}]
        ),
        "gen_ai.prompt.0.role": "user",
        "gen_ai.prompt.0.content": "What is in this image?",
        "gen_ai.completion.0.role": "assistant",
        "gen_ai.completion.0.content": answer,
        "gen_ai.completion.0.finish_reason": "length",
    }


def test_span_only_raw_response(
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    sync_client: Callable[[str], openai.OpenAI],
) -> None:
    """with_raw_response: the output is read from the raw JSON body, the same as from the parsed object."""
    name = "chat_basic_gpt4o_mini"
    telemetry = instrument(capture_message_content="SPAN_ONLY")
    server = replay(f"openai/{name}.json")
    raw = sync_client(server.url + "/v1").chat.completions.with_raw_response.create(
        **kwargs_for(body_of(name))
    )
    assert raw.parse().choices[0].message.content == "This is a test."
    [attributes] = span_attributes(telemetry)
    assert attributes["gen_ai.input.messages"] == compact(
        [{"role": "user", "parts": [text("Say this is a test")]}]
    )
    assert attributes["gen_ai.output.messages"] == compact(
        [{"role": "assistant", "parts": [text("This is a test.")], "finish_reason": "stop"}]
    )


# --- events ----------------------------------------------------------------------------------------


def _semconv_only(attributes: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attributes.items() if k not in LEGACY_KEYS}


def check_events(
    telemetry: Telemetry, server: ReplayServer, contents: list[dict[str, Any]], name: str
) -> None:
    """One DEBUG event per call, in the call's span context, carrying the semconv span attributes and the
    content as structured values (not JSON strings)."""
    spans, logs = telemetry.spans(), telemetry.logs()
    assert len(logs) == len(spans) == len(contents)
    for index, (span, log, content) in enumerate(zip(spans, logs, contents, strict=True)):
        assert log.event_name == EVENT_NAME
        assert log.severity_number is SeverityNumber.DEBUG
        assert (log.trace_id, log.span_id) == (span.context.trace_id, span.context.span_id)
        assert log.body is None
        attributes = dict(log.attributes or {})
        for key in content:
            assert not isinstance(attributes[key], str)
            assert all(isinstance(item, Mapping) for item in attributes[key])
        attributes.pop("gen_ai.response.time_to_first_chunk", None)
        expected = _semconv_only(expected_attributes(name, index, server)) | content
        assert plain(attributes) == plain(expected)


def test_event_only(
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    sync_client: Callable[[str], openai.OpenAI],
) -> None:
    """EVENT_ONLY keeps content off the span entirely; the event holds it, structured."""
    telemetry = instrument(capture_message_content="EVENT_ONLY")
    server = replay(f"openai/{ROUNDTRIP}.json")
    run_recording(ROUNDTRIP, server, sync_client(server.url + "/v1"))
    spans = span_attributes(telemetry)
    assert spans == [expected_attributes(ROUNDTRIP, i, server) for i in range(2)]
    contents = [
        semconv_content(ROUNDTRIP_INPUT[i], ROUNDTRIP_OUTPUT[i], ROUNDTRIP_TOOLS[i]) for i in range(2)
    ]
    check_events(telemetry, server, contents, ROUNDTRIP)


async def test_event_only_async_stream(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    """An async stream emits its event once, when the stream ends, inside the stream's span."""
    name = "chat_stream_tool_calls_include_usage"
    telemetry = instrument(capture_message_content="EVENT_ONLY")
    server = replay(f"openai/{name}.json")
    async with new_client(server.url + "/v1", True) as client:
        stream = await client.chat.completions.create(**kwargs_for(body_of(name)))
        assert telemetry.logs() == []  # nothing is known before the stream is read
        chunks = [chunk async for chunk in stream]
    assert len(chunks) == 18
    _, tools = _fold_stream(name)
    output = [
        {
            "role": "assistant",
            "parts": [
                {"type": "tool_call", "id": i, "name": n, "arguments": json.loads(a)} for i, n, a in tools[0]
            ],
            "finish_reason": "tool_call",
        }
    ]
    tool_definitions = [{"type": "function", "name": "get_current_weather"}]
    assert content_of(span_attributes(telemetry)[0]) == {}
    check_events(telemetry, server, [semconv_content([SYSTEM, USER], output, tool_definitions)], name)


def test_span_and_event(
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    sync_client: Callable[[str], openai.OpenAI],
) -> None:
    """SPAN_AND_EVENT: the same content as JSON strings on the span and as structured values on the event."""
    telemetry = instrument(capture_message_content="SPAN_AND_EVENT")
    server = replay(f"openai/{ROUNDTRIP}.json")
    run_recording(ROUNDTRIP, server, sync_client(server.url + "/v1"))
    contents = [
        semconv_content(ROUNDTRIP_INPUT[i], ROUNDTRIP_OUTPUT[i], ROUNDTRIP_TOOLS[i]) for i in range(2)
    ]
    for index, attributes in enumerate(span_attributes(telemetry)):
        expected = {k: compact(v) for k, v in contents[index].items()} | ROUNDTRIP_LEGACY[index]
        assert content_of(attributes) == expected
    check_events(telemetry, server, contents, ROUNDTRIP)


# --- truncation ------------------------------------------------------------------------------------


def cut(value: str) -> str:
    return value[:5] + "…[truncated]"


def test_max_content_length_truncates_inside_the_json(
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    sync_client: Callable[[str], openai.OpenAI],
) -> None:
    """Content strings are cut; the JSON still parses and the schema fields (role, part type, tool call id
    and name, finish_reason) stay whole, so truncated messages still validate and results match calls."""
    telemetry = instrument(capture_message_content="SPAN_AND_EVENT", max_content_length=5)
    server = replay(f"openai/{ROUNDTRIP}.json")
    run_recording(ROUNDTRIP, server, sync_client(server.url + "/v1"))

    def cut_call(call_id: str, location: str) -> dict[str, Any]:
        return call(call_id, cut(location))

    calls = [cut_call(SEATTLE, "Seattle, WA"), cut_call(SAN_FRANCISCO, "San Francisco, CA")]
    head = [
        {"role": "system", "parts": [text(cut(SYSTEM_TEXT))]},
        {"role": "user", "parts": [text(cut(USER_TEXT))]},
    ]
    inputs = [
        head,
        [
            *head,
            {"role": "assistant", "parts": calls},
            {"role": "tool", "parts": [result(SEATTLE, cut("50 degrees and raining"))]},
            {"role": "tool", "parts": [result(SAN_FRANCISCO, cut("70 degrees and sunny"))]},
        ],
    ]
    outputs = [
        [{"role": "assistant", "parts": calls, "finish_reason": "tool_call"}],
        [{"role": "assistant", "parts": [text(cut(FINAL_TEXT))], "finish_reason": "stop"}],
    ]
    tools = [[{"type": "function", "name": "get_current_weather"}], None]
    spans = span_attributes(telemetry)
    for index, attributes in enumerate(spans):
        assert json.loads(attributes["gen_ai.input.messages"]) == inputs[index]
        assert json.loads(attributes["gen_ai.output.messages"]) == outputs[index]
    assert spans[0]["gen_ai.tool.definitions"] == compact(tools[0])
    assert spans[0]["gen_ai.prompt.0.content"] == "You'r…[truncated]"
    assert spans[0]["gen_ai.completion.0.tool_calls.0.arguments"] == '{"loc…[truncated]'
    assert spans[0]["gen_ai.completion.0.tool_calls.0.id"] == SEATTLE
    assert spans[1]["gen_ai.prompt.3.content"] == "50 de…[truncated]"
    assert spans[1]["gen_ai.completion.0.content"] == "Today…[truncated]"
    check_events(
        telemetry, server, [semconv_content(inputs[i], outputs[i], tools[i]) for i in range(2)], ROUNDTRIP
    )


# --- attribute families ----------------------------------------------------------------------------


def test_legacy_attributes_off(
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    sync_client: Callable[[str], openai.OpenAI],
) -> None:
    """legacy_attributes=False drops gen_ai.system, llm.*, gen_ai.openai.*, the old usage names and the
    indexed prompt/completion content, and nothing else."""
    telemetry = instrument(capture_message_content="SPAN_ONLY", legacy_attributes=False)
    server = replay(f"openai/{ROUNDTRIP}.json")
    run_recording(ROUNDTRIP, server, sync_client(server.url + "/v1"))
    for index, attributes in enumerate(span_attributes(telemetry)):
        content = semconv_content(ROUNDTRIP_INPUT[index], ROUNDTRIP_OUTPUT[index], ROUNDTRIP_TOOLS[index])
        expected = _semconv_only(expected_attributes(ROUNDTRIP, index, server))
        assert attributes == expected | {k: compact(v) for k, v in content.items()}
        assert "gen_ai.usage.prompt_tokens" not in attributes
        assert not [k for k in attributes if k.startswith(("llm.", "gen_ai.prompt.", "gen_ai.completion."))]


def test_semconv_attributes_off(
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    sync_client: Callable[[str], openai.OpenAI],
) -> None:
    """semconv_attributes=False leaves the legacy set plus the names both families share."""
    telemetry = instrument(capture_message_content="SPAN_ONLY", semconv_attributes=False)
    name = "chat_request_params_gpt4o_mini"
    server = replay(f"openai/{name}.json")
    run_recording(name, server, sync_client(server.url + "/v1"))
    [attributes] = span_attributes(telemetry)
    port = int(server.url.rsplit(":", 1)[1])
    assert attributes == {
        # shared by both families
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.request.max_tokens": 50,
        "gen_ai.request.temperature": 0.5,
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        # span-start identity (operation name and server) is kept either way
        "gen_ai.operation.name": "chat",
        "server.address": "127.0.0.1",
        "server.port": port,
        # legacy
        "gen_ai.system": "openai",
        "llm.request.type": "chat",
        "gen_ai.usage.prompt_tokens": 12,
        "gen_ai.usage.completion_tokens": 12,
        "llm.usage.total_tokens": 24,
        "gen_ai.openai.api_base": f"{server.url}/v1/",
        "gen_ai.openai.system_fingerprint": "fp_0705bf87c0",
        "gen_ai.prompt.0.role": "user",
        "gen_ai.prompt.0.content": "Say this is a test",
        "gen_ai.completion.0.role": "assistant",
        "gen_ai.completion.0.content": "This is a test. How can I assist you further?",
        "gen_ai.completion.0.finish_reason": "stop",
    }
    assert "gen_ai.provider.name" not in attributes
    assert "gen_ai.usage.input_tokens" not in attributes


# --- privacy ---------------------------------------------------------------------------------------


def test_default_settings_leak_no_secret_or_content(
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    sync_client: Callable[[str], openai.OpenAI],
) -> None:
    """By default neither the API key nor any prompt or completion text reaches spans, events or metrics."""
    telemetry = instrument()
    names = [
        ROUNDTRIP,
        "chat_stream_n2_include_usage",
        "chat_basic_gpt4o_mini",
        "chat_error_404_model_not_found",
    ]
    server = replay(*(f"openai/{name}.json" for name in names))
    client = sync_client(server.url + "/v1")
    for name in names:
        for interaction in load(name)["interactions"]:
            body = interaction["request"]["json"]
            try:
                response = client.chat.completions.create(**kwargs_for(body))
            except openai.NotFoundError:
                continue
            if body.get("stream"):
                list(response)
    server.assert_all_served()
    assert all(r.headers["authorization"] == f"Bearer {API_KEY}" for r in server.requests)  # the key was used

    exported = [span.to_json() for span in telemetry.spans()]
    exported.append(telemetry.metric_reader.get_metrics_data().to_json())
    exported += [record.to_json() for record in telemetry.log_exporter.get_finished_logs()]
    assert len(exported) == 6  # five spans, one metrics batch, no event
    dump = "\n".join(exported)
    secrets = [
        API_KEY,
        SYSTEM_TEXT,
        USER_TEXT,
        "Say this is a test",
        "50 degrees and raining",
        "70 degrees and sunny",
        "Seattle, WA",
        FINAL_TEXT,
        "This is a test.",
        "real-time weather",
    ]
    for secret in secrets:
        assert secret not in dump
        assert json.dumps(secret)[1:-1] not in dump  # nor in its JSON-escaped form
