"""``otel_genai.init()``, ``uninstrument()`` and ``shutdown()`` as an application uses them.

In-process tests pass the in-memory providers, so nothing global is installed. What needs a fresh
interpreter (an application's own global TracerProvider, lazy imports, providers that ``init()`` installs
itself) runs in a child process that prints its observations as JSON.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import wrapt
from openai._base_client import AsyncAPIClient, SyncAPIClient

import otel_genai
from conftest import API_KEY, Telemetry
from otel_genai.config import ContentCapture, Settings
from replay import RECORDINGS_DIR, ReplayServer

TESTS_DIR = Path(__file__).parent
BASIC = "openai/chat_basic_gpt4o_mini.json"
BODY = json.loads((RECORDINGS_DIR / BASIC).read_text(encoding="utf-8"))["interactions"][0]["request"]["json"]
# Captured at import, before any test can have patched them.
ORIGINAL_REQUEST = {cls: cls.__dict__["request"] for cls in (SyncAPIClient, AsyncAPIClient)}
CHILD_TIMEOUT_S = 30  # a hang guard for the child processes, not a timing assertion


def assert_unpatched() -> None:
    for cls, original in ORIGINAL_REQUEST.items():
        assert cls.__dict__["request"] is original
        assert not isinstance(cls.__dict__["request"], wrapt.FunctionWrapper)


def assert_patched() -> None:
    for cls, original in ORIGINAL_REQUEST.items():
        patched = cls.__dict__["request"]
        assert isinstance(patched, wrapt.FunctionWrapper)
        assert patched.__wrapped__ is original


@pytest.fixture
def init(telemetry: Telemetry) -> Iterator[Callable[..., Settings | None]]:
    """``otel_genai.init`` against the in-memory providers; unlike ``instrument`` it returns the result."""

    def start(**keywords: Any) -> Settings | None:
        return otel_genai.init(
            tracer_provider=telemetry.tracer_provider,
            meter_provider=telemetry.meter_provider,
            logger_provider=telemetry.logger_provider,
            **keywords,
        )

    yield start
    otel_genai.shutdown()
    assert_unpatched()


def client_for(server: ReplayServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=API_KEY, max_retries=0)


def call(client: openai.OpenAI) -> str | None:
    return client.chat.completions.create(**BODY).choices[0].message.content


def metric_counts(telemetry: Telemetry) -> dict[str, list[Any]]:
    """Metric name -> per data point: token type (if any) and count or value."""
    return {
        name: sorted(
            (p.attributes.get("gen_ai.token.type", ""), getattr(p, "count", None) or p.value) for p in points
        )
        for name, points in telemetry.metrics().items()
    }


ONE_CALL_METRICS = {
    "gen_ai.client.operation.duration": [("", 1)],
    "gen_ai.client.token.usage": [("input", 1), ("output", 1)],
    "gen_ai.client.generation.choices": [("", 1)],
}


# --- in process ---------------------------------------------------------------------------------


def test_init_returns_the_resolved_settings(init: Callable[..., Any]) -> None:
    settings = init(service_name="checkout", capture_message_content="span_only", max_content_length=100)
    assert isinstance(settings, Settings)
    assert (settings.service_name, settings.capture_content, settings.max_content_length) == (
        "checkout",
        ContentCapture.SPAN_ONLY,
        100,
    )
    assert_patched()


def test_second_init_is_a_no_op(init: Callable[..., Any], telemetry: Telemetry, replay: Any) -> None:
    assert isinstance(init(), Settings)
    patched = {cls: cls.__dict__["request"] for cls in ORIGINAL_REQUEST}
    assert init() is None
    assert init(capture_message_content="SPAN_AND_EVENT") is None
    assert {cls: cls.__dict__["request"] for cls in ORIGINAL_REQUEST} == patched  # not wrapped twice
    server = replay(BASIC)
    assert call(client_for(server)) == "This is a test."
    span = telemetry.span()
    assert span.name == "chat gpt-4o-mini"
    assert "gen_ai.input.messages" not in span.attributes  # the first configuration holds
    assert metric_counts(telemetry) == ONE_CALL_METRICS
    server.assert_all_served()


def test_disabled_keyword_leaves_openai_unpatched(
    init: Callable[..., Any], telemetry: Telemetry, replay: Any
) -> None:
    assert init(disabled=True) is None
    assert_unpatched()
    assert call(client_for(replay(BASIC))) == "This is a test."
    assert telemetry.spans() == []
    assert isinstance(init(), Settings)  # disabling installed nothing, so a later init() still works


@pytest.mark.parametrize("value", ["true", "TRUE"])
def test_otel_sdk_disabled_leaves_openai_unpatched(
    init: Callable[..., Any], telemetry: Telemetry, replay: Any, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", value)
    assert init() is None
    assert_unpatched()
    assert call(client_for(replay(BASIC))) == "This is a test."
    assert telemetry.spans() == []
    assert metric_counts(telemetry) == {}


def test_disabled_instrumentations_leaves_openai_unpatched(
    init: Callable[..., Any], telemetry: Telemetry, replay: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "openai")
    settings = init()
    assert isinstance(settings, Settings)
    assert settings.disabled_instrumentations == frozenset({"openai"})
    assert_unpatched()
    assert call(client_for(replay(BASIC))) == "This is a test."
    assert telemetry.spans() == []


@pytest.mark.parametrize(
    "remove", [otel_genai.uninstrument, otel_genai.shutdown], ids=["uninstrument", "shutdown"]
)
def test_removing_the_patch_stops_telemetry(
    init: Callable[..., Any], telemetry: Telemetry, replay: Any, remove: Callable[[], None]
) -> None:
    assert isinstance(init(), Settings)
    client = client_for(replay(BASIC, BASIC))
    assert call(client) == "This is a test."
    assert len(telemetry.spans()) == 1
    assert metric_counts(telemetry) == ONE_CALL_METRICS
    remove()
    assert_unpatched()
    remove()  # idempotent
    assert call(client) == "This is a test."
    assert len(telemetry.spans()) == 1
    assert metric_counts(telemetry) == {}


def test_init_after_shutdown_instruments_again(
    init: Callable[..., Any], telemetry: Telemetry, replay: Any
) -> None:
    assert isinstance(init(), Settings)
    otel_genai.shutdown()
    assert_unpatched()
    assert isinstance(init(), Settings)
    assert_patched()
    assert call(client_for(replay(BASIC))) == "This is a test."
    assert telemetry.span().name == "chat gpt-4o-mini"


async def test_clients_created_before_init_are_instrumented(
    init: Callable[..., Any], telemetry: Telemetry, replay: Any
) -> None:
    server = replay(BASIC, BASIC)
    sync_client = client_for(server)
    async_client = openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key=API_KEY, max_retries=0)
    assert isinstance(init(), Settings)
    assert call(sync_client) == "This is a test."
    response = await async_client.chat.completions.create(**BODY)
    assert response.choices[0].message.content == "This is a test."
    spans = telemetry.spans()
    assert [(s.name, s.attributes["gen_ai.response.id"]) for s in spans] == [
        ("chat gpt-4o-mini", "chatcmpl-ASYMQRl3A3DXL9FWCK9tnGRcKIO7q")
    ] * 2
    server.assert_all_served()


# --- in a child process -------------------------------------------------------------------------


def run_child(code: str, *args: str) -> tuple[dict[str, Any], str]:
    """Run ``code`` in a fresh interpreter; it prints one JSON line last. Returns it and the stderr."""
    result = subprocess.run(
        [sys.executable, "-c", code, str(TESTS_DIR), *args],
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stderr


# The application owns a global SDK TracerProvider before it calls init(), and imports openai only after.
EXISTING_PROVIDER_APP = """
import json, sys
sys.path.insert(0, sys.argv[1])
import otel_genai
watched = ("openai", "opentelemetry.sdk", "opentelemetry.sdk.trace", "wrapt", "otel_genai.sdk")
observed = {"after_import": {m: m in sys.modules for m in watched}}

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

