"""The span processor init() builds: when its export thread cannot run, the thread ending spans exports.

A starved export thread is played by one that is never woken (its wake-up event replaced) and whose
timer never fires; the real GIL-starvation case is benchmarks/ row 6.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_genai.export.span_processor import BackpressureSpanProcessor


class _NeverSet(threading.Event):
    def set(self) -> None:  # the export thread sleeps on: it is "starved"
        pass


class _Recording(SpanExporter):
    def __init__(self, result: SpanExportResult = SpanExportResult.SUCCESS, delay: float = 0.0) -> None:
        self.result = result
        self.delay = delay
        self.batches: list[tuple[int, str]] = []  # (size, exporting thread's name)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.batches.append((len(spans), threading.current_thread().name))
        time.sleep(self.delay)
        return self.result


def _starved(exporter: SpanExporter) -> tuple[TracerProvider, BackpressureSpanProcessor]:
    processor = BackpressureSpanProcessor(
        exporter, max_queue_size=64, max_export_batch_size=8, schedule_delay_millis=3_600_000
    )
    batch_processor = processor._batch_processor  # type: ignore[attr-defined]
    awake = batch_processor._worker_awaken  # the event the export thread waits on
    batch_processor._worker_awaken = _NeverSet()
    provider = TracerProvider()
    shutdown = provider.shutdown

    def unstarve_and_shut_down() -> None:  # the exit flush, once the export thread can run again
        batch_processor._worker_awaken = awake
        shutdown()

    provider.shutdown = unstarve_and_shut_down  # type: ignore[method-assign]
    provider.add_span_processor(processor)
    return provider, processor


def _end_spans(provider: TracerProvider, n: int) -> None:
    tracer = provider.get_tracer("t")
    for i in range(n):
        tracer.start_span(f"s{i}").end()


def test_a_starved_export_thread_loses_nothing() -> None:
    exporter = InMemorySpanExporter()
    provider, processor = _starved(exporter)
    assert processor.high_water == 16  # max(2 batches, a quarter of the queue)
    _end_spans(provider, 500)  # the queue holds 64: without backpressure most would be dropped
    assert processor.caller_exports >= (500 - 16) // 8
    queued = len(processor._batch_processor._queue)  # type: ignore[attr-defined]
    assert queued < processor.high_water
    provider.shutdown()  # the exit flush exports the rest
    names = [s.name for s in exporter.get_finished_spans()]
    assert sorted(names) == sorted(f"s{i}" for i in range(500))
    assert names[:8] == [f"s{i}" for i in range(8)]  # oldest first, as the SDK's worker exports


def test_caller_side_exports_are_counted_and_run_on_the_calling_thread() -> None:
    exporter = _Recording()
    provider, processor = _starved(exporter)
    _end_spans(provider, 40)
    assert processor.caller_exports == len(exporter.batches) > 0
    assert {name for _, name in exporter.batches} == {threading.current_thread().name}
    assert {size for size, _ in exporter.batches} == {8}
    provider.shutdown()


def test_a_failing_backend_never_makes_user_calls_export() -> None:
    exporter = _Recording(SpanExportResult.FAILURE)
    provider, processor = _starved(exporter)
    _end_spans(provider, 200)
    assert processor.caller_exports == 1  # the first one failed; from then on the SDK's behaviour: drop
    provider.shutdown()


def test_a_slow_backend_never_makes_user_calls_wait_again() -> None:
    exporter = _Recording(delay=0.3)
    provider, processor = _starved(exporter)
    _end_spans(provider, 200)
    assert processor.caller_exports == 1  # that one took 0.3 s: no more on the caller's thread
    provider.shutdown()


def test_below_the_high_water_mark_the_export_thread_does_the_work() -> None:
    exporter = _Recording()
    processor = BackpressureSpanProcessor(exporter, max_queue_size=64, max_export_batch_size=8)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    _end_spans(provider, 10)
    provider.force_flush()
    assert processor.caller_exports == 0
    assert sum(size for size, _ in exporter.batches) == 10
    provider.shutdown()
