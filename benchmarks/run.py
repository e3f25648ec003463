"""Overhead benchmarks for otel-genai: what instrumenting the openai client costs, with telemetry exported.

Usage: ``python benchmarks/run.py [--quick] [--json PATH] [--only GROUPS] [--check] [--profile]``.
benchmarks/README.md explains every row and its target. Each group of rows runs in its own subprocess of
this script, so one group never pollutes the next. A loopback OTLP receiver (tests/otlp_receiver.py) runs
in this parent process: the benchmarked process pays for encoding and sending telemetry, not decoding it.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import gc
import itertools
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RECORDINGS = ROOT / "tests" / "recordings" / "openai"
RESULT_PREFIX = "BENCH-RESULT "
STREAM_CHUNKS = 200  # content chunks per benchmark stream (plus a finish chunk and a usage chunk)
DROP_WARNING = "spans were not delivered"
SDK_DROP_WARNING = "Queue full, dropping"

# name -> settings; "quick" must stay under ~30 s and "full" under ~3 min on a 2-core machine.
PRESETS: dict[str, dict[str, Any]] = {
    "full": {
        "chat_rounds": 192,  # rows 1 and 3a: rounds of one plain and one instrumented block
        "calls_per_block": 25,  # short blocks, many rounds: drift on the machine cancels in each pair
        "stream_rounds": 150,  # rows 2 and 3b: streams are long, so one stream per block, many rounds
        "streams_per_block": 1,
        "metric_interval_ms": 1000,
        "import_runs": 7,
        "memory_warmup": 1000,
        "memory_calls": 20_000,
        "memory_step": 1000,  # RSS is sampled every this many calls
        "delivery_calls": 20_000,
        "profile_calls": 2000,
        "profile_streams": 40,
        "cost_runs": 5,  # row 7: fresh interpreters
        "cost_calls": 20_000,
        "peer_pairs": 2,  # row 9: (otel-genai, openai-v2) worker pairs, alternating
        "peer_rounds": 128,
    },
    "quick": {
        "chat_rounds": 24,
        "calls_per_block": 25,
        "stream_rounds": 16,
        "streams_per_block": 1,
        "metric_interval_ms": 1000,
        "import_runs": 2,
        "memory_warmup": 300,
        "memory_calls": 2000,
        "memory_step": 250,
        "delivery_calls": 2000,
        "profile_calls": 300,
        "profile_streams": 8,
        "cost_runs": 2,
        "cost_calls": 2000,
        "peer_pairs": 1,
        "peer_rounds": 24,
    },
}
GROUPS = ("calls", "import", "memory", "delivery", "cost", "peer")
PEER = "opentelemetry-instrumentation-openai-v2"  # row 9: the official instrumentation, in its own venv
PEER_VENV = Path(tempfile.gettempdir()) / "otel-genai-bench-openai-v2"  # created once, then reused
# The per-call workers export spans only when they flush (or a batch fills), so export CPU is attributed
# to the block whose spans it exports. The default 5 s timer would export in whichever block runs then.
NO_SPAN_TIMER = {"OTEL_BSP_SCHEDULE_DELAY": "3600000"}
BATCH_SIZE = 512  # BatchSpanProcessor's default max_export_batch_size: blocks stay below it
FLUSH_EVERY = 400  # instrumented calls between the (timed) flushes of rows 1-3 and 9, below BATCH_SIZE
NO_METRIC_TIMER_MS = 3_600_000  # rows 1-3 and 9 flush metrics with the spans, never on a timer
INSTRUMENTATION_CODE = ("otel_genai", "opentelemetry", "wrapt", "google/protobuf", "requests", "urllib3")


# --- payloads and clients (used in the worker processes) ------------------------------------------


def _recording(name: str) -> dict[str, Any]:
    interaction: dict[str, Any] = json.loads((RECORDINGS / name).read_text())["interactions"][0]
    return interaction


def chat_payload() -> tuple[dict[str, Any], bytes]:
    """The recorded request body and the recorded response, as the server sent it."""
    interaction = _recording("chat_basic_gpt4o_mini.json")
    return interaction["request"]["json"], json.dumps(interaction["response"]["json"]).encode()


def stream_payload() -> tuple[dict[str, Any], bytes]:
    """The recorded include_usage stream request, and an SSE body of ``STREAM_CHUNKS`` content chunks.

    Chunk shapes are the recorded ones: the role chunk, content chunks (cycling the recorded words), the
    finish chunk, the usage chunk with empty choices, and ``data: [DONE]``.
    """
    interaction = _recording("chat_stream_include_usage_gpt4.json")
    events = [
        e[len("data: ") :] for e in interaction["response"]["text"].split("\n\n") if e.startswith("data: ")
    ]
    recorded = [json.loads(e) for e in events if e != "[DONE]"]
    with_text = [c for c in recorded if c["choices"] and c["choices"][0]["delta"].get("content")]
    words = [c["choices"][0]["delta"]["content"] for c in with_text]
    finish = next(c for c in recorded if c["choices"] and c["choices"][0]["finish_reason"])
    usage = next(c for c in recorded if not c["choices"] and c.get("usage"))
    chunks = []
    for i in range(STREAM_CHUNKS):
        chunk = copy.deepcopy(recorded[0] if i == 0 else with_text[0])  # the first one carries the role
        chunk["choices"][0]["delta"]["content"] = words[i % len(words)]
        chunks.append(chunk)
    chunks += [finish, usage]
    text = "".join(f"data: {json.dumps(c, separators=(',', ':'))}\n\n" for c in chunks) + "data: [DONE]\n\n"
    return interaction["request"]["json"], text.encode()


def http_module() -> Any:
    """openai 3.x ships on ``httpx2``; openai 1.x on ``httpx``. Both have ``Client`` and ``MockTransport``."""
    import openai

    if hasattr(openai, "_httpx2"):
        import httpx2

        return httpx2
    import httpx

    return httpx


def make_clients(is_async: bool) -> tuple[Any, Any]:
    """Two clients on in-process transports: one answers the chat completion, one the 200-chunk stream."""
    import openai

    http = http_module()
    _, chat_body = chat_payload()
    _, sse_body = stream_payload()

    def client(content_type: str, body: bytes) -> Any:
        def handler(request: Any) -> Any:
            return http.Response(200, headers={"content-type": content_type}, content=body)

        transport = http.MockTransport(handler)
        common = {"base_url": "http://bench.local/v1", "api_key": "k", "max_retries": 0}
        if is_async:
            return openai.AsyncOpenAI(http_client=http.AsyncClient(transport=transport), **common)
        return openai.OpenAI(http_client=http.Client(transport=transport), **common)

    return client("application/json", chat_body), client("text/event-stream; charset=utf-8", sse_body)


class Workload:
    """Blocks of ``n`` calls: sync or async, non-streaming or fully consumed 200-chunk streams."""

    def __init__(self) -> None:
        self.chat_request, _ = chat_payload()
        self.stream_request, _ = stream_payload()
        self.sync_chat, self.sync_stream = make_clients(is_async=False)
        self.async_chat, self.async_stream = make_clients(is_async=True)
        self.loop = asyncio.new_event_loop()

    def close(self) -> None:
        """Finalise openai's async generators while the loop still runs (no warnings at exit)."""
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()

    def sync_calls(self, n: int) -> None:
        create, body = self.sync_chat.chat.completions.create, self.chat_request
        for _ in range(n):
            create(**body)

    def sync_streams(self, n: int) -> None:
        create, body = self.sync_stream.chat.completions.create, self.stream_request
        for _ in range(n):
            for _chunk in create(**body):
                pass

    def async_calls(self, n: int) -> None:
        async def run() -> None:
            create, body = self.async_chat.chat.completions.create, self.chat_request
            for _ in range(n):
                await create(**body)

        self.loop.run_until_complete(run())

    def async_streams(self, n: int) -> None:
        async def run() -> None:
            create, body = self.async_stream.chat.completions.create, self.stream_request
            for _ in range(n):
                async for _chunk in await create(**body):
                    pass

        self.loop.run_until_complete(run())


