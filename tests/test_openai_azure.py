"""Azure OpenAI through the real ``AzureOpenAI`` / ``AsyncAzureOpenAI`` clients on loopback.

Each azure-openai recording is replayed with its exact recorded request, by a client built as a user
would build it: ``azure_endpoint`` (the replay server), ``azure_deployment`` and ``api_version`` from the
recorded path, an ``api_key``. The server matches the query too, so the api-version really is sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import openai
import pytest

from conftest import Telemetry, kwargs_for
from openai_support import (
    MODES,
    Clients,
    assert_metrics,
    base_attributes,
    consumed,
    resolved,
    span_of,
    usage_attributes,
)
from replay import ReplayServer

RECORDINGS = Path(__file__).parent / "recordings" / "azure-openai"
NAMES = sorted(p.stem for p in RECORDINGS.glob("*.json"))
_PATH = re.compile(
    r"^/openai/deployments/(?P<deployment>[^/]+)/(?P<api>[a-z/]+)\?api-version=(?P<version>.+)$"
)

# Literal expectations per recording, beyond the Azure identity every span carries.
CHAT_RESPONSE = {
    "chat_basic": {
        "gen_ai.response.id": "chatcmpl-DPTMNvpAjTUksDAP1RsaTkYpcg627",
        "gen_ai.response.model": "gpt-4.1-mini-2025-04-14",
        "gen_ai.response.finish_reasons": ("stop",),
        "openai.response.system_fingerprint": "fp_b6f445fc1c",
        "gen_ai.openai.system_fingerprint": "fp_b6f445fc1c",
        **usage_attributes(16, 35),
        "gen_ai.usage.cache_read.input_tokens": 0,
        "gen_ai.usage.reasoning.output_tokens": 0,
    },
    "chat_content_filter_finish_reason": {
        "gen_ai.response.id": "chatcmpl-9HpyGSWv1hoKdGaUaiFhfxzTEVlZo",
        "gen_ai.response.model": "gpt-35-turbo",
        "gen_ai.response.finish_reasons": ("content_filter",),
        **usage_attributes(15, 19),
    },
    "chat_reasoning_gpt5_nano": {
        "gen_ai.response.id": "chatcmpl-C6EJeKZdEaC0VeeKH3lWwJBjCTcpd",
        "gen_ai.response.model": "gpt-5-nano-2025-08-07",
        "gen_ai.response.finish_reasons": ("stop",),
        **usage_attributes(11, 203),
        "gen_ai.usage.cache_read.input_tokens": 0,
        "gen_ai.usage.reasoning.output_tokens": 192,
    },
    "chat_stream_no_usage": {
        "gen_ai.request.stream": True,
        "llm.is_streaming": True,
        "gen_ai.response.id": "chatcmpl-DPTMcvrtSm0g72urr2OfecoBbwKEN",
        "gen_ai.response.model": "gpt-4.1-mini-2025-04-14",
        "gen_ai.response.finish_reasons": ("stop",),
        "openai.response.system_fingerprint": "fp_b6f445fc1c",
        "gen_ai.openai.system_fingerprint": "fp_b6f445fc1c",
    },
    # Stored as HTTP 200 with an error body (live Azure says 400): the client returns it, the span fails.
    "chat_prompt_filtered_error_body": {
        "gen_ai.response.finish_reasons": ("content_filter",),
        "error.type": "content_filter",
    },
    "embeddings_base64": {
        "gen_ai.response.model": "text-embedding-3-large",
        **usage_attributes(8, None),
        "gen_ai.embeddings.dimension.count": 3072,
    },
}
# Request attributes, written out from the recorded bodies.
REQUEST_ATTRIBUTES: dict[str, dict[str, Any]] = {
    "chat_reasoning_gpt5_nano": {"gen_ai.request.reasoning.level": "low"},
    "chat_error_404_deployment_not_found": {"gen_ai.request.reasoning.level": "low"},
    "embeddings_base64": {"gen_ai.request.encoding_formats": ("base64",)},
    "embeddings_error_401_invalid_key": {"gen_ai.request.encoding_formats": ("base64",)},
}
# recording -> (error.type, exception class)
ERRORS: dict[str, tuple[str, type[openai.APIStatusError]]] = {
    "chat_error_404_deployment_not_found": ("DeploymentNotFound", openai.NotFoundError),
    "embeddings_error_401_invalid_key": ("401", openai.AuthenticationError),
}


@pytest.fixture
async def clients() -> AsyncIterator[Clients]:
    async with Clients() as made:
        yield made


def load(name: str) -> dict[str, Any]:
    return dict(json.loads((RECORDINGS / f"{name}.json").read_text(encoding="utf-8")))


def request_of(name: str) -> tuple[dict[str, Any], str, str, str]:
    """(recorded body, deployment, "chat/completions" or "embeddings", api-version) of the one call."""
    request = load(name)["interactions"][0]["request"]
    match = _PATH.match(request["path"])
    assert match is not None, request["path"]
    return request["json"], match["deployment"], match["api"], match["version"]


def azure_attributes(server: ReplayServer, name: str, model: str | None = None) -> dict[str, Any]:
    """Identity of an Azure call (provider, legacy system, deployment base URL, api-version) and its
    request parameters."""
    body, deployment, api, version = request_of(name)
    operation = "chat" if api == "chat/completions" else "embeddings"
    a = base_attributes(
        server,
        operation,
        model or body["model"],
        path=f"/openai/deployments/{deployment}",
        provider="azure.ai.openai",
        legacy_system="az.ai.openai",
    )
    a["gen_ai.openai.api_version"] = version
    if operation == "chat":
        a["openai.api.type"] = "chat_completions"
    a.update(REQUEST_ATTRIBUTES.get(name, {}))
    return a


async def call(clients: Clients, server: ReplayServer, name: str, is_async: bool) -> Any:
    body, deployment, api, version = request_of(name)
    client = clients.azure(server.url, is_async, azure_deployment=deployment, api_version=version)
    if api == "embeddings":
        return await resolved(client.embeddings.create(**body))
    result = await resolved(client.chat.completions.create(**kwargs_for(body)))
    return await consumed(result) if body.get("stream") else result


def test_every_azure_recording_is_covered() -> None:
    assert set(NAMES) == {*CHAT_RESPONSE, *ERRORS}


@MODES
@pytest.mark.parametrize("name", list(CHAT_RESPONSE))
async def test_recorded_call(
    name: str,
    is_async: bool,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    clients: Clients,
) -> None:
    """Provider azure.ai.openai (legacy az.ai.openai), the api-version, the deployment's base URL; the
    recorded response, content_filter finish reasons, and no content-filter verdicts without capture."""
    telemetry = instrument()
    server = replay(f"azure-openai/{name}.json", match_query=True)
    result = await call(clients, server, name, is_async)
    server.assert_all_served()
    body, *_ = request_of(name)
    assert server.requests[0].json == body
    if name == "chat_prompt_filtered_error_body":
        assert result.model_extra["error"]["code"] == "content_filter"

    expected = {**azure_attributes(server, name), **CHAT_RESPONSE[name]}
    error_type = expected.get("error.type")
    attributes = span_of(
        telemetry, f"{expected['gen_ai.operation.name']} {body['model']}", error=bool(error_type)
    )
    streaming = bool(body.get("stream"))
    assert (attributes.pop("gen_ai.response.time_to_first_chunk", None) is not None) is streaming
    assert attributes == expected
    input_tokens = expected.get("gen_ai.usage.input_tokens")
    tokens = {"input": input_tokens} if input_tokens is not None else None
    if tokens is not None and "gen_ai.usage.output_tokens" in expected:
        tokens["output"] = expected["gen_ai.usage.output_tokens"]
    assert_metrics(
        telemetry.metrics(),
        attributes,
        tokens=tokens,
        # a failed call (Azure's 200 with an error body) generated no choices to count
        choices=None
        if "error.type" in expected
        else len(expected.get("gen_ai.response.finish_reasons", ())) or None,
        vector_size=expected.get("gen_ai.embeddings.dimension.count"),
        streaming=streaming,
        error_type=error_type,
    )


@MODES
@pytest.mark.parametrize("name", list(ERRORS))
async def test_recorded_error(
    name: str,
    is_async: bool,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    clients: Clients,
) -> None:
    """404 DeploymentNotFound and 401: error.type is the body's code."""
    error_type, error_class = ERRORS[name]
    telemetry = instrument()
    server = replay(f"azure-openai/{name}.json", match_query=True)
    with pytest.raises(openai.APIStatusError) as info:
        await call(clients, server, name, is_async)
    assert type(info.value) is error_class
    server.assert_all_served()
    body, *_ = request_of(name)
    expected = {**azure_attributes(server, name), "error.type": error_type}
    attributes = span_of(telemetry, f"{expected['gen_ai.operation.name']} {body['model']}", error=True)
    assert attributes == expected
    assert_metrics(telemetry.metrics(), attributes, error_type=error_type)


