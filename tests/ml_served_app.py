"""A served model for tests/test_ml_gunicorn.py: Flask, run by ``gunicorn -w 2 ml_served_app:app``.

Configured only as a user would: ``otel_genai.init()`` (OTEL_* variables), a ModelMonitor, and
``metrics_app()`` mounted at /metrics. Responses name the worker that answered (``X-Worker``).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from flask import Flask, jsonify, request
from werkzeug.middleware.dispatcher import DispatcherMiddleware

import otel_genai

otel_genai.init()

from otel_genai.ml import InputRejected, ModelMonitor, metrics_app  # noqa: E402

WEIGHTS = np.array([[1.0, -1.0], [0.5, 0.25], [-0.5, 1.0]])  # 3 features -> 2 classes
REFERENCE = np.random.default_rng(0).normal(size=(2000, 3))
monitor = ModelMonitor(
    "sentiment",
    reference=REFERENCE,
    class_names=["negative", "positive"],
    input_shape=(3,),
    max_batch=16,
    window=200,
    drift_every=20,
)


def predict(x: Any) -> Any:
    logits = np.atleast_2d(x) @ WEIGHTS
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


app = Flask(__name__)


@app.post("/batch_predict")
def batch_predict() -> Any:
    x = np.asarray(request.get_json()["instances"], dtype=float)
    with monitor.observe(x) as obs:
        if request.args.get("fail"):
            raise RuntimeError("model crashed")
        y = predict(x)
        obs.outputs(y)
    return jsonify(probabilities=y.tolist())


@app.get("/healthz")
def healthz() -> Any:
    return "ok"


@app.errorhandler(InputRejected)
def rejected(error: InputRejected) -> Any:
    return jsonify(error=error.reason), 400


@app.errorhandler(RuntimeError)
def failed(error: RuntimeError) -> Any:
    return jsonify(error=str(error)), 500


@app.after_request
def worker_header(response: Any) -> Any:
    response.headers["X-Worker"] = str(os.getpid())
    return response


def _with_worker(wsgi: Any) -> Any:
    def serve(environ: Any, start_response: Any) -> Any:
        def start(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            return start_response(status, [*headers, ("X-Worker", str(os.getpid()))], *exc_info)

        return wsgi(environ, start)

    return serve


app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/metrics": _with_worker(metrics_app())})  # type: ignore[method-assign]
