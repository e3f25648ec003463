"""The contract every client provider keeps, run alike for each (tests/provider_support.py):

- registered under its name and the ``opentelemetry_instrumentor`` entry point; ``uninstrument()`` puts the
  exact original functions back; ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`` leaves the client alone;
- an error passes through unchanged (same type as uninstrumented) and ends one span with ``error.type``;
- the stream exit-path matrix, sync and async: exhausted, broken off and closed, left inside ``with``,
  an exception in the consumer's loop, abandoned to the garbage collector: exactly one span, ended once;
- a stream keeps the client's own type and yields the chunks it yields uninstrumented;
- a non-streaming call returns what it returns uninstrumented (type and value), and its one span carries the
  token counts the response reports;
- odd shapes: any JSON-like response or chunk through the provider's own readers returns the identical
  object and ends one span (hypothesis).
"""

from __future__ import annotations

import asyncio
import gc
import inspect
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

import pytest
import wrapt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import otel_genai
from conftest import Telemetry
from otel_genai import semconv as sc
from otel_genai.instrumentation import INSTRUMENTORS
from provider_support import PROVIDERS, ProviderCase, installed
from replay import ReplayServer

CASES = [
    pytest.param(
        case, id=case.name, marks=pytest.mark.skipif(not installed(case), reason=f"no {case.module}")
    )
    for case in PROVIDERS
]
MODES = pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
EXITS = ["exhaust", "break_close", "with", "consumer_raises", "gc"]


@pytest.mark.parametrize("case", CASES)
def test_registered_and_uninstrumented_exactly(
    case: ProviderCase, instrument: Callable[..., Telemetry]
) -> None:
    found = {
        ep.name: ep for ep in entry_points(group="opentelemetry_instrumentor") if ep.value.startswith("otel_")
    }
    assert found[case.name].value == INSTRUMENTORS[case.name]
    original = [owner.__dict__[name] for owner, name in case.patched()]
    instrument()
    assert all(isinstance(owner.__dict__[name], wrapt.FunctionWrapper) for owner, name in case.patched())
    otel_genai.uninstrument()
    assert [owner.__dict__[name] for owner, name in case.patched()] == original


