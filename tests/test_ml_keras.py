"""KerasCallback with real Keras 3 on the torch backend (CPU), small synthetic data, 2 epochs."""

from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import sys
from typing import Any

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
pytest.importorskip("torch")
keras = pytest.importorskip("keras")
np = pytest.importorskip("numpy")

import otel_genai  # noqa: E402
from ml_support import Pipeline, pipeline_fixture  # noqa: E402, F401
from otel_genai.ml import KerasCallback  # noqa: E402
from otlp_receiver import OtlpReceiver, attrs_to_dict  # noqa: E402

SAMPLES, FEATURES, CLASSES = 2000, 20, 3
# Keras's torch backend converts tensors with np.array(x), which numpy 2 reports on every batch
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def data(seed: int = 0) -> tuple[Any, Any]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(SAMPLES, FEATURES)).astype("float32")
    y = (x[:, 0] > 0).astype("int64") + (x[:, 1] > 1).astype("int64")
    return x, y


def model() -> Any:
    keras.utils.set_random_seed(1)
    m = keras.Sequential(
        [
            keras.Input((FEATURES,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(CLASSES, activation="softmax"),
        ]
    )
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def test_fit_exports_every_epoch_equal_to_history(pipeline: Pipeline) -> None:
    x, y = data()
    callback = KerasCallback(model_name="mnist-classifier")
    history = model().fit(
        x, y, epochs=2, batch_size=64, validation_split=0.2, verbose=0, callbacks=[callback]
    )
    otel_genai.force_flush()

    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    for key, values in history.history.items():
        exported = pipeline.exporter.series(f"keras.{key}", model="mnist-classifier", stage="train")
        # one flush per epoch end, then train end and our force_flush re-export the last value
        assert exported[:2] == values, key
        assert all(v == values[-1] for v in exported[2:])
        assert len(exported) >= 3

    durations = [p for points in pipeline.exporter.points("keras.epoch.duration") for p in points]
    assert sum(p.count for p in durations) == 2
    assert all(p.attributes == {"model": "mnist-classifier", "stage": "train"} for p in durations)
    throughput = pipeline.exporter.series("keras.epoch.throughput", stage="train")
    assert len(throughput) >= 2 and all(v > 0 for v in throughput)

    spans = pipeline.finished()
    (fit,) = [s for s in spans if s.name == "fit mnist-classifier"]
    epochs = sorted((s for s in spans if s.name == "epoch"), key=lambda s: s.attributes["ml.epoch"])
    assert [s.attributes["ml.epoch"] for s in epochs] == [1, 2]
    assert all(s.parent.span_id == fit.context.span_id for s in epochs)
    for index, span in enumerate(epochs):
        for key, values in history.history.items():
            assert span.attributes[f"keras.{key}"] == values[index]
        assert span.attributes["ml.epoch.samples"] == 1600  # 2000 less the 20 % validation split
    assert fit.attributes["ml.epochs"] == 2 and fit.attributes["model"] == "mnist-classifier"
    assert not [s for s in spans if s.name.startswith("evaluate")]  # validation is not an evaluate run
    assert not fit.events


def test_evaluate_loop_and_predict(pipeline: Pipeline) -> None:
    x, y = data()
    m = model()
    m.fit(x, y, epochs=1, batch_size=128, verbose=0)
    callback = KerasCallback(model_name="clf", metric_prefix="tensorflow")
    results = [
        m.evaluate(x[i * 500 :], y[i * 500 :], verbose=0, return_dict=True, callbacks=[callback])
        for i in range(2)
    ]
    m.predict(x[:100], verbose=0, callbacks=[callback])
    otel_genai.force_flush()

    for key in ("loss", "accuracy"):
        exported = pipeline.exporter.series(f"tensorflow.{key}", model="clf", stage="test")
        assert exported[:2] == [r[key] for r in results]
    names = [s.name for s in pipeline.finished()]
    assert names.count("evaluate clf") == 2 and names.count("predict clf") == 1
    assert not pipeline.exporter.series("tensorflow.loss", stage="train")


def test_nonfinite_loss_is_recorded_and_flagged_once(
    pipeline: Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    x, _ = data()
    target = np.full((SAMPLES, 1), np.nan, dtype="float32")
    m = keras.Sequential([keras.Input((FEATURES,)), keras.layers.Dense(1)])
    m.compile(optimizer="sgd", loss="mse")
    history = m.fit(x, target, epochs=2, batch_size=200, verbose=0, callbacks=[KerasCallback(model_name="r")])
    otel_genai.force_flush()

    assert all(math.isnan(v) for v in history.history["loss"])
    # OpenTelemetry gauges cannot carry NaN: the value is on the spans, flagged once on the fit span
    assert not pipeline.exporter.series("keras.loss", model="r")
    epochs = [s for s in pipeline.finished() if s.name == "epoch"]
    assert len(epochs) == 2 and all(math.isnan(s.attributes["keras.loss"]) for s in epochs)
    (fit,) = [s for s in pipeline.finished() if s.name == "fit r"]
    assert [e.name for e in fit.events] == ["ml.nonfinite_loss"]
    assert fit.events[0].attributes["metric"] == "loss" and fit.events[0].attributes["ml.epoch"] == 1
    assert not [r for r in caplog.records if "not finite" in r.getMessage()]  # no SDK warning per epoch


def test_per_batch_is_opt_in(pipeline: Pipeline) -> None:
    x, y = data()
    model().fit(
        x, y, epochs=1, batch_size=500, verbose=0, callbacks=[KerasCallback(model_name="b", per_batch=True)]
    )
    model().fit(x, y, epochs=1, batch_size=500, verbose=0, callbacks=[KerasCallback(model_name="n")])
    otel_genai.force_flush()
    batches = [p for points in pipeline.exporter.points("keras.batch.duration") for p in points]
    assert sum(p.count for p in batches) == 4 and {p.attributes["model"] for p in batches} == {"b"}
    assert pipeline.exporter.series("keras.batch.loss", model="b")
    assert not pipeline.exporter.series("keras.batch.loss", model="n")


def test_without_init_is_a_noop_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    from otel_genai.ml import _runtime

    _runtime._warned.discard("keras")
    x, y = data()
    with caplog.at_level(logging.WARNING, logger="otel_genai"):
        for _ in range(2):
            history = model().fit(x, y, epochs=1, verbose=0, callbacks=[KerasCallback()])
    assert len(history.history["loss"]) == 1
    warnings = [r for r in caplog.records if "KerasCallback" in r.getMessage()]
    assert len(warnings) == 1


class _Broken:
    """A meter provider whose every instrument raises, standing in for any failure inside telemetry."""

    def get_meter(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("broken meter")


def test_never_raises_into_training() -> None:
    from opentelemetry.sdk.trace import TracerProvider

    otel_genai.init(tracer_provider=TracerProvider(), meter_provider=_Broken())
    try:
        x, y = data()
        callback = KerasCallback(model_name="x")
        history = model().fit(x, y, epochs=2, verbose=0, callbacks=[callback])
        assert len(history.history["loss"]) == 2
        callback.on_epoch_end(0, {"loss": object()})  # direct calls with odd logs
        callback.on_test_end({"loss": "nan?"})
    finally:
        otel_genai.shutdown()


CHILD = """
import json, os, sys
os.environ["KERAS_BACKEND"] = "torch"
import numpy as np
import otel_genai
otel_genai.init()
import keras
from otel_genai.ml import KerasCallback

rng = np.random.default_rng(0)
x = rng.normal(size=(2000, 8)).astype("float32")
y = (x[:, 0] > 0).astype("int64")
keras.utils.set_random_seed(1)
m = keras.Sequential([keras.Input((8,)), keras.layers.Dense(2, activation="softmax")])
m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
h = m.fit(x, y, epochs=2, batch_size=100, verbose=0, callbacks=[KerasCallback(model_name="e2e")])
print(json.dumps(h.history))
"""


def test_end_to_end_over_otlp_every_epoch_arrives() -> None:
    """A real process, the SDK pipeline init() builds, a 60 s interval: each epoch's value still arrives."""
    with OtlpReceiver() as receiver:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        env.update(
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
            OTEL_METRIC_EXPORT_INTERVAL="60000",
            OTEL_SERVICE_NAME="trainer",
        )
        done = subprocess.run(
            [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, done.stderr
        history = json.loads(done.stdout.strip().splitlines()[-1])
        exported: dict[str, list[float]] = {}
        for metric in receiver.metrics():
            if metric.name.startswith("keras.") and metric.HasField("gauge"):
                for point in metric.gauge.data_points:
                    assert attrs_to_dict(point.attributes) == {"model": "e2e", "stage": "train"}
                    exported.setdefault(metric.name, []).append(point.as_double)
        spans = {s.name for s in receiver.spans()}
    for key, values in history.items():
        assert exported[f"keras.{key}"][:2] == values
    assert {"fit e2e", "epoch"} <= spans
