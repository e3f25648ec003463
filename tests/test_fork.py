"""Forked processes, each in a real child interpreter exporting to the real OTLP/HTTP receiver.

A forked child must start with empty metric aggregation and span counts (no re-export of the parent's
points, no false loss report), and multiprocessing children, which end with ``os._exit``, must still
deliver what they recorded without the application calling anything.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest

import child_app
from otlp_receiver import OtlpReceiver, attrs_to_dict

pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "darwin", reason="needs fork")

HEADER = (
    child_app.CALLS
    + """
import json, os, sys
import otel_genai
otel_genai.init(endpoint=sys.argv[1], service_name="fork-check")
"""
)

OS_FORK = (
    HEADER
    + """
calls(3)
child_calls = int(sys.argv[2])
pids = []
for _ in range(2):
    pid = os.fork()
    if pid == 0:
        calls(child_calls)
        sys.exit(0)  # a normal exit: the inherited atexit flush runs in the child
    pids.append(pid)
codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
otel_genai.shutdown()
print(json.dumps({"codes": codes}))
"""
)

MULTIPROCESSING = (
    HEADER
    + """
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

def work(n):
    return len(calls(n))

if __name__ == "__main__":
    kind = sys.argv[2]
    ctx = multiprocessing.get_context("fork")
    if kind == "pool":
        with ctx.Pool(2) as pool:  # leaving the block terminates the workers (SIGTERM)
            done = sum(pool.map(work, [2, 2, 1]))
    elif kind == "pool_close":
        pool = ctx.Pool(2)
        done = sum(pool.map(work, [2, 3]))
        pool.close()
        pool.join()
    elif kind == "process":
        procs = [ctx.Process(target=work, args=(2,)) for _ in range(2)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        done = 4 if all(p.exitcode == 0 for p in procs) else -1
    else:
        with ProcessPoolExecutor(2, mp_context=ctx) as executor:
            done = sum(executor.map(work, [1, 2, 2]))
    otel_genai.shutdown()
    print(json.dumps({"done": done}))
"""
)


def duration_count(receiver: OtlpReceiver) -> int:
    return sum(
        point.count
        for metric in receiver.metrics()
        if metric.name == "gen_ai.client.operation.duration"
        for point in metric.histogram.data_points
    )


def token_sum(receiver: OtlpReceiver) -> float:
    return sum(
        point.sum
        for metric in receiver.metrics()
        if metric.name == "gen_ai.client.token.usage"
        for point in metric.histogram.data_points
    )


def run(code: str, receiver: OtlpReceiver, arg: str) -> tuple[Any, str]:
    result = child_app.run(code, child_app.clean_env(), receiver.endpoint, arg)
    return child_app.last_json(result), result.stderr


TOKENS_PER_CALL = 3 + 17  # "one two three" in, the simulator's 17-word reply out


def test_idle_forked_children_do_not_re_export_the_parents_metrics() -> None:
    with OtlpReceiver() as receiver:
        observed, stderr = run(OS_FORK, receiver, "0")
        assert observed == {"codes": [0, 0]}
        receiver.wait_for(lambda: duration_count(receiver) >= 3)
    assert duration_count(receiver) == 3
    assert token_sum(receiver) == 3 * TOKENS_PER_CALL
    assert len(receiver.spans()) == 3
    assert "not delivered" not in stderr, stderr


def test_forked_children_export_only_their_own_calls() -> None:
    with OtlpReceiver() as receiver:
        observed, stderr = run(OS_FORK, receiver, "1")
        assert observed == {"codes": [0, 0]}
        receiver.wait_for(lambda: duration_count(receiver) >= 5)
    assert duration_count(receiver) == 5
    assert len(receiver.spans()) == 5
    assert "not delivered" not in stderr, stderr


def instance_ids(resources: list[dict[str, Any]]) -> set[str]:
    return {resource["service.instance.id"] for resource in resources}


def test_forked_children_report_metrics_under_their_own_instance_id() -> None:
    # Delta points of two workers under one service.instance.id would read as one series in a backend.
    with OtlpReceiver() as receiver:
        run(OS_FORK, receiver, "1")
        receiver.wait_for(lambda: duration_count(receiver) >= 5)
    span_ids = instance_ids([resource for resource, _ in receiver.span_resources()])
    with receiver._lock:
        requests = list(receiver.metric_requests)
    metric_ids = instance_ids(
        [
            attrs_to_dict(resource_metrics.resource.attributes)
            for request in requests
            for resource_metrics in request.resource_metrics
            if any(
                metric.name == "gen_ai.client.operation.duration"
                for scope_metrics in resource_metrics.scope_metrics
                for metric in scope_metrics.metrics
            )
        ]
    )
    assert len(span_ids) == 3  # the parent and its two children
    assert metric_ids == span_ids


@pytest.mark.parametrize(("kind", "calls"), [("pool", 5), ("pool_close", 5), ("process", 4), ("executor", 5)])
def test_multiprocessing_fork_workers_deliver_without_user_code(kind: str, calls: int) -> None:
    with OtlpReceiver() as receiver:
        observed, stderr = run(MULTIPROCESSING, receiver, kind)
        assert observed == {"done": calls}
        receiver.wait_for(lambda: len(receiver.spans()) >= calls and duration_count(receiver) >= calls)
    assert len(receiver.spans()) == calls
    assert duration_count(receiver) == calls
    assert token_sum(receiver) == calls * TOKENS_PER_CALL
    assert "Traceback" not in stderr, stderr


GUNICORN_APP = """
import os, sys
sys.path.insert(0, os.environ["CHILD_TESTS_DIR"])
import otel_genai
otel_genai.init(endpoint=os.environ["RECEIVER"], service_name="gunicorn-check")
import child_app
exec(child_app.CALLS)

def app(environ, start_response):  # every request makes one model call in the worker
    text = calls(1)[0]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [text.encode()]
"""


def test_gunicorn_preloaded_workers_deliver_their_own_calls(tmp_path: Any) -> None:
    """A forking server whose workers exit normally: the inherited exit flush exports each worker's own
    telemetry, once."""
    pytest.importorskip("gunicorn")
    import signal
    import socket
    import subprocess
    import time
    import urllib.request

    (tmp_path / "wsgi_app.py").write_text(GUNICORN_APP, encoding="utf-8")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with OtlpReceiver() as receiver:
        env = child_app.clean_env(CHILD_TESTS_DIR=str(child_app.TESTS_DIR), RECEIVER=receiver.endpoint)
        command = [sys.executable, "-m", "gunicorn", "--preload", "-w", "2", "-b", f"127.0.0.1:{port}"]
        server = subprocess.Popen(
            [*command, "--chdir", str(tmp_path), "wsgi_app:app"],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + child_app.HANG_GUARD_S
            replies = []
            while len(replies) < 4 and time.monotonic() < deadline:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
                        replies.append(response.read())
                except OSError:
                    time.sleep(0.1)  # not listening yet
        finally:
            server.send_signal(signal.SIGTERM)
            _, stderr = server.communicate(timeout=child_app.HANG_GUARD_S)
        assert len(replies) == 4
        receiver.wait_for(lambda: len(receiver.spans()) >= 4 and duration_count(receiver) >= 4)
    assert len(receiver.spans()) == 4
    assert duration_count(receiver) == 4
    assert "not delivered" not in stderr, stderr


FORKING_SERVER = (
    HEADER
    + """
import socketserver, threading, urllib.request
from http.server import BaseHTTPRequestHandler

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        text = calls(1)[0].encode()  # one model call per request, in the forked child
        self.send_response(200)
        self.send_header("content-length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)
    def log_message(self, *args):
        pass

class Server(socketserver.ForkingMixIn, socketserver.TCPServer):
    allow_reuse_address = True

with Server(("127.0.0.1", 0), Handler) as server:  # each child ends with os._exit
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    replies = [urllib.request.urlopen(url, timeout=30).read().decode() for _ in range(3)]
    server.shutdown()
otel_genai.shutdown()
print(json.dumps({"replies": len(replies)}))
"""
)


def test_forking_server_children_deliver_before_os_exit() -> None:
    with OtlpReceiver() as receiver:
        observed, stderr = run(FORKING_SERVER, receiver, "")
        assert observed == {"replies": 3}
        receiver.wait_for(lambda: len(receiver.spans()) >= 3 and duration_count(receiver) >= 3)
    assert len(receiver.spans()) == 3
    assert duration_count(receiver) == 3
    assert "Traceback" not in stderr, stderr