@pytest.mark.parametrize("case", CASES)
def test_disabled_leaves_the_client_alone(
    case: ProviderCase, instrument: Callable[..., Telemetry], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", case.name)
    instrument()
    assert not any(isinstance(owner.__dict__[name], wrapt.FunctionWrapper) for owner, name in case.patched())


async def _raised(case: ProviderCase, is_async: bool) -> type[BaseException]:
    with pytest.raises(Exception) as caught:  # the provider's own connection error
        await case.fail(is_async)
    return caught.type


@MODES
@pytest.mark.parametrize("case", CASES)
async def test_error_passes_through(
    case: ProviderCase, is_async: bool, instrument: Callable[..., Telemetry]
) -> None:
    plain = await _raised(case, is_async)
    telemetry = instrument()
    assert await _raised(case, is_async) is plain
    span = telemetry.span()
    assert span.attributes[sc.ERROR_TYPE]
    assert span.end_time is not None


async def _close(stream: Any) -> None:
    for name in ("aclose", "close"):
        method = getattr(stream, name, None)
        if callable(method):
            result = method()
            if inspect.isawaitable(result):
                await result
            return


async def _settle(telemetry: Telemetry) -> None:
    """An abandoned stream ends when it is collected; async generators (a client's own layers around
    ours) are finalised by the event loop on its next turns."""
    for _ in range(4):
        for _ in range(5):
            await asyncio.sleep(0)
        if telemetry.spans():
            return
        gc.collect()


def _innermost(stream: Any) -> Any:
    """The client's own stream under our proxies: what the user would hold uninstrumented."""
    while isinstance(stream, wrapt.ObjectProxy):
        stream = stream.__wrapped__
    return stream


async def _exit_sync(stream: Any, how: str) -> None:
    if how == "exhaust":
        assert list(stream)
    elif how == "break_close":
        for _ in stream:
            break
        await _close(stream)
    elif how == "with":
        if not hasattr(_innermost(stream), "__enter__"):
            with pytest.raises(TypeError), stream:  # as uninstrumented
                pass
            pytest.skip("this stream is no context manager")
        with stream:
            next(iter(stream))
    elif how == "consumer_raises":
        with pytest.raises(KeyError):
            for _ in stream:
                raise KeyError("the user's own error")
        await _close(stream)
    else:  # gc: one chunk read, then the stream is dropped
        next(iter(stream))


async def _exit_async(stream: Any, how: str) -> None:
    if how == "exhaust":
        assert [chunk async for chunk in stream]
    elif how == "break_close":
        async for _ in stream:
            break
        await _close(stream)
    elif how == "with":
        if not hasattr(_innermost(stream), "__aenter__"):
            with pytest.raises(TypeError):  # as uninstrumented
                async with stream:
                    pass
            pytest.skip("this stream is no async context manager")
        async with stream:
            await stream.__anext__()
    elif how == "consumer_raises":
        with pytest.raises(KeyError):
            async for _ in stream:
                raise KeyError("the user's own error")
        await _close(stream)
    else:
        await stream.__anext__()


@pytest.mark.parametrize("how", EXITS)
@MODES
@pytest.mark.parametrize("case", CASES)
async def test_stream_exit_paths_end_one_span(
    case: ProviderCase,
    is_async: bool,
    how: str,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
) -> None:
    telemetry = instrument()
    server = replay(case.stream_recording)
    async with case.open_stream(server.url, is_async) as stream:
        await (_exit_async(stream, how) if is_async else _exit_sync(stream, how))
        del stream
    await _settle(telemetry)
    span = telemetry.span()  # exactly one, and ended (the exporter holds finished spans only)
    assert span.attributes[sc.OPERATION_NAME] == "chat"
    if how == "exhaust":
        assert sc.RESPONSE_FINISH_REASONS in span.attributes or sc.RESPONSE_ID in span.attributes
    gc.collect()
    await asyncio.sleep(0)
    assert len(telemetry.spans()) == 1  # and never a second time


async def _consume(case: ProviderCase, server: ReplayServer, is_async: bool) -> tuple[Any, type, list[Any]]:
    async with case.open_stream(server.url, is_async) as stream:
        chunks = [chunk async for chunk in stream] if is_async else list(stream)
        return stream, type(_innermost(stream)), chunks


def _comparable(chunk: Any) -> Any:
    """A chunk as data, less the replay server's Date header (google-genai keeps the HTTP headers)."""
    data = chunk.model_dump() if hasattr(chunk, "model_dump") else chunk
    http = data.get("sdk_http_response") if isinstance(data, dict) else None
    headers = http.get("headers") if isinstance(http, dict) else None
    if isinstance(headers, dict):
        http["headers"] = {k: v for k, v in headers.items() if k.lower() != "date"}  # "Date" or "date"
    return data


@MODES
@pytest.mark.parametrize("case", CASES)
async def test_stream_yields_what_it_yields_uninstrumented(
    case: ProviderCase,
    is_async: bool,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
) -> None:
    """The same recorded stream, plain then instrumented: the client's own stream type, equal chunks."""
    _, plain_type, plain = await _consume(case, replay(case.stream_recording), is_async)
    telemetry = instrument()
    stream, instrumented_type, chunks = await _consume(case, replay(case.stream_recording), is_async)
    assert instrumented_type is plain_type and isinstance(stream, plain_type)
    assert [type(c) for c in chunks] == [type(c) for c in plain]
    assert [_comparable(c) for c in chunks] == [_comparable(c) for c in plain] and len(chunks) > 1
    assert len(telemetry.spans()) == 1


@MODES
@pytest.mark.parametrize("case", CASES)
async def test_call_returns_what_it_returns_uninstrumented(
    case: ProviderCase,
    is_async: bool,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
) -> None:
    """The same recorded call, plain then instrumented: the same type, an equal value, the usage counted."""
    plain = await case.call(replay(case.call_recording).url, is_async)
    telemetry = instrument()
    result = await case.call(replay(case.call_recording).url, is_async)
    assert type(result) is type(plain)
    assert _comparable(_without_metadata(result)) == _comparable(_without_metadata(plain))
    span = telemetry.span()
    assert (span.attributes[sc.USAGE_INPUT_TOKENS], span.attributes[sc.USAGE_OUTPUT_TOKENS]) == case.usage
    assert span.attributes[sc.OPERATION_NAME] == "chat"


def _without_metadata(result: Any) -> Any:
    """botocore's answer less ResponseMetadata (request id and Date, which differ between two calls)."""
    if isinstance(result, dict) and "ResponseMetadata" in result:
        return {k: v for k, v in result.items() if k != "ResponseMetadata"}
    return result


# --- odd shapes through every provider's readers --------------------------------------------------------

json_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20,
)
# keys the readers look for, so the shapes reach deep into them
KEYS = st.sampled_from(
    [
        "id",
        "model",
        "usage",
        "choices",
        "content",
        "type",
        "message",
        "delta",
        "candidates",
        "usageMetadata",
        "parts",
        "finishReason",
        "stop_reason",
        "text",
        "done",
        "output",
        "stopReason",
        "promptFeedback",
        "embeddings",
        "values",
    ]
)
shaped = st.recursive(
    st.none() | st.integers(-5, 10**6) | st.text(max_size=6) | st.booleans(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=6),
    max_leaves=25,
)