exporter = InMemorySpanExporter()
provider = TracerProvider(resource=Resource.create({"service.name": "users-own-app"}))
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)

settings = otel_genai.init(service_name="ignored", metrics_exporter="none", logs_exporter="none")
observed["init_returned_settings"] = settings is not None
observed["openai_after_init"] = "openai" in sys.modules

import openai
import wrapt
from openai._base_client import SyncAPIClient
from replay import RECORDINGS_DIR, ReplayServer

observed["patched"] = isinstance(SyncAPIClient.__dict__["request"], wrapt.FunctionWrapper)
path = "openai/chat_basic_gpt4o_mini.json"
body = json.loads((RECORDINGS_DIR / path).read_text())["interactions"][0]["request"]["json"]
with ReplayServer(path) as server:
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="sk-test", max_retries=0)
    observed["content"] = client.chat.completions.create(**body).choices[0].message.content
otel_genai.force_flush()  # the first priced call's span ends once genai-prices has loaded (off-thread)
observed["spans"] = [
    [s.name, s.resource.attributes.get("service.name")] for s in exporter.get_finished_spans()
]
observed["global_provider_kept"] = trace.get_tracer_provider() is provider
observed["pipeline_uses_it"] = otel_genai._pipeline.tracer_provider is provider
observed["provider_owned"] = provider in otel_genai._pipeline.owned
observed["span_processors"] = len(provider._active_span_processor._span_processors)
otel_genai.shutdown()
observed["unpatched"] = not isinstance(SyncAPIClient.__dict__["request"], wrapt.FunctionWrapper)
print(json.dumps(observed))
"""


@pytest.fixture(scope="module")
def existing_provider_run() -> dict[str, Any]:
    observed, _ = run_child(EXISTING_PROVIDER_APP)
    return observed


def test_import_is_lazy(existing_provider_run: dict[str, Any]) -> None:
    assert existing_provider_run["after_import"] == {
        "openai": False,
        "opentelemetry.sdk": False,
        "opentelemetry.sdk.trace": False,
        "wrapt": False,
        "otel_genai.sdk": False,
    }


def test_openai_imported_after_init_is_instrumented(existing_provider_run: dict[str, Any]) -> None:
    assert existing_provider_run["init_returned_settings"] is True
    assert existing_provider_run["openai_after_init"] is False  # init() did not import it
    assert existing_provider_run["patched"] is True
    assert existing_provider_run["content"] == "This is a test."
    assert existing_provider_run["unpatched"] is True


def test_existing_global_tracer_provider_is_used_as_it_is(existing_provider_run: dict[str, Any]) -> None:
    assert existing_provider_run["spans"] == [["chat gpt-4o-mini", "users-own-app"]]
    assert existing_provider_run["global_provider_kept"] is True
    assert existing_provider_run["pipeline_uses_it"] is True
    assert existing_provider_run["provider_owned"] is False  # shutdown() leaves the app's provider alone
    assert existing_provider_run["span_processors"] == 1  # no exporter added without attach_exporters=True


DEAD_ENDPOINT_APP = """
import json, sys
sys.path.insert(0, sys.argv[1])
import otel_genai

