"""The Responses API end to end: create, parse, stream (every exit path), the stream() helper, content
capture, errors, and ``responses.retrieve`` (operation ``fetch_response``), all through the real client.

Every responses_*.json recording is replayed with its exact recorded request; expected values come from
the recording and are anchored by literal values per file.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import openai
import pydantic
import pytest
from opentelemetry.trace import StatusCode

from conftest import Telemetry
from openai_support import (
    MODES,
    OPENAI_VERSION,
    RECORDINGS,
    Clients,
    assert_metrics,
    base_attributes,
    body_of,
    consumed,
    content_json,
    load,
    resolved,
    single_interaction,
    span_of,
    sse_chunks,
    usage_attributes,
)
from replay import ReplayServer

pytestmark = pytest.mark.skipif(OPENAI_VERSION < (1, 66), reason="the Responses API arrived in openai 1.66")

NAMES = sorted(p.stem for p in RECORDINGS.glob("responses_*.json"))
ERROR = "responses_error_400_model_not_found"
SUCCESS = [name for name in NAMES if name != ERROR]
STREAM = "responses_stream_gpt4o_mini"
ROUNDTRIP = "responses_tool_call_roundtrip_gpt41"
TTFC = "gen_ai.response.time_to_first_chunk"

# Literal anchors per interaction: (input, output, cache read, reasoning tokens, finish reason).
RECORDED: dict[str, list[tuple[int, int, int, int, str]]] = {
    "responses_basic_gpt4o_mini": [(22, 6, 0, 0, "stop")],
    "responses_input_history_two_turns": [(21, 4, 0, 0, "stop"), (41, 51, 0, 0, "stop")],
    "responses_parse_json_schema": [(57, 10, 0, 0, "stop")],
    "responses_reasoning_tokens": [(44, 288, 0, 9, "stop")],
    "responses_request_params": [(22, 6, 0, 0, "stop")],
    "responses_stream_gpt4o_mini": [(22, 6, 0, 0, "stop")],
    "responses_tool_call_forced": [(72, 8, 0, 0, "tool_call")],
    "responses_tool_call_roundtrip_gpt41": [(65, 17, 0, 0, "tool_call"), (43, 21, 0, 0, "stop")],
}

# Request attributes, written out from each recorded request body.
REQUEST_ATTRIBUTES: dict[str, dict[str, Any]] = {
    "responses_request_params": {
        "gen_ai.request.max_tokens": 50,
        "gen_ai.request.temperature": 0.7,
        "gen_ai.request.top_p": 0.9,
        "gen_ai.output.type": "text",
        "openai.request.service_tier": "default",
    },
    "responses_reasoning_tokens": {"gen_ai.request.max_tokens": 300, "gen_ai.request.reasoning.level": "low"},
    "responses_parse_json_schema": {"gen_ai.output.type": "json"},
    "responses_stream_gpt4o_mini": {"openai.request.service_tier": "default"},
}


# The schema of responses_parse_json_schema.json: openai derives the recorded text.format (name included)
# from this model, so it has no docstring (that would become the schema's "description").
class Person(pydantic.BaseModel):
    name: str
    age: int


@pytest.fixture(autouse=True, scope="module")
def _cheap_gc() -> Iterator[None]:
    """Freeze the import-time heap so each ``gc.collect()`` scans only what a test created."""
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


@pytest.fixture
async def clients() -> AsyncIterator[Clients]:
    async with Clients() as made:
        yield made


def final_response(name: str, index: int = 0) -> dict[str, Any]:
    """The response object: the JSON body, or the stream's ``response.completed`` event."""
    response = load(name)["interactions"][index]["response"]
    if "json" in response:
        return dict(response["json"])
    [completed] = [e for e in sse_chunks(response["text"]) if e["type"] == "response.completed"]
    return dict(completed["response"])


