"""The dashboard's JSON API: one function per view, each a few SQL queries over the store.

Every view takes ``range`` (seconds back from ``to``, default now) and ``service``, ``provider``, ``model``
filters.
"Requests" are inference spans (chat, completions, embeddings, ...: not workflow, agent or tool spans).
Percentiles are exact (nearest rank over the spans' durations).
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from .store import Store

_BUCKETS = 60
_ERROR = 2  # span status code
_MAX_NS = 2**63 - 1
_MAX_RANGE_S = 100 * 365 * 86400


class NotFound(Exception):
    pass


class _Scope:
    """The time range and filters of one API call, as SQL."""

    def __init__(self, params: dict[str, str]) -> None:
        now = time.time_ns()
        self.to = min(max(0, _int(params.get("to"), now)), _MAX_NS)
        self.span = min(max(1, _int(params.get("range"), 3600)), _MAX_RANGE_S) * 1_000_000_000
        self.start = self.to - self.span
        self.bucket = max(1, self.span // _BUCKETS)
        self.filters = {k: params[k] for k in ("service", "provider", "model") if params.get(k)}

    def where(self, time_column: str = "start_ns", *, inference: bool = True) -> tuple[str, list[Any]]:
        clauses = [f"{time_column} >= ?", f"{time_column} <= ?"]
        args: list[Any] = [self.start, self.to]
        if inference:
            clauses.insert(0, "inference = 1")
        for column, value in self.filters.items():
            clauses.append(f"{column} = ?")
            args.append(value)
        return " AND ".join(clauses), args

    def slot(self, time_ns: int) -> int:
        return min(_BUCKETS - 1, max(0, (time_ns - self.start) // self.bucket))

    def axis(self) -> list[float]:
        return [(self.start + i * self.bucket) / 1e9 for i in range(_BUCKETS)]


def attr(key: str) -> str:
    """SQL for one span attribute; ``instr`` first, so rows without the key skip the JSON parse."""
    return f"""(CASE WHEN instr(attributes, '"{key}"') > 0 THEN json_extract(attributes, '$."{key}"') END)"""


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        return default


def query(store: Store, name: str, params: dict[str, str]) -> Any:
    view = _VIEWS.get(name)
    if view is None:
        raise NotFound(name)
    with store.read() as db:
        return view(db, _Scope(params), params)


def percentile(sorted_values: list[int], p: float) -> int | None:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    return sorted_values[max(0, math.ceil(p * len(sorted_values)) - 1)]


def _filters(db: sqlite3.Connection, scope: _Scope, params: dict[str, str]) -> dict[str, Any]:
    """The values each filter can take in the time range (not over the whole store: the dashboard asks on
    every refresh, and the range's index keeps that a short read however much is stored)."""
    out: dict[str, Any] = {}
    for column in ("service", "provider", "model"):
        rows = db.execute(
            f"SELECT DISTINCT {column} FROM spans WHERE start_ns >= ? AND start_ns <= ?"
            f" AND {column} IS NOT NULL ORDER BY 1",
            (scope.start, scope.to),
        )
        out[column] = [row[0] for row in rows]
    return out


def _overview(db: sqlite3.Connection, scope: _Scope, params: dict[str, str]) -> dict[str, Any]:
    where, args = scope.where()
    totals = db.execute(
        "SELECT COUNT(*), TOTAL(input_tokens), TOTAL(output_tokens), COALESCE(SUM(status = 2), 0),"
        f" TOTAL(cost), AVG(duration_ns), COUNT(cost) FROM spans WHERE {where}",
        args,
    ).fetchone()
    durations = [
        row[0] for row in db.execute(f"SELECT duration_ns FROM spans WHERE {where} ORDER BY 1", args)
    ]
    groups = db.execute(
        "SELECT service, provider, model, COUNT(*), TOTAL(input_tokens), TOTAL(output_tokens),"
        f" AVG(duration_ns), COALESCE(SUM(status = 2), 0), TOTAL(cost), COUNT(cost) FROM spans WHERE {where}"
        " GROUP BY service, provider, model ORDER BY 4 DESC",
        args,
    ).fetchall()
    requests = [0] * _BUCKETS
    errors = [0] * _BUCKETS
    for start, status in db.execute(f"SELECT start_ns, status FROM spans WHERE {where}", args):
        requests[scope.slot(start)] += 1
        errors[scope.slot(start)] += status == _ERROR
    return {
        "requests": totals[0],
        "input_tokens": int(totals[1]),
        "output_tokens": int(totals[2]),
        "errors": totals[3],
        "cost": totals[4] if totals[6] else None,
        "avg_ms": _ms(totals[5]),
        "p50_ms": _ms(percentile(durations, 0.50)),
        "p90_ms": _ms(percentile(durations, 0.90)),
        "p95_ms": _ms(percentile(durations, 0.95)),
        "groups": [
            {
                "service": g[0],
                "provider": g[1],
                "model": g[2],
                "requests": g[3],
                "input_tokens": int(g[4]),
                "output_tokens": int(g[5]),
                "avg_ms": _ms(g[6]),
                "errors": g[7],
                "cost": g[8] if g[9] else None,
            }
            for g in groups
        ],
        "series": {"t": scope.axis(), "requests": requests, "errors": errors},
    }


def _ms(nanos: float | None) -> float | None:
    return None if nanos is None else round(nanos / 1e6, 3)


def _per_model(
    db: sqlite3.Connection, scope: _Scope, sql_value: str, *, average: bool, extra_where: str = ""
) -> dict[str, Any]:
    """A time series per model: the sum (or mean) of ``sql_value`` per bucket."""
    where, args = scope.where()
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0] * _BUCKETS)
    counts: dict[str, list[int]] = defaultdict(lambda: [0] * _BUCKETS)
    rows = db.execute(
        f"SELECT COALESCE(model, '(none)'), start_ns, {sql_value} FROM spans WHERE {where}{extra_where}", args
    )
    for model, start, value in rows:
        if value is None:
            continue
        slot = scope.slot(start)
        sums[model][slot] += value
        counts[model][slot] += 1
    series: dict[str, list[float | None]] = {}
    for model, values in sums.items():
        if average:
            series[model] = [v / c if c else None for v, c in zip(values, counts[model], strict=False)]
        else:
            series[model] = list(values)
    return {"t": scope.axis(), "series": series}


