"""LangChain and LangGraph: one span per real operation, correctly parented, tokens counted once.

Real ``langchain-openai`` models talk over loopback HTTP to the replay server; the openai client hook
and the LangChain handler cooperate, so each model call is exactly one ``chat`` span carrying both
LangChain's context and the client's request/response data. Span trees are asserted exactly:
(name, kind, parent name), and where several spans share a name, by span identity.
"""

from __future__ import annotations

import asyncio
import gc
import json
import warnings
from typing import Any, TypedDict

import openai
import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.chat_history import InMemoryChatMessageHistory
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables import RunnableLambda, RunnableParallel
from langchain_core.runnables.history import RunnableWithMessageHistory
from langchain_core.tools import tool
from langchain_core.vectorstores import InMemoryVectorStore
from langchain_openai import ChatOpenAI
from langgraph.graph import END, START, StateGraph
from opentelemetry import trace
from opentelemetry.trace import StatusCode

from conftest import API_KEY
from otel_genai.core.recorder import active_invocation
from replay import RECORDINGS_DIR

LCEL = "langchain/langgraph_invoke_gpt4o.json"  # system + user -> gpt-4o, usage 24/11
STREAM = "langchain/lcel_stream_gpt4.json"  # prompt | model | parser .stream(), no usage in the stream
STREAM_USAGE = "langchain/chatopenai_stream_include_usage.json"  # stream with the usage chunk, 18/15
AGENT = "langchain/agent_openai_tools_stream_roundtrip.json"  # tool call, then the answer (streamed)
NOT_FOUND = "openai/chat_error_404_model_not_found.json"
BASIC = "openai/chat_basic_gpt4o_mini.json"
QUESTION = {"q": "What's 5 + 5?"}
MATH_PROMPT = [("system", "You are a mathematician."), ("user", "{q}")]


def recorded(name: str, index: int = 0) -> dict[str, Any]:
    interaction: dict[str, Any] = json.loads((RECORDINGS_DIR / name).read_text())["interactions"][index]
    return interaction


def streamed_text(name: str) -> str:
    """What the recorded SSE stream says, chunk deltas joined."""
    text = ""
    for line in recorded(name)["response"]["text"].splitlines():
        if line.startswith("data: {"):
            for choice in json.loads(line[6:])["choices"]:
                text += choice["delta"].get("content") or ""
    return text


def tree(telemetry: Any) -> list[tuple[str, str, str | None]]:
    """(name, kind, parent name) per span, in the order they ended."""
    spans = telemetry.spans()
    names = {s.context.span_id: s.name for s in spans}
    return [(s.name, s.kind.name, names.get(s.parent.span_id) if s.parent else None) for s in spans]


def by_name(telemetry: Any, name: str) -> list[Any]:
    return [s for s in telemetry.spans() if s.name == name]


def one(telemetry: Any, name: str) -> Any:
    (span,) = by_name(telemetry, name)
    return span


def parent_of(telemetry: Any, span: Any) -> Any:
    return next(s for s in telemetry.spans() if span.parent and s.context.span_id == span.parent.span_id)


def tokens(telemetry: Any) -> list[tuple[str, int, int]]:
    points = telemetry.metrics().get("gen_ai.client.token.usage", [])
    return sorted((p.attributes["gen_ai.token.type"], p.count, int(p.sum)) for p in points)


def chat_model(server: Any, model: str, **kwargs: Any) -> ChatOpenAI:
    return ChatOpenAI(base_url=f"{server.url}/v1", api_key=API_KEY, max_retries=0, model=model, **kwargs)


def math_chain(server: Any) -> Any:
    return ChatPromptTemplate.from_messages(MATH_PROMPT) | chat_model(server, "gpt-4o") | StrOutputParser()


@tool
def get_weather(location: str) -> str:
    """Get the weather for a location."""
    return "The weather in London is sunny."


# --- LCEL chains -----------------------------------------------------------------------------------


def test_lcel_chain_is_a_workflow_with_one_chat_span(instrument: Any, replay: Any) -> None:
    telemetry = instrument()
    server = replay(LCEL)
    assert math_chain(server).invoke(QUESTION) == "\\(5 + 5 = 10\\)."

    assert tree(telemetry) == [
        ("chat gpt-4o", "CLIENT", "invoke_workflow RunnableSequence"),
        ("invoke_workflow RunnableSequence", "INTERNAL", None),
    ]
    workflow = one(telemetry, "invoke_workflow RunnableSequence")
    assert dict(workflow.attributes or {}) == {
        "gen_ai.operation.name": "invoke_workflow",
        "gen_ai.workflow.name": "RunnableSequence",
        "traceloop.span.kind": "workflow",
        "traceloop.entity.name": "RunnableSequence",
        "traceloop.workflow.name": "RunnableSequence",
    }
    chat = dict(one(telemetry, "chat gpt-4o").attributes or {})
    usage = recorded(LCEL)["response"]["json"]["usage"]
    # LangChain's context ...
    assert chat["traceloop.workflow.name"] == "RunnableSequence"
    assert chat["traceloop.entity.name"] == "ChatOpenAI"
    # ... and the client layer's request/response data, on the same span
    assert chat["gen_ai.provider.name"] == "openai"
    assert chat["server.address"] == "127.0.0.1"
    assert chat["gen_ai.openai.api_base"] == f"{server.url}/v1/"
    assert chat["gen_ai.response.model"] == "gpt-4o-2024-08-06"
    assert chat["gen_ai.response.id"] == "chatcmpl-BWQlr9dVLXKFchlMhrbY7PR3BTJkn"
    assert chat["gen_ai.response.finish_reasons"] == ("stop",)
    assert chat["gen_ai.usage.input_tokens"] == usage["prompt_tokens"] == 24
    assert chat["gen_ai.usage.output_tokens"] == usage["completion_tokens"] == 11
    metrics = telemetry.metrics()
    assert tokens_of(metrics) == [("input", 1, 24), ("output", 1, 11)]
    assert [p.count for p in metrics["gen_ai.client.operation.duration"]] == [1]


def tokens_of(metrics: dict[str, list[Any]]) -> list[tuple[str, int, int]]:
    points = metrics.get("gen_ai.client.token.usage", [])
    return sorted((p.attributes["gen_ai.token.type"], p.count, int(p.sum)) for p in points)


