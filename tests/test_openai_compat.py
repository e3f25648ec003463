"""OpenAI-compatible servers and opt-in stream usage.

The provider-by-host table (unit-tested row by row), a DeepSeek stream that reports usage unasked, and
``init(stream_include_usage=True)``: it asks for the usage chunk on the wire, hides that chunk from the
caller, and leaves a caller's own ``stream_options`` alone. All calls use the real client on loopback.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from conftest import Telemetry
from openai_support import (
    MODES,
    STREAM,
    Clients,
    assert_chat_span,
    assert_metrics,
    base_attributes,
    body_of,
    consumed,
    load,
    port_of,
    resolved,
    span_of,
    usage_attributes,
)
from otel_genai import semconv as sc
from otel_genai.instrumentation.openai import targets
from replay import ReplayServer


@pytest.fixture
async def clients() -> AsyncIterator[Clients]:
    async with Clients() as made:
        yield made


# --- OpenAI-compatible providers -------------------------------------------------------------------


@pytest.mark.parametrize(("pattern", "provider"), targets.PROVIDERS_BY_HOST)
def test_provider_for_host_table(pattern: str, provider: str) -> None:
    """A plain row matches its host and subdomains; a row starting with "." or "-" matches hosts ending in
    it (Azure resources, regional hosts such as ``us-central1-aiplatform.googleapis.com``), on any port."""
    host = pattern.lstrip(".-")
    assert targets.provider_for_host(host) == provider
    assert targets.provider_for_host(host, 443) == provider
    assert targets.provider_for_host(host, targets.OLLAMA_PORT) == provider  # the host wins over the port
    if pattern[0] == ".":
        assert targets.provider_for_host(f"my-resource{pattern}") == provider
    elif pattern[0] == "-":
        assert targets.provider_for_host(f"us-central1{pattern}") == provider
    else:
        assert targets.provider_for_host(f"eu.{pattern}") == provider
        assert targets.provider_for_host(f"x{pattern}") == "openai"  # a look-alike domain is no match
    # Only the end of the host counts: the provider's name elsewhere in it is no match.
    assert targets.provider_for_host(f"{host}.attacker.example") == "openai"


@pytest.mark.parametrize(
    "host", ["api.openai.com", "127.0.0.1", "localhost", "vllm.internal", "openai.azure.com.evil.example", ""]
)
def test_unknown_hosts_are_openai(host: str) -> None:
    assert targets.provider_for_host(host) == "openai"
    assert targets.provider_for_host(host, 8000) == "openai"
    assert targets.provider_for_host(host, targets.OLLAMA_PORT) == "ollama"


def test_provider_table_expected_rows() -> None:
    """The table, as docs/telemetry.md states it."""
    assert dict(targets.PROVIDERS_BY_HOST) == {
        ".openai.azure.com": "azure.ai.openai",
        ".cognitiveservices.azure.com": "azure.ai.openai",
        ".services.ai.azure.com": "azure.ai.inference",
        ".inference.ai.azure.com": "azure.ai.inference",
        "api.deepseek.com": "deepseek",
        "api.groq.com": "groq",
        "api.x.ai": "x_ai",
        "api.mistral.ai": "mistral_ai",
        "api.perplexity.ai": "perplexity",
        "api.moonshot.ai": "moonshot_ai",
        "api.moonshot.cn": "moonshot_ai",
        "api.anthropic.com": "anthropic",
        "api.cohere.ai": "cohere",
        "api.cohere.com": "cohere",
        "generativelanguage.googleapis.com": "gcp.gemini",
        "aiplatform.googleapis.com": "gcp.vertex_ai",
        "-aiplatform.googleapis.com": "gcp.vertex_ai",
    }
    assert targets.OLLAMA_PORT == 11434


@MODES
async def test_deepseek_stream_usage_without_include_usage(
    is_async: bool,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    clients: Clients,
) -> None:
    """DeepSeek (base path /beta) sends usage on its last chunk unasked; loopback address and port."""
    telemetry = instrument()
    name = "chat_stream_deepseek_usage"
    server = replay(f"openai/{name}.json")
    assert "stream_options" not in body_of(name)
    stream = await resolved(
        clients.openai(server.url + "/beta", is_async).chat.completions.create(**body_of(name))
    )
    chunks = await consumed(stream)
    assert chunks[-1].usage.completion_tokens == 89
    attributes = span_of(telemetry, "chat deepseek-chat")
    attributes.pop("gen_ai.response.time_to_first_chunk")
    assert (attributes["server.address"], attributes["server.port"]) == ("127.0.0.1", port_of(server))
    assert attributes == {
        **base_attributes(server, "chat", "deepseek-chat", path="/beta"),
        "openai.api.type": "chat_completions",
        "gen_ai.request.stream": True,
        "llm.is_streaming": True,
        "gen_ai.response.id": "ae36ce18-5dd0-4b09-9f33-09d49ad58b00",
        "gen_ai.response.model": "deepseek-chat",
        "gen_ai.response.finish_reasons": ("stop",),
        "openai.response.system_fingerprint": "fp_8802369eaa_prod0623_fp8_kvcache",
        "gen_ai.openai.system_fingerprint": "fp_8802369eaa_prod0623_fp8_kvcache",
        **usage_attributes(12, 89),
        "gen_ai.usage.cache_read.input_tokens": 0,
    }
    assert_metrics(
        telemetry.metrics(), attributes, tokens={"input": 12, "output": 89}, choices=1, streaming=True
    )


# --- opt-in stream usage ---------------------------------------------------------------------------


def without_usage_chunk(name: str) -> dict[str, Any]:
    """The recording as a server answers a request without stream_options: no usage-only chunk."""
    recording = load(name)
    response = recording["interactions"][0]["response"]
    events = response["text"].split("\n\n")
    kept = [e for e in events if not (e.startswith("data: {") and '"choices":[]' in e and '"usage":{' in e)]
    assert len(kept) == len(events) - 1
    response["text"] = "\n\n".join(kept)
    return recording


@MODES
async def test_stream_include_usage_opt_in(
    is_async: bool,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    clients: Clients,
) -> None:
    """init(stream_include_usage=True) asks for usage on the wire, hides the usage chunk from the user
    (who sees exactly the chunks of an uninstrumented call) and puts the usage on the span."""
    body = body_of(STREAM)
    del body["stream_options"]
    plain_server = replay(without_usage_chunk(STREAM))
    plain = await consumed(
        await resolved(clients.openai(plain_server.url + "/v1", is_async).chat.completions.create(**body))
    )
    assert plain_server.requests[0].json == body

    telemetry = instrument(stream_include_usage=True)
    server = replay(f"openai/{STREAM}.json")
    stream = await resolved(clients.openai(server.url + "/v1", is_async).chat.completions.create(**body))
    seen = await consumed(stream)
    assert server.requests[0].json == {**body, "stream_options": {"include_usage": True}}
    assert server.requests[0].json == body_of(STREAM)
    assert [c.model_dump() for c in seen] == [c.model_dump() for c in plain]
    assert [type(c) for c in seen] == [type(c) for c in plain]
    assert len(seen) == 7
    assert_chat_span(telemetry, server, STREAM)


@MODES
async def test_stream_include_usage_respects_caller_stream_options(
    is_async: bool,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    clients: Clients,
) -> None:
    """A caller who set stream_options keeps them as sent, and sees the usage chunk they asked for."""
    telemetry = instrument(stream_include_usage=True)
    server = replay(f"openai/{STREAM}.json")
    stream = await resolved(
        clients.openai(server.url + "/v1", is_async).chat.completions.create(**body_of(STREAM))
    )
    chunks = await consumed(stream)
    assert server.requests[0].json == body_of(STREAM)
    assert len(chunks) == 8
    assert (chunks[-1].choices, chunks[-1].usage.total_tokens) == ([], 17)
    assert_chat_span(telemetry, server, STREAM)


@MODES
async def test_stream_include_usage_caller_opted_out(
    is_async: bool,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    clients: Clients,
) -> None:
    """stream_options without include_usage is the caller's choice too: sent unchanged, no usage recorded."""
    telemetry = instrument(stream_include_usage=True)
    name = "chat_stream_no_usage_gpt4"
    server = replay(f"openai/{name}.json")
    body = {**body_of(name), "stream_options": {"include_usage": False}}
    chunks = await consumed(
        await resolved(clients.openai(server.url + "/v1", is_async).chat.completions.create(**body))
    )
    assert server.requests[0].json == body
    assert len(chunks) == 7
    attributes = span_of(telemetry, "chat gpt-4")
    assert [k for k in attributes if "token" in k] == []
    assert sc.METRIC_TOKEN_USAGE not in telemetry.metrics()