def expected_attributes(name: str, index: int, server: ReplayServer) -> dict[str, Any]:
    """Every attribute of a successful call's span (default settings), from the recording and RECORDED."""
    body = body_of(name, index)
    response = final_response(name, index)
    input_tokens, output_tokens, cached, reasoning, finish = RECORDED[name][index]
    a = {
        **base_attributes(server, "chat", body["model"]),
        "openai.api.type": "responses",
        **REQUEST_ATTRIBUTES.get(name, {}),
        "gen_ai.response.id": response["id"],
        "gen_ai.response.model": response["model"],
        "gen_ai.response.finish_reasons": (finish,),
        "openai.response.service_tier": response["service_tier"],
        **usage_attributes(input_tokens, output_tokens),
        "gen_ai.usage.cache_read.input_tokens": cached,
        "gen_ai.usage.reasoning.output_tokens": reasoning,
    }
    if body.get("stream"):
        a["gen_ai.request.stream"] = a["llm.is_streaming"] = True
    return a


def test_every_responses_recording_is_covered() -> None:
    assert set(SUCCESS) == set(RECORDED)
    assert ERROR in NAMES


def test_no_recording_has_a_previous_response_id() -> None:
    """Why test_previous_response_id builds its own recording."""
    for name in NAMES:
        for interaction in load(name)["interactions"]:
            assert "previous_response_id" not in interaction["request"]["json"]


@MODES
@pytest.mark.parametrize("name", SUCCESS)
async def test_recorded_call(
    name: str,
    is_async: bool,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    clients: Clients,
) -> None:
    """`chat {model}` per call: request parameters, response id/model/tier, finish reason, full usage."""
    telemetry = instrument()
    server = replay(f"openai/{name}.json")
    client = clients.openai(server.url + "/v1", is_async)
    for index, interaction in enumerate(load(name)["interactions"]):
        body = interaction["request"]["json"]
        result = await resolved(client.responses.create(**body))
        streaming = bool(body.get("stream"))
        if streaming:
            events = await consumed(result)
            assert [e.type for e in events] == [
                e["type"] for e in sse_chunks(interaction["response"]["text"])
            ]
        else:
            assert result.id == final_response(name, index)["id"]
        assert server.requests[index].json == body

        spans = telemetry.spans()
        assert len(spans) == index + 1
        span = spans[index]
        assert span.name == f"chat {body['model']}"
        assert span.status.status_code is StatusCode.UNSET
        attributes = dict(span.attributes or {})
        ttfc = attributes.pop(TTFC, None)
        assert (ttfc is not None) is streaming
        assert attributes == expected_attributes(name, index, server)
        input_tokens, output_tokens, *_ = RECORDED[name][index]
        assert_metrics(
            telemetry.metrics(),
            attributes,
            tokens={"input": input_tokens, "output": output_tokens},
            choices=1,
            streaming=streaming,
        )
    server.assert_all_served()


@MODES
async def test_parse_with_pydantic_model(
    is_async: bool,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    clients: Clients,
) -> None:
    """responses.parse(text_format=Person) sends the recorded json_schema: output type json."""
    name = "responses_parse_json_schema"
    telemetry = instrument()
    server = replay(f"openai/{name}.json")
    body = body_of(name)
    client = clients.openai(server.url + "/v1", is_async)
    result = await resolved(
        client.responses.parse(model=body["model"], input=body["input"], text_format=Person)
    )
    assert server.requests[0].json == body
    assert result.output_parsed == Person(name="Alice", age=30)
    attributes = span_of(telemetry, "chat gpt-4.1-nano")
    assert attributes["gen_ai.output.type"] == "json"
    assert attributes == expected_attributes(name, 0, server)


@MODES
async def test_previous_response_id(
    is_async: bool,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    clients: Clients,
) -> None:
    """No recording continues a response (see above): the basic one, asked with a previous_response_id."""
    recording = load("responses_basic_gpt4o_mini")
    previous = "resp_0cbdaf470c1be3770069cbcbdd3050819785c36624c9d71770"
    recording["interactions"][0]["request"]["json"]["previous_response_id"] = previous
    telemetry = instrument()
    server = replay(recording)
    body = recording["interactions"][0]["request"]["json"]
    await resolved(clients.openai(server.url + "/v1", is_async).responses.create(**body))
    assert server.requests[0].json == body
    attributes = span_of(telemetry, "chat gpt-4o-mini")
    assert attributes == {
        **expected_attributes("responses_basic_gpt4o_mini", 0, server),
        "gen_ai.request.previous_response.id": previous,
    }


# --- the stream's exit paths -----------------------------------------------------------------------