def test_streamed_chain_ends_the_chat_span_with_the_stream(instrument: Any, replay: Any) -> None:
    telemetry = instrument()
    server = replay(STREAM)
    prompt = ChatPromptTemplate.from_template("write 10 lines of random text about ${product}")
    chain = prompt | chat_model(server, "gpt-4", temperature=0) | StrOutputParser()

    stream = chain.stream({"product": "colorful socks"})
    first = next(stream)
    assert telemetry.spans() == []  # nothing ends before the stream does
    text = first + "".join(stream)

    assert text == streamed_text(STREAM)
    assert tree(telemetry) == [
        ("chat gpt-4", "CLIENT", "invoke_workflow RunnableSequence"),
        ("invoke_workflow RunnableSequence", "INTERNAL", None),
    ]
    chat = dict(one(telemetry, "chat gpt-4").attributes or {})
    assert chat["gen_ai.request.stream"] is True
    assert chat["gen_ai.response.model"] == "gpt-4-0613"
    assert chat["gen_ai.response.finish_reasons"] == ("stop",)
    assert "gen_ai.usage.input_tokens" not in chat  # the stream carried no usage: none is invented
    metrics = telemetry.metrics()
    assert "gen_ai.client.token.usage" not in metrics
    assert [p.count for p in metrics["gen_ai.client.operation.time_to_first_chunk"]] == [1]  # measured once
    assert [p.count for p in metrics["gen_ai.client.operation.duration"]] == [1]


def test_streamed_usage_is_counted_once(instrument: Any, replay: Any) -> None:
    telemetry = instrument()
    server = replay(STREAM_USAGE)
    model = chat_model(server, "gpt-3.5-turbo", temperature=0.7, stream_usage=True)
    text = "".join(str(chunk.content) for chunk in model.stream("Tell me a funny joke, a one-liner."))

    assert text == streamed_text(STREAM_USAGE)
    assert tree(telemetry) == [("chat gpt-3.5-turbo", "CLIENT", None)]  # a model on its own: no workflow
    chat = dict(telemetry.span().attributes or {})
    assert (chat["gen_ai.usage.input_tokens"], chat["gen_ai.usage.output_tokens"]) == (18, 15)
    assert tokens(telemetry) == [("input", 1, 18), ("output", 1, 15)]


async def test_async_chain(instrument: Any, replay: Any) -> None:
    telemetry = instrument()
    server = replay(LCEL, STREAM)
    assert await math_chain(server).ainvoke(QUESTION) == "\\(5 + 5 = 10\\)."
    prompt = ChatPromptTemplate.from_template("write 10 lines of random text about ${product}")
    chain = prompt | chat_model(server, "gpt-4", temperature=0) | StrOutputParser()
    chunks = [chunk async for chunk in chain.astream({"product": "colorful socks"})]

    assert "".join(chunks) == streamed_text(STREAM)
    assert tree(telemetry) == [
        ("chat gpt-4o", "CLIENT", "invoke_workflow RunnableSequence"),
        ("invoke_workflow RunnableSequence", "INTERNAL", None),
        ("chat gpt-4", "CLIENT", "invoke_workflow RunnableSequence"),
        ("invoke_workflow RunnableSequence", "INTERNAL", None),
    ]
    first, second = by_name(telemetry, "invoke_workflow RunnableSequence")
    assert parent_of(telemetry, one(telemetry, "chat gpt-4o")) is first
    assert parent_of(telemetry, one(telemetry, "chat gpt-4")) is second
    assert tokens(telemetry) == [("input", 1, 24), ("output", 1, 11)]


def test_batch_runs_each_input_as_its_own_workflow_in_threads(instrument: Any, replay: Any) -> None:
    telemetry = instrument()
    server = replay(LCEL, LCEL, LCEL)
    assert math_chain(server).batch([QUESTION] * 3) == ["\\(5 + 5 = 10\\)."] * 3

    assert sorted(tree(telemetry)) == sorted(
        [("chat gpt-4o", "CLIENT", "invoke_workflow RunnableSequence")] * 3
        + [("invoke_workflow RunnableSequence", "INTERNAL", None)] * 3
    )
    parents = {parent_of(telemetry, chat).context.span_id for chat in by_name(telemetry, "chat gpt-4o")}
    assert len(parents) == 3  # each workflow has its own chat span
    assert tokens(telemetry) == [("input", 3, 72), ("output", 3, 33)]


async def test_async_batch(instrument: Any, replay: Any) -> None:
    telemetry = instrument()
    server = replay(LCEL, LCEL)
    assert await math_chain(server).abatch([QUESTION] * 2) == ["\\(5 + 5 = 10\\)."] * 2
    parents = {parent_of(telemetry, chat).name for chat in by_name(telemetry, "chat gpt-4o")}
    assert parents == {"invoke_workflow RunnableSequence"}
    assert len({parent_of(telemetry, c).context.span_id for c in by_name(telemetry, "chat gpt-4o")}) == 2
    assert tokens(telemetry) == [("input", 2, 48), ("output", 2, 22)]


def test_parallel_branches_share_the_workflow(instrument: Any, replay: Any) -> None:
    telemetry = instrument()
    server = replay(LCEL, LCEL)
    fanout = RunnableParallel(a=math_chain(server), b=math_chain(server), c=RunnableLambda(lambda x: 1))
    result = fanout.with_config(run_name="fanout").invoke(QUESTION)

    assert result == {"a": "\\(5 + 5 = 10\\).", "b": "\\(5 + 5 = 10\\).", "c": 1}
    assert sorted(tree(telemetry)) == [
        ("chat gpt-4o", "CLIENT", "invoke_workflow fanout"),
        ("chat gpt-4o", "CLIENT", "invoke_workflow fanout"),
        ("invoke_workflow fanout", "INTERNAL", None),
    ]
    assert tokens(telemetry) == [("input", 2, 48), ("output", 2, 22)]


async def test_async_parallel_branches(instrument: Any, replay: Any) -> None:
    telemetry = instrument()
    server = replay(LCEL, LCEL)
    fanout = RunnableParallel(a=math_chain(server), b=math_chain(server)).with_config(run_name="fanout")
    await fanout.ainvoke(QUESTION)
    assert sorted(tree(telemetry)) == [
        ("chat gpt-4o", "CLIENT", "invoke_workflow fanout"),
        ("chat gpt-4o", "CLIENT", "invoke_workflow fanout"),
        ("invoke_workflow fanout", "INTERNAL", None),
    ]


