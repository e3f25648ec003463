"""ModelMonitor in one process: the OpenTelemetry metrics, validation, drift, and the Prometheus apps."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import uuid
from typing import Any

import pytest

np = pytest.importorskip("numpy")
pytest.importorskip("prometheus_client")

import otel_genai  # noqa: E402
from ml_support import Pipeline, pipeline_fixture  # noqa: E402, F401
from otel_genai.ml import InputRejected, ModelMonitor, metrics_app  # noqa: E402

CLASSES = ["negative", "neutral", "positive"]


def unique(prefix: str) -> str:
    """Prometheus metrics are per process: each test counts under a model name of its own."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def totals(pipeline: Pipeline, name: str, key: str | None = None) -> dict[Any, float]:
    """Delta counter points summed over every export, by the value of attribute ``key``."""
    otel_genai.force_flush()
    found: dict[Any, float] = {}
    for points in pipeline.exporter.points(name):
        for point in points:
            label = point.attributes.get(key) if key else None
            found[label] = found.get(label, 0) + point.value
    return found


def histogram(pipeline: Pipeline, name: str) -> tuple[int, float]:
    otel_genai.force_flush()
    points = [p for points in pipeline.exporter.points(name) for p in points]
    return sum(p.count for p in points), sum(p.sum for p in points)


def probabilities(n: int, seed: int = 0) -> Any:
    logits = np.random.default_rng(seed).normal(size=(n, len(CLASSES)))
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def test_observe_records_predictions_confidence_entropy_duration(pipeline: Pipeline) -> None:
    monitor = ModelMonitor("sentiment", class_names=CLASSES, prometheus=False)
    batches = [probabilities(5, seed) for seed in range(3)]
    for y in batches:
        with monitor.observe(np.zeros((5, 4))) as obs:
            obs.outputs(y)
    every = np.concatenate(batches)
    expected = {CLASSES[i]: float((every.argmax(axis=1) == i).sum()) for i in range(3)}
    assert totals(pipeline, "ml.model.predictions", "class") == {k: v for k, v in expected.items() if v}
    count, total = histogram(pipeline, "ml.model.confidence")
    assert count == 15 and total == pytest.approx(every.max(axis=1).sum())
    count, total = histogram(pipeline, "ml.model.output.entropy")
    assert count == 15 and total == pytest.approx(float(-(every * np.log(every)).sum()))
    assert histogram(pipeline, "ml.model.prediction.duration")[0] == 3
    models = {p.attributes["model"] for ps in pipeline.exporter.points("ml.model.predictions") for p in ps}
    assert models == {"sentiment"}


def test_wrap_and_errors(pipeline: Pipeline) -> None:
    monitor = ModelMonitor("wrapped", class_names=["no", "yes"], prometheus=False)

    @monitor.wrap
    def predict(x: Any) -> Any:
        if x is None:
            raise ZeroDivisionError("model failed")
        return np.array([0.9, 0.2, 0.7])  # a binary classifier's probability of "yes"

    assert predict(np.zeros((3, 2))).tolist() == [0.9, 0.2, 0.7]  # the result passes through untouched
    with pytest.raises(ZeroDivisionError):
        predict(None)
    assert totals(pipeline, "ml.model.predictions", "class") == {"yes": 2, "no": 1}
    assert totals(pipeline, "ml.model.errors", "error.type") == {"ZeroDivisionError": 1}
    assert histogram(pipeline, "ml.model.prediction.duration")[0] == 2
    count, total = histogram(pipeline, "ml.model.confidence")
    assert count == 3 and total == pytest.approx(0.9 + 0.8 + 0.7)


def test_regressor_and_plain_counts(pipeline: Pipeline) -> None:
    monitor = ModelMonitor("price", prometheus=False)
    with monitor.observe([[1.0], [2.0]]) as obs:
        obs.outputs(np.array([10.5, 11.0]))
    with monitor.observe(["a", "b", "c"]):  # no outputs reported: the inputs are counted
        pass
    assert totals(pipeline, "ml.model.predictions", "class") == {None: 5}
    assert histogram(pipeline, "ml.model.confidence")[0] == 0


