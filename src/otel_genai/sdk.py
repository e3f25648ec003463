"""OpenTelemetry SDK set-up: providers, OTLP/HTTP exporters, histogram Views, temporality, exit flush.

Imported only by ``init()``: importing ``otel_genai`` alone pulls in none of this.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from opentelemetry import _logs, metrics, trace
from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    MeterProvider,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider, sampling
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from . import semconv as sc
from .config import Settings, Temporality
from .core.fastmetrics import GenAIMetricReader, MetricsBuffer
from .version import __version__

_log = logging.getLogger("otel_genai")
_EXIT_TIMEOUT_S = 5.0
_SPAN_QUEUE_SIZE = 8192
_SPAN_SCHEDULE_DELAY_MS = 1000  # the most a dead endpoint may delay interpreter exit

_DELTA, _CUMULATIVE = AggregationTemporality.DELTA, AggregationTemporality.CUMULATIVE
TEMPORALITIES: dict[Temporality, dict[type, AggregationTemporality]] = {
    # Dynatrace ingests only delta; up-down counters and gauges stay cumulative, as the spec prescribes.
    Temporality.DELTA: {
        Counter: _DELTA,
        UpDownCounter: _CUMULATIVE,
        Histogram: _DELTA,
        ObservableCounter: _DELTA,
        ObservableUpDownCounter: _CUMULATIVE,
        ObservableGauge: _CUMULATIVE,
    },
    Temporality.LOWMEMORY: {
        Counter: _DELTA,
        UpDownCounter: _CUMULATIVE,
        Histogram: _DELTA,
        ObservableCounter: _CUMULATIVE,
        ObservableUpDownCounter: _CUMULATIVE,
        ObservableGauge: _CUMULATIVE,
    },
    Temporality.CUMULATIVE: {
        kind: _CUMULATIVE
        for kind in (
            Counter,
            UpDownCounter,
            Histogram,
            ObservableCounter,
            ObservableUpDownCounter,
            ObservableGauge,
        )
    },
}


def histogram_views() -> list[View]:
    """Semconv bucket boundaries, so second-valued durations never land in the SDK's millisecond defaults."""
    return [
        View(instrument_name=name, aggregation=ExplicitBucketHistogramAggregation(list(buckets)))
        for name, buckets in sc.HISTOGRAM_BUCKETS.items()
    ]


def sampler_for(settings: Settings) -> sampling.Sampler:
    ratio = settings.sampler_arg
    return {
        "always_on": sampling.ALWAYS_ON,
        "always_off": sampling.ALWAYS_OFF,
        "traceidratio": sampling.TraceIdRatioBased(ratio),
        "parentbased_always_on": sampling.ParentBased(sampling.ALWAYS_ON),
        "parentbased_always_off": sampling.ParentBased(sampling.ALWAYS_OFF),
        "parentbased_traceidratio": sampling.ParentBased(sampling.TraceIdRatioBased(ratio)),
    }[settings.sampler]


class DeliveryCounter(SpanProcessor):
    """Counts ended and exported spans so that a loss is reported once, with its size, at shutdown."""

    def __init__(self) -> None:
        self.ended = 0
        self.exported = 0

    def on_end(self, span: ReadableSpan) -> None:
        self.ended += 1

    def wrap(self, exporter: SpanExporter) -> SpanExporter:
        counter = self

        class _Counting(SpanExporter):
            def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
                result = exporter.export(spans)
                if result is SpanExportResult.SUCCESS:
                    counter.exported += len(spans)
                return result

            def shutdown(self) -> None:
                exporter.shutdown()

            def force_flush(self, timeout_millis: int = 30000) -> bool:
                return bool(exporter.force_flush(timeout_millis))

        return _Counting()

    def reset(self) -> None:
        """A forked child counts only its own spans (the parent reports on those it ended)."""
        self.ended = self.exported = 0

    def report(self) -> None:
        lost = self.ended - self.exported
        if lost > 0:
            _log.warning(
                "otel-genai: %d of %d spans were not delivered (export queue full or exporter failing)",
                lost,
                self.ended,
            )


