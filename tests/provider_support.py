"""One table of the client providers for the contract suite (tests/test_provider_contract.py).

For each provider: the instrumentor's registry name, the real client classes it patches, a recorded stream
and how to open it with the real client (sync or async), a recorded non-streaming call, how to make it and
the token counts it reports, and a call that fails to connect. Everything a
contract test needs to treat the providers alike, and nothing provider tests do not already rely on.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from conftest import API_KEY
from replay import RECORDINGS_DIR

UNREACHABLE = "http://127.0.0.1:9"  # nothing listens on the discard port: the connection is refused


def request_of(recording: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RECORDINGS_DIR / recording).read_text())
    request: dict[str, Any] = data["interactions"][0]["request"]
    return request


@dataclass(frozen=True)
class ProviderCase:
    name: str  # the registry / OTEL_PYTHON_DISABLED_INSTRUMENTATIONS name
    module: str  # the client library (skipped when missing)
    stream_recording: str
    open_stream: Callable[[str, bool], Any]  # (url, is_async) -> async context manager yielding the stream
    fail: Callable[[bool], Any]  # is_async -> awaitable/None that raises a connection error
    patched: Callable[[], list[tuple[Any, str]]]  # (owner, attribute) the instrumentor wraps
    call_recording: str
    call: Callable[[str, bool], Any]  # (url, is_async) -> awaitable of the call's result
    usage: tuple[int, int]  # (input, output) tokens the recorded call reports, as semconv counts them


# --- openai ---------------------------------------------------------------------------------------------


def _openai(url: str, is_async: bool) -> Any:
    import openai

    cls = openai.AsyncOpenAI if is_async else openai.OpenAI
    return cls(base_url=f"{url}/v1", api_key=API_KEY, max_retries=0)


@asynccontextmanager
async def _openai_stream(url: str, is_async: bool) -> AsyncIterator[Any]:
    body = request_of("openai/chat_stream_no_usage_gpt4.json")["json"]
    result = _openai(url, is_async).chat.completions.create(**body)
    yield await result if is_async else result


async def _openai_fail(is_async: bool) -> None:
    result = _openai(UNREACHABLE, is_async).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
    )
    if is_async:
        await result


async def _openai_call(url: str, is_async: bool) -> Any:
    body = request_of("openai/chat_basic_gpt4o_mini.json")["json"]
    result = _openai(url, is_async).chat.completions.create(**body)
    return await result if is_async else result


def _openai_patched() -> list[tuple[Any, str]]:
    from openai._base_client import AsyncAPIClient, SyncAPIClient

    return [(SyncAPIClient, "request"), (AsyncAPIClient, "request")]


# --- anthropic ------------------------------------------------------------------------------------------


def _anthropic(url: str, is_async: bool) -> Any:
    import anthropic

    cls = anthropic.AsyncAnthropic if is_async else anthropic.Anthropic
    return cls(base_url=url, api_key=API_KEY, max_retries=0)


@asynccontextmanager
async def _anthropic_stream(url: str, is_async: bool) -> AsyncIterator[Any]:
    body = request_of("anthropic/messages_stream_sonnet4.json")["json"]
    result = _anthropic(url, is_async).messages.create(**body)
    yield await result if is_async else result


async def _anthropic_fail(is_async: bool) -> None:
    result = _anthropic(UNREACHABLE, is_async).messages.create(
        model="claude-x", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
    )
    if is_async:
        await result


async def _anthropic_call(url: str, is_async: bool) -> Any:
    body = request_of("anthropic/messages_basic_claude3_opus.json")["json"]
    result = _anthropic(url, is_async).messages.create(**body)
    return await result if is_async else result


def _anthropic_patched() -> list[tuple[Any, str]]:
    from anthropic import _base_client

    return [(_base_client.SyncAPIClient, "request"), (_base_client.AsyncAPIClient, "request")]


# --- google-genai ---------------------------------------------------------------------------------------


def _genai(url: str) -> Any:
    from google import genai
    from google.genai import types

    options = types.HttpOptions(
        base_url=url, api_version="v1beta", retry_options=types.HttpRetryOptions(attempts=1)
    )
    return genai.Client(api_key="test", http_options=options)


@asynccontextmanager
async def _genai_stream(url: str, is_async: bool) -> AsyncIterator[Any]:
    request = request_of("google-genai/stream_generate_content_gemini20_flash.json")
    body = request["json"]
    model = request["path"].split(":")[0].rsplit("/", 1)[1]
    config = {**body["generationConfig"], "systemInstruction": body["systemInstruction"]}
    client = _genai(url)
    if is_async:
        yield await client.aio.models.generate_content_stream(
            model=model, contents=body["contents"], config=config
        )
    else:
        yield client.models.generate_content_stream(model=model, contents=body["contents"], config=config)


async def _genai_fail(is_async: bool) -> None:
    client = _genai(UNREACHABLE)
    if is_async:
        await client.aio.models.generate_content(model="gemini-2.5-flash", contents="hi")
    else:
        client.models.generate_content(model="gemini-2.5-flash", contents="hi")


async def _genai_call(url: str, is_async: bool) -> Any:
    request = request_of("google-genai/generate_content_basic_gemini25_flash.json")
    model = request["path"].split(":")[0].rsplit("/", 1)[1]
    client = _genai(url)
    if is_async:
        return await client.aio.models.generate_content(model=model, contents=request["json"]["contents"])
    return client.models.generate_content(model=model, contents=request["json"]["contents"])


def _genai_patched() -> list[tuple[Any, str]]:
    from google.genai._api_client import BaseApiClient

    names = ("request", "async_request", "request_streamed", "async_request_streamed")
    return [(BaseApiClient, name) for name in names]


# --- ollama ---------------------------------------------------------------------------------------------


@asynccontextmanager
async def _ollama_stream(url: str, is_async: bool) -> AsyncIterator[Any]:
    import ollama

    body = request_of("ollama/chat_stream_llama3.json")["json"]
    client = ollama.AsyncClient(host=url) if is_async else ollama.Client(host=url)
    result = client.chat(**body)
    yield await result if is_async else result


async def _ollama_fail(is_async: bool) -> None:
    import ollama

    body = {"model": "llama3", "messages": [{"role": "user", "content": "hi"}]}
    if is_async:
        await ollama.AsyncClient(host=UNREACHABLE).chat(**body)
    else:
        ollama.Client(host=UNREACHABLE).chat(**body)


async def _ollama_call(url: str, is_async: bool) -> Any:
    import ollama

    body = request_of("ollama/chat_llama3.json")["json"]
    if is_async:
        return await ollama.AsyncClient(host=url).chat(**body)
    return ollama.Client(host=url).chat(**body)


def _ollama_patched() -> list[tuple[Any, str]]:
    import ollama

    return [(ollama.Client, "_request"), (ollama.AsyncClient, "_request")]


# --- bedrock --------------------------------------------------------------------------------------------


@asynccontextmanager
async def _bedrock_stream(url: str, is_async: bool) -> AsyncIterator[Any]:
    from bedrock_support import async_client, sync_client

    request = request_of("bedrock/converse_stream_claude_v2.json")
    kwargs = {"modelId": "anthropic.claude-v2", **request["json"]}
    if is_async:

        class _Server:
            pass

        server: Any = _Server()
        server.url = url
        async with async_client(server) as client:
            yield (await client.converse_stream(**kwargs))["stream"]
    else:
        yield sync_client(url).converse_stream(**kwargs)["stream"]


async def _bedrock_fail(is_async: bool) -> None:
    from bedrock_support import async_client, sync_client

    kwargs = {"modelId": "anthropic.claude-v2", "messages": [{"role": "user", "content": [{"text": "hi"}]}]}
    if is_async:

        class _Server:
            url = UNREACHABLE

        async with async_client(_Server()) as client:  # type: ignore[arg-type]
            await client.converse(**kwargs)
    else:
        sync_client(UNREACHABLE).converse(**kwargs)


async def _bedrock_call(url: str, is_async: bool) -> Any:
    from bedrock_support import async_client, sync_client

    kwargs = {"modelId": "anthropic.claude-v2", **request_of("bedrock/converse_claude_v2.json")["json"]}
    if not is_async:
        return sync_client(url).converse(**kwargs)

    class _Server:
        pass

    server: Any = _Server()
    server.url = url
    async with async_client(server) as client:
        return await client.converse(**kwargs)


def _bedrock_patched() -> list[tuple[Any, str]]:
    from botocore.client import BaseClient

    return [(BaseClient, "_make_api_call")]


PROVIDERS = [
    ProviderCase(
        "openai",
        "openai",
        "openai/chat_stream_no_usage_gpt4.json",
        _openai_stream,
        _openai_fail,
        _openai_patched,
        "openai/chat_basic_gpt4o_mini.json",
        _openai_call,
        (12, 5),
    ),
    ProviderCase(
        "anthropic",
        "anthropic",
        "anthropic/messages_stream_sonnet4.json",
        _anthropic_stream,
        _anthropic_fail,
        _anthropic_patched,
        "anthropic/messages_basic_claude3_opus.json",
        _anthropic_call,
        (17, 220),
    ),
    ProviderCase(
        "google_genai",
        "google.genai",
        "google-genai/stream_generate_content_gemini20_flash.json",
        _genai_stream,
        _genai_fail,
        _genai_patched,
        "google-genai/generate_content_basic_gemini25_flash.json",
        _genai_call,
        (5, 877 + 1058),  # output: candidates and thoughts
    ),
    ProviderCase(
        "ollama",
        "ollama",
        "ollama/chat_stream_llama3.json",
        _ollama_stream,
        _ollama_fail,
        _ollama_patched,
        "ollama/chat_llama3.json",
        _ollama_call,
        (17, 66),
    ),
    ProviderCase(
        "bedrock",
        "botocore",
        "bedrock/converse_stream_claude_v2.json",
        _bedrock_stream,
        _bedrock_fail,
        _bedrock_patched,
        "bedrock/converse_claude_v2.json",
        _bedrock_call,
        (37, 8),
    ),
]


def installed(case: ProviderCase) -> bool:
    try:
        return importlib.util.find_spec(case.module) is not None
    except ModuleNotFoundError:
        return False