def test_chain_under_the_callers_span_and_user_callbacks_kept(instrument: Any, replay: Any) -> None:
    """A user span is the workflow's parent; callbacks the user passes still get every event."""
    telemetry = instrument()
    server = replay(LCEL)
    events: list[str] = []

    class Mine(BaseCallbackHandler):
        def on_chain_start(self, *args: Any, **kwargs: Any) -> None:
            events.append("chain")

        def on_chat_model_start(self, *args: Any, **kwargs: Any) -> None:
            events.append("chat")

    tracer = telemetry.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("request"):
        math_chain(server).invoke(QUESTION, config={"callbacks": [Mine()], "tags": ["nightly"]})

    assert events == ["chain", "chain", "chat", "chain"]  # sequence, prompt, model, parser
    assert tree(telemetry) == [
        ("chat gpt-4o", "CLIENT", "invoke_workflow RunnableSequence"),
        ("invoke_workflow RunnableSequence", "INTERNAL", "request"),
        ("request", "INTERNAL", None),
    ]
    workflow = dict(one(telemetry, "invoke_workflow RunnableSequence").attributes or {})
    assert workflow["langchain.tags"] == ("nightly",)


def test_the_stream_never_leaks_its_span_into_the_callers_loop(instrument: Any, replay: Any) -> None:
    """Between chunks the caller's own span is current and no inference is open: a client call the
    caller makes in the loop is its own span, not merged into the streaming model call."""
    telemetry = instrument()
    server = replay(STREAM, BASIC)
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=API_KEY, max_retries=0)
    model = chat_model(server, "gpt-4", temperature=0)
    tracer = telemetry.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("request") as request:
        for index, _ in enumerate(model.stream("write 10 lines of random text about $colorful socks")):
            assert trace.get_current_span() is request
            assert active_invocation() is None
            if index == 2:
                client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": "Say this is a test"}]
                )
    assert trace.get_current_span() is trace.INVALID_SPAN
    assert tree(telemetry) == [
        ("chat gpt-4o-mini", "CLIENT", "request"),
        ("chat gpt-4", "CLIENT", "request"),
        ("request", "INTERNAL", None),
    ]


async def test_the_async_stream_never_leaks_its_span(instrument: Any, replay: Any) -> None:
    telemetry = instrument()
    server = replay(STREAM)
    tracer = telemetry.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("request") as request:
        async for _ in chat_model(server, "gpt-4", temperature=0).astream("x"):
            assert trace.get_current_span() is request
            assert active_invocation() is None
    assert tree(telemetry) == [("chat gpt-4", "CLIENT", "request"), ("request", "INTERNAL", None)]


def test_stream_closed_early_ends_every_span_without_error(instrument: Any, replay: Any) -> None:
    telemetry = instrument()
    server = replay(STREAM)
    prompt = ChatPromptTemplate.from_template("write 10 lines of random text about ${product}")
    stream = (prompt | chat_model(server, "gpt-4", temperature=0)).stream({"product": "socks"})
    next(stream)
    stream.close()
    del stream
    gc.collect()
    assert sorted(tree(telemetry)) == [
        ("chat gpt-4", "CLIENT", "invoke_workflow RunnableSequence"),
        ("invoke_workflow RunnableSequence", "INTERNAL", None),
    ]
    assert {s.status.status_code for s in telemetry.spans()} == {StatusCode.UNSET}


# --- errors ----------------------------------------------------------------------------------------


def test_model_error_marks_chat_and_workflow_and_reaches_the_caller_unchanged(
    instrument: Any, replay: Any
) -> None:
    telemetry = instrument()
    server = replay(NOT_FOUND)
    chain = ChatPromptTemplate.from_template("{q}") | chat_model(server, "this-model-does-not-exist")
    with pytest.raises(openai.NotFoundError) as caught:
        chain.invoke({"q": "Say this is a test"})
    assert caught.value.status_code == 404

    assert tree(telemetry) == [
        ("chat this-model-does-not-exist", "CLIENT", "invoke_workflow RunnableSequence"),
        ("invoke_workflow RunnableSequence", "INTERNAL", None),
    ]
    chat, workflow = telemetry.spans()
    assert chat.status.status_code is StatusCode.ERROR
    assert chat.attributes["error.type"] == "model_not_found"  # the client layer's precise code
    assert workflow.status.status_code is StatusCode.ERROR
    raised = type(caught.value)  # langchain-openai re-raises its own NotFoundError subclass
    assert workflow.attributes["error.type"] == f"{raised.__module__}.{raised.__qualname__}"
    assert "gen_ai.client.token.usage" not in telemetry.metrics()


def test_tool_error_marks_the_tool_span(instrument: Any) -> None:
    telemetry = instrument()

    @tool
    def explode(city: str) -> str:
        """Always fails."""
        raise ValueError(f"no weather for {city}")

    with pytest.raises(ValueError, match="no weather for Paris"):
        explode.invoke({"city": "Paris"})
    span = telemetry.span()
    assert span.name == "execute_tool explode"
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "ValueError"
    assert span.events[0].name == "exception"


# --- agents and LangGraph --------------------------------------------------------------------------


def test_prebuilt_agent_loop(instrument: Any, replay: Any) -> None:
    from langgraph.prebuilt import create_react_agent

    telemetry = instrument()
    server = replay(AGENT)
    model = chat_model(server, "gpt-4o-mini", temperature=0, streaming=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # create_react_agent moved to langchain.agents in LangGraph 1.0
        agent = create_react_agent(
            model, [get_weather], prompt="You are a helpful assistant.", name="weather"
        )
    result = agent.invoke(
        {"messages": [("user", "What's the weather in London?")]},
        config={"configurable": {"thread_id": "t-1"}},
    )

    assert result["messages"][-1].content == "The weather in London is sunny."
    assert tree(telemetry) == [
        ("chat gpt-4o-mini", "CLIENT", "invoke_agent weather"),
        ("execute_tool get_weather", "INTERNAL", "invoke_agent weather"),
        ("chat gpt-4o-mini", "CLIENT", "invoke_agent weather"),
        ("invoke_agent weather", "INTERNAL", None),
    ]
    call_id = recorded(AGENT, 1)["request"]["json"]["messages"][2]["tool_calls"][0]["id"]
    assert dict(one(telemetry, "execute_tool get_weather").attributes or {}) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "get_weather",
        "gen_ai.tool.type": "function",
        "gen_ai.tool.call.id": call_id,
        "gen_ai.tool.description": "Get the weather for a location.",
        "gen_ai.conversation.id": "t-1",
        "traceloop.span.kind": "tool",
        "traceloop.entity.name": "get_weather",
        "traceloop.association.properties.thread_id": "t-1",
        "traceloop.workflow.name": "weather",  # the root run (the agent) names the workflow
    }
    assert dict(one(telemetry, "invoke_agent weather").attributes or {}) == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "weather",
        "gen_ai.conversation.id": "t-1",
        "traceloop.span.kind": "workflow",  # a root agent is the trace's workflow for Dynatrace
        "traceloop.workflow.name": "weather",
        "traceloop.entity.name": "weather",
        "traceloop.association.properties.thread_id": "t-1",
    }
    for chat in by_name(telemetry, "chat gpt-4o-mini"):
        assert chat.attributes["traceloop.workflow.name"] == "weather"
    for chat in by_name(telemetry, "chat gpt-4o-mini"):
        assert chat.attributes["gen_ai.conversation.id"] == "t-1"
        assert chat.attributes["gen_ai.request.stream"] is True
    assert [
        c.attributes["gen_ai.response.finish_reasons"] for c in by_name(telemetry, "chat gpt-4o-mini")
    ] == [
        ("tool_call",),
        ("stop",),
    ]


