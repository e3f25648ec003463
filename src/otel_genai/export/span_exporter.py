"""The SDK's OTLP/HTTP span exporter with the request body written by ``SpanEncoder``.

Everything else is the SDK's: endpoint, headers and timeout resolution (``OTEL_EXPORTER_OTLP_*``),
compression (gzip/deflate), retries with backoff and ``Retry-After``, the request size limit and the
exporter's own metrics. Only the protobuf encoding, the most expensive step, is replaced. ``export()``
follows the SDK's (1.45) step for step; on an SDK whose exporter is laid out differently the fast path is
off and the SDK's own ``export()`` runs, unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult

from .otlp_encoder import SpanEncoder

_log = logging.getLogger("otel_genai")
_sdk_log = logging.getLogger("opentelemetry.exporter.otlp.proto.http.trace_exporter")

try:  # the SDK's private helpers; without them (another SDK release) the SDK path is used
    from opentelemetry.exporter.otlp.proto.http._common import (
        RequestPayloadTooLargeError,
        _is_request_too_large,
    )
    from opentelemetry.semconv.attributes.http_attributes import HTTP_RESPONSE_STATUS_CODE
except ImportError:  # pragma: no cover - depends on the installed SDK
    _is_request_too_large = None  # type: ignore[assignment]


class FastOTLPSpanExporter(OTLPSpanExporter):  # type: ignore[misc,unused-ignore]
    """``OTLPSpanExporter`` (same arguments) that encodes spans without protobuf message objects."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._genai_encoder = SpanEncoder()
        self.fast = (
            _is_request_too_large is not None
            and callable(getattr(getattr(self, "_client", None), "export", None))
            and hasattr(getattr(self, "_metrics", None), "export_operation")
            and hasattr(self, "_max_request_size")
            and hasattr(self, "_shutdown")
        )

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if not self.fast:
            return super().export(spans)  # type: ignore[no-any-return,unused-ignore]
        if self._shutdown:
            _sdk_log.warning("Exporter already shutdown, ignoring batch")
            return SpanExportResult.FAILURE
        with self._metrics.export_operation(len(spans)) as result:
            try:
                data = self._genai_encoder.encode(spans)
            except Exception as error:
                _sdk_log.error("Failed to encode span batch: %s", error)
                result.error = error
                return SpanExportResult.FAILURE
            if _is_request_too_large(data, self._max_request_size):
                _sdk_log.warning(
                    "Dropping span batch: serialized size %d bytes exceeds max_request_size %d bytes.",
                    len(data),
                    self._max_request_size,
                )
                result.error = RequestPayloadTooLargeError(
                    f"Serialized span request size {len(data)} bytes exceeds max_request_size "
                    f"{self._max_request_size} bytes."
                )
                return SpanExportResult.FAILURE
            outcome = self._client.export(data)
            if not outcome.success:
                result.error = outcome.error
                result.error_attrs = (
                    {HTTP_RESPONSE_STATUS_CODE: outcome.status_code}
                    if outcome.status_code is not None
                    else None
                )
                return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS


__all__ = ["FastOTLPSpanExporter"]