# --- instrumentation toggle (worker processes) -----------------------------------------------------


class Toggle:
    """``init()`` once, then switch the OpenAI hook off and on with the same providers and settings."""

    def __init__(self, endpoint: str, metric_interval_ms: int) -> None:
        from opentelemetry import metrics, trace

        import otel_genai
        from otel_genai.instrumentation.openai import OpenAIInstrumentor

        settings = otel_genai.init(
            endpoint=endpoint, metric_export_interval=metric_interval_ms, service_name="otel-genai-bench"
        )
        if settings is None:
            raise RuntimeError("otel_genai.init() did not initialise (OTEL_SDK_DISABLED set?)")
        self.instrumentor = OpenAIInstrumentor()  # the singleton init() instrumented
        self.kwargs = {
            "tracer_provider": trace.get_tracer_provider(),
            "meter_provider": metrics.get_meter_provider(),
            "settings": settings,
            "skip_dep_check": True,
        }
        self.on = True
        self.instrumented_calls = 0  # each makes one span, checked against the receiver
        self._check()

    def flush_spans(self) -> None:
        """Export the spans now; first complete calls held while genai-prices loads (they hold spans)."""
        from otel_genai.sdk import complete_deferred_calls

        complete_deferred_calls(30.0)
        self.kwargs["tracer_provider"].force_flush()

    def flush_all(self) -> None:
        """Export spans, metrics and logs now; first wait for calls held while genai-prices loads."""
        import otel_genai

        otel_genai.force_flush()

    def set(self, on: bool) -> None:
        if on != self.on:
            if on:
                self.instrumentor.instrument(**self.kwargs)
            else:
                self.instrumentor.uninstrument()
            self.on = on
            self._check()

    def _check(self) -> None:
        """Make sure the toggle really (un)patched the client, or the numbers would mean nothing."""
        from openai._base_client import AsyncAPIClient, SyncAPIClient

        for cls in (SyncAPIClient, AsyncAPIClient):
            if hasattr(cls.__dict__["request"], "__wrapped__") != self.on:
                raise RuntimeError(f"{cls.__name__}.request is not {'in' if not self.on else ''}strumented")


def cpu_and_wall_ns() -> tuple[int, int]:
    return time.process_time_ns(), time.perf_counter_ns()


@dataclass
class Series:
    """Per-round µs per call for both conditions, and the export CPU per instrumented call.

    ``*_cpu``: CPU of the whole process (every thread) during the calls; ``*_wall``: their wall clock.
    ``export``: CPU µs per instrumented call of the flushes between rounds (spans sent to the receiver
    every ``FLUSH_EVERY`` instrumented calls, spans, metrics and logs once at the end of the row).
    """

    plain_cpu: list[float] = field(default_factory=list)
    instr_cpu: list[float] = field(default_factory=list)
    plain_wall: list[float] = field(default_factory=list)
    instr_wall: list[float] = field(default_factory=list)
    export: float = 0.0