def stream_attributes(server: ReplayServer, *, exhausted: bool) -> dict[str, Any]:
    """An exhausted stream has the whole response; one left early has only what response.created told."""
    if exhausted:
        return expected_attributes(STREAM, 0, server)
    return {
        **base_attributes(server, "chat", "gpt-4o-mini"),
        "openai.api.type": "responses",
        "openai.request.service_tier": "default",
        "gen_ai.request.stream": True,
        "llm.is_streaming": True,
        "gen_ai.response.id": "resp_0415a3de5d3015560069e2f3f4b3088192949253e91aff1eb3",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
    }


def check_stream_span(telemetry: Telemetry, server: ReplayServer, *, exhausted: bool) -> None:
    gc.collect()  # a finaliser must not end the span a second time
    attributes = span_of(telemetry, "chat gpt-4o-mini")
    assert isinstance(attributes.pop(TTFC), float)
    assert attributes == stream_attributes(server, exhausted=exhausted)
    [duration] = telemetry.metrics()["gen_ai.client.operation.duration"]
    assert duration.count == 1


EVENTS = 13  # SSE events in the recorded stream


def test_sync_stream_exhausted(instrument: Any, replay: Any, clients: Clients) -> None:
    telemetry, server = instrument(), replay(f"openai/{STREAM}.json")
    stream = clients.openai(server.url + "/v1", False).responses.create(**body_of(STREAM))
    assert isinstance(stream, openai.Stream)
    assert len(list(stream)) == EVENTS
    stream.close()
    del stream
    check_stream_span(telemetry, server, exhausted=True)


def test_sync_stream_break_then_garbage_collected(instrument: Any, replay: Any, clients: Clients) -> None:
    telemetry, server = instrument(), replay(f"openai/{STREAM}.json")
    stream = clients.openai(server.url + "/v1", False).responses.create(**body_of(STREAM))
    for _event in stream:
        break
    assert telemetry.spans() == []
    del stream
    check_stream_span(telemetry, server, exhausted=False)


def test_sync_stream_close(instrument: Any, replay: Any, clients: Clients) -> None:
    telemetry, server = instrument(), replay(f"openai/{STREAM}.json")
    stream = clients.openai(server.url + "/v1", False).responses.create(**body_of(STREAM))
    assert next(stream).type == "response.created"
    stream.close()
    assert len(telemetry.spans()) == 1
    stream.close()
    del stream
    check_stream_span(telemetry, server, exhausted=False)


def test_sync_stream_with_block(instrument: Any, replay: Any, clients: Clients) -> None:
    telemetry, server = instrument(), replay(f"openai/{STREAM}.json")
    with clients.openai(server.url + "/v1", False).responses.create(**body_of(STREAM)) as stream:
        assert next(stream).type == "response.created"
        assert telemetry.spans() == []
    assert len(telemetry.spans()) == 1
    del stream
    check_stream_span(telemetry, server, exhausted=False)


async def test_async_stream_exhausted(instrument: Any, replay: Any, clients: Clients) -> None:
    telemetry, server = instrument(), replay(f"openai/{STREAM}.json")
    stream = await clients.openai(server.url + "/v1", True).responses.create(**body_of(STREAM))
    assert isinstance(stream, openai.AsyncStream)
    assert len([event async for event in stream]) == EVENTS
    await stream.close()
    del stream
    check_stream_span(telemetry, server, exhausted=True)


async def test_async_stream_break_then_garbage_collected(
    instrument: Any, replay: Any, clients: Clients
) -> None:
    telemetry, server = instrument(), replay(f"openai/{STREAM}.json")
    stream = await clients.openai(server.url + "/v1", True).responses.create(**body_of(STREAM))
    async for _event in stream:
        break
    assert telemetry.spans() == []
    del stream
    check_stream_span(telemetry, server, exhausted=False)


async def test_async_stream_close(instrument: Any, replay: Any, clients: Clients) -> None:
    telemetry, server = instrument(), replay(f"openai/{STREAM}.json")
    stream = await clients.openai(server.url + "/v1", True).responses.create(**body_of(STREAM))
    assert (await stream.__anext__()).type == "response.created"
    await stream.close()
    assert len(telemetry.spans()) == 1
    await stream.close()
    del stream
    check_stream_span(telemetry, server, exhausted=False)


