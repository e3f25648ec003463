"""Zero-code start: ``opentelemetry-instrument python app.py`` does exactly what ``otel_genai.init()`` does.

Why: without a distro ``opentelemetry-instrument`` configures nothing (and says nothing), and the
``opentelemetry-distro`` defaults to gRPC and cumulative metrics, which our exporter and Dynatrace do not
take. otel-genai ships its own entry points (pyproject.toml):

- ``opentelemetry_distro`` -> ``OtelGenAIDistro``: loads the other installed instrumentors (requests,
  FastAPI, ...) as usual, and skips otel-genai's own, which ``init()`` has already applied.
- ``opentelemetry_configurator`` -> ``OtelGenAIConfigurator``: calls ``otel_genai.init()``, so the
  providers are ours: OTLP/HTTP, delta temporality, the semconv buckets, the bounded exit flush, and every
  ``OTEL_*`` variable read and validated the same way.

With ``opentelemetry-distro`` installed too, set ``OTEL_PYTHON_DISTRO=otel_genai`` and
``OTEL_PYTHON_CONFIGURATOR=otel_genai`` to choose ours (docs/configuration.md).
"""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]

_log = logging.getLogger("otel_genai")
_OWN = "otel_genai."


class OtelGenAIDistro(BaseDistro):  # type: ignore[misc]
    """The distro ``opentelemetry-instrument`` picks when otel-genai is installed."""

    def _configure(self, **kwargs: Any) -> None:
        pass  # settings are read by init(), called by the configurator next

    def load_instrumentor(self, entry_point: Any, **kwargs: Any) -> None:
        if str(getattr(entry_point, "value", "")).startswith(_OWN):
            return  # applied by init() with the resolved settings (and skipped if its library is missing)
        super().load_instrumentor(entry_point, **kwargs)


class OtelGenAIConfigurator:
    """``opentelemetry_configurator`` entry point: the SDK set-up is ``otel_genai.init()``."""

    def configure(self, **kwargs: Any) -> None:
        import otel_genai

        otel_genai.init()  # never raises; logs one line per bad setting


__all__ = [
    "OtelGenAIConfigurator",
    "OtelGenAIDistro",
]
