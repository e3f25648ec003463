"""``otel-genai ui`` (the embedded backend) and ``otel-genai demo`` on top of it."""

from __future__ import annotations

import argparse
import errno
import os
import random
import sys
import time
from typing import Any

DEFAULT_PORT = 4318  # OTLP/HTTP's standard port: init()'s default endpoint


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any)"
    )
    parser.add_argument("--db", default=None, help="SQLite file (default $OTEL_GENAI_UI_DB or the data dir)")
    parser.add_argument("--token", default=None, help="access token off loopback ($OTEL_GENAI_UI_TOKEN)")
    parser.add_argument("--retention-hours", type=float, default=None, help="keep data this long (168)")
    parser.add_argument("--max-db-mb", type=float, default=None, help="keep the data under this size (512)")


def _open(args: argparse.Namespace, *, fallback_port: bool) -> Any:
    from .server import LocalServer
    from .store import DEFAULT_MAX_AGE_S, DEFAULT_MAX_BYTES, Store, default_path

    path = args.db or default_path()
    store = Store(
        path,
        max_age_s=args.retention_hours * 3600 if args.retention_hours else DEFAULT_MAX_AGE_S,
        max_bytes=int(args.max_db_mb * 1024 * 1024) if args.max_db_mb else DEFAULT_MAX_BYTES,
    )
    token = args.token or os.environ.get("OTEL_GENAI_UI_TOKEN") or None
    try:
        server = LocalServer(store, host=args.host, port=args.port, token=token)
    except OSError as exc:
        if not (fallback_port and exc.errno == errno.EADDRINUSE):
            store.close()
            raise
        print(f"Port {args.port} is in use; serving on a free port instead.")
        server = LocalServer(store, host=args.host, port=0, token=token)
    return server


def _announce(server: Any) -> None:
    print(f"Store:      {server.store.path}")
    print(f"OTLP/HTTP:  {server.url}  (OTEL_EXPORTER_OTLP_ENDPOINT={server.url})")
    if server.token:
        print(f'Token:      OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer%20{server.token}"')
    print(f"Dashboard:  {server.dashboard_url}")


def ui(args: argparse.Namespace) -> int:
    try:
        server = _open(args, fallback_port=False)
    except OSError as exc:
        print(f"otel-genai ui: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    print("Serving until Ctrl-C.")
    _announce(server)
    _stop_on_sigterm()
    try:
        server.serve_forever(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        server.store.close()
    return 0


def _stop_on_sigterm() -> None:
    """SIGTERM ends the server like Ctrl-C does, so the store closes cleanly."""
    import signal

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def demo(args: argparse.Namespace) -> int:
    """Start the backend, send it the demo workload, print the dashboard URL, keep serving."""
    import otel_genai

    from . import workload
    from .simulator import Simulator

    try:
        server = _open(args, fallback_port=args.port == DEFAULT_PORT)
    except OSError as exc:
        print(f"otel-genai demo: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    server.start()
    headers = {"authorization": f"Bearer {server.token}"} if server.token else None
    # The demo's own prompts are synthetic, so it records them to show the trace view's prompt/completion.
    otel_genai.init(
        endpoint=server.url,
        headers=headers,
        service_name="otel-genai-demo",
        capture_message_content="SPAN_ONLY",
        metric_export_interval=2000,
    )
    try:
        with Simulator() as sim:
            print(
                f"Simulated providers on {sim.base_url.rsplit('/v1', 1)[0]} (OpenAI, Ollama, Bedrock APIs)\n"
            )
            workload.run(sim.base_url, lambda name, text: print(f"  {name:<11} -> {_short(text)}"), ml=True)
            otel_genai.force_flush()
            print()
            if args.once:
                _announce(server)
                return 0
            print("Serving until Ctrl-C, with a little more traffic every few seconds.")
            _announce(server)  # the dashboard URL is the last line on screen
            _stop_on_sigterm()
            deadline = time.monotonic() + args.duration if args.duration else None
            try:
                while deadline is None or time.monotonic() < deadline:
                    time.sleep(min(random.uniform(3, 8), max(0.0, (deadline or 1e18) - time.monotonic())))
                    if deadline is None or time.monotonic() < deadline:
                        workload.run(sim.base_url, lambda name, text: None, ml=True)
            except KeyboardInterrupt:
                pass
    finally:
        otel_genai.shutdown()
        server.stop()
        server.store.close()
    return 0


def _short(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "..."


__all__ = [
    "DEFAULT_PORT",
    "add_server_arguments",
    "demo",
    "ui",
]
