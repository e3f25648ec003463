"""End to end, as a user runs it: a separate Python process configured only by ``OTEL_*`` variables.

The child calls ``otel_genai.init()``, makes one recorded chat call and one recorded streamed chat call
against the replay server, and exits without ``shutdown()`` or ``force_flush()``. With a 60 s metric
interval and the span batch delay both longer than the process lives, everything the OTLP receiver decodes
arrived through the exit flush. This is the only place that checks the real exporters, their headers,
temporality and buckets on the wire, and that no secret or (by default) no content leaves the process.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    AGGREGATION_TEMPORALITY_CUMULATIVE,
    AGGREGATION_TEMPORALITY_DELTA,
    Metric,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from conftest import API_KEY
from otel_genai import semconv as sc
from otlp_receiver import OtlpReceiver, attrs_to_dict
from replay import RECORDINGS_DIR, ReplayServer

RECORDINGS = ("openai/chat_basic_gpt4o_mini.json", "openai/chat_stream_include_usage_gpt4.json")
PROMPT = b"Say this is a test"
COMPLETION = b"This is a test"
AUTH_HEADER = "Api-Token dt0c01.SECRET"
# What the user's program prints: the non-stream completion, then the joined stream deltas.
EXPECTED_STDOUT = 'This is a test.\n"This is a test."\n'
RESPONSE_MODELS = {"gpt-4o-mini": "gpt-4o-mini-2024-07-18", "gpt-4": "gpt-4-0613"}

APP = """
import json, os, sys
import otel_genai

otel_genai.init()

import openai

client = openai.OpenAI(base_url=sys.argv[1], api_key=os.environ["E2E_API_KEY"], max_retries=0)
basic, stream = json.loads(sys.argv[2])
print(client.chat.completions.create(**basic).choices[0].message.content)
chunks = client.chat.completions.create(**stream)
print("".join(c.choices[0].delta.content or "" for c in chunks if c.choices))
"""


def _recording(name: str) -> dict[str, Any]:
    return json.loads((RECORDINGS_DIR / name).read_text(encoding="utf-8"))


def _recorded_usage(name: str) -> dict[str, int]:
    """The usage the provider reported: in the JSON body, or in the last SSE event that carries one."""
    response = _recording(name)["interactions"][0]["response"]
    if "json" in response:
        return response["json"]["usage"]
    events = [line[len("data: ") :] for line in response["text"].splitlines() if line.startswith("data: {")]
    return [usage for event in events if (usage := json.loads(event).get("usage"))][-1]


BODIES = [_recording(name)["interactions"][0]["request"]["json"] for name in RECORDINGS]
USAGE = {"gpt-4o-mini": _recorded_usage(RECORDINGS[0]), "gpt-4": _recorded_usage(RECORDINGS[1])}
# chunks the streamed call yields to the user: one time_per_output_chunk point for each after the first
STREAM_CHUNKS = _recording(RECORDINGS[1])["interactions"][0]["response"]["text"].count("data: {")


@dataclass
class Run:
    process: subprocess.CompletedProcess[str]
    receiver: OtlpReceiver  # stopped; keeps everything it decoded
    replay: ReplayServer
    replay_port: int

    def assert_app_succeeded(self) -> None:
        """The user's program saw its completions and no exception, whatever happened to the telemetry."""
        output = f"stdout:\n{self.process.stdout}\nstderr:\n{self.process.stderr}"
        assert self.process.returncode == 0, output
        assert self.process.stdout == EXPECTED_STDOUT, output
        assert "Traceback" not in self.process.stderr, output
        self.replay.assert_all_served()


def run_app(*, status_code: int = 200, endpoint: str | None = None, **env: str) -> Run:
    """Run the user's program in a fresh interpreter; returns once it has exited (exit flush included)."""
    with OtlpReceiver(status_code=status_code) as receiver, ReplayServer(*RECORDINGS) as replay:
        child_env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_"))}
        child_env.update(
            OTEL_SERVICE_NAME="e2e-svc",
            OTEL_RESOURCE_ATTRIBUTES="deployment.environment=test,team=ai",
            OTEL_EXPORTER_OTLP_ENDPOINT=endpoint or receiver.endpoint,
            OTEL_EXPORTER_OTLP_HEADERS="Authorization=Api-Token%20dt0c01.SECRET",
            OTEL_METRIC_EXPORT_INTERVAL="60000",
            E2E_API_KEY=API_KEY,
        )
        child_env.update(env)
        process = subprocess.run(
            [sys.executable, "-c", APP, f"{replay.url}/v1", json.dumps(BODIES)],
            env=child_env,
            capture_output=True,
            text=True,
            timeout=60,  # hang guard only; a healthy run takes about a second
            check=False,
        )
        port = int(replay.url.rsplit(":", 1)[1])
    return Run(process, receiver, replay, port)