_TTFT = attr("gen_ai.response.time_to_first_chunk")


def _traffic(db: sqlite3.Connection, scope: _Scope, params: dict[str, str]) -> dict[str, Any]:
    where, args = scope.where()
    latency = []
    for (model,) in db.execute(f"SELECT DISTINCT COALESCE(model, '(none)') FROM spans WHERE {where}", args):
        durations = [
            row[0]
            for row in db.execute(
                f"SELECT duration_ns FROM spans WHERE {where} AND COALESCE(model, '(none)') = ? ORDER BY 1",
                [*args, model],
            )
        ]
        ttft = db.execute(
            f"SELECT AVG({_TTFT}) FROM spans WHERE {where} AND COALESCE(model, '(none)') = ?",
            [*args, model],
        ).fetchone()[0]
        latency.append(
            {
                "model": model,
                "requests": len(durations),
                "p50_ms": _ms(percentile(durations, 0.5)),
                "p95_ms": _ms(percentile(durations, 0.95)),
                "ttft_ms": None if ttft is None else round(ttft * 1000, 3),
            }
        )
    return {
        "requests": _per_model(db, scope, "1", average=False),
        "duration_ms": _per_model(db, scope, "duration_ns / 1e6", average=True),
        "ttft_ms": _per_model(
            db,
            scope,
            f"{_TTFT} * 1000",
            average=True,
        ),
        "latency": latency,
    }


def _http_class(attributes: dict[str, Any], error_type: str | None) -> str:
    status = attributes.get("http.response.status_code")
    if status is None and error_type and error_type.isdigit():
        status = error_type
    try:
        return f"{int(status) // 100}xx" if status is not None else "no HTTP status"
    except (TypeError, ValueError):
        return "no HTTP status"


def _errors(db: sqlite3.Connection, scope: _Scope, params: dict[str, str]) -> dict[str, Any]:
    where, args = scope.where()
    total = [0] * _BUCKETS
    failed = [0] * _BUCKETS
    by_type: dict[str, int] = defaultdict(int)
    by_class: dict[str, int] = defaultdict(int)
    recent: list[dict[str, Any]] = []
    rows = db.execute(
        f"SELECT start_ns, status, error_type, attributes, trace_id, name, status_message, model FROM spans"
        f" WHERE {where} ORDER BY start_ns DESC",
        args,
    )
    for start, status, error_type, attributes, trace_id, name, message, model in rows:
        slot = scope.slot(start)
        total[slot] += 1
        if status != _ERROR:
            continue
        failed[slot] += 1
        by_type[error_type or "(unset)"] += 1
        by_class[_http_class(json.loads(attributes), error_type)] += 1
        if len(recent) < 50:
            recent.append(
                {
                    "trace_id": trace_id,
                    "name": name,
                    "error_type": error_type,
                    "message": message,
                    "model": model,
                    "time": start / 1e9,
                }
            )
    return {
        "t": scope.axis(),
        "rate": [f / n if n else None for f, n in zip(failed, total, strict=False)],
        "errors": sum(failed),
        "requests": sum(total),
        "by_type": sorted(by_type.items(), key=lambda kv: -kv[1]),
        "by_class": sorted(by_class.items(), key=lambda kv: -kv[1]),
        "recent": recent,
    }


