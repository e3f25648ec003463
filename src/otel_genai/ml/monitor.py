"""ModelMonitor: what a served model does, as metrics, for OTLP and for Prometheus ``/metrics``.

::

    monitor = ModelMonitor("sentiment", reference=x_train, class_names=["negative", "positive"])

    with monitor.observe(x) as obs:          # validates x (InputRejected), times the block, counts errors
        y = model.predict(x)
        obs.outputs(y)                       # class probabilities, labels, or a regressor's values

    predict = monitor.wrap(model.predict)    # the same around a function

Every record goes to the OpenTelemetry meter of ``otel_genai.init()`` (when it ran) and to the
prometheus_client metrics behind ``otel_genai.ml.metrics_app()`` (when prometheus_client is installed).
Input and prediction drift are recomputed every ``drift_every`` samples over the last ``window`` ones
(``drift.py``), not on every request.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, TypeVar

import numpy as np

from . import names
from ._runtime import guarded, meter, pipeline, warn_once
from .drift import CategoricalDrift, NumericDrift, Window
from .prometheus import CONFIDENCE_BUCKETS, DURATION_BUCKETS, ENTROPY_BUCKETS

_log = logging.getLogger("otel_genai")
_F = TypeVar("_F", bound=Callable[..., Any])
REASONS = ("shape", "dtype", "nan", "size")


class InputRejected(ValueError):
    """Raised by ``observe()`` for input that fails validation; ``reason`` is one of REASONS (or yours)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"input rejected ({reason}){': ' + detail if detail else ''}")
        self.reason = reason


class _OTelSink:
    """Instruments on the meter provider ``init()`` set up."""

    def __init__(self, pipeline: Any, model: str) -> None:
        self.pipeline = pipeline
        self.model = {names.MODEL: model}
        m = meter(pipeline.meter_provider)
        self._predictions = m.create_counter(
            names.PREDICTIONS, unit="{prediction}", description="Predictions made"
        )
        self._duration = m.create_histogram(
            names.PREDICTION_DURATION,
            unit="s",
            description="Duration of one prediction call",
            explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS),
        )
        self._errors = m.create_counter(names.ERRORS, unit="{error}", description="Failed prediction calls")
        self._confidence = m.create_histogram(
            names.CONFIDENCE,
            unit="1",
            description="Largest class probability, per sample",
            explicit_bucket_boundaries_advisory=list(CONFIDENCE_BUCKETS),
        )
        self._entropy = m.create_histogram(
            names.OUTPUT_ENTROPY,
            unit="1",
            description="Entropy of the class probabilities in nats, per sample",
            explicit_bucket_boundaries_advisory=list(ENTROPY_BUCKETS),
        )
        self._rejected = m.create_counter(
            names.INPUT_REJECTED, unit="{input}", description="Inputs rejected by validation"
        )
        self._drift = m.create_gauge(
            names.DRIFT, unit="1", description="Drift of a feature (or the output) against the reference"
        )

    def predictions(self, counts: Sequence[tuple[str | None, int]]) -> None:
        for label, count in counts:
            attributes = self.model if label is None else {**self.model, names.CLASS: label}
            self._predictions.add(count, attributes)

    def duration(self, seconds: float) -> None:
        self._duration.record(seconds, self.model)

    def error(self, error_type: str) -> None:
        self._errors.add(1, {**self.model, names.ERROR_TYPE: error_type})

    def confidence(self, values: Sequence[float]) -> None:
        for value in values:
            self._confidence.record(value, self.model)

    def entropy(self, values: Sequence[float]) -> None:
        for value in values:
            self._entropy.record(value, self.model)

    def rejected(self, reason: str) -> None:
        self._rejected.add(1, {**self.model, names.REASON: reason})

    def drift(self, feature: str, method: str, value: float) -> None:
        self._drift.set(value, {**self.model, names.FEATURE: feature, names.METHOD: method})