def test_input_validation_rejects_and_counts_each_reason(pipeline: Pipeline) -> None:
    monitor = ModelMonitor(
        "strict", input_shape=(4,), dtype="float32", max_batch=8, reject_non_finite=True, prometheus=False
    )
    good = np.zeros((2, 4), dtype="float32")
    cases = {
        "shape": np.zeros((2, 5), dtype="float32"),
        "size": np.zeros((9, 4), dtype="float32"),
        "dtype": np.array([["a", "b", "c", "d"]]),
        "nan": np.array([[0, 1, np.nan, 2]], dtype="float32"),
    }
    for reason, bad in cases.items():
        with pytest.raises(InputRejected) as raised, monitor.observe(bad):
            pytest.fail("the body must not run")
        assert raised.value.reason == reason
    with monitor.observe(good) as obs:
        obs.outputs(np.array([1.0, 2.0]))
    with monitor.observe(np.zeros(4, dtype="float32")):  # a single sample of the right shape
        pass
    assert totals(pipeline, "ml.model.input.rejected", "reason") == dict.fromkeys(cases, 1)
    assert totals(pipeline, "ml.model.predictions") == {None: 3}


def test_drift_high_on_shifted_input_low_on_unshifted(pipeline: Pipeline) -> None:
    rng = np.random.default_rng(7)
    reference = rng.normal(size=(5000, 3))
    reference_outputs = probabilities(5000, seed=1)
    kwargs = {"reference": reference, "reference_outputs": reference_outputs, "class_names": CLASSES}
    steady = ModelMonitor("steady", feature_names=["a", "b", "c"], window=500, drift_every=50, **kwargs)
    shifted = ModelMonitor("shifted", feature_names=["a", "b", "c"], window=500, drift_every=50, **kwargs)
    for seed in range(20):
        batch = rng.normal(size=(50, 3))
        with steady.observe(batch) as obs:
            obs.outputs(probabilities(50, seed=100 + seed))
        moved = batch + np.array([1.5, 0.0, 0.0])
        with shifted.observe(moved) as obs:
            skewed = probabilities(50, seed=200 + seed)
            skewed[:, 2] += 2.0  # the model now favours "positive"
            obs.outputs(skewed / skewed.sum(axis=1, keepdims=True))

    calm, moved_drift = steady.drift(), shifted.drift()
    assert set(calm) == {"a", "b", "c", "output"}
    assert all(value < 0.1 for value in calm.values()), calm
    assert moved_drift["a"] > 0.25 and moved_drift["output"] > 0.25, moved_drift
    assert moved_drift["b"] < 0.1 and moved_drift["c"] < 0.1, moved_drift

    otel_genai.force_flush()
    exported = {
        (p.attributes["model"], p.attributes["feature"]): p.value
        for points in pipeline.exporter.points("ml.model.drift")
        for p in points
    }
    assert {p.attributes["method"] for ps in pipeline.exporter.points("ml.model.drift") for p in ps} == {
        "psi"
    }
    assert exported[("shifted", "a")] > 0.25 and exported[("steady", "a")] < 0.1


def test_drift_methods_and_features_extractor() -> None:
    texts = ["short", "a bit longer text", "mid size"] * 100
    monitor = ModelMonitor(
        "texts",
        reference=np.array([[len(t)] for t in texts]),
        features=lambda batch: [[len(t)] for t in batch],
        method="ks",
        window=200,
        prometheus=False,
    )
    with monitor.observe(texts[:200]):
        pass
    assert monitor.drift()["0"] < 0.05
    with monitor.observe(["a much much longer text than any in the reference"] * 200):
        pass
    assert monitor.drift()["0"] == pytest.approx(1.0)


def test_psi_cost_is_small() -> None:
    """Not a benchmark: a guard that drift stays a fraction of a millisecond per feature."""
    import time

    from otel_genai.ml.drift import NumericDrift

    rng = np.random.default_rng(0)
    measure = NumericDrift(rng.normal(size=10_000))
    window = rng.normal(size=1000)
    start = time.perf_counter()
    for _ in range(100):
        measure(window)
    assert (time.perf_counter() - start) / 100 < 0.005


