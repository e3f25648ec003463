"""OTLP endpoint health: one log line per failing endpoint, and a fast exit when it refuses connections.

Why: the OTLP/HTTP exporters log every failed attempt (two or three lines per export, every export), so a
collector that is down floods stderr; and the exit flush spends its whole bound (5 s) retrying an
endpoint that refused the connection at once. Each exporter ``init()`` builds is wrapped here:

- While our exporter runs, the exporter's own log records are held back. The first failed export logs one
  warning naming the endpoint and the last reason; later failures say nothing until an export succeeds
  again, which logs one line too.
- At shutdown, an endpoint whose last export failed (or that never had one succeed) and that refuses a TCP
  connection now (one probe per host, at most 0.25 s) has its exporter shut down first: retries stop,
  queued telemetry is given up at once (the span loss is still reported in one line), so exit takes well
  under a second instead of the whole bound. A healthy endpoint gets no probe and the normal flush.
"""

from __future__ import annotations

import logging
import socket
import threading
import weakref
from typing import Any
from urllib.parse import urlsplit

import wrapt

_log = logging.getLogger("otel_genai")
_PROBE_TIMEOUT_S = 0.25
EXPORTER_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http.metric_exporter",
    "opentelemetry.exporter.otlp.proto.http._log_exporter",
    "opentelemetry.exporter.otlp.common.http",
)
_local = threading.local()  # .active: the WatchedExporter exporting on this thread, if any


class _HoldBack(logging.Filter):
    """Drops the exporter's records emitted inside our own export calls, keeping the last as the reason."""

    def filter(self, record: logging.LogRecord) -> bool:
        active = getattr(_local, "active", None)
        if active is None:
            return True  # somebody else's exporter: not ours to silence
        if record.levelno >= logging.WARNING and active._self_reason is None:  # the first says most
            try:
                active._self_reason = record.getMessage()
            except Exception:
                active._self_reason = str(record.msg)
        return False


_FILTER = _HoldBack()
_installed = False
_watched: weakref.WeakSet[WatchedExporter] = weakref.WeakSet()


def _install_filter() -> None:
    global _installed
    if not _installed:
        _installed = True
        for name in EXPORTER_LOGGERS:
            logging.getLogger(name).addFilter(_FILTER)


class WatchedExporter(wrapt.ObjectProxy):  # type: ignore[type-arg,misc,unused-ignore]
    """The exporter as it is, plus its endpoint's health (every other attribute passes through)."""

    def __init__(self, wrapped: Any, signal: str, endpoint: str) -> None:
        super().__init__(wrapped)
        self._self_signal = signal
        self._self_endpoint = endpoint
        self._self_failing = False
        self._self_succeeded = False
        self._self_reason: str | None = None

    def export(self, *args: Any, **kwargs: Any) -> Any:
        outer = getattr(_local, "active", None)
        _local.active = self
        self._self_reason = None
        try:
            result = self.__wrapped__.export(*args, **kwargs)
        finally:
            _local.active = outer
        self._self_observe(getattr(result, "name", None) == "SUCCESS")
        return result

    def _self_observe(self, ok: bool) -> None:
        self._self_succeeded = self._self_succeeded or ok
        if ok and self._self_failing:
            self._self_failing = False
            _log.warning("otel-genai: exporting %s to %s works again", self._self_signal, self._self_endpoint)
        elif not ok and not self._self_failing:
            self._self_failing = True
            reason = self._self_reason or "no reason given"
            refused = _connect_error(self._self_endpoint)  # once per outage: says what the logs may not
            if refused is not None and "Errno" not in reason:
                reason = f"{refused}; {reason}"
            _log.warning(
                "otel-genai: exporting %s to %s failed (%s); not logged again until it recovers",
                self._self_signal,
                self._self_endpoint,
                _short(reason),
            )

    @property
    def failing(self) -> bool:
        return bool(self._self_failing)

    def give_up_if_refused(self, reachable: Any = None) -> bool:
        """Before shutdown: give up at once if nothing listens now, unless the endpoint was healthy so far
        (the last export succeeded: no probe, the normal bounded flush)."""
        if (self._self_succeeded and not self._self_failing) or (reachable or _reachable)(
            self._self_endpoint
        ):
            return False
        try:
            self.__wrapped__.shutdown()  # aborts the retry back-off; later exports fail at once
        except Exception:
            _log.debug("otel-genai: early exporter shutdown failed", exc_info=True)
        return True

    def shutdown(self, *args: Any, **kwargs: Any) -> Any:
        outer = getattr(_local, "active", None)
        _local.active = self  # "already shut down" after give_up_if_refused is expected, not news
        try:
            return self.__wrapped__.shutdown(*args, **kwargs)
        finally:
            _local.active = outer


def watch(exporter: Any, signal: str, endpoint: str) -> WatchedExporter:
    _install_filter()
    watched = WatchedExporter(exporter, signal, endpoint)
    _watched.add(watched)
    return watched


def before_shutdown() -> None:
    """Give up at once on every failing exporter whose endpoint refuses connections (one probe each)."""
    probed: dict[tuple[str | None, int | None], bool] = {}

    def reachable(endpoint: str) -> bool:
        parts = urlsplit(endpoint)
        key = (parts.hostname, parts.port)
        if key not in probed:
            probed[key] = _reachable(endpoint)
        return probed[key]

    for watched in list(_watched):
        try:
            watched.give_up_if_refused(reachable)
        except Exception:
            _log.debug("otel-genai: checking an endpoint before shutdown failed", exc_info=True)
        _watched.discard(watched)


def _short(reason: str, limit: int = 200) -> str:
    reason = " ".join(reason.split())
    return reason if len(reason) <= limit else reason[: limit - 3] + "..."


def _connect_error(endpoint: str) -> str | None:
    """Why a TCP connection to ``endpoint`` fails (``[Errno 111] Connection refused``), None if it works."""
    try:
        host, port = _first_hop(endpoint)
        with socket.create_connection((host, port), timeout=_PROBE_TIMEOUT_S):
            return None
    except OSError as exc:
        return str(exc) or type(exc).__name__
    except Exception:
        return None  # cannot tell: treat as reachable (the normal bounded flush)


def _first_hop(endpoint: str) -> tuple[str, int]:
    """Where the exporter's TCP connection goes: the endpoint, or the HTTP(S) proxy it would use."""
    import urllib.request

    parts = urlsplit(endpoint)
    host = parts.hostname or "localhost"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        via = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        return via.hostname or host, via.port or (443 if via.scheme == "https" else 80)
    return host, port


def _reachable(endpoint: str) -> bool:
    return _connect_error(endpoint) is None


__all__ = [
    "EXPORTER_LOGGERS",
    "WatchedExporter",
    "before_shutdown",
    "watch",
]
