"""Events and the audit trail on every SDK release of the supported range (1.30 and later).

They are recorded with ``Logger.emit(event_name=..., attributes=..., context=...)``, the keyword form of
API and SDK 1.38 and later. On an older SDK that call would raise inside the recorder's guard for every
model call, so nothing would ever be emitted, unseen: instead the recorder turns events and the audit trail
off and logs one warning naming each setting. Runs without the suite's conftest, so that
``nox -s fast_paths_older_sdks`` also runs it on SDK 1.30 and 1.40.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.version import __version__ as SDK_VERSION

from otel_genai import config
from otel_genai import semconv as sc
from otel_genai.config import Settings
from otel_genai.core.invocation import Invocation
from otel_genai.core.recorder import Recorder
from sdk_logs import InMemoryLogRecordExporter

KEYWORD_EMIT = tuple(int(p) for p in SDK_VERSION.split(".")[:2]) >= (1, 38)


def _recorder(**overrides: Any) -> tuple[Recorder, InMemorySpanExporter, Any]:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    logs = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    settings = Settings.resolve({"cost": False, **overrides}, env={})  # no price table to wait for
    return Recorder(settings, tracer_provider, MeterProvider(), logger_provider), spans, logs


def _call(recorder: Recorder) -> None:
    inv = Invocation("chat", "openai", "gpt-4o-mini", server_address="127.0.0.1", server_port=8000)
    inv.input_messages = [{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]
    inv.input_tokens, inv.output_tokens = 3, 4
    recorder.start(inv)
    recorder.finish(inv)


@pytest.fixture(autouse=True)
def _fresh_warnings() -> Any:
    saved = set(config._warned)
    config._warned.clear()
    yield
    config._warned.clear()
    config._warned.update(saved)


def test_events_and_audit_or_one_warning_each(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="otel_genai")
    for _ in range(2):  # a second recorder (another instrumentor) does not warn again
        recorder, spans, logs = _recorder(audit=True, capture_message_content="SPAN_AND_EVENT")
        _call(recorder)
    [span] = spans.get_finished_spans()  # the last recorder's provider: its one call
    assert span.attributes["gen_ai.usage.input_tokens"] == 3  # the call itself is recorded either way
    records = [data.log_record for data in logs.get_finished_logs()]
    warnings = [
        r.getMessage() for r in caplog.records if r.name == "otel_genai" and r.levelno >= logging.WARNING
    ]
    if KEYWORD_EMIT:
        names = sorted(r.event_name for r in records)  # the last recorder's call
        assert names == sorted([sc.EVENT_AUDIT, sc.EVENT_INFERENCE_DETAILS])
        assert warnings == []
    else:
        assert records == []
        assert len(warnings) == 2
        assert "OTEL_GENAI_AUDIT needs opentelemetry-api and -sdk 1.38" in warnings[1]
        assert "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_AND_EVENT" in warnings[0]
        assert recorder._audit is None and recorder._events is None


def test_event_only_without_events_reads_no_content() -> None:
    recorder, _, _ = _recorder(capture_message_content="EVENT_ONLY")
    assert recorder.capture_content is KEYWORD_EMIT
