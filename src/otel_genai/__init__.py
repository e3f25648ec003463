"""otel-genai: OpenTelemetry for generative-AI clients.

``import otel_genai; otel_genai.init()`` and every call through a supported client library produces
``gen_ai.*`` spans and metrics exported over OTLP/HTTP. Importing this package is cheap: the SDK and
the provider libraries are imported by ``init()``, and a provider library only once the app imports it.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .version import __version__

if TYPE_CHECKING:
    from .config import ContentCapture, Settings, Temporality
    from .manual import agent, association_properties, task, tool, workflow
    from .sdk import Pipeline

__all__ = [
    "__version__",
    "agent",
    "association_properties",
    "force_flush",
    "init",
    "shutdown",
    "task",
    "tool",
    "uninstrument",
    "workflow",
]

# The manual API (otel_genai/manual.py), imported on first use so that `import otel_genai` stays light.
_MANUAL = frozenset({"agent", "association_properties", "task", "tool", "workflow"})


def __getattr__(name: str) -> Any:
    if name in _MANUAL:
        from . import manual

        return getattr(manual, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_log = logging.getLogger("otel_genai")
_lock = threading.Lock()
_pipeline: Pipeline | None = None
_instrumentors: list[Any] = []


def init(
    *,
    service_name: str | None = None,
    endpoint: str | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float | None = None,
    resource_attributes: Mapping[str, str] | None = None,
    traces_exporter: str | Iterable[str] | None = None,
    metrics_exporter: str | Iterable[str] | None = None,
    logs_exporter: str | Iterable[str] | None = None,
    temporality: str | Temporality | None = None,
    metric_export_interval: float | None = None,
    sampler: str | None = None,
    sampler_arg: float | None = None,
    capture_message_content: str | bool | ContentCapture | None = None,
    max_content_length: int | None = None,
    semconv_attributes: bool | None = None,
    legacy_attributes: bool | None = None,
    per_chunk_metrics: bool | None = None,
    stream_include_usage: bool | None = None,
    disabled_instrumentations: str | Iterable[str] | None = None,
    disabled: bool | None = None,
    cost: bool | None = None,
    prices: Mapping[str, Mapping[str, Any]] | str | None = None,
    audit: bool | None = None,
    redact: Callable[[str], str] | None = None,
    mask_content: bool | None = None,
    tracer_provider: Any = None,
    meter_provider: Any = None,
    logger_provider: Any = None,
    attach_exporters: bool = False,
) -> Settings | None:
    """Set up OpenTelemetry and instrument every supported client library; never raises.

    Keywords override the matching ``OTEL_*`` environment variables (docs/configuration.md);
    ``timeout`` and ``metric_export_interval`` are in milliseconds, like the variables. Providers
    already installed by the application (or passed here) are used as they are; ``attach_exporters=True``
    adds our exporters to an existing SDK tracer provider. A second call is a no-op until ``shutdown()``.
    Returns the resolved settings, or None when disabled or already initialised.

    Cost and governance: ``prices`` adds or overrides per-model prices (USD per million tokens, see
    docs/configuration.md), ``cost=False`` turns genai-prices lookups off, ``audit=True`` emits one audit
    log record per model call, ``redact`` rewrites every captured text before it is recorded anywhere,
    and ``mask_content=True`` masks e-mail addresses, phone and card numbers and API keys in it.
    """
    global _pipeline
    overrides = {
        k: v for k, v in locals().items() if k not in ("tracer_provider", "meter_provider", "logger_provider")
    }
    with _lock:
        if _pipeline is not None:
            _log.debug("otel-genai: init() called again; keeping the first configuration")
            return None
        try:
            from .stdenv import sanitize

            sanitize()  # before the SDK is imported: it raises on some bad OTEL_* values
            from . import sdk
            from .config import Settings
            from .instrumentation import INSTRUMENTORS, load

            settings = Settings.resolve(overrides)
            if settings.disabled:
                return None
            _pipeline = sdk.build(
                settings,
                attach_exporters=attach_exporters,
                tracer_provider=tracer_provider,
                meter_provider=meter_provider,
                logger_provider=logger_provider,
            )
            for name in INSTRUMENTORS:
                if name in settings.disabled_instrumentations:
                    continue
                try:  # one library's failure must not cost the others their telemetry
                    instrumentor = load(name)
                    if not _supported(name, instrumentor):
                        continue
                    instrumentor.instrument(
                        tracer_provider=_pipeline.tracer_provider,
                        meter_provider=_pipeline.meter_provider,
                        logger_provider=_pipeline.logger_provider,
                        settings=settings,
                        skip_dep_check=True,  # _supported() checked
                    )
                except Exception:
                    _log.warning("otel-genai: could not instrument %s", name, exc_info=True)
                    continue
                if instrumentor.is_instrumented_by_opentelemetry:
                    _instrumentors.append(instrumentor)
            return settings
        except Exception:
            _log.warning("otel-genai: init() failed; the application continues uninstrumented", exc_info=True)
            return None


def _supported(name: str, instrumentor: Any) -> bool:
    """A library that is not installed is normal and says nothing; an unsupported version warns once."""
    conflict = instrumentor._check_dependency_conflicts()
    if conflict is None:
        return True
    if getattr(conflict, "found", None) or getattr(conflict, "found_any", None):
        _log.warning("otel-genai: not instrumenting %s: %s", name, conflict)
    else:
        _log.debug("otel-genai: %s is not installed; nothing to instrument", name)
    return False


def uninstrument() -> None:
    """Remove every patch ``init()`` applied; telemetry providers stay as they are."""
    with _lock:
        while _instrumentors:
            try:
                _instrumentors.pop().uninstrument()
            except Exception:
                _log.debug("otel-genai: uninstrument failed", exc_info=True)


def force_flush(timeout_millis: int = 30_000) -> bool:
    """Export everything buffered now; True when every provider flushed."""
    pipeline = _pipeline
    if pipeline is not None:
        return pipeline.force_flush(timeout_millis)
    if "otel_genai.core.pricing" not in sys.modules:  # no call was priced: nothing waits, import nothing
        return True
    from .sdk import complete_deferred_calls  # instrumented without init(): finish what waits for prices

    return complete_deferred_calls(timeout_millis / 1000)


def shutdown(timeout: float = 5.0) -> None:
    """Uninstrument, flush and shut down what ``init()`` created (bounded by ``timeout`` seconds)."""
    global _pipeline
    uninstrument()
    with _lock:
        pipeline, _pipeline = _pipeline, None
    if pipeline is not None:
        pipeline.shutdown(timeout)
