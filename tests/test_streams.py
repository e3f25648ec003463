"""Every way a chat stream can end ends its span exactly once; the user keeps the stream openai returned.

Each exit path runs through the real ``openai`` client (sync and async) against the replay server. After the
path the span must be finished, and it must still be the only span after a further ``close()`` and a garbage
collection: a second end would export a second span and record a second duration point.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import openai
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from conftest import API_KEY, Telemetry, chat_helpers, kwargs_for
from replay import RECORDINGS_DIR, ReplayServer

USAGE = "openai/chat_stream_include_usage_gpt4.json"
NO_USAGE = "openai/chat_stream_no_usage_gpt4.json"
RESPONSE_IDS = {
    USAGE: "chatcmpl-ASYMZ4oSykiIFK4lXLReDiKyAjsQl",
    NO_USAGE: "chatcmpl-ASYMZbRqo8Bkz53FVzaTj7W7feOn4",
}
CHUNK_COUNTS = {USAGE: 8, NO_USAGE: 7}  # data events before [DONE]; the usage recording adds a usage chunk
RECORDINGS = pytest.mark.parametrize("path", [USAGE, NO_USAGE], ids=["include_usage", "no_usage"])

TTFC = "gen_ai.response.time_to_first_chunk"
API_ERROR_EVENT = 'data: {"error": {"message": "boom"}}\n\n'
TRUNCATED_EVENT = 'data: {"id": "chatcmpl-cut", "choi\n\n'


@dataclass(frozen=True)
class Outcome:
    """What the instrumentation saw: chunks delivered, whether the stream ran to [DONE], the error type."""

    received: int
    exhausted: bool = False
    error: str | None = None


def recording(path: str) -> dict[str, Any]:
    return json.loads((RECORDINGS_DIR / path).read_text(encoding="utf-8"))


def request_body(path: str) -> dict[str, Any]:
    return recording(path)["interactions"][0]["request"]["json"]


def broken(path: str, tail: str) -> dict[str, Any]:
    """The recording with its first event kept and everything after it replaced by ``tail``."""
    rec = recording(path)
    response = rec["interactions"][0]["response"]
    response["text"] = response["text"].split("\n\n", 1)[0] + "\n\n" + tail
    return rec


@pytest.fixture(autouse=True, scope="module")
def _cheap_gc() -> Iterator[None]:
    """Freeze the import-time heap so each ``gc.collect()`` scans only what a test created (~0.1 s less)."""
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


# openai's own default HTTP clients; TLS verification off because the replay server speaks plain HTTP,
# which spares loading the CA bundle for every client.
def sync_client(server: ReplayServer) -> openai.OpenAI:
    http = openai.DefaultHttpxClient(verify=False)
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=API_KEY, max_retries=0, http_client=http)


def async_client(server: ReplayServer) -> openai.AsyncOpenAI:
    http = openai.DefaultAsyncHttpxClient(verify=False)
    return openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key=API_KEY, max_retries=0, http_client=http)


def assert_sync_stream(stream: Any) -> None:
    assert isinstance(stream, openai.Stream)
    assert stream.response.status_code == 200


def assert_async_stream(stream: Any) -> None:
    assert isinstance(stream, openai.AsyncStream)
    assert stream.response.status_code == 200


def expected_attributes(server: ReplayServer, path: str, outcome: Outcome) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-4",
        "server.address": "127.0.0.1",
        "server.port": int(server.url.rsplit(":", 1)[1]),
        "gen_ai.request.stream": True,
        "llm.request.type": "chat",
        "llm.is_streaming": True,
        "gen_ai.openai.api_base": f"{server.url}/v1/",
        "openai.api.type": "chat_completions",
    }
    if outcome.received:
        attributes["gen_ai.response.model"] = "gpt-4-0613"
        attributes["gen_ai.response.id"] = RESPONSE_IDS[path]
        # A stream that never delivered its finish_reason reports "error" for the choice.
        attributes["gen_ai.response.finish_reasons"] = ("stop",) if outcome.exhausted else ("error",)
    if outcome.exhausted and path == USAGE:
        attributes.update(
            {
                "gen_ai.usage.input_tokens": 12,
                "gen_ai.usage.output_tokens": 5,
                "gen_ai.usage.cache_read.input_tokens": 0,
                "gen_ai.usage.reasoning.output_tokens": 0,
                "gen_ai.usage.prompt_tokens": 12,
                "gen_ai.usage.completion_tokens": 5,
                "llm.usage.total_tokens": 17,
            }
        )
    if outcome.error is not None:
        attributes["error.type"] = outcome.error
    return attributes


def check_span(telemetry: Telemetry, server: ReplayServer, path: str, outcome: Outcome) -> None:
    span = telemetry.span()
    assert span.name == "chat gpt-4"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is (StatusCode.ERROR if outcome.error else StatusCode.UNSET)
    attributes = dict(span.attributes or {})
    ttfc = attributes.pop(TTFC, None)
    if outcome.received:
        assert isinstance(ttfc, float) and ttfc >= 0
    else:
        assert ttfc is None
    assert attributes == expected_attributes(server, path, outcome)


def check_metrics(telemetry: Telemetry, server: ReplayServer, path: str, outcome: Outcome) -> None:
    points = telemetry.metrics()
    base: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4",
        "server.address": "127.0.0.1",
        "server.port": int(server.url.rsplit(":", 1)[1]),
    }
    if outcome.received:
        base["gen_ai.response.model"] = "gpt-4-0613"
    duration_attributes = {**base, "error.type": outcome.error} if outcome.error else base
    expected = {"gen_ai.client.operation.duration": [(duration_attributes, 1)]}
    if outcome.received and not outcome.error:  # a failed stream generated no choices to count
        expected["gen_ai.client.generation.choices"] = [(base, 1)]
    if outcome.received:
        expected["gen_ai.client.operation.time_to_first_chunk"] = [(base, 1)]
    if outcome.received >= 2:
        expected["gen_ai.client.operation.time_per_output_chunk"] = [(base, 1)]
    assert set(points) - {"gen_ai.client.token.usage"} == set(expected)
    for name, want in expected.items():
        # histogram points carry a count (their sums are timings); the choices counter carries a value
        got = [(dict(p.attributes), getattr(p, "count", None) or p.value) for p in points[name]]
        assert got == want, name
    tokens = sorted(
        (p.attributes["gen_ai.token.type"], dict(p.attributes), p.count, p.sum)
        for p in points.get("gen_ai.client.token.usage", [])
    )
    if outcome.exhausted and path == USAGE:
        assert tokens == [
            ("input", {**base, "gen_ai.token.type": "input"}, 1, 12),
            ("output", {**base, "gen_ai.token.type": "output"}, 1, 5),
        ]
    else:
        assert tokens == []  # no usage received: unknown token counts are never reported as zero


def check(telemetry: Telemetry, server: ReplayServer, path: str, outcome: Outcome) -> None:
    check_span(telemetry, server, path, outcome)
    check_metrics(telemetry, server, path, outcome)
    server.assert_all_served()


def close_again_sync(telemetry: Telemetry, stream: Any) -> None:
    """The span has ended; closing the stream again must not end (or export) it again."""
    assert len(telemetry.spans()) == 1
    stream.close()
    assert_sync_stream(stream)
    assert len(telemetry.spans()) == 1


async def close_again_async(telemetry: Telemetry, stream: Any) -> None:
    assert len(telemetry.spans()) == 1
    await stream.close()
    assert_async_stream(stream)
    assert len(telemetry.spans()) == 1


def collect(telemetry: Telemetry) -> None:
    """Call once the last reference to the stream is gone: its finaliser must not end the span again."""
    gc.collect()
    assert len(telemetry.spans()) == 1


# --- sync ---------------------------------------------------------------------------------------


@RECORDINGS
def test_sync_exhausted(instrument: Any, replay: Any, path: str) -> None:
    telemetry, server = instrument(), replay(path)
    stream = sync_client(server).chat.completions.create(**kwargs_for(request_body(path)))
    assert_sync_stream(stream)
    chunks = []
    for chunk in stream:
        chunks.append(chunk)
    assert len(chunks) == CHUNK_COUNTS[path]
    assert all(isinstance(c, openai.types.chat.ChatCompletionChunk) for c in chunks)
    close_again_sync(telemetry, stream)
    del stream
    collect(telemetry)
    check(telemetry, server, path, Outcome(CHUNK_COUNTS[path], exhausted=True))


@RECORDINGS
def test_sync_break_then_garbage_collected(instrument: Any, replay: Any, path: str) -> None:
    telemetry, server = instrument(), replay(path)
    stream = sync_client(server).chat.completions.create(**kwargs_for(request_body(path)))
    for _chunk in stream:
        break
    assert_sync_stream(stream)
    assert telemetry.spans() == []  # an abandoned stream stays open until it is collected
    del stream
    collect(telemetry)
    check(telemetry, server, path, Outcome(1))


@RECORDINGS
def test_sync_close(instrument: Any, replay: Any, path: str) -> None:
    telemetry, server = instrument(), replay(path)
    stream = sync_client(server).chat.completions.create(**kwargs_for(request_body(path)))
    next(iter(stream))
    assert stream.close() is None
    close_again_sync(telemetry, stream)
    del stream
    collect(telemetry)
    check(telemetry, server, path, Outcome(1))


@RECORDINGS
def test_sync_with_block_left_early(instrument: Any, replay: Any, path: str) -> None:
    telemetry, server = instrument(), replay(path)
    with sync_client(server).chat.completions.create(**kwargs_for(request_body(path))) as stream:
        assert_sync_stream(stream)
        for _chunk in stream:
            break
        assert telemetry.spans() == []
    close_again_sync(telemetry, stream)
    del stream
    collect(telemetry)
    check(telemetry, server, path, Outcome(1))


@RECORDINGS
def test_sync_user_exception_in_with_block(instrument: Any, replay: Any, path: str) -> None:
    """The user's own exception is not a failed LLM call: the span ends without ERROR status."""
    telemetry, server = instrument(), replay(path)
    with (
        pytest.raises(KeyError, match="user code"),
        sync_client(server).chat.completions.create(**kwargs_for(request_body(path))) as stream,
    ):
        for _chunk in stream:
            raise KeyError("user code")
    close_again_sync(telemetry, stream)
    del stream
    collect(telemetry)
    check(telemetry, server, path, Outcome(1))


