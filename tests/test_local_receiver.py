"""The embedded backend's receiver and store: what our SDK sends lands in SQLite with exact values.

Telemetry comes from real instrumented clients (the demo workload against the loopback simulator), is read
back through the SDK's in-memory exporters, and is then sent by the SDK's own OTLP/HTTP exporters (real
protobuf encoding, real HTTP) or as OTLP/JSON to the backend; the test compares every stored field with the
SDK's objects.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.message import Message
from google.rpc.status_pb2 import Status
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    HistogramDataPoint,
    InMemoryMetricReader,
    NumberDataPoint,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.export import SpanExportResult

from local_support import api, backend, get, gzipped, otlp_json, post, rows
from otel_genai.local import otlp
from otel_genai.local.simulator import Simulator
from otel_genai.local.store import Store


def _plain(value: Any) -> Any:
    """An attribute value as JSON holds it: tuples become lists, mappings dicts, all the way down."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict) or hasattr(value, "items"):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _attrs(attributes: Any) -> dict[str, Any]:
    return {k: _plain(v) for k, v in (attributes or {}).items()}


@pytest.fixture
def workload_telemetry(instrument: Any) -> Any:
    """Spans, metrics and log events of the whole demo workload, with content captured on spans and events."""
    from otel_genai.local import workload

    telemetry = instrument(capture_message_content="SPAN_AND_EVENT")
    with Simulator() as sim:
        done = workload.run(sim.base_url, lambda name, text: None)
    assert {"chat", "stream", "tool call", "error", "embeddings"} <= set(done)
    return telemetry


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip])
def test_sdk_spans_round_trip_exactly(tmp_path: Path, workload_telemetry: Any, compression: Any) -> None:
    spans = workload_telemetry.spans()
    assert len(spans) >= 8
    with backend(tmp_path / "t.db") as server:
        exporter = OTLPSpanExporter(endpoint=server.url + "/v1/traces", compression=compression)
        assert exporter.export(spans) == SpanExportResult.SUCCESS
        stored = {row["span_id"]: row for row in rows(server.store, "SELECT * FROM spans")}
    assert len(stored) == len(spans)
    for span in spans:
        row = stored[f"{span.context.span_id:016x}"]
        assert row["trace_id"] == f"{span.context.trace_id:032x}"
        assert row["parent_id"] == (f"{span.parent.span_id:016x}" if span.parent else "")
        assert row["name"] == span.name
        assert row["kind"] == span.kind.value + 1  # OTLP counts from SPAN_KIND_UNSPECIFIED
        assert (row["start_ns"], row["end_ns"]) == (span.start_time, span.end_time)
        assert row["duration_ns"] == span.end_time - span.start_time
        assert row["status"] == span.status.status_code.value
        assert row["status_message"] == (span.status.description or "")
        assert json.loads(row["attributes"]) == _attrs(span.attributes)
        assert json.loads(row["resource"]) == _attrs(span.resource.attributes)
        assert row["service"] == span.resource.attributes["service.name"]
        assert row["scope"] == span.instrumentation_scope.name
        assert json.loads(row["events"]) == [
            {"name": e.name, "time_ns": e.timestamp, "attributes": _attrs(e.attributes)} for e in span.events
        ]
        attributes = span.attributes or {}
        assert row["operation"] == attributes.get("gen_ai.operation.name")
        assert row["input_tokens"] == attributes.get("gen_ai.usage.input_tokens")
        assert row["output_tokens"] == attributes.get("gen_ai.usage.output_tokens")
        assert row["model"] == attributes.get("gen_ai.request.model", attributes.get("gen_ai.response.model"))
        assert row["error_type"] == attributes.get("error.type")
        agentic = attributes.get("gen_ai.operation.name") in ("invoke_workflow", "execute_tool")
        assert row["inference"] == int("gen_ai.operation.name" in attributes and not agentic)
    # The content the user opted in to is there, verbatim.
    chat = next(s for s in spans if s.name == "chat gpt-4o-mini")
    assert (
        json.loads(stored[f"{chat.context.span_id:016x}"]["attributes"])["gen_ai.input.messages"]
        == (chat.attributes["gen_ai.input.messages"])
    )


