"""Loopback HTTP server that replays recorded LLM provider interactions.

Tests point real clients (``openai``, ``boto3``, ``ollama``, ...) at this server so the instrumentation sees
genuine HTTP traffic, including incrementally delivered streams, without network access or API keys.
The recording format and the replay rules implemented here are described in ``tests/recordings/README.md``.
"""

from __future__ import annotations

import base64
import json
import re
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

RECORDINGS_DIR = Path(__file__).parent / "recordings"

# Where streamed bodies are cut so that each event reaches the client in its own write.
_SSE_EVENT_END = re.compile(r"(?<=\n\n)")
_NDJSON_LINE_END = re.compile(r"(?<=\n)")


@dataclass(frozen=True)
class Interaction:
    """One recorded request/response pair; ``label`` names its file and index for failure messages."""

    label: str
    request: Mapping[str, Any]
    response: Mapping[str, Any]

    @property
    def method(self) -> str:
        return str(self.request["method"])

    @property
    def path(self) -> str:
        return str(self.request["path"])


@dataclass(frozen=True)
class ReceivedRequest:
    """A request as received, so tests can assert on what the instrumented client put on the wire."""

    method: str
    path: str  # including the query string
    headers: dict[str, str]  # lower-cased names
    body: bytes
    json: Any  # the parsed body, or None if it is empty or not JSON


def _load(recording: str | Path | Mapping[str, Any]) -> list[Interaction]:
    if isinstance(recording, Mapping):
        name, data = "<recording>", recording
    else:
        path = Path(recording)
        if not path.is_absolute():
            path = RECORDINGS_DIR / path
        name, data = str(recording), json.loads(path.read_text(encoding="utf-8"))
    return [
        Interaction(f"{name}[{i}]", item["request"], item["response"])
        for i, item in enumerate(data["interactions"])
    ]


def _match_key(path: str, with_query: bool) -> tuple[str, list[tuple[str, str]]]:
    """Percent-decoded path (botocore encodes ``:`` and ``/`` in model IDs), plus the query if asked."""
    parts = urlsplit(path)
    return unquote(parts.path), sorted(parse_qsl(parts.query)) if with_query else []


def _eventstream_frames(body: bytes) -> list[bytes]:
    """Split an AWS event stream into frames; each starts with its 4-byte big-endian total length."""
    frames, start = [], 0
    while start < len(body):
        end = start + int.from_bytes(body[start : start + 4], "big")
        frames.append(body[start:end])
        start = end
    return frames


def _encode_body(response: Mapping[str, Any], headers: dict[str, str]) -> list[bytes]:
    """Return the body as the chunks to write; set the content-type in ``headers`` if the format implies one.

    Streams are cut at event boundaries so clients receive, and must parse, one event per write.
    """
    content_type = headers.get("content-type", "")
    if "json" in response:
        headers.setdefault("content-type", "application/json")
        return [json.dumps(response["json"]).encode()]
    if "text" in response:
        text: str = response["text"]
        if content_type.startswith("text/event-stream"):
            pieces = _SSE_EVENT_END.split(text)
        elif content_type.startswith("application/x-ndjson"):
            pieces = _NDJSON_LINE_END.split(text)
        else:
            pieces = [text]
        return [piece.encode("utf-8") for piece in pieces if piece]
    if "body_b64" in response:
        headers.setdefault("content-type", "application/vnd.amazon.eventstream")
        body = base64.b64decode(response["body_b64"])
        if headers["content-type"].startswith("application/vnd.amazon.eventstream"):
            return _eventstream_frames(body)
        return [body]
    return []


class ReplayServer:
    """Serve the interactions of one or more recordings, in order, on ``127.0.0.1`` over HTTP/1.1.

    A request is answered by the first unserved interaction with the same method and percent-decoded path
    (the query is ignored unless ``match_query``). A request that matches nothing gets a 599 JSON error and is
    kept in ``unmatched``. ``delay_between_chunks`` sleeps before every body write (headers go out at once),
    so time-to-first-chunk and stream durations become measurable.
    """

    def __init__(
        self,
        *recordings: str | Path | Mapping[str, Any],
        delay_between_chunks: float = 0.0,
        match_query: bool = False,
    ) -> None:
        self.delay_between_chunks = delay_between_chunks
        self.match_query = match_query
        self.requests: list[ReceivedRequest] = []  # every request received, in order
        self.unmatched: list[ReceivedRequest] = []  # those answered with 599
        self._pending = [interaction for recording in recordings for interaction in _load(recording)]
        self._lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def unserved(self) -> list[Interaction]:
        with self._lock:
            return list(self._pending)

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("ReplayServer is not running; use it as a context manager or call start()")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> ReplayServer:
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.replay = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.01,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None and self._thread is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def assert_all_served(self) -> None:
        """Fail if the client skipped a recorded call or made one that was not recorded."""
        unserved, unmatched = self.unserved, list(self.unmatched)
        if unserved or unmatched:
            lines = [f"unserved: {i.label} {i.method} {i.path}" for i in unserved]
            lines += [f"unmatched: {r.method} {r.path}" for r in unmatched]
            raise AssertionError("ReplayServer:\n" + "\n".join(lines))

    def _take(self, request: ReceivedRequest) -> Interaction | None:
        """Record the request and pop the first unserved interaction matching it, if any."""
        key = (request.method, _match_key(request.path, self.match_query))
        with self._lock:
            self.requests.append(request)
            for index, interaction in enumerate(self._pending):
                if (interaction.method, _match_key(interaction.path, self.match_query)) == key:
                    return self._pending.pop(index)
            self.unmatched.append(request)
            return None


class _HTTPServer(ThreadingHTTPServer):
    replay: ReplayServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client dropping the connection (closing a stream early, discarding a pooled one) is not an error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and small bodies go out at once, not after a 40 ms delay
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request stderr logging of ``BaseHTTPRequestHandler``."""

    def _read_body(self) -> bytes:
        # Consume the whole body, whatever its framing, so the next request on a kept-alive connection parses.
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                pass
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("content-length") or 0))

    def _handle(self) -> None:
        body = self._read_body()
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        request = ReceivedRequest(
            method=self.command,
            path=self.path,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            json=parsed,
        )
        interaction = self.server.replay._take(request)
        if interaction is None:
            message = f"ReplayServer: no unserved interaction matches {self.command} {self.path}"
            # x-should-retry stops clients such as openai from retrying the miss.
            headers = {"content-type": "application/json", "x-should-retry": "false"}
            self._respond(599, headers, [json.dumps({"error": {"message": message}}).encode()], delay=0.0)
            return
        response = interaction.response
        headers = {name.lower(): str(value) for name, value in response.get("headers", {}).items()}
        chunks = _encode_body(response, headers)
        self._respond(int(response["status"]), headers, chunks, self.server.replay.delay_between_chunks)

    def _respond(self, status: int, headers: dict[str, str], chunks: list[bytes], delay: float) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(sum(map(len, chunks))))
        if self.close_connection:
            self.send_header("connection", "close")
        self.end_headers()
        for chunk in chunks:
            if delay:
                time.sleep(delay)
            self.wfile.write(chunk)
            self.wfile.flush()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle
