"""Anthropic and Google Gen AI end to end: a user's program calling plain ``otel_genai.init()`` in a fresh
interpreter, real clients against recorded responses, everything read back from the OTLP/HTTP receiver
as decoded protobuf.

``init()`` sets the global tracer provider, which is exactly when anthropic 2.x starts spans of its own:
the receiver must still see one inference span per model call, ours.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from conftest import API_KEY
from otel_genai import semconv as sc
from otlp_receiver import OtlpReceiver, attrs_to_dict
from replay import RECORDINGS_DIR, ReplayServer

pytest.importorskip("anthropic")
pytest.importorskip("google.genai")

ANTHROPIC = "anthropic/messages_stream_prompt_cache_write_read_claude35_sonnet.json"
GEMINI = "google-genai/generate_content_config_params_thinking_budget.json"

APP = """
import json, os, sys
import otel_genai

otel_genai.init()

import anthropic
from google import genai
from google.genai import types

anthropic_url, gemini_url = sys.argv[1], sys.argv[2]
bodies, gemini = json.loads(sys.argv[3]), json.loads(sys.argv[4])
key = os.environ["E2E_API_KEY"]
client = anthropic.Anthropic(base_url=anthropic_url, api_key=key, max_retries=0)
for body in bodies:
    with client.messages.stream(**{k: v for k, v in body.items() if k != "stream"}) as stream:
        print(stream.get_final_message().usage.output_tokens)
options = types.HttpOptions(base_url=gemini_url, api_version="v1beta")
google = genai.Client(api_key=key, http_options=options)
print(google.models.generate_content(**gemini).text)
"""


def _recording(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RECORDINGS_DIR / name).read_text(encoding="utf-8"))
    return data


def _gemini_call() -> dict[str, Any]:
    request = _recording(GEMINI)["interactions"][0]["request"]
    model = request["path"].split(":")[0].rsplit("/", 1)[1]
    return {
        "model": model,
        "contents": request["json"]["contents"],
        "config": request["json"]["generationConfig"],
    }


def _run() -> tuple[subprocess.CompletedProcess[str], OtlpReceiver]:
    bodies = [i["request"]["json"] for i in _recording(ANTHROPIC)["interactions"]]
    with OtlpReceiver() as receiver, ReplayServer(ANTHROPIC) as claude, ReplayServer(GEMINI) as gemini:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "ANTHROPIC_", "GOOGLE_"))}
        env.update(
            OTEL_SERVICE_NAME="e2e-providers",
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
            OTEL_METRIC_EXPORT_INTERVAL="60000",
            E2E_API_KEY=API_KEY,
        )
        process = subprocess.run(
            [
                sys.executable,
                "-c",
                APP,
                claude.url,
                gemini.url,
                json.dumps(bodies),
                json.dumps(_gemini_call()),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        claude.assert_all_served()
        gemini.assert_all_served()
    return process, receiver


def test_one_inference_span_per_call_over_otlp() -> None:
    process, receiver = _run()
    assert process.returncode == 0, process.stderr
    assert "Traceback" not in process.stderr, process.stderr
    spans = receiver.spans()
    # anthropic's own call spans were absorbed: two Claude calls, one Gemini call, nothing else
    assert sorted(s.name for s in spans) == [
        "chat claude-3-5-sonnet-20240620",
        "chat claude-3-5-sonnet-20240620",
        "chat gemini-2.5-flash",
    ]
    # in call order: the first priced call ends once genai-prices has loaded, possibly after the second
    claude_spans = sorted((s for s in spans if "claude" in s.name), key=lambda s: s.start_time_unix_nano)
    claude = [attrs_to_dict(s.attributes) for s in claude_spans]
    assert [a[sc.PROVIDER_NAME] for a in claude] == ["anthropic", "anthropic"]
    # the prompt-cache pair: written by the first call, read by the second; input is the semconv total
    written = claude[0][sc.USAGE_CACHE_CREATION_INPUT_TOKENS]
    assert written > 1000
    assert [a.get(sc.USAGE_CACHE_CREATION_INPUT_TOKENS) for a in claude] == [written, 0]
    assert [a.get(sc.USAGE_CACHE_READ_INPUT_TOKENS) for a in claude] == [0, written]
    assert all(a[sc.USAGE_INPUT_TOKENS] > written for a in claude)
    assert [int(line) for line in process.stdout.splitlines()[:2]] == [
        a[sc.USAGE_OUTPUT_TOKENS] for a in claude
    ]
    (gemini,) = [attrs_to_dict(s.attributes) for s in spans if "gemini" in s.name]
    usage = _recording(GEMINI)["interactions"][0]["response"]["json"]["usageMetadata"]
    assert gemini[sc.PROVIDER_NAME] == "gcp.gemini"
    assert gemini[sc.USAGE_INPUT_TOKENS] == usage["promptTokenCount"]
    assert gemini[sc.USAGE_OUTPUT_TOKENS] == usage["candidatesTokenCount"] + usage["thoughtsTokenCount"]
    assert gemini[sc.USAGE_REASONING_OUTPUT_TOKENS] == usage["thoughtsTokenCount"]
    metrics = {m.name for m in receiver.metrics()}
    assert {sc.METRIC_OPERATION_DURATION, sc.METRIC_TOKEN_USAGE, sc.METRIC_TOKEN_CACHE} <= metrics
    wire = b"".join(s.SerializeToString() for s in spans)
    assert API_KEY.encode() not in wire
