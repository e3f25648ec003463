"""One port for everything: OTLP/HTTP on ``/v1/{traces,metrics,logs}``, the dashboard on ``/``, its JSON API
on ``/api/*``.

Security: it binds 127.0.0.1 unless told otherwise. On loopback it answers only requests whose ``Host`` is
a loopback name (no DNS rebinding from a web page). On any other address every request, ingest and UI
alike, must carry the token: ``Authorization: Bearer <token>``, ``?token=<token>`` (the dashboard link;
it then sets a same-site cookie) or that cookie.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import json
import logging
import secrets
import sys
import threading
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import api, otlp
from .store import Store

_log = logging.getLogger("otel_genai.local")

_SIGNALS = {"/v1/traces": "traces", "/v1/metrics": "metrics", "/v1/logs": "logs"}
_STATIC_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
}
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
_COOKIE = "otel_genai_token"
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
# gRPC status codes in OTLP error bodies
_RPC_CODES = {400: 3, 404: 5, 405: 12, 411: 3, 413: 8, 415: 3, 401: 16, 403: 7, 500: 13, 503: 14}


def _host_name(header: str) -> str:
    header = header.strip().lower()
    if header.startswith("["):
        return header[: header.find("]") + 1]
    return header.rsplit(":", 1)[0]


def is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class LocalServer(ThreadingHTTPServer):
    """The embedded backend; ``serve_forever()`` or ``start()`` (a daemon thread) and ``stop()``."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(
        self, store: Store, host: str = "127.0.0.1", port: int = 4318, token: str | None = None
    ) -> None:
        self.store = store
        self.loopback = is_loopback(host)
        self.token = token or (None if self.loopback else secrets.token_urlsafe(24))
        self._thread: threading.Thread | None = None
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = str(host)
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else (f"[{host}]" if ":" in host else host)
        return f"http://{shown}:{port}"

    @property
    def dashboard_url(self) -> str:
        return f"{self.url}/?token={self.token}" if self.token else f"{self.url}/"

    def start(self) -> LocalServer:
        self._thread = threading.Thread(
            target=self.serve_forever, args=(0.1,), name="otel-genai-ui", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
            self._thread = None
        self.server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client hanging up is no error of ours
            _log.debug("otel-genai ui: request failed", exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 120  # seconds a connection may sit idle or half-sent before its thread gives up
    server: LocalServer
    server_version = "otel-genai"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # access

    def _allowed(self) -> bool:
        token = self.server.token
        if token is None:
            return is_loopback(_host_name(self.headers.get("host") or ""))
        offered: list[str] = []
        auth = self.headers.get("authorization") or ""
        if auth.lower().startswith("bearer "):
            offered.append(auth[7:].strip())
        offered += parse_qs(urlsplit(self.path).query).get("token", [])
        cookie = SimpleCookie()
        with contextlib.suppress(Exception):
            cookie.load(self.headers.get("cookie") or "")
        if _COOKIE in cookie:
            offered.append(cookie[_COOKIE].value)
        return any(hmac.compare_digest(value.encode(), token.encode()) for value in offered)

    def _deny(self) -> bool:
        if self._allowed():
            return False
        self._send(
            401, b"token required\n", "text/plain; charset=utf-8", extra={"www-authenticate": "Bearer"}
        )
        return True

    # OTLP

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        signal = _SIGNALS.get(path)
        if self._deny():
            self._drain()
            return
        if signal is None:
            self._drain()
            self._otlp_error(404, f"no OTLP endpoint at {path}", otlp.PROTOBUF)
            return
        kind = otlp.PROTOBUF
        try:
            kind = otlp.media_type(self.headers.get("content-type") or "")
            body = self._body()
            decoded = otlp.decode(signal, body, kind, self.headers.get("content-encoding") or "")
        except otlp.BadRequest as exc:
            self._otlp_error(exc.status, exc.message, kind)
            return
        if not self.server.store.write(decoded):
            self._otlp_error(503, "store busy or unavailable, retry later", kind, {"retry-after": "2"})
            return
        self._send(200, otlp.response(signal, decoded.rejected, decoded.error_message, kind), kind)

    def _body(self) -> bytes:
        if (self.headers.get("transfer-encoding") or "").lower() == "chunked":
            self.close_connection = True
            raise otlp.BadRequest(411, "chunked bodies are not accepted; send content-length")
        try:
            length = int(self.headers.get("content-length") or "")
        except ValueError:
            self.close_connection = True
            raise otlp.BadRequest(411, "content-length required") from None
        if length < 0:
            self.close_connection = True
            raise otlp.BadRequest(400, "negative content-length")
        if length > otlp.MAX_BODY_BYTES:
            self.close_connection = True  # never read it: answer and hang up
            raise otlp.BadRequest(413, f"body of {length} bytes exceeds the limit of {otlp.MAX_BODY_BYTES}")
        body = self.rfile.read(length)
        if len(body) != length:
            self.close_connection = True
            raise otlp.BadRequest(400, "body shorter than its content-length")
        return body

    def _drain(self) -> None:
        try:
            length = int(self.headers.get("content-length") or 0)
        except ValueError:
            length = -1
        if 0 <= length <= otlp.MAX_BODY_BYTES:
            self.rfile.read(length)
        else:
            self.close_connection = True

    def _otlp_error(self, status: int, message: str, kind: str, extra: dict[str, str] | None = None) -> None:
        body = otlp.status_body(_RPC_CODES.get(status, 2), message, kind)
        self._send(status, body, kind, extra=extra)

    # dashboard

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if self._deny():
            return
        if parts.path in _SIGNALS:
            self._otlp_error(405, "OTLP endpoints take POST", otlp.PROTOBUF, {"allow": "POST"})
            return
        if parts.path == "/favicon.ico":
            self._send(204, b"", "image/x-icon")
            return
        if parts.path.startswith("/api/"):
            self._api(parts.path[5:], parse_qs(parts.query))
            return
        name = "index.html" if parts.path == "/" else parts.path.removeprefix("/static/")
        if parts.path != "/" and not parts.path.startswith("/static/"):
            self._send(404, b"not found\n", "text/plain; charset=utf-8")
            return
        data = _static(name)
        if data is None:
            self._send(404, b"not found\n", "text/plain; charset=utf-8")
            return
        extra = {"cache-control": "no-cache"}
        token = self.server.token
        if parts.path == "/" and token is not None:
            extra["set-cookie"] = f"{_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"
        self._send(
            200, data, _STATIC_TYPES.get("." + name.rsplit(".", 1)[-1], "application/octet-stream"), extra
        )

    def _api(self, name: str, query: dict[str, list[str]]) -> None:
        try:
            result = api.query(self.server.store, name, {k: v[-1] for k, v in query.items()})
        except api.NotFound:
            self._send(404, b'{"error":"not found"}', "application/json")
            return
        except Exception:
            _log.warning("otel-genai ui: API %s failed", name, exc_info=True)
            self._send(500, b'{"error":"query failed"}', "application/json")
            return
        body = json.dumps(result, separators=(",", ":"), allow_nan=False)  # strict JSON for JSON.parse
        self._send(200, body.encode(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.send_header("x-content-type-options", "nosniff")
        self.send_header("referrer-policy", "no-referrer")
        if content_type.startswith("text/html"):
            self.send_header("content-security-policy", _CSP)
            self.send_header("x-frame-options", "DENY")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        if self.close_connection:
            self.send_header("connection", "close")
        self.end_headers()
        self.wfile.write(body)


_STATIC_CACHE: dict[str, bytes | None] = {}


def _static(name: str) -> bytes | None:
    """A file of the packaged ``static/`` folder by plain name (no paths, so no traversal)."""
    if name not in _STATIC_CACHE:
        data = None
        if name and "/" not in name and "\\" not in name and not name.startswith("."):
            resource = resources.files("otel_genai.local").joinpath("static").joinpath(name)
            if resource.is_file():
                data = resource.read_bytes()
        if data is not None:
            _STATIC_CACHE[name] = data
        return data
    return _STATIC_CACHE[name]


__all__ = [
    "LocalServer",
    "is_loopback",
]