async def test_create_agent_async(instrument: Any, replay: Any) -> None:
    from langchain.agents import create_agent

    telemetry = instrument()
    server = replay(AGENT)
    model = chat_model(server, "gpt-4o-mini", temperature=0, streaming=True)
    agent = create_agent(model, [get_weather], system_prompt="You are a helpful assistant.")
    result = await agent.ainvoke({"messages": [("user", "What's the weather in London?")]})

    assert result["messages"][-1].content == "The weather in London is sunny."
    assert tree(telemetry) == [  # LangGraph's default graph name says nothing: the agent stays unnamed
        ("chat gpt-4o-mini", "CLIENT", "invoke_agent"),
        ("execute_tool get_weather", "INTERNAL", "invoke_agent"),
        ("chat gpt-4o-mini", "CLIENT", "invoke_agent"),
        ("invoke_agent", "INTERNAL", None),
    ]
    assert one(telemetry, "invoke_agent").attributes["traceloop.entity.name"] == "LangGraph"
    # the agent is the root run: it names the workflow of every span in the trace
    assert {span.attributes["traceloop.workflow.name"] for span in telemetry.spans()} == {"LangGraph"}
    assert [s.name for s in telemetry.spans() if s.attributes.get("traceloop.span.kind") == "workflow"] == [
        "invoke_agent"
    ]


def test_agent_inside_a_manual_workflow_keeps_that_workflow(instrument: Any, replay: Any) -> None:
    from langchain.agents import create_agent

    import otel_genai

    telemetry = instrument()
    server = replay(AGENT)
    model = chat_model(server, "gpt-4o-mini", temperature=0, streaming=True)
    agent = create_agent(model, [get_weather], system_prompt="You are a helpful assistant.", name="weather")

    @otel_genai.workflow("support")
    def handle() -> Any:
        return agent.invoke({"messages": [("user", "What's the weather in London?")]})

    handle()
    assert {span.attributes["traceloop.workflow.name"] for span in telemetry.spans()} == {"support"}
    assert one(telemetry, "invoke_agent weather").attributes["traceloop.span.kind"] == "agent"


class MathState(TypedDict, total=False):
    q: str
    a: str


def math_graph(node: Any) -> Any:
    graph = StateGraph(MathState)
    graph.add_node("prepare", lambda state: {"q": state["q"].strip()})
    graph.add_node("calculate", node)
    graph.add_edge(START, "prepare")
    graph.add_edge("prepare", "calculate")
    graph.add_edge("calculate", END)
    return graph.compile(name="math")


MATH_MESSAGES = [{"role": "system", "content": "You are a mathematician."}, {"role": "user", "content": "x"}]


def test_langgraph_graph_nodes_are_tasks_and_client_calls_inside_nest(instrument: Any, replay: Any) -> None:
    """A node that calls the openai client directly: the chat span nests under the node's span."""
    telemetry = instrument()
    server = replay(LCEL)
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=API_KEY, max_retries=0)

    def calculate(state: MathState) -> MathState:
        messages = [MATH_MESSAGES[0], {"role": "user", "content": state["q"]}]
        answer = client.chat.completions.create(model="gpt-4o", messages=messages)  # type: ignore[arg-type]
        return {"a": answer.choices[0].message.content or ""}

    assert math_graph(calculate).invoke({"q": " What's 5 + 5? "})["a"] == "\\(5 + 5 = 10\\)."
    assert tree(telemetry) == [
        ("prepare", "INTERNAL", "invoke_workflow math"),
        ("chat gpt-4o", "CLIENT", "calculate"),
        ("calculate", "INTERNAL", "invoke_workflow math"),
        ("invoke_workflow math", "INTERNAL", None),
    ]
    assert dict(one(telemetry, "calculate").attributes or {}) == {
        "traceloop.span.kind": "task",
        "traceloop.entity.name": "calculate",
        "traceloop.workflow.name": "math",
    }
    assert one(telemetry, "chat gpt-4o").attributes["traceloop.workflow.name"] == "math"
    assert tokens(telemetry) == [("input", 1, 24), ("output", 1, 11)]


async def test_langgraph_graph_async(instrument: Any, replay: Any) -> None:
    telemetry = instrument()
    server = replay(LCEL)
    client = openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key=API_KEY, max_retries=0)

    async def calculate(state: MathState) -> MathState:
        messages = [MATH_MESSAGES[0], {"role": "user", "content": state["q"]}]
        answer = await client.chat.completions.create(model="gpt-4o", messages=messages)  # type: ignore[arg-type]
        return {"a": answer.choices[0].message.content or ""}

    await math_graph(calculate).ainvoke({"q": "What's 5 + 5?"})
    assert tree(telemetry) == [
        ("prepare", "INTERNAL", "invoke_workflow math"),
        ("chat gpt-4o", "CLIENT", "calculate"),
        ("calculate", "INTERNAL", "invoke_workflow math"),
        ("invoke_workflow math", "INTERNAL", None),
    ]


async def test_async_tool_calling_a_client_nests_under_the_tool(instrument: Any, replay: Any) -> None:
    telemetry = instrument()
    server = replay(BASIC)
    client = openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key=API_KEY, max_retries=0)

    @tool
    async def ask(question: str) -> str:
        """Ask a model."""
        answer = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": question}]
        )
        return answer.choices[0].message.content or ""

    await ask.ainvoke({"question": "Say this is a test"})
    assert tree(telemetry) == [
        ("chat gpt-4o-mini", "CLIENT", "execute_tool ask"),
        ("execute_tool ask", "INTERNAL", None),
    ]


# --- what the handler alone knows ------------------------------------------------------------------


