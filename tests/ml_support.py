"""Helpers for the ML tests: a metric exporter that keeps every export, and readers of its points."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import otel_genai

DELTA = {Counter: AggregationTemporality.DELTA, Histogram: AggregationTemporality.DELTA}


class KeepingExporter(MetricExporter):
    """Keeps every export in order (the SDK's in-memory reader keeps only the last collection)."""

    def __init__(self) -> None:
        super().__init__(preferred_temporality=DELTA)
        self.exports: list[MetricsData] = []
        self._lock = threading.Lock()

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> Any:
        with self._lock:
            self.exports.append(metrics_data)
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        pass

    def points(self, name: str) -> list[list[Any]]:
        """Per export, the data points of metric ``name`` (exports without it are left out)."""
        with self._lock:
            exports = list(self.exports)
        found = []
        for data in exports:
            points = [
                point
                for rm in data.resource_metrics
                for sm in rm.scope_metrics
                for metric in sm.metrics
                if metric.name == name
                for point in metric.data.data_points
            ]
            if points:
                found.append(points)
        return found

    def series(self, name: str, **attributes: Any) -> list[Any]:
        """The value exported for one attribute set, export by export."""
        return [
            point.value
            for points in self.points(name)
            for point in points
            if all(point.attributes.get(k) == v for k, v in attributes.items())
        ]


class Pipeline:
    def __init__(self) -> None:
        self.exporter = KeepingExporter()
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        reader = PeriodicExportingMetricReader(self.exporter, export_interval_millis=math.inf)
        self.meter_provider = MeterProvider(metric_readers=[reader])

    def finished(self) -> list[Any]:
        return list(self.spans.get_finished_spans())


@pytest.fixture(name="pipeline")
def pipeline_fixture() -> Iterator[Pipeline]:
    """``otel_genai.init()`` on providers whose metric exports are all kept, exported only when flushed."""
    p = Pipeline()
    assert otel_genai.init(tracer_provider=p.tracer_provider, meter_provider=p.meter_provider) is not None
    yield p
    otel_genai.shutdown()
    p.tracer_provider.shutdown()
    p.meter_provider.shutdown()
