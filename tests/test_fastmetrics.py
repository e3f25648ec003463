"""The in-process aggregator must export exactly what the SDK's own instruments would."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    InMemoryMetricReader,
    MetricExporter,
    MetricExportResult,
    MetricsData,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from otel_genai import semconv as sc
from otel_genai.core.fastmetrics import GenAIMetricReader, MetricsBuffer

SCOPE = InstrumentationScope("otel_genai", "test")
BOUNDS = sc.DURATION_BUCKETS
DELTA = {Counter: AggregationTemporality.DELTA, Histogram: AggregationTemporality.DELTA}
attribute_sets = st.sampled_from(
    [
        {},
        {"gen_ai.request.model": "gpt-4o"},
        {"gen_ai.request.model": "gpt-4o", "server.port": 443},
        {"gen_ai.request.model": "o3", "gen_ai.token.type": "input"},
    ]
)
amounts = st.one_of(st.sampled_from(BOUNDS), st.floats(min_value=0, max_value=200, allow_nan=False))


def sdk_points(metrics: MetricsData | None) -> dict[str, dict[Any, Any]]:
    result: dict[str, dict[Any, Any]] = {}
    for rm in metrics.resource_metrics if metrics else ():
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                for p in metric.data.data_points:
                    key = tuple(sorted(p.attributes.items()))
                    if hasattr(p, "bucket_counts"):
                        value: Any = (p.count, round(p.sum, 9), tuple(p.bucket_counts), p.min, p.max)
                    else:
                        value = p.value
                    result.setdefault(metric.name, {})[key] = value
    return result


@settings(max_examples=150, deadline=None)
@given(
    records=st.lists(st.tuples(amounts, attribute_sets), max_size=40),
    adds=st.lists(st.tuples(st.integers(0, 5000), attribute_sets), max_size=20),
    batch=st.lists(amounts, max_size=30),
)
def test_same_points_as_the_sdk(
    records: Sequence[tuple[float, dict[str, Any]]],
    adds: Sequence[tuple[int, dict[str, Any]]],
    batch: list[float],
) -> None:
    reader = InMemoryMetricReader(preferred_temporality=DELTA)
    meter = MeterProvider(metric_readers=[reader]).get_meter("otel_genai", "test")
    sdk_histogram = meter.create_histogram("h", "s", explicit_bucket_boundaries_advisory=BOUNDS)
    sdk_counter = meter.create_counter("c", "{x}")
    buffer = MetricsBuffer(SCOPE, delta=True)
    fast_histogram = buffer.histogram("h", "s", "", BOUNDS)
    fast_counter = buffer.counter("c", "{x}", "")
    for amount, attributes in records:
        sdk_histogram.record(amount, attributes)
        fast_histogram.record(amount, attributes)
    for amount in batch:  # a stream's gaps: one series, many points
        sdk_histogram.record(amount, {"stream": "yes"})
    fast_histogram.record_many(batch, {"stream": "yes"})
    for value, attributes in adds:
        sdk_counter.add(value, attributes)
        fast_counter.add(value, attributes)

    ours = buffer.collect()
    fast = sdk_points(MetricsData(resource_metrics=[_resource_metrics(ours)])) if ours else {}
    assert fast == sdk_points(reader.get_metrics_data())
    assert buffer.collect() is None  # delta: a second collection starts empty


def _resource_metrics(scope_metrics: Any) -> Any:
    from opentelemetry.sdk.metrics.export import ResourceMetrics

    return ResourceMetrics(resource=Resource.create({}), scope_metrics=[scope_metrics], schema_url="")


def test_cumulative_keeps_counting() -> None:
    buffer = MetricsBuffer(SCOPE, delta=False)
    counter = buffer.counter("c", "1", "")
    counter.add(2, {"a": "b"})
    first = buffer.collect()
    counter.add(3, {"a": "b"})
    second = buffer.collect()
    assert first is not None and second is not None
    [point] = second.metrics[0].data.data_points
    assert point.value == 5
    assert second.metrics[0].data.aggregation_temporality is AggregationTemporality.CUMULATIVE
    assert point.start_time_unix_nano == first.metrics[0].data.data_points[0].start_time_unix_nano


class _Collecting(MetricExporter):
    def __init__(self) -> None:
        super().__init__(preferred_temporality=DELTA)
        self.batches: list[MetricsData] = []

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        self.batches.append(metrics_data)
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        pass


def test_reader_exports_ours_alone_and_beside_the_sdks() -> None:
    exporter = _Collecting()
    buffer = MetricsBuffer(SCOPE, delta=True)
    resource = Resource.create({"service.name": "svc"})
    reader = GenAIMetricReader(exporter, buffer, resource, export_interval_millis=3_600_000)
    provider = MeterProvider(metric_readers=[reader], resource=resource)
    buffer.counter("ours", "1", "").add(1, {"k": "v"})
    reader.collect()  # the SDK has nothing: ours still goes out
    provider.get_meter("app").create_counter("theirs").add(7)
    buffer.counter("ours", "1", "").add(2, {"k": "v"})
    reader.collect()  # both, under the one resource
    provider.shutdown()
    names = [
        sorted(m.name for rm in batch.resource_metrics for sm in rm.scope_metrics for m in sm.metrics)
        for batch in exporter.batches
    ]
    assert names[:2] == [["ours"], ["ours", "theirs"]]
    assert all(rm.resource.attributes["service.name"] == "svc" for rm in exporter.batches[1].resource_metrics)