def test_uninstrumented_client_handler_alone_builds_the_inference_span(instrument: Any, replay: Any) -> None:
    telemetry = instrument(disabled_instrumentations="openai")
    server = replay(LCEL)
    math_chain(server).invoke(QUESTION)

    assert tree(telemetry) == [
        ("chat gpt-4o", "CLIENT", "invoke_workflow RunnableSequence"),
        ("invoke_workflow RunnableSequence", "INTERNAL", None),
    ]
    chat = dict(one(telemetry, "chat gpt-4o").attributes or {})
    assert "gen_ai.openai.api_base" not in chat  # no client layer here
    assert {k: chat[k] for k in SUMMARY} == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "gen_ai.response.id": "chatcmpl-BWQlr9dVLXKFchlMhrbY7PR3BTJkn",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 24,
        "gen_ai.usage.output_tokens": 11,
        "traceloop.entity.name": "ChatOpenAI",
        "traceloop.workflow.name": "RunnableSequence",
    }
    assert tokens(telemetry) == [("input", 1, 24), ("output", 1, 11)]


SUMMARY = (
    "gen_ai.operation.name",
    "gen_ai.provider.name",
    "gen_ai.request.model",
    "gen_ai.response.model",
    "gen_ai.response.id",
    "gen_ai.response.finish_reasons",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "traceloop.entity.name",
    "traceloop.workflow.name",
)


def test_any_other_chat_model_from_usage_metadata(instrument: Any) -> None:
    telemetry = instrument(capture_message_content="SPAN_ONLY")
    usage = {"input_tokens": 7, "output_tokens": 3, "total_tokens": 10}
    model = GenericFakeChatModel(messages=iter([AIMessage("Four.", usage_metadata=usage)]))
    chain = ChatPromptTemplate.from_template("What is {a} + {b}?") | model | StrOutputParser()
    assert chain.invoke({"a": 2, "b": 2}) == "Four."

    assert tree(telemetry) == [
        ("chat", "CLIENT", "invoke_workflow RunnableSequence"),
        ("invoke_workflow RunnableSequence", "INTERNAL", None),
    ]
    chat = dict(one(telemetry, "chat").attributes or {})
    assert chat["gen_ai.provider.name"] == "genericfakechatmodel"  # LangChain's ls_provider
    assert (chat["gen_ai.usage.input_tokens"], chat["gen_ai.usage.output_tokens"]) == (7, 3)
    assert json.loads(chat["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "What is 2 + 2?"}]}
    ]
    assert json.loads(chat["gen_ai.output.messages"]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "Four."}], "finish_reason": "stop"}
    ]
    assert tokens(telemetry) == [("input", 1, 7), ("output", 1, 3)]


async def test_other_chat_model_streamed_async(instrument: Any) -> None:
    telemetry = instrument()
    model = GenericFakeChatModel(messages=iter([AIMessage("one two three")]))
    chunks = [chunk.content async for chunk in model.astream("count")]
    assert "".join(str(c) for c in chunks) == "one two three"
    chat = dict(telemetry.span().attributes or {})
    assert chat["gen_ai.request.stream"] is True
    assert [p.count for p in telemetry.metrics()["gen_ai.client.operation.time_to_first_chunk"]] == [1]


# --- content, conversation, retrieval, verbose ------------------------------------------------------


def test_tool_arguments_and_result_only_with_content_capture(instrument: Any) -> None:
    telemetry = instrument(capture_message_content="SPAN_ONLY")
    get_weather.invoke({"location": "London"})
    attributes = dict(telemetry.span().attributes or {})
    assert json.loads(attributes["gen_ai.tool.call.arguments"]) == {"location": "London"}
    assert attributes["gen_ai.tool.call.result"] == "The weather in London is sunny."
    assert attributes["traceloop.entity.input"] == attributes["gen_ai.tool.call.arguments"]


def test_no_tool_content_by_default(instrument: Any) -> None:
    telemetry = instrument()
    get_weather.invoke({"location": "London"})
    attributes = dict(telemetry.span().attributes or {})
    assert not {
        k
        for k in attributes
        if k.startswith(("gen_ai.tool.call.a", "gen_ai.tool.call.r", "traceloop.entity.i"))
    }


@pytest.mark.filterwarnings("ignore:.*deprecated")  # the message-history API, still in use
def test_conversation_id_from_message_history_session(instrument: Any, replay: Any) -> None:
    telemetry = instrument()
    server = replay(LCEL)
    prompt = ChatPromptTemplate.from_messages(
        [("system", "You are a mathematician."), MessagesPlaceholder("history"), ("user", "{q}")]
    )
    histories: dict[str, InMemoryChatMessageHistory] = {}
    chain = RunnableWithMessageHistory(
        prompt | chat_model(server, "gpt-4o"),
        lambda session: histories.setdefault(session, InMemoryChatMessageHistory()),
        input_messages_key="q",
        history_messages_key="history",
    )
    chain.invoke(QUESTION, config={"configurable": {"session_id": "session-42"}})

    for span in telemetry.spans():
        assert span.attributes["gen_ai.conversation.id"] == "session-42", span.name
    assert "session-42" not in repr(telemetry.metrics())  # never on metrics


def test_no_conversation_id_is_invented(instrument: Any, replay: Any) -> None:
    telemetry = instrument()
    server = replay(LCEL)
    math_chain(server).invoke(QUESTION, config={"metadata": {"tenant": "acme"}})
    for span in telemetry.spans():
        assert "gen_ai.conversation.id" not in span.attributes
        assert span.attributes["traceloop.association.properties.tenant"] == "acme"


def test_conversation_id_from_an_explicit_metadata_key(instrument: Any, replay: Any) -> None:
    telemetry = instrument()
    server = replay(LCEL)
    math_chain(server).invoke(QUESTION, config={"metadata": {"conversation_id": "c-9"}})
    assert {s.attributes["gen_ai.conversation.id"] for s in telemetry.spans()} == {"c-9"}


def test_retriever_span(instrument: Any) -> None:
    telemetry = instrument()
    store = InMemoryVectorStore(DeterministicFakeEmbedding(size=8))
    store.add_documents([Document("socks", id="d1"), Document("shoes", id="d2"), Document("hats", id="d3")])
    retriever = store.as_retriever(search_kwargs={"k": 2})
    chain = retriever | RunnableLambda(lambda docs: [d.id for d in docs])
    found = chain.invoke("socks")

    assert tree(telemetry) == [
        ("retrieval InMemoryVectorStore", "CLIENT", "invoke_workflow RunnableSequence"),
        ("invoke_workflow RunnableSequence", "INTERNAL", None),
    ]
    attributes = dict(one(telemetry, "retrieval InMemoryVectorStore").attributes or {})
    assert attributes["gen_ai.operation.name"] == "retrieval"
    assert attributes["gen_ai.data_source.id"] == "InMemoryVectorStore"
    assert attributes["gen_ai.retrieval.top_k"] == 2
    assert json.loads(attributes["gen_ai.retrieval.documents"]) == [{"id": i} for i in found]
    assert "gen_ai.retrieval.query.text" not in attributes