@RECORDINGS
def test_sync_user_exception_in_loop_then_close(instrument: Any, replay: Any, path: str) -> None:
    telemetry, server = instrument(), replay(path)
    stream = sync_client(server).chat.completions.create(**kwargs_for(request_body(path)))
    with pytest.raises(KeyError, match="user code"):
        for _chunk in stream:
            raise KeyError("user code")
    assert telemetry.spans() == []  # the stream is still the user's to finish
    stream.close()
    close_again_sync(telemetry, stream)
    del stream
    collect(telemetry)
    check(telemetry, server, path, Outcome(1))


@RECORDINGS
def test_sync_api_error_mid_stream(instrument: Any, replay: Any, path: str) -> None:
    telemetry, server = instrument(), replay(broken(path, API_ERROR_EVENT))
    stream = sync_client(server).chat.completions.create(**kwargs_for(request_body(path)))
    chunks = []
    with pytest.raises(openai.APIError) as raised:
        for chunk in stream:
            chunks.append(chunk)
    assert len(chunks) == 1
    assert type(raised.value) is openai.APIError
    assert (raised.value.message, raised.value.body) == ("boom", {"message": "boom"})
    close_again_sync(telemetry, stream)
    del stream
    collect(telemetry)
    check(telemetry, server, path, Outcome(1, error="openai.APIError"))
    (event,) = telemetry.span().events
    assert (event.name, event.attributes["exception.type"], event.attributes["exception.message"]) == (
        "exception",
        "openai.APIError",
        "APIError",  # a provider's error text stays off the span without content capture
    )


