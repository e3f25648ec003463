"""``otel-genai demo`` and ``otel-genai ui`` as a user runs them (child processes, real ports)."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("openai")
CLI = [sys.executable, "-m", "otel_genai.cli"]


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["XDG_DATA_HOME"] = str(tmp_path / "data")  # never the user's real store
    return env


def test_demo_once_fills_the_store_and_ends_with_the_dashboard_url(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    done = subprocess.run(
        [*CLI, "demo", "--once", "--port", "0", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.rstrip().splitlines()
    assert lines[-1].startswith("Dashboard:  http://127.0.0.1:") and lines[-1].endswith("/")
    for step in ("chat", "stream", "tool call", "error", "embeddings"):
        assert any(line.strip().startswith(step) for line in lines), step
    with sqlite3.connect(db) as store:
        names = {row[0] for row in store.execute("SELECT name FROM spans")}
        metrics = {row[0] for row in store.execute("SELECT name FROM points")}
    assert {"chat gpt-4o-mini", "invoke_workflow support_ticket", "execute_tool lookup_order"} <= names
    assert {"embeddings text-embedding-3-small", "chat missing-model"} <= names
    assert "gen_ai.client.token.usage" in metrics


def test_demo_no_ui_keeps_the_terminal_output(tmp_path: Path) -> None:
    done = subprocess.run(
        [*CLI, "demo", "--no-ui"], capture_output=True, text=True, timeout=120, env=_env(tmp_path)
    )
    assert done.returncode == 0, done.stderr
    assert "\nSpans\n" in done.stdout and "Metrics (delta)" in done.stdout
    assert "Dashboard" not in done.stdout and not (tmp_path / "data").exists()


def _serve(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[str], dict[str, str]]:
    process = subprocess.Popen(
        [*CLI, "ui", "--port", "0", "--db", str(tmp_path / "ui.db"), *args],
        stdout=subprocess.PIPE,
        text=True,
        env=_env(tmp_path),
    )
    assert process.stdout is not None
    shown: dict[str, str] = {}
    for line in process.stdout:
        key, _, value = line.partition(":")
        shown[key.strip()] = value.strip()
        if key == "Dashboard":
            break
    return process, shown


def test_ui_serves_on_loopback_without_token(tmp_path: Path) -> None:
    process, shown = _serve(tmp_path)
    try:
        assert "Token" not in shown and shown["Store"] == str(tmp_path / "ui.db")
        with urllib.request.urlopen(shown["Dashboard"] + "api/overview", timeout=10) as response:
            assert json.load(response)["requests"] == 0
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_ui_off_loopback_requires_the_printed_token(tmp_path: Path) -> None:
    process, shown = _serve(tmp_path, "--host", "0.0.0.0", "--token", "s3cret-token-value")
    try:
        assert shown["Dashboard"].endswith("/?token=s3cret-token-value")
        base = shown["OTLP/HTTP"].split()[0]
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(base + "/api/overview", timeout=10)
        assert refused.value.code == 401
        request = urllib.request.Request(
            base + "/api/overview", headers={"authorization": "Bearer s3cret-token-value"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_ui_reports_a_busy_port(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [*CLI, "ui", "--port", str(port), "--db", str(tmp_path / "b.db")],
            capture_output=True,
            text=True,
            timeout=60,
            env=_env(tmp_path),
        )
    assert done.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in done.stderr
