"""``opentelemetry-instrument python app.py`` with only ``otel-genai[openai]`` installed equals ``init()``:
OTLP/HTTP, delta temporality, our bucket boundaries, the exit flush. The app itself never imports
otel_genai; the real OTLP/HTTP receiver decodes what arrives."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import child_app
from otel_genai import semconv as sc
from otlp_receiver import OtlpReceiver

APP = """
import openai
from otel_genai.local.simulator import Simulator

with Simulator() as sim:
    client = openai.OpenAI(base_url=sim.base_url, api_key="sk-zero-code-SECRET-123456")
    messages = [{"role": "user", "content": "hi there"}]
    for _ in range(2):
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
        print("REPLY", reply.choices[0].message.content)
"""
# opentelemetry-instrument's own entry point, run by the minimal interpreter (its bin has no scripts)
INSTRUMENT = "import sys; from opentelemetry.instrumentation.auto_instrumentation import run; run()"
DELTA = 1  # opentelemetry.proto AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA


@pytest.fixture(scope="module")
def openai_only(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str], Path]:
    workdir = tmp_path_factory.mktemp("zero-code")
    python, env = child_app.minimal_python(workdir)
    (workdir / "app.py").write_text(APP, encoding="utf-8")
    return python, env, workdir / "app.py"


def test_opentelemetry_instrument_equals_init(openai_only: tuple[str, dict[str, str], Path]) -> None:
    python, env, app = openai_only
    with OtlpReceiver() as receiver:
        env = {**env, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_SERVICE_NAME": "zero-code"}
        result = subprocess.run(
            [python, "-c", INSTRUMENT, "python", str(app)],
            env=env,
            capture_output=True,
            text=True,
            timeout=child_app.HANG_GUARD_S,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.count("REPLY OpenTelemetry turns") == 2
        # the app exited without flushing anything itself: the exit flush delivered everything
        receiver.wait_for(lambda: len(receiver.spans()) >= 2 and receiver.metrics())
    assert result.stderr == ""  # no warning, no traceback: not even about a missing distro
    assert [span.name for span in receiver.spans()] == ["chat gpt-4o-mini"] * 2
    assert {resource["service.name"] for resource, _ in receiver.span_resources()} == {"zero-code"}
    durations = [m for m in receiver.metrics() if m.name == sc.METRIC_OPERATION_DURATION]
    assert durations
    for metric in durations:
        assert metric.histogram.aggregation_temporality == DELTA
        for point in metric.histogram.data_points:
            assert list(point.explicit_bounds) == list(sc.HISTOGRAM_BUCKETS[sc.METRIC_OPERATION_DURATION])
    assert sum(p.count for m in durations for p in m.histogram.data_points) == 2
    assert not any(b"sk-zero-code-SECRET" in body for _, body in receiver.raw_bodies)