@RECORDINGS
def test_sync_truncated_event_mid_stream(instrument: Any, replay: Any, path: str) -> None:
    telemetry, server = instrument(), replay(broken(path, TRUNCATED_EVENT))
    stream = sync_client(server).chat.completions.create(**kwargs_for(request_body(path)))
    with stream, pytest.raises(json.JSONDecodeError):
        for _chunk in stream:
            pass
    close_again_sync(telemetry, stream)
    del stream
    collect(telemetry)
    check(telemetry, server, path, Outcome(1, error="json.decoder.JSONDecodeError"))


@RECORDINGS
def test_sync_never_iterated_then_garbage_collected(instrument: Any, replay: Any, path: str) -> None:
    telemetry, server = instrument(), replay(path)
    stream = sync_client(server).chat.completions.create(**kwargs_for(request_body(path)))
    assert_sync_stream(stream)
    assert telemetry.spans() == []
    del stream
    collect(telemetry)
    check(telemetry, server, path, Outcome(0))


# --- async --------------------------------------------------------------------------------------


@RECORDINGS
async def test_async_exhausted(instrument: Any, replay: Any, path: str) -> None:
    telemetry, server = instrument(), replay(path)
    stream = await async_client(server).chat.completions.create(**kwargs_for(request_body(path)))
    assert_async_stream(stream)
    chunks = []
    async for chunk in stream:
        chunks.append(chunk)
    assert len(chunks) == CHUNK_COUNTS[path]
    assert all(isinstance(c, openai.types.chat.ChatCompletionChunk) for c in chunks)
    await close_again_async(telemetry, stream)
    del stream
    collect(telemetry)
    check(telemetry, server, path, Outcome(CHUNK_COUNTS[path], exhausted=True))