_CACHE_READ = attr("gen_ai.usage.cache_read.input_tokens")
_CACHE_WRITE = attr("gen_ai.usage.cache_creation.input_tokens")
_SAVINGS = attr("gen_ai.usage.cache_savings")


def _cost(db: sqlite3.Connection, scope: _Scope, params: dict[str, str]) -> dict[str, Any]:
    where, args = scope.where()
    rows = db.execute(
        f"SELECT COALESCE(model, '(none)'), COUNT(*), TOTAL(input_tokens), TOTAL(output_tokens), TOTAL(cost),"
        f" COUNT(cost), TOTAL({_CACHE_READ}), TOTAL({_CACHE_WRITE}), TOTAL({_SAVINGS}), COUNT({_SAVINGS})"
        f" FROM spans WHERE {where} GROUP BY 1 ORDER BY 5 DESC, 2 DESC",
        args,
    ).fetchall()
    models = [
        {
            "model": r[0],
            "requests": r[1],
            "input_tokens": int(r[2]),
            "output_tokens": int(r[3]),
            "cost": r[4] if r[5] else None,
            "cache_read_tokens": int(r[6]),
            "cache_write_tokens": int(r[7]),
            "savings": r[8] if r[9] else None,
        }
        for r in rows
    ]
    input_tokens = sum(m["input_tokens"] for m in models)
    cache_read = sum(m["cache_read_tokens"] for m in models)
    priced = [m["cost"] for m in models if m["cost"] is not None]
    saved = [m["savings"] for m in models if m["savings"] is not None]
    return {
        "cost": sum(priced) if priced else None,
        "savings": sum(saved) if saved else None,
        "cache_hit_ratio": cache_read / input_tokens if input_tokens and cache_read else None,
        "cache_read_tokens": cache_read,
        "input_tokens": input_tokens,
        "models": models,
        "over_time": _per_model(db, scope, "cost", average=False, extra_where=" AND cost IS NOT NULL"),
        "counters": _counters(db, scope, COST_COUNTERS, "gen_ai.token.type"),
    }


def _guard(name: str) -> str:
    return attr(f"gen_ai.guardrail.{name}")


COST_COUNTERS = ("gen_ai.client.cost", "gen_ai.client.cost.savings", "gen_ai.client.token.cache")
GUARDRAIL_COUNTERS = ("gen_ai.client.guardrail.executions", "gen_ai.client.guardrail.activations")


def _counters(db: sqlite3.Connection, scope: _Scope, names: tuple[str, ...], by: str) -> list[list[Any]]:
    """[name, value of the ``by`` attribute, sum of deltas] for the names.md counters, from the metrics."""
    marks = ",".join("?" * len(names))
    return [
        list(row)
        for row in db.execute(
            f"SELECT name, json_extract(attributes, ?), TOTAL(delta) FROM points WHERE name IN ({marks})"
            " AND time_ns >= ? AND time_ns <= ? GROUP BY 1, 2 ORDER BY 1, 2",
            (f'$."{by}"', *names, scope.start, scope.to),
        )
    ]


