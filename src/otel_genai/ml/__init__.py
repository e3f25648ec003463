"""Classic ML: a Keras callback for training and evaluation, a monitor for served models, Prometheus /metrics.

Everything here is imported on first use: ``import otel_genai.ml`` loads neither Keras, numpy nor
prometheus_client. See docs/ml.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .keras_callback import KerasCallback
    from .monitor import InputRejected, ModelMonitor, Observation
    from .prometheus import metrics_app, metrics_asgi_app

__all__ = ["InputRejected", "KerasCallback", "ModelMonitor", "Observation", "metrics_app", "metrics_asgi_app"]

_WHERE = {
    "KerasCallback": "keras_callback",
    "ModelMonitor": "monitor",
    "InputRejected": "monitor",
    "Observation": "monitor",
    "metrics_app": "prometheus",
    "metrics_asgi_app": "prometheus",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