def test_otlp_json_stores_exactly_what_protobuf_stores(tmp_path: Path, workload_telemetry: Any) -> None:
    request = encode_spans(workload_telemetry.spans())
    with backend(tmp_path / "p.db") as server:
        status, _, body = post(server.url, "/v1/traces", request.SerializeToString())
        assert status == 200 and ExportTraceServiceResponse.FromString(body) == ExportTraceServiceResponse()
        from_protobuf = [tuple(r) for r in rows(server.store, "SELECT * FROM spans ORDER BY span_id")]
    with backend(tmp_path / "j.db") as server:
        status, headers, body = post(
            server.url,
            "/v1/traces",
            gzipped(otlp_json(request)),
            "application/json",
            {"content-encoding": "gzip"},
        )
        assert status == 200 and headers["content-type"] == "application/json"
        assert json.loads(body) == {}
        from_json = [tuple(r) for r in rows(server.store, "SELECT * FROM spans ORDER BY span_id")]
    assert from_json == from_protobuf and len(from_json) == len(workload_telemetry.spans())


def _point_rows(store: Store) -> dict[tuple[str, str], list[Any]]:
    out: dict[tuple[str, str], list[Any]] = {}
    for row in rows(store, "SELECT * FROM points ORDER BY rowid"):
        out.setdefault((row["name"], row["attributes"]), []).append(row)
    return out


def _key(name: str, attributes: Any) -> tuple[str, str]:
    return name, otlp.dumps(_attrs(attributes))


def test_sdk_metrics_round_trip_exactly(tmp_path: Path, workload_telemetry: Any) -> None:
    data = workload_telemetry.metric_reader.get_metrics_data()
    metrics = [m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics]
    assert {"gen_ai.client.token.usage", "gen_ai.client.operation.duration"} <= {m.name for m in metrics}
    with backend(tmp_path / "m.db") as server:
        assert OTLPMetricExporter(endpoint=server.url + "/v1/metrics").export(data).name == "SUCCESS"
        stored = _point_rows(server.store)
    count = 0
    for metric in metrics:
        for point in metric.data.data_points:
            (row,) = stored[_key(metric.name, point.attributes)]
            count += 1
            assert row["unit"] == metric.unit
            assert (row["start_ns"], row["time_ns"]) == (point.start_time_unix_nano, point.time_unix_nano)
            if isinstance(point, HistogramDataPoint):
                assert row["kind"] == "histogram"
                assert (row["count"], row["sum"], row["min"], row["max"]) == (
                    point.count,
                    point.sum,
                    point.min,
                    point.max,
                )
                assert json.loads(row["bounds"]) == list(point.explicit_bounds)
                assert json.loads(row["counts"]) == list(point.bucket_counts)
                assert (row["delta_count"], row["delta_counts"]) == (row["count"], row["counts"])
            else:
                assert isinstance(point, NumberDataPoint)
                assert row["kind"] == "sum" and row["value"] == point.value == row["delta"]
                assert type(row["value"]) is type(point.value)  # ints stay ints
            assert row["temporality"] == metric.data.aggregation_temporality.value
    assert count == sum(len(v) for v in stored.values())


def test_cumulative_metrics_become_deltas(tmp_path: Path) -> None:
    reader = InMemoryMetricReader()  # cumulative, the SDK's default
    provider = MeterProvider(metric_readers=[reader], resource=Resource.create({"service.name": "cumul"}))
    meter = provider.get_meter("test")
    counter = meter.create_counter("gen_ai.client.cost", unit="USD")
    histogram = meter.create_histogram("gen_ai.client.operation.duration", unit="s")
    updown = meter.create_up_down_counter("queue.depth")
    labels = {"gen_ai.request.model": "m"}
    with backend(tmp_path / "c.db") as server:
        exporter = OTLPMetricExporter(endpoint=server.url + "/v1/metrics")
        for cost, duration, depth in ((3, 0.5, 4), (2, 7.0, -3), (0, 30.0, 1)):
            counter.add(cost, labels)
            histogram.record(duration, labels)
            updown.add(depth, labels)
            assert exporter.export(reader.get_metrics_data()).name == "SUCCESS"
        stored = _point_rows(server.store)
        overview_cost = api(server.url, "cost")
    cost = stored[_key("gen_ai.client.cost", labels)]
    assert [r["value"] for r in cost] == [3, 5, 5] and [r["delta"] for r in cost] == [3, 2, 0]
    assert all(r["temporality"] == AggregationTemporality.CUMULATIVE.value for r in cost)
    duration = stored[_key("gen_ai.client.operation.duration", labels)]
    assert [r["delta_count"] for r in duration] == [1, 1, 1]
    assert [r["delta_sum"] for r in duration] == [0.5, 7.0, 30.0]
    per_bucket = [json.loads(r["delta_counts"]) for r in duration]
    assert [sum(c) for c in per_bucket] == [1, 1, 1] and len({str(c) for c in per_bucket}) == 3
    depth = stored[_key("queue.depth", labels)]
    assert [r["value"] for r in depth] == [4, 1, 2] and [r["delta"] for r in depth] == [4, -3, 1]
    assert overview_cost["cost"] is None  # metrics alone never invent span cost
    provider.shutdown()


