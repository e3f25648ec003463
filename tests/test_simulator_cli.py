"""``otel-genai simulator`` and ``python -m otel_genai.local.simulator`` serve the simulator standalone."""

from __future__ import annotations

import signal
import subprocess
import sys

import openai
import pytest

import child_app
from otel_genai.local.simulator import REPLY


@pytest.mark.parametrize(
    "command",
    [["-m", "otel_genai.cli", "simulator"], ["-m", "otel_genai.local.simulator"]],
    ids=["otel-genai simulator", "python -m otel_genai.local.simulator"],
)
def test_simulator_serves_until_interrupted(command: list[str]) -> None:
    server = subprocess.Popen(
        [sys.executable, *command, "--port", "0"],
        env=child_app.clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        first = server.stdout.readline()  # "OpenAI-compatible simulator on http://127.0.0.1:N/v1 ..."
        base_url = first.split(" on ")[1].split()[0]
        assert base_url.startswith("http://127.0.0.1:")
        client = openai.OpenAI(base_url=base_url, api_key="any", max_retries=0)
        reply = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
        assert reply.choices[0].message.content == REPLY
    finally:
        server.send_signal(signal.SIGINT)
        _, stderr = server.communicate(timeout=child_app.HANG_GUARD_S)
    assert server.returncode == 0, stderr
    assert "Traceback" not in stderr


def test_port_in_use_is_one_line_and_exit_1() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "otel_genai.cli", "simulator", "--port", str(port)],
            env=child_app.clean_env(),
            capture_output=True,
            text=True,
            timeout=child_app.HANG_GUARD_S,
            check=False,
        )
    assert result.returncode == 1
    assert result.stderr.strip().startswith(f"otel-genai simulator: cannot listen on 127.0.0.1:{port}")
