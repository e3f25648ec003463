"""What KerasCallback costs a small model's training, per batch, with real OTLP export.

Usage: ``python benchmarks/ml_keras.py [--quick] [--check]`` (Keras 3 on the torch backend, CPU;
``pip install -e '.[test-ml]' torch==2.13.0``). benchmarks/README.md, row 8, explains the method.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "torch")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

TARGET_PERCENT = 0.5
SAMPLES, FEATURES, CLASSES, BATCH = 2000, 20, 3, 32


def small_model() -> Any:
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((FEATURES,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(CLASSES, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def data() -> tuple[Any, Any]:
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(SAMPLES, FEATURES)).astype("float32")
    return x, (x[:, 0] > 0).astype("int64") + (x[:, 1] > 1).astype("int64")


def batch_time(model: Any, x: Any, y: Any, rounds: int) -> float:
    """Seconds per training batch of plain ``fit`` (median over rounds of one epoch each)."""
    steps = -(-SAMPLES // BATCH)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        model.fit(x, y, epochs=1, batch_size=BATCH, verbose=0)
        times.append((time.perf_counter() - start) / steps)
    return statistics.median(times)


def hook_cost(callback: Any, model: Any, pairs: int, rounds: int) -> float:
    """Seconds per batch the callback adds to Keras's batch-hook dispatch (median of paired rounds).

    Signed: a callback that overrides the batch hooks turns off Keras's asynchronous dispatch of them,
    which can make the dispatch itself cheaper than without the callback.
    """
    import keras

    steps = -(-SAMPLES // BATCH)
    logs = {"loss": 0.5, "accuracy": 0.8}

    def dispatch(callbacks: list[Any]) -> float:
        hooks = keras.callbacks.CallbackList(callbacks, add_history=True, model=model, epochs=1, steps=steps)
        hooks.on_train_begin()
        hooks.on_epoch_begin(0)
        start = time.perf_counter()
        for batch in range(pairs):
            hooks.on_train_batch_begin(batch)
            hooks.on_train_batch_end(batch, logs)
        hooks.on_epoch_end(0, logs)  # waits for asynchronously dispatched batch hooks
        elapsed = time.perf_counter() - start
        hooks.on_train_end(logs)
        return elapsed / pairs

    return statistics.median(dispatch([callback]) - dispatch([]) for _ in range(rounds))


def own_batch_work(callback: Any, model: Any, pairs: int) -> float:
    """Seconds per batch spent in the callback's own batch hooks, called directly."""
    callback.set_model(model)
    callback.set_params({"epochs": 1, "steps": pairs})
    callback.on_train_begin()
    callback.on_epoch_begin(0)
    logs = {"loss": 0.5, "accuracy": 0.8}
    start = time.perf_counter()
    for batch in range(pairs):
        callback.on_train_batch_begin(batch)
        callback.on_train_batch_end(batch, logs)
    elapsed = time.perf_counter() - start
    callback.on_epoch_end(0, logs)
    callback.on_train_end(logs)
    return elapsed / pairs


def epoch_cost(callback: Any, model: Any, epochs: int) -> float:
    """Seconds of the training thread per epoch begin + end (recording, span, starting the flush)."""
    callback.set_model(model)
    callback.set_params({"epochs": epochs, "steps": -(-SAMPLES // BATCH)})
    callback.on_train_begin()
    logs = {"loss": 0.5, "accuracy": 0.8, "val_loss": 0.6, "val_accuracy": 0.7}
    times = []
    for epoch in range(epochs):
        if callback._telemetry is not None:
            callback._telemetry.flusher.wait()  # as in training, where an epoch outlasts one export
        start = time.perf_counter()
        callback.on_epoch_begin(epoch)
        callback.on_epoch_end(epoch, logs)
        times.append(time.perf_counter() - start)
    callback.on_train_end(logs)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--check", action="store_true", help="exit 1 if the target is missed")
    args = parser.parse_args(argv)
    rounds, pairs, epochs = (3, 2000, 20) if args.quick else (7, 20_000, 100)

    import otel_genai
    from otlp_receiver import OtlpReceiver

    with OtlpReceiver() as receiver:
        otel_genai.init(endpoint=receiver.endpoint, service_name="bench-keras")
        from otel_genai.ml import KerasCallback

        x, y = data()
        model = small_model()
        model.fit(x, y, epochs=1, batch_size=BATCH, verbose=0)  # warm-up: compile the step functions
        steps = -(-SAMPLES // BATCH)
        per_batch = batch_time(model, x, y, rounds)
        hooks = hook_cost(KerasCallback(model_name="bench"), model, pairs, rounds)
        hooks_opt_in = hook_cost(KerasCallback(model_name="bench", per_batch=True), model, pairs // 4, rounds)
        opt_in_own = own_batch_work(KerasCallback(model_name="bench", per_batch=True), model, pairs // 4)
        epoch = epoch_cost(KerasCallback(model_name="bench"), model, epochs)
        otel_genai.shutdown()
        exported = sum(1 for m in receiver.metrics() if m.name == "keras.loss")

    default_cost = max(0.0, hooks) + epoch / steps
    percent = 100 * default_cost / per_batch
    ok = percent <= TARGET_PERCENT
    rows = [
        (
            "8a",
            "small model: one training batch (Dense 16, batch 32, CPU)",
            f"{per_batch * 1e6:.0f} µs",
            "",
            "info",
        ),
        ("8b", "KerasCallback (default): added per batch", f"{default_cost * 1e6:.2f} µs", "", "info"),
        (
            "8c",
            "  ... as a share of the batch",
            f"{percent:.3f} %",
            f"{TARGET_PERCENT} %",
            "PASS" if ok else "FAIL",
        ),
        ("8d", "per_batch=True: its own batch hooks, per batch", f"{opt_in_own * 1e6:.2f} µs", "", "info"),
        (
            "8e",
            "per_batch=True: change in Keras's hook dispatch",
            f"{hooks_opt_in * 1e6:+.2f} µs",
            "",
            "info",
        ),
        ("8f", "epoch begin + end on the training thread", f"{epoch * 1e6:.0f} µs", "", "info"),
    ]
    print(f"{'row':<4} {'measurement':<58} {'measured':>12} {'target':>8}  result")
    for row, what, measured, target, result in rows:
        print(f"{row:<4} {what:<58} {measured:>12} {target:>8}  {result}")
    print(
        f"\nnotes: {steps} batches per epoch; default = batch dispatch {hooks * 1e6:+.2f} µs (0 if negative)"
    )
    print(f"       + epoch work {epoch * 1e6:.0f} µs / {steps} batches;")
    print(
        f"       {exported} keras.loss exports reached the loopback OTLP receiver (one per flushed epoch end)"
    )
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
