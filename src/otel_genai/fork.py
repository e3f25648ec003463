"""Forked processes: children start empty, and multiprocessing children deliver before ``os._exit``.

Why: after ``os.fork`` a child inherits the parent's unexported metric points and span counts, so every
child re-exported the parent's points (3 calls, 2 idle children: 9 duration points) and reported the
parent's spans as lost. And ``multiprocessing``'s fork start method ends its children with ``os._exit``
(``Pool`` even with SIGTERM), so no ``atexit`` flush ran there and nothing they recorded arrived.

- After a fork, in the child: our metric aggregation is emptied (with a new lock, in case another thread
  held it at fork time) and the span delivery counts restart at zero. The SDK itself empties the span
  queue and restarts its export threads.
- Just before a fork, if ``multiprocessing`` is imported, its ``BaseProcess._bootstrap`` (which runs the
  child's target, then returns to ``os._exit``) is wrapped once: after the target, the child shuts its
  pipeline down (bounded, as at interpreter exit). A SIGTERM (``Pool.terminate()``, also at the end of
  ``with Pool()``) does the same before the child dies of it, unless the application set its own handler.
  This covers ``multiprocessing.Process``, ``Pool`` and ``concurrent.futures.ProcessPoolExecutor``.
- In a forked child ``os._exit`` flushes first (bounded): forking servers such as
  ``socketserver.ForkingMixIn`` end each child that way. Forking servers whose workers exit normally
  (gunicorn) need nothing more: the inherited ``atexit`` flush runs in each worker and now exports only
  that worker's telemetry.

Spans and points recorded by SDK instruments of a MeterProvider that is not ours (or when two metric
exporters are configured) are left to the SDK.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from typing import Any, NoReturn

_log = logging.getLogger("otel_genai")
_pipeline: Any = None
_timeout_s = 5.0
_registered = False
_flushing = False  # this process's pipeline shutdown has begun


def install(pipeline: Any, exit_timeout_s: float) -> None:
    """Make ``pipeline`` the one forked children reset and flush; registers the fork hooks once."""
    global _pipeline, _timeout_s, _registered
    _pipeline, _timeout_s = pipeline, exit_timeout_s
    if not _registered and hasattr(os, "register_at_fork"):
        _registered = True
        os.register_at_fork(before=_before_fork, after_in_child=_after_in_child)


def _before_fork() -> None:
    if _pipeline is not None and "multiprocessing.process" in sys.modules:
        try:
            _wrap_bootstrap(sys.modules["multiprocessing.process"].BaseProcess)
        except Exception:
            _log.debug("otel-genai: wrapping multiprocessing's bootstrap failed", exc_info=True)


def _after_in_child() -> None:
    global _flushing
    _flushing = False
    pipeline = _pipeline
    if pipeline is None:
        return
    try:
        buffer = getattr(pipeline.meter_provider, "_otel_genai_metrics", None)
        if buffer is not None:
            buffer.reset_after_fork()
        for counter in pipeline.delivery:
            counter.reset()
        if os._exit is not _exit_after_flush:  # forking servers end their children with os._exit too
            os._exit = _exit_after_flush
    except Exception:
        _log.debug("otel-genai: resetting telemetry after fork failed", exc_info=True)


_real_exit = os._exit


def _exit_after_flush(status: int) -> NoReturn:
    """``os._exit`` in a forked child: deliver what the child recorded first (bounded), then exit."""
    flush_before_exit()
    _real_exit(status)


def _wrap_bootstrap(process_class: Any) -> None:
    original = process_class._bootstrap
    if getattr(original, "_otel_genai_wrapped", False):
        return

    def _bootstrap(self: Any, *args: Any, **kwargs: Any) -> Any:
        _flush_on_sigterm()
        try:
            return original(self, *args, **kwargs)
        finally:
            flush_before_exit()  # os._exit follows: atexit will not run

    _bootstrap._otel_genai_wrapped = True  # type: ignore[attr-defined]
    _bootstrap.__wrapped__ = original  # type: ignore[attr-defined]
    process_class._bootstrap = _bootstrap


def flush_before_exit() -> None:
    """Shut the pipeline down now, within the exit bound; a no-op once begun."""
    global _flushing
    pipeline = _pipeline
    if pipeline is not None and not _flushing:
        _flushing = True
        try:
            pipeline.shutdown(_timeout_s)
        except Exception:
            _log.debug("otel-genai: flushing a child process failed", exc_info=True)


def _flush_on_sigterm() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return  # the application (or multiprocessing) decided what SIGTERM does

    def on_sigterm(signum: int, frame: Any) -> None:
        signal.signal(signum, signal.SIG_DFL)
        if _flushing:
            return  # the child is already exiting and flushing (this handler interrupted that): let it end
        flush_before_exit()  # bounded: shutdown runs in threads joined with a deadline
        os.kill(os.getpid(), signum)  # die of the signal, as the child would have without us

    signal.signal(signal.SIGTERM, on_sigterm)


__all__ = [
    "flush_before_exit",
    "install",
]
