"""OTLP/HTTP request bodies -> store rows: decoding (protobuf or JSON, compressed or not) and flattening.

Everything here is pure and bounded: a body that is too large, compressed past the limit, truncated or not
OTLP at all raises :class:`BadRequest` with a message for the client, and a span, point or record that cannot
be stored is counted as rejected (OTLP partial success) instead of failing the whole request.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import math
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

MAX_BODY_BYTES = 16 * 1024 * 1024  # compressed and decompressed alike; larger bodies get 413

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

_REQUESTS: dict[str, tuple[type[Message], type[Message]]] = {
    "traces": (ExportTraceServiceRequest, ExportTraceServiceResponse),
    "metrics": (ExportMetricsServiceRequest, ExportMetricsServiceResponse),
    "logs": (ExportLogsServiceRequest, ExportLogsServiceResponse),
}
# JSON OTLP encodes these ids as hex, where protobuf's JSON mapping expects base64.
_ID_KEYS = frozenset({"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"})
_AGENTIC_OPS = frozenset(
    {"invoke_workflow", "invoke_agent", "create_agent", "execute_tool", "retrieval", "apply_guardrail"}
)
_REJECTED_FIELD = {
    "traces": "rejected_spans",
    "metrics": "rejected_data_points",
    "logs": "rejected_log_records",
}
_SPAN_CLIENT = 3
_METRIC_KINDS = ("gauge", "sum", "histogram", "exponential_histogram", "summary")


class BadRequest(Exception):
    """The body cannot be read; ``status`` is the HTTP answer (400, 413 or 415)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Decoded:
    """Rows for the store, and what OTLP partial success reports back."""

    signal: str
    spans: list[tuple[Any, ...]] = field(default_factory=list)
    points: list[dict[str, Any]] = field(default_factory=list)
    logs: list[tuple[Any, ...]] = field(default_factory=list)
    rejected: int = 0
    error_message: str = ""