@pytest.fixture(scope="module")
def default_run() -> Run:
    """One run with default settings, shared by the tests that only read what it exported."""
    run = run_app()
    run.assert_app_succeeded()
    return run


def _metrics_by_name(receiver: OtlpReceiver) -> dict[str, Metric]:
    result: dict[str, Metric] = {}
    for metric in receiver.metrics():
        assert metric.name not in result, f"{metric.name} exported twice; expected only the exit flush"
        result[metric.name] = metric
    return result


def _point_attributes(model: str, port: int) -> dict[str, Any]:
    return {
        sc.OPERATION_NAME: "chat",
        sc.PROVIDER_NAME: "openai",
        sc.REQUEST_MODEL: model,
        sc.RESPONSE_MODEL: RESPONSE_MODELS[model],
        sc.SERVER_ADDRESS: "127.0.0.1",
        sc.SERVER_PORT: port,
    }


def _histogram(metric: Metric, run: Run, temporality: int) -> dict[tuple[str, str | None], tuple[int, float]]:
    """(request model, token type) -> (count, sum), after checking temporality, bounds and attributes."""
    assert metric.WhichOneof("data") == "histogram", metric.name
    assert metric.histogram.aggregation_temporality == temporality, metric.name
    result: dict[tuple[str, str | None], tuple[int, float]] = {}
    for point in metric.histogram.data_points:
        attributes = attrs_to_dict(point.attributes)
        token_type = attributes.pop(sc.TOKEN_TYPE, None)
        model = attributes[sc.REQUEST_MODEL]
        assert attributes == _point_attributes(model, run.replay_port), metric.name
        assert list(point.explicit_bounds) == list(sc.HISTOGRAM_BUCKETS[metric.name]), metric.name
        result[(model, token_type)] = (point.count, point.sum)
    return result


# --- default settings ----------------------------------------------------------------------------


def test_user_calls_return_normally(default_run: Run) -> None:
    assert default_run.process.stdout == EXPECTED_STDOUT


def test_resource_comes_from_the_environment(default_run: Run) -> None:
    receiver = default_run.receiver
    resources = [resource for resource, _ in receiver.span_resources()]
    resources += [
        attrs_to_dict(rm.resource.attributes)
        for request in receiver.metric_requests
        for rm in request.resource_metrics
    ]
    assert len(resources) >= 3  # two spans, at least one metrics resource
    for resource in resources:
        assert {k: resource.get(k) for k in ("service.name", "deployment.environment", "team")} == {
            "service.name": "e2e-svc",
            "deployment.environment": "test",
            "team": "ai",
        }


def test_otlp_headers_are_url_decoded_and_sent_on_every_signal(default_run: Run) -> None:
    seen: dict[str, set[str | None]] = {}
    for path, headers in default_run.receiver.headers:
        seen.setdefault(path, set()).add(headers.get("authorization"))
    # No /v1/logs: events are off by default.
    assert seen == {"/v1/traces": {AUTH_HEADER}, "/v1/metrics": {AUTH_HEADER}}


def test_spans_arrive_through_the_exit_flush(default_run: Run) -> None:
    spans = default_run.receiver.spans()
    assert sorted(span.name for span in spans) == ["chat gpt-4", "chat gpt-4o-mini"]
    keys = (
        sc.OPERATION_NAME,
        sc.PROVIDER_NAME,
        sc.REQUEST_MODEL,
        sc.RESPONSE_MODEL,
        sc.REQUEST_STREAM,
        sc.RESPONSE_FINISH_REASONS,
        sc.USAGE_INPUT_TOKENS,
        sc.USAGE_OUTPUT_TOKENS,
        sc.SERVER_ADDRESS,
        sc.SERVER_PORT,
    )
    for span in spans:
        model = span.name.removeprefix("chat ")
        streaming = model == "gpt-4"
        attributes = attrs_to_dict(span.attributes)
        assert span.kind == Span.SPAN_KIND_CLIENT
        assert span.status.code == Status.STATUS_CODE_UNSET
        assert {k: attributes.get(k) for k in keys} == {
            sc.OPERATION_NAME: "chat",
            sc.PROVIDER_NAME: "openai",
            sc.REQUEST_MODEL: model,
            sc.RESPONSE_MODEL: RESPONSE_MODELS[model],
            sc.REQUEST_STREAM: True if streaming else None,
            sc.RESPONSE_FINISH_REASONS: ["stop"],
            sc.USAGE_INPUT_TOKENS: USAGE[model]["prompt_tokens"],
            sc.USAGE_OUTPUT_TOKENS: USAGE[model]["completion_tokens"],
            sc.SERVER_ADDRESS: "127.0.0.1",
            sc.SERVER_PORT: default_run.replay_port,
        }, span.name
        assert (sc.RESPONSE_TIME_TO_FIRST_CHUNK in attributes) is streaming


