"""Bad standard OTEL_* variables (the ones the OpenTelemetry SDK reads itself) never switch the SDK off.

Each runs a real application in a child process against the real OTLP/HTTP receiver: the spans still
arrive, and stderr has one warning naming the variable and its fallback, and no traceback.
"""

from __future__ import annotations

import logging

import pytest

import child_app
from otel_genai import config, stdenv
from otlp_receiver import OtlpReceiver

APP = (
    child_app.CALLS
    + """
import json, sys
import otel_genai
otel_genai.init(endpoint=sys.argv[1], service_name="env-check")
contents = calls(2)
otel_genai.shutdown()
print(json.dumps({"contents": contents}))
"""
)

BAD = {
    "OTEL_BSP_SCHEDULE_DELAY": "-100",
    "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "-1",
    "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "abc",
    "OTEL_BLRP_SCHEDULE_DELAY": "-1",
    "OTEL_BSP_MAX_QUEUE_SIZE": "0",
    "OTEL_BSP_EXPORT_TIMEOUT": "soon",
    "OTEL_SPAN_EVENT_COUNT_LIMIT": "1.5",
    "OTEL_SPAN_LINK_COUNT_LIMIT": "-3",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "ten",
    "OTEL_METRIC_EXPORT_TIMEOUT": "-1",
    "OTEL_EXPORTER_OTLP_COMPRESSION": "brotli",
}


def run_app(receiver: OtlpReceiver, **env: str) -> str:
    result = child_app.run(APP, child_app.clean_env(**env), receiver.endpoint)
    assert child_app.last_json(result) == {"contents": [child_app_reply()] * 2}
    receiver.wait_for(lambda: len(receiver.spans()) >= 2)
    assert "Traceback" not in result.stderr, result.stderr
    return result.stderr


def child_app_reply() -> str:
    from otel_genai.local.simulator import REPLY

    return REPLY


@pytest.mark.parametrize("name", sorted(BAD))
def test_one_bad_standard_variable_gets_one_warning_and_spans_still_arrive(name: str) -> None:
    with OtlpReceiver() as receiver:
        stderr = run_app(receiver, **{name: BAD[name]})
    warnings = [line for line in stderr.splitlines() if name in line]
    assert len(warnings) == 1, stderr
    assert "invalid" in warnings[0]
    assert "instead" in warnings[0]  # names the fallback
    assert [s.name for s in receiver.spans()] == ["chat gpt-4o-mini"] * 2


def test_all_bad_standard_variables_at_once() -> None:
    with OtlpReceiver() as receiver:
        stderr = run_app(receiver, **BAD)
    for name in BAD:
        assert sum(name + "=" in line for line in stderr.splitlines()) == 1, (name, stderr)


def test_grpc_protocol_is_said_once_and_http_is_used() -> None:
    with OtlpReceiver() as receiver:
        stderr = run_app(
            receiver, OTEL_EXPORTER_OTLP_PROTOCOL="grpc", OTEL_EXPORTER_OTLP_TRACES_PROTOCOL="grpc"
        )
    lines = [line for line in stderr.splitlines() if "grpc" in line]
    assert len(lines) == 1, stderr
    assert "http/protobuf" in lines[0]


def test_header_with_crlf_is_rejected_at_start_and_exports_work() -> None:
    with OtlpReceiver() as receiver:
        stderr = run_app(receiver, OTEL_EXPORTER_OTLP_HEADERS="x-ok=yes,x-bad=a%0D%0AInjected: 1")
    lines = [line for line in stderr.splitlines() if "OTEL_EXPORTER_OTLP_HEADERS" in line]
    assert len(lines) == 1, stderr
    assert "CR, LF" in lines[0]
    assert "Injected" not in stderr  # the value is not echoed either
    trace_headers = [h for path, h in receiver.headers if path == "/v1/traces"]
    assert trace_headers
    assert trace_headers[0]["x-ok"] == "yes"
    assert "x-bad" not in trace_headers[0]


def test_keyword_header_with_newline_is_dropped(caplog: pytest.LogCaptureFixture) -> None:
    config._warned.discard("headers")
    with caplog.at_level(logging.WARNING, logger="otel_genai"):
        cleaned = stdenv.clean_headers({"a": "1", "b": "x\ny"}, "headers")
    assert cleaned == {"a": "1"}
    assert len(caplog.records) == 1


def test_valid_values_are_left_alone() -> None:
    env = {
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "unset",
        "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "0",
        "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
        "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Api-Token%20abc",
    }
    sanitized = dict(env)
    stdenv.sanitize(sanitized)
    assert sanitized == env


def test_batch_size_above_queue_size_is_clamped() -> None:
    env = {"OTEL_BSP_MAX_QUEUE_SIZE": "100"}
    stdenv.sanitize(env)
    assert env["OTEL_BSP_MAX_EXPORT_BATCH_SIZE"] == "100"


def test_per_signal_timeout_is_used_in_milliseconds() -> None:
    assert stdenv.signal_timeout_s("traces", 10.0, {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "2500"}) == 2.5
    assert stdenv.signal_timeout_s("traces", 10.0, {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "ten"}) == 10.0
    assert stdenv.signal_timeout_s("metrics", 10.0, {}) == 10.0