@dataclass
class Pipeline:
    """What ``init()`` installed or attached to, so shutdown and flush can find it."""

    tracer_provider: Any
    meter_provider: Any
    logger_provider: Any
    owned: list[Any] = field(default_factory=list)  # providers we created and must shut down
    delivery: list[DeliveryCounter] = field(default_factory=list)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        ok = complete_deferred_calls(timeout_millis / 1000)
        for provider in (self.tracer_provider, self.meter_provider, self.logger_provider):
            flush = getattr(provider, "force_flush", None)
            if flush is not None:
                ok = bool(flush(timeout_millis)) and ok
        return ok

    def shutdown(self, timeout_s: float = _EXIT_TIMEOUT_S) -> None:
        """Shut down what we own within ``timeout_s`` in all, so a dead endpoint cannot hold the caller.

        Each provider gets its own thread: a span exporter retrying a slow backend must not use up the
        time the metric reader needs for its final export.
        """
        deadline = time.monotonic() + timeout_s
        complete_deferred_calls(timeout_s)  # spans still waiting for the price table end first
        owned, self.owned = self.owned, []  # a second shutdown (atexit after an explicit one) is a no-op
        if not owned:
            return
        from .export_health import before_shutdown

        before_shutdown()  # an endpoint that refuses connections: give up now, not after the bound

        def run(provider: Any) -> None:
            try:
                provider.shutdown()
            except Exception:
                _log.debug("otel-genai: provider shutdown failed", exc_info=True)

        workers = [
            threading.Thread(target=run, args=(p,), name="otel-genai-shutdown", daemon=True) for p in owned
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        if any(worker.is_alive() for worker in workers):
            _log.warning("otel-genai: telemetry export did not finish within %.1f s; giving up", timeout_s)
        for counter in self.delivery:
            counter.report()


def complete_deferred_calls(timeout_s: float) -> bool:
    """Wait (bounded) for calls whose span waits for genai-prices to load; True if none is left."""
    pricing = sys.modules.get("otel_genai.core.pricing")  # never imported here: only if a call priced
    return pricing is None or bool(pricing.drain_all(timeout_s))


def _otlp_kwargs(settings: Settings, signal: str) -> dict[str, Any]:
    from .stdenv import clean_headers, signal_timeout_s

    return {
        "endpoint": settings.endpoints[signal],
        "headers": clean_headers(settings.headers[signal], f"OTEL_EXPORTER_OTLP_{signal.upper()}_HEADERS"),
        "timeout": signal_timeout_s(signal, settings.timeout_s),
    }


def _watched(exporter: Any, settings: Settings, signal: str) -> Any:
    """One log line per failing endpoint, and a fast exit when it refuses connections (export_health.py)."""
    from .export_health import watch

    return watch(exporter, signal, settings.endpoints[signal])


def build(settings: Settings, *, attach_exporters: bool = False, **providers: Any) -> Pipeline:
    """Install (or adopt) the three providers. Never blocks on the network and never raises."""
    attributes: dict[str, Any] = dict(settings.resource_attributes)
    if settings.service_name:
        attributes["service.name"] = settings.service_name
    resource = Resource.create(attributes)
    tracer_provider, owned_tp, counter = _traces(
        settings, resource, providers.get("tracer_provider"), attach_exporters
    )
    meter_provider, owned_mp = _metrics(settings, resource, providers.get("meter_provider"))
    logger_provider, owned_lp = providers.get("logger_provider"), False
    if settings.capture_content.on_event or settings.audit:  # events, audit records: OTLP logs
        logger_provider, owned_lp = _logs_provider(settings, resource, logger_provider)
    pipeline = Pipeline(tracer_provider, meter_provider, logger_provider)
    pipeline.owned = [
        p
        for p, owned in ((tracer_provider, owned_tp), (meter_provider, owned_mp), (logger_provider, owned_lp))
        if owned
    ]
    pipeline.delivery = [counter] if counter is not None else []
    atexit.register(pipeline.shutdown, min(settings.timeout_s, _EXIT_TIMEOUT_S))
    from . import fork

    fork.install(pipeline, min(settings.timeout_s, _EXIT_TIMEOUT_S))  # forked children: see fork.py
    return pipeline


def _traces(
    settings: Settings, resource: Resource, given: Any, attach: bool
) -> tuple[Any, bool, DeliveryCounter | None]:
    existing = given or trace.get_tracer_provider()
    if isinstance(existing, TracerProvider):
        counter = _add_span_exporters(existing, settings) if attach else None
        return existing, False, counter
    if given is not None:
        return given, False, None  # a non-SDK provider the caller chose: use it as it is
    provider = TracerProvider(resource=resource, sampler=sampler_for(settings), shutdown_on_exit=False)
    provider._otel_genai_fast_spans = True  # type: ignore[attr-defined]  # read by core.recorder.Recorder
    counter = _add_span_exporters(provider, settings)
    trace.set_tracer_provider(provider)
    return provider, True, counter


def _add_span_exporters(provider: TracerProvider, settings: Settings) -> DeliveryCounter | None:
    counter = None
    for name in settings.exporters["traces"]:
        if name == "otlp":
            from .export.deferred import DeferredSpanExporter
            from .export.span_processor import BackpressureSpanProcessor  # the SDK's, never starved

            counter = DeliveryCounter()
            provider.add_span_processor(counter)
            kwargs = _otlp_kwargs(settings, "traces")
            exporter = counter.wrap(
                _watched(DeferredSpanExporter(partial(_span_otlp, kwargs)), settings, "traces")
            )
            provider.add_span_processor(BackpressureSpanProcessor(exporter, **_batch_defaults()))
        elif name == "console":
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    return counter


def _span_otlp(kwargs: dict[str, Any]) -> SpanExporter:
    from .export.span_exporter import FastOTLPSpanExporter  # the SDK's, with a direct encoder

    return FastOTLPSpanExporter(**kwargs)


def _batch_defaults() -> dict[str, Any]:
    """Batch span processor settings where OTEL_BSP_* leaves them to us (the variables still win).

    A deeper queue (8192, not 2048) absorbs bursts; a wake-up every second (not 5 s) keeps the export
    thread from waiting for 512 queued spans. Neither cures the worst case measured in benchmarks/ row 6:
    a loop whose calls never block on I/O but release the GIL briefly (openai's uuid4 per call) starves
    every other thread, the exporter included (docs/configuration.md).
    """
    defaults: dict[str, Any] = {}
    if not os.environ.get("OTEL_BSP_MAX_QUEUE_SIZE"):
        defaults["max_queue_size"] = _SPAN_QUEUE_SIZE
    if not os.environ.get("OTEL_BSP_SCHEDULE_DELAY"):
        defaults["schedule_delay_millis"] = _SPAN_SCHEDULE_DELAY_MS
    return defaults


def _metrics(settings: Settings, resource: Resource, given: Any) -> tuple[Any, bool]:
    existing = given or metrics.get_meter_provider()
    if isinstance(existing, MeterProvider) or given is not None:
        return existing, False  # histograms still carry advisory bucket boundaries
    temporality = TEMPORALITIES[settings.temporality]
    exporters = [_metric_exporter(name, settings, temporality) for name in settings.exporters["metrics"]]
    interval: dict[str, Any] = {"export_interval_millis": settings.metric_export_interval_ms}
    buffer = None
    if len(exporters) == 1:  # deltas can be handed to one reader only; two readers use the SDK path
        scope = InstrumentationScope("otel_genai", __version__)
        buffer = MetricsBuffer(scope, delta=temporality[Histogram] is AggregationTemporality.DELTA)
        readers: list[Any] = [GenAIMetricReader(exporters[0], buffer, resource, **interval)]
    else:
        readers = [PeriodicExportingMetricReader(exporter, **interval) for exporter in exporters]
    provider = MeterProvider(
        metric_readers=readers, resource=resource, views=histogram_views(), shutdown_on_exit=False
    )
    provider._otel_genai_metrics = buffer  # type: ignore[attr-defined]  # read by core.recorder.Recorder
    metrics.set_meter_provider(provider)
    return provider, True


def _metric_exporter(name: str, settings: Settings, temporality: dict[type, AggregationTemporality]) -> Any:
    if name == "otlp":
        from .export.deferred import DeferredMetricExporter

        kwargs = {**_otlp_kwargs(settings, "metrics"), "preferred_temporality": temporality}
        return _watched(
            DeferredMetricExporter(partial(_metric_otlp, kwargs), temporality), settings, "metrics"
        )
    from opentelemetry.sdk.metrics.export import ConsoleMetricExporter

    return ConsoleMetricExporter(preferred_temporality=temporality)


def _metric_otlp(kwargs: dict[str, Any]) -> Any:
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    return OTLPMetricExporter(**kwargs)


def _log_otlp(kwargs: dict[str, Any]) -> Any:
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

    return OTLPLogExporter(**kwargs)


def _logs_provider(settings: Settings, resource: Resource, given: Any) -> tuple[Any, bool]:
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

    existing = given or _logs.get_logger_provider()
    if isinstance(existing, LoggerProvider) or given is not None:
        return existing, False
    provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
    for name in settings.exporters["logs"]:
        if name == "otlp":
            from .export.deferred import DeferredLogExporter

            kwargs = _otlp_kwargs(settings, "logs")
            exporter = _watched(DeferredLogExporter(partial(_log_otlp, kwargs)), settings, "logs")
            provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
        else:
            from opentelemetry.sdk._logs.export import ConsoleLogRecordExporter

            provider.add_log_record_processor(BatchLogRecordProcessor(ConsoleLogRecordExporter()))
    _logs.set_logger_provider(provider)
    return provider, True


__all__ = [
    "TEMPORALITIES",
    "DeliveryCounter",
    "Pipeline",
    "build",
    "complete_deferred_calls",
    "histogram_views",
    "sampler_for",
]
