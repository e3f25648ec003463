"""Prometheus ``/metrics`` for served models, correct under pre-fork servers with no configuration.

Under ``gunicorn -w 2`` each worker is its own process with its own counters, and a scrape reaches one
of them. prometheus_client solves this with its multiprocess mode: every process writes its values to
memory-mapped files in ``PROMETHEUS_MULTIPROC_DIR`` and the exposition sums the files of all processes.
It needs that variable set before the first metric is created, which is the configuration users forget;
so the first use of this module sets it up itself:

- ``PROMETHEUS_MULTIPROC_DIR`` already set: used as it is.
- Otherwise a directory per *process group* under ``$TMPDIR/otel-genai-prometheus-<uid>/``: a worker
  forked from a master running the same program (gunicorn, uWSGI, a ``fork`` pool; same executable and,
  outside gunicorn/uWSGI, the same command line) joins its master's directory, which each worker finds on
  its own even when the app is imported after the fork; any other process starts a group of its own,
  which the workers it forks later inherit through the environment (``gunicorn --preload``). Directories
  of groups whose leader is gone are removed.

Counters and histograms of workers that exited keep counting (totals stay totals); the drift gauge uses
the ``livemax`` mode (the largest value among live workers), and files of dead workers' live gauges are
removed at each scrape (prometheus_client's ``mark_process_dead``, which gunicorn would otherwise need a
``child_exit`` hook for). Other prometheus_client metrics the application creates afterwards are
multiprocess too, and show up in the same ``/metrics``.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

_log = logging.getLogger("otel_genai")
ENV = "PROMETHEUS_MULTIPROC_DIR"
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONFIDENCE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)
ENTROPY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0)

_lock = threading.Lock()
_directory: str | None = None
_metrics: Metrics | None = None
_GROUP = re.compile(r"^(\d+)-(\d+)$")


def multiprocess_directory() -> str:
    """The directory this process shares with its sibling workers, set up on first call."""
    global _directory
    with _lock:
        if _directory is None:
            path = os.environ.get(ENV) or os.environ.get(ENV.lower())
            if not path:
                path = _group_directory()
                os.environ[ENV] = path
            os.makedirs(path, exist_ok=True)
            from prometheus_client import values

            if values.ValueClass is values.MutexValue:  # imported before the variable was set
                values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call,unused-ignore]
            _directory = path
        return _directory


def _group_directory() -> str:
    root = Path(tempfile.gettempdir()) / f"otel-genai-prometheus-{os.getuid()}"
    try:
        root.mkdir(mode=0o700, exist_ok=True)
        info = root.lstat()
        if root.is_symlink() or info.st_uid != os.getuid():
            raise PermissionError(f"{root} is not ours")
    except OSError:
        return tempfile.mkdtemp(prefix="otel-genai-prometheus-")  # not shared, but safe
    parent = os.getppid()
    leader = parent if _forked_from(parent) else os.getpid()
    name = f"{leader}-{_start_time(leader)}"
    _remove_stale(root, keep=name)
    return str(root / name)


def _forked_from(parent: int) -> bool:
    """True when the parent is the master of a pre-fork server running this same program."""
    if parent <= 1:
        return False
    prefork = "gunicorn.arbiter" in sys.modules or "uwsgi" in sys.modules
    try:
        if os.readlink(f"/proc/{parent}/exe") != os.readlink("/proc/self/exe"):
            return False
        if prefork:
            return True
        with open(f"/proc/{parent}/cmdline", "rb") as theirs, open("/proc/self/cmdline", "rb") as ours:
            return theirs.read() == ours.read()
    except OSError:  # no /proc (macOS): trust the server's modules only
        return prefork


def _start_time(pid: int) -> int:
    """The process's start time in clock ticks since boot (tells a reused pid apart); 0 without /proc."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return int(stat.read().rsplit(b")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale(root: Path, keep: str) -> None:
    for entry in root.iterdir():
        match = _GROUP.match(entry.name)
        if match is None or entry.name == keep:
            continue
        pid, started = int(match[1]), int(match[2])
        if not _alive(pid) or (started and _start_time(pid) != started):
            shutil.rmtree(entry, ignore_errors=True)


def _reap_dead_workers(path: str) -> None:
    """Drop the live-gauge files of processes that are gone (what a gunicorn child_exit hook would do)."""
    from prometheus_client import multiprocess

    pids = set()
    for file in Path(path).glob("gauge_live*_*.db"):
        suffix = file.stem.rsplit("_", 1)[-1]
        if suffix.isdigit():
            pids.add(int(suffix))
    for pid in pids:
        if pid != os.getpid() and not _alive(pid):
            multiprocess.mark_process_dead(pid, path)  # type: ignore[no-untyped-call,unused-ignore]


