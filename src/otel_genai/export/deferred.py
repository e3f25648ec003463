"""Exporters that build the SDK's OTLP/HTTP exporter on their first export, on the export thread.

Why: importing the SDK's OTLP/HTTP exporters pulls in ``requests``, ``urllib3`` and the SDK's protobuf
encoders, about 70 ms of CPU that ``init()`` would otherwise spend on the user's start-up before anything
is exported. The batch span processor, the metric reader and the log processor first export a second or
more later, from their own threads, and pay it there.

What the exporter is told is settled when ``init()`` runs: endpoint, headers and timeout are resolved (and
bad values warned about) by ``otel_genai.config``; only the SDK's own reading of the certificate and
compression variables happens on first export. A shutdown before any export builds nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

_log = logging.getLogger("otel_genai")


class _Deferred:
    """The exporter ``factory`` makes, made once, when first needed; after ``shutdown()``, never."""

    def __init__(self, factory: Callable[[], Any], signal: str) -> None:
        self._factory = factory
        self._signal = signal
        self._real: Any = None
        self._closed = False
        self._lock = threading.Lock()  # taken only until the exporter is built

    def real(self) -> Any:
        """The exporter (None once shut down, or if it cannot be built)."""
        real = self._real
        if real is None and not self._closed:
            with self._lock:  # force_flush() exports on the caller's thread: it may race the worker's
                if self._real is None and not self._closed:
                    try:
                        self._real = self._factory()
                    except Exception:
                        self._closed = True  # one warning, not one per export
                        _log.warning(
                            "otel-genai: could not create the OTLP %s exporter", self._signal, exc_info=True
                        )
                real = self._real
        return real

    def shut(self, **kwargs: Any) -> None:
        self._closed = True
        if self._real is not None:
            self._real.shutdown(**kwargs)

    def flush(self, timeout_millis: float) -> bool:
        return self._real is None or bool(self._real.force_flush(timeout_millis))


class DeferredSpanExporter(SpanExporter):
    """A span exporter that is ``factory()``'s, built on first export."""

    def __init__(self, factory: Callable[[], SpanExporter]) -> None:
        self._deferred = _Deferred(factory, "traces")

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        real = self._deferred.real()
        return SpanExportResult.FAILURE if real is None else real.export(spans)

    def shutdown(self) -> None:
        self._deferred.shut()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._deferred.flush(timeout_millis)


class DeferredMetricExporter(MetricExporter):
    """A metric exporter that is ``factory()``'s, built on first export; its temporality is known now,
    since the metric reader reads it when it is created."""

    def __init__(self, factory: Callable[[], MetricExporter], preferred_temporality: dict[type, Any]) -> None:
        super().__init__(preferred_temporality=preferred_temporality)
        self._deferred = _Deferred(factory, "metrics")

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        real = self._deferred.real()
        if real is None:
            return MetricExportResult.FAILURE
        return real.export(metrics_data, timeout_millis=timeout_millis, **kwargs)  # type: ignore[no-any-return]

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self._deferred.flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._deferred.shut(timeout_millis=timeout_millis, **kwargs)


class DeferredLogExporter:
    """A log record exporter that is ``factory()``'s, built on first export (duck-typed: the SDK's logs
    export interface is still private and moves between releases)."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._deferred = _Deferred(factory, "logs")

    def export(self, batch: Any) -> Any:
        real = self._deferred.real()
        if real is None:
            from opentelemetry.sdk._logs import export

            result = getattr(export, "LogRecordExportResult", None) or export.LogExportResult  # SDK < 1.39
            return result.FAILURE
        return real.export(batch)

    def shutdown(self) -> None:
        self._deferred.shut()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._deferred.flush(timeout_millis)


__all__ = [
    "DeferredLogExporter",
    "DeferredMetricExporter",
    "DeferredSpanExporter",
]
