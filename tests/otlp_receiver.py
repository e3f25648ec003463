"""In-process OTLP/HTTP receiver that decodes what an exporter actually sends.

Tests use it instead of in-memory exporters when the wire matters: protobuf encoding, compression, headers,
resource attributes, and that no secret ever reaches the exported bytes. It can also play a failing or slow
backend to check that telemetry problems never break the instrumented application.
"""

from __future__ import annotations

import gzip
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, TypeVar

from google.protobuf.message import Message
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
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric
from opentelemetry.proto.trace.v1.trace_pb2 import Span

_T = TypeVar("_T")

# path -> (request type, serialized empty response)
_SIGNALS: dict[str, tuple[type[Message], bytes]] = {
    "/v1/traces": (ExportTraceServiceRequest, ExportTraceServiceResponse().SerializeToString()),
    "/v1/metrics": (ExportMetricsServiceRequest, ExportMetricsServiceResponse().SerializeToString()),
    "/v1/logs": (ExportLogsServiceRequest, ExportLogsServiceResponse().SerializeToString()),
}
_DECOMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "": lambda body: body,
    "identity": lambda body: body,
    "gzip": gzip.decompress,
    "deflate": zlib.decompress,
}


def any_value_to_python(value: AnyValue) -> Any:
    """Convert an OTLP ``AnyValue`` (attribute value, log body) to the plain Python value it encodes."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value_to_python(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return attrs_to_dict(value.kvlist_value.values)
    return getattr(value, kind)


def attrs_to_dict(key_values: Iterable[KeyValue]) -> dict[str, Any]:
    """Convert OTLP attributes to a dict, so tests compare against literals instead of protobuf messages."""
    return {kv.key: any_value_to_python(kv.value) for kv in key_values}


class OtlpReceiver:
    """OTLP/HTTP protobuf receiver on ``127.0.0.1`` for ``/v1/traces``, ``/v1/metrics`` and ``/v1/logs``.

    Every export is recorded, whatever ``status_code`` answers it, so tests can count the attempts made
    against a failing backend. ``status_code`` and ``delay`` (seconds slept before answering) may be changed
    while the receiver runs. Note that OTLP exporters retry 429, 502, 503 and 504 with backoff.
    """

    def __init__(self, *, status_code: int = 200, delay: float = 0.0) -> None:
        self.status_code = status_code
        self.delay = delay
        self.trace_requests: list[ExportTraceServiceRequest] = []
        self.metric_requests: list[ExportMetricsServiceRequest] = []
        self.log_requests: list[ExportLogsServiceRequest] = []
        self.raw_bodies: list[tuple[str, bytes]] = []  # (path, decompressed body)
        self.headers: list[tuple[str, dict[str, str]]] = []  # (path, lower-cased request headers)
        self._requests_by_path: dict[str, list[Any]] = {
            "/v1/traces": self.trace_requests,
            "/v1/metrics": self.metric_requests,
            "/v1/logs": self.log_requests,
        }
        self._lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("OtlpReceiver is not running; use it as a context manager or call start()")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def endpoint(self) -> str:
        """Base URL as ``OTEL_EXPORTER_OTLP_ENDPOINT`` takes it; signal exporters need ``+ "/v1/traces"``."""
        return self.url

    def start(self) -> OtlpReceiver:
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.receiver = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.01,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None and self._thread is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> OtlpReceiver:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def spans(self) -> list[Span]:
        return [span for _, span in self.span_resources()]

    def span_resources(self) -> list[tuple[dict[str, Any], Span]]:
        """Each span with the attributes of the resource it was exported under."""
        with self._lock:
            requests = list(self.trace_requests)
        return [
            (attrs_to_dict(resource_spans.resource.attributes), span)
            for request in requests
            for resource_spans in request.resource_spans
            for scope_spans in resource_spans.scope_spans
            for span in scope_spans.spans
        ]

    def metrics(self) -> list[Metric]:
        with self._lock:
            requests = list(self.metric_requests)
        return [
            metric
            for request in requests
            for resource_metrics in request.resource_metrics
            for scope_metrics in resource_metrics.scope_metrics
            for metric in scope_metrics.metrics
        ]

    def log_records(self) -> list[LogRecord]:
        with self._lock:
            requests = list(self.log_requests)
        return [
            record
            for request in requests
            for resource_logs in request.resource_logs
            for scope_logs in resource_logs.scope_logs
            for record in scope_logs.log_records
        ]

    def wait_for(self, predicate: Callable[[], _T], timeout: float = 10.0) -> _T:
        """Poll ``predicate`` until it returns something truthy, and return that value.

        Exports arrive asynchronously, from the SDK's worker threads. Raises AssertionError after ``timeout``.
        """
        deadline = time.monotonic() + timeout
        while not (result := predicate()):
            if time.monotonic() > deadline:
                raise AssertionError(f"OtlpReceiver: condition not met within {timeout}s")
            time.sleep(0.02)
        return result

    def _record(self, path: str, headers: dict[str, str], body: bytes, message: Message) -> None:
        with self._lock:
            self.raw_bodies.append((path, body))
            self.headers.append((path, headers))
            self._requests_by_path[path].append(message)


class _HTTPServer(ThreadingHTTPServer):
    receiver: OtlpReceiver

    def handle_error(self, request: Any, client_address: Any) -> None:
        # An exporter giving up on a slow receiver closes the connection; that is the scenario, not an error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as exporters reuse their connection
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request stderr logging of ``BaseHTTPRequestHandler``."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        path = self.path.split("?")[0]
        encoding = self.headers.get("content-encoding", "").lower()
        if path not in _SIGNALS:
            self._respond(404, b"")
            return
        if encoding not in _DECOMPRESS or not self.headers.get("content-type", "").startswith(
            "application/x-protobuf"
        ):
            self._respond(415, b"")  # e.g. an exporter configured for OTLP/JSON
            return
        request_type, empty_response = _SIGNALS[path]
        body = _DECOMPRESS[encoding](body)
        receiver = self.server.receiver
        headers = {name.lower(): value for name, value in self.headers.items()}
        receiver._record(path, headers, body, request_type.FromString(body))
        if receiver.delay:
            time.sleep(receiver.delay)
        status = receiver.status_code
        self._respond(status, empty_response if status == 200 else b"")

    def _respond(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