def test_sdk_log_events_round_trip(tmp_path: Path, workload_telemetry: Any) -> None:
    logs = workload_telemetry.log_exporter.get_finished_logs()
    assert logs
    with backend(tmp_path / "l.db") as server:
        assert OTLPLogExporter(endpoint=server.url + "/v1/logs").export(logs).name == "SUCCESS"
        stored = rows(server.store, "SELECT * FROM logs ORDER BY rowid")
    assert len(stored) == len(logs)
    for data, row in zip(logs, stored, strict=True):
        record = getattr(data, "log_record", data)
        assert row["time_ns"] == (record.timestamp or record.observed_timestamp)
        assert row["trace_id"] == f"{record.trace_id:032x}" and row["span_id"] == f"{record.span_id:016x}"
        assert json.loads(row["attributes"]) == _attrs(record.attributes)
        assert json.loads(row["body"]) == _plain(record.body)
        assert row["event_name"] == (
            getattr(record, "event_name", None) or record.attributes.get("event.name")
        )


def _status(body: bytes, kind: str = otlp.PROTOBUF) -> Status:
    if kind == otlp.JSON:
        from google.protobuf import json_format

        return json_format.Parse(body, Status())
    return Status.FromString(body)


def test_malformed_bodies_get_spec_answers(tmp_path: Path) -> None:
    good = ExportTraceServiceRequest()
    span = good.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.name = b"\x01" * 16, b"\x02" * 8, "ok"
    body = good.SerializeToString()
    with backend(tmp_path / "bad.db") as server:
        status, headers, answer = post(server.url, "/v1/traces", b"\xff\xff\xff not protobuf")
        assert status == 400 and "cannot decode traces request" in _status(answer).message
        assert headers["content-type"] == otlp.PROTOBUF
        status, _, answer = post(server.url, "/v1/traces", body[:-3])
        assert status == 400 and _status(answer).message
        status, headers, answer = post(server.url, "/v1/metrics", b"{not json", "application/json")
        assert status == 400 and headers["content-type"] == "application/json"
        assert "cannot decode metrics request" in _status(answer, otlp.JSON).message
        assert post(server.url, "/v1/logs", b"[1, 2]", "application/json")[0] == 400
        assert post(server.url, "/v1/traces", body, "text/plain")[0] == 415
        assert post(server.url, "/v1/traces", body, headers={"content-encoding": "br"})[0] == 415
        assert (
            post(server.url, "/v1/traces", b"\x1f\x8b garbage", headers={"content-encoding": "gzip"})[0]
            == 400
        )
        assert (
            post(server.url, "/v1/traces", gzipped(body)[:-6], headers={"content-encoding": "gzip"})[0] == 400
        )
        assert post(server.url, "/v1/nothing", body)[0] == 404
        assert get(server.url, "/v1/traces")[0] == 405
        # Over the limit: refused unread from content-length, and as a decompression bomb.
        status, _, answer = post(
            server.url, "/v1/traces", b"", headers={"content-length": str(otlp.MAX_BODY_BYTES + 1)}
        )
        assert status == 413 and "exceeds the limit" in _status(answer).message
        bomb = gzipped(b"\n" + b"\x00" * (otlp.MAX_BODY_BYTES + 10))
        status, _, answer = post(server.url, "/v1/traces", bomb, headers={"content-encoding": "gzip"})
        assert status == 413 and "decompressed body exceeds" in _status(answer).message
        # Unknown fields are ignored, in protobuf (an unknown field number) and JSON (an unknown key).
        unknown = body + b"\xfa\x3e\x03abc"  # field 999, length-delimited
        assert post(server.url, "/v1/traces", unknown)[0] == 200
        document = json.loads(otlp_json(good))
        document["futureField"] = {"x": 1}
        document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["newThing"] = 7
        assert post(server.url, "/v1/traces", json.dumps(document).encode(), "application/json")[0] == 200
        assert [r["name"] for r in rows(server.store, "SELECT name FROM spans")] == ["ok"]
        assert rows(server.store, "PRAGMA integrity_check")[0][0] == "ok"


