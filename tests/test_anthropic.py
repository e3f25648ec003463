"""Anthropic: every recording replayed through the real ``anthropic`` client, sync and async.

The instrumented result equals the uninstrumented one, one span per model call (the client's own span
absorbed), token counts equal the recording's, errors pass through typed, the ``messages.stream()`` helper
and the Bedrock and Vertex clients are named with their provider, and the price is genai-prices' own.
"""

from __future__ import annotations

import copy
import inspect
import json
from collections.abc import Callable
from typing import Any

import pytest

from conftest import API_KEY, Telemetry
from cost_support import check_cost
from otel_genai import semconv as sc
from replay import RECORDINGS_DIR, ReplayServer

anthropic = pytest.importorskip("anthropic")

NAMES = sorted(p.stem for p in (RECORDINGS_DIR / "anthropic").glob("messages_*.json"))
MODES = pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])


def recording(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RECORDINGS_DIR / "anthropic" / f"{name}.json").read_text())
    return data


def client_for(url: str, is_async: bool, **options: Any) -> Any:
    cls = anthropic.AsyncAnthropic if is_async else anthropic.Anthropic
    return cls(base_url=url, api_key=API_KEY, max_retries=0, **options)


def kwargs_for(create: Any, body: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments that make the client send ``body``; unknown keys travel in ``extra_body``."""
    accepted = inspect.signature(create).parameters
    kwargs = {k: v for k, v in body.items() if k in accepted}
    extra = {k: v for k, v in body.items() if k not in accepted}
    if extra:
        kwargs["extra_body"] = extra
    return kwargs


def sse_events(text: str) -> list[dict[str, Any]]:
    return [json.loads(line[5:]) for line in text.splitlines() if line.startswith("data:")]


def expected_usage(response: dict[str, Any]) -> dict[str, int]:
    """The recording's token counts as semconv totals: input = uncached + cache read + cache write."""
    if "json" in response:
        usage = response["json"]["usage"]
    else:
        events = sse_events(response["text"])
        usage = dict(next(e for e in events if e["type"] == "message_start")["message"]["usage"])
        final = next(e for e in reversed(events) if e["type"] == "message_delta")["usage"]
        usage.update({k: v for k, v in final.items() if v is not None})
    read, write = usage.get("cache_read_input_tokens"), usage.get("cache_creation_input_tokens")
    want = {
        sc.USAGE_INPUT_TOKENS: usage["input_tokens"] + (read or 0) + (write or 0),
        sc.USAGE_OUTPUT_TOKENS: usage["output_tokens"],
    }
    if read is not None:
        want[sc.USAGE_CACHE_READ_INPUT_TOKENS] = read
    if write is not None:
        want[sc.USAGE_CACHE_CREATION_INPUT_TOKENS] = write
    return want


async def call(client: Any, interaction: dict[str, Any]) -> Any:
    """Send the recorded request; a stream is read to the end. Returns what the user saw, as JSON."""
    request = interaction["request"]
    messages = client.beta.messages if "beta=true" in request["path"] else client.messages
    body = copy.deepcopy(request["json"])
    result = messages.create(**kwargs_for(messages.create, body))
    if inspect.isawaitable(result):
        result = await result
    if body.get("stream"):
        if hasattr(result, "__aiter__"):
            return [event.to_dict() async for event in result]
        return [event.to_dict() for event in result]
    return result.to_dict()


async def run(name: str, url: str, is_async: bool) -> list[Any]:
    client = client_for(url, is_async)
    seen: list[Any] = []
    for interaction in recording(name)["interactions"]:
        try:
            seen.append(await call(client, interaction))
        except anthropic.APIStatusError as exc:
            seen.append((type(exc), exc.status_code, exc.body))
    return seen


@MODES
@pytest.mark.parametrize("name", NAMES)
async def test_recording(
    name: str, is_async: bool, instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    plain = await run(name, replay(f"anthropic/{name}.json").url, is_async)
    telemetry = instrument()
    server = replay(f"anthropic/{name}.json")
    assert await run(name, server.url, is_async) == plain  # instrumented == uninstrumented
    server.assert_all_served()
    interactions = recording(name)["interactions"]
    spans = telemetry.spans()
    assert len(spans) == len(interactions)
    for span, interaction in zip(spans, interactions, strict=True):
        attributes = dict(span.attributes or {})
        model = interaction["request"]["json"]["model"]
        assert span.name == f"chat {model}"
        assert attributes[sc.PROVIDER_NAME] == "anthropic"
        assert attributes[sc.OPERATION_NAME] == "chat"
        assert attributes[sc.REQUEST_MODEL] == model
        assert attributes[sc.SERVER_ADDRESS] == "127.0.0.1"
        response = interaction["response"]
        if response["status"] >= 400:
            assert attributes[sc.ERROR_TYPE] == str(response["status"])
            continue
        for key, value in expected_usage(response).items():
            assert attributes[key] == value, key
        assert attributes[sc.RESPONSE_MODEL].startswith("claude")
        assert attributes[sc.RESPONSE_ID].startswith("msg_")
        assert attributes[sc.RESPONSE_FINISH_REASONS] in (("stop",), ("tool_call",))


@MODES
async def test_stream_helper(
    is_async: bool, instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    """``messages.stream()``: text_stream and the final message work; the span ends with the stream."""
    telemetry = instrument(capture_message_content="SPAN_ONLY")
    name = "messages_stream_sonnet4"
    body = recording(name)["interactions"][0]["request"]["json"]
    client = client_for(replay(f"anthropic/{name}.json").url, is_async)
    kwargs = {k: v for k, v in body.items() if k != "stream"}
    if is_async:
        async with client.messages.stream(**kwargs) as stream:
            text = "".join([piece async for piece in stream.text_stream])
            final = await stream.get_final_message()
    else:
        with client.messages.stream(**kwargs) as stream:
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
    assert text and final.content[0].text == text
    attributes = dict(telemetry.span().attributes or {})
    assert attributes[sc.RESPONSE_ID] == final.id
    assert attributes[sc.USAGE_OUTPUT_TOKENS] == final.usage.output_tokens
    output = json.loads(attributes[sc.OUTPUT_MESSAGES])
    assert output == [
        {"role": "assistant", "parts": [{"type": "text", "content": text}], "finish_reason": "stop"}
    ]


def test_the_clients_own_span_is_absorbed(
    instrument: Callable[..., Telemetry], telemetry: Telemetry, replay: Callable[..., ReplayServer]
) -> None:
    """anthropic 2.x spans its own calls; with otel-genai on, exactly one inference span results: ours."""
    name = "messages_basic_claude3_opus"
    body = recording(name)["interactions"][0]["request"]["json"]
    own = {"tracer_provider": telemetry.tracer_provider}
    client = client_for(replay(f"anthropic/{name}.json").url, False, open_telemetry=own)
    client.messages.create(**body)
    native = telemetry.spans()
    if not native:
        pytest.skip("this anthropic version has no spans of its own")
    assert [s.instrumentation_scope.name for s in native] == ["com.anthropic.sdk.python"]
    telemetry.span_exporter.clear()
    instrument()
    client = client_for(replay(f"anthropic/{name}.json").url, False, open_telemetry=own)
    client.messages.create(**body)
    span = telemetry.span()  # exactly one
    assert span.instrumentation_scope.name == "otel_genai"
    assert span.attributes[sc.PROVIDER_NAME] == "anthropic"


def test_tools_thinking_and_cache_content(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    """Tool calls and thinking become semconv parts; the tool definitions are recorded."""
    telemetry = instrument(capture_message_content="SPAN_ONLY")
    client = client_for(replay("anthropic/messages_stream_tool_use_claude35_sonnet.json").url, False)
    body = recording("messages_stream_tool_use_claude35_sonnet")["interactions"][0]["request"]["json"]
    events = list(client.messages.create(**body))
    attributes = dict(telemetry.span().attributes or {})
    parts = json.loads(attributes[sc.OUTPUT_MESSAGES])[0]["parts"]
    tool_uses = [e.content_block for e in events if e.type == "content_block_start"]
    tools = [b for b in tool_uses if b.type == "tool_use"]
    assert [p["name"] for p in parts if p["type"] == "tool_call"] == [t.name for t in tools]
    assert all(isinstance(p["arguments"], dict) for p in parts if p["type"] == "tool_call")
    assert json.loads(attributes[sc.TOOL_DEFINITIONS])[0]["type"] == "function"

    telemetry.span_exporter.clear()
    client = client_for(replay("anthropic/messages_thinking_claude37_sonnet.json").url, False)
    body = recording("messages_thinking_claude37_sonnet")["interactions"][0]["request"]["json"]
    message = client.messages.create(**body)
    parts = json.loads(dict(telemetry.span().attributes or {})[sc.OUTPUT_MESSAGES])[0]["parts"]
    thinking = next(b for b in message.content if b.type == "thinking")
    assert parts[0] == {"type": "reasoning", "content": thinking.thinking}


def _platform_recording(path: str) -> dict[str, Any]:
    """The basic recording, served where a platform client sends it."""
    data = recording("messages_basic_claude3_opus")
    data["interactions"][0]["request"]["path"] = path
    return data


@MODES
async def test_bedrock_and_vertex_clients_name_their_provider(
    is_async: bool, instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    telemetry = instrument()
    body = recording("messages_basic_claude3_opus")["interactions"][0]["request"]["json"]
    model = body["model"]
    server = replay(_platform_recording(f"/model/{model}/invoke"))
    bedrock_cls = anthropic.AsyncAnthropicBedrock if is_async else anthropic.AnthropicBedrock
    bedrock = bedrock_cls(
        base_url=server.url,
        aws_region="us-east-1",
        aws_access_key="test",
        aws_secret_key="test",
        max_retries=0,
    )
    vertex_path = f"/projects/p/locations/us-east5/publishers/anthropic/models/{model}:rawPredict"
    vertex_server = replay(_platform_recording(vertex_path))
    vertex_cls = anthropic.AsyncAnthropicVertex if is_async else anthropic.AnthropicVertex
    vertex = vertex_cls(
        base_url=vertex_server.url, region="us-east5", project_id="p", access_token="test", max_retries=0
    )
    for client in (bedrock, vertex):
        result = client.messages.create(**body)
        if inspect.isawaitable(result):
            await result
    providers = [s.attributes[sc.PROVIDER_NAME] for s in telemetry.spans()]
    assert providers == ["aws.bedrock", "gcp.vertex_ai"]
    for span in telemetry.spans():
        assert span.attributes[sc.USAGE_INPUT_TOKENS] == 17


def test_connection_error_passes_through(instrument: Callable[..., Telemetry]) -> None:
    telemetry = instrument()
    client = client_for("http://127.0.0.1:9", False)
    with pytest.raises(anthropic.APIConnectionError):
        client.messages.create(model="claude-x", max_tokens=5, messages=[{"role": "user", "content": "hi"}])
    attributes = dict(telemetry.span().attributes or {})
    assert attributes[sc.ERROR_TYPE] == "anthropic.APIConnectionError"


@pytest.mark.parametrize(
    "name", ["messages_prompt_cache_write_read_claude35_sonnet", "messages_stream_thinking_claude37_sonnet"]
)
def test_cost_is_genai_prices(
    name: str, instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    pytest.importorskip("genai_prices")
    telemetry = instrument(cost=True)
    client = client_for(replay(f"anthropic/{name}.json").url, False)
    for interaction in recording(name)["interactions"]:
        result = client.messages.create(**interaction["request"]["json"])
        if interaction["request"]["json"].get("stream"):
            list(result)
    assert check_cost(telemetry, "anthropic", lambda attributes: attributes[sc.RESPONSE_MODEL]) == len(
        recording(name)["interactions"]
    )


def _unfoldable_stream() -> dict[str, Any]:
    """The recorded stream with its events naming content block 7 of a one-block message: unfoldable."""
    data = recording("messages_stream_sonnet4")
    response = data["interactions"][0]["response"]
    text = response["text"]
    assert '"index": 0' in text or '"index":0' in text
    response["text"] = text.replace('"index": 0', '"index": 7').replace('"index":0', '"index":7')
    return data


@MODES
async def test_stream_helper_failing_on_an_event_is_an_error(
    is_async: bool, instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    """The messages.stream() helper's own folding error reaches the user unchanged and ends the span ERROR."""
    from opentelemetry.trace import StatusCode

    body = {
        k: v for k, v in recording("messages_stream_sonnet4")["interactions"][0]["request"]["json"].items()
    }
    body.pop("stream", None)

    async def consume(url: str) -> type[BaseException]:
        client = client_for(url, is_async)
        with pytest.raises(Exception) as caught:  # whatever the helper raises
            if is_async:
                async with client.messages.stream(**body) as stream:
                    async for _ in stream:
                        pass
            else:
                with client.messages.stream(**body) as stream:
                    for _ in stream:
                        pass
        return caught.type

    plain = await consume(replay(_unfoldable_stream()).url)
    telemetry = instrument()
    assert await consume(replay(_unfoldable_stream()).url) is plain
    span = telemetry.span()
    assert span.status.status_code is StatusCode.ERROR
    assert dict(span.attributes or {})[sc.ERROR_TYPE]


@MODES
async def test_legacy_text_completion(
    is_async: bool, instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    """``POST /v1/complete`` (``completions.create`` in anthropic < 1, a plain ``post`` since): a
    text_completion span with the request's parameters, the response's id, model and stop reason."""
    name = "completions_legacy_claude_instant"
    body = recording(name)["interactions"][0]["request"]["json"]

    async def complete(url: str) -> Any:
        result = client_for(url, is_async).post("/v1/complete", body=copy.deepcopy(body), cast_to=object)
        return await result if inspect.isawaitable(result) else result

    plain = await complete(replay(f"anthropic/{name}.json").url)
    telemetry = instrument(capture_message_content="SPAN_ONLY")
    assert await complete(replay(f"anthropic/{name}.json").url) == plain
    span = telemetry.span()
    attributes = dict(span.attributes or {})
    assert span.name == "text_completion claude-instant-1.2"
    assert attributes[sc.OPERATION_NAME] == "text_completion"
    assert attributes[sc.REQUEST_MAX_TOKENS] == 2048  # max_tokens_to_sample
    assert attributes[sc.REQUEST_TOP_P] == 0.1
    assert attributes[sc.RESPONSE_MODEL] == "claude-instant-1.2"
    assert attributes[sc.RESPONSE_ID] == plain["id"]
    assert attributes[sc.RESPONSE_FINISH_REASONS] == ("stop",)  # stop_sequence
    assert sc.USAGE_INPUT_TOKENS not in attributes  # the legacy API reports no usage
    output = json.loads(attributes[sc.OUTPUT_MESSAGES])
    assert output[0]["parts"] == [{"type": "text", "content": plain["completion"]}]
    prompt = json.loads(attributes[sc.INPUT_MESSAGES])
    assert prompt == [{"role": "user", "parts": [{"type": "text", "content": body["prompt"]}]}]
    assert sc.ERROR_TYPE not in attributes
