"""Shared fixtures: in-memory telemetry, otel_genai.init() per test, and the loopback replay server."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import otel_genai
from replay import ReplayServer
from sdk_logs import InMemoryLogRecordExporter

# LangChain's integrations need newer openai releases than the oldest we support (nox tests_openai_oldest).
collect_ignore = [] if importlib.util.find_spec("langchain_openai") else ["test_langchain.py"]

API_KEY = "sk-test-SECRET-0123456789abcdef"  # must never appear in exported telemetry
FEATURE_METRICS = frozenset(
    {
        "gen_ai.client.cost",
        "gen_ai.client.cost.savings",
        "gen_ai.client.token.cache",
        "gen_ai.client.guardrail.executions",
        "gen_ai.client.guardrail.activations",
    }
)


def kwargs_for(body: dict[str, Any], method: Any = None) -> dict[str, Any]:
    """Keyword arguments that make the installed openai client send exactly ``body``.

    Recorded requests use parameters older clients do not know (``reasoning_effort`` in 1.40); those
    travel in ``extra_body``, which the client merges into the same JSON body.
    """
    import inspect

    import openai

    accepted = inspect.signature(method or openai.resources.chat.Completions.create).parameters
    kwargs = {k: v for k, v in body.items() if k in accepted}
    extra = {k: v for k, v in body.items() if k not in accepted}
    if extra:
        kwargs["extra_body"] = extra
    return kwargs


class Telemetry:
    """What one test's instrumented calls produced, read back through the SDK's in-memory exporters."""

    def __init__(self) -> None:
        self.span_exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.span_exporter))
        self.metric_reader = InMemoryMetricReader(
            preferred_temporality={
                Counter: AggregationTemporality.DELTA,
                Histogram: AggregationTemporality.DELTA,
            }
        )
        self.meter_provider = MeterProvider(metric_readers=[self.metric_reader])
        self.log_exporter = InMemoryLogRecordExporter()
        self.logger_provider = LoggerProvider()
        self.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(self.log_exporter))

    def spans(self) -> list[ReadableSpan]:
        return list(self.span_exporter.get_finished_spans())

    def span(self) -> ReadableSpan:
        """The one span the test produced (fails if there are more or none)."""
        spans = self.spans()
        assert len(spans) == 1, [s.name for s in spans]
        return spans[0]

    def metrics(self, *, features: bool = False) -> dict[str, list[Any]]:
        """Metric name -> data points collected since the last call (delta).

        The cost, prompt-cache and guardrail counters are left out unless ``features=True``: test_cost.py
        and test_guardrails.py check them for every recording, the other tests check the rest exactly.
        """
        data = self.metric_reader.get_metrics_data()
        result: dict[str, list[Any]] = {}
        for resource_metrics in data.resource_metrics if data else ():
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    if features or metric.name not in FEATURE_METRICS:
                        result.setdefault(metric.name, []).extend(metric.data.data_points)
        return result

    def logs(self) -> list[Any]:
        return [r.log_record for r in self.log_exporter.get_finished_logs()]

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()
        self.logger_provider.shutdown()


def chat_helpers(client: Any) -> Any:
    """Where ``parse``/``stream`` live: ``chat.completions`` today, ``beta.chat.completions`` before 1.92."""
    completions = client.chat.completions
    return completions if hasattr(completions, "parse") else client.beta.chat.completions


@pytest.fixture(autouse=True, scope="session")
def _prices_loaded() -> None:
    """genai-prices imported up front: a call that finishes while the import runs completes on its thread
    a moment later (test_cost.py covers that), which tests reading spans at once must not have to wait for."""
    from otel_genai.core import pricing

    pricing.LIBRARY.load()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see only the OTEL_* variables they set themselves."""
    for name in list(os.environ):
        if name.startswith(("OTEL_", "OPENAI_")):
            monkeypatch.delenv(name)


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    t = Telemetry()
    yield t
    t.shutdown()


@pytest.fixture
def instrument(telemetry: Telemetry) -> Iterator[Callable[..., Telemetry]]:
    """Call ``instrument(**init_keywords)`` to run ``otel_genai.init()`` against in-memory providers."""

    def start(**overrides: Any) -> Telemetry:
        # Cost attributes and metrics are checked by test_cost.py (which turns them on); elsewhere they
        # would only repeat there in every expected attribute set.
        overrides.setdefault("cost", False)
        settings = otel_genai.init(
            tracer_provider=telemetry.tracer_provider,
            meter_provider=telemetry.meter_provider,
            logger_provider=telemetry.logger_provider,
            **overrides,
        )
        assert settings is not None
        return telemetry

    yield start
    otel_genai.shutdown()


@pytest.fixture
def replay() -> Iterator[Callable[..., ReplayServer]]:
    """Call ``replay("openai/x.json", ...)`` for a started loopback server; all must be served by the end."""
    servers: list[ReplayServer] = []

    def start(*recordings: Any, **kwargs: Any) -> ReplayServer:
        server = ReplayServer(*recordings, **kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
