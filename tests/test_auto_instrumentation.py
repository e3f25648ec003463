"""``opentelemetry-instrument python app.py`` finds our instrumentor through its entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

from otel_genai.instrumentation.openai import OpenAIInstrumentor

APP = """
import openai
from otel_genai.local.simulator import Simulator

with Simulator() as sim:
    client = openai.OpenAI(base_url=sim.base_url, api_key="sk-auto-SECRET")
    messages = [{"role": "user", "content": "hi there"}]
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    print("REPLY", reply.choices[0].message.content)
"""


def test_entry_point_names_the_openai_instrumentor() -> None:
    found = {
        ep.name: ep for ep in entry_points(group="opentelemetry_instrumentor") if ep.value.startswith("otel_")
    }
    assert found["openai"].load() is OpenAIInstrumentor


def test_opentelemetry_instrument_produces_the_chat_span(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    app.write_text(APP)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(OTEL_TRACES_EXPORTER="console", OTEL_METRICS_EXPORTER="none", OTEL_LOGS_EXPORTER="none")
    command = [str(Path(sys.executable).parent / "opentelemetry-instrument"), sys.executable, str(app)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "REPLY OpenTelemetry turns" in result.stdout
    # The console exporter prints one JSON object per span after the app's own output.
    printed = result.stdout[result.stdout.index("{") :]
    decoder, spans, index = json.JSONDecoder(), [], 0
    while index < len(printed):
        span, index = decoder.raw_decode(printed, index)
        spans.append(span)
        while index < len(printed) and printed[index].isspace():
            index += 1
    assert [s["name"] for s in spans] == ["chat gpt-4o-mini"]
    attributes = spans[0]["attributes"]
    assert attributes["gen_ai.provider.name"] == "openai"
    assert attributes["gen_ai.usage.input_tokens"] == 2
    assert attributes["gen_ai.usage.output_tokens"] == 17
    assert "sk-auto-SECRET" not in result.stdout + result.stderr
