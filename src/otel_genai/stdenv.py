"""Validation of the standard ``OTEL_*`` variables that the OpenTelemetry SDK reads by itself.

Why: the SDK raises on some bad values (``OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT=-1`` even at import,
``OTEL_BSP_SCHEDULE_DELAY=-100`` in the span processor), logs a traceback on others and silently
misbehaves on the rest. ``init()`` calls ``sanitize()`` before it imports the SDK: each bad value gets one
warning naming the variable and the fallback, and is removed from (or corrected in) ``os.environ`` so that
no SDK component ever sees it. Our own settings are validated in ``config.py``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, MutableMapping
from urllib.parse import unquote

from .config import _warned

_log = logging.getLogger("otel_genai")
SIGNALS = ("TRACES", "METRICS", "LOGS")

# name -> (minimum, what the SDK uses when the variable is absent)
_POSITIVE_INTS = {
    "OTEL_BSP_SCHEDULE_DELAY": "1000",
    "OTEL_BSP_MAX_QUEUE_SIZE": "8192",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "512",
    "OTEL_BLRP_SCHEDULE_DELAY": "1000",
    "OTEL_BLRP_MAX_QUEUE_SIZE": "2048",
    "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE": "512",
}
_NON_NEGATIVE_INTS = {
    "OTEL_BSP_EXPORT_TIMEOUT": "30000",
    "OTEL_BLRP_EXPORT_TIMEOUT": "30000",
}
_POSITIVE_NUMBERS = {
    "OTEL_METRIC_EXPORT_TIMEOUT": "30000",
    **{f"OTEL_EXPORTER_OTLP_{s}_TIMEOUT": "OTEL_EXPORTER_OTLP_TIMEOUT" for s in SIGNALS},
}
# non-negative integers, or "unset" (no limit); absent means the SDK default
_LIMITS = (
    "OTEL_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_SPAN_EVENT_COUNT_LIMIT",
    "OTEL_SPAN_LINK_COUNT_LIMIT",
    "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT",
)
_COMPRESSIONS = frozenset({"gzip", "deflate", "none"})
_PROTOCOL = "http/protobuf"
_HEADERS = ("OTEL_EXPORTER_OTLP_HEADERS", *(f"OTEL_EXPORTER_OTLP_{s}_HEADERS" for s in SIGNALS))


def _warn(name: str, value: object, expected: str, fallback: object) -> None:
    if name not in _warned:
        _warned.add(name)
        _log.warning("otel-genai: %s=%r is invalid (%s); using %s instead", name, value, expected, fallback)


def _number(raw: str) -> float | None:
    try:
        number = float(raw)
    except ValueError:
        return None
    return number if number == number and number not in (float("inf"), float("-inf")) else None


def sanitize(env: MutableMapping[str, str] | None = None) -> None:
    """Warn about and drop every bad standard variable in ``env`` (default ``os.environ``); never raises."""
    env = os.environ if env is None else env
    try:
        _sanitize(env)
    except Exception:  # validation must never cost the application its telemetry
        _log.debug("otel-genai: validating OTEL_* variables failed", exc_info=True)


def _sanitize(env: MutableMapping[str, str]) -> None:
    def present(name: str) -> str | None:
        value = env.get(name)
        return value.strip() if value is not None and value.strip() else None

    def drop(name: str, value: str, expected: str, fallback: str) -> None:
        _warn(name, value, expected, fallback)
        env.pop(name, None)

    for name, default in _POSITIVE_INTS.items():
        if (raw := present(name)) is not None and not (raw.lstrip("+").isdigit() and int(raw) > 0):
            drop(name, raw, "expected a positive integer", f"the default {default}")
    for name, default in _NON_NEGATIVE_INTS.items():
        if (raw := present(name)) is not None and not raw.lstrip("+").isdigit():
            drop(name, raw, "expected an integer >= 0 (milliseconds)", f"the default {default}")
    for name, default in _POSITIVE_NUMBERS.items():
        if (raw := present(name)) is not None and not ((n := _number(raw)) is not None and n > 0):
            drop(name, raw, "expected a number of milliseconds > 0", default)
    for name in _LIMITS:
        raw = present(name)
        if raw is not None and raw.lower() != "unset" and not raw.lstrip("+").isdigit():
            drop(name, raw, "expected an integer >= 0 or 'unset'", "the SDK default")
    for prefix, queue_default in (("OTEL_BSP", 8192), ("OTEL_BLRP", 2048)):
        queue = int(present(f"{prefix}_MAX_QUEUE_SIZE") or queue_default)
        batch_name = f"{prefix}_MAX_EXPORT_BATCH_SIZE"
        batch = int(present(batch_name) or 512)
        if batch > queue:  # the SDK raises rather than clamp
            _warn(batch_name, batch, f"must not exceed {prefix}_MAX_QUEUE_SIZE={queue}", queue)
            env[batch_name] = str(queue)
    for name in ("OTEL_EXPORTER_OTLP_COMPRESSION", *(f"OTEL_EXPORTER_OTLP_{s}_COMPRESSION" for s in SIGNALS)):
        if (raw := present(name)) is not None and raw.lower() not in _COMPRESSIONS:
            drop(name, raw, "expected gzip, deflate or none", "none")
    protocols = ("OTEL_EXPORTER_OTLP_PROTOCOL", *(f"OTEL_EXPORTER_OTLP_{s}_PROTOCOL" for s in SIGNALS))
    for name in protocols:
        raw = present(name)
        if raw is not None and raw.lower() != _PROTOCOL and "OTEL_EXPORTER_OTLP_PROTOCOL" not in _warned:
            _warned.add("OTEL_EXPORTER_OTLP_PROTOCOL")  # said once, whichever variable asked
            _log.warning(
                "otel-genai: %s=%r is not supported: otel-genai exports OTLP over HTTP (%s); using %s",
                name,
                raw,
                _PROTOCOL,
                _PROTOCOL,
            )
    for name in _HEADERS:
        raw = env.get(name)
        if raw:
            kept = [item for item in raw.split(",") if not _bad_header(item)]
            if len(kept) != len(raw.split(",")):
                _warn(name, "<redacted>", "a header name or value contains CR, LF or NUL", "without it")
                env[name] = ",".join(kept)


def _bad_header(text: str) -> bool:
    return any(c in unquote(text) for c in "\r\n\0")


def clean_headers(headers: Mapping[str, str], name: str = "headers") -> dict[str, str]:
    """``headers`` without the entries whose name or value would make every export fail (CR, LF, NUL)."""
    result = {}
    for key, value in headers.items():
        if any(c in f"{key}{value}" for c in "\r\n\0"):
            _warn(name, "<redacted>", f"header {key.strip()!r} contains CR, LF or NUL", "without it")
        else:
            result[key] = value
    return result


def signal_timeout_s(signal: str, default_s: float, env: Mapping[str, str] | None = None) -> float:
    """``OTEL_EXPORTER_OTLP_<SIGNAL>_TIMEOUT`` (milliseconds, like the general one) or ``default_s``."""
    raw = (os.environ if env is None else env).get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_TIMEOUT")
    number = _number(raw.strip()) if raw and raw.strip() else None
    return number / 1000 if number is not None and number > 0 else default_s


__all__ = [
    "SIGNALS",
    "clean_headers",
    "sanitize",
    "signal_timeout_s",
]
