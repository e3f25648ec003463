"""The SDK's batch span processor plus backpressure, for the pipeline ``init()`` builds.

Why: a loop of calls that never block on I/O but release the GIL briefly (openai's ``uuid4`` per call)
can keep the export thread from running for seconds (benchmarks/README.md, row 6); the queue then
overflows and spans are dropped. Changing the interpreter's switch interval would cure it, but that
setting belongs to the application. Instead, once the queue is past a high-water mark, the thread that
ends a span exports one batch itself when the export thread is idle, or, when the export thread is in
the middle of an export, waits a few milliseconds for it (handing it the GIL), at most every 50 ms.
Neither while exports fail, and caller-side exports pause for 30 s after one that was slow: with a
failing or slow backend, spans are dropped as the SDK drops them, and user calls do not wait for it.
Every export on a caller's thread is counted in ``caller_exports``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, attach, detach, set_value
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

_log = logging.getLogger("otel_genai")
_YIELD_S = 0.002  # how long a caller waits for a busy export thread
_YIELD_EVERY_S = 0.05  # and how often at most
# A caller-side export slower than this (a slow backend) pauses caller-side exports for _PAUSE_S. Only
# those are timed: the export thread's own exports take long under GIL starvation, when relief is needed.
_SLOW_S = 0.25
_PAUSE_S = 30.0


class _Health(SpanExporter):
    """Whether the last export succeeded (caller-side exports stop while exports fail)."""

    def __init__(self, exporter: SpanExporter) -> None:
        self.exporter = exporter
        self.failing = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = SpanExportResult.FAILURE
        try:
            result = self.exporter.export(spans)
        finally:
            self.failing = result is not SpanExportResult.SUCCESS
        return result

    def shutdown(self) -> None:
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return bool(self.exporter.force_flush(timeout_millis))


class BackpressureSpanProcessor(BatchSpanProcessor):  # type: ignore[misc,unused-ignore]
    """``BatchSpanProcessor`` (same arguments, same ``OTEL_BSP_*`` variables) that cannot be starved.

    Backpressure needs the SDK's batch processor internals (its queue and export lock); on an SDK laid
    out differently it is off and this is a plain ``BatchSpanProcessor``.
    """

    def __init__(self, exporter: SpanExporter, **kwargs: Any) -> None:
        self._health = _Health(exporter)
        super().__init__(self._health, **kwargs)
        self.caller_exports = 0  # batches exported on the thread that ended a span
        self._last_yield = 0.0
        self._paused_until = 0.0
        processor = getattr(self, "_batch_processor", None)
        queue = getattr(processor, "_queue", None)
        lock = getattr(processor, "_export_lock", None)
        batch = getattr(processor, "_max_export_batch_size", None)
        size = getattr(processor, "_max_queue_size", None)
        self._enabled = (
            all(x is not None for x in (queue, lock, batch, size))
            and hasattr(processor, "_metrics")
            and hasattr(processor, "_shutdown")
        )
        if self._enabled:
            assert processor is not None and batch is not None and size is not None
            self._processor = processor
            self._batch = batch
            # Below it the export thread keeps up; above it, a batch is always waiting.
            self.high_water = min(size, max(2 * batch, size // 4))

    def on_end(self, span: ReadableSpan) -> None:
        super().on_end(span)
        if (
            self._enabled
            and len(self._processor._queue) >= self.high_water
            and not self._health.failing
            and time.monotonic() >= self._paused_until
        ):
            try:
                self._relieve()
            except Exception:  # never into the user's call
                _log.debug("otel-genai: exporting on the calling thread failed", exc_info=True)

    def _relieve(self) -> None:
        processor = self._processor
        lock: threading.Lock = processor._export_lock
        if lock.acquire(blocking=False):
            try:
                queue = processor._queue
                if len(queue) < self.high_water or processor._shutdown:
                    return
                count = min(self._batch, len(queue))
                batch = [queue.pop() for _ in range(count)]  # oldest first, as the SDK's worker pops
                processor._metrics.finish_items(count)
                self.caller_exports += 1
                if self.caller_exports == 1:
                    _log.debug("otel-genai: span export thread starved; exporting on the calling thread")
                token = attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
                started = time.monotonic()
                try:
                    self._health.export(batch)
                finally:
                    detach(token)
                    if time.monotonic() - started > _SLOW_S:
                        self._paused_until = time.monotonic() + _PAUSE_S
            finally:
                lock.release()
            return
        now = time.monotonic()
        if now - self._last_yield >= _YIELD_EVERY_S:  # the export thread is mid-export: let it run
            self._last_yield = now
            if lock.acquire(timeout=_YIELD_S):
                lock.release()


__all__ = ["BackpressureSpanProcessor"]
