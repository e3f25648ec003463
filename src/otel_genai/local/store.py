"""The SQLite store behind ``otel-genai ui``: one writer thread, WAL mode, bounded by age and size.

Request threads decode their bodies and hand the rows to :meth:`Store.write`; the writer thread commits
whatever is queued in one transaction and wakes the requests it stored. One writer means no lock fights
and batches that grow with the load; WAL lets the dashboard read while it writes. A transaction either
lands whole or not at all, so a crash or a bad request cannot leave half a batch behind.

Metrics are kept as sent, plus a delta view (``delta``, ``delta_count``, ``delta_sum``, ``delta_counts``):
cumulative series are differenced against their previous point, so the dashboard sums deltas whatever
temporality the SDK used.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .otlp import Decoded

_log = logging.getLogger("otel_genai.local")

DEFAULT_MAX_AGE_S = 7 * 24 * 3600
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
_CUMULATIVE = 2
_MAINTENANCE_EVERY_S = 30.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spans(
  trace_id TEXT NOT NULL, span_id TEXT NOT NULL, parent_id TEXT NOT NULL, name TEXT NOT NULL,
  kind INTEGER NOT NULL, start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL, duration_ns INTEGER NOT NULL,
  status INTEGER NOT NULL, status_message TEXT NOT NULL, service TEXT NOT NULL, scope TEXT NOT NULL,
  operation TEXT, provider TEXT, model TEXT, response_model TEXT, input_tokens INTEGER,
  output_tokens INTEGER, cost REAL, error_type TEXT, inference INTEGER NOT NULL,
  attributes TEXT NOT NULL, resource TEXT NOT NULL, events TEXT NOT NULL, links TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS spans_id ON spans(trace_id, span_id);
CREATE INDEX IF NOT EXISTS spans_start ON spans(start_ns);
CREATE INDEX IF NOT EXISTS spans_inference ON spans(
  inference, start_ns, duration_ns, status, input_tokens, output_tokens, cost, service, provider, model);
CREATE TABLE IF NOT EXISTS points(
  name TEXT NOT NULL, unit TEXT NOT NULL, kind TEXT NOT NULL, temporality INTEGER NOT NULL,
  monotonic INTEGER NOT NULL, service TEXT NOT NULL, scope TEXT NOT NULL, attributes TEXT NOT NULL,
  start_ns INTEGER NOT NULL, time_ns INTEGER NOT NULL, value, count INTEGER, sum REAL, min REAL, max REAL,
  bounds TEXT, counts TEXT, delta, delta_count INTEGER, delta_sum REAL, delta_counts TEXT);
CREATE INDEX IF NOT EXISTS points_name ON points(name, time_ns);
CREATE INDEX IF NOT EXISTS points_time ON points(time_ns);
CREATE TABLE IF NOT EXISTS logs(
  time_ns INTEGER NOT NULL, observed_ns INTEGER NOT NULL, trace_id TEXT NOT NULL, span_id TEXT NOT NULL,
  severity_number INTEGER NOT NULL, severity_text TEXT NOT NULL, event_name TEXT, body TEXT NOT NULL,
  service TEXT NOT NULL, scope TEXT NOT NULL, attributes TEXT NOT NULL, resource TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS logs_time ON logs(time_ns);
CREATE INDEX IF NOT EXISTS logs_trace ON logs(trace_id);
"""
_SPAN_INSERT = "INSERT OR REPLACE INTO spans VALUES (" + ",".join("?" * 25) + ")"
_LOG_INSERT = "INSERT INTO logs VALUES (" + ",".join("?" * 12) + ")"
_POINT_COLUMNS = [
    "name",
    "unit",
    "kind",
    "temporality",
    "monotonic",
    "service",
    "scope",
    "attributes",
    "start_ns",
    "time_ns",
    "value",
    "count",
    "sum",
    "min",
    "max",
    "bounds",
    "counts",
    "delta",
    "delta_count",
    "delta_sum",
    "delta_counts",
]
_POINT_INSERT = (
    f"INSERT INTO points({','.join(_POINT_COLUMNS)}) VALUES ({','.join(':' + c for c in _POINT_COLUMNS)})"
)
_TIME_COLUMNS = {"spans": "start_ns", "points": "time_ns", "logs": "time_ns"}


