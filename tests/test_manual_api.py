"""The manual API: workflow/agent/tool/task spans and association properties for code with no framework.

Decorated sync functions, coroutines and (async) generators, and the context-manager forms, against a
real openai client over loopback HTTP: the inference span nests under the decorated span and carries
the workflow name; association properties label spans (never metrics) and never outlive their block.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import openai
import pytest
from opentelemetry import trace
from opentelemetry.trace import StatusCode

import otel_genai
from conftest import API_KEY

BASIC = "openai/chat_basic_gpt4o_mini.json"
MESSAGES = [{"role": "user", "content": "Say this is a test"}]


def tree(telemetry: Any) -> list[tuple[str, str, str | None]]:
    spans = telemetry.spans()
    names = {s.context.span_id: s.name for s in spans}
    return [(s.name, s.kind.name, names.get(s.parent.span_id) if s.parent else None) for s in spans]


def attributes(telemetry: Any, name: str) -> dict[str, Any]:
    (span,) = [s for s in telemetry.spans() if s.name == name]
    return dict(span.attributes or {})


def test_workflow_agent_tool_and_task_nest_and_name_the_inference(instrument: Any, replay: Any) -> None:
    telemetry = instrument()
    client = openai.OpenAI(base_url=f"{replay(BASIC).url}/v1", api_key=API_KEY, max_retries=0)

    @otel_genai.tool
    def lookup(city: str) -> str:
        return f"sunny in {city}"

    @otel_genai.agent("planner")
    def plan() -> str:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
        return lookup("Paris")

    @otel_genai.task
    def prepare() -> int:
        return 1

    @otel_genai.workflow("nightly_report")
    def run() -> str:
        prepare()
        return plan()

    assert run() == "sunny in Paris"
    assert tree(telemetry) == [
        ("prepare", "INTERNAL", "invoke_workflow nightly_report"),
        ("chat gpt-4o-mini", "CLIENT", "invoke_agent planner"),
        ("execute_tool lookup", "INTERNAL", "invoke_agent planner"),
        ("invoke_agent planner", "INTERNAL", "invoke_workflow nightly_report"),
        ("invoke_workflow nightly_report", "INTERNAL", None),
    ]
    assert attributes(telemetry, "invoke_workflow nightly_report") == {
        "gen_ai.operation.name": "invoke_workflow",
        "gen_ai.workflow.name": "nightly_report",
        "traceloop.span.kind": "workflow",
        "traceloop.entity.name": "nightly_report",
        "traceloop.workflow.name": "nightly_report",
    }
    assert attributes(telemetry, "invoke_agent planner") == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "planner",
        "traceloop.span.kind": "agent",
        "traceloop.entity.name": "planner",
        "traceloop.workflow.name": "nightly_report",
    }
    assert attributes(telemetry, "execute_tool lookup") == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "lookup",
        "gen_ai.tool.type": "function",
        "traceloop.span.kind": "tool",
        "traceloop.entity.name": "lookup",
        "traceloop.workflow.name": "nightly_report",
    }
    assert attributes(telemetry, "prepare") == {
        "traceloop.span.kind": "task",
        "traceloop.entity.name": "prepare",
        "traceloop.workflow.name": "nightly_report",
    }
    assert attributes(telemetry, "chat gpt-4o-mini")["traceloop.workflow.name"] == "nightly_report"


def test_context_manager_form(instrument: Any) -> None:
    telemetry = instrument()
    with otel_genai.workflow("batch") as span:
        assert span is trace.get_current_span()
        with otel_genai.task("step"):
            pass
    assert trace.get_current_span() is trace.INVALID_SPAN
    assert tree(telemetry) == [
        ("step", "INTERNAL", "invoke_workflow batch"),
        ("invoke_workflow batch", "INTERNAL", None),
    ]


async def test_async_functions_and_async_context_manager(instrument: Any, replay: Any) -> None:
    telemetry = instrument()
    client = openai.AsyncOpenAI(base_url=f"{replay(BASIC).url}/v1", api_key=API_KEY, max_retries=0)

    @otel_genai.agent
    async def answer() -> str:
        response = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
        return response.choices[0].message.content or ""

    async with otel_genai.workflow("chat_turn"):
        text = await answer()
    assert text == "This is a test."
    assert tree(telemetry) == [
        ("chat gpt-4o-mini", "CLIENT", "invoke_agent answer"),
        ("invoke_agent answer", "INTERNAL", "invoke_workflow chat_turn"),
        ("invoke_workflow chat_turn", "INTERNAL", None),
    ]


async def test_concurrent_tasks_keep_their_own_parents(instrument: Any) -> None:
    telemetry = instrument()

    @otel_genai.task("leaf")
    async def leaf() -> None:
        await asyncio.sleep(0)

    @otel_genai.workflow
    async def branch(name: str) -> None:
        await asyncio.gather(leaf(), leaf())

    await asyncio.gather(branch("a"), branch("b"))
    spans = telemetry.spans()
    workflows = {s.context.span_id for s in spans if s.name == "invoke_workflow branch"}
    leaves = [s for s in spans if s.name == "leaf"]
    assert len(workflows) == 2 and len(leaves) == 4
    for workflow_id in workflows:
        assert sum(1 for s in leaves if s.parent.span_id == workflow_id) == 2


def test_generator_span_covers_iteration_and_is_current_only_inside(instrument: Any) -> None:
    telemetry = instrument()
    seen: list[str] = []

    @otel_genai.task("produce")
    def produce() -> Iterator[int]:
        for i in range(3):
            seen.append(trace.get_current_span().name)  # type: ignore[attr-defined]
            yield i

    tracer = telemetry.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("consumer") as consumer:
        for _ in produce():
            assert trace.get_current_span() is consumer  # never the generator's span between items
    assert seen == ["produce"] * 3
    assert tree(telemetry) == [("produce", "INTERNAL", "consumer"), ("consumer", "INTERNAL", None)]


def test_generator_closed_early_ends_its_span_without_error(instrument: Any) -> None:
    telemetry = instrument()

    @otel_genai.workflow("numbers")
    def numbers() -> Iterator[int]:
        yield from range(10)

    stream = numbers()
    assert next(stream) == 0
    stream.close()
    span = telemetry.span()
    assert span.name == "invoke_workflow numbers"
    assert span.status.status_code is StatusCode.UNSET


async def test_async_generator(instrument: Any) -> None:
    telemetry = instrument()

    @otel_genai.tool("ticker")
    async def ticks() -> AsyncIterator[int]:
        for i in range(3):
            await asyncio.sleep(0)
            yield i

    assert [i async for i in ticks()] == [0, 1, 2]
    assert tree(telemetry) == [("execute_tool ticker", "INTERNAL", None)]


def test_errors_mark_the_span_and_reach_the_caller_unchanged(instrument: Any) -> None:
    telemetry = instrument()

    class Boom(Exception):
        pass

    @otel_genai.tool
    def fails() -> None:
        raise Boom("no")

    with pytest.raises(Boom, match="no"):
        fails()
    span = telemetry.span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == f"{Boom.__module__}.{Boom.__qualname__}"


async def test_async_generator_error(instrument: Any) -> None:
    telemetry = instrument()

    @otel_genai.task
    async def broken() -> AsyncIterator[int]:
        yield 1
        raise KeyError("gone")

    with pytest.raises(KeyError):
        [i async for i in broken()]
    assert telemetry.span().attributes["error.type"] == "KeyError"


def test_tool_arguments_and_result_when_content_is_captured(instrument: Any) -> None:
    telemetry = instrument(capture_message_content="SPAN_ONLY")

    @otel_genai.tool(description="Weather by city.")
    def weather(city: str, days: int = 1) -> dict[str, Any]:
        return {"city": city, "forecast": ["sun"] * days}

    weather("Oslo", days=2)
    span = attributes(telemetry, "execute_tool weather")
    assert json.loads(span["gen_ai.tool.call.arguments"]) == {"city": "Oslo", "days": 2}
    assert json.loads(span["gen_ai.tool.call.result"]) == {"city": "Oslo", "forecast": ["sun", "sun"]}
    assert span["gen_ai.tool.description"] == "Weather by city."


def test_legacy_names_can_be_switched_off(instrument: Any) -> None:
    telemetry = instrument(legacy_attributes=False)
    with otel_genai.workflow("w"):
        pass
    assert dict(telemetry.span().attributes or {}) == {
        "gen_ai.operation.name": "invoke_workflow",
        "gen_ai.workflow.name": "w",
    }


def test_association_properties_label_spans_inside_only_and_never_metrics(
    instrument: Any, replay: Any
) -> None:
    telemetry = instrument()
    server = replay(BASIC, BASIC)
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=API_KEY, max_retries=0)
    labels = otel_genai.association_properties(user_id="u-7", session_id="s-1", plan="pro")
    with labels, otel_genai.workflow("turn"):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]

    inside, workflow, outside = telemetry.spans()
    expected = {
        "user.id": "u-7",
        "gen_ai.conversation.id": "s-1",
        "traceloop.association.properties.user_id": "u-7",
        "traceloop.association.properties.session_id": "s-1",
        "traceloop.association.properties.plan": "pro",
    }
    for span in (inside, workflow):
        assert {k: span.attributes[k] for k in expected} == expected
    assert not set(expected) & set(outside.attributes or {})
    for points in telemetry.metrics().values():
        for point in points:
            assert not set(expected) & set(point.attributes)


def test_association_properties_detached_even_on_error(instrument: Any) -> None:
    telemetry = instrument()
    with pytest.raises(RuntimeError), otel_genai.association_properties(user_id="u-1"):
        raise RuntimeError
    with otel_genai.workflow("later"):
        pass
    assert "user.id" not in telemetry.span().attributes


def test_without_init_the_decorators_are_harmless() -> None:
    @otel_genai.workflow("w")
    def work() -> int:
        return 42

    assert work() == 42  # global no-op provider: nothing recorded, nothing raised


def test_import_stays_light() -> None:
    code = "import otel_genai, sys; print('otel_genai.manual' in sys.modules, 'wrapt' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]


def test_manual_instrumentation_can_be_disabled(instrument: Any) -> None:
    telemetry = instrument(disabled_instrumentations="manual")

    @otel_genai.task("t")
    def work() -> None:
        pass

    work()
    assert telemetry.spans() == []  # falls back to the global providers, which record nothing here