def test_partial_success_reports_rejected_spans_and_points(tmp_path: Path) -> None:
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    for trace_id, span_id in (
        (b"\x01" * 16, b"\x02" * 8),
        (b"\x01" * 15, b"\x03" * 8),
        (b"\x00" * 16, b"\x04" * 8),
    ):
        span = spans.add()
        span.trace_id, span.span_id, span.name = trace_id, span_id, "s"
    with backend(tmp_path / "p.db") as server:
        status, _, body = post(server.url, "/v1/traces", request.SerializeToString())
        answer = ExportTraceServiceResponse.FromString(body)
        assert status == 200 and answer.partial_success.rejected_spans == 2
        assert "invalid trace_id" in answer.partial_success.error_message
        status, _, body = post(server.url, "/v1/traces", otlp_json(request), "application/json")
        assert json.loads(body)["partialSuccess"]["rejectedSpans"] == "2"
        metrics = encode_metrics_with_empty_metric()
        status, _, body = post(server.url, "/v1/metrics", metrics.SerializeToString())
        assert status == 200
        assert ExportMetricsServiceResponse.FromString(body).partial_success.rejected_data_points == 1
        assert len(rows(server.store, "SELECT * FROM spans")) == 1


def encode_metrics_with_empty_metric() -> Message:
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

    request = ExportMetricsServiceRequest()
    metrics = request.resource_metrics.add().scope_metrics.add().metrics
    metrics.add().name = "no.data"
    ok = metrics.add()
    ok.name = "gauge.ok"
    ok.gauge.data_points.add().as_double = 1.5
    return request


def test_token_required_off_loopback(tmp_path: Path) -> None:
    body = encode_spans([]).SerializeToString()
    with backend(tmp_path / "tok.db", host="0.0.0.0") as server:
        token = server.token
        assert token and len(token) >= 24 and server.dashboard_url.endswith(f"/?token={token}")
        for path in ("/", "/api/overview", "/static/app.js"):
            assert get(server.url, path)[0] == 401
        assert post(server.url, "/v1/traces", body)[0] == 401
        assert post(server.url, "/v1/traces", body, headers={"authorization": "Bearer wrong"})[0] == 401
        assert post(server.url, "/v1/traces", body, headers={"authorization": f"Bearer {token}"})[0] == 200
        status, headers, _ = get(server.url, f"/?token={token}")
        assert status == 200 and "HttpOnly" in headers["set-cookie"]
        cookie = headers["set-cookie"].split(";")[0]
        assert get(server.url, "/api/overview", {"cookie": cookie})[0] == 200
        exporter = OTLPSpanExporter(
            endpoint=server.url + "/v1/traces", headers={"authorization": f"Bearer {token}"}
        )
        assert exporter.export([]) == SpanExportResult.SUCCESS


def test_loopback_refuses_foreign_host_headers(tmp_path: Path) -> None:
    with backend(tmp_path / "h.db") as server:
        assert server.token is None
        assert get(server.url, "/api/overview")[0] == 200
        assert get(server.url, "/api/overview", {"host": "localhost:4318"})[0] == 200
        assert get(server.url, "/api/overview", {"host": "evil.example:4318"})[0] == 401  # DNS rebinding
        status, headers, _page = get(server.url, "/")
        assert status == 200 and "script-src 'self'" in headers["content-security-policy"]
        assert get(server.url, "/static/../store.py")[0] == 404
        assert get(server.url, "/api/nothing")[0] == 404


def test_retention_by_age_and_size(tmp_path: Path) -> None:
    store = Store(tmp_path / "r.db", max_age_s=3600, max_bytes=256 * 1024)
    now = time.time_ns()
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    for i in range(3000):
        span = spans.add()
        span.trace_id, span.span_id = (i + 1).to_bytes(16, "big"), (i + 1).to_bytes(8, "big")
        span.name = "x" * 200
        span.start_time_unix_nano = span.end_time_unix_nano = now - (7200 * 10**9 if i < 10 else i * 10**6)
    assert store.write(otlp.decode("traces", request.SerializeToString(), otlp.PROTOBUF, ""))
    assert store.used_bytes() > store.max_bytes
    store.enforce_retention()
    with store.read() as db:
        left = db.execute("SELECT COUNT(*), MIN(start_ns) FROM spans").fetchone()
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert 0 < left[0] < 2990 and left[1] > now - 3600 * 10**9  # the two-hour-old spans went first
    assert store.used_bytes() <= store.max_bytes
    store.close()


