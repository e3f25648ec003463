"""Chat and streaming through the OpenAI client against the built-in simulator (no API key needed).

    OTEL_SERVICE_NAME=example-chat python examples/openai_chat.py

``init()`` reads the OTEL_* variables: telemetry goes over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT
(default http://localhost:4318); OTEL_TRACES_EXPORTER=console OTEL_METRICS_EXPORTER=console prints it
instead. Drop the simulator to call the real API.
"""

from __future__ import annotations

import otel_genai
from otel_genai.local.simulator import Simulator

otel_genai.init()

from openai import OpenAI  # noqa: E402  (importing after init() is fine; so is importing before)

with Simulator() as sim:
    client = OpenAI(base_url=sim.base_url, api_key="example-key")
    messages = [{"role": "user", "content": "Hello"}]
    print(client.chat.completions.create(model="gpt-4o-mini", messages=messages).choices[0].message.content)
    with client.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True) as stream:
        for chunk in stream:
            print(chunk.choices[0].delta.content or "" if chunk.choices else "", end="")
    print()
# Nothing else to do: buffered telemetry is flushed at exit.
