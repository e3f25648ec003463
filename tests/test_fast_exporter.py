"""The span exporter init() builds: the SDK's HTTP behaviour, the direct encoder's bytes on the wire.

Spans come from a real TracerProvider; the loopback receiver decodes what arrives, and the raw body
must be the very bytes the SDK's own encoder produces for the same spans.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

pytest.importorskip("opentelemetry.proto")

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from otel_genai.export.span_exporter import FastOTLPSpanExporter
from otlp_receiver import OtlpReceiver, attrs_to_dict


def _spans(n: int = 3) -> list[object]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "svc"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("otel_genai", "0.1.0")
    for i in range(n):
        attributes = {"gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": i, "stop": ("a", "b")}
        with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT, attributes=attributes) as span:
            span.add_event("tick", {"n": 1.5})
            if i == 1:
                span.set_status(StatusCode.ERROR, "boom")
    return list(memory.get_finished_spans())


def test_fast_path_is_on_with_this_sdk() -> None:
    assert FastOTLPSpanExporter(endpoint="http://127.0.0.1:9/v1/traces").fast


def test_wire_bytes_equal_the_sdk_encoding_with_gzip_and_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
    spans = _spans()
    with OtlpReceiver() as receiver:
        exporter = FastOTLPSpanExporter(endpoint=f"{receiver.endpoint}/v1/traces", headers={"x-tenant": "t1"})
        assert exporter.export(spans) is SpanExportResult.SUCCESS
        exporter.shutdown()
    (path, body), (_, headers) = receiver.raw_bodies[0], receiver.headers[0]
    assert path == "/v1/traces"
    assert body == encode_spans(spans).SerializePartialToString()  # receiver stores the decompressed body
    assert headers["content-encoding"] == "gzip"
    assert headers["x-tenant"] == "t1"
    decoded = receiver.spans()
    assert [attrs_to_dict(s.attributes)["gen_ai.usage.input_tokens"] for s in decoded] == [0, 1, 2]
    assert decoded[1].status.message == "boom"


def test_transient_failures_are_retried_like_the_sdk() -> None:
    spans = _spans(1)
    with OtlpReceiver(status_code=503) as receiver:
        exporter = FastOTLPSpanExporter(endpoint=f"{receiver.endpoint}/v1/traces", timeout=10)

        def recover() -> None:
            receiver.wait_for(lambda: receiver.raw_bodies)
            receiver.status_code = 200

        threading.Thread(target=recover, daemon=True).start()
        started = time.monotonic()
        assert exporter.export(spans) is SpanExportResult.SUCCESS
        assert time.monotonic() - started < 5
        exporter.shutdown()
    assert len(receiver.raw_bodies) >= 2  # the 503, then the retry that succeeded
    assert len({body for _, body in receiver.raw_bodies}) == 1


def test_after_shutdown_and_on_a_failing_backend_export_fails_without_raising() -> None:
    with OtlpReceiver(status_code=400) as receiver:
        exporter = FastOTLPSpanExporter(endpoint=f"{receiver.endpoint}/v1/traces")
        assert exporter.export(_spans(1)) is SpanExportResult.FAILURE
        exporter.shutdown()
        assert exporter.export(_spans(1)) is SpanExportResult.FAILURE


def test_the_pipeline_init_builds_exports_through_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """init()'s span exporters (here attached to a fresh provider) encode with the direct encoder."""
    from otel_genai import sdk
    from otel_genai.config import Settings

    encoded: list[int] = []
    encode = FastOTLPSpanExporter.export

    def spy(self: FastOTLPSpanExporter, spans: Any) -> SpanExportResult:
        encoded.append(len(spans))
        return encode(self, spans)

    monkeypatch.setattr(FastOTLPSpanExporter, "export", spy)
    with OtlpReceiver() as receiver:
        provider = TracerProvider()
        sdk._add_span_exporters(provider, Settings.resolve({"endpoint": receiver.endpoint}))
        provider.get_tracer("t").start_span("s").end()
        provider.force_flush()
        assert [s.name for s in receiver.wait_for(receiver.spans)] == ["s"]
        provider.shutdown()
    assert encoded == [1]