def _guardrails(db: sqlite3.Connection, scope: _Scope, params: dict[str, str]) -> dict[str, Any]:
    where, args = scope.where(inference=False)
    configured, intervened = db.execute(
        f"SELECT COALESCE(SUM({_guard('configured')} = 1), 0),"
        f" COALESCE(SUM({_guard('intervened')} = 1), 0) FROM spans WHERE {where}",
        args,
    ).fetchone()
    blocked = dict(
        db.execute(
            f"SELECT {_guard('blocked')}, COUNT(*) FROM spans WHERE {where}"
            f" AND {_guard('blocked')} IS NOT NULL GROUP BY 1",
            args,
        ).fetchall()
    )
    activations = db.execute(
        "SELECT value, COUNT(*) FROM spans,"
        " json_each(spans.attributes, '$.\"gen_ai.guardrail.activations\"')"
        f" WHERE {where} AND json_type(spans.attributes, '$.\"gen_ai.guardrail.activations\"') = 'array'"
        " GROUP BY 1 ORDER BY 2 DESC",
        args,
    ).fetchall()
    over_time = [0] * _BUCKETS
    for (start,) in db.execute(
        f"SELECT start_ns FROM spans WHERE {where} AND {_guard('intervened')} = 1", args
    ):
        over_time[scope.slot(start)] += 1
    return {
        "executions": configured,
        "interventions": intervened,
        "blocked_input": blocked.get("input", 0),
        "filtered_output": blocked.get("output", 0),
        "activations": [list(row) for row in activations],
        "t": scope.axis(),
        "interventions_over_time": over_time,
        "counters": _counters(db, scope, GUARDRAIL_COUNTERS, "gen_ai.guardrail.type"),
    }


def _traces(db: sqlite3.Connection, scope: _Scope, params: dict[str, str]) -> dict[str, Any]:
    where, args = scope.where(inference=False)
    status = params.get("status")
    if status == "error":
        where += " AND status = 2"
    elif status == "ok":
        where += " AND trace_id NOT IN (SELECT trace_id FROM spans WHERE status = 2)"
    text = params.get("q")
    if text:
        where += " AND (name LIKE ? ESCAPE '\\' OR attributes LIKE ? ESCAPE '\\' OR trace_id = ?)"
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        args += [pattern, pattern, text.lower()]
    limit = min(500, max(1, _int(params.get("limit"), 200)))
    rows = db.execute(
        "SELECT s.trace_id, MIN(s.start_ns) AS t0, MAX(s.end_ns), COUNT(*), COALESCE(SUM(s.status = 2), 0),"
        " TOTAL(s.input_tokens), TOTAL(s.output_tokens), TOTAL(s.cost), COUNT(s.cost),"
        " GROUP_CONCAT(DISTINCT s.model), GROUP_CONCAT(DISTINCT s.operation),"
        " GROUP_CONCAT(DISTINCT s.service)"
        f" FROM spans s WHERE s.trace_id IN (SELECT trace_id FROM spans WHERE {where})"
        " GROUP BY s.trace_id ORDER BY t0 DESC LIMIT ?",
        [*args, limit],
    ).fetchall()
    traces = []
    for r in rows:
        root = db.execute(
            "SELECT name FROM spans WHERE trace_id = ? ORDER BY (parent_id = '') DESC, start_ns LIMIT 1",
            (r[0],),
        ).fetchone()
        traces.append(
            {
                "trace_id": r[0],
                "root": root[0] if root else "",
                "start": r[1] / 1e9,
                "duration_ms": _ms(r[2] - r[1]),
                "spans": r[3],
                "errors": r[4],
                "input_tokens": int(r[5]),
                "output_tokens": int(r[6]),
                "cost": r[7] if r[8] else None,
                "models": r[9] or "",
                "operations": r[10] or "",
                "services": r[11] or "",
            }
        )
    return {"traces": traces}


def _trace(db: sqlite3.Connection, scope: _Scope, params: dict[str, str]) -> dict[str, Any]:
    trace_id = (params.get("id") or "").lower()
    rows = db.execute(
        "SELECT span_id, parent_id, name, kind, start_ns, end_ns, status, status_message, service, scope,"
        " attributes, resource, events, links FROM spans WHERE trace_id = ? ORDER BY start_ns",
        (trace_id,),
    ).fetchall()
    if not rows:
        raise NotFound(trace_id)
    spans = [
        {
            "span_id": r[0],
            "parent_id": r[1],
            "name": r[2],
            "kind": r[3],
            "start_ns": r[4],
            "end_ns": r[5],
            "status": r[6],
            "status_message": r[7],
            "service": r[8],
            "scope": r[9],
            "attributes": json.loads(r[10]),
            "resource": json.loads(r[11]),
            "events": json.loads(r[12]),
            "links": json.loads(r[13]),
        }
        for r in rows
    ]
    logs = [
        {
            "span_id": r[0],
            "time_ns": r[1],
            "event_name": r[2],
            "severity": r[3],
            "body": json.loads(r[4]),
            "attributes": json.loads(r[5]),
        }
        for r in db.execute(
            "SELECT span_id, time_ns, event_name, severity_text, body, attributes FROM logs"
            " WHERE trace_id = ? ORDER BY time_ns",
            (trace_id,),
        )
    ]
    return {"trace_id": trace_id, "spans": spans, "logs": logs}