async def test_async_stream_with_block(instrument: Any, replay: Any, clients: Clients) -> None:
    telemetry, server = instrument(), replay(f"openai/{STREAM}.json")
    async with await clients.openai(server.url + "/v1", True).responses.create(**body_of(STREAM)) as stream:
        assert (await stream.__anext__()).type == "response.created"
        assert telemetry.spans() == []
    assert len(telemetry.spans()) == 1
    del stream
    check_stream_span(telemetry, server, exhausted=False)


@MODES
async def test_stream_helper_final_response(
    is_async: bool,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    clients: Clients,
) -> None:
    """``responses.stream()``: one span with the usage; get_final_response() is the completed response."""
    telemetry = instrument()
    server = replay(f"openai/{STREAM}.json")
    body = body_of(STREAM)
    del body["stream"]  # the helper sets it
    client = clients.openai(server.url + "/v1", is_async)
    if is_async:
        async with client.responses.stream(**body) as stream:
            events = [event.type async for event in stream]
            final = await stream.get_final_response()
    else:
        with client.responses.stream(**body) as stream:
            events = [event.type for event in stream]
            final = stream.get_final_response()
    assert server.requests[0].json == body_of(STREAM)
    assert events[-1] == "response.completed"
    assert (final.output_text, final.usage.input_tokens, final.usage.output_tokens) == (
        "This is a test.",
        22,
        6,
    )
    check_stream_span(telemetry, server, exhausted=True)


# --- content, errors -------------------------------------------------------------------------------


def roundtrip_content(index: int) -> dict[str, Any]:
    """SPAN_ONLY content of the two calls of the tool round trip, semconv JSON and legacy attributes."""
    call_id, arguments = "call_uilZSE2qAuMA2NWct72DBwd6", {"location": "Paris, France"}
    question = "What is the weather like in Paris today?"
    tool_call = {"type": "tool_call", "id": call_id, "name": "get_weather", "arguments": arguments}
    if index == 0:
        return {
            "gen_ai.system_instructions": content_json([{"type": "text", "content": "Be nice"}]),
            "gen_ai.input.messages": content_json(
                [{"role": "user", "parts": [{"type": "text", "content": question}]}]
            ),
            "gen_ai.tool.definitions": content_json([{"type": "function", "name": "get_weather"}]),
            "gen_ai.output.messages": content_json(
                [{"role": "assistant", "parts": [tool_call], "finish_reason": "tool_call"}]
            ),
            "gen_ai.prompt.0.role": "system",
            "gen_ai.prompt.0.content": "Be nice",
            "gen_ai.prompt.1.role": "user",
            "gen_ai.prompt.1.content": question,
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.finish_reason": "tool_call",
            "gen_ai.completion.0.tool_calls.0.id": call_id,
            "gen_ai.completion.0.tool_calls.0.name": "get_weather",
            "gen_ai.completion.0.tool_calls.0.arguments": '{"location":"Paris, France"}',
        }
    answer = "The weather in Paris today is rainy. If you're planning to go out, don't forget an umbrella!"
    return {
        "gen_ai.input.messages": content_json(
            [
                {"role": "user", "parts": [{"type": "text", "content": question}]},
                {"role": "assistant", "parts": [tool_call]},
                {
                    "role": "tool",
                    "parts": [{"type": "tool_call_response", "id": call_id, "response": "Rainy"}],
                },
            ]
        ),
        "gen_ai.output.messages": content_json(
            [{"role": "assistant", "parts": [{"type": "text", "content": answer}], "finish_reason": "stop"}]
        ),
        "gen_ai.prompt.0.role": "user",
        "gen_ai.prompt.0.content": question,
        "gen_ai.prompt.1.role": "assistant",
        "gen_ai.prompt.1.tool_calls.0.id": call_id,
        "gen_ai.prompt.1.tool_calls.0.name": "get_weather",
        "gen_ai.prompt.1.tool_calls.0.arguments": '{"location":"Paris, France"}',
        "gen_ai.prompt.2.role": "tool",
        "gen_ai.prompt.2.tool_call_id": call_id,
        "gen_ai.prompt.2.content": "Rainy",
        "gen_ai.completion.0.role": "assistant",
        "gen_ai.completion.0.content": answer,
        "gen_ai.completion.0.finish_reason": "stop",
    }