@RECORDINGS
async def test_async_break_then_garbage_collected(instrument: Any, replay: Any, path: str) -> None:
    telemetry, server = instrument(), replay(path)
    stream = await async_client(server).chat.completions.create(**kwargs_for(request_body(path)))
    async for _chunk in stream:
        break
    assert_async_stream(stream)
    assert telemetry.spans() == []
    del stream
    collect(telemetry)
    check(telemetry, server, path, Outcome(1))


@RECORDINGS
async def test_async_close(instrument: Any, replay: Any, path: str) -> None:
    telemetry, server = instrument(), replay(path)
    stream = await async_client(server).chat.completions.create(**kwargs_for(request_body(path)))
    await stream.__anext__()
    assert await stream.close() is None
    await close_again_async(telemetry, stream)
    del stream
    collect(telemetry)
    check(telemetry, server, path, Outcome(1))


@RECORDINGS
@pytest.mark.skipif(
    not hasattr(openai.AsyncStream, "aclose"), reason="this openai release's AsyncStream has no aclose()"
)
async def test_async_aclose(instrument: Any, replay: Any, path: str) -> None:
    telemetry, server = instrument(), replay(path)
    stream = await async_client(server).chat.completions.create(**kwargs_for(request_body(path)))
    await stream.__anext__()
    await stream.aclose()
    await close_again_async(telemetry, stream)
    del stream
    collect(telemetry)
    check(telemetry, server, path, Outcome(1))


@RECORDINGS
async def test_async_with_block_left_early(instrument: Any, replay: Any, path: str) -> None:
    telemetry, server = instrument(), replay(path)
    async with await async_client(server).chat.completions.create(**kwargs_for(request_body(path))) as stream:
        assert_async_stream(stream)
        async for _chunk in stream:
            break
        assert telemetry.spans() == []
    await close_again_async(telemetry, stream)
    del stream
    collect(telemetry)
    check(telemetry, server, path, Outcome(1))


@RECORDINGS
async def test_async_user_exception_in_with_block(instrument: Any, replay: Any, path: str) -> None:
    telemetry, server = instrument(), replay(path)
    client = async_client(server)
    with pytest.raises(KeyError, match="user code"):
        async with await client.chat.completions.create(**kwargs_for(request_body(path))) as stream:
            async for _chunk in stream:
                raise KeyError("user code")
    await close_again_async(telemetry, stream)
    del stream
    collect(telemetry)
    check(telemetry, server, path, Outcome(1))