def _metric_series(
    db: sqlite3.Connection, scope: _Scope, name: str, group_by: str, how: str
) -> dict[str, list[float | None]]:
    """Per ``group_by`` value: ``how`` = "sum" (counter deltas), "last" (gauge), "mean" (histogram)."""
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0] * _BUCKETS)
    counts: dict[str, list[float]] = defaultdict(lambda: [0.0] * _BUCKETS)
    last: dict[str, list[float | None]] = defaultdict(lambda: [None] * _BUCKETS)
    rows = db.execute(
        "SELECT time_ns, json_extract(attributes, ?), delta, delta_count, delta_sum FROM points"
        " WHERE name = ? AND time_ns >= ? AND time_ns <= ? ORDER BY time_ns",
        (f'$."{group_by}"', name, scope.start, scope.to),
    )
    for time_ns, key, delta, delta_count, delta_sum in rows:
        key = str(key if key is not None else "(all)")
        slot = scope.slot(time_ns)
        if how == "mean":
            sums[key][slot] += delta_sum or 0.0
            counts[key][slot] += delta_count or 0
        elif how == "sum":
            sums[key][slot] += delta or 0
        else:
            last[key][slot] = delta
    if how == "mean":
        return {k: [s / c if c else None for s, c in zip(v, counts[k], strict=True)] for k, v in sums.items()}
    if how == "sum":
        return {k: list(v) for k, v in sums.items()}
    return dict(last)


def _ml(db: sqlite3.Connection, scope: _Scope, params: dict[str, str]) -> dict[str, Any]:
    keras: dict[str, list[list[Any]]] = defaultdict(list)
    rows = db.execute(
        "SELECT name, json_extract(attributes, '$.model'), json_extract(attributes, '$.stage'), time_ns,"
        " delta FROM points WHERE kind = 'gauge' AND name LIKE 'keras.%' AND time_ns >= ? AND time_ns <= ?"
        " AND name != 'keras.epoch.throughput'"  # samples/s would flatten the loss/accuracy curves
        " ORDER BY time_ns",
        (scope.start, scope.to),
    )
    for name, model, stage, time_ns, value in rows:
        label = f"{name} [{model or '-'}{'/' + stage if stage else ''}]"
        keras[label].append([time_ns / 1e9, value])
    epochs = db.execute(
        "SELECT COUNT(*) FROM spans WHERE name = 'epoch' AND start_ns >= ? AND start_ns <= ?",
        (scope.start, scope.to),
    ).fetchone()[0]
    drift = db.execute(
        "SELECT json_extract(attributes, '$.model'), json_extract(attributes, '$.feature'), delta,"
        " MAX(time_ns) FROM points WHERE name = 'ml.model.drift' AND time_ns >= ? AND time_ns <= ?"
        " GROUP BY 1, 2",
        (scope.start, scope.to),
    ).fetchall()
    served = {
        "predictions": _metric_series(db, scope, "ml.model.predictions", "model", "sum"),
        "duration_s": _metric_series(db, scope, "ml.model.prediction.duration", "model", "mean"),
        "confidence": _metric_series(db, scope, "ml.model.confidence", "model", "mean"),
        "errors": _metric_series(db, scope, "ml.model.errors", "model", "sum"),
        "rejected": _metric_series(db, scope, "ml.model.input.rejected", "model", "sum"),
    }
    totals = {
        key: sum(v or 0 for s in series.values() for v in s)
        for key, series in served.items()
        if key in ("predictions", "errors", "rejected")
    }
    return {
        "t": scope.axis(),
        "keras": dict(keras),
        "epochs": epochs,
        "served": served,
        "totals": totals,
        "drift": [{"model": r[0], "feature": r[1], "value": r[2]} for r in drift],
        "has_data": bool(keras or epochs or drift or any(served.values())),
    }


_VIEWS: dict[str, Callable[[sqlite3.Connection, _Scope, dict[str, str]], Any]] = {
    "filters": _filters,
    "overview": _overview,
    "traffic": _traffic,
    "errors": _errors,
    "cost": _cost,
    "guardrails": _guardrails,
    "traces": _traces,
    "trace": _trace,
    "ml": _ml,
}


__all__ = [
    "COST_COUNTERS",
    "GUARDRAIL_COUNTERS",
    "NotFound",
    "attr",
    "percentile",
    "query",
]