def test_metrics_are_delta_with_semconv_buckets(default_run: Run) -> None:
    metrics = _metrics_by_name(default_run.receiver)
    delta = AGGREGATION_TEMPORALITY_DELTA
    durations = _histogram(metrics[sc.METRIC_OPERATION_DURATION], default_run, delta)
    assert {key: count for key, (count, _) in durations.items()} == {
        ("gpt-4o-mini", None): 1,
        ("gpt-4", None): 1,
    }
    assert _histogram(metrics[sc.METRIC_TOKEN_USAGE], default_run, delta) == {
        (model, token_type): (1, float(USAGE[model][field]))
        for model in ("gpt-4o-mini", "gpt-4")
        for token_type, field in (("input", "prompt_tokens"), ("output", "completion_tokens"))
    }
    for name, count in (
        (sc.METRIC_TIME_TO_FIRST_CHUNK, 1),
        (sc.METRIC_TIME_PER_OUTPUT_CHUNK, STREAM_CHUNKS - 1),
    ):
        points = _histogram(metrics[name], default_run, delta)
        assert {key: n for key, (n, _) in points.items()} == {("gpt-4", None): count}, name
    choices = metrics[sc.METRIC_GENERATION_CHOICES].sum
    assert choices.aggregation_temporality == delta
    assert sorted((attrs_to_dict(p.attributes)[sc.REQUEST_MODEL], p.as_int) for p in choices.data_points) == [
        ("gpt-4", 1),
        ("gpt-4o-mini", 1),
    ]


def test_no_secret_and_no_content_on_the_wire_by_default(default_run: Run) -> None:
    bodies = default_run.receiver.raw_bodies
    assert {path for path, _ in bodies} == {"/v1/traces", "/v1/metrics"}  # the scan below is not vacuous
    for path, body in bodies:
        for forbidden in (API_KEY.encode(), b"dt0c01.SECRET", PROMPT, COMPLETION):
            assert forbidden not in body, (path, forbidden)


# --- other configurations ------------------------------------------------------------------------


def test_span_only_capture_exports_content_but_never_secrets() -> None:
    run = run_app(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="SPAN_ONLY")
    run.assert_app_succeeded()
    traces = b"".join(body for path, body in run.receiver.raw_bodies if path == "/v1/traces")
    assert PROMPT in traces
    assert COMPLETION in traces
    for path, body in run.receiver.raw_bodies:
        for forbidden in (API_KEY.encode(), b"dt0c01.SECRET"):
            assert forbidden not in body, (path, forbidden)


def test_cumulative_temporality_preference() -> None:
    run = run_app(OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE="cumulative")
    run.assert_app_succeeded()
    metrics = _metrics_by_name(run.receiver)
    cumulative = AGGREGATION_TEMPORALITY_CUMULATIVE
    assert _histogram(metrics[sc.METRIC_TOKEN_USAGE], run, cumulative)[("gpt-4", "input")] == (
        1,
        float(USAGE["gpt-4"]["prompt_tokens"]),
    )
    for name in (
        sc.METRIC_OPERATION_DURATION,
        sc.METRIC_TIME_TO_FIRST_CHUNK,
        sc.METRIC_TIME_PER_OUTPUT_CHUNK,
    ):
        _histogram(metrics[name], run, cumulative)
    assert metrics[sc.METRIC_GENERATION_CHOICES].sum.aggregation_temporality == cumulative


def test_dead_endpoint_never_breaks_the_app() -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # A 1 s export timeout keeps the bounded exit flush short (the default bound is 5 s).
    run = run_app(endpoint=f"http://127.0.0.1:{port}", OTEL_EXPORTER_OTLP_TIMEOUT="1000")
    run.assert_app_succeeded()
    assert run.receiver.raw_bodies == []


def test_failing_backend_never_breaks_the_app() -> None:
    run = run_app(status_code=500)
    run.assert_app_succeeded()
    tried = {path for path, _ in run.receiver.raw_bodies}
    assert tried == {"/v1/traces", "/v1/metrics"}  # the exporters did meet the failing backend