settings = otel_genai.init(endpoint=sys.argv[2], timeout=1000)
import openai
from replay import RECORDINGS_DIR, ReplayServer

path = "openai/chat_basic_gpt4o_mini.json"
body = json.loads((RECORDINGS_DIR / path).read_text())["interactions"][0]["request"]["json"]
with ReplayServer(path, path) as server:
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="sk-test", max_retries=0)
    contents = [client.chat.completions.create(**body).choices[0].message.content for _ in range(2)]
print(json.dumps({"endpoints": settings.endpoints, "contents": contents}))
"""


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_dead_endpoint_never_breaks_the_app() -> None:
    """init() installs its own providers and OTLP exporters; nothing listens, and the app neither notices
    nor hangs at exit (the exit flush gives up after the configured timeout)."""
    port = closed_port()
    observed, stderr = run_child(DEAD_ENDPOINT_APP, f"http://127.0.0.1:{port}")
    assert observed == {
        "endpoints": {s: f"http://127.0.0.1:{port}/v1/{s}" for s in ("traces", "metrics", "logs")},
        "contents": ["This is a test.", "This is a test."],
    }
    assert "Traceback" not in stderr
    assert (
        "otel-genai: 2 of 2 spans were not delivered" in stderr
        or "otel-genai: telemetry export did not finish" in stderr
    )