class Observation:
    """One prediction call: ``with monitor.observe(x) as obs: ...; obs.outputs(y)``."""

    __slots__ = ("_monitor", "_outputs_seen", "_samples", "_start", "inputs")

    def __init__(self, monitor: ModelMonitor, inputs: Any) -> None:
        self._monitor = monitor
        self.inputs = inputs
        self._samples = 0
        self._outputs_seen = False
        self._start = 0.0

    def __enter__(self) -> Observation:
        rejection = self._monitor._validate(self.inputs)
        if rejection is not None:
            reason, detail = rejection if isinstance(rejection, tuple) else (rejection, "")
            self._monitor._emit("rejected", reason)
            raise InputRejected(reason, detail)
        self._samples = self._monitor._take_inputs(self.inputs)
        self._start = time.perf_counter()
        return self

    def outputs(self, outputs: Any) -> None:
        """Report the model's outputs: class probabilities (samples, classes), labels, or values."""
        self._outputs_seen = True
        self._monitor._take_outputs(outputs)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        monitor = self._monitor
        monitor._emit("duration", time.perf_counter() - self._start)
        if exc_type is not None:
            monitor._emit("error", exc_type.__qualname__)
        elif not self._outputs_seen and self._samples:
            monitor._emit("predictions", [(None, self._samples)])
        monitor._maybe_drift()


