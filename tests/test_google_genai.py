"""Google Gen AI: every recording replayed through the real ``google-genai`` client, sync and async.

Gemini API recordings (``/v1beta/``) and Vertex AI recordings go through ``generate_content``,
``generate_content_stream`` and ``embed_content``. The instrumented result equals the uninstrumented one,
one span per model call (none for cache management), token counts equal genai-prices' own reading of the
recorded ``usageMetadata``, errors pass through typed, and the price is genai-prices' own.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from conftest import Telemetry
from cost_support import check_cost
from otel_genai import semconv as sc
from replay import RECORDINGS_DIR, ReplayServer

genai = pytest.importorskip("google.genai")
from google.genai import errors, types  # noqa: E402

NAMES = sorted(
    p.stem for p in (RECORDINGS_DIR / "google-genai").glob("*.json") if not p.stem.startswith("count_tokens")
)
MODES = pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
_CONFIG_KEYS = ("systemInstruction", "tools", "safetySettings", "cachedContent")


def recording(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RECORDINGS_DIR / "google-genai" / f"{name}.json").read_text())
    return data


def client_for(url: str, path: str) -> Any:
    """A Gemini API or Vertex AI client for the recorded path's API version (and project/location)."""
    segments = path.lstrip("/").split("/")
    options = types.HttpOptions(base_url=url, api_version=segments[0])
    if segments[1] != "projects":
        return genai.Client(api_key="test", http_options=options)
    from google.oauth2.credentials import Credentials

    return genai.Client(
        vertexai=True,
        project=segments[2],
        location=segments[4],
        credentials=Credentials(token="test"),
        http_options=options,
    )


def model_in(path: str) -> str:
    return path.split("?")[0].rsplit("/", 1)[1].split(":")[0]


def is_model_call(path: str) -> bool:
    return ":generateContent" in path or ":streamGenerateContent" in path or "mbedContent" in path


def _dump(value: Any) -> Any:
    return (
        value.model_dump(mode="json", exclude={"sdk_http_response"})
        if hasattr(value, "model_dump")
        else value
    )


async def call(client: Any, request: dict[str, Any], is_async: bool) -> Any:
    """The SDK call that sends the recorded request; what the user saw, as JSON."""
    path, body = request["path"], copy.deepcopy(request["json"])
    models = client.aio.models if is_async else client.models
    if "mbedContents" in path:
        first = body["requests"][0]
        config = {k: v for k, v in first.items() if k not in ("content", "model")}
        texts = [r["content"]["parts"][0]["text"] for r in body["requests"]]
        result = models.embed_content(model=model_in(path), contents=texts, config=config)
        return _dump(await result if is_async else result)
    if path.startswith("/v1beta/cachedContents") or (
        "cachedContents" in path and request["method"] == "POST"
    ):
        caches = client.aio.caches if is_async else client.caches
        if request["method"] == "DELETE":
            result = caches.delete(name=path.split("/", 2)[2])
        else:
            config = {k: v for k, v in body.items() if k != "model"}
            result = caches.create(model=body["model"], config=config)
        return _dump(await result if is_async else result)
    config = {**body.get("generationConfig", {}), **{k: body[k] for k in _CONFIG_KEYS if k in body}}
    kwargs = {"model": model_in(path), "contents": body["contents"], "config": config}
    if ":streamGenerateContent" in path:
        if is_async:
            return [_dump(c) async for c in await models.generate_content_stream(**kwargs)]
        return [_dump(c) for c in models.generate_content_stream(**kwargs)]
    result = models.generate_content(**kwargs)
    return _dump(await result if is_async else result)


async def run(name: str, url: str, is_async: bool) -> list[Any]:
    interactions = recording(name)["interactions"]
    client = client_for(url, interactions[0]["request"]["path"])
    seen: list[Any] = []
    for interaction in interactions:
        try:
            seen.append(await call(client, interaction["request"], is_async))
        except errors.APIError as exc:
            seen.append((type(exc), exc.code))
    return seen


