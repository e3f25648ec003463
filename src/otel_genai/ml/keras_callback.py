"""A Keras callback that turns ``fit`` / ``evaluate`` / ``predict`` into spans and metrics.

Every number in Keras's ``logs`` becomes a gauge ``{metric_prefix}.{key}`` with the attributes ``model``
and ``stage`` (train, test, predict), recorded at epoch, train, test and predict end: the values are the
ones Keras's ``History`` keeps. Epochs are often shorter than the metric export interval and a gauge
exports only its last value per interval, so the callback flushes the meter provider after recording
(in a background thread: training never waits for the network, see ``_Flusher``).

Importing this module imports Keras (``tf_keras`` when ``TF_USE_LEGACY_KERAS`` asks for it); importing
``otel_genai.ml`` does not.
"""

from __future__ import annotations

import math
import os
import re
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

from . import names
from ._runtime import guarded, meter, pipeline, tracer, warn_once

_FLUSH_WAIT_S = 2.0  # how long an epoch end waits for the previous flush to have collected its values
_EPOCH_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
_BATCH_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
_INVALID_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.\-/]")


def _callback_base() -> Any:
    if os.environ.get("TF_USE_LEGACY_KERAS", "").lower() in ("1", "true", "yes"):
        try:
            import tf_keras

            return tf_keras.callbacks.Callback
        except ImportError:
            pass
    import keras

    return keras.callbacks.Callback


def _numbers(logs: Mapping[str, Any] | None) -> dict[str, float]:
    """The numeric entries of ``logs`` as floats (Keras has already made most of them Python floats)."""
    found: dict[str, float] = {}
    for key, value in (logs or {}).items():
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)):
            found[str(key)] = float(value)
            continue
        try:
            size = getattr(value, "size", 1)
            if (size() if callable(size) else size) in (1, ()) and hasattr(value, "__float__"):
                found[str(key)] = float(value)  # a 0-d array or tensor
        except (TypeError, ValueError, RuntimeError):
            continue
    return found


def _length(data: Any) -> int | None:
    shape = getattr(data, "shape", None)
    if shape is not None and len(shape) > 0 and isinstance(shape[0], int):
        return shape[0]
    if isinstance(data, (list, tuple)) and data:
        return _length(data[0])
    if isinstance(data, dict) and data:
        return _length(next(iter(data.values())))
    return None


def _samples_per_epoch(model: Any, steps: Any) -> int | None:
    """Training samples per epoch, read from the ``fit`` call that is running (arrays only).

    Keras tells callbacks the number of steps but not the batch size, so this looks at ``fit``'s own
    arguments (after its validation split) a few frames up. None when the data has no length.
    """
    frame: Any = sys._getframe(1)
    for _ in range(10):
        if frame is None:
            return None
        if frame.f_code.co_name == "fit" and frame.f_locals.get("self") is model:
            local = frame.f_locals
            count = _length(local.get("x"))
            if local.get("steps_per_epoch") is None and count is not None:
                return count
            batch_size = local.get("batch_size")
            if isinstance(steps, int) and isinstance(batch_size, int):
                return steps * batch_size if count is None else min(count, steps * batch_size)
            return None
        frame = frame.f_back
    return None


class _Flusher:
    """Exports recorded gauges now, without making training wait for the network.

    Before new values are recorded, the previous flush must have collected the old ones (or a gauge
    would be overwritten unseen), so ``wait`` joins it, bounded: a backend slower than that loses
    points rather than training time. At most one flush is in flight.
    """

    def __init__(self, provider: Any) -> None:
        self._flush = getattr(provider, "force_flush", None)
        self._thread: threading.Thread | None = None

    def wait(self) -> None:
        thread = self._thread
        if thread is not None and thread.is_alive():
            thread.join(_FLUSH_WAIT_S)

    def start(self) -> None:
        if self._flush is None or (self._thread is not None and self._thread.is_alive()):
            return
        self._thread = threading.Thread(
            target=guarded(self._flush), name="otel-genai-keras-flush", daemon=True
        )
        self._thread.start()