@MODES
async def test_span_only_tool_call_round_trip(
    is_async: bool,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    clients: Clients,
) -> None:
    """instructions -> system instructions; function_call / function_call_output input items -> tool_call /
    tool_call_response parts; a function_call output item -> a tool_call part, finish reason tool_call."""
    telemetry = instrument(capture_message_content="SPAN_ONLY")
    server = replay(f"openai/{ROUNDTRIP}.json")
    client = clients.openai(server.url + "/v1", is_async)
    for index in (0, 1):
        await resolved(client.responses.create(**body_of(ROUNDTRIP, index)))
    spans = telemetry.spans()
    assert len(spans) == 2
    for index, span in enumerate(spans):
        assert dict(span.attributes or {}) == {
            **expected_attributes(ROUNDTRIP, index, server),
            **roundtrip_content(index),
        }
    assert telemetry.logs() == []


@MODES
async def test_recorded_error(
    is_async: bool,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    clients: Clients,
) -> None:
    """400 with code model_not_found: an ERROR span with error.type model_not_found."""
    telemetry = instrument()
    server = replay(f"openai/{ERROR}.json")
    with pytest.raises(openai.BadRequestError) as info:
        await resolved(clients.openai(server.url + "/v1", is_async).responses.create(**body_of(ERROR)))
    assert (info.value.status_code, info.value.code) == (400, "model_not_found")
    attributes = span_of(telemetry, "chat this-model-does-not-exist", error=True)
    assert attributes == {
        **base_attributes(server, "chat", "this-model-does-not-exist"),
        "openai.api.type": "responses",
        "error.type": "model_not_found",
    }
    assert_metrics(telemetry.metrics(), attributes, error_type="model_not_found")


# --- responses.retrieve ----------------------------------------------------------------------------


@MODES
async def test_retrieve_is_fetch_response(
    is_async: bool,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    clients: Clients,
) -> None:
    """GET /responses/{id} (no recording on file: the basic response, served for GET) is `fetch_response`:
    the stored response's id, status, model and finish reason, but no token usage and no generation
    metrics (token usage, choices), because nothing was generated: the call that created it reported them."""
    stored = final_response("responses_basic_gpt4o_mini")
    telemetry = instrument()
    server = replay(single_interaction("GET", f"/v1/responses/{stored['id']}", 200, stored))
    result = await resolved(clients.openai(server.url + "/v1", is_async).responses.retrieve(stored["id"]))
    assert (result.id, result.usage.input_tokens) == (stored["id"], 22)
    assert server.requests[0].method == "GET"
    server.assert_all_served()

    attributes = span_of(telemetry, "fetch_response")
    assert attributes == {
        **base_attributes(server, "fetch_response", None),
        "gen_ai.response.id": "resp_0f4faba17dcd0f1e0069e2f3e4907881909179832ba1237025",
        "gen_ai.response.status": "completed",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "gen_ai.response.finish_reasons": ("stop",),
        "openai.response.service_tier": "default",
    }
    assert not [key for key in attributes if "usage" in key or "token" in key]
    assert_metrics(telemetry.metrics(), attributes)


@MODES
async def test_retrieve_stream_is_fetch_response(
    is_async: bool,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    clients: Clients,
) -> None:
    """``retrieve(id, stream=True)`` replays a stored response's events: still no usage, no choices."""
    recording = load(STREAM)
    interaction = recording["interactions"][0]
    response_id = final_response(STREAM)["id"]
    interaction["request"] = {
        "method": "GET",
        "path": f"/v1/responses/{response_id}?stream=true",
        "json": None,
    }
    telemetry = instrument()
    server = replay(recording)
    client = clients.openai(server.url + "/v1", is_async)
    events = await consumed(await resolved(client.responses.retrieve(response_id, stream=True)))
    assert len(events) == EVENTS
    assert server.requests[0].path == f"/v1/responses/{response_id}?stream=true"

    gc.collect()
    attributes = span_of(telemetry, "fetch_response")
    assert isinstance(attributes.pop(TTFC), float)
    assert attributes == {
        **base_attributes(server, "fetch_response", None),
        "gen_ai.request.stream": True,
        "llm.is_streaming": True,
        "gen_ai.response.id": response_id,
        "gen_ai.response.status": "completed",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "gen_ai.response.finish_reasons": ("stop",),
        "openai.response.service_tier": "default",
    }
    metrics = telemetry.metrics()
    assert "gen_ai.client.token.usage" not in metrics
    assert "gen_ai.client.generation.choices" not in metrics
