"""Settings from ``OTEL_*`` environment variables and ``init()`` keywords, validated once.

Precedence: keyword argument > environment variable > default. A bad value never raises: it logs one
warning that names the variable and falls back to the safe default (docs/configuration.md lists them all).
"""

from __future__ import annotations

import enum
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

_log = logging.getLogger("otel_genai")
_warned: set[str] = set()  # one warning per variable per process, however often init() runs


def warn_once(key: str, message: str, *args: object) -> None:
    """Log ``message`` at warning level once per process for ``key`` (a setting's name)."""
    if key not in _warned:
        _warned.add(key)
        _log.warning(message, *args)


DEFAULT_ENDPOINT = "http://localhost:4318"
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_METRIC_EXPORT_INTERVAL_MS = 60_000
DEFAULT_MAX_CONTENT_LENGTH = 16_384
SIGNALS = ("traces", "metrics", "logs")
EXPORTERS = frozenset({"otlp", "console", "none"})
SAMPLERS = frozenset(
    {
        "always_on",
        "always_off",
        "traceidratio",
        "parentbased_always_on",
        "parentbased_always_off",
        "parentbased_traceidratio",
    }
)


class ContentCapture(enum.Enum):
    """Where prompt and completion text may go (``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``)."""

    NO_CONTENT = "NO_CONTENT"
    SPAN_ONLY = "SPAN_ONLY"
    EVENT_ONLY = "EVENT_ONLY"
    SPAN_AND_EVENT = "SPAN_AND_EVENT"

    @property
    def on_span(self) -> bool:
        return self in (ContentCapture.SPAN_ONLY, ContentCapture.SPAN_AND_EVENT)

    @property
    def on_event(self) -> bool:
        return self in (ContentCapture.EVENT_ONLY, ContentCapture.SPAN_AND_EVENT)

    @property
    def enabled(self) -> bool:
        return self is not ContentCapture.NO_CONTENT


class Temporality(enum.Enum):
    DELTA = "delta"
    CUMULATIVE = "cumulative"
    LOWMEMORY = "lowmemory"


LANGCHAIN_VERBOSE_ENV = "OTEL_INSTRUMENTATION_GENAI_LANGCHAIN_VERBOSE"
LANGCHAIN_CONVERSATION_ID_KEYS_ENV = "OTEL_INSTRUMENTATION_GENAI_LANGCHAIN_CONVERSATION_ID_KEYS"
LANGCHAIN_CONVERSATION_ID_KEYS = ("conversation_id", "session_id", "thread_id")


@dataclass(frozen=True)
class Settings:
    """Everything ``init()`` and the instrumentors need, resolved and validated."""

    disabled: bool = False
    service_name: str | None = None
    resource_attributes: Mapping[str, str] = field(default_factory=dict)
    endpoints: Mapping[str, str] = field(default_factory=dict)  # signal -> full URL
    headers: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # signal -> headers
    timeout_s: float = DEFAULT_TIMEOUT_S
    exporters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # signal -> exporter names
    temporality: Temporality = Temporality.DELTA
    metric_export_interval_ms: int = DEFAULT_METRIC_EXPORT_INTERVAL_MS
    sampler: str = "parentbased_always_on"
    sampler_arg: float = 1.0
    disabled_instrumentations: frozenset[str] = frozenset()
    capture_content: ContentCapture = ContentCapture.NO_CONTENT
    max_content_length: int = DEFAULT_MAX_CONTENT_LENGTH
    semconv_attributes: bool = True
    legacy_attributes: bool = True
    per_chunk_metrics: bool | None = None  # None: per chunk where cheap (our own MeterProvider)
    stream_include_usage: bool = False
    # cost, audit and redaction (docs/configuration.md "Cost, audit and redaction")
    cost: bool = True  # price calls from genai-prices (user prices apply either way)
    prices: Mapping[tuple[str | None, str], Mapping[str, float]] = field(default_factory=dict)
    audit: bool = False
    redact: Callable[[str], str] | None = None
    mask_content: bool = False
    # LangChain (docs/configuration.md): a span per runnable; metadata keys carrying the conversation id
    langchain_verbose: bool = False
    langchain_conversation_id_keys: tuple[str, ...] = LANGCHAIN_CONVERSATION_ID_KEYS

    @classmethod
    def resolve(
        cls, overrides: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
    ) -> Settings:
        """Settings from ``env`` (default ``os.environ``) with ``overrides`` (``init()`` keywords) on top."""
        return _Resolver(env if env is not None else os.environ, overrides or {}).settings()


