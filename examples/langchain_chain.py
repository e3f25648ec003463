"""A LangChain chain and a LangGraph graph against the built-in simulator (no API key needed).

    pip install -e ".[langchain]" langchain-openai langgraph
    OTEL_SERVICE_NAME=example-langchain python examples/langchain_chain.py

``init()`` reads the OTEL_* variables (OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT by default;
OTEL_TRACES_EXPORTER=console prints the spans instead).

Each chain or graph run is one `invoke_workflow` span; graph nodes are task spans; each model call is
exactly one `chat` span under them, with the token metrics counted once. Drop the simulator to call the
real API.
"""

from __future__ import annotations

from typing import TypedDict

import otel_genai
from otel_genai.local.simulator import Simulator

otel_genai.init()

from langchain_core.output_parsers import StrOutputParser  # noqa: E402
from langchain_core.prompts import ChatPromptTemplate  # noqa: E402
from langchain_openai import ChatOpenAI  # noqa: E402
from langgraph.graph import END, START, StateGraph  # noqa: E402


class State(TypedDict, total=False):
    topic: str
    draft: str
    summary: str


with Simulator() as sim:
    model = ChatOpenAI(base_url=sim.base_url, api_key="example-key", model="gpt-4o-mini")
    chain = ChatPromptTemplate.from_template("Explain {topic} in one line.") | model | StrOutputParser()

    # invoke_workflow RunnableSequence -> chat gpt-4o-mini
    print(chain.invoke({"topic": "tracing"}, config={"metadata": {"conversation_id": "demo-1"}}))
    for piece in chain.stream({"topic": "metrics"}):  # the chat span ends when the stream does
        print(piece, end="")
    print()

    # invoke_workflow writer -> draft (task) -> chat ..., summarize (task) -> chat ...
    graph = StateGraph(State)
    graph.add_node("draft", lambda state: {"draft": chain.invoke({"topic": state["topic"]})})
    graph.add_node("summarize", lambda state: {"summary": chain.invoke({"topic": state["draft"]})})
    graph.add_edge(START, "draft")
    graph.add_edge("draft", "summarize")
    graph.add_edge("summarize", END)
    print(graph.compile(name="writer").invoke({"topic": "logs"})["summary"])
# Buffered telemetry is flushed at exit.
