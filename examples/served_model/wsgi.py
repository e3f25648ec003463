"""A served sentiment model with Prometheus /metrics and OTLP metrics, as the tutorial serves it.

    cd examples/served_model && gunicorn -w 2 -b 127.0.0.1:5000 wsgi:app

(README.md here has the rest: the requests to send, Prometheus, the queries.) The model is a tiny
word-score classifier in numpy, standing in for the tutorial's TensorFlow model: the monitoring code
around it is the same for any model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from flask import Flask, jsonify, request
from werkzeug.middleware.dispatcher import DispatcherMiddleware

import otel_genai

otel_genai.init()  # OTLP as the OTEL_* variables say; /metrics works with or without it

from otel_genai.ml import InputRejected, ModelMonitor, metrics_app  # noqa: E402

WORD_SCORES = {"good": 1.5, "great": 2.5, "love": 2.0, "fine": 0.5, "bad": -1.5, "awful": -2.5, "hate": -2.0}
MAX_CHARACTERS = 2000


def predict(texts: list[str]) -> Any:
    """Class probabilities [negative, positive] per text."""
    scores = np.array([sum(WORD_SCORES.get(w, 0.0) for w in t.lower().split()) for t in texts])
    positive = 1.0 / (1.0 + np.exp(-scores))
    return np.stack([1.0 - positive, positive], axis=1)


def text_features(texts: list[str]) -> list[list[float]]:
    """What input drift watches for text: length in characters and in words."""
    return [[len(t), len(t.split())] for t in texts]


def check_texts(texts: Any) -> str | None:
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        return "dtype"
    if not texts or any(len(t) > MAX_CHARACTERS for t in texts):
        return "size"
    return None


rng = np.random.default_rng(0)
REFERENCE_TEXTS = [
    " ".join(rng.choice([*WORD_SCORES, "the", "movie", "was", "really", "plot"], size=rng.integers(3, 15)))
    for _ in range(1000)
]
monitor = ModelMonitor(
    "sentiment",
    class_names=["negative", "positive"],
    reference=text_features(REFERENCE_TEXTS),
    reference_outputs=predict(REFERENCE_TEXTS),
    feature_names=["characters", "words"],
    features=text_features,
    validate=check_texts,
    max_batch=64,
)

app = Flask(__name__)


@app.post("/predict")
def predict_one() -> Any:
    text = (request.get_json(silent=True) or {}).get("text")
    with monitor.observe([text]) as observation:
        probabilities = predict([text])
        observation.outputs(probabilities)
    return jsonify(
        label=["negative", "positive"][int(probabilities[0].argmax())],
        probabilities=probabilities[0].tolist(),
    )


@app.post("/batch_predict")
def batch_predict() -> Any:
    texts = (request.get_json(silent=True) or {}).get("texts")
    with monitor.observe(texts) as observation:  # counts len(texts) predictions
        probabilities = predict(texts)
        observation.outputs(probabilities)
    return jsonify(probabilities=probabilities.tolist())


@app.errorhandler(InputRejected)
def rejected(error: InputRejected) -> Any:
    return jsonify(error=f"input rejected: {error.reason}"), 400


# /metrics from every worker's counts, whichever worker answers (no PROMETHEUS_MULTIPROC_DIR needed)
app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/metrics": metrics_app()})  # type: ignore[method-assign]