@MODES
@pytest.mark.parametrize("name", ["chat_basic", "chat_content_filter_finish_reason"])
async def test_content_filter_results_with_capture(
    name: str,
    is_async: bool,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    clients: Clients,
) -> None:
    """With content capture, Azure's verdicts become the legacy attributes Dynatrace shows, as JSON."""
    telemetry = instrument(capture_message_content="SPAN_ONLY")
    server = replay(f"azure-openai/{name}.json", match_query=True)
    await call(clients, server, name, is_async)
    response = load(name)["interactions"][0]["response"]["json"]
    attributes = dict(telemetry.span().attributes or {})
    verdicts = {k: v for k, v in attributes.items() if k.endswith("filter_results")}
    assert {k: json.loads(v) for k, v in verdicts.items()} == {
        "gen_ai.prompt.prompt_filter_results": response["prompt_filter_results"],
        "gen_ai.completion.0.content_filter_results": response["choices"][0]["content_filter_results"],
    }
    assert verdicts["gen_ai.prompt.prompt_filter_results"].startswith('[{"prompt_index":0,')


@MODES
async def test_request_model_is_what_the_client_sends(
    is_async: bool,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    clients: Clients,
) -> None:
    """With azure_deployment set, the client still sends the caller's body model (the deployment is in the
    path): that model is the request model. A body without a model falls back to the deployment."""
    telemetry = instrument()
    server = replay("azure-openai/chat_basic.json", "azure-openai/chat_basic.json", match_query=True)
    client = clients.azure(
        server.url, is_async, azure_deployment="openllmetry-testing", api_version="2024-02-01"
    )
    messages = [{"role": "user", "content": "Tell me a joke about opentelemetry"}]
    await resolved(client.chat.completions.create(model="gpt-4o", messages=messages))
    completion_type = openai.types.chat.ChatCompletion
    await resolved(client.post("/chat/completions", cast_to=completion_type, body={"messages": messages}))
    server.assert_all_served()
    assert [r.path for r in server.requests] == [
        "/openai/deployments/openllmetry-testing/chat/completions?api-version=2024-02-01"
    ] * 2
    assert [r.json for r in server.requests] == [
        {"model": "gpt-4o", "messages": messages},
        {"messages": messages},
    ]

    spans = telemetry.spans()
    assert [s.name for s in spans] == ["chat gpt-4o", "chat openllmetry-testing"]
    for span, model in zip(spans, ("gpt-4o", "openllmetry-testing"), strict=True):
        attributes = {
            k: v for k, v in (span.attributes or {}).items() if not k.startswith("gen_ai.guardrail.")
        }
        assert attributes == {
            **azure_attributes(server, "chat_basic", model),
            **CHAT_RESPONSE["chat_basic"],
        }


@MODES
async def test_client_without_deployment(
    is_async: bool,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    clients: Clients,
) -> None:
    """Without azure_deployment the client puts the body model into the path; the base URL has no
    deployment, and the request model is the body model."""
    telemetry = instrument()
    server = replay("azure-openai/chat_basic.json", match_query=True)
    client = clients.azure(server.url, is_async, api_version="2024-02-01")
    body, *_ = request_of("chat_basic")
    await resolved(client.chat.completions.create(**body))
    server.assert_all_served()
    attributes = span_of(telemetry, "chat openllmetry-testing")
    assert attributes == {
        **azure_attributes(server, "chat_basic"),
        "gen_ai.openai.api_base": f"{server.url}/openai/",
        **CHAT_RESPONSE["chat_basic"],
    }