def scrape(app: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    from prometheus_client.parser import text_string_to_metric_families

    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        captured["status"], captured["headers"] = status, dict(headers)

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "QUERY_STRING": "", "wsgi.url_scheme": "http"}
    body = b"".join(app(environ, start_response)).decode()
    assert captured["status"].startswith("200")
    assert captured["headers"]["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


def test_prometheus_wsgi_names_and_values() -> None:
    model = unique("prom")
    monitor = ModelMonitor(
        model, class_names=CLASSES, reference=np.random.default_rng(0).normal(size=(500, 2))
    )
    monitor.drift_every = 10
    y = probabilities(4)
    with monitor.observe(np.zeros((4, 2))) as obs:
        obs.outputs(y)
    with pytest.raises(KeyError), monitor.observe(np.ones((60, 2))):
        raise KeyError("x")
    samples = scrape(metrics_app())

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted({"model": model, **labels}.items())))]

    predicted = [CLASSES[i] for i in y.argmax(axis=1)]
    for label in set(predicted):
        assert value("ml_model_predictions_total", **{"class": label}) == predicted.count(label)
    assert value("ml_model_prediction_duration_seconds_count") == 2
    assert value("ml_model_confidence_sum") == pytest.approx(y.max(axis=1).sum())
    assert value("ml_model_confidence_count") == 4
    assert value("ml_model_output_entropy_count") == 4
    assert value("ml_model_errors_total", error_type="KeyError") == 1
    assert value("ml_model_drift", feature="0", method="psi") > 0.25  # 60 samples of ones vs N(0, 1)


def test_prometheus_asgi_app() -> None:
    pytest.importorskip("starlette")
    from starlette.applications import Starlette
    from starlette.routing import Mount
    from starlette.testclient import TestClient

    from otel_genai.ml import metrics_asgi_app

    model = unique("asgi")
    monitor = ModelMonitor(model, prometheus=True)
    with monitor.observe([1, 2, 3]):
        pass
    app = Starlette(routes=[Mount("/metrics", app=metrics_asgi_app())])
    response = TestClient(app).get("/metrics/")
    assert response.status_code == 200
    assert f'ml_model_predictions_total{{class="",model="{model}"}} 3.0' in response.text


def test_import_and_init_stay_light() -> None:
    code = (
        "import sys, otel_genai, otel_genai.ml; otel_genai.init(traces_exporter='none', "
        "metrics_exporter='none'); "
        "print(sorted(m for m in ('keras', 'numpy', 'prometheus_client', 'torch') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_monitor_never_breaks_the_call() -> None:
    monitor = ModelMonitor("odd", class_names=CLASSES, reference=np.zeros((100, 2)), prometheus=False)
    with monitor.observe(object()) as obs:  # unreadable inputs and outputs are ignored, not raised
        obs.outputs({"weird": "output"})
        obs.outputs(np.array([[math.nan, math.nan, math.nan]]))


def test_bad_reference_is_one_warning_not_an_error(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="otel_genai"):
        monitor = ModelMonitor(
            "bad-ref", reference=[["a", "b"]], reference_outputs=[[0.1, 0.9], [0.5]], prometheus=False
        )
    warnings = [r.getMessage() for r in caplog.records if "unusable" in r.getMessage()]
    assert len(warnings) == 2
    assert "reference is unusable" in warnings[0] and "input drift is off" in warnings[0]
    assert "reference_outputs is unusable" in warnings[1] and "prediction drift is off" in warnings[1]
    with monitor.observe([[1.0, 2.0]]) as obs:
        obs.outputs([0.3])
    assert monitor.drift() == {}


FORKED = """
import os, sys
import numpy as np
children = []
for index in range(2):
    pid = os.fork()
    if pid == 0:  # a forked worker that sets up Prometheus on its own, after the fork
        from otel_genai.ml import ModelMonitor
        monitor = ModelMonitor("forked", class_names=["a", "b"])
        with monitor.observe(np.zeros((3 + index, 2))) as obs:
            obs.outputs(np.tile([0.9, 0.1], (3 + index, 1)))
        os._exit(0)
    children.append(pid)
for pid in children:
    os.waitpid(pid, 0)
from otel_genai.ml import metrics_app  # the parent joins only now; it finds the children's directory
environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "QUERY_STRING": ""}
body = b"".join(metrics_app()(environ, lambda *a: None))
print(os.environ["PROMETHEUS_MULTIPROC_DIR"])
print(body.decode())
"""


def test_forked_workers_share_one_directory_without_configuration(tmp_path: Any) -> None:
    env = {k: v for k, v in os.environ.items() if k.lower() != "prometheus_multiproc_dir"}
    env["TMPDIR"] = str(tmp_path)
    stale = tmp_path / f"otel-genai-prometheus-{os.getuid()}" / "999999999-1"  # a group whose leader is gone
    stale.mkdir(parents=True)
    done = subprocess.run(
        [sys.executable, "-c", FORKED], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    directory, _, metrics = done.stdout.partition("\n")
    assert directory.startswith(str(tmp_path / f"otel-genai-prometheus-{os.getuid()}"))
    assert 'ml_model_predictions_total{class="a",model="forked"} 7.0' in metrics
    assert not stale.exists()
