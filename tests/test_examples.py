"""The examples call plain ``init()``: the documented OTEL_* variables alone send their telemetry to a
backend (here the real OTLP/HTTP receiver), and each prints its own results."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

import child_app
from otel_genai.local.simulator import REPLY
from otlp_receiver import OtlpReceiver

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize(
    ("example", "expected_spans", "needs"),
    [
        ("openai_chat.py", {"chat gpt-4o-mini"}, None),
        ("manual_api.py", {"invoke_workflow support_ticket", "execute_tool lookup_order"}, None),
        ("langchain_chain.py", {"invoke_workflow writer", "chat gpt-4o-mini"}, "langgraph"),
    ],
)
def test_example_honours_otel_variables(example: str, expected_spans: set[str], needs: str | None) -> None:
    if needs is not None and importlib.util.find_spec(needs) is None:
        pytest.skip(f"{needs} is not installed")
    with OtlpReceiver() as receiver:
        env = child_app.clean_env(
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
            OTEL_TRACES_EXPORTER="otlp",
            OTEL_SERVICE_NAME="example-under-test",
        )
        result = subprocess.run(
            [sys.executable, str(EXAMPLES / example)],
            env=env,
            capture_output=True,
            text=True,
            timeout=child_app.HANG_GUARD_S,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        receiver.wait_for(lambda: expected_spans <= {span.name for span in receiver.spans()})
    assert REPLY.split()[0] in result.stdout  # the example printed what the model said
    assert {resource["service.name"] for resource, _ in receiver.span_resources()} == {"example-under-test"}
