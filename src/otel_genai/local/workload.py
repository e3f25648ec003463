"""The demo's scripted workload: real client libraries against the loopback simulator.

Each step is one thing a user's app does (a chat, a stream, a tool-using workflow, a failing call,
embeddings, and a LangChain chain, an Ollama chat and a Bedrock Converse call when those libraries are
installed). A step whose library is missing is skipped; a step that fails is reported, never raised.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

Report = Callable[[str, str], None]


def run(base_url: str, report: Report) -> list[str]:
    """Run every available step against the simulator at ``base_url`` (``http://127.0.0.1:N/v1``)."""
    import openai

    client = openai.OpenAI(base_url=base_url, api_key="demo-key", max_retries=0)
    root = base_url.rsplit("/v1", 1)[0]
    steps: list[tuple[str, Callable[[], str]]] = [
        ("chat", lambda: _chat(client)),
        ("stream", lambda: _stream(client)),
        ("tool call", lambda: _support_ticket(client)),
        ("error", lambda: _error(client, openai)),
        ("embeddings", lambda: _embeddings(client)),
    ]
    if importlib.util.find_spec("langchain_openai") and importlib.util.find_spec("langchain_core"):
        steps.append(("langchain", lambda: _langchain(base_url)))
    if importlib.util.find_spec("ollama"):
        steps.append(("ollama", lambda: _ollama(root)))
    if importlib.util.find_spec("boto3"):
        steps.append(("bedrock", lambda: _bedrock(root)))
    done = []
    for name, step in steps:
        try:
            report(name, step())
            done.append(name)
        except Exception as exc:  # a demo step failing must not end the demo
            report(name, f"skipped ({type(exc).__name__}: {exc})")
    return done


_QUESTION: Any = [{"role": "user", "content": "What does otel-genai record?"}]


def _chat(client: Any) -> str:
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=_QUESTION)
    return str(reply.choices[0].message.content)


def _stream(client: Any) -> str:
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=_QUESTION, stream=True, stream_options={"include_usage": True}
    )
    return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


def _support_ticket(client: Any) -> str:
    import otel_genai

    @otel_genai.tool
    def lookup_order(order_id: str) -> dict[str, str]:
        return {"order_id": order_id, "status": "shipped"}

    @otel_genai.workflow("support_ticket")
    def handle(question: str) -> str:
        tools = [
            {
                "type": "function",
                "function": {
                    "name": "lookup_order",
                    "description": "Find an order by id",
                    "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}},
                },
            }
        ]
        messages: Any = [{"role": "user", "content": question}]
        first = client.chat.completions.create(model="gpt-4o", messages=messages, tools=tools)
        call = first.choices[0].message.tool_calls[0]
        result = lookup_order("A-17")
        messages += [
            first.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": str(result)},
        ]
        second = client.chat.completions.create(model="gpt-4o", messages=messages, tools=tools)
        return f"{call.function.name}() -> {second.choices[0].message.content}"

    with otel_genai.association_properties(user_id="demo-user", session_id="ticket-42"):
        return handle("Where is my order A-17?")


def _error(client: Any, openai: Any) -> str:
    try:
        client.chat.completions.create(model="missing-model", messages=_QUESTION)
    except openai.NotFoundError as exc:
        return f"{type(exc).__name__}: {exc.code}"
    return "no error?"


def _embeddings(client: Any) -> str:
    result = client.embeddings.create(model="text-embedding-3-small", input=["otel", "genai"])
    return f"{len(result.data)} vectors of {len(result.data[0].embedding)}"


def _langchain(base_url: str) -> str:
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_openai import ChatOpenAI

    prompt = ChatPromptTemplate.from_messages([("user", "Summarise {topic} in one line.")])
    model = ChatOpenAI(model="gpt-4o-mini", base_url=base_url, api_key="demo-key", max_retries=0)  # type: ignore[arg-type]
    chain = prompt | model | StrOutputParser()
    return str(chain.invoke({"topic": "OpenTelemetry"}))


def _ollama(root: str) -> str:
    import ollama

    reply = ollama.Client(host=root).chat(model="llama3.2", messages=_QUESTION)
    return str(reply["message"]["content"])


def _bedrock(root: str) -> str:
    import boto3

    client = boto3.client(
        "bedrock-runtime",
        endpoint_url=root,
        region_name="us-east-1",
        aws_access_key_id="demo",
        aws_secret_access_key="demo",
    )
    reply = client.converse(
        modelId="anthropic.claude-3-haiku-20240307-v1:0",
        messages=[{"role": "user", "content": [{"text": "What does otel-genai record?"}]}],
    )
    return str(reply["output"]["message"]["content"][0]["text"])


__all__ = [
    "Report",
    "run",
]