class ModelMonitor:
    """Metrics for one served model: predictions, latency, errors, confidence, entropy, rejections, drift.

    ``reference``: a (samples, features) sample of training inputs; input drift is measured per feature
    against it (``features`` maps raw inputs, e.g. texts, to such numbers first). ``reference_outputs``:
    the model's outputs on a reference sample, for prediction drift (``feature="output"``).
    ``class_names`` name the columns of probability outputs (else the index is the class).
    Validation, each off unless set: ``input_shape`` (one sample's shape, None for any size),
    ``dtype`` (inputs must cast to it within its kind), ``max_batch`` (samples per call),
    ``reject_non_finite`` (NaN or inf in numeric input), ``validate`` (your own check returning a reason
    or None). ``method`` is ``"psi"`` (default), ``"ks"`` or a function (reference, window) -> float.
    """

    def __init__(
        self,
        model_name: str,
        *,
        reference: Any = None,
        reference_outputs: Any = None,
        class_names: Sequence[str] | None = None,
        feature_names: Sequence[str] | None = None,
        features: Callable[[Any], Any] | None = None,
        window: int = 1000,
        drift_every: int = 100,
        bins: int = 10,
        method: str | Callable[[Any, Any], float] = "psi",
        input_shape: Sequence[int | None] | None = None,
        dtype: Any = None,
        max_batch: int | None = None,
        reject_non_finite: bool = False,
        validate: Callable[[Any], str | None] | None = None,
        prometheus: bool | None = None,
    ) -> None:
        self.model_name = str(model_name)
        self.class_names = list(class_names) if class_names is not None else None
        self.features = features
        self.method_name = method if isinstance(method, str) else getattr(method, "__name__", "custom")
        self.drift_every = max(1, int(drift_every))
        self.input_shape = tuple(input_shape) if input_shape is not None else None
        self.dtype = np.dtype(dtype) if dtype is not None else None
        self.max_batch = max_batch
        self.reject_non_finite = reject_non_finite
        self.user_validate = validate
        self._lock = threading.Lock()
        self._since_drift = 0
        self._otel: _OTelSink | None = None
        self._prometheus: Any = None
        if prometheus is not False:
            self._prometheus = _prometheus_sink(self.model_name, required=bool(prometheus))
        self._feature_drift: list[tuple[str, NumericDrift]] = []
        self._inputs: Window | None = None
        self._output_drift: Any = None
        self._outputs: Window | None = None
        self._output_kind = ""
        window = max(1, int(window))
        self._min_samples = min(window, max(5 * bins, 50))
        try:
            if reference is not None:
                ref = self._numeric(reference, reference=True)
                names_ = list(feature_names) if feature_names else _columns(reference, ref.shape[1])
                self._feature_drift = [
                    (names_[i], NumericDrift(ref[:, i], bins=bins, method=method))
                    for i in range(ref.shape[1])
                ]
                self._inputs = Window(window, ref.shape[1])
        except Exception as error:  # a bad setting: one warning, then no input drift
            self._feature_drift, self._inputs = [], None
            _log.warning("otel-genai: ModelMonitor reference is unusable (%s); input drift is off", error)
        try:
            if reference_outputs is not None:
                kind, values = self._read_outputs(reference_outputs)
                if kind == "classes":
                    self._output_drift = CategoricalDrift(
                        values, max(len(self.class_names or ()), int(values.max()) + 1)
                    )
                else:
                    self._output_drift = NumericDrift(values, bins=bins, method=method)
                self._output_kind = kind
                self._outputs = Window(window, 1)
        except Exception as error:
            self._output_drift, self._outputs = None, None
            _log.warning(
                "otel-genai: ModelMonitor reference_outputs is unusable (%s); prediction drift is off", error
            )

    # --- public forms ------------------------------------------------------------------------------
    def observe(self, inputs: Any = None) -> Observation:
        """A context manager around one prediction call (see the module docstring)."""
        return Observation(self, inputs)

    def wrap(self, function: _F | None = None, *, outputs: Callable[[Any], Any] | None = None) -> Any:
        """Wrap ``function(inputs, ...)``: ``monitor.wrap(model.predict)`` or ``@monitor.wrap``.

        ``outputs`` picks the probabilities out of what the function returns (default: all of it).
        """

        def decorate(fn: _F) -> _F:
            @functools.wraps(fn)
            def run(inputs: Any, *args: Any, **kwargs: Any) -> Any:
                with self.observe(inputs) as observation:
                    result = fn(inputs, *args, **kwargs)
                    observation.outputs(outputs(result) if outputs is not None else result)
                return result

            return run  # type: ignore[return-value]

        return decorate(function) if function is not None else decorate

    def drift(self) -> dict[str, float]:
        """Compute drift now over the current windows: feature (or "output") -> value."""
        with self._lock:
            return self._compute_drift()

    # --- internals ---------------------------------------------------------------------------------
    def _sinks(self) -> list[Any]:
        sinks = []
        current = pipeline()
        if current is not None:
            if self._otel is None or self._otel.pipeline is not current:
                self._otel = _OTelSink(current, self.model_name)
            sinks.append(self._otel)
        if self._prometheus is not None:
            sinks.append(self._prometheus)
        return sinks

    def _emit(self, what: str, *args: Any) -> None:
        for sink in self._sinks():
            try:
                getattr(sink, what)(*args)
            except Exception:
                _log.debug("otel-genai: recording %s failed", what, exc_info=True)

    @guarded
    def _validate(self, inputs: Any) -> Any:
        if self.user_validate is not None:
            reason = self.user_validate(inputs)
            if reason:
                return str(reason)
        checks = self.input_shape is not None or self.dtype is not None or self.max_batch is not None
        if not (checks or self.reject_non_finite):
            return None
        try:
            array = np.asarray(inputs)
        except (ValueError, TypeError):
            return ("shape", "ragged or unreadable input")
        batch = array.shape[0] if array.ndim else 1
        if self.input_shape is not None:
            single = len(self.input_shape)
            sample_shape = array.shape[1:] if array.ndim == single + 1 else array.shape
            if array.ndim not in (single, single + 1) or any(
                want is not None and want != got
                for want, got in zip(self.input_shape, sample_shape, strict=False)
            ):
                return ("shape", f"expected samples of shape {self.input_shape}, got {array.shape}")
            batch = array.shape[0] if array.ndim == single + 1 else 1
        if self.max_batch is not None and batch > self.max_batch:
            return ("size", f"{batch} samples, at most {self.max_batch}")
        if self.dtype is not None and not np.can_cast(array.dtype, self.dtype, casting="same_kind"):
            return ("dtype", f"expected {self.dtype}, got {array.dtype}")
        if self.reject_non_finite and array.dtype.kind in "fc" and not np.isfinite(array).all():
            return ("nan", "NaN or infinite values")
        return None

    def _numeric(self, inputs: Any, *, reference: bool = False) -> Any:
        """Inputs as a (samples, features) float array, through ``features`` when given."""
        data = self.features(inputs) if self.features is not None and not reference else inputs
        array = np.asarray(data, dtype=float)
        if array.ndim == 0:
            array = array.reshape(1, 1)
        elif array.ndim == 1:
            columns = self._inputs.columns if self._inputs is not None and not reference else None
            array = (
                array.reshape(1, -1)
                if columns not in (None, 1) and array.size == columns
                else array.reshape(-1, 1)
            )
        elif array.ndim > 2:
            array = array.reshape(array.shape[0], -1)
        return array

    @guarded
    def _take_inputs(self, inputs: Any) -> int:
        if self._inputs is None or inputs is None:
            return _count(inputs, self.input_shape)
        rows = self._numeric(inputs)
        if rows.shape[1] == self._inputs.columns:
            with self._lock:
                self._inputs.add(rows)
                self._since_drift += rows.shape[0]
        return int(rows.shape[0])

    def _read_outputs(self, outputs: Any) -> tuple[str, Any]:
        """("classes", label indices) plus probabilities, or ("values", floats)."""
        array = np.asarray(outputs)
        if array.ndim == 2 and array.shape[1] > 1 and array.dtype.kind in "fiu":
            return "classes", np.argmax(array, axis=1)
        flat = array.reshape(-1) if array.ndim else array.reshape(1)
        if array.dtype.kind in "iub" and self.class_names:
            return "classes", flat.astype(int)
        if array.dtype.kind in "US":
            lookup = {name: i for i, name in enumerate(self.class_names or ())}
            return "classes", np.array([lookup.get(str(v), -1) for v in flat])
        if (
            self.class_names
            and len(self.class_names) == 2
            and flat.size
            and ((flat >= 0) & (flat <= 1)).all()
        ):
            return "classes", (flat >= 0.5).astype(int)  # a binary classifier's probability of class 1
        return "values", flat.astype(float)

    @guarded
    def _take_outputs(self, outputs: Any) -> None:
        kind, values = self._read_outputs(outputs)
        if kind == "classes":
            probabilities = _probabilities(np.asarray(outputs), self.class_names)
            counts = Counter(int(i) for i in values)
            self._emit("predictions", [(self._class_name(i), n) for i, n in sorted(counts.items())])
            if probabilities is not None:
                self._emit("confidence", probabilities.max(axis=1).tolist())
                with np.errstate(divide="ignore", invalid="ignore"):
                    logs = np.where(probabilities > 0, np.log(probabilities), 0.0)
                self._emit("entropy", (-(probabilities * logs).sum(axis=1)).tolist())
        else:
            self._emit("predictions", [(None, int(values.size))])
        if self._outputs is not None and kind == self._output_kind:
            with self._lock:
                self._outputs.add(values.reshape(-1, 1).astype(float))

    def _class_name(self, index: int) -> str:
        names_ = self.class_names
        return names_[index] if names_ is not None and 0 <= index < len(names_) else str(index)

    @guarded
    def _maybe_drift(self) -> None:
        with self._lock:
            if self._since_drift < self.drift_every:
                return
            self._since_drift = 0
            values = self._compute_drift()
        for feature, value in values.items():
            self._emit("drift", feature, self.method_name, value)

    def _compute_drift(self) -> dict[str, float]:
        found: dict[str, float] = {}
        if self._inputs is not None and self._inputs.filled >= self._min_samples:
            for index, (feature, measure) in enumerate(self._feature_drift):
                found[feature] = measure(self._inputs.column(index))
        if self._outputs is not None and self._outputs.filled >= self._min_samples:
            found[names.OUTPUT_FEATURE] = self._output_drift(self._outputs.column(0))
        return found