class _Resolver:
    def __init__(self, env: Mapping[str, str], overrides: Mapping[str, Any]) -> None:
        self.env = env
        self.kw = {k: v for k, v in overrides.items() if v is not None}

    def raw(self, name: str) -> str | None:
        value = self.env.get(name)
        return value.strip() if value is not None and value.strip() else None

    def warn(self, name: str, value: object, expected: str, fallback: object) -> None:
        if name not in _warned:
            _warned.add(name)
            _log.warning(
                "otel-genai: %s=%r is invalid (%s); using %r instead", name, value, expected, fallback
            )

    def boolean(self, key: str, name: str, default: bool) -> bool:
        value = self.kw.get(key)
        if value is not None and not isinstance(value, str):
            return bool(value)
        raw = value.strip() if isinstance(value, str) else self.raw(name)  # "false" is not truthy
        if not raw:
            return default
        if raw.lower() in ("true", "1", "yes", "on"):
            return True
        if raw.lower() in ("false", "0", "no", "off"):
            return False
        self.warn(name, raw, "expected true or false", default)
        return default

    def optional_boolean(self, key: str, name: str) -> bool | None:
        """Like ``boolean``, but "not set" stays None so the default can depend on the set-up."""
        if key not in self.kw and self.raw(name) is None:
            return None
        return self.boolean(key, name, False)

    def number(self, key: str, name: str, default: float, *, minimum: float = 0.0) -> float:
        value: object = self.kw.get(key, self.raw(name))
        if value is None:
            return default
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError, OverflowError):
            number = float("nan")
        if not number >= minimum or number == float("inf"):
            self.warn(name, value, f"expected a number >= {minimum:g}", default)
            return default
        return number

    def settings(self) -> Settings:
        return Settings(
            disabled=self.boolean("disabled", "OTEL_SDK_DISABLED", False),
            service_name=self.kw.get("service_name") or self.raw("OTEL_SERVICE_NAME"),
            resource_attributes=self.resource_attributes(),
            endpoints={signal: self.endpoint(signal) for signal in SIGNALS},
            headers={signal: self.headers(signal) for signal in SIGNALS},
            timeout_s=self.number("timeout", "OTEL_EXPORTER_OTLP_TIMEOUT", DEFAULT_TIMEOUT_S * 1000) / 1000,
            exporters={signal: self.exporters(signal) for signal in SIGNALS},
            temporality=self.temporality(),
            metric_export_interval_ms=int(
                self.number(
                    "metric_export_interval",
                    "OTEL_METRIC_EXPORT_INTERVAL",
                    DEFAULT_METRIC_EXPORT_INTERVAL_MS,
                    minimum=1,
                )
            ),
            sampler=self.sampler(),
            sampler_arg=self.sampler_arg(),
            disabled_instrumentations=self.disabled_instrumentations(),
            capture_content=self.capture_content(),
            max_content_length=int(
                self.number(
                    "max_content_length",
                    "OTEL_INSTRUMENTATION_GENAI_MAX_CONTENT_LENGTH",
                    DEFAULT_MAX_CONTENT_LENGTH,
                )
            ),
            semconv_attributes=self.boolean(
                "semconv_attributes", "OTEL_INSTRUMENTATION_GENAI_SEMCONV_ATTRIBUTES", True
            ),
            legacy_attributes=self.boolean(
                "legacy_attributes", "OTEL_INSTRUMENTATION_GENAI_LEGACY_ATTRIBUTES", True
            ),
            per_chunk_metrics=self.optional_boolean(
                "per_chunk_metrics", "OTEL_INSTRUMENTATION_GENAI_PER_CHUNK_METRICS"
            ),
            stream_include_usage=self.boolean(
                "stream_include_usage", "OTEL_INSTRUMENTATION_GENAI_STREAM_INCLUDE_USAGE", False
            ),
            cost=self.boolean("cost", "OTEL_GENAI_COST", True),
            prices=self.prices(),
            audit=self.boolean("audit", "OTEL_GENAI_AUDIT", False),
            redact=self.redact(),
            mask_content=self.boolean("mask_content", "OTEL_GENAI_MASK_CONTENT", False),
            langchain_verbose=self.boolean("langchain_verbose", LANGCHAIN_VERBOSE_ENV, False),
            langchain_conversation_id_keys=self.names(
                "langchain_conversation_id_keys",
                LANGCHAIN_CONVERSATION_ID_KEYS_ENV,
                LANGCHAIN_CONVERSATION_ID_KEYS,
            ),
        )

    def names(self, key: str, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        """A comma-separated list of names (or an ``init()`` list / string); empty: the default."""
        value = self.kw.get(key)
        if isinstance(value, str):
            value = value.split(",")
        if value is None:
            raw = self.raw(name)
            value = raw.split(",") if raw else ()
        try:
            found = tuple(str(item).strip() for item in value if str(item).strip())
        except TypeError:
            self.warn(key, value, "expected a list of names", default)
            return default
        return found or default

    def prices(self) -> dict[tuple[str | None, str], dict[str, float]]:
        """User prices: the file first, ``init(prices=...)`` on top (a mapping, or a file path)."""
        from .core.pricing import load_prices_file, parse_user_prices

        def warn(message: str) -> None:
            if message not in _warned:
                _warned.add(message)
                _log.warning("otel-genai: %s; entry ignored", message)

        result = {}
        path = self.raw("OTEL_GENAI_PRICES_FILE")
        if path:
            result.update(load_prices_file(path, warn))
        given = self.kw.get("prices")
        if isinstance(given, (str, os.PathLike)):
            result.update(load_prices_file(str(given), warn))
        elif given is not None:
            result.update(parse_user_prices(given, "init(prices=...)", warn))
        return result

    def redact(self) -> Callable[[str], str] | None:
        value = self.kw.get("redact")
        if value is None or callable(value):
            return value
        self.warn("init(redact=...)", value, "expected a callable taking and returning a str", None)
        return None

    def key_values(self, name: str, raw: str) -> dict[str, str] | None:
        """Parse a ``k=v,k2=v2`` list (URL-decoded); None, after one warning, if any item is malformed."""
        result: dict[str, str] = {}
        for item in raw.split(","):
            if not item.strip():
                continue
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                self.warn(name, raw, "expected comma-separated key=value pairs", {})
                return None
            result[unquote(key.strip())] = unquote(value.strip())
        return result

    def resource_attributes(self) -> dict[str, str]:
        raw = self.raw("OTEL_RESOURCE_ATTRIBUTES")
        attributes = (self.key_values("OTEL_RESOURCE_ATTRIBUTES", raw) or {}) if raw else {}
        attributes.update(self.mapping("resource_attributes", "OTEL_RESOURCE_ATTRIBUTES"))
        return attributes

    def mapping(self, key: str, name: str) -> dict[str, str]:
        """A keyword given as a mapping, or as text in the variable's own ``k=v,k2=v2`` form."""
        value = self.kw.get(key, {})
        if isinstance(value, str):
            return self.key_values(name, value) or {}
        try:
            return {str(k): str(v) for k, v in dict(value).items()}
        except (TypeError, ValueError):
            self.warn(name, value, "expected a mapping of strings", {})
            return {}

    def endpoint(self, signal: str) -> str:
        if signal in self.kw.get("endpoints", {}):
            return str(self.kw["endpoints"][signal])
        specific = self.raw(f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT")
        if specific and self.valid_url(f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT", specific):
            return specific  # per-signal endpoints are used exactly as given (OTLP spec)
        base = self.kw.get("endpoint") or self.raw("OTEL_EXPORTER_OTLP_ENDPOINT")
        if not base or not self.valid_url("OTEL_EXPORTER_OTLP_ENDPOINT", base):
            base = DEFAULT_ENDPOINT
        return f"{base.rstrip('/')}/v1/{signal}"

    def valid_url(self, name: str, value: str) -> bool:
        if (
            isinstance(value, str)
            and value.startswith(("http://", "https://"))
            and len(value) > len("https://")
        ):
            return True
        self.warn(name, value, "expected an http:// or https:// URL", DEFAULT_ENDPOINT)
        return False

    def headers(self, signal: str) -> dict[str, str]:
        result: dict[str, str] = {}
        for name in ("OTEL_EXPORTER_OTLP_HEADERS", f"OTEL_EXPORTER_OTLP_{signal.upper()}_HEADERS"):
            raw = self.raw(name)
            if raw:
                result.update(self.key_values(name, raw) or {})
        result.update(self.mapping("headers", "OTEL_EXPORTER_OTLP_HEADERS"))
        return result

    def exporters(self, signal: str) -> tuple[str, ...]:
        name = f"OTEL_{signal.upper()}_EXPORTER"
        value = self.kw.get(f"{signal}_exporter", self.raw(name))
        if value is None:
            return ("otlp",)
        names = list(value) if isinstance(value, Iterable) and not isinstance(value, str) else [value]
        parsed = tuple(n.strip().lower() for item in names for n in str(item).split(",") if n.strip())
        unknown = [n for n in parsed if n not in EXPORTERS]
        if unknown or not parsed:
            self.warn(name, value, "expected otlp, console or none", "otlp")
            return ("otlp",)
        return tuple(n for n in parsed if n != "none")

    def temporality(self) -> Temporality:
        name = "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"
        value = self.kw.get("temporality", self.raw(name))
        if value is None:
            return Temporality.DELTA
        if isinstance(value, Temporality):
            return value
        try:
            return Temporality(str(value).lower())
        except ValueError:
            self.warn(name, value, "expected delta, cumulative or lowmemory", "delta")
            return Temporality.DELTA

    def sampler(self) -> str:
        name = "OTEL_TRACES_SAMPLER"
        value = self.kw.get("sampler", self.raw(name))
        if value is None:
            return "parentbased_always_on"
        if str(value).lower() not in SAMPLERS:
            self.warn(name, value, "expected one of " + ", ".join(sorted(SAMPLERS)), "parentbased_always_on")
            return "parentbased_always_on"
        return str(value).lower()

    def sampler_arg(self) -> float:
        ratio = self.number("sampler_arg", "OTEL_TRACES_SAMPLER_ARG", 1.0)
        if ratio > 1.0:
            self.warn("OTEL_TRACES_SAMPLER_ARG", ratio, "expected a ratio between 0 and 1", 1.0)
            return 1.0
        return ratio

    def disabled_instrumentations(self) -> frozenset[str]:
        value = self.kw.get(
            "disabled_instrumentations", self.raw("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS") or ""
        )
        names = value.split(",") if isinstance(value, str) else value
        names = names if isinstance(names, Iterable) else [names]
        return frozenset(str(n).strip().lower() for n in names if str(n).strip())

    def capture_content(self) -> ContentCapture:
        name = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
        value = self.kw.get("capture_message_content", self.raw(name))
        if value is None:
            return ContentCapture.NO_CONTENT
        if isinstance(value, ContentCapture):
            return value
        if isinstance(value, bool):
            return ContentCapture.SPAN_ONLY if value else ContentCapture.NO_CONTENT
        text = str(value).strip().upper()
        if text in ("TRUE", "FALSE"):
            # Legacy boolean spelling (openai-v2 instrumentation): accepted, with a nudge to the enum.
            fallback = ContentCapture.SPAN_ONLY if text == "TRUE" else ContentCapture.NO_CONTENT
            if name not in _warned:
                _warned.add(name)
                _log.warning("otel-genai: %s=%s is deprecated; use %s", name, value, fallback.value)
            return fallback
        try:
            return ContentCapture(text)
        except ValueError:
            self.warn(
                name, value, "expected NO_CONTENT, SPAN_ONLY, EVENT_ONLY or SPAN_AND_EVENT", "NO_CONTENT"
            )
            return ContentCapture.NO_CONTENT


__all__ = [
    "DEFAULT_ENDPOINT",
    "DEFAULT_MAX_CONTENT_LENGTH",
    "DEFAULT_METRIC_EXPORT_INTERVAL_MS",
    "DEFAULT_TIMEOUT_S",
    "EXPORTERS",
    "SAMPLERS",
    "SIGNALS",
    "ContentCapture",
    "Settings",
    "Temporality",
    "warn_once",
]
