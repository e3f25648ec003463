"""A Flask app under real gunicorn with 2 workers and no metrics configuration, scraped by real Prometheus.

Requests go over loopback HTTP; whichever worker answers /metrics reports the totals of both; Prometheus
(Debian's ``prometheus`` package) scrapes it and its query API gives back exactly the counts and histogram
sums of the requests made. The same workers export over OTLP with a 60 s interval, so every point the
receiver decodes arrived through the workers' exit flush when gunicorn stopped them.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

np = pytest.importorskip("numpy")
pytest.importorskip("prometheus_client")
pytest.importorskip("flask")
pytest.importorskip("gunicorn")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from otlp_receiver import OtlpReceiver, attrs_to_dict  # noqa: E402

PROMETHEUS = shutil.which("prometheus")
TESTS = Path(__file__).parent
APP = "ml_served_app:app"  # tests/ml_served_app.py
_T = TypeVar("_T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], _T], timeout: float, what: str) -> _T:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = predicate()
            if result:
                return result
        except (OSError, http.client.HTTPException, ValueError, KeyError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def call(port: int, method: str, path: str, body: Any = None) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data else {}
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def workers_answering(port: int) -> set[str]:
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: call(port, "GET", "/healthz"), range(8)))
    return {headers["X-Worker"] for status, headers, _ in answers if status == 200}


class Traffic:
    """What the test sent, and what Prometheus must therefore report."""

    def __init__(self) -> None:
        self.classes = {"negative": 0, "positive": 0}
        self.confidence_sum = 0.0
        self.samples = 0
        self.timed_calls = 0  # predictions and failures (rejected input is refused before timing)
        self.errors = 0
        self.rejected = 0
        self.workers: set[str] = set()


VARIANTS = {
    "tutorial": [],  # gunicorn -w 2 wsgi:app: each worker imports the app after the fork
    "preload": ["--preload"],  # the app (and init()) imported in the master before the fork
    "worker-restarts": ["--max-requests", "30"],  # workers exit and are replaced while traffic runs
}


@pytest.fixture(params=list(VARIANTS))
def gunicorn(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[int, OtlpReceiver, subprocess.Popen[bytes], str]]:
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "--chdir", str(TESTS)]
    command += VARIANTS[request.param]
    log = tmp_path / "gunicorn.log"
    with OtlpReceiver() as receiver, log.open("wb") as output:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("OTEL_") and k.lower() != "prometheus_multiproc_dir"
        }
        env.update(
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
            OTEL_METRIC_EXPORT_INTERVAL="60000",
            OTEL_SERVICE_NAME="served-model",
        )
        process = subprocess.Popen([*command, APP], env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: len(workers_answering(port)) == 2, 60, "both gunicorn workers to serve")
            yield port, receiver, process, request.param
        except BaseException:
            print(log.read_text(errors="replace"))  # shown by pytest for a failing test
            raise
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def drive(port: int, traffic: Traffic) -> None:
    rng = np.random.default_rng(3)
    batches = [rng.normal(size=(1 + index % 4, 3)).tolist() for index in range(120)]
    lock = threading.Lock()

    def one(instances: list[list[float]]) -> None:
        status, headers, body = call(port, "POST", "/batch_predict", {"instances": instances})
        assert status == 200, body
        with lock:
            traffic.workers.add(headers["X-Worker"])
            for row in json.loads(body)["probabilities"]:
                traffic.classes["positive" if row[1] > row[0] else "negative"] += 1
                traffic.confidence_sum += max(row)
            traffic.samples += len(instances)
            traffic.timed_calls += 1

    with ThreadPoolExecutor(4) as pool:  # concurrency spreads the requests over both workers
        list(pool.map(one, batches))
    for _ in range(3):
        status, _, _ = call(port, "POST", "/batch_predict?fail=1", {"instances": [[0.0, 0.0, 0.0]]})
        assert status == 500
        traffic.errors += 1
        traffic.timed_calls += 1
    for bad in ([[1.0, 2.0]], [[0.0, 0.0, 0.0]] * 17):
        status, _, body = call(port, "POST", "/batch_predict", {"instances": bad})
        assert status == 400, body
        traffic.rejected += 1


def scrape(port: int) -> tuple[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    status, headers, body = call(port, "GET", "/metrics")
    assert status == 200
    samples = {
        (s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k != "pid"))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }
    return headers["X-Worker"], samples


def test_gunicorn_two_workers_totals_via_metrics_prometheus_and_otlp(
    gunicorn: tuple[int, OtlpReceiver, subprocess.Popen[bytes], str],
) -> None:
    port, receiver, process, variant = gunicorn
    traffic = Traffic()
    drive(port, traffic)
    assert len(traffic.workers) >= 2, "both workers must have served predictions"
    if variant == "worker-restarts":
        assert len(traffic.workers) > 2, "workers must have been replaced during the traffic"

    # /metrics: every scrape, whichever worker answers, reports the totals of both
    answered: set[str] = set()

    def scrapes() -> bool:
        with ThreadPoolExecutor(4) as pool:
            for worker, samples in pool.map(lambda _: scrape(port), range(8)):
                answered.add(worker)
                model = ("model", "sentiment")
                for label, count in traffic.classes.items():
                    assert samples[("ml_model_predictions_total", (("class", label), model))] == count
                assert (
                    samples[("ml_model_prediction_duration_seconds_count", (model,))] == traffic.timed_calls
                )
                assert samples[("ml_model_confidence_sum", (model,))] == pytest.approx(traffic.confidence_sum)
                errors = ("ml_model_errors_total", (("error_type", "RuntimeError"), model))
                assert samples[errors] == traffic.errors
                shape = ("ml_model_input_rejected_total", (model, ("reason", "shape")))
                size = ("ml_model_input_rejected_total", (model, ("reason", "size")))
                assert samples[shape] == 1 and samples[size] == 1
        return len(answered) >= 2

    wait_for(scrapes, 30, "two workers to answer a scrape")

    if PROMETHEUS is None:
        pytest.skip("the prometheus binary is not installed (apt-get install prometheus)")
    expected = {
        'sum(ml_model_predictions_total{model="sentiment"})': traffic.samples,
        'sum(ml_model_predictions_total{class="positive"})': traffic.classes["positive"],
        "sum(ml_model_prediction_duration_seconds_count)": traffic.timed_calls,
        "sum(ml_model_confidence_count)": traffic.samples,
        "sum(ml_model_output_entropy_count)": traffic.samples,
        "sum(ml_model_errors_total)": traffic.errors,
        "sum(ml_model_input_rejected_total)": traffic.rejected,
    }
    with prometheus_scraping(port) as query:
        wait_for(lambda: query('up{job="sentiment_model"}') == 1.0, 30, "Prometheus to scrape the app")
        for promql, value in expected.items():
            assert wait_for(lambda q=promql, v=value: query(q) == v, 10, promql)
        assert query("sum(ml_model_confidence_sum)") == pytest.approx(traffic.confidence_sum)
        if variant != "worker-restarts":  # replaced workers drop their drift; new ones need 50 samples first
            assert query('count(ml_model_drift{method="psi"})') == 3.0  # one series per feature

    # OTLP: stop gunicorn; both workers flush at exit and nothing recorded is lost
    process.send_signal(signal.SIGTERM)
    process.wait(30)
    predictions = sum(
        point.as_int
        for metric in receiver.metrics()
        if metric.name == "ml.model.predictions"
        for point in metric.sum.data_points
        if attrs_to_dict(point.attributes)["model"] == "sentiment"
    )
    assert predictions == traffic.samples
    durations = sum(
        point.count
        for m in receiver.metrics()
        if m.name == "ml.model.prediction.duration"
        for point in m.histogram.data_points
    )
    assert durations == traffic.timed_calls


class prometheus_scraping:
    """A real Prometheus on a free loopback port, scraping the app every second, from a temp directory."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.directory = tempfile.mkdtemp(prefix="otel-genai-prometheus-test-")
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Callable[[str], float | None]:
        config = Path(self.directory) / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: sentiment_model\n"
            f"    static_configs:\n      - targets: ['127.0.0.1:{self.target_port}']\n"
        )
        assert PROMETHEUS is not None
        listen = f"--web.listen-address=127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={self.directory}/data", listen],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return self.query

    def query(self, promql: str) -> float | None:
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(url, timeout=5) as response:
            result = json.load(response)["data"]["result"]
        return float(result[0]["value"][1]) if result else None

    def __exit__(self, *exc: Any) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)