def _prometheus_sink(model: str, *, required: bool) -> Any:
    """The /metrics side, or None (with one warning) when prometheus_client or its directory is missing."""
    try:
        from .prometheus import PrometheusSink

        return PrometheusSink(model)
    except ImportError:
        if required:
            raise
        return None
    except Exception:
        if required:
            raise
        warn_once("prometheus", "otel-genai: Prometheus metrics are off: set-up failed", exc_info=True)
        return None


def _columns(reference: Any, count: int) -> list[str]:
    columns = getattr(reference, "columns", None)  # a pandas DataFrame
    if columns is not None and len(columns) == count:
        return [str(c) for c in columns]
    return [str(i) for i in range(count)]


def _count(inputs: Any, input_shape: tuple[int | None, ...] | None) -> int:
    if inputs is None:
        return 0
    shape = getattr(inputs, "shape", None)
    if shape is not None:
        if input_shape is not None and len(shape) == len(input_shape):
            return 1
        return int(shape[0]) if len(shape) else 1
    try:
        return len(inputs)
    except TypeError:
        return 1


def _probabilities(array: Any, class_names: Sequence[str] | None) -> Any:
    """Per-sample class probabilities (rows summing to 1; logits are soft-maxed), or None for labels."""
    if array.dtype.kind not in "fiu":
        return None
    if array.ndim == 2 and array.shape[1] > 1:
        p = array.astype(float)
        if (p < 0).any() or not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
            shifted = np.exp(p - p.max(axis=1, keepdims=True))
            p = shifted / shifted.sum(axis=1, keepdims=True)
        return p
    flat = array.reshape(-1).astype(float)
    if (
        class_names
        and len(class_names) == 2
        and array.dtype.kind == "f"
        and ((flat >= 0) & (flat <= 1)).all()
    ):
        return np.stack([1.0 - flat, flat], axis=1)
    return None


__all__ = [
    "REASONS",
    "InputRejected",
    "ModelMonitor",
    "Observation",
]