def default_path() -> Path:
    """``$OTEL_GENAI_UI_DB``, else ``$XDG_DATA_HOME/otel-genai/telemetry.db`` (``~/.local/share/...``)."""
    if os.environ.get("OTEL_GENAI_UI_DB"):
        return Path(os.environ["OTEL_GENAI_UI_DB"]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "otel-genai" / "telemetry.db"


@dataclass
class _Job:
    decoded: Decoded
    done: threading.Event
    ok: bool = False


class Store:
    """SQLite at ``path``; ``write()`` from any thread, ``read()`` for queries, ``close()`` when done."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_age_s: float = DEFAULT_MAX_AGE_S,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_age_s = max_age_s
        self.max_bytes = max_bytes
        self._queue: queue.Queue[_Job | None] = queue.Queue(maxsize=1024)
        self._last: dict[tuple[Any, ...], tuple[int, dict[str, Any]]] = {}  # cumulative series -> last point
        self._readers: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue()
        self._db = self._connect()
        self._db.execute("PRAGMA auto_vacuum=INCREMENTAL")  # only takes effect on a new file
        self._db.executescript(_SCHEMA)
        self.enforce_retention()
        self._next_maintenance = time.monotonic() + _MAINTENANCE_EVERY_S
        self._closed = False
        self._writer = threading.Thread(target=self._run, name="otel-genai-store", daemon=True)
        self._writer.start()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=30000")
        return db

    # writing

    def write(self, decoded: Decoded, timeout: float = 30.0) -> bool:
        """Store one request's rows; True once committed (False: queue full, store closed or timed out)."""
        if self._closed:
            return False
        job = _Job(decoded, threading.Event())
        try:
            self._queue.put(job, timeout=timeout)
        except queue.Full:
            return False
        return job.done.wait(timeout) and job.ok

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until everything queued so far is committed."""
        self.write(Decoded("traces"), timeout)

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            jobs = [job]
            while len(jobs) < 256:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)
                    break
                jobs.append(more)
            self._commit(jobs)
            if time.monotonic() >= self._next_maintenance:
                self._next_maintenance = time.monotonic() + _MAINTENANCE_EVERY_S
                try:
                    self.enforce_retention()
                except Exception:  # the writer thread must outlive any one pass
                    _log.warning("otel-genai ui: retention pass failed", exc_info=True)

    def _commit(self, jobs: list[_Job]) -> None:
        last = dict(self._last)
        try:
            self._db.execute("BEGIN IMMEDIATE")
            for job in jobs:
                decoded = job.decoded
                if decoded.spans:
                    self._db.executemany(_SPAN_INSERT, decoded.spans)
                if decoded.points:
                    self._db.executemany(_POINT_INSERT, [self._with_delta(p, last) for p in decoded.points])
                if decoded.logs:
                    self._db.executemany(_LOG_INSERT, decoded.logs)
            self._db.execute("COMMIT")
            self._last = last
            ok = True
        except Exception:  # a disk or database problem: answer 503 so exporters retry, keep running
            _log.warning("otel-genai ui: could not store a batch", exc_info=True)
            with suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
            ok = False
        for job in jobs:
            job.ok = ok
            job.done.set()

    @staticmethod
    def _with_delta(
        point: dict[str, Any], last: dict[tuple[Any, ...], tuple[int, dict[str, Any]]]
    ) -> dict[str, Any]:
        row = {column: point.get(column) for column in _POINT_COLUMNS}
        kind = row["kind"]
        if kind == "gauge" or row["temporality"] != _CUMULATIVE or kind == "exponential_histogram":
            row["delta"], row["delta_count"], row["delta_sum"] = row["value"], row["count"], row["sum"]
            row["delta_counts"] = row["counts"]
            return row
        key = (row["name"], row["service"], row["scope"], row["attributes"])
        previous = last.get(key)
        last[key] = (int(row["start_ns"] or 0), row)
        row["delta"], row["delta_count"], row["delta_sum"] = row["value"], row["count"], row["sum"]
        row["delta_counts"] = row["counts"]
        if previous is None or previous[0] != (row["start_ns"] or 0):
            return row  # a new series (or a restarted process): everything since its start is new
        before = previous[1]
        if kind == "sum" and row["value"] is not None and before["value"] is not None:
            if row["value"] >= before["value"] or not row["monotonic"]:
                row["delta"] = row["value"] - before["value"]
        elif kind == "histogram" and (before["count"] or 0) <= (row["count"] or 0):
            row["delta_count"] = (row["count"] or 0) - (before["count"] or 0)
            row["delta_sum"] = (row["sum"] or 0.0) - (before["sum"] or 0.0)
            now, then = json.loads(row["counts"] or "[]"), json.loads(before["counts"] or "[]")
            if len(now) == len(then):
                row["delta_counts"] = json.dumps([a - b for a, b in zip(now, then, strict=True)])
        return row

    # retention

    def enforce_retention(self) -> None:
        """Drop data older than ``max_age_s``, then the oldest quarter while over ``max_bytes``."""
        try:
            cutoff = time.time_ns() - int(self.max_age_s * 1e9)
            for table, column in _TIME_COLUMNS.items():
                self._db.execute(f"DELETE FROM {table} WHERE {column} < ?", (cutoff,))
            for _ in range(8):
                if self.used_bytes() <= self.max_bytes:
                    break
                for table, column in _TIME_COLUMNS.items():
                    self._db.execute(
                        f"DELETE FROM {table} WHERE {column} <= (SELECT {column} FROM {table}"
                        f" ORDER BY {column} LIMIT 1 OFFSET (SELECT COUNT(*) / 4 FROM {table}))"
                    )
            self._db.execute("PRAGMA incremental_vacuum")
            self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error:
            _log.warning("otel-genai ui: retention pass failed", exc_info=True)

    def used_bytes(self) -> int:
        page_size, pages, free = (
            self._db.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("page_size", "page_count", "freelist_count")
        )
        return int(page_size * (pages - free))

    # reading

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A pooled read-only connection (WAL readers never block the writer)."""
        try:
            db = self._readers.get_nowait()
        except queue.Empty:
            db = sqlite3.connect(
                f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30, check_same_thread=False
            )
            db.row_factory = sqlite3.Row
        try:
            yield db
        finally:
            self._readers.put(db)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._writer.join(timeout=30)
        self._db.close()
        while not self._readers.empty():
            self._readers.get_nowait().close()


__all__ = [
    "DEFAULT_MAX_AGE_S",
    "DEFAULT_MAX_BYTES",
    "Store",
    "default_path",
]