def test_verbose_mode_spans_every_runnable(instrument: Any, replay: Any) -> None:
    from otel_genai.instrumentation.langchain import VERBOSE_ENV

    with pytest.MonkeyPatch.context() as env:
        env.setenv(VERBOSE_ENV, "true")
        telemetry = instrument()
    server = replay(LCEL)
    math_chain(server).invoke(QUESTION)
    assert tree(telemetry) == [
        ("ChatPromptTemplate", "INTERNAL", "invoke_workflow RunnableSequence"),
        ("chat gpt-4o", "CLIENT", "invoke_workflow RunnableSequence"),
        ("StrOutputParser", "INTERNAL", "invoke_workflow RunnableSequence"),
        ("invoke_workflow RunnableSequence", "INTERNAL", None),
    ]


# --- lifecycle -------------------------------------------------------------------------------------


def test_shutdown_removes_the_handler(instrument: Any, replay: Any) -> None:
    from langchain_core.tracers import context

    import otel_genai

    telemetry = instrument()
    hooks = len(context._configure_hooks)
    otel_genai.shutdown()
    assert len(context._configure_hooks) == hooks - 1
    server = replay(LCEL)
    math_chain(server).invoke(QUESTION)
    assert telemetry.spans() == []


def test_handler_failure_never_reaches_the_user(instrument: Any, replay: Any, monkeypatch: Any) -> None:
    from otel_genai.instrumentation.langchain import readers

    def broken(*args: Any) -> None:
        raise RuntimeError("reader bug")

    monkeypatch.setattr(readers, "read_request", broken)
    monkeypatch.setattr(readers, "read_response", broken)
    telemetry = instrument()
    server = replay(LCEL)
    assert math_chain(server).invoke(QUESTION) == "\\(5 + 5 = 10\\)."
    assert [name for name, _, _ in tree(telemetry)] == ["chat gpt-4o", "invoke_workflow RunnableSequence"]


def test_threads_started_by_the_user_see_their_own_context(instrument: Any, replay: Any) -> None:
    """A chain run from a plain thread (empty context) is a root workflow, not a child of anything."""
    import threading

    telemetry = instrument()
    server = replay(LCEL)
    worker = threading.Thread(target=lambda: math_chain(server).invoke(QUESTION))
    worker.start()
    worker.join()
    assert tree(telemetry)[-1] == ("invoke_workflow RunnableSequence", "INTERNAL", None)


def test_event_loop_runs_sync_handler_inline(instrument: Any, replay: Any) -> None:
    """asyncio.run from sync code: the handler runs in the loop's task, parents stay right."""
    telemetry = instrument()
    server = replay(LCEL)
    asyncio.run(math_chain(server).ainvoke(QUESTION))
    assert tree(telemetry) == [
        ("chat gpt-4o", "CLIENT", "invoke_workflow RunnableSequence"),
        ("invoke_workflow RunnableSequence", "INTERNAL", None),
    ]


LATE_IMPORT = """
import json, sys
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
import otel_genai

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
otel_genai.init(tracer_provider=provider, metrics_exporter="none", logs_exporter="none")
loaded = sorted(m for m in sys.modules if m.startswith(("langchain", "langgraph")))

from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langgraph.graph import END, START, StateGraph
from langgraph.prebuilt import create_react_agent

model = GenericFakeChatModel(messages=iter([AIMessage("hi")]))
graph = StateGraph(dict)
graph.add_node("talk", lambda state: {"reply": model.invoke("hello").content})
graph.add_edge(START, "talk")
graph.add_edge("talk", END)
graph.compile(name="greeter").invoke({"x": 1})
names = {s.context.span_id: s.name for s in exporter.get_finished_spans()}
tree = [[s.name, names.get(s.parent.span_id) if s.parent else None] for s in exporter.get_finished_spans()]
print(json.dumps({"loaded": loaded, "tree": tree, "factory": type(create_react_agent).__name__}))
"""