class _Telemetry:
    """Instruments and tracer of one pipeline, with gauges made on first sight of a log key."""

    def __init__(self, pipeline: Any, prefix: str) -> None:
        self.pipeline = pipeline
        self.prefix = prefix
        self.meter = meter(pipeline.meter_provider)
        self.tracer = tracer(pipeline.tracer_provider)
        self.flusher = _Flusher(pipeline.meter_provider)
        self._gauges: dict[str, Any] = {}
        self.epoch_duration = self.meter.create_histogram(
            f"{prefix}{names.KERAS_EPOCH_DURATION}",
            unit="s",
            description="Duration of one training epoch",
            explicit_bucket_boundaries_advisory=list(_EPOCH_BUCKETS),
        )
        self._batch_duration: Any = None

    def gauge(self, key: str) -> Any:
        gauge = self._gauges.get(key)
        if gauge is None:
            name = _INVALID_NAME_CHARS.sub("_", f"{self.prefix}.{key}")
            gauge = self._gauges[key] = self.meter.create_gauge(name, description=f"Keras log value {key}")
        return gauge

    def record(self, values: Mapping[str, float], attributes: dict[str, str]) -> None:
        for key, value in values.items():
            if math.isfinite(value):  # the SDK drops NaN/inf (with a warning each); spans keep them
                self.gauge(key).set(value, attributes)

    @property
    def batch_duration(self) -> Any:
        if self._batch_duration is None:
            self._batch_duration = self.meter.create_histogram(
                f"{self.prefix}{names.KERAS_BATCH_DURATION}",
                unit="s",
                description="Duration of one training batch",
                explicit_bucket_boundaries_advisory=list(_BATCH_BUCKETS),
            )
        return self._batch_duration