def measure(toggle: Any, block: Callable[[int], None], n: int, rounds: int, *, stream: bool) -> Series:
    """Interleaved rounds (ABBA order) of ``n`` plain and ``n`` instrumented calls.

    Blocks are short (25 calls, or one stream) and rounds many: the machine's speed drifts over
    hundreds of milliseconds, which then cancels within each pair. The span processor's and the metric
    reader's timers are off; every ``FLUSH_EVERY`` instrumented calls (below the batch size, so no
    span is exported while calls are timed) spans are flushed, and at the end of the row spans, metrics
    and logs, all timed and charged to the instrumented calls. Metrics are exported once a row, not
    every 400 calls: a reader exports once an interval (60 s by default) whatever the call rate, so one
    export per row of a few thousand calls still charges more than a process pays. A full
    ``gc.collect()`` follows each flush (tens of ms here: it would swamp a block), and precedes each
    round of streams. CPU time is the whole process's, exporter threads
    included, and other load on the machine does not inflate it the way it inflates wall time.
    """
    series = Series()
    for on in (False, True):  # warm-up: imports, caches, first connection to the receiver, price table
        toggle.set(on)
        block(max(1, n // 4))
    toggle.instrumented_calls += max(1, n // 4)
    toggle.flush_all()
    gc.collect()
    export_ns, pending = 0, 0
    for r in range(rounds):
        if stream:
            gc.collect()
        for on in (False, True) if r % 2 == 0 else (True, False):
            toggle.set(on)
            cpu0, wall0 = cpu_and_wall_ns()
            block(n)
            cpu1, wall1 = cpu_and_wall_ns()
            label = "instr" if on else "plain"
            getattr(series, f"{label}_cpu").append((cpu1 - cpu0) / n / 1000)
            getattr(series, f"{label}_wall").append((wall1 - wall0) / n / 1000)
        toggle.instrumented_calls += n
        pending += n
        if pending + n > FLUSH_EVERY or r == rounds - 1:
            cpu0 = time.process_time_ns()
            if r == rounds - 1:
                toggle.flush_all()
            else:
                toggle.flush_spans()
            export_ns += time.process_time_ns() - cpu0
            pending = 0
            if not stream:
                gc.collect()
    series.export = export_ns / (rounds * n) / 1000
    return series


def worker_calls(endpoint: str, p: dict[str, Any]) -> dict[str, Any]:
    """Rows 1-3: every per-call measurement in one process."""
    toggle = Toggle(endpoint, NO_METRIC_TIMER_MS)
    work = Workload()
    rounds, n = p["chat_rounds"], p["calls_per_block"]
    stream_rounds, s = p["stream_rounds"], p["streams_per_block"]
    if n > FLUSH_EVERY or s > FLUSH_EVERY:
        raise ValueError("blocks must stay below the span batch size, or spans export while calls are timed")
    results = {
        "sync_chat": measure(toggle, work.sync_calls, n, rounds, stream=False),
        "sync_stream": measure(toggle, work.sync_streams, s, stream_rounds, stream=True),
        "async_chat": measure(toggle, work.async_calls, n, rounds, stream=False),
        "async_stream": measure(toggle, work.async_streams, s, stream_rounds, stream=True),
    }
    toggle.set(True)
    work.close()
    import otel_genai

    otel_genai.shutdown()
    return {"series": {k: asdict(v) for k, v in results.items()}, "spans_expected": toggle.instrumented_calls}


def worker_chat(endpoint: str, p: dict[str, Any]) -> dict[str, Any]:
    """Row 9, our side: sync non-streaming calls only, as row 1, with the peer's round count."""
    toggle = Toggle(endpoint, NO_METRIC_TIMER_MS)
    series = measure(toggle, Workload().sync_calls, p["calls_per_block"], p["peer_rounds"], stream=False)
    import otel_genai

    otel_genai.shutdown()
    return {"series": asdict(series), "spans_expected": toggle.instrumented_calls}


class PeerToggle:
    """The official openai-v2 instrumentation on SDK providers exporting OTLP/HTTP (its documented set-up).

    Runs in the peer's own virtualenv, where otel_genai is not installed; same interface as ``Toggle``.
    """

    def __init__(self, endpoint: str, metric_interval_ms: int) -> None:
        from opentelemetry import metrics, trace
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        resource = Resource.create({"service.name": "openai-v2-bench"})
        tracer_provider = TracerProvider(resource=resource)
        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(f"{endpoint}/v1/traces")))
        reader = PeriodicExportingMetricReader(
            OTLPMetricExporter(f"{endpoint}/v1/metrics"), export_interval_millis=metric_interval_ms
        )
        meter_provider = MeterProvider(metric_readers=[reader], resource=resource)
        trace.set_tracer_provider(tracer_provider)
        metrics.set_meter_provider(meter_provider)
        self.providers = (tracer_provider, meter_provider)
        from openai.resources.chat.completions import Completions

        self.unpatched = Completions.__dict__["create"]
        self.instrumentor = OpenAIInstrumentor()
        self.kwargs = {"tracer_provider": tracer_provider, "meter_provider": meter_provider}
        self.kwargs["skip_dep_check"] = True
        self.instrumentor.instrument(**self.kwargs)
        self.on = True
        self.instrumented_calls = 0
        self.flush_spans = tracer_provider.force_flush
        self._check()

    def flush_all(self) -> None:
        for provider in self.providers:
            provider.force_flush()

    def set(self, on: bool) -> None:
        if on != self.on:
            if on:
                self.instrumentor.instrument(**self.kwargs)
            else:
                self.instrumentor.uninstrument()
            self.on = on
            self._check()

    def _check(self) -> None:
        from openai.resources.chat.completions import Completions

        # openai's own decorators set __wrapped__ too: compare with the unpatched function instead
        if (Completions.__dict__["create"] is not self.unpatched) != self.on:
            raise RuntimeError(f"Completions.create is not {'in' if not self.on else ''}strumented")


def worker_peer(endpoint: str, p: dict[str, Any]) -> dict[str, Any]:
    """Row 9, the peer's side: the same measurement with the official instrumentation."""
    from importlib.metadata import version

    toggle = PeerToggle(endpoint, NO_METRIC_TIMER_MS)
    series = measure(toggle, Workload().sync_calls, p["calls_per_block"], p["peer_rounds"], stream=False)
    for provider in toggle.providers:
        provider.shutdown()
    return {
        "series": asdict(series),
        "spans_expected": toggle.instrumented_calls,
        "version": version(PEER),
        "openai": version("openai"),
    }


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def worker_memory(endpoint: str, p: dict[str, Any]) -> dict[str, Any]:
    """Row 5: RSS over many instrumented calls, after a warm-up.

    Sampled every ``memory_step`` calls after a flush (an empty span queue) and ``gc.collect()``: one
    before/after pair is at the mercy of the allocator, which keeps freed arenas for a while.
    """
    import otel_genai

    otel_genai.init(endpoint=endpoint, metric_export_interval=p["metric_interval_ms"])
    work = Workload()
    work.sync_calls(p["memory_warmup"])
    samples: list[tuple[int, int]] = []
    done = 0
    while True:
        otel_genai.force_flush()
        gc.collect()
        samples.append((done, rss_kib()))
        if done >= p["memory_calls"]:
            break
        work.sync_calls(p["memory_step"])
        done += p["memory_step"]
    return {"samples": samples, "calls": done}


def worker_delivery(endpoint: str, p: dict[str, Any]) -> dict[str, Any]:
    """Row 6: back-to-back calls, then a normal interpreter exit; ``init()``'s exit hook must deliver.

    The OTLP span exporter's ``export`` is timed (a thin class-level wrapper), so a loss can be traced to
    exports that stalled or never started while the calls ran (the exporter thread starved of the GIL).
    """
    import threading

    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    import otel_genai

    try:  # the exporter init() installs (a subclass of the SDK's); older checkouts use the SDK's own
        from otel_genai.export.span_exporter import FastOTLPSpanExporter as exporter_class
    except ImportError:
        exporter_class = OTLPSpanExporter
    started: list[float] = []  # export start times, appended on entry so a hung export shows too
    durations: list[float] = []
    on_caller: list[bool] = []  # per export: did it run on the thread making the calls?
    caller = threading.current_thread()
    export = exporter_class.export

    def timed_export(self: Any, spans: Any) -> Any:
        start = time.perf_counter()
        started.append(start)
        on_caller.append(threading.current_thread() is caller)
        try:
            return export(self, spans)
        finally:
            durations.append(time.perf_counter() - start)

    exporter_class.export = timed_export  # type: ignore[method-assign]
    otel_genai.init(endpoint=endpoint)  # defaults: batch span processor, 60 s metric interval
    work = Workload()
    start = time.perf_counter()
    work.sync_calls(p["delivery_calls"])
    end = time.perf_counter()
    during = [t for t in started if t < end]
    processors = getattr(
        getattr(trace.get_tracer_provider(), "_active_span_processor", None), "_span_processors", ()
    )
    return {
        "calls": p["delivery_calls"],
        "seconds": end - start,
        "done_at": time.time(),
        "caller_exports": sum(on_caller[: len(during)]),
        "caller_exports_counted": sum(getattr(proc, "caller_exports", 0) for proc in processors),
        "exports_during_calls": len(during),
        "longest_export_s": max(durations, default=None),  # of those finished by now
        "longest_gap_without_export_s": max(b - a for a, b in itertools.pairwise([start, *during, end])),
    }


def _print_profile(title: str, profiler: Any, n: int, unit: str) -> None:
    import io
    import pstats
    import sysconfig

    prefixes = [sysconfig.get_paths()["purelib"] + os.sep, str(ROOT / "src") + os.sep, sys.prefix + os.sep]
    stats = pstats.Stats(profiler)
    total = stats.total_tt  # type: ignore[attr-defined]
    ours = sum(
        tt
        for (filename, _, _), (_, _, tt, _, _) in stats.stats.items()  # type: ignore[attr-defined]
        if any(part in filename for part in INSTRUMENTATION_CODE)
    )
    print(f"\n=== {title}: {n} {unit}s, {total / n * 1e6:.0f} µs/{unit} under the profiler ===")
    print(f"own time in {'/'.join(INSTRUMENTATION_CODE)} code: {ours / total:.1%} of {total:.3f} s")
    for heading, restrictions in (
        ("top 25 by tottime", (25,)),
        ("top 25 by tottime, telemetry-side code only", ("|".join(INSTRUMENTATION_CODE), 25)),
    ):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(*restrictions)
        text = out.getvalue()
        for prefix in prefixes:
            text = text.replace(prefix, "")
        print(f"--- {heading} ---\n{text[text.find('   ncalls') :].rstrip()}")


def worker_profile(endpoint: str, p: dict[str, Any]) -> dict[str, Any]:
    """--profile: cProfile of the instrumented loops (calling thread only), then of one span export."""
    import cProfile

    toggle = Toggle(endpoint, p["metric_interval_ms"])
    work = Workload()
    for title, block, n, unit in (
        ("instrumented non-streaming sync calls", work.sync_calls, p["profile_calls"], "call"),
        ("instrumented 200-chunk sync streams", work.sync_streams, p["profile_streams"], "stream"),
    ):
        block(max(1, n // 10))  # warm-up
        toggle.flush_all()
        profiler = cProfile.Profile()
        for start in range(0, n, 400):  # below the batch size: no export competes with the profiled calls
            profiler.enable()
            block(min(400, n - start))
            profiler.disable()
            toggle.flush_spans()
        _print_profile(title, profiler, n, unit)
    # With the span timer off and fewer spans than a batch queued, force_flush() exports on this thread.
    spans = 400
    work.sync_calls(spans)
    profiler = cProfile.Profile()
    profiler.enable()
    toggle.flush_spans()
    profiler.disable()
    _print_profile(f"OTLP export of {spans} chat spans (force_flush)", profiler, spans, "span")
    return {}


def worker_cost(endpoint: str, p: dict[str, Any]) -> dict[str, Any]:
    """Row 7: genai-prices' import (never at init()), and what pricing adds to a call once resolved."""
    import otel_genai

    otel_genai.init(endpoint=endpoint, metric_export_interval=60_000)
    imported_by_init = "genai_prices" in sys.modules
    cpu, wall = time.process_time(), time.perf_counter()
    from otel_genai.core import pricing

    pricing.LIBRARY.load()  # what the background thread does once: import + bundled snapshot
    import_cpu_ms, import_wall_ms = (time.process_time() - cpu) * 1000, (time.perf_counter() - wall) * 1000

    import genai_prices

    from otel_genai import semconv as sc
    from otel_genai.config import Settings
    from otel_genai.core.invocation import Invocation
    from otel_genai.core.recorder import Recorder

    pipeline = otel_genai._pipeline
    recorder = Recorder(Settings.resolve({"endpoint": endpoint}), meter_provider=pipeline.meter_provider)
    inv = Invocation("chat", "openai", "gpt-4o-mini", server_address="api.openai.com", server_port=443)
    inv.response_model = "gpt-4o-mini-2024-07-18"
    inv.input_tokens, inv.output_tokens, inv.cache_read_tokens, inv.reasoning_tokens = 1200, 300, 1024, 0
    metric_attributes = {
        sc.OPERATION_NAME: "chat",
        sc.PROVIDER_NAME: "openai",
        sc.REQUEST_MODEL: inv.request_model,
    }

    def priced_call() -> None:  # the recorder's pricing work for one finished call
        quote = recorder._quote(inv)
        cost = quote.cost(inv)
        attributes = {sc.USAGE_COST: cost[0], sc.USAGE_CACHE_SAVINGS: cost[1]}
        recorder._cost.add(cost[0], metric_attributes)
        recorder._cost_savings.add(cost[1], metric_attributes)
        del attributes

    start = time.perf_counter_ns()
    priced_call()  # the first call for the model resolves its quote
    first_us = (time.perf_counter_ns() - start) / 1000
    n = p["cost_calls"]
    rounds = []
    for _ in range(7):
        start = time.perf_counter_ns()
        for _ in range(n):
            priced_call()
        rounds.append((time.perf_counter_ns() - start) / n / 1000)
    usage = genai_prices.Usage(input_tokens=1200, output_tokens=300, cache_read_tokens=1024)
    start = time.perf_counter_ns()
    for _ in range(200):
        genai_prices.calc_price(usage, "gpt-4o-mini-2024-07-18", provider_id="openai")
    calc_us = (time.perf_counter_ns() - start) / 200 / 1000
    otel_genai.shutdown()
    return {
        "imported_by_init": imported_by_init,
        "import_cpu_ms": import_cpu_ms,
        "import_wall_ms": import_wall_ms,
        "first_call_us": first_us,
        "per_call_us_rounds": rounds,
        "calc_price_us": calc_us,
    }


DECOMPOSITION = (
    ("as shipped", "full"),
    ("spans ended but never queued or exported", "no-queue"),
    ("no SDK span at all (a non-recording span)", "no-span"),
)


def worker_decompose(endpoint: str, p: dict[str, Any]) -> dict[str, Any]:
    """--decompose: row 1 with parts of the span pipeline switched off, to show what each one costs.

    A measuring aid only (it patches otel-genai's own classes in this worker): ``no-queue`` drops spans at
    ``on_end``, ``no-span`` makes the recorder's span a non-recording one, so nothing is set on it.
    """
    from opentelemetry import trace

    from otel_genai.core import fastspan
    from otel_genai.export.span_processor import BackpressureSpanProcessor
    from otel_genai.sdk import DeliveryCounter

    variant = p["variant"]
    if variant == "no-queue":
        BackpressureSpanProcessor.on_end = DeliveryCounter.on_end = lambda self, span: None  # type: ignore[method-assign]
    elif variant == "no-span":

        def start(self: Any, name: str, context: Any, attributes: dict[str, Any]) -> Any:
            return trace.NonRecordingSpan(trace.get_current_span(context).get_span_context())

        fastspan.SpanStarter.start = start  # type: ignore[method-assign]
    toggle = Toggle(endpoint, NO_METRIC_TIMER_MS)
    if variant == "no-span" and toggle.kwargs["tracer_provider"]._otel_genai_fast_spans is not True:
        raise RuntimeError("init() did not build its own TracerProvider: nothing to decompose")
    series = measure(toggle, Workload().sync_calls, p["calls_per_block"], p["chat_rounds"], stream=False)
    import otel_genai

    otel_genai.shutdown()
    return {"series": asdict(series)}


def decompose(preset: dict[str, Any]) -> None:
    """Print row 1's added CPU for each variant of ``DECOMPOSITION``, run twice in alternation."""
    results: dict[str, list[tuple[float, float, float, float]]] = {v: [] for _, v in DECOMPOSITION}
    with start_receiver() as receiver:
        for _ in range(2):
            for _, variant in DECOMPOSITION:
                result, _ = run_worker(
                    "decompose", receiver.endpoint, {**preset, "variant": variant}, env=NO_SPAN_TIMER
                )
                plain = statistics.median(result["series"]["plain_cpu"])
                results[variant].append((*per_call(result["series"]), plain))
    # The machine's speed can shift between workers: the share of the plain call compares them better.
    print(
        "sync chat, added CPU per call (hook + export; 95% CI of the hook's median; share of the plain call):"
    )
    for label, variant in DECOMPOSITION:
        runs = ", ".join(
            f"{a:.0f} ({lo:.0f}..{hi:.0f}; {100 * a / plain:.0f} %)" for a, lo, hi, plain in results[variant]
        )
        print(f"  {variant:9} {runs} µs  {label}")


WORKERS: dict[str, Callable[[str, dict[str, Any]], dict[str, Any]]] = {
    "decompose": worker_decompose,
    "cost": worker_cost,
    "calls": worker_calls,
    "memory": worker_memory,
    "delivery": worker_delivery,
    "profile": worker_profile,
    "chat": worker_chat,
    "peer": worker_peer,
}


# --- parent: receiver, subprocesses, table ---------------------------------------------------------


def clean_env() -> dict[str, str]:
    """Workers see no OTEL_*/OPENAI_* variables from the caller's shell."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_"))}


def run_worker(
    name: str,
    endpoint: str,
    preset: dict[str, Any],
    *,
    capture: bool = True,
    env: dict[str, str] | None = None,
    python: str = sys.executable,
) -> tuple[Any, str]:
    """Run one worker subprocess; returns (its result dict, its stderr)."""
    cmd = [python, str(Path(__file__).resolve()), "--worker", name, "--endpoint", endpoint]
    cmd += ["--params", json.dumps(preset)]
    proc = subprocess.run(
        cmd,
        env={**clean_env(), **(env or {})},
        text=True,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.PIPE,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"worker {name} failed ({proc.returncode}):\n{proc.stderr}")
    if not capture:
        return {}, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    return json.loads(lines[-1][len(RESULT_PREFIX) :]), proc.stderr


def start_receiver() -> Any:
    sys.path.insert(0, str(ROOT / "tests"))
    from otlp_receiver import OtlpReceiver

    return OtlpReceiver().start()


def settled_span_count(receiver: Any, quiet_s: float = 0.5, timeout_s: float = 10.0) -> int:
    """Span count once nothing new has arrived for ``quiet_s`` (exports are asynchronous)."""
    deadline = time.monotonic() + timeout_s
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        count = len(receiver.spans())
        if count != last:
            last, since = count, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            break
        time.sleep(0.05)
    return last


@dataclass
class Row:
    id: str
    name: str
    value: float
    unit: str
    target: float | None  # None: reported for information
    op: str  # "<=", "<" or ">="
    detail: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool | None:
        if self.target is None:
            return None
        return {
            "<=": self.value <= self.target,
            "<": self.value < self.target,
            ">=": self.value >= self.target,
        }[self.op]


def paired(a: list[float], b: list[float]) -> tuple[float, float, float]:
    """Median and interquartile range of the per-round differences ``b - a``."""
    diffs = [y - x for x, y in zip(a, b, strict=True)]
    q = statistics.quantiles(diffs, n=4) if len(diffs) > 1 else [diffs[0]] * 3
    return statistics.median(diffs), q[0], q[2]


def median_ci(a: list[float], b: list[float], resamples: int = 2000) -> tuple[float, float]:
    """95 % bootstrap interval of the median per-round difference: the error bar of the row's value."""
    diffs = [y - x for x, y in zip(a, b, strict=True)]
    rng = random.Random(0)
    medians = sorted(statistics.median(rng.choices(diffs, k=len(diffs))) for _ in range(resamples))
    return medians[int(0.025 * resamples)], medians[int(0.975 * resamples) - 1]


def call_rows(preset: dict[str, Any]) -> tuple[list[Row], str]:
    with start_receiver() as receiver:
        result, _ = run_worker("calls", receiver.endpoint, preset, env=NO_SPAN_TIMER)
        received = settled_span_count(receiver)
    expected = result["spans_expected"]
    note = f"spans received by the OTLP receiver during rows 1-3: {received} of {expected} instrumented calls"
    rows = []
    specs = (
        ("1", "sync chat, non-streaming", "sync_chat", 1, "µs/call", 100.0),
        ("2", "sync 200-chunk stream, consumed", "sync_stream", STREAM_CHUNKS, "µs/chunk", 2.5),
        ("3a", "async chat, non-streaming", "async_chat", 1, "µs/call", 100.0),
        ("3b", "async 200-chunk stream, consumed", "async_stream", STREAM_CHUNKS, "µs/chunk", 2.5),
    )
    for row_id, name, key, per, unit, target in specs:
        s = result["series"][key]
        hook, q1, q3 = paired(s["plain_cpu"], s["instr_cpu"])
        lo, hi = median_ci(s["plain_cpu"], s["instr_cpu"])
        wall = paired(s["plain_wall"], s["instr_wall"])[0]
        export = s["export"]
        base = "call" if per == 1 else "stream"
        detail = (
            f"hook +{hook:.0f} µs/{base} CPU (95% CI {lo:.0f}..{hi:.0f}, IQR {q1:.0f}..{q3:.0f}, "
            f"wall +{wall:.0f}) + export {export:.0f} µs/span; "
            f"plain {statistics.median(s['plain_cpu']):.0f} µs/{base}"
        )
        rows.append(Row(row_id, f"{name}: added CPU", (hook + export) / per, unit, target, "<=", detail, s))
    return rows, note


def import_rows(preset: dict[str, Any]) -> list[Row]:
    """Fresh interpreters, interleaved: ``import openai`` vs ``import openai, otel_genai; init()``.

    Each interpreter reports the CPU and wall time of its own statements, so start-up cancels out.
    """
    with start_receiver() as receiver, tempfile.TemporaryDirectory() as bytecode:
        # Bytecode is cached as an installed package has it (the discarded first run writes it), even
        # when the shell sets PYTHONDONTWRITEBYTECODE; the prefix keeps the caches out of the checkout.
        env = {k: v for k, v in clean_env().items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = bytecode
        timed = (
            "import time; c, w = time.process_time(), time.perf_counter(); {}; "
            "print(time.process_time() - c, time.perf_counter() - w)"
        )
        codes = {
            "openai": timed.format("import openai"),
            "openai+init": timed.format(
                f"import openai, otel_genai; otel_genai.init(endpoint={receiver.endpoint!r})"
            ),
            "otel_genai": timed.format("import otel_genai"),
        }
        cpu: dict[str, list[float]] = {k: [] for k in codes}
        wall: dict[str, list[float]] = {k: [] for k in codes}
        process: dict[str, list[float]] = {k: [] for k in codes}
        for i in range(preset["import_runs"] + 1):  # the first run compiles bytecode and is discarded
            for key, code in codes.items():
                start = time.perf_counter()
                out = subprocess.run(
                    [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
                )
                if i:
                    process[key].append((time.perf_counter() - start) * 1000)
                    cpu_s, wall_s = out.stdout.split()[-2:]
                    cpu[key].append(float(cpu_s) * 1000)
                    wall[key].append(float(wall_s) * 1000)
    data = {"cpu_ms": cpu, "wall_ms": wall, "process_wall_ms": process}
    added = {name: paired(series["openai"], series["openai+init"])[0] for name, series in data.items()}
    alone_cpu, alone_wall = statistics.median(cpu["otel_genai"]), statistics.median(wall["otel_genai"])
    openai_cpu = statistics.median(cpu["openai"])
    return [
        Row(
            "4",
            "import otel_genai + init() above import openai",
            added["cpu_ms"],
            "ms",
            100.0,  # issue 13
            "<=",
            f"CPU; wall +{added['wall_ms']:.0f} ms; whole process incl. exit "
            f"+{added['process_wall_ms']:.0f} ms; import openai alone {openai_cpu:.0f} ms CPU",
            data,
        ),
        Row(
            "4b",
            "import otel_genai alone (fresh interpreter)",
            alone_cpu,
            "ms",
            None,
            "",
            f"CPU, median of {len(cpu['otel_genai'])} runs; wall {alone_wall:.1f} ms",
            {"cpu_ms": cpu["otel_genai"], "wall_ms": wall["otel_genai"]},
        ),
    ]


# Row 5 runs its worker with glibc's malloc on one arena: by default the first large allocation of a
# thread (the export threads) may create an arena of its own, a one-time RSS step of 2-4 MiB somewhere in
# the run, which the trend reads as growth. The default allocator's figure is shown in the detail.
ONE_ARENA = {"MALLOC_ARENA_MAX": "1"}


def _rss_growth(result: dict[str, Any]) -> tuple[float, tuple[int, ...]]:
    """The least-squares trend of the RSS samples over the run's calls, in MiB; and the samples (KiB)."""
    calls, rss = zip(*result["samples"], strict=True)
    slope = statistics.linear_regression(calls, rss).slope  # KiB per call
    return slope * result["calls"] / 1024, rss


def memory_row(preset: dict[str, Any]) -> Row:
    with start_receiver() as receiver:
        result, _ = run_worker("memory", receiver.endpoint, preset, env=ONE_ARENA)
        default, _ = run_worker("memory", receiver.endpoint, preset)
    growth, rss = _rss_growth(result)
    default_growth, default_rss = _rss_growth(default)
    detail = (
        f"least-squares trend of {len(rss)} samples, MALLOC_ARENA_MAX=1; VmRSS {rss[0] / 1024:.1f} -> "
        f"{rss[-1] / 1024:.1f} MiB (end - start {(rss[-1] - rss[0]) / 1024:+.2f}, "
        f"max {max(rss) / 1024:.1f}); "
        f"default allocator {default_growth:.2f} MiB (end - start "
        f"{(default_rss[-1] - default_rss[0]) / 1024:+.2f}, max {max(default_rss) / 1024:.1f})"
    )
    result["default_allocator"] = default
    return Row(
        "5", f"RSS growth, {result['calls']:,} instrumented calls", growth, "MiB", 1.0, "<", detail, result
    )


def delivery_row(preset: dict[str, Any]) -> Row:
    with start_receiver() as receiver:
        result, stderr = run_worker("delivery", receiver.endpoint, preset)
        exited = time.time()
        received = settled_span_count(receiver)
    calls = result["calls"]
    longest = result["longest_export_s"]
    warned = stderr.count(DROP_WARNING)
    sdk_drops = stderr.count(SDK_DROP_WARNING)
    lost = calls - received
    if lost > 0:
        warning = "logged once" if warned == 1 else f"logged {warned}x (expected once)"
    else:
        warning = "not logged (nothing lost)" if warned == 0 else f"logged {warned}x with nothing lost"
    detail = (
        f"{received:,}/{calls:,} spans; {calls / result['seconds']:.0f} calls/s; exit took "
        f"{exited - result['done_at']:.2f} s; drop warning {warning}; SDK queue-full warnings: {sdk_drops}; "
        f"{result['exports_during_calls']} exports started during the calls "
        f"({result.get('caller_exports', 0)} on the calling thread: backpressure), longest finished one "
        f"{'-' if longest is None else f'{longest:.2f}'} s, longest time without an export starting "
        f"{result['longest_gap_without_export_s']:.2f} s"
    )
    data = {**result, "received": received, "drop_warnings": warned, "stderr_tail": stderr[-2000:]}
    return Row(
        "6",
        "spans delivered under load, exit w/o shutdown",
        received / calls * 100,
        "%",
        99.0,
        ">=",
        detail,
        data,
    )


def cost_rows(preset: dict[str, Any]) -> list[Row]:
    with start_receiver() as receiver:
        results = [run_worker("cost", receiver.endpoint, preset)[0] for _ in range(preset["cost_runs"])]
    per_call = [statistics.median(r["per_call_us_rounds"]) for r in results]
    import_cpu = statistics.median(r["import_cpu_ms"] for r in results)
    import_wall = statistics.median(r["import_wall_ms"] for r in results)
    by_init = any(r["imported_by_init"] for r in results)
    return [
        Row(
            "7",
            "genai-prices import + price table (off-thread, once)",
            import_cpu,
            "ms",
            None,
            "",
            f"CPU, median of {len(results)} fresh interpreters; wall {import_wall:.0f} ms; "
            f"imported by import otel_genai + init(): {'YES (defect)' if by_init else 'no'}",
            {"runs": results},
        ),
        Row(
            "7b",
            "pricing work per priced call, after the first",
            statistics.median(per_call),
            "µs",
            5.0,
            "<=",
            f"quote lookup + cost + 2 attributes + 2 counter adds; first call (resolves the model) "
            f"{statistics.median(r['first_call_us'] for r in results):.0f} µs; genai_prices.calc_price "
            f"{statistics.median(r['calc_price_us'] for r in results):.0f} µs per call",
            {"per_call_us": per_call},
        ),
    ]


def peer_python() -> str:
    """The peer's virtualenv (created on first use): the official instrumentation and the same openai."""
    from importlib.metadata import version

    python = PEER_VENV / "bin" / "python"
    wanted = [
        PEER,
        "opentelemetry-sdk",
        "opentelemetry-exporter-otlp-proto-http",
        f"openai=={version('openai')}",
        "httpx",  # openai-v2 imports it; openai 3.x (on httpx2) no longer pulls it in
        "opentelemetry-util-genai==1.1b0",  # openai-v2 2.4b0 imports a module later releases dropped
    ]
    marker = PEER_VENV / "installed.json"
    if not marker.exists() or json.loads(marker.read_text()) != wanted:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(PEER_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *wanted], check=True)
        marker.write_text(json.dumps(wanted))
    return str(python)


def per_call(series: dict[str, Any]) -> tuple[float, float, float]:
    """Added CPU per call, hook + export (as row 1), with the 95 % interval of the hook's median."""
    hook = paired(series["plain_cpu"], series["instr_cpu"])[0]
    lo, hi = median_ci(series["plain_cpu"], series["instr_cpu"])
    export = series["export"]
    return hook + export, lo + export, hi + export


def peer_row(preset: dict[str, Any]) -> Row:
    """Row 9: otel-genai vs the official instrumentation, worker pairs alternating in one run."""
    python = peer_python()
    ours: list[dict[str, Any]] = []
    theirs: list[dict[str, Any]] = []
    with start_receiver() as receiver:
        for _ in range(preset["peer_pairs"]):
            ours.append(run_worker("chat", receiver.endpoint, preset, env=NO_SPAN_TIMER)[0])
            cmd_result = run_worker("peer", receiver.endpoint, preset, env=NO_SPAN_TIMER, python=python)
            theirs.append(cmd_result[0])
        received = settled_span_count(receiver)
    expected = sum(r["spans_expected"] for r in ours + theirs)
    ours_added = [per_call(r["series"]) for r in ours]
    theirs_added = [per_call(r["series"]) for r in theirs]
    ours_value = statistics.median(a for a, _, _ in ours_added)
    theirs_value = statistics.median(a for a, _, _ in theirs_added)

    def spans(values: list[tuple[float, float, float]]) -> str:
        return ", ".join(f"{a:.0f} (95% CI {lo:.0f}..{hi:.0f})" for a, lo, hi in values)

    detail = (
        f"otel-genai +{ours_value:.0f} µs/call [{spans(ours_added)}] vs {PEER} {theirs[0]['version']} "
        f"+{theirs_value:.0f} µs/call [{spans(theirs_added)}]; sync chat, hook + export, "
        f"{len(ours)} alternating worker pairs, openai {theirs[0]['openai']} in both; "
        f"spans received {received} of {expected}"
    )
    return Row(
        "9",
        "added CPU per sync call, share of the official openai-v2",
        ours_value / theirs_value,
        "x",
        0.5,
        "<=",
        detail,
        {"ours": ours, "peer": theirs},
    )


def fmt(value: float) -> str:
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}" if abs(value) < 100 else f"{value:.0f}"


def print_table(rows: list[Row], notes: list[str]) -> None:
    header = ("row", "measurement", "measured", "target", "result", "detail")
    table = [
        (
            r.id,
            r.name,
            f"{fmt(r.value)} {r.unit}",
            f"{r.op} {fmt(r.target)} {r.unit}" if r.target is not None else "-",
            {True: "PASS", False: "FAIL", None: "info"}[r.passed],
            r.detail,
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [header, *table]) for i in range(5)]
    for line in [header, *table]:
        print("  ".join(cell.ljust(w) for cell, w in zip(line[:5], widths, strict=False)) + "  " + line[5])
    for note in notes:
        print(f"note: {note}")


def environment() -> dict[str, str]:
    from importlib.metadata import version

    info = {"python": platform.python_version(), "machine": platform.machine(), "cpus": str(os.cpu_count())}
    for dist in ("openai", "opentelemetry-sdk", "otel-genai"):
        try:
            info[dist] = version(dist)
        except Exception:
            info[dist] = "?"
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smoke run with few iterations (< 30 s)")
    parser.add_argument("--json", metavar="PATH", help="also write the results to PATH as JSON")
    parser.add_argument("--profile", action="store_true", help="only cProfile the instrumented loops")
    parser.add_argument(
        "--decompose", action="store_true", help="only row 1 without span queueing, and without spans"
    )
    parser.add_argument(
        "--only",
        metavar="GROUPS",
        default=",".join(GROUPS),
        help=f"comma-separated subset of {','.join(GROUPS)}",
    )
    parser.add_argument("--check", action="store_true", help="exit with status 1 if any target is missed")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    parser.add_argument("--params", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        result = WORKERS[args.worker](args.endpoint, json.loads(args.params))
        if args.worker != "profile":
            print(RESULT_PREFIX + json.dumps(result), flush=True)
        return 0

    preset = PRESETS["quick" if args.quick else "full"]
    if args.profile:
        with start_receiver() as receiver:
            _, stderr = run_worker("profile", receiver.endpoint, preset, capture=False, env=NO_SPAN_TIMER)
        sys.stderr.write(stderr)
        return 0

    if args.decompose:
        decompose(preset)
        return 0

    groups = [g.strip() for g in args.only.split(",") if g.strip()]
    unknown = sorted(set(groups) - set(GROUPS))
    if unknown:
        parser.error(f"unknown groups: {', '.join(unknown)}")
    started = time.perf_counter()
    rows: list[Row] = []
    notes: list[str] = []
    for group in GROUPS:
        if group not in groups:
            continue
        print(f"running {group} ...", end=" ", file=sys.stderr, flush=True)
        group_started = time.perf_counter()
        if group == "calls":
            call_results, note = call_rows(preset)
            rows += call_results
            notes.append(note)
        elif group == "import":
            rows += import_rows(preset)
        elif group == "memory":
            rows.append(memory_row(preset))
        elif group == "cost":
            rows += cost_rows(preset)
        elif group == "peer":
            try:
                rows.append(peer_row(preset))
            except subprocess.CalledProcessError as error:  # no PyPI (offline): the other rows still count
                notes.append(f"row 9 skipped: could not set up the {PEER} virtualenv ({error})")
        elif group == "delivery":
            rows.append(delivery_row(preset))
        print(f"{time.perf_counter() - group_started:.1f} s", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - started
    env = environment()
    notes.append(
        f"{'quick' if args.quick else 'full'} run in {elapsed:.0f} s; "
        + ", ".join(f"{k} {v}" for k, v in env.items())
    )
    print()
    print_table(rows, notes)
    if args.json:
        payload = {
            "preset": "quick" if args.quick else "full",
            "parameters": preset,
            "environment": env,
            "seconds": elapsed,
            "notes": notes,
            "rows": [{**asdict(r), "passed": r.passed} for r in rows],
        }
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
    return 1 if args.check and any(r.passed is False for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