def test_langchain_imported_after_init_is_patched_lazily() -> None:
    """init() imports nothing of LangChain; importing it later patches it (the usual start-up order)."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", LATE_IMPORT], capture_output=True, text=True, check=True, timeout=120
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["loaded"] == []
    assert report["tree"] == [
        ["chat", "talk"],
        ["talk", "invoke_workflow greeter"],
        ["invoke_workflow greeter", None],
    ]
    assert report["factory"] == "FunctionWrapper"  # prebuilt-agent factory imported after init: marked


# --- other instrumented clients: ChatOllama -> ollama, ChatBedrock(Converse) -> botocore ------------

OLLAMA_STREAM = "ollama/chat_stream_llama3.json"  # ChatOllama always streams from the server: 17/50
CONVERSE = "bedrock/converse_meta_llama3_2.json"  # 52/30
CONVERSE_STREAM = "bedrock/converse_stream_claude_v2.json"  # 37/8
CHAT_BEDROCK = "langchain/chatbedrock_claude3_haiku.json"  # InvokeModel, anthropic messages: 16/27


def test_chat_ollama_chain_invoke_and_stream(instrument: Any, replay: Any) -> None:
    from langchain_ollama import ChatOllama

    telemetry = instrument()
    server = replay(OLLAMA_STREAM, OLLAMA_STREAM)
    prompt = ChatPromptTemplate.from_template("Tell me a joke about {topic}")
    chain = prompt | ChatOllama(model="llama3", base_url=server.url) | StrOutputParser()
    answer = chain.invoke({"topic": "OpenTelemetry"})
    assert "".join(chain.stream({"topic": "OpenTelemetry"})) == answer

    assert (
        tree(telemetry)
        == [
            ("chat llama3", "CLIENT", "invoke_workflow RunnableSequence"),
            ("invoke_workflow RunnableSequence", "INTERNAL", None),
        ]
        * 2
    )
    for chat in by_name(telemetry, "chat llama3"):
        attributes = dict(chat.attributes or {})
        assert attributes["gen_ai.provider.name"] == "ollama"
        assert attributes["traceloop.entity.name"] == "ChatOllama"
        assert "ollama.response.total_duration" in attributes  # the ollama client layer's reading
        assert (attributes["gen_ai.usage.input_tokens"], attributes["gen_ai.usage.output_tokens"]) == (17, 50)
    assert tokens(telemetry) == [("input", 2, 34), ("output", 2, 100)]


def test_chat_bedrock_converse_chain_and_stream(instrument: Any, replay: Any) -> None:
    from langchain_aws import ChatBedrockConverse

    from bedrock_support import sync_client

    telemetry = instrument()
    server = replay(CONVERSE, CONVERSE_STREAM)
    model = ChatBedrockConverse(
        client=sync_client(server),
        model="meta.llama3-2-1b-instruct-v1:0",
        temperature=0.5,
        region_name="us-east-1",
    )
    prompt = ChatPromptTemplate.from_messages(
        [("system", "You are an app that knows about everything."), ("user", "Tell me a joke about {topic}")]
    )
    assert (prompt | model | StrOutputParser()).invoke({"topic": "opentelemetry"}).startswith("Why did")
    claude = ChatBedrockConverse(
        client=sync_client(server), model="anthropic.claude-v2", region_name="us-east-1"
    )
    history = [
        ("system", "You are a friendly app"),
        ("user", "Say this is a test"),
        ("assistant", "This is a test"),
        ("user", "Say again this is a test"),
    ]
    assert "".join(str(chunk.text) for chunk in claude.stream(history)) == "This is a test"

    assert tree(telemetry) == [
        ("chat meta.llama3-2-1b-instruct-v1:0", "CLIENT", "invoke_workflow RunnableSequence"),
        ("invoke_workflow RunnableSequence", "INTERNAL", None),
        ("chat anthropic.claude-v2", "CLIENT", None),
    ]
    converse = dict(one(telemetry, "chat meta.llama3-2-1b-instruct-v1:0").attributes or {})
    assert converse["gen_ai.provider.name"] == "aws.bedrock"
    assert converse["gen_ai.request.temperature"] == 0.5
    assert "aws.request_id" in converse  # the botocore layer's reading, on the same span
    stream = dict(one(telemetry, "chat anthropic.claude-v2").attributes or {})
    assert stream["gen_ai.request.stream"] is True
    assert tokens(telemetry) == [("input", 1, 37), ("input", 1, 52), ("output", 1, 8), ("output", 1, 30)]


def test_chat_bedrock_invoke_model(instrument: Any, replay: Any) -> None:
    from langchain_aws import ChatBedrock

    from bedrock_support import sync_client

    telemetry = instrument()
    server = replay(CHAT_BEDROCK)
    model = ChatBedrock(
        client=sync_client(server),
        model_id="anthropic.claude-3-haiku-20240307-v1:0",
        model_kwargs={"max_tokens": 1024},
        region_name="us-east-1",
    )
    prompt = ChatPromptTemplate.from_messages([("system", "You are helpful assistant"), ("user", "{q}")])
    answer = (prompt | model | StrOutputParser()).invoke({"q": "tell me a short joke"})

    assert answer == recorded(CHAT_BEDROCK)["response"]["json"]["content"][0]["text"]
    name = "chat anthropic.claude-3-haiku-20240307-v1:0"
    assert tree(telemetry) == [
        (name, "CLIENT", "invoke_workflow RunnableSequence"),
        ("invoke_workflow RunnableSequence", "INTERNAL", None),
    ]
    chat = dict(one(telemetry, name).attributes or {})
    assert chat["gen_ai.response.model"] == "claude-3-haiku-48k-20240307"
    assert chat["gen_ai.response.id"] == "msg_tMvfcauJlAgxHmTMKY79Mk7s"
    assert chat["traceloop.entity.name"] == "ChatBedrock"
    assert tokens(telemetry) == [("input", 1, 16), ("output", 1, 27)]


async def test_astream_events(instrument: Any, replay: Any) -> None:
    telemetry = instrument()
    server = replay(STREAM)
    prompt = ChatPromptTemplate.from_template("write 10 lines of random text about ${product}")
    chain = prompt | chat_model(server, "gpt-4", temperature=0) | StrOutputParser()
    kinds = {event["event"] async for event in chain.astream_events({"product": "socks"}, version="v2")}
    assert {"on_chain_start", "on_chat_model_stream", "on_chain_end"} <= kinds
    assert tree(telemetry) == [
        ("chat gpt-4", "CLIENT", "invoke_workflow RunnableSequence"),
        ("invoke_workflow RunnableSequence", "INTERNAL", None),
    ]
    assert [p.count for p in telemetry.metrics()["gen_ai.client.operation.time_to_first_chunk"]] == [1]


def test_llm_text_completions_in_a_sequence(instrument: Any, replay: Any) -> None:
    """Two legacy-completions LLM calls in one chain: two text_completion spans, usage counted once each."""
    from langchain_core.prompts import PromptTemplate
    from langchain_openai import OpenAI

    name = "langchain/sequential_chain_completions_instruct.json"
    telemetry = instrument()
    server = replay(name)
    llm = OpenAI(base_url=f"{server.url}/v1", api_key=API_KEY, max_retries=0, model="gpt-3.5-turbo-instruct")
    synopsis = PromptTemplate.from_template("Synopsis for {title}") | llm
    review = PromptTemplate.from_template("Review of {synopsis}") | llm
    (synopsis | (lambda text: {"synopsis": text}) | review).invoke(
        {"title": "Tragedy at sunset on the beach"}
    )

    span = "text_completion gpt-3.5-turbo-instruct"
    assert tree(telemetry) == [
        (span, "CLIENT", "invoke_workflow RunnableSequence"),
        (span, "CLIENT", "invoke_workflow RunnableSequence"),
        ("invoke_workflow RunnableSequence", "INTERNAL", None),
    ]
    assert [s.attributes["gen_ai.response.finish_reasons"] for s in by_name(telemetry, span)] == [
        ("stop",),
        ("length",),
    ]
    usage = [recorded(name, i)["response"]["json"]["usage"] for i in (0, 1)]
    assert tokens(telemetry) == [
        ("input", 2, usage[0]["prompt_tokens"] + usage[1]["prompt_tokens"]),
        ("output", 2, usage[0]["completion_tokens"] + usage[1]["completion_tokens"]),
    ]


def test_tool_calls_with_content_capture(instrument: Any, replay: Any) -> None:
    name = "langchain/chatopenai_tool_calls.json"
    telemetry = instrument(capture_message_content="SPAN_ONLY")
    server = replay(name)

    def food_analysis(name: str, healthy: bool, calories: int, taste_profile: list[str]) -> None:
        """"""

    model = chat_model(server, "gpt-3.5-turbo", temperature=0).bind_tools([food_analysis])
    message = model.invoke("Analyze the following food item: avocado")

    chat = dict(telemetry.span().attributes or {})
    assert chat["gen_ai.response.finish_reasons"] == ("tool_call",)
    (call,) = json.loads(chat["gen_ai.output.messages"])[0]["parts"]
    assert (call["type"], call["name"], call["id"]) == (
        "tool_call",
        "food_analysis",
        message.tool_calls[0]["id"],
    )
    assert json.loads(chat["gen_ai.tool.definitions"]) == [{"type": "function", "name": "food_analysis"}]
    assert json.loads(chat["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Analyze the following food item: avocado"}]}
    ]


# --- every single-call ChatOpenAI recording: one chat span, the recorded usage once ----------------


def _tool_stub(name: str) -> Any:
    def stub(location: str) -> str:
        return ""

    stub.__name__ = stub.__qualname__ = name
    stub.__doc__ = ""
    return stub


def _parallel_tools(server: Any) -> Any:
    tools = [_tool_stub("get_weather"), _tool_stub("get_news")]
    model = chat_model(server, "gpt-4.1-nano").bind_tools(tools)
    return model.invoke("Hey, what's the weather in San Francisco? Also, any news in town?")


def _structured_output(server: Any) -> Any:
    from pydantic import BaseModel, Field

    class FoodAnalysis(BaseModel):
        name: str = Field(description="The name of the food item")
        healthy: bool = Field(description="Whether the food is good for you")
        calories: int = Field(description="Estimated calories per serving")
        taste_profile: list[str] = Field(description="List of taste characteristics")

    model = chat_model(server, "gpt-4o-mini", temperature=0).with_structured_output(FoodAnalysis)
    return model.invoke("Analyze the following food item: avocado")


def _tool_history(server: Any) -> Any:
    from langchain_core.messages import HumanMessage, SystemMessage, ToolMessage

    calls = [{"name": "get_weather", "args": {"location": "San Francisco"}, "id": "tool_123"}]
    history = [
        SystemMessage("Be crisp and friendly."),
        HumanMessage("Hey, what's the weather in San Francisco?"),
        AIMessage("", tool_calls=calls),
        ToolMessage("Sunny as always!", tool_call_id="tool_123"),
        HumanMessage("What's the weather in London?"),
    ]
    model = chat_model(server, "gpt-4.1-nano", temperature=0).bind_tools([_tool_stub("get_weather")])
    return model.invoke(history)


def _vllm_stream(server: Any) -> Any:
    model = chat_model(server, "facebook/opt-125m", max_tokens=20, temperature=0.7)
    messages = [("system", "You are a helpful assistant "), ("user", "Tell me a joke about OpenTelemetry")]
    return "".join(str(chunk.content) for chunk in model.stream(messages))


def _legacy_functions(server: Any) -> Any:
    from langchain_core.output_parsers.openai_functions import JsonOutputFunctionsParser

    joke = {
        "name": "Joke",
        "description": "Joke to tell user.",
        "parameters": {
            "type": "object",
            "properties": {
                "setup": {"description": "question to set up a joke", "type": "string"},
                "punchline": {"description": "answer to resolve the joke", "type": "string"},
            },
            "required": ["setup", "punchline"],
        },
    }
    prompt = ChatPromptTemplate.from_messages([("system", "You are helpful assistant"), ("user", "{q}")])
    model = chat_model(server, "gpt-3.5-turbo", temperature=0.7).bind(functions=[joke])
    return (prompt | model | JsonOutputFunctionsParser()).invoke({"q": "tell me a short joke"})


SINGLE_CALLS = {
    "chatopenai_parallel_tool_calls": (_parallel_tools, ("tool_call",)),
    "chatopenai_structured_output": (_structured_output, ("stop",)),
    "chatopenai_tool_calls_with_history": (_tool_history, ("tool_call",)),
    "chatopenai_vllm_stream_finish_length": (_vllm_stream, ("length",)),
    "lcel_openai_functions_gpt35": (_legacy_functions, ("tool_call",)),
}


@pytest.mark.parametrize("stem", sorted(SINGLE_CALLS))
def test_single_call_recordings(instrument: Any, replay: Any, stem: str) -> None:
    name = f"langchain/{stem}.json"
    telemetry = instrument()
    server = replay(name)
    call, finish = SINGLE_CALLS[stem]
    call(server)
    assert server.unserved == [] and server.unmatched == []

    request = recorded(name)["request"]["json"]
    chats = [s for s in telemetry.spans() if s.name.startswith("chat ")]
    assert [s.name for s in chats] == [f"chat {request['model']}"]
    (chat,) = chats
    assert chat.attributes["gen_ai.response.finish_reasons"] == finish
    usage = recorded(name)["response"].get("json", {}).get("usage")
    if usage:
        assert tokens(telemetry) == [
            ("input", 1, usage["prompt_tokens"]),
            ("output", 1, usage["completion_tokens"]),
        ]
    else:
        assert tokens(telemetry) == []


def test_responses_api_agent_round_trip(instrument: Any, replay: Any) -> None:
    """create_agent over ChatOpenAI's Responses API (through a gateway path): reasoning + a tool call."""
    from langchain.agents import create_agent

    name = "langchain/responses_api_agent_tool_roundtrip_gpt5.json"
    telemetry = instrument()
    server = replay(name)

    @tool
    def add(a: float, b: float) -> float:
        """Add two numbers."""
        return a + b

    model = ChatOpenAI(
        base_url=f"{server.url}/proxy/openai",
        api_key=API_KEY,
        max_retries=0,
        model="gpt-5",
        use_responses_api=True,
        reasoning={"effort": "medium", "summary": "concise"},
    )
    agent = create_agent(model, [add], name="calculator")
    result = agent.invoke({"messages": [("user", "what's 123 + 456? think carefully and use the tool")]})

    assert "579" in str(result["messages"][-1].content)
    assert tree(telemetry) == [
        ("chat gpt-5", "CLIENT", "invoke_agent calculator"),
        ("execute_tool add", "INTERNAL", "invoke_agent calculator"),
        ("chat gpt-5", "CLIENT", "invoke_agent calculator"),
        ("invoke_agent calculator", "INTERNAL", None),
    ]
    first, second = (recorded(name, i)["response"]["json"]["usage"] for i in (0, 1))
    assert tokens(telemetry) == [
        ("input", 2, first["input_tokens"] + second["input_tokens"]),
        ("output", 2, first["output_tokens"] + second["output_tokens"]),
    ]
    assert (
        one(telemetry, "execute_tool add").attributes["gen_ai.tool.call.id"]
        == "call_XlgatTV1bBqLX1fOZTbu7cxO"
    )
