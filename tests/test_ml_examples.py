"""The ML examples run as documented: examples/keras_training.py and examples/served_model/wsgi.py."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from otlp_receiver import OtlpReceiver, attrs_to_dict

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("OTEL_") and k.lower() != "prometheus_multiproc_dir"
    }
    env.update(extra)
    return env


def test_keras_training_example() -> None:
    if not (importlib.util.find_spec("torch") and importlib.util.find_spec("keras")):
        pytest.skip("needs keras and torch (the test-ml extra and torch==2.13.0)")
    with OtlpReceiver() as receiver:
        env = clean_env(
            KERAS_BACKEND="torch",
            EPOCHS="1",
            EVAL_ROUNDS="2",
            EVAL_INTERVAL="0",
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        )
        done = subprocess.run(
            [sys.executable, str(EXAMPLES / "keras_training.py")],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        stages: dict[str, int] = {}
        for metric in receiver.metrics():
            if metric.name == "tensorflow.accuracy":
                for point in metric.gauge.data_points:
                    attributes = attrs_to_dict(point.attributes)
                    assert attributes["model"] == "mnist-classifier"
                    stages[attributes["stage"]] = stages.get(attributes["stage"], 0) + 1
        spans = [s.name for s in receiver.spans()]
    assert done.stdout.count("evaluate ") == 2
    assert stages["test"] >= 2 and stages["train"] >= 1
    assert spans.count("evaluate mnist-classifier") == 2 and "fit mnist-classifier" in spans


SERVED = """
import json, wsgi
client = wsgi.app.test_client()
ok = client.post("/batch_predict", json={"texts": ["awful movie", "great great", "fine"]})
one = client.post("/predict", json={"text": "I love it"})
bad = client.post("/batch_predict", json={"texts": [42]})
metrics = client.get("/metrics").get_data(as_text=True)
print(json.dumps({"ok": ok.status_code, "one": one.get_json(), "bad": bad.status_code, "metrics": metrics}))
"""


def test_served_model_example() -> None:
    pytest.importorskip("flask")
    pytest.importorskip("prometheus_client")
    pytest.importorskip("numpy")
    env = clean_env(OTEL_TRACES_EXPORTER="none", OTEL_METRICS_EXPORTER="none", OTEL_LOGS_EXPORTER="none")
    done = subprocess.run(
        [sys.executable, "-c", SERVED],
        cwd=EXAMPLES / "served_model",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert (result["ok"], result["bad"], result["one"]["label"]) == (200, 400, "positive")
    metrics = result["metrics"]
    assert 'ml_model_predictions_total{class="positive",model="sentiment"} 3.0' in metrics
    assert 'ml_model_input_rejected_total{model="sentiment",reason="dtype"} 1.0' in metrics
    assert 'ml_model_prediction_duration_seconds_count{model="sentiment"} 2.0' in metrics