def _endpoints() -> list[tuple[str, Any, Any]]:
    """(provider name, provider hook, endpoint) for every endpoint table of an installed provider."""
    found: list[tuple[str, Any, Any]] = []
    if installed(PROVIDERS[0]):
        from otel_genai.instrumentation.openai import endpoints
        from otel_genai.instrumentation.openai.hook import OpenAIHook

        found += [
            ("openai", OpenAIHook(), e) for e in (endpoints.CHAT, endpoints.RESPONSES, endpoints.COMPLETIONS)
        ]
    if installed(PROVIDERS[1]):
        from otel_genai.instrumentation.anthropic import hook as anthropic_hook

        found += [("anthropic", anthropic_hook.AnthropicHook(), e) for e in anthropic_hook.ENDPOINTS.values()]
    if installed(PROVIDERS[2]):
        from otel_genai.instrumentation.google_genai import hook as genai_hook

        found += [("gcp.gemini", genai_hook.GoogleGenAIHook(True), e) for e in genai_hook.ENDPOINTS.values()]
    if installed(PROVIDERS[3]):
        from otel_genai.instrumentation.ollama import hook as ollama_hook

        found += [("ollama", ollama_hook.OllamaHook(), e) for e in ollama_hook.ENDPOINTS.values()]
    return found


ENDPOINTS = _endpoints()


class _Body:
    """A google-genai ``SdkHttpResponse`` stand-in: what its readers parse is the ``body`` text."""

    def __init__(self, value: Any) -> None:
        import json

        self.body = json.dumps(value)


@pytest.fixture(scope="module")
def recorder_and_sink() -> Any:
    from otel_genai.config import Settings
    from otel_genai.core.recorder import Recorder

    telemetry = Telemetry()
    recorder = Recorder(
        Settings.resolve({"capture_message_content": "SPAN_ONLY"}),
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
    )
    yield recorder, telemetry
    telemetry.shutdown()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(index=st.integers(0, max(len(ENDPOINTS) - 1, 0)), response=shaped, chunks=st.lists(shaped, max_size=4))
def test_odd_shapes_return_the_identical_object(
    recorder_and_sink: Any, index: int, response: Any, chunks: list[Any]
) -> None:
    from otel_genai.core.hooks import Call
    from otel_genai.core.invocation import Invocation
    from otel_genai.core.streams import SyncStreamProxy

    recorder, telemetry = recorder_and_sink
    telemetry.span_exporter.clear()
    provider_name, provider, endpoint = ENDPOINTS[index]
    wrap = _Body if provider_name == "gcp.gemini" else (lambda value: value)
    inv = Invocation(endpoint.operation, provider_name, "m")
    inv.streaming = endpoint.accumulator is not None and bool(chunks)
    recorder.start(inv)
    call = Call(provider, recorder, inv, endpoint)
    if inv.streaming:
        items = [wrap(c) for c in chunks]
        proxy = call.end(iter(items), is_async=False)
        assert isinstance(proxy, SyncStreamProxy)
        assert list(proxy) == items or endpoint.operation != "chat"  # openai may hide only its usage chunk
    else:
        result = wrap(response)
        assert call.end(result, is_async=False) is result
    spans = telemetry.spans()
    assert len(spans) == 1 and spans[0].end_time is not None
