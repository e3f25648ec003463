"""Dynatrace's TensorFlow/Keras tutorial with otel-genai: train with the callback, then an evaluate loop.

    KERAS_BACKEND=torch python examples/keras_training.py

Synthetic MNIST-shaped data (28x28 images, 10 classes) stands in for MNIST, so nothing is downloaded.
Every epoch's loss and accuracy go out as gauges ``tensorflow.loss`` / ``tensorflow.accuracy`` /
``tensorflow.val_*`` with ``model=mnist-classifier`` and ``stage=train``; each evaluate round as
``stage=test``; ``fit`` / ``evaluate`` / ``epoch`` spans beside them. The tutorial's production loop runs
forever; here ``EVAL_ROUNDS`` (default 3) and ``EVAL_INTERVAL`` (seconds, default 5; the tutorial uses 60)
bound it, and ``EPOCHS`` (default 2) sets the training length. Configure the export with the OTEL_*
variables (examples/README.md); the defaults send to a collector on localhost:4318.
"""

from __future__ import annotations

import os
import time

import numpy as np

import otel_genai

otel_genai.init()

import keras  # noqa: E402

from otel_genai.ml import KerasCallback  # noqa: E402


def mnist_shaped(samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Images whose class is a bright band at a class-specific row, under noise: learnable in an epoch."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, size=samples)
    images = rng.random((samples, 28, 28), dtype=np.float32) * 0.5
    for index, label in enumerate(labels):
        images[index, 2 + 2 * label : 4 + 2 * label, :] += 0.5
    return images, labels


x_train, y_train = mnist_shaped(2000, seed=0)
x_test, y_test = mnist_shaped(500, seed=1)

model = keras.Sequential(
    [
        keras.Input((28, 28)),
        keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ]
)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])

callback = KerasCallback(model_name="mnist-classifier", metric_prefix="tensorflow")
history = model.fit(
    x_train,
    y_train,
    epochs=int(os.environ.get("EPOCHS", "2")),
    batch_size=64,
    validation_split=0.1,
    callbacks=[callback],
    verbose=2,
)
print("history:", {key: [round(v, 4) for v in values] for key, values in history.history.items()})

rounds, interval = int(os.environ.get("EVAL_ROUNDS", "3")), float(os.environ.get("EVAL_INTERVAL", "5"))
for round_ in range(rounds):  # the tutorial's `while True: evaluate; sleep(60)`, bounded
    loss, accuracy = model.evaluate(x_test, y_test, callbacks=[callback], verbose=0)
    print(f"evaluate {round_ + 1}/{rounds}: loss={loss:.4f} accuracy={accuracy:.4f}")
    if round_ + 1 < rounds:
        time.sleep(interval)
# Nothing else to do: the last values are flushed at exit.