class KerasCallback(_callback_base()):  # type: ignore[misc]
    """Spans for ``fit`` / ``evaluate`` / ``predict`` and their epochs, gauges for every logged number.

    ``model.fit(x, y, callbacks=[otel_genai.ml.KerasCallback(model_name="mnist-classifier")])``.
    ``per_batch=True`` also records each training batch (duration histogram, ``{prefix}.batch.{key}``
    gauges); off by default because it is the only per-batch work the callback would do.
    ``samples_per_epoch`` overrides the sample count used for the throughput figure (read from ``fit``'s
    arguments when they are arrays). Needs ``otel_genai.init()`` first; without it the callback does
    nothing and says so once. Errors inside never reach training.
    """

    def __init__(
        self,
        model_name: str = "model",
        metric_prefix: str = "keras",
        *,
        per_batch: bool = False,
        samples_per_epoch: int | None = None,
    ) -> None:
        super().__init__()
        self.model_name = str(model_name)
        self.metric_prefix = str(metric_prefix)
        self.per_batch = per_batch
        self.samples_per_epoch = samples_per_epoch
        # Keras may dispatch batch-end hooks to a thread pool; our timing needs them in order.
        self.async_safe = not per_batch
        if per_batch:  # bound only when asked, so Keras sees default (skippable) batch hooks otherwise
            self.on_train_batch_begin = self._train_batch_begin
            self.on_train_batch_end = self._train_batch_end
        self._telemetry: _Telemetry | None = None
        self._attributes = {names.MODEL: self.model_name}
        self._fit_span: Any = None
        self._epoch_span: Any = None
        self._run_span: Any = None  # evaluate or predict outside fit
        self._flagged: set[int] = set()  # ids of spans already carrying the non-finite-loss event
        self._epoch_start = 0.0
        self._batch_start = 0.0
        self._fit_samples: int | None = None

    # --- set-up -----------------------------------------------------------------------------------
    def _active(self) -> _Telemetry | None:
        current = pipeline()
        if current is None:
            warn_once(
                "keras",
                "otel-genai: KerasCallback used before otel_genai.init(); it records nothing",
            )
            self._telemetry = None
            return None
        if self._telemetry is None or self._telemetry.pipeline is not current:
            self._telemetry = _Telemetry(current, self.metric_prefix)
        return self._telemetry

    def _stage(self, stage: str) -> dict[str, str]:
        return {names.MODEL: self.model_name, names.STAGE: stage}

    def _start_span(self, t: _Telemetry, name: str, parent: Any = None) -> Any:
        from opentelemetry import trace

        context = trace.set_span_in_context(parent) if parent is not None else None
        return t.tracer.start_span(name, context=context, attributes=self._attributes)

    def _log_attributes(self, values: Mapping[str, float]) -> dict[str, float]:
        return {f"{self.metric_prefix}.{key}": value for key, value in values.items()}

    def _check_finite(self, span: Any, values: Mapping[str, float], where: dict[str, Any]) -> None:
        if span is None or id(span) in self._flagged:
            return
        for key, value in values.items():
            if "loss" in key and not math.isfinite(value):
                self._flagged.add(id(span))
                span.add_event(names.NONFINITE_LOSS_EVENT, {"metric": key, "value": str(value), **where})
                return

    def _record(self, t: _Telemetry, values: Mapping[str, float], stage: str, extra: Any = None) -> None:
        if not values and extra is None:
            return  # nothing to export (predict's logs are usually empty): no flush per predict call
        t.flusher.wait()
        t.record(values, self._stage(stage))
        if extra is not None:
            extra()
        t.flusher.start()

    # --- fit --------------------------------------------------------------------------------------
    @guarded
    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        t = self._active()
        if t is None:
            return
        if self._fit_span is not None:  # the previous fit raised before on_train_end
            self._fit_span.end()
        self._flagged.clear()
        params = getattr(self, "params", None) or {}
        self._fit_span = self._start_span(t, f"fit {self.model_name}")
        for key in ("epochs", "steps"):
            if isinstance(params.get(key), int):
                self._fit_span.set_attribute(f"ml.{key}", params[key])
        self._fit_samples = self.samples_per_epoch or _samples_per_epoch(
            getattr(self, "model", None), params.get("steps")
        )

    @guarded
    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        t = self._telemetry
        if t is None or self._fit_span is None:
            return
        self._epoch_span = self._start_span(t, names.EPOCH_SPAN, self._fit_span)
        self._epoch_span.set_attribute(names.EPOCH, int(epoch) + 1)
        self._epoch_start = time.perf_counter()

    @guarded
    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        t = self._telemetry
        if t is None:
            return
        duration = time.perf_counter() - self._epoch_start
        values = _numbers(logs)
        train = self._stage("train")
        samples = self._fit_samples

        def timing() -> None:
            t.epoch_duration.record(duration, train)
            if samples and duration > 0:
                t.gauge(names.KERAS_THROUGHPUT_KEY).set(samples / duration, train)

        self._record(t, values, "train", timing)
        span = self._epoch_span
        if span is not None:
            span.set_attributes(self._log_attributes(values))
            if samples:
                span.set_attribute(names.EPOCH_SAMPLES, samples)
                if duration > 0:
                    span.set_attribute(names.EPOCH_THROUGHPUT, samples / duration)
            span.end()
            self._epoch_span = None
        self._check_finite(self._fit_span, values, {names.EPOCH: int(epoch) + 1})

    @guarded
    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        t = self._telemetry
        if t is None:
            return
        values = _numbers(logs)
        self._record(t, values, "train")
        span, self._fit_span = self._fit_span, None
        if span is not None:
            span.set_attributes(self._log_attributes(values))
            self._check_finite(span, values, {})
            span.end()

    def _train_batch_begin(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._batch_start = time.perf_counter()

    @guarded
    def _train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        t = self._telemetry
        if t is None:
            return
        train = self._stage("train")
        t.batch_duration.record(time.perf_counter() - self._batch_start, train)
        t.record({f"batch.{key}": value for key, value in _numbers(logs).items()}, train)

    # --- evaluate and predict (outside fit; fit's validation shows up as val_* at epoch end) --------
    def _begin_run(self, operation: str) -> None:
        if self._fit_span is not None:
            return
        t = self._active()
        if t is not None:
            if self._run_span is not None:
                self._run_span.end()
            self._run_span = self._start_span(t, f"{operation} {self.model_name}")

    def _end_run(self, stage: str, logs: Mapping[str, Any] | None) -> None:
        t = self._telemetry
        if t is None or self._fit_span is not None:
            return
        values = _numbers(logs)
        self._record(t, values, stage)
        span, self._run_span = self._run_span, None
        if span is not None:
            span.set_attributes(self._log_attributes(values))
            self._check_finite(span, values, {})
            self._flagged.discard(id(span))
            span.end()

    @guarded
    def on_test_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        self._begin_run("evaluate")

    @guarded
    def on_test_end(self, logs: Mapping[str, Any] | None = None) -> None:
        self._end_run("test", logs)

    @guarded
    def on_predict_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        self._begin_run("predict")

    @guarded
    def on_predict_end(self, logs: Mapping[str, Any] | None = None) -> None:
        self._end_run("predict", logs)


__all__ = [
    "KerasCallback",
]