def recorded_body(response: dict[str, Any]) -> dict[str, Any]:
    """The response JSON, or a stream's last chunk (usage and finish reason arrive last)."""
    if "json" in response:
        body: dict[str, Any] = response["json"]
        return body
    chunks = [json.loads(line[5:]) for line in response["text"].splitlines() if line.startswith("data:")]
    return chunks[-1]


def expected_usage(body: dict[str, Any]) -> dict[str, int]:
    """genai-prices' own reading of ``usageMetadata``, as our attributes."""
    genai_prices = pytest.importorskip("genai_prices")
    usage = genai_prices.extract_usage(body, provider_id="google").usage
    pairs = {
        sc.USAGE_INPUT_TOKENS: usage.input_tokens,
        sc.USAGE_OUTPUT_TOKENS: usage.output_tokens,
        sc.USAGE_CACHE_READ_INPUT_TOKENS: usage.cache_read_tokens,
        sc.USAGE_REASONING_OUTPUT_TOKENS: usage.output_reasoning_tokens,
    }
    # genai-prices says 0 for a count the response does not have; we never invent a zero
    sources = {
        sc.USAGE_INPUT_TOKENS: ("promptTokenCount", "toolUsePromptTokenCount"),
        sc.USAGE_OUTPUT_TOKENS: ("candidatesTokenCount", "thoughtsTokenCount"),
        sc.USAGE_CACHE_READ_INPUT_TOKENS: ("cachedContentTokenCount",),
        sc.USAGE_REASONING_OUTPUT_TOKENS: ("thoughtsTokenCount",),
    }
    present = body.get("usageMetadata", {})
    return {k: v for k, v in pairs.items() if any(key in present for key in sources[k])}


