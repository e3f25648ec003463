"""``otel-genai`` command line: ``otel-genai demo`` shows the SDK at work without any backend or API key;
``otel-genai ui`` runs the embedded OTLP backend and dashboard."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from . import semconv as sc

_SPAN_KEYS = (
    sc.REQUEST_MODEL,
    sc.RESPONSE_MODEL,
    sc.REQUEST_STREAM,
    sc.USAGE_INPUT_TOKENS,
    sc.USAGE_OUTPUT_TOKENS,
    sc.RESPONSE_FINISH_REASONS,
    sc.RESPONSE_TIME_TO_FIRST_CHUNK,
    sc.ERROR_TYPE,
    sc.INPUT_MESSAGES,
    sc.OUTPUT_MESSAGES,
)


def _demo(args: argparse.Namespace) -> int:
    try:
        import openai
    except ImportError:
        print('The demo drives the openai client: pip install "otel-genai[openai]"', file=sys.stderr)
        return 1
    if not args.no_ui:
        from .local import commands

        return commands.demo(args)
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    import otel_genai

    from .config import Temporality
    from .local.simulator import Simulator
    from .sdk import TEMPORALITIES, histogram_views

    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader(preferred_temporality=TEMPORALITIES[Temporality.DELTA])
    meter_provider = MeterProvider(metric_readers=[reader], views=histogram_views())
    otel_genai.init(
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        capture_message_content="SPAN_ONLY" if args.capture else None,
        service_name="otel-genai-demo",
    )
    with Simulator() as sim:
        print(f"OpenAI-compatible simulator on {sim.base_url}\n")
        client = openai.OpenAI(base_url=sim.base_url, api_key="demo-key", max_retries=0)
        messages: Any = [{"role": "user", "content": "What does otel-genai record?"}]
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
        print(f"chat        -> {reply.choices[0].message.content}")
        stream = client.chat.completions.create(
            model="gpt-4o-mini", messages=messages, stream=True, stream_options={"include_usage": True}
        )
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        print(f"stream      -> {text}")
        try:
            client.chat.completions.create(model="missing-model", messages=messages)
        except openai.NotFoundError as exc:
            print(f"error       -> {type(exc).__name__}: {exc.code}")
    otel_genai.shutdown()

    print("\nSpans")
    for span in spans.get_finished_spans():
        status = span.status.status_code.name
        millis = ((span.end_time or 0) - (span.start_time or 0)) / 1e6
        print(f"  {span.name}  [{span.kind.name}, {status}, {millis:.1f} ms]")
        attributes = span.attributes or {}
        for key in _SPAN_KEYS:
            if key in attributes:
                print(f"      {key} = {_short(attributes[key])}")
    print("\nMetrics (delta)")
    data = reader.get_metrics_data()
    for resource_metrics in data.resource_metrics if data else ():
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                for point in metric.data.data_points:
                    print(f"  {metric.name}{_labels(point.attributes)}  {_value(point)}")
    if not args.capture:
        print("\nMessage content is off by default; run `otel-genai demo --capture` to see it on the spans.")
    return 0


def _short(value: Any) -> str:
    text = str(list(value)) if isinstance(value, tuple) else str(value)
    return text if len(text) <= 100 else text[:97] + "..."


def _labels(attributes: Any) -> str:
    keep = {
        k: v for k, v in (attributes or {}).items() if k in (sc.REQUEST_MODEL, sc.TOKEN_TYPE, sc.ERROR_TYPE)
    }
    return "{" + ", ".join(f"{k}={v}" for k, v in keep.items()) + "}" if keep else ""


def _value(point: Any) -> str:
    if hasattr(point, "bucket_counts"):
        return f"count={point.count} sum={point.sum:.4g}"
    return f"value={point.value}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="otel-genai", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="instrument a short OpenAI session against a local simulator")
    demo.add_argument("--capture", action="store_true", help="also record prompt and completion text")
    demo.set_defaults(run=_demo)
    _add_local_commands(commands, demo)
    _add_simulator(commands)
    args = parser.parse_args(argv)
    return int(args.run(args))


def _add_local_commands(commands: Any, demo: argparse.ArgumentParser) -> None:
    """``otel-genai ui`` and the demo's dashboard flags (the embedded backend in otel_genai.local)."""
    from .local import commands as local

    demo.add_argument("--no-ui", action="store_true", help="print spans and metrics instead (no dashboard)")
    demo.add_argument("--once", action="store_true", help="run the workload once, then exit")
    demo.add_argument("--duration", type=float, default=None, help="serve this many seconds, then exit")
    local.add_server_arguments(demo)
    ui = commands.add_parser("ui", help="run the local OTLP backend and dashboard")
    local.add_server_arguments(ui)
    ui.set_defaults(run=local.ui)


def _add_simulator(commands: Any) -> None:
    """``otel-genai simulator [--port N]``: the demo's OpenAI-compatible server, standalone, for your app."""
    simulator = commands.add_parser(
        "simulator", help="serve the OpenAI-compatible simulator on 127.0.0.1 for your own app"
    )
    simulator.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (default 8000; 0: any)")

    def run(args: Any) -> int:
        from .local.simulator import serve

        return serve(args.port)

    simulator.set_defaults(run=run)


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = [
    "main",
]
