"""What a newcomer sees on stderr: nothing for missing optional libraries, one line per failing endpoint,
and a quick exit when the endpoint refuses connections. Each case is a real application in a child."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest

import child_app
from otel_genai.local.simulator import REPLY


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def openai_only(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str]]:
    """An interpreter with what `pip install "otel-genai[openai]"` installs: no LangChain, boto3, Ollama."""
    return child_app.minimal_python(tmp_path_factory.mktemp("openai-only"))


QUIET_APP = (
    child_app.CALLS
    + """
import json, sys
import otel_genai
otel_genai.init(traces_exporter="none", metrics_exporter="none")
contents = calls(1)
otel_genai.shutdown()
print(json.dumps(contents))
"""
)


def test_init_with_only_openai_installed_says_nothing(openai_only: tuple[str, dict[str, str]]) -> None:
    python, env = openai_only
    modules = "('langchain_core', 'boto3', 'ollama')"
    probe = f"import importlib.util as u; print([u.find_spec(m) is None for m in {modules}])"
    hidden = subprocess.run([python, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert hidden.stdout.strip() == "[True, True, True]"
    result = subprocess.run(
        [python, "-c", QUIET_APP], env=env, capture_output=True, text=True, timeout=child_app.HANG_GUARD_S
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f'["{REPLY}"]'
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("flags", "expected"),
    [(["--no-ui"], "chat gpt-4o-mini"), (["--once", "--port", "0"], "Dashboard:  http://127.0.0.1:")],
    ids=["terminal", "dashboard"],
)
def test_demo_with_only_openai_installed_says_nothing_on_stderr(
    openai_only: tuple[str, dict[str, str]], tmp_path: Path, flags: list[str], expected: str
) -> None:
    python, env = openai_only
    result = subprocess.run(
        [python, "-m", "otel_genai.cli", "demo", *flags, "--db", str(tmp_path / "demo.db")],
        env=env,
        capture_output=True,
        text=True,
        timeout=child_app.HANG_GUARD_S,
    )
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout
    assert "uninstrument" not in result.stderr
    assert result.stderr == ""


FLUSHING_APP = (
    child_app.CALLS
    + """
import sys
import otel_genai
otel_genai.init(endpoint=sys.argv[1], timeout=300, metric_export_interval=600_000)
for _ in range(3):
    calls(1)
    otel_genai.force_flush(5_000)
otel_genai.shutdown()
print("{}")
"""
)


def test_refused_endpoint_logs_one_line_per_endpoint() -> None:
    port = closed_port()
    result = child_app.run(FLUSHING_APP, child_app.clean_env(), f"http://127.0.0.1:{port}")
    lines = result.stderr.strip().splitlines()
    failures = [line for line in lines if "failed" in line and "not logged again" in line]
    assert sorted(line.split(" to ")[1].split(" ")[0] for line in failures) == [
        f"http://127.0.0.1:{port}/v1/metrics",
        f"http://127.0.0.1:{port}/v1/traces",
    ], result.stderr
    assert "Connection refused" in failures[0] or "Errno" in failures[0]
    assert all(line.startswith("otel-genai: ") for line in lines), result.stderr  # none from the exporter
    assert lines[-1] == "otel-genai: 3 of 3 spans were not delivered (export queue full or exporter failing)"
    assert len(lines) == 3, result.stderr


RECOVERING_APP = (
    child_app.CALLS
    + """
import sys
import otel_genai
from otlp_receiver import OtlpReceiver

with OtlpReceiver(status_code=400) as receiver:  # 400: not retried, fails at once
    otel_genai.init(endpoint=receiver.endpoint, metrics_exporter="none")
    for status in (400, 400, 200, 200, 400):
        receiver.status_code = status
        calls(1)
        otel_genai.force_flush(5_000)
        print(status, file=sys.stderr)
    otel_genai.shutdown()
print("{}")
"""
)


def test_failing_endpoint_logs_again_only_after_it_recovered() -> None:
    result = child_app.run(RECOVERING_APP, child_app.clean_env())
    events = [
        "fail" if "not logged again" in line else "ok" if "works again" in line else line.strip()
        for line in result.stderr.strip().splitlines()
        if "otel-genai" in line or line.strip().isdigit()
    ]
    assert events[:-1] == ["fail", "400", "400", "ok", "200", "200", "fail", "400"], result.stderr
    assert "spans were not delivered" in events[-1]


EXITING_APP = (
    child_app.CALLS
    + """
import sys, time
import otel_genai
otel_genai.init(endpoint=sys.argv[1])  # default timeout: the exit bound is 5 s
calls(2)
print(time.monotonic())  # the exit flush starts now
"""
)


def test_exit_with_a_refused_endpoint_does_not_spend_the_bound() -> None:
    """The exit bound (5 s) stays for slow endpoints; one that refuses connections is given up at once."""
    port = closed_port()
    started = time.monotonic()
    result = child_app.run(EXITING_APP, child_app.clean_env(), f"http://127.0.0.1:{port}")
    ended = time.monotonic()
    exit_s = ended - float(result.stdout.strip().splitlines()[-1])
    # it was 5 s (the whole bound); measured ~0.1 s. The margin is for a loaded 2-core CI machine.
    assert exit_s < 2.5, (exit_s, ended - started, result.stderr)
    assert "otel-genai: 2 of 2 spans were not delivered" in result.stderr
    assert "Traceback" not in result.stderr


def test_exit_with_a_healthy_endpoint_still_delivers(tmp_path: Path) -> None:
    from otlp_receiver import OtlpReceiver

    with OtlpReceiver() as receiver:
        result = child_app.run(EXITING_APP, child_app.clean_env(), receiver.endpoint)
        receiver.wait_for(lambda: len(receiver.spans()) >= 2)
    assert len(receiver.spans()) == 2
    assert "not delivered" not in result.stderr


def test_the_exit_probe_goes_to_the_proxy_the_exporter_would_use(monkeypatch: pytest.MonkeyPatch) -> None:
    from otel_genai import export_health

    monkeypatch.setenv("https_proxy", "http://proxy.internal:3128")
    monkeypatch.setenv("no_proxy", "localhost,127.0.0.1")
    assert export_health._first_hop("https://abc.live.dynatrace.com/api/v2/otlp/v1/traces") == (
        "proxy.internal",
        3128,
    )
    assert export_health._first_hop("http://127.0.0.1:4318/v1/traces") == ("127.0.0.1", 4318)