class Metrics:
    """The served-model metrics in prometheus_client form, one set per process (label ``model``)."""

    def __init__(self) -> None:
        multiprocess_directory()
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        registry = CollectorRegistry(auto_describe=True)  # ours alone; exposition reads the shared files
        self.predictions = Counter(
            "ml_model_predictions",
            "Predictions made, one per sample",
            ["model", "class"],
            registry=registry,
        )
        self.duration = Histogram(
            "ml_model_prediction_duration_seconds",
            "Duration of one prediction call",
            ["model"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.errors = Counter(
            "ml_model_errors", "Failed prediction calls", ["model", "error_type"], registry=registry
        )
        self.confidence = Histogram(
            "ml_model_confidence",
            "Largest class probability, per sample",
            ["model"],
            buckets=CONFIDENCE_BUCKETS,
            registry=registry,
        )
        self.entropy = Histogram(
            "ml_model_output_entropy",
            "Entropy of the class probabilities in nats, per sample",
            ["model"],
            buckets=ENTROPY_BUCKETS,
            registry=registry,
        )
        self.rejected = Counter(
            "ml_model_input_rejected", "Inputs rejected by validation", ["model", "reason"], registry=registry
        )
        self.drift = Gauge(
            "ml_model_drift",
            "Drift of a feature (or the output) against the reference sample",
            ["model", "feature", "method"],
            multiprocess_mode="livemax",
            registry=registry,
        )


def metrics() -> Metrics:
    global _metrics
    if _metrics is None:
        with _lock:
            found = _metrics
        if found is None:
            found = Metrics()
            with _lock:
                _metrics = _metrics or found
    return _metrics


class PrometheusSink:
    """Where ModelMonitor records for ``/metrics`` (see monitor.py for the OpenTelemetry side)."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.m = metrics()
        self._duration = self.m.duration.labels(model)
        self._confidence = self.m.confidence.labels(model)
        self._entropy = self.m.entropy.labels(model)

    def predictions(self, counts: Iterable[tuple[str | None, int]]) -> None:
        for label, count in counts:
            self.m.predictions.labels(self.model, label or "").inc(count)

    def duration(self, seconds: float) -> None:
        self._duration.observe(seconds)

    def error(self, error_type: str) -> None:
        self.m.errors.labels(self.model, error_type).inc()

    def confidence(self, values: Iterable[float]) -> None:
        for value in values:
            self._confidence.observe(value)

    def entropy(self, values: Iterable[float]) -> None:
        for value in values:
            self._entropy.observe(value)

    def rejected(self, reason: str) -> None:
        self.m.rejected.labels(self.model, reason).inc()

    def drift(self, feature: str, method: str, value: float) -> None:
        self.m.drift.labels(self.model, feature, method).set(value)


def registry() -> Any:
    """A registry whose collection sums the files of every process of this group."""
    from prometheus_client import CollectorRegistry

    collecting = CollectorRegistry(auto_describe=False)
    collecting.register(_GroupCollector(multiprocess_directory()))
    return collecting


class _GroupCollector:
    """prometheus_client's MultiProcessCollector, after dropping the live gauges of dead workers."""

    def __init__(self, path: str) -> None:
        from prometheus_client.multiprocess import MultiProcessCollector

        self.path = path
        self._files = MultiProcessCollector(None, path=path)  # type: ignore[no-untyped-call,unused-ignore]

    def collect(self) -> Any:
        try:
            _reap_dead_workers(self.path)
        except Exception:
            _log.debug("otel-genai: removing dead workers' gauges failed", exc_info=True)
        return self._files.collect()  # type: ignore[no-untyped-call,unused-ignore]


def _prometheus_client() -> Any:
    try:
        import prometheus_client
    except ImportError as error:
        raise ImportError(
            "otel_genai.ml needs prometheus_client for /metrics: pip install 'otel-genai[ml]'"
        ) from error
    return prometheus_client


def metrics_app() -> Callable[..., Any]:
    """A WSGI app serving the metrics of all workers in Prometheus text format.

    Mount it at ``/metrics`` (``DispatcherMiddleware(app.wsgi_app, {"/metrics": metrics_app()})``) or
    serve it on its own. Needs prometheus_client (``pip install otel-genai[ml]``).
    """
    make_wsgi_app = _prometheus_client().make_wsgi_app
    metrics()
    return make_wsgi_app(registry())  # type: ignore[no-any-return]


def metrics_asgi_app() -> Callable[..., Any]:
    """The same as an ASGI app (FastAPI/Starlette: ``app.mount("/metrics", metrics_asgi_app())``)."""
    make_asgi_app = _prometheus_client().make_asgi_app
    metrics()
    return make_asgi_app(registry())  # type: ignore[no-any-return]


__all__ = [
    "CONFIDENCE_BUCKETS",
    "DURATION_BUCKETS",
    "ENTROPY_BUCKETS",
    "ENV",
    "Metrics",
    "PrometheusSink",
    "metrics",
    "metrics_app",
    "metrics_asgi_app",
    "multiprocess_directory",
    "registry",
]
