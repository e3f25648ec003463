"""In-process aggregation of otel-genai's own metrics, for the MeterProvider that ``init()`` creates.

Why: with the OpenTelemetry Python SDK 1.45 one ``Histogram.record`` costs 6-12 µs (the SDK cleans and
hashes the attribute dict on every measurement); a GenAI call records four points and a stream one per
chunk, which alone would exceed our per-call budget. Our attribute dicts are built by us, flat and
hashable, so a dict lookup keyed by their items and a bisect do the same aggregation in about a tenth of
the time. ``GenAIMetricReader`` hands the result to the exporter together with whatever the SDK collected,
as ordinary ``Histogram``/``Sum`` metrics of the ``otel_genai`` scope.

When the application brings its own MeterProvider, the recorder uses ordinary SDK instruments instead
(with advisory bucket boundaries), so Views and readers of that provider keep working.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricsData,
    NumberDataPoint,
    PeriodicExportingMetricReader,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

_log = logging.getLogger("otel_genai")
CARDINALITY_LIMIT = 2000  # the SDK's default per instrument; beyond it points fold into one overflow series
_OVERFLOW = (("otel.metric.overflow", True),)


class _HistogramPoint:
    __slots__ = ("count", "counts", "max", "min", "sum")

    def __init__(self, buckets: int) -> None:
        self.counts = [0] * buckets
        self.count = 0
        self.sum = 0.0
        self.min = float("inf")
        self.max = float("-inf")


class _Instrument:
    """Shared by histograms and counters: one series per attribute set, swapped out on delta collection."""

    def __init__(self, buffer: MetricsBuffer, name: str, unit: str, description: str) -> None:
        self.name, self.unit, self.description = name, unit, description
        self._lock = buffer.lock
        self._points: dict[tuple[tuple[str, Any], ...], Any] = {}
        self._start_ns = time.time_ns()

    def _series(self, attributes: dict[str, Any] | None, new: Any) -> Any:
        return self._point(tuple(attributes.items()) if attributes else (), new)

    def _point(self, key: tuple[tuple[str, Any], ...], new: Any) -> Any:
        point = self._points.get(key)
        if point is None:
            if len(self._points) >= CARDINALITY_LIMIT:
                key = _OVERFLOW
                point = self._points.get(key)
            if point is None:
                point = self._points[key] = new()
        return point

    def take(self, delta: bool) -> tuple[int, dict[tuple[tuple[str, Any], ...], Any]]:
        """(start time, series) since the last take for delta; since creation for cumulative."""
        start, points = self._start_ns, self._points
        if delta:
            self._points, self._start_ns = {}, time.time_ns()
        else:
            points = dict(points)
        return start, points


class FastHistogram(_Instrument):
    def __init__(
        self, buffer: MetricsBuffer, name: str, unit: str, description: str, bounds: Sequence[float]
    ):
        super().__init__(buffer, name, unit, description)
        self.bounds = tuple(float(b) for b in bounds)
        buckets = len(self.bounds) + 1
        self._new = lambda: _HistogramPoint(buckets)

    def record(self, amount: float, attributes: dict[str, Any] | None = None) -> None:
        self.record_key(amount, tuple(attributes.items()) if attributes else ())

    def record_key(self, amount: float, key: tuple[tuple[str, Any], ...]) -> None:
        """``record`` with the attributes as ``tuple(attributes.items())``, built once for several points."""
        with self._lock:
            point = self._point(key, self._new)
            point.counts[bisect_left(self.bounds, amount)] += 1  # bucket i holds (bounds[i-1], bounds[i]]
            point.count += 1
            point.sum += amount
            if amount < point.min:
                point.min = amount
            if amount > point.max:
                point.max = amount

    def record_many(self, amounts: Sequence[float], attributes: dict[str, Any] | None = None) -> None:
        """One series, many points (a stream's chunk gaps): bucketed outside the lock, merged once.

        Bucketed from the sorted amounts with one bisect per bound instead of one per amount: the same
        comparisons (bucket i counts the amounts ``<= bounds[i]`` less those ``<= bounds[i-1]``), done in C
        rather than in a Python loop over a stream's hundreds of gaps."""
        if not amounts:
            return
        ordered = sorted(amounts)
        below = [bisect_right(ordered, bound) for bound in self.bounds]
        below.append(len(ordered))
        total = sum(amounts)  # in the order recorded, as one record() after another would add them
        with self._lock:
            point = self._series(attributes, self._new)
            counts, previous = point.counts, 0
            for index, upto in enumerate(below):
                if upto != previous:
                    counts[index] += upto - previous
                    previous = upto
            point.count += len(ordered)
            point.sum += total
            if ordered[0] < point.min:
                point.min = ordered[0]
            if ordered[-1] > point.max:
                point.max = ordered[-1]

    def metric(self, delta: bool, now: int) -> Metric | None:
        start, points = self.take(delta)
        if not points:
            return None
        data = [
            HistogramDataPoint(
                attributes=dict(key),
                start_time_unix_nano=start,
                time_unix_nano=now,
                count=p.count,
                sum=p.sum,
                bucket_counts=tuple(p.counts),
                explicit_bounds=self.bounds,
                min=p.min,
                max=p.max,
                exemplars=[],
            )
            for key, p in points.items()
        ]
        temporality = AggregationTemporality.DELTA if delta else AggregationTemporality.CUMULATIVE
        histogram = Histogram(data_points=data, aggregation_temporality=temporality)
        return Metric(name=self.name, description=self.description, unit=self.unit, data=histogram)


def _new_sum() -> list[float]:
    return [0]


class FastCounter(_Instrument):
    def add(self, amount: float, attributes: dict[str, Any] | None = None) -> None:
        self.add_key(amount, tuple(attributes.items()) if attributes else ())

    def add_key(self, amount: float, key: tuple[tuple[str, Any], ...]) -> None:
        """``add`` with the attributes as ``tuple(attributes.items())``, built once for several points."""
        with self._lock:
            self._point(key, _new_sum)[0] += amount

    def metric(self, delta: bool, now: int) -> Metric | None:
        start, points = self.take(delta)
        if not points:
            return None
        data = [
            NumberDataPoint(
                attributes=dict(key), start_time_unix_nano=start, time_unix_nano=now, value=p[0], exemplars=[]
            )
            for key, p in points.items()
        ]
        temporality = AggregationTemporality.DELTA if delta else AggregationTemporality.CUMULATIVE
        total = Sum(data_points=data, aggregation_temporality=temporality, is_monotonic=True)
        return Metric(name=self.name, description=self.description, unit=self.unit, data=total)


class MetricsBuffer:
    """The instruments of one ``otel_genai`` scope; shared by every instrumentor's recorder."""

    def __init__(self, scope: InstrumentationScope, *, delta: bool) -> None:
        self.scope = scope
        self.delta = delta
        self.lock = threading.Lock()
        self._instruments: dict[str, Any] = {}

    def histogram(self, name: str, unit: str, description: str, bounds: Sequence[float]) -> FastHistogram:
        with self.lock:
            found = self._instruments.get(name)
            if found is None:
                found = self._instruments[name] = FastHistogram(self, name, unit, description, bounds)
        return found  # type: ignore[no-any-return,unused-ignore]

    def counter(self, name: str, unit: str, description: str) -> FastCounter:
        with self.lock:
            found = self._instruments.get(name)
            if found is None:
                found = self._instruments[name] = FastCounter(self, name, unit, description)
        return found  # type: ignore[no-any-return,unused-ignore]

    def reset_after_fork(self) -> None:
        """In a forked child: start empty (the parent exports its own points) with a fresh lock."""
        self.lock = threading.Lock()  # another thread may have held the old one at fork time
        now = time.time_ns()
        for instrument in self._instruments.values():
            instrument._lock = self.lock
            instrument._points = {}
            instrument._start_ns = now

    def collect(self) -> ScopeMetrics | None:
        now = time.time_ns()
        with self.lock:
            metrics = [m for i in self._instruments.values() if (m := i.metric(self.delta, now)) is not None]
        return ScopeMetrics(scope=self.scope, metrics=metrics, schema_url="") if metrics else None


class GenAIMetricReader(PeriodicExportingMetricReader):
    """A periodic reader that also exports the ``MetricsBuffer``, with or without SDK metrics beside it."""

    def __init__(self, exporter: Any, buffer: MetricsBuffer, resource: Resource, **kwargs: Any) -> None:
        self._genai_buffer = buffer
        self._genai_resource = resource
        self._genai_local = threading.local()
        self._genai_provider: Any = None
        super().__init__(exporter, **kwargs)

    def _set_meter_provider(self, meter_provider: Any) -> None:
        super()._set_meter_provider(meter_provider)
        self._genai_provider = weakref.ref(meter_provider)

    def _current_resource(self) -> Resource:
        """The provider's resource as it is now: after a fork the SDK gives it the child's instance id."""
        provider = self._genai_provider() if self._genai_provider is not None else None
        resource = getattr(getattr(provider, "_sdk_config", None), "resource", None)
        return resource if isinstance(resource, Resource) else self._genai_resource

    # MetricReader marks collect() final; we extend it (calling the original first) because the SDK calls
    # _receive_metrics only when it collected something itself, and ours must be exported regardless.
    def collect(self, timeout_millis: float = 10_000) -> None:  # type: ignore[misc]
        local = self._genai_local
        local.pending = True
        super().collect(timeout_millis=timeout_millis)
        if getattr(local, "pending", False):  # the SDK had nothing, so _receive_metrics was not called
            local.pending = False
            ours = self._genai_scope_metrics()
            if ours is not None:
                resource_metrics = ResourceMetrics(
                    resource=self._current_resource(), scope_metrics=[ours], schema_url=""
                )
                super()._receive_metrics(MetricsData(resource_metrics=[resource_metrics]), timeout_millis)

    def _receive_metrics(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> None:
        self._genai_local.pending = False
        ours = self._genai_scope_metrics()
        if ours is not None:
            merged = list(metrics_data.resource_metrics)
            first = merged[0] if merged else None
            if first is not None:
                merged[0] = ResourceMetrics(
                    resource=first.resource,
                    scope_metrics=[*first.scope_metrics, ours],
                    schema_url=first.schema_url,
                )
            else:
                resource = self._current_resource()
                merged = [ResourceMetrics(resource=resource, scope_metrics=[ours], schema_url="")]
            metrics_data = MetricsData(resource_metrics=merged)
        super()._receive_metrics(metrics_data, timeout_millis, **kwargs)

    def _genai_scope_metrics(self) -> ScopeMetrics | None:
        try:
            return self._genai_buffer.collect()
        except Exception:  # never let our aggregation cost the SDK's own metrics their export
            _log.debug("otel-genai: collecting metrics failed", exc_info=True)
            return None


__all__ = [
    "CARDINALITY_LIMIT",
    "FastCounter",
    "FastHistogram",
    "GenAIMetricReader",
    "MetricsBuffer",
]