def decompress(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise BadRequest(415, f"unsupported content-encoding {encoding!r} (use gzip, deflate or none)")
    inflater = zlib.decompressobj(31 if encoding == "gzip" else 15)
    try:
        data = inflater.decompress(body, MAX_BODY_BYTES + 1)
    except zlib.error as exc:
        raise BadRequest(400, f"body is not valid {encoding}: {exc}") from None
    if len(data) > MAX_BODY_BYTES or inflater.unconsumed_tail:
        raise BadRequest(413, f"decompressed body exceeds {MAX_BODY_BYTES} bytes")
    if not inflater.eof:
        raise BadRequest(400, f"truncated {encoding} body")
    return data


def media_type(content_type: str) -> str:
    kind = content_type.split(";")[0].strip().lower()
    if kind in (PROTOBUF, "application/protobuf"):
        return PROTOBUF
    if kind == JSON:
        return JSON
    raise BadRequest(415, f"unsupported content-type {content_type!r} (use {PROTOBUF} or {JSON})")


def parse(signal: str, body: bytes, kind: str) -> Message:
    """The export request a body holds; unknown fields are ignored, as OTLP asks."""
    request = _REQUESTS[signal][0]()
    try:
        if kind == PROTOBUF:
            request.ParseFromString(body)
        else:
            document = json.loads(body)
            if not isinstance(document, dict):
                raise BadRequest(400, "JSON body must be an object")
            json_format.ParseDict(_hex_ids_to_base64(document), request, ignore_unknown_fields=True)
    except BadRequest:
        raise
    except (DecodeError, json_format.ParseError, ValueError, TypeError, RecursionError) as exc:
        raise BadRequest(400, f"cannot decode {signal} request: {str(exc)[:200]}") from None
    return request


def response(signal: str, rejected: int, error_message: str, kind: str) -> bytes:
    """A success body, with partial success when something was rejected."""
    message = _REQUESTS[signal][1]()
    if rejected:
        partial = message.partial_success
        setattr(partial, _REJECTED_FIELD[signal], rejected)
        partial.error_message = error_message
    return encode(message, kind)


def status_body(code: int, message: str, kind: str) -> bytes:
    """A ``google.rpc.Status`` error body, as OTLP/HTTP specifies for 4xx and 5xx answers."""
    from google.rpc.status_pb2 import Status

    return encode(Status(code=code, message=message), kind)


def encode(message: Message, kind: str) -> bytes:
    if kind == JSON:
        return bytes(json_format.MessageToJson(message, indent=None).encode())
    return bytes(message.SerializeToString())


def decode(signal: str, body: bytes, content_type: str, content_encoding: str) -> Decoded:
    kind = media_type(content_type)
    request = parse(signal, decompress(body, content_encoding), kind)
    if signal == "traces":
        return _spans(request)
    if signal == "metrics":
        return _points(request)
    return _logs(request)


def _hex_ids_to_base64(node: Any, depth: int = 0) -> Any:
    if depth > 64:
        raise BadRequest(400, "JSON body nests too deeply")
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in _ID_KEYS and isinstance(value, str):
                with contextlib.suppress(ValueError):  # not hex: left to the base64 reader (old producers)
                    value = base64.b64encode(bytes.fromhex(value)).decode()
            else:
                value = _hex_ids_to_base64(value, depth + 1)
            out[key] = value
        return out
    if isinstance(node, list):
        return [_hex_ids_to_base64(item, depth + 1) for item in node]
    return node


def value_of(value: Any, depth: int = 0) -> Any:
    """An OTLP ``AnyValue`` as a JSON-safe Python value (bytes as base64, non-finite floats as strings)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "string_value":
        return value.string_value
    if kind == "int_value":
        return value.int_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "double_value":
        number = value.double_value
        return number if math.isfinite(number) else str(number)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    if depth > 32:
        return None
    if kind == "array_value":
        return [value_of(item, depth + 1) for item in value.array_value.values]
    return {kv.key: value_of(kv.value, depth + 1) for kv in value.kvlist_value.values}


def attributes(key_values: Iterable[Any]) -> dict[str, Any]:
    return {kv.key: value_of(kv.value) for kv in key_values}


def dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def _hex(raw: bytes) -> str:
    return binascii.hexlify(raw).decode()


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _spans(request: Any) -> Decoded:
    out = Decoded("traces")
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        service = str(resource.get("service.name") or "unknown_service")
        resource_json = dumps(resource)
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope.name
            for span in scope_spans.spans:
                trace_id, span_id = span.trace_id, span.span_id
                if len(trace_id) != 16 or len(span_id) != 8 or not any(trace_id) or not any(span_id):
                    out.rejected += 1
                    out.error_message = "span with an invalid trace_id or span_id"
                    continue
                attrs = attributes(span.attributes)
                operation = _str(attrs.get("gen_ai.operation.name"))
                provider = _str(attrs.get("gen_ai.provider.name")) or _str(attrs.get("gen_ai.system"))
                request_model = _str(attrs.get("gen_ai.request.model"))
                response_model = _str(attrs.get("gen_ai.response.model"))
                inference = (
                    operation is not None
                    and operation not in _AGENTIC_OPS
                    and (span.kind == _SPAN_CLIENT or provider is not None)
                )
                start, end = span.start_time_unix_nano, span.end_time_unix_nano
                events = [
                    {
                        "name": event.name,
                        "time_ns": event.time_unix_nano,
                        "attributes": attributes(event.attributes),
                    }
                    for event in span.events
                ]
                links = [
                    {
                        "trace_id": _hex(link.trace_id),
                        "span_id": _hex(link.span_id),
                        "attributes": attributes(link.attributes),
                    }
                    for link in span.links
                ]
                out.spans.append(
                    (
                        _hex(trace_id),
                        _hex(span_id),
                        _hex(span.parent_span_id),
                        span.name,
                        span.kind,
                        start,
                        end,
                        max(0, end - start),
                        span.status.code,
                        span.status.message,
                        service,
                        scope,
                        operation,
                        provider,
                        request_model or response_model,
                        response_model,
                        _int(attrs.get("gen_ai.usage.input_tokens")),
                        _int(attrs.get("gen_ai.usage.output_tokens")),
                        _float(attrs.get("gen_ai.usage.cost")),
                        _str(attrs.get("error.type")),
                        int(inference),
                        dumps(attrs),
                        resource_json,
                        dumps(events),
                        dumps(links),
                    )
                )
    return out


def _points(request: Any) -> Decoded:
    out = Decoded("metrics")
    for resource_metrics in request.resource_metrics:
        resource = attributes(resource_metrics.resource.attributes)
        service = str(resource.get("service.name") or "unknown_service")
        for scope_metrics in resource_metrics.scope_metrics:
            scope = scope_metrics.scope.name
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                if kind not in _METRIC_KINDS or not metric.name:
                    out.rejected += 1
                    out.error_message = "metric without a name or data"
                    continue
                data = getattr(metric, kind)
                base = {
                    "name": metric.name,
                    "unit": metric.unit,
                    "kind": kind,
                    "temporality": getattr(data, "aggregation_temporality", 0),
                    "monotonic": int(getattr(data, "is_monotonic", False)),
                    "service": service,
                    "scope": scope,
                }
                for point in data.data_points:
                    row = dict(base)
                    attrs = attributes(point.attributes)
                    row["attributes"] = dumps(attrs)
                    row["start_ns"] = point.start_time_unix_nano
                    row["time_ns"] = point.time_unix_nano
                    row.update(_point_values(kind, point))
                    out.points.append(row)
    return out


def _finite(number: float) -> float | None:
    """Non-finite floats become NULL: neither SQLite's sums nor the dashboard's JSON can carry them."""
    return number if math.isfinite(number) else None


def _point_values(kind: str, point: Any) -> dict[str, Any]:
    if kind in ("gauge", "sum"):
        which = point.WhichOneof("value")
        number = point.as_int if which == "as_int" else point.as_double
        if isinstance(number, float) and not math.isfinite(number):
            number = None
        return {"value": number}
    values: dict[str, Any] = {"count": point.count, "sum": _finite(point.sum)}
    if kind == "summary":
        values["counts"] = dumps([[_finite(q.quantile), _finite(q.value)] for q in point.quantile_values])
        return values
    values["min"] = _finite(point.min) if point.HasField("min") else None
    values["max"] = _finite(point.max) if point.HasField("max") else None
    if kind == "histogram":
        values["bounds"] = dumps([_finite(bound) for bound in point.explicit_bounds])
        values["counts"] = dumps(list(point.bucket_counts))
    else:
        values["bounds"] = dumps({"scale": point.scale, "zero_count": point.zero_count})
        values["counts"] = dumps(
            {
                "positive": [point.positive.offset, list(point.positive.bucket_counts)],
                "negative": [point.negative.offset, list(point.negative.bucket_counts)],
            }
        )
    return values


def _logs(request: Any) -> Decoded:
    out = Decoded("logs")
    for resource_logs in request.resource_logs:
        resource = attributes(resource_logs.resource.attributes)
        service = str(resource.get("service.name") or "unknown_service")
        resource_json = dumps(resource)
        for scope_logs in resource_logs.scope_logs:
            scope = scope_logs.scope.name
            for record in scope_logs.log_records:
                attrs = attributes(record.attributes)
                event_name = getattr(record, "event_name", "") or _str(attrs.get("event.name")) or None
                out.logs.append(
                    (
                        record.time_unix_nano or record.observed_time_unix_nano,
                        record.observed_time_unix_nano,
                        _hex(record.trace_id),
                        _hex(record.span_id),
                        record.severity_number,
                        record.severity_text,
                        event_name,
                        dumps(value_of(record.body)),
                        service,
                        scope,
                        dumps(attrs),
                        resource_json,
                    )
                )
    return out


__all__ = [
    "JSON",
    "MAX_BODY_BYTES",
    "PROTOBUF",
    "BadRequest",
    "Decoded",
    "attributes",
    "decode",
    "decompress",
    "dumps",
    "encode",
    "media_type",
    "parse",
    "response",
    "status_body",
    "value_of",
]
