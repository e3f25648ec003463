"""Metric, attribute and span names of the ML helpers (their Prometheus names are in docs/ml.md)."""

from __future__ import annotations

# attributes
MODEL = "model"
STAGE = "stage"  # train | test | predict
CLASS = "class"
FEATURE = "feature"
METHOD = "method"
REASON = "reason"  # shape | dtype | nan | size
ERROR_TYPE = "error.type"
OUTPUT_FEATURE = "output"  # the feature value of prediction drift

# Keras: gauges are f"{metric_prefix}.{key}"; these are appended to the prefix
KERAS_EPOCH_DURATION = ".epoch.duration"
KERAS_BATCH_DURATION = ".batch.duration"
KERAS_THROUGHPUT_KEY = "epoch.throughput"  # gauge f"{prefix}.epoch.throughput", samples per second
EPOCH_SPAN = "epoch"
EPOCH = "ml.epoch"  # 1-based, as Keras prints it
EPOCH_SAMPLES = "ml.epoch.samples"
EPOCH_THROUGHPUT = "ml.epoch.throughput"
NONFINITE_LOSS_EVENT = "ml.nonfinite_loss"

# served models
PREDICTIONS = "ml.model.predictions"
PREDICTION_DURATION = "ml.model.prediction.duration"
ERRORS = "ml.model.errors"
CONFIDENCE = "ml.model.confidence"
OUTPUT_ENTROPY = "ml.model.output.entropy"
INPUT_REJECTED = "ml.model.input.rejected"
DRIFT = "ml.model.drift"


__all__ = [
    "CLASS",
    "CONFIDENCE",
    "DRIFT",
    "EPOCH",
    "EPOCH_SAMPLES",
    "EPOCH_SPAN",
    "EPOCH_THROUGHPUT",
    "ERRORS",
    "ERROR_TYPE",
    "FEATURE",
    "INPUT_REJECTED",
    "KERAS_BATCH_DURATION",
    "KERAS_EPOCH_DURATION",
    "KERAS_THROUGHPUT_KEY",
    "METHOD",
    "MODEL",
    "NONFINITE_LOSS_EVENT",
    "OUTPUT_ENTROPY",
    "OUTPUT_FEATURE",
    "PREDICTIONS",
    "PREDICTION_DURATION",
    "REASON",
    "STAGE",
]