@MODES
async def test_stream_without_usage_records_no_token_metrics(
    is_async: bool,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    clients: Clients,
) -> None:
    """Without the opt-in nothing is added to the request, and unknown usage is absent, never zero."""
    telemetry = instrument()
    name = "chat_stream_no_usage_gpt4"
    server = replay(f"openai/{name}.json")
    chunks = await consumed(
        await resolved(clients.openai(server.url + "/v1", is_async).chat.completions.create(**body_of(name)))
    )
    assert server.requests[0].json == body_of(name)
    assert len(chunks) == 7
    attributes = span_of(telemetry, "chat gpt-4")
    assert [k for k in attributes if "token" in k] == []
    metrics = telemetry.metrics()
    assert sc.METRIC_TOKEN_USAGE not in metrics
    assert [p.count for p in metrics[sc.METRIC_OPERATION_DURATION]] == [1]


@MODES
async def test_a_changed_base_url_is_followed(
    is_async: bool,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    clients: Clients,
) -> None:
    """``client.base_url = ...`` between calls: the next span names the new server (the per-client target
    is re-derived, not kept from the first call), and a client class whose property returns something
    other than its stored ``_base_url`` is read through the property every call."""
    telemetry = instrument()
    name = "chat_stream_deepseek_usage"
    first, second = replay(f"openai/{name}.json"), replay(f"openai/{name}.json")
    client = clients.openai(first.url + "/beta", is_async)
    for server in (first, second):
        client.base_url = server.url + "/beta"
        await consumed(await resolved(client.chat.completions.create(**body_of(name))))
    ports = [s.attributes["server.port"] for s in telemetry.spans()]
    assert ports == [port_of(first), port_of(second)]
    stored = targets.target(client).stored  # the shortcut was taken, on what this openai keeps
    assert stored and all(getattr(client, name) is client.base_url for name, _ in stored)

    class Renamed(type(client)):  # type: ignore[misc]
        @property
        def base_url(self) -> Any:
            return self._renamed

        @base_url.setter
        def base_url(self, url: Any) -> None:
            self._renamed = url

    client.__class__ = Renamed
    client.base_url = second.url + "/elsewhere"
    assert targets.target(client).stored is None
    assert targets.target(client).api_base == second.url + "/elsewhere"
