"""``init()`` imports neither the SDK's OTLP/HTTP exporters (requests, urllib3) nor openai's stream helpers:
the exporters are built on their first export, the helpers patched when openai imports them.

The child process checks ``sys.modules`` right after ``init()``, then uses everything that was deferred:
a ``.stream()`` helper rejecting a chunk (the span must still end ERROR) and a plain call, whose spans,
metrics and audit records must reach a real OTLP/HTTP receiver.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics import Counter
from opentelemetry.sdk.metrics.export import AggregationTemporality, MetricsData
from opentelemetry.sdk.trace.export import SpanExportResult

from otel_genai.export.deferred import DeferredLogExporter, DeferredMetricExporter, DeferredSpanExporter
from otlp_receiver import OtlpReceiver, attrs_to_dict

TESTS_DIR = Path(__file__).parent
DEFERRED = (
    "requests",
    "urllib3",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http.metric_exporter",
    "opentelemetry.exporter.otlp.proto.http._log_exporter",
    "openai.lib.streaming.chat._completions",
    "openai.lib.streaming.responses._responses",
)

APP = """
import copy, json, sys
sys.path.insert(0, sys.argv[1])
import openai
import otel_genai

before = set(sys.modules)  # (openai 1.x's own import already loads its stream helpers)
otel_genai.init(endpoint=sys.argv[2], audit=True)
observed = {"imported_by_init": [m for m in json.loads(sys.argv[3]) if m in set(sys.modules) - before]}

from replay import RECORDINGS_DIR, ReplayServer

def recording(path):
    return json.loads((RECORDINGS_DIR / path).read_text(encoding="utf-8"))

stream = recording("openai/chat_stream_include_usage_gpt4.json")
response = stream["interactions"][0]["response"]
first = response["text"].split("\\n\\n", 1)[0]  # a good first chunk, then one the helper rejects
response["text"] = first + '\\n\\ndata: {"id": "x", "object": "chat.completion.chunk", "choices": 7}\\n\\n'
body = {k: v for k, v in stream["interactions"][0]["request"]["json"].items() if not k.startswith("stream")}
with ReplayServer(stream) as server:
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="sk-test", max_retries=0)
    helpers = client.beta.chat.completions if hasattr(client, "beta") and not hasattr(
        client.chat.completions, "stream") else client.chat.completions
    try:
        with helpers.stream(**body) as events:
            for _ in events:
                pass
    except Exception as exc:
        observed["helper_raised"] = type(exc).__name__

basic = recording("openai/chat_basic_gpt4o_mini.json")
with ReplayServer(basic) as server:
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="sk-test", max_retries=0)
    request = basic["interactions"][0]["request"]["json"]
    observed["content"] = client.chat.completions.create(**request).choices[0].message.content
observed["flushed"] = otel_genai.force_flush()
otel_genai.shutdown()
print(json.dumps(observed))
"""


@pytest.fixture(scope="module")
def run() -> tuple[dict[str, Any], OtlpReceiver]:
    with OtlpReceiver() as receiver:
        result = subprocess.run(
            [sys.executable, "-c", APP, str(TESTS_DIR), receiver.url, json.dumps(DEFERRED)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout.strip().splitlines()[-1]), receiver


def test_init_imports_no_exporter_and_no_stream_helper(run: tuple[dict[str, Any], OtlpReceiver]) -> None:
    observed, _ = run
    assert observed["imported_by_init"] == []


def test_a_helper_imported_after_init_still_ends_its_span_with_the_error(
    run: tuple[dict[str, Any], OtlpReceiver],
) -> None:
    observed, receiver = run
    assert "helper_raised" in observed
    spans = receiver.spans()
    errors = [s for s in spans if s.status.code == 2]  # STATUS_CODE_ERROR
    assert len(errors) == 1
    assert attrs_to_dict(errors[0].attributes)["gen_ai.operation.name"] == "chat"


def test_the_exporters_built_on_first_use_deliver_every_signal(
    run: tuple[dict[str, Any], OtlpReceiver],
) -> None:
    observed, receiver = run
    assert observed["content"] == "This is a test."
    assert observed["flushed"] is True
    spans = receiver.spans()
    assert sorted(s.name for s in spans) == ["chat gpt-4", "chat gpt-4o-mini"]
    names = {m.name for m in receiver.metrics()}
    assert "gen_ai.client.operation.duration" in names
    records = receiver.log_records()
    assert len(records) == 2  # one audit record per call


# --- the deferred exporters themselves ------------------------------------------------------------


class Recording:
    """A stand-in for the SDK exporter that a factory builds; counts what it is asked."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.kwargs: list[dict[str, Any]] = []

    def export(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append("export")
        self.kwargs.append(kwargs)
        return SpanExportResult.SUCCESS

    def shutdown(self, **kwargs: Any) -> None:
        self.calls.append("shutdown")
        self.kwargs.append(kwargs)

    def force_flush(self, timeout_millis: float = 0) -> bool:
        self.calls.append("flush")
        return True


def test_nothing_is_built_for_a_shutdown_before_the_first_export() -> None:
    built: list[Recording] = []
    exporter = DeferredSpanExporter(lambda: built.append(Recording()) or built[-1])  # type: ignore[func-returns-value]
    assert exporter.force_flush() is True
    exporter.shutdown()
    assert exporter.export([]) is SpanExportResult.FAILURE  # like the SDK's exporter once shut down
    assert built == []


def test_built_once_and_shut_down_with_the_exporter() -> None:
    built: list[Recording] = []
    exporter = DeferredSpanExporter(lambda: built.append(Recording()) or built[-1])  # type: ignore[func-returns-value]
    assert exporter.export([]) is SpanExportResult.SUCCESS
    assert exporter.export([]) is SpanExportResult.SUCCESS
    assert exporter.force_flush() is True
    exporter.shutdown()
    assert len(built) == 1
    assert built[0].calls == ["export", "export", "flush", "shutdown"]


def test_a_factory_that_fails_warns_once_and_every_export_fails(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> Any:
        raise OSError("no such certificate file: /etc/ca.pem")

    temporality = {Counter: AggregationTemporality.DELTA}
    exporters: list[Any] = [DeferredSpanExporter(broken), DeferredMetricExporter(broken, temporality)]
    exporters.append(DeferredLogExporter(broken))
    with caplog.at_level(logging.WARNING, logger="otel_genai"):
        for exporter in exporters:
            for _ in range(3):
                result = exporter.export(MetricsData(resource_metrics=[]))
                assert result.name == "FAILURE"
            exporter.shutdown()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"otel-genai: could not create the OTLP {s} exporter" for s in ("traces", "metrics", "logs")
    ]


def test_the_metric_exporter_states_its_temporality_before_it_exists() -> None:
    temporality = {Counter: AggregationTemporality.DELTA}
    exporter = DeferredMetricExporter(Recording, temporality)  # type: ignore[arg-type]
    assert exporter._preferred_temporality[Counter] is AggregationTemporality.DELTA  # the reader reads it
    exporter.export(MetricsData(resource_metrics=[]), timeout_millis=250)
    exporter.shutdown(timeout_millis=500)
    real = exporter._deferred._real
    assert real.calls == ["export", "shutdown"]
    assert real.kwargs == [{"timeout_millis": 250}, {"timeout_millis": 500}]
