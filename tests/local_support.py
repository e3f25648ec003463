"""The embedded backend (store + server on a free loopback port) for tests, and raw HTTP helpers."""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from google.protobuf import json_format
from google.protobuf.message import Message

from otel_genai.local.server import LocalServer
from otel_genai.local.store import Store


@contextmanager
def backend(path: Path, host: str = "127.0.0.1", **store_kwargs: Any) -> Iterator[LocalServer]:
    store = Store(path, **store_kwargs)
    server = LocalServer(store, host=host, port=0).start()
    try:
        yield server
    finally:
        server.stop()
        store.close()


def post(
    url: str,
    path: str,
    body: bytes,
    content_type: str = "application/x-protobuf",
    headers: dict[str, str] | None = None,
    connection: http.client.HTTPConnection | None = None,
) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(url)
    conn = connection or http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    all_headers = {"content-type": content_type, "content-length": str(len(body)), **(headers or {})}
    conn.request("POST", path, body=body, headers=all_headers)
    response = conn.getresponse()
    data = response.read()
    result = response.status, {k.lower(): v for k, v in response.getheaders()}, data
    if connection is None:
        conn.close()
    return result


def get(url: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, data


def api(url: str, view: str, **params: Any) -> Any:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    status, _, body = get(url, f"/api/{view}?{query}")
    assert status == 200, body
    return json.loads(body)


def gzipped(body: bytes) -> bytes:
    return gzip.compress(body)


def otlp_json(message: Message) -> bytes:
    """OTLP/JSON as the spec writes it: protobuf's JSON mapping, but trace and span ids in hex."""

    def hexify(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: base64.b64decode(v).hex() if k in ("traceId", "spanId", "parentSpanId") else hexify(v)
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [hexify(item) for item in node]
        return node

    return json.dumps(hexify(json_format.MessageToDict(message))).encode()


def rows(store: Store, sql: str, *args: Any) -> list[sqlite3.Row]:
    store.flush()
    with store.read() as db:
        return list(db.execute(sql, args))
