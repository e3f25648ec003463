"""Ingest rate of the embedded backend (``otel-genai ui``) while the dashboard polls it.

Usage: ``python benchmarks/local_ingest.py [--seconds 10] [--senders 2] [--batch 512] [--check]``.

The backend runs as its own process (``python -m otel_genai.cli ui``), as a user runs it. This process
plays the instrumented apps: ``--senders`` threads, each on one keep-alive connection, post OTLP/HTTP
protobuf batches of ``--batch`` GenAI chat spans (the attribute set our OpenAI instrumentation emits; the
BatchSpanProcessor's default batch is 512), each span id unique so every span is a real insert. A further
thread plays an open dashboard, fetching the Overview and the trace list once a second, like the page's
live refresh but three times as often. The rate is spans committed to SQLite (counted in the store
afterwards) over the wall time of the sends. Target: at least 5,000 spans/s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

TARGET_SPANS_PER_S = 5000


def _batch(seed: int, size: int) -> bytes:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    for key, value in (("service.name", "bench-app"), ("telemetry.sdk.name", "opentelemetry")):
        kv = resource_spans.resource.attributes.add()
        kv.key, kv.value.string_value = key, value
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "otel_genai"
    now = time.time_ns()
    for i in range(size):
        n = seed * size + i + 1
        span = scope_spans.spans.add()
        span.trace_id, span.span_id = n.to_bytes(16, "big"), n.to_bytes(8, "big")
        span.name, span.kind = "chat gpt-4o-mini", 3
        span.start_time_unix_nano = now - 50_000_000 + i
        span.end_time_unix_nano = now + i
        strings = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
            "gen_ai.response.id": f"chatcmpl-{n}",
            "server.address": "api.openai.com",
            "llm.request.type": "chat",
            "gen_ai.openai.api_base": "https://api.openai.com/v1/",
            "openai.response.system_fingerprint": "fp_0ba0d124f1",
        }
        for key, value in strings.items():
            kv = span.attributes.add()
            kv.key, kv.value.string_value = key, value
        for key, number in (
            ("gen_ai.usage.input_tokens", 12),
            ("gen_ai.usage.output_tokens", 48),
            ("llm.usage.total_tokens", 60),
            ("server.port", 443),
        ):
            kv = span.attributes.add()
            kv.key, kv.value.int_value = key, number
        kv = span.attributes.add()
        kv.key = "gen_ai.response.finish_reasons"
        kv.value.array_value.values.add().string_value = "stop"
        kv = span.attributes.add()
        kv.key, kv.value.double_value = "gen_ai.request.temperature", 0.7
    return request.SerializeToString()


def _start_backend(db: Path) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, "-m", "otel_genai.cli", "ui", "--port", "0", "--db", str(db)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("OTLP/HTTP:"):
            return process, int(line.split()[1].rsplit(":", 1)[1])
    raise RuntimeError("backend did not start")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to send (default 10)")
    parser.add_argument("--senders", type=int, default=2, help="concurrent exporter connections (default 2)")
    parser.add_argument("--batch", type=int, default=512, help="spans per request (default 512)")
    parser.add_argument("--check", action="store_true", help="exit 1 below the target")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        process, port = _start_backend(db)
        try:
            stop = threading.Event()
            seeds = itertools.count()
            lock = threading.Lock()
            sent = [0]
            api_ms: list[float] = []
            failures: list[str] = []

            def send() -> None:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                headers = {"content-type": "application/x-protobuf"}
                while not stop.is_set():
                    with lock:
                        seed = next(seeds)
                    body = _batch(seed, args.batch)  # encoding is the app's cost, as with a real exporter
                    connection.request("POST", "/v1/traces", body=body, headers=headers)
                    response = connection.getresponse()
                    response.read()
                    if response.status != 200:
                        failures.append(str(response.status))
                    with lock:
                        sent[0] += args.batch

            def dashboard() -> None:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                while not stop.wait(1.0):
                    for path in ("/api/overview?range=3600", "/api/traces?range=3600"):
                        start = time.perf_counter()
                        connection.request("GET", path)
                        connection.getresponse().read()
                        api_ms.append((time.perf_counter() - start) * 1000)

            threads = [threading.Thread(target=send) for _ in range(args.senders)]
            viewer = threading.Thread(target=dashboard)
            began = time.perf_counter()
            for thread in [*threads, viewer]:
                thread.start()
            time.sleep(args.seconds)
            stop.set()
            for thread in [*threads, viewer]:
                thread.join()
            elapsed = time.perf_counter() - began
        finally:
            process.terminate()
            process.wait(timeout=30)
        with sqlite3.connect(db) as store:
            stored = store.execute("SELECT COUNT(*) FROM spans").fetchone()[0]
    rate = stored / elapsed
    verdict = "PASS" if rate >= TARGET_SPANS_PER_S and not failures else "FAIL"
    print(
        f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}"
    )
    print(
        f"sent {sent[0]} spans in {elapsed:.1f} s over {args.senders} connections, {args.batch} per request"
    )
    print(f"stored {stored} spans: {rate:,.0f} spans/s (target >= {TARGET_SPANS_PER_S:,})  {verdict}")
    if api_ms:
        median, worst = statistics.median(api_ms), max(api_ms)
        print(
            f"dashboard API while ingesting: {len(api_ms)} requests,"
            f" median {median:.0f} ms, max {worst:.0f} ms"
        )
    if failures:
        print(f"non-200 answers: {len(failures)} ({', '.join(sorted(set(failures)))})")
    return 1 if args.check and verdict == "FAIL" else 0


if __name__ == "__main__":
    raise SystemExit(main())