def test_exponential_histograms_summaries_and_gauges_are_kept(tmp_path: Path) -> None:
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

    request = ExportMetricsServiceRequest()
    metrics = request.resource_metrics.add().scope_metrics.add().metrics
    exponential = metrics.add()
    exponential.name = "exp"
    exponential.exponential_histogram.aggregation_temporality = 1
    point = exponential.exponential_histogram.data_points.add()
    point.count, point.sum, point.scale, point.zero_count, point.min, point.max = 5, 12.5, 3, 1, 0.0, 9.0
    point.positive.offset, point.positive.bucket_counts[:] = 2, [1, 3]
    point.time_unix_nano = 7
    summary = metrics.add()
    summary.name = "summary"
    quantiles = summary.summary.data_points.add()
    quantiles.count, quantiles.sum = 4, 10.0
    quantile = quantiles.quantile_values.add()
    quantile.quantile, quantile.value = 0.5, 2.5
    gauge = metrics.add()
    gauge.name = "gauge"
    gauge.gauge.data_points.add().as_double = float("nan")  # not storable as a number: kept as NULL
    infinite = metrics.add()
    infinite.name = "gen_ai.client.operation.duration"
    bad = infinite.histogram.data_points.add()
    bad.count, bad.sum, bad.explicit_bounds[:], bad.bucket_counts[:] = 1, float("inf"), [1.0], [0, 1]
    bad.time_unix_nano = time.time_ns()
    with backend(tmp_path / "x.db") as server:
        assert post(server.url, "/v1/metrics", request.SerializeToString())[0] == 200
        stored = {r["name"]: r for r in rows(server.store, "SELECT * FROM points")}
        assert api(server.url, "ml")["t"]  # the views still answer strict JSON
    assert (stored["exp"]["count"], stored["exp"]["sum"], stored["exp"]["max"]) == (5, 12.5, 9.0)
    assert json.loads(stored["exp"]["bounds"]) == {"scale": 3, "zero_count": 1}
    assert json.loads(stored["exp"]["counts"])["positive"] == [2, [1, 3]]
    assert stored["exp"]["delta_count"] == 5 and stored["exp"]["kind"] == "exponential_histogram"
    assert json.loads(stored["summary"]["counts"]) == [[0.5, 2.5]] and stored["summary"]["count"] == 4
    assert stored["gauge"]["kind"] == "gauge" and stored["gauge"]["value"] is None
    assert stored["gen_ai.client.operation.duration"]["sum"] is None


def test_filter_choices_are_those_of_the_time_range(tmp_path: Path) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    now = time.time_ns()
    request = ExportTraceServiceRequest()
    for i, (model, age_s) in enumerate((("gpt-4o", 60), ("gpt-3.5-turbo", 3 * 86400))):
        resource_spans = request.resource_spans.add()
        service = resource_spans.resource.attributes.add()
        service.key, service.value.string_value = "service.name", f"svc-{model}"
        span = resource_spans.scope_spans.add().spans.add()
        span.trace_id, span.span_id = (i + 1).to_bytes(16, "big"), (i + 1).to_bytes(8, "big")
        span.name, span.kind = f"chat {model}", 3
        span.start_time_unix_nano = now - age_s * 10**9
        span.end_time_unix_nano = span.start_time_unix_nano + 10**6
        for key, value in (("gen_ai.provider.name", "openai"), ("gen_ai.request.model", model)):
            attribute = span.attributes.add()
            attribute.key, attribute.value.string_value = key, value
    with backend(tmp_path / "f.db") as server:
        assert post(server.url, "/v1/traces", request.SerializeToString())[0] == 200
        hour = api(server.url, "filters", range=3600)
        week = api(server.url, "filters", range=7 * 86400)
        older = api(server.url, "filters", range=86400, to=now - 2 * 86400 * 10**9)
    assert hour == {"service": ["svc-gpt-4o"], "provider": ["openai"], "model": ["gpt-4o"]}
    assert week["model"] == ["gpt-3.5-turbo", "gpt-4o"] and len(week["service"]) == 2
    assert older["model"] == ["gpt-3.5-turbo"]