@RECORDINGS
async def test_async_user_exception_in_loop_then_close(instrument: Any, replay: Any, path: str) -> None:
    telemetry, server = instrument(), replay(path)
    stream = await async_client(server).chat.completions.create(**kwargs_for(request_body(path)))
    with pytest.raises(KeyError, match="user code"):
        async for _chunk in stream:
            raise KeyError("user code")
    assert telemetry.spans() == []
    await stream.close()
    await close_again_async(telemetry, stream)
    del stream
    collect(telemetry)
    check(telemetry, server, path, Outcome(1))


@RECORDINGS
async def test_async_api_error_mid_stream(instrument: Any, replay: Any, path: str) -> None:
    telemetry, server = instrument(), replay(broken(path, API_ERROR_EVENT))
    stream = await async_client(server).chat.completions.create(**kwargs_for(request_body(path)))
    chunks = []
    with pytest.raises(openai.APIError) as raised:
        async for chunk in stream:
            chunks.append(chunk)
    assert len(chunks) == 1
    assert type(raised.value) is openai.APIError
    assert (raised.value.message, raised.value.body) == ("boom", {"message": "boom"})
    await close_again_async(telemetry, stream)
    del stream
    collect(telemetry)
    check(telemetry, server, path, Outcome(1, error="openai.APIError"))
    (event,) = telemetry.span().events
    assert (event.name, event.attributes["exception.type"]) == ("exception", "openai.APIError")


@RECORDINGS
async def test_async_truncated_event_mid_stream(instrument: Any, replay: Any, path: str) -> None:
    telemetry, server = instrument(), replay(broken(path, TRUNCATED_EVENT))
    stream = await async_client(server).chat.completions.create(**kwargs_for(request_body(path)))
    with pytest.raises(json.JSONDecodeError):
        async with stream:
            async for _chunk in stream:
                pass
    await close_again_async(telemetry, stream)
    del stream
    collect(telemetry)
    check(telemetry, server, path, Outcome(1, error="json.decoder.JSONDecodeError"))


@RECORDINGS
async def test_async_never_iterated_then_garbage_collected(instrument: Any, replay: Any, path: str) -> None:
    telemetry, server = instrument(), replay(path)
    stream = await async_client(server).chat.completions.create(**kwargs_for(request_body(path)))
    assert_async_stream(stream)
    assert telemetry.spans() == []
    del stream
    collect(telemetry)
    check(telemetry, server, path, Outcome(0))


# --- the client's ``chat.completions.stream()`` helper -------------------------------------------


def helper_body() -> dict[str, Any]:
    body = request_body(USAGE)
    del body["stream"]  # the helper sets it
    return body


def test_sync_stream_helper_exhausted(instrument: Any, replay: Any) -> None:
    telemetry, server = instrument(), replay(USAGE)
    with chat_helpers(sync_client(server)).stream(**helper_body()) as stream:
        events = [event.type for event in stream]
        completion = stream.get_final_completion()
    assert events[-1] == "chunk" and "content.done" in events
    assert completion.choices[0].message.content == '"This is a test."'
    del stream
    collect(telemetry)
    check(telemetry, server, USAGE, Outcome(CHUNK_COUNTS[USAGE], exhausted=True))


def test_sync_stream_helper_left_early_ends_the_span(instrument: Any, replay: Any) -> None:
    """The helper's close() closes ``stream.response`` directly, never the stream: that must end the span."""
    telemetry, server = instrument(), replay(USAGE)
    with chat_helpers(sync_client(server)).stream(**helper_body()) as stream:
        for _event in stream:
            break
        assert telemetry.spans() == []
    assert len(telemetry.spans()) == 1
    del stream, _event
    collect(telemetry)
    check(telemetry, server, USAGE, Outcome(1))


async def test_async_stream_helper_left_early_ends_the_span(instrument: Any, replay: Any) -> None:
    telemetry, server = instrument(), replay(USAGE)
    async with chat_helpers(async_client(server)).stream(**helper_body()) as stream:
        async for _event in stream:
            break
        assert telemetry.spans() == []
    assert len(telemetry.spans()) == 1
    del stream, _event
    collect(telemetry)
    check(telemetry, server, USAGE, Outcome(1))