@MODES
@pytest.mark.parametrize("name", NAMES)
async def test_recording(
    name: str, is_async: bool, instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    plain = await run(name, replay(f"google-genai/{name}.json").url, is_async)
    telemetry = instrument()
    server = replay(f"google-genai/{name}.json")
    assert await run(name, server.url, is_async) == plain  # instrumented == uninstrumented
    server.assert_all_served()
    calls = [i for i in recording(name)["interactions"] if is_model_call(i["request"]["path"])]
    spans = telemetry.spans()
    assert len(spans) == len(calls)  # cache management makes no span
    for span, interaction in zip(spans, calls, strict=True):
        attributes = dict(span.attributes or {})
        path = interaction["request"]["path"]
        operation = "embeddings" if "mbedContent" in path else "chat"
        assert span.name == f"{operation} {model_in(path)}"
        vertex = "/projects/" in path
        assert attributes[sc.PROVIDER_NAME] == ("gcp.vertex_ai" if vertex else "gcp.gemini")
        assert attributes[sc.SERVER_ADDRESS] == "127.0.0.1"
        response = interaction["response"]
        if response["status"] >= 400:
            assert attributes[sc.ERROR_TYPE] == str(response["status"])
            continue
        body = recorded_body(response)
        if operation == "embeddings":
            assert attributes[sc.EMBEDDINGS_DIMENSION_COUNT] == len(body["embeddings"][0]["values"])
            continue
        got = {k: attributes.get(k) for k in expected_usage(body)}
        assert got == expected_usage(body)
        assert attributes[sc.RESPONSE_MODEL] == body["modelVersion"]
        assert attributes[sc.RESPONSE_ID] == body["responseId"]


def test_content_tool_calls_and_thoughts(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    telemetry = instrument(capture_message_content="SPAN_ONLY")
    name = "generate_content_parallel_function_calls"
    request = recording(name)["interactions"][0]["request"]
    client = client_for(replay(f"google-genai/{name}.json").url, request["path"])
    result = client.models.generate_content(
        model=model_in(request["path"]),
        contents=request["json"]["contents"],
        config={k: request["json"][k] for k in ("systemInstruction", "tools")},
    )
    attributes = dict(telemetry.span().attributes or {})
    assert attributes[sc.RESPONSE_FINISH_REASONS] == ("tool_call",)
    output = json.loads(attributes[sc.OUTPUT_MESSAGES])[0]
    assert output["role"] == "assistant"
    calls = [p for p in output["parts"] if p["type"] == "tool_call"]
    assert [(c["name"], c["arguments"]) for c in calls] == [(f.name, f.args) for f in result.function_calls]
    assert json.loads(attributes[sc.TOOL_DEFINITIONS])[0]["type"] == "function"

    telemetry.span_exporter.clear()
    name = "stream_generate_content_include_thoughts"
    request = recording(name)["interactions"][0]["request"]
    client = client_for(replay(f"google-genai/{name}.json").url, request["path"])
    chunks = list(
        client.models.generate_content_stream(
            model=model_in(request["path"]),
            contents=request["json"]["contents"],
            config=request["json"]["generationConfig"],
        )
    )
    texts = [
        p.text for c in chunks for p in (c.candidates[0].content.parts or []) if p.text and not p.thought
    ]
    thoughts = [p.text for c in chunks for p in (c.candidates[0].content.parts or []) if p.text and p.thought]
    parts = json.loads(dict(telemetry.span().attributes or {})[sc.OUTPUT_MESSAGES])[0]["parts"]
    assert [p["content"] for p in parts if p["type"] == "text"] == ["".join(texts)]
    assert [p["content"] for p in parts if p["type"] == "reasoning"] == ["".join(thoughts)]


def test_safety_block_is_a_guardrail_verdict(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    telemetry = instrument()
    name = "generate_content_safety_blocked"
    request = recording(name)["interactions"][0]["request"]
    client = client_for(replay(f"google-genai/{name}.json").url, request["path"])
    client.models.generate_content(
        model=model_in(request["path"]),
        contents=request["json"]["contents"],
        config={k: request["json"][k] for k in ("systemInstruction", "safetySettings")},
    )
    attributes = dict(telemetry.span().attributes or {})
    assert attributes[sc.RESPONSE_FINISH_REASONS] == ("content_filter",)
    assert attributes[sc.GUARDRAIL_CONFIGURED] is True
    assert attributes[sc.GUARDRAIL_INTERVENED] is True
    assert attributes[sc.GUARDRAIL_BLOCKED] == "output"


@MODES
async def test_stream_closed_early_ends_the_span(
    is_async: bool, instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    telemetry = instrument()
    name = "vertex_stream_generate_content_gemini25_flash"
    request = recording(name)["interactions"][0]["request"]
    client = client_for(replay(f"google-genai/{name}.json").url, request["path"])
    kwargs = {"model": model_in(request["path"]), "contents": request["json"]["contents"]}
    if is_async:
        stream = await client.aio.models.generate_content_stream(**kwargs)
        async for _ in stream:
            break
        await stream.aclose()
        # The SDK's own generators hold ours; the event loop finalises them on its next turns.
        for _ in range(5):
            await asyncio.sleep(0)
    else:
        stream = client.models.generate_content_stream(**kwargs)
        for _ in stream:
            break
        stream.close()
    span = telemetry.span()
    assert span.attributes[sc.PROVIDER_NAME] == "gcp.vertex_ai"
    assert span.attributes[sc.RESPONSE_ID]


@pytest.mark.parametrize(
    "name", ["cached_content_create_generate_delete", "vertex_stream_generate_content_gemini25_flash"]
)
async def test_cost_is_genai_prices(
    name: str, instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    pytest.importorskip("genai_prices")
    telemetry = instrument(cost=True)
    await run(name, replay(f"google-genai/{name}.json").url, False)
    calls = [i for i in recording(name)["interactions"] if is_model_call(i["request"]["path"])]
    assert check_cost(telemetry, "google", lambda attributes: attributes[sc.RESPONSE_MODEL]) == len(calls)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"base_url": "http://127.0.0.1:8123"}, ("127.0.0.1", 8123)),
        ({"base_url": "https://example.googleapis.com/"}, ("example.googleapis.com", 443)),
        ({}, (None, None)),
        (None, (None, None)),
    ],
)
def test_server_target_from_http_options_as_object_or_dict(options: Any, expected: Any) -> None:
    from google.genai import types

    from otel_genai.instrumentation.google_genai.hook import target

    class Client:  # the api client's one field target() reads, as some releases keep it: a dict
        _http_options = options

    assert target(Client()) == expected
    if options is not None:
        Client._http_options = types.HttpOptions(**options)
        assert target(Client()) == expected
