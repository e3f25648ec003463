"""The manual API: workflow, agent and tool spans around plain client calls (no framework).

    OTEL_SERVICE_NAME=example-manual python examples/manual_api.py

``init()`` reads the OTEL_* variables (OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT by default;
OTEL_TRACES_EXPORTER=console prints the spans instead).

`@otel_genai.workflow`, `@otel_genai.agent`, `@otel_genai.tool` and `@otel_genai.task` work on functions,
coroutines and generators; `association_properties` labels every span in its block (never metrics).
"""

from __future__ import annotations

import otel_genai
from otel_genai.local.simulator import Simulator

otel_genai.init()

from openai import OpenAI  # noqa: E402


@otel_genai.tool
def lookup_order(order_id: str) -> dict[str, str]:
    return {"order": order_id, "status": "shipped"}


@otel_genai.agent("support")
def answer(client: OpenAI, question: str) -> str:
    order = lookup_order("A-17")
    messages = [{"role": "user", "content": f"{question} (order data: {order})"}]
    response = client.chat.completions.create(model="gpt-4o-mini", messages=messages)  # type: ignore[arg-type]
    return response.choices[0].message.content or ""


@otel_genai.workflow("support_ticket")
def handle(client: OpenAI) -> str:
    return answer(client, "Where is my order?")


with Simulator() as sim, otel_genai.association_properties(user_id="user-7", session_id="ticket-42"):
    # invoke_workflow support_ticket -> invoke_agent support -> execute_tool lookup_order, chat gpt-4o-mini
    print(handle(OpenAI(base_url=sim.base_url, api_key="example-key")))
