"""Ollama end to end: the real ``ollama`` client (sync ``Client``, ``AsyncClient`` and the module-level
``ollama.chat(...)`` functions) against every recording under ``recordings/ollama/`` on loopback.

Expected values come from the recording (the response JSON, or the NDJSON stream's final ``done`` line) and
are anchored by literal values per file, so a reader that drifted with the recording would still fail.
The ``synthetic_*`` files are not recordings of a real server: ``recordings/ollama/README.md`` says where
each shape comes from.
"""

from __future__ import annotations

import gc
import importlib
import json
import socket
import subprocess
import sys
import types
from collections.abc import Callable, Iterator
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import httpx
import ollama
import pytest
import wrapt
from opentelemetry.trace import SpanKind, StatusCode

import otel_genai
from conftest import Telemetry
from otel_genai.core.invocation import Invocation
from otel_genai.instrumentation.ollama import OllamaInstrumentor, hook, readers
from replay import ReplayServer

RECORDINGS = Path(__file__).parent / "recordings" / "ollama"
NAMES = sorted(p.stem for p in RECORDINGS.glob("*.json"))
ERROR = "chat_error_404_model_not_found"
SUCCESS = [name for name in NAMES if name != ERROR]
STREAM = "chat_stream_llama3"

METHODS = {
    "/api/chat": "chat",
    "/api/generate": "generate",
    "/api/embed": "embed",
    "/api/embeddings": "embeddings",
}
OPERATIONS = {
    "/api/chat": "chat",
    "/api/generate": "text_completion",
    "/api/embed": "embeddings",
    "/api/embeddings": "embeddings",
}
LEGACY_TYPES = {"chat": "chat", "text_completion": "completion", "embeddings": "embedding"}
TIMINGS = {
    "total_duration": "ollama.response.total_duration",
    "load_duration": "ollama.response.load_duration",
    "prompt_eval_duration": "ollama.response.prompt_eval_duration",
    "eval_duration": "ollama.response.eval_duration",
}
TTFC = "gen_ai.response.time_to_first_chunk"
SERVER_TTFT_BUCKETS = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip
SERVER_TPOT_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5)

# Literal anchors: (input tokens, output tokens, finish reason, embedding dimension). None = not reported.
RECORDED: dict[str, tuple[int | None, int | None, str | None, int | None]] = {
    "chat_gemma3": (19, 104, "stop", None),
    "chat_llama3": (17, 66, "stop", None),
    "chat_stream_llama3": (17, 50, "stop", None),
    "chat_stream_thinking_qwen3": (21, 889, "stop", None),
    "chat_thinking_qwen3": (21, 369, "stop", None),
    "chat_tool_call_thinking_qwen3": (292, 143, "stop", None),
    "chat_tool_result_history_llama3_1": (44, 113, "stop", None),
    "embeddings_legacy_llama3": (None, None, None, 4096),
    "generate_llama3": (17, 63, "stop", None),
    "generate_stream_gemma3": (16, 51, "stop", None),
    "generate_stream_llama3": (17, 71, "stop", None),
    "synthetic_chat_format_options_length": (28, 8, "length", None),
    "synthetic_chat_stream_tool_calls_qwen3": (206, 64, "stop", None),
    "synthetic_embed_all_minilm": (8, None, None, 10),
    "synthetic_embed_multiple_all_minilm": (None, None, None, 10),
    "synthetic_generate_stream_think_qwen3": (15, 19, "stop", None),
    "synthetic_generate_think_gpt_oss": (81, 38, "stop", None),
}
# Literal anchors for the server metrics, worked out by hand from the recorded nanoseconds:
# (load + prompt_eval) / 1e9 and eval_duration / eval_count / 1e9.
SERVER_ANCHORS = {
    "chat_llama3": (8.25471175, 0.032230303030),
    "generate_stream_gemma3": (0.09717675, 0.007538003274510),
    "synthetic_chat_stream_tool_calls_qwen3": (0.1993185, 0.01952928125),
    "synthetic_chat_format_options_length": (0.257543958, 0.01675),
}
# Request attributes, written out from the recorded request bodies.
QWEN_OPTIONS = {"gen_ai.request.temperature": 0.0, "gen_ai.request.seed": 42}
REQUEST_ATTRIBUTES: dict[str, dict[str, Any]] = {
    "chat_thinking_qwen3": QWEN_OPTIONS,
    "chat_tool_call_thinking_qwen3": QWEN_OPTIONS,
    "chat_stream_thinking_qwen3": QWEN_OPTIONS,
    "synthetic_chat_format_options_length": {
        "gen_ai.request.max_tokens": 8,
        "gen_ai.request.temperature": 0.8,
        "gen_ai.request.top_p": 0.9,
        "gen_ai.request.top_k": 20,
        "gen_ai.request.seed": 42,
        "gen_ai.request.stop_sequences": ("\n", "user:"),
        "gen_ai.request.presence_penalty": 1.5,
        "gen_ai.request.frequency_penalty": 1.0,
        "gen_ai.output.type": "json",
    },
    "synthetic_generate_think_gpt_oss": {
        "gen_ai.request.max_tokens": 256,
        "gen_ai.request.temperature": 0.8,
        "gen_ai.request.top_p": 0.9,
        "gen_ai.request.top_k": 20,
        "gen_ai.request.seed": 42,
        "gen_ai.request.reasoning.level": "low",
        "ollama.request.think": True,
    },
    "synthetic_generate_stream_think_qwen3": {"ollama.request.think": True},
}
MODES = ("sync", "async", "module")


# --- recordings --------------------------------------------------------------------------------


@cache
def _text(name: str) -> str:
    return (RECORDINGS / f"{name}.json").read_text(encoding="utf-8")


def load(name: str) -> dict[str, Any]:
    return json.loads(_text(name))


def request_of(name: str) -> dict[str, Any]:
    return load(name)["interactions"][0]["request"]


def body_of(name: str) -> dict[str, Any]:
    return request_of(name)["json"]


def lines_of(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in load(name)["interactions"][0]["response"]["text"].splitlines()]


def final_of(name: str) -> dict[str, Any]:
    """The complete response: the JSON body, or the stream's final ``done`` line."""
    response = load(name)["interactions"][0]["response"]
    if "json" in response:
        return response["json"]
    (final,) = [line for line in lines_of(name) if line["done"]]
    return final


def port_of(server: ReplayServer) -> int:
    return int(server.url.rsplit(":", 1)[1])


# --- calling the real client -------------------------------------------------------------------


# TLS verification off (the replay server speaks plain HTTP): spares httpx loading the CA bundle, ~40 ms
# per client.
def sync_client(host: str) -> ollama.Client:
    return ollama.Client(host=host, verify=False)


def async_client(host: str) -> ollama.AsyncClient:
    return ollama.AsyncClient(host=host, verify=False)


class DefaultClient:
    """Points the module-level functions at a replay server the way a user would: ``OLLAMA_HOST``.

    ``ollama`` builds its default ``Client`` (and binds ``ollama.chat`` & co. to it) at import, reading
    ``OLLAMA_HOST`` then, so the module is re-executed with the variable set; the classes (and so our patch)
    are untouched, because ``ollama._client``'s module object is reused.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.used = False

    def point_at(self, server: ReplayServer) -> None:
        self.monkeypatch.setenv("OLLAMA_HOST", server.url)
        self.used = True
        importlib.reload(ollama)

    def restore(self) -> None:
        if self.used:
            ollama._client._client.close()  # type: ignore[attr-defined]  # its httpx client
            self.monkeypatch.delenv("OLLAMA_HOST")
            importlib.reload(ollama)


@pytest.fixture
def default_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[DefaultClient]:
    client = DefaultClient(monkeypatch)
    yield client
    client.restore()


def invoke(mode: str, server: ReplayServer, name: str, default: DefaultClient) -> Any:
    """Start the recorded call (sync or module); returns the client's result unconsumed."""
    request = request_of(name)
    method = METHODS[request["path"]]
    if mode == "module":
        default.point_at(server)
        return getattr(ollama, method)(**request["json"])
    return getattr(sync_client(server.url), method)(**request["json"])


async def invoke_async(server: ReplayServer, name: str) -> Any:
    request = request_of(name)
    return await getattr(async_client(server.url), METHODS[request["path"]])(**request["json"])


async def call(mode: str, server: ReplayServer, name: str, default: DefaultClient) -> Any:
    """The recorded call, consumed: a stream becomes the list of its chunks."""
    if mode == "async":
        result = await invoke_async(server, name)
        if body_of(name).get("stream"):
            assert isinstance(result, types.AsyncGeneratorType)
            return [chunk async for chunk in result]
        return result
    result = invoke(mode, server, name, default)
    if body_of(name).get("stream"):
        assert isinstance(result, types.GeneratorType)
        return list(result)
    return result


RESPONSE_TYPES = {
    "/api/chat": ollama.ChatResponse,
    "/api/generate": ollama.GenerateResponse,
    "/api/embed": ollama.EmbedResponse,
    "/api/embeddings": ollama.EmbeddingsResponse,
}


def assert_result(name: str, result: Any) -> None:
    """The user got the recorded response, parsed by the client as it always does."""
    response_type = RESPONSE_TYPES[request_of(name)["path"]]
    if body_of(name).get("stream"):
        assert result == [response_type(**line) for line in lines_of(name)]
    else:
        assert type(result) is response_type
        assert result == response_type(**final_of(name))


# --- expectations ------------------------------------------------------------------------------


def operation_of(name: str) -> str:
    return OPERATIONS[request_of(name)["path"]]


def server_timings(name: str) -> tuple[float | None, float | None]:
    """Server time to first token and per output token, as docs/telemetry.md derives them."""
    if operation_of(name) == "embeddings":
        return None, None
    final = final_of(name)
    ttft = (final["load_duration"] + final["prompt_eval_duration"]) / 1e9
    tpot = final["eval_duration"] / final["eval_count"] / 1e9
    return ttft, tpot


def start_attributes(name: str, server: ReplayServer | int) -> dict[str, Any]:
    """What the span knows before the response: the request, and where it went (a server, or a port)."""
    operation = operation_of(name)
    return {
        "gen_ai.operation.name": operation,
        "gen_ai.provider.name": "ollama",
        "gen_ai.system": "ollama",
        "gen_ai.request.model": body_of(name)["model"],
        "server.address": "127.0.0.1",
        "server.port": server if isinstance(server, int) else port_of(server),
        "llm.request.type": LEGACY_TYPES[operation],
        **REQUEST_ATTRIBUTES.get(name, {}),
    }


def expected_attributes(name: str, server: ReplayServer) -> dict[str, Any]:
    """Every attribute a successful call's span carries (default settings: no content)."""
    final = final_of(name)
    a = start_attributes(name, server)
    if body_of(name).get("stream"):
        a["gen_ai.request.stream"] = a["llm.is_streaming"] = True
    if "model" in final:
        a["gen_ai.response.model"] = final["model"]
    input_tokens, output_tokens, reason, dimension = RECORDED[name]
    if reason is not None:
        a["gen_ai.response.finish_reasons"] = (reason,)
    if input_tokens is not None:
        a["gen_ai.usage.input_tokens"] = a["gen_ai.usage.prompt_tokens"] = input_tokens
    if output_tokens is not None:
        a["gen_ai.usage.output_tokens"] = a["gen_ai.usage.completion_tokens"] = output_tokens
        a["llm.usage.total_tokens"] = input_tokens + output_tokens  # type: ignore[operator]
    if dimension is not None:
        a["gen_ai.embeddings.dimension.count"] = dimension
    for field, attribute in TIMINGS.items():
        if field in final:
            a[attribute] = final[field] / 1e9
    return a


def check_span(telemetry: Telemetry, name: str, server: ReplayServer) -> None:
    span = telemetry.span()
    assert span.name == f"{operation_of(name)} {body_of(name)['model']}"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert span.events == ()
    attributes = dict(span.attributes or {})
    if body_of(name).get("stream"):
        ttfc = attributes.pop(TTFC)
        assert isinstance(ttfc, float) and ttfc >= 0
    assert attributes == expected_attributes(name, server)


def histogram(points: dict[str, list[Any]], metric: str) -> Any:
    (point,) = points[metric]
    return point


def check_metrics(telemetry: Telemetry, name: str, server: ReplayServer) -> None:
    points = telemetry.metrics()
    final = final_of(name)
    base: dict[str, Any] = {
        "gen_ai.operation.name": operation_of(name),
        "gen_ai.provider.name": "ollama",
        "gen_ai.request.model": body_of(name)["model"],
        "server.address": "127.0.0.1",
        "server.port": port_of(server),
    }
    if "model" in final:
        base["gen_ai.response.model"] = final["model"]
    input_tokens, output_tokens, reason, dimension = RECORDED[name]
    streaming = bool(body_of(name).get("stream"))
    ttft, tpot = server_timings(name)
    expected = {"gen_ai.client.operation.duration"}
    expected |= {"gen_ai.client.token.usage"} if input_tokens is not None else set()
    expected |= {"gen_ai.client.generation.choices"} if reason else set()
    expected |= {"llm.openai.embeddings.vector_size"} if dimension else set()
    if streaming:
        expected |= {
            "gen_ai.client.operation.time_to_first_chunk",
            "gen_ai.client.operation.time_per_output_chunk",
        }
    if ttft is not None:
        expected |= {"gen_ai.server.time_to_first_token", "gen_ai.server.time_per_output_token"}
    assert set(points) == expected
    for metric in expected - {"gen_ai.client.token.usage"}:
        assert [dict(p.attributes) for p in points[metric]] == [base], metric
    assert histogram(points, "gen_ai.client.operation.duration").count == 1
    tokens = sorted(
        (p.attributes["gen_ai.token.type"], p.count, p.sum)
        for p in points.get("gen_ai.client.token.usage", [])
    )
    want = [("input", 1, input_tokens)] if input_tokens is not None else []
    want += [("output", 1, output_tokens)] if output_tokens is not None else []
    assert tokens == want
    if reason:
        assert histogram(points, "gen_ai.client.generation.choices").value == 1
    if dimension:
        assert histogram(points, "llm.openai.embeddings.vector_size").value == dimension
    if streaming:
        assert histogram(points, "gen_ai.client.operation.time_to_first_chunk").count == 1
        assert histogram(points, "gen_ai.client.operation.time_per_output_chunk").count == 1
    if ttft is not None:
        first_token = histogram(points, "gen_ai.server.time_to_first_token")
        per_token = histogram(points, "gen_ai.server.time_per_output_token")
        assert (first_token.count, first_token.sum) == (1, ttft)
        assert (per_token.count, per_token.sum) == (1, tpot)
        assert tuple(first_token.explicit_bounds) == SERVER_TTFT_BUCKETS
        assert tuple(per_token.explicit_bounds) == SERVER_TPOT_BUCKETS
        if name in SERVER_ANCHORS:
            assert (ttft, tpot) == pytest.approx(SERVER_ANCHORS[name], rel=1e-9)


# --- every recording ---------------------------------------------------------------------------


def test_anchors_cover_every_recording() -> None:
    assert set(RECORDED) == set(SUCCESS)
    assert len(NAMES) == 18  # 12 recordings from ../shared, 6 synthetic


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", SUCCESS)
async def test_recording(
    instrument: Any, replay: Any, default_client: DefaultClient, name: str, mode: str
) -> None:
    telemetry, server = instrument(), replay(f"ollama/{name}.json")
    result = await call(mode, server, name, default_client)
    assert_result(name, result)
    server.assert_all_served()
    if name.startswith("synthetic_"):  # written from what this client sends: exactly that body
        assert server.requests[0].json == body_of(name)
    check_span(telemetry, name, server)
    check_metrics(telemetry, name, server)


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("name", NAMES)
async def test_transparent(
    instrument: Any, replay: Any, default_client: DefaultClient, name: str, mode: str
) -> None:
    """Instrumented or not, the same request goes out and the same result (or exception) comes back."""

    async def outcome(server: ReplayServer) -> Any:
        try:
            return await call(mode, server, name, default_client)
        except ollama.ResponseError as exc:
            return (type(exc), exc.error, exc.status_code)

    plain_server = replay(f"ollama/{name}.json")
    plain = await outcome(plain_server)
    telemetry, server = instrument(), replay(f"ollama/{name}.json")
    instrumented = await outcome(server)
    assert instrumented == plain
    assert [r.json for r in server.requests] == [r.json for r in plain_server.requests]
    assert len(server.requests) == 1
    assert len(telemetry.spans()) == 1


# --- content capture ---------------------------------------------------------------------------


def content_of(telemetry: Telemetry) -> dict[str, Any]:
    """The captured content attributes of the one span, JSON strings parsed."""
    attributes = dict(telemetry.span().attributes or {})
    found: dict[str, Any] = {}
    for key, value in attributes.items():
        if key.startswith("gen_ai.") and key.endswith(("messages", "instructions", "definitions")):
            found[key] = json.loads(value)
        elif key.startswith(("gen_ai.prompt.", "gen_ai.completion.")):
            found[key] = value
    return found


def joined(name: str, field: str) -> str:
    """A streamed field folded as a reader would: the chat message's, or the generation's."""
    return "".join(line.get("message", line).get(field) or "" for line in lines_of(name))


def tool_call(name: str, arguments: dict[str, Any], call_id: str | None = None) -> dict[str, Any]:
    return {"type": "tool_call", "id": call_id, "name": name, "arguments": arguments}


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "parts": [{"type": "text", "content": text}]}


def assistant(parts: list[dict[str, Any]], reason: str = "stop") -> list[dict[str, Any]]:
    return [{"role": "assistant", "parts": parts, "finish_reason": reason}]


def reasoning(text: str) -> dict[str, Any]:
    return {"type": "reasoning", "content": text}


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "content": value}


def captured_chat_thinking() -> dict[str, Any]:
    message = final_of("chat_thinking_qwen3")["message"]
    assert message["content"].startswith("The sky appears blue because")
    return {
        "gen_ai.input.messages": [user("Why is the sky blue? Answer in one sentence.")],
        "gen_ai.output.messages": assistant([reasoning(message["thinking"]), text(message["content"])]),
        "gen_ai.prompt.0.role": "user",
        "gen_ai.prompt.0.content": "Why is the sky blue? Answer in one sentence.",
        "gen_ai.completion.0.role": "assistant",
        "gen_ai.completion.0.content": message["thinking"] + message["content"],
        "gen_ai.completion.0.finish_reason": "stop",
    }


def captured_tool_call() -> dict[str, Any]:
    thinking = final_of("chat_tool_call_thinking_qwen3")["message"]["thinking"]
    prompt = "What is the weather in Paris? Use the get_current_weather tool."
    # The recorded call carries "id": "call_gsiiy8py", which ollama-python's ToolCall model drops: the
    # user never sees it, so neither do we.
    return {
        "gen_ai.input.messages": [user(prompt)],
        "gen_ai.output.messages": assistant(
            [reasoning(thinking), tool_call("get_current_weather", {"city": "Paris"})]
        ),
        "gen_ai.tool.definitions": [{"type": "function", "name": "get_current_weather"}],
        "gen_ai.prompt.0.role": "user",
        "gen_ai.prompt.0.content": prompt,
        "gen_ai.completion.0.role": "assistant",
        "gen_ai.completion.0.content": thinking,
        "gen_ai.completion.0.finish_reason": "stop",
        "gen_ai.completion.0.tool_calls.0.name": "get_current_weather",
        "gen_ai.completion.0.tool_calls.0.arguments": '{"city":"Paris"}',
    }


def captured_tool_history() -> dict[str, Any]:
    answer = final_of("chat_tool_result_history_llama3_1")["message"]["content"]
    result = "The weather in San Francisco is 70 degrees and sunny."
    return {
        "gen_ai.input.messages": [
            {"role": "assistant", "parts": [tool_call("get_current_weather", {"location": "San Francisco"})]},
            {"role": "tool", "parts": [{"type": "tool_call_response", "id": None, "response": result}]},
        ],
        "gen_ai.output.messages": assistant([text(answer)]),
        "gen_ai.prompt.0.role": "assistant",
        "gen_ai.prompt.0.tool_calls.0.name": "get_current_weather",
        "gen_ai.prompt.0.tool_calls.0.arguments": '{"location":"San Francisco"}',
        "gen_ai.prompt.1.role": "tool",
        "gen_ai.prompt.1.content": result,
        "gen_ai.completion.0.role": "assistant",
        "gen_ai.completion.0.content": answer,
        "gen_ai.completion.0.finish_reason": "stop",
    }


def captured_stream_thinking() -> dict[str, Any]:
    name = "chat_stream_thinking_qwen3"
    thinking, answer = joined(name, "thinking"), joined(name, "content")
    assert answer == "1\n2\n3\n4\n5" and thinking.startswith("Here's a thinking process:")
    return {
        "gen_ai.input.messages": [user("Count from 1 to 5, digits only.")],
        "gen_ai.output.messages": assistant([reasoning(thinking), text(answer)]),
        "gen_ai.prompt.0.role": "user",
        "gen_ai.prompt.0.content": "Count from 1 to 5, digits only.",
        "gen_ai.completion.0.role": "assistant",
        "gen_ai.completion.0.content": thinking + answer,
        "gen_ai.completion.0.finish_reason": "stop",
    }


def captured_stream_tool_calls() -> dict[str, Any]:
    prompt = "What is the weather today in Toronto and in Paris?"
    thinking = "The user wants the weather in two cities."
    return {
        "gen_ai.input.messages": [user(prompt)],
        "gen_ai.output.messages": assistant(
            [
                reasoning(thinking),
                tool_call("get_current_weather", {"format": "celsius", "location": "Toronto"}),
                tool_call("get_current_weather", {"format": "celsius", "location": "Paris"}),
            ]
        ),
        "gen_ai.tool.definitions": [{"type": "function", "name": "get_current_weather"}],
        "gen_ai.prompt.0.role": "user",
        "gen_ai.prompt.0.content": prompt,
        "gen_ai.completion.0.role": "assistant",
        "gen_ai.completion.0.content": thinking,
        "gen_ai.completion.0.finish_reason": "stop",
        "gen_ai.completion.0.tool_calls.0.name": "get_current_weather",
        "gen_ai.completion.0.tool_calls.0.arguments": '{"format":"celsius","location":"Toronto"}',
        "gen_ai.completion.0.tool_calls.1.name": "get_current_weather",
        "gen_ai.completion.0.tool_calls.1.arguments": '{"format":"celsius","location":"Paris"}',
    }


def captured_generate() -> dict[str, Any]:
    answer = final_of("generate_llama3")["response"]
    assert answer.startswith("A niche topic!")
    prompt = "Tell me a joke about OpenTelemetry"
    return {  # the recorded "system": "" is no system instruction
        "gen_ai.input.messages": [user(prompt)],
        "gen_ai.output.messages": assistant([text(answer)]),
        "gen_ai.prompt.0.role": "user",
        "gen_ai.prompt.0.content": prompt,
        "gen_ai.completion.0.role": "assistant",
        "gen_ai.completion.0.content": answer,
        "gen_ai.completion.0.finish_reason": "stop",
    }


def captured_generate_think() -> dict[str, Any]:
    thinking = "17 x 23 = 17 x 20 + 17 x 3 = 340 + 51 = 391."
    return {
        "gen_ai.system_instructions": [text("Answer with the number only.")],
        "gen_ai.input.messages": [user("What is 17 x 23?")],
        "gen_ai.output.messages": assistant([reasoning(thinking), text("391")]),
        "gen_ai.prompt.0.role": "system",
        "gen_ai.prompt.0.content": "Answer with the number only.",
        "gen_ai.prompt.1.role": "user",
        "gen_ai.prompt.1.content": "What is 17 x 23?",
        "gen_ai.completion.0.role": "assistant",
        "gen_ai.completion.0.content": thinking + "391",
        "gen_ai.completion.0.finish_reason": "stop",
    }


def captured_generate_stream_think() -> dict[str, Any]:
    thinking, answer = "Spell it: s-t-r-a-w-b-e-r-r-y has three r's.", "There are 3 r's."
    prompt = "How many r's in strawberry?"
    return {
        "gen_ai.input.messages": [user(prompt)],
        "gen_ai.output.messages": assistant([reasoning(thinking), text(answer)]),
        "gen_ai.prompt.0.role": "user",
        "gen_ai.prompt.0.content": prompt,
        "gen_ai.completion.0.role": "assistant",
        "gen_ai.completion.0.content": thinking + answer,
        "gen_ai.completion.0.finish_reason": "stop",
    }


def captured_length() -> dict[str, Any]:
    prompt = "Ollama is 22 years old and is busy saving the world. Respond using JSON"
    return {
        "gen_ai.input.messages": [user(prompt)],
        "gen_ai.output.messages": assistant([text('{"age": 22, "available')], "length"),
        "gen_ai.prompt.0.role": "user",
        "gen_ai.prompt.0.content": prompt,
        "gen_ai.completion.0.role": "assistant",
        "gen_ai.completion.0.content": '{"age": 22, "available',
        "gen_ai.completion.0.finish_reason": "length",
    }


CAPTURED: dict[str, Callable[[], dict[str, Any]]] = {
    "chat_thinking_qwen3": captured_chat_thinking,
    "chat_tool_call_thinking_qwen3": captured_tool_call,
    "chat_tool_result_history_llama3_1": captured_tool_history,
    "chat_stream_thinking_qwen3": captured_stream_thinking,
    "synthetic_chat_stream_tool_calls_qwen3": captured_stream_tool_calls,
    "generate_llama3": captured_generate,
    "synthetic_generate_think_gpt_oss": captured_generate_think,
    "synthetic_generate_stream_think_qwen3": captured_generate_stream_think,
    "synthetic_chat_format_options_length": captured_length,
    "synthetic_embed_all_minilm": dict,  # embeddings: inputs and vectors are never recorded
    "embeddings_legacy_llama3": dict,
}


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("name", sorted(CAPTURED))
async def test_content_on_span(
    instrument: Any, replay: Any, default_client: DefaultClient, name: str, mode: str
) -> None:
    telemetry, server = instrument(capture_message_content="SPAN_ONLY"), replay(f"ollama/{name}.json")
    assert_result(name, await call(mode, server, name, default_client))
    assert content_of(telemetry) == CAPTURED[name]()
    attributes = dict(telemetry.span().attributes or {})
    assert {
        k: v for k, v in attributes.items() if k in expected_attributes(name, server)
    } == expected_attributes(name, server)


async def test_content_on_event_only(instrument: Any, replay: Any, default_client: DefaultClient) -> None:
    name = "chat_tool_call_thinking_qwen3"
    telemetry, server = instrument(capture_message_content="EVENT_ONLY"), replay(f"ollama/{name}.json")
    await call("sync", server, name, default_client)
    assert content_of(telemetry) == {}
    (record,) = telemetry.logs()
    assert record.event_name == "gen_ai.client.inference.operation.details"
    want = captured_tool_call()
    event = dict(record.attributes)
    for key in ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.tool.definitions"):
        assert json.loads(json.dumps(event.pop(key))) == want[key]
    legacy = ("gen_ai.system", "gen_ai.usage.prompt_tokens", "gen_ai.usage.completion_tokens")
    semconv = {
        k: v for k, v in expected_attributes(name, server).items() if not k.startswith(("llm.", *legacy))
    }
    assert event == semconv  # the span's attributes minus the legacy names, the server timings included


# --- errors ------------------------------------------------------------------------------------


def error_attributes(name: str, server: ReplayServer | int, error_type: str) -> dict[str, Any]:
    a = start_attributes(name, server)
    if body_of(name).get("stream"):
        a["gen_ai.request.stream"] = a["llm.is_streaming"] = True
    a["error.type"] = error_type
    return a


def check_error_span(telemetry: Telemetry, attributes: dict[str, Any], exception_type: str) -> None:
    span = telemetry.span()
    assert span.status.status_code is StatusCode.ERROR
    assert dict(span.attributes or {}) == attributes
    (event,) = span.events
    assert (event.name, event.attributes["exception.type"]) == ("exception", exception_type)
    points = telemetry.metrics()
    metric_attributes = {k: v for k, v in attributes.items() if not k.startswith(("llm.", "gen_ai.system"))}
    metric_attributes.pop("gen_ai.request.stream", None)
    assert set(points) == {"gen_ai.client.operation.duration"}  # no server timings for a failure
    (point,) = points["gen_ai.client.operation.duration"]
    assert (dict(point.attributes), point.count) == (metric_attributes, 1)


@pytest.mark.parametrize("mode", MODES)
async def test_model_not_found(
    instrument: Any, replay: Any, default_client: DefaultClient, mode: str
) -> None:
    telemetry, server = instrument(), replay(f"ollama/{ERROR}.json")
    with pytest.raises(ollama.ResponseError) as raised:
        await call(mode, server, ERROR, default_client)
    assert type(raised.value) is ollama.ResponseError
    assert (raised.value.error, raised.value.status_code) == (
        "model 'nonexistent-model:latest' not found",
        404,
    )
    server.assert_all_served()
    check_error_span(telemetry, error_attributes(ERROR, server, "404"), "ollama._types.ResponseError")


def refused_port() -> int:
    """A loopback port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_connection_refused(instrument: Any) -> None:
    telemetry, port = instrument(), refused_port()
    body = body_of("chat_llama3")
    with pytest.raises(ConnectionError) as raised:
        sync_client(f"http://127.0.0.1:{port}").chat(**body)
    assert type(raised.value) is ConnectionError  # ollama-python's own wrapping of httpx.ConnectError
    check_error_span(telemetry, error_attributes("chat_llama3", port, "ConnectionError"), "ConnectionError")


async def test_connection_refused_async(instrument: Any) -> None:
    telemetry, port = instrument(), refused_port()
    with pytest.raises(ConnectionError):
        await async_client(f"http://127.0.0.1:{port}").embeddings(**body_of("embeddings_legacy_llama3"))
    check_error_span(
        telemetry,
        error_attributes("embeddings_legacy_llama3", port, "ConnectionError"),
        "ConnectionError",
    )


# --- streams: every exit path ends the span exactly once ---------------------------------------

ERROR_LINE = '{"error": "boom"}\n'
TRUNCATED_LINE = '{"model": "llama3", "crea\n'


@pytest.fixture(autouse=True, scope="module")
def _cheap_gc() -> Iterator[None]:
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


def broken(tail: str) -> dict[str, Any]:
    """The stream recording with its first line kept and everything after it replaced by ``tail``."""
    recording = load(STREAM)
    response = recording["interactions"][0]["response"]
    response["text"] = response["text"].split("\n", 1)[0] + "\n" + tail
    return recording


def stream_attributes(server: ReplayServer, received: int, error: str | None = None) -> dict[str, Any]:
    """A cut stream: the model from its first chunk, finish reason ``error``, no usage or timings."""
    if received == len(lines_of(STREAM)) and error is None:
        return expected_attributes(STREAM, server)
    a = start_attributes(STREAM, server)
    a["gen_ai.request.stream"] = a["llm.is_streaming"] = True
    if received:
        a["gen_ai.response.model"] = "llama3"
        a["gen_ai.response.finish_reasons"] = ("error",)
    if error is not None:
        a["error.type"] = error
    return a


def check_stream(telemetry: Telemetry, server: ReplayServer, received: int, error: str | None = None) -> None:
    gc.collect()
    span = telemetry.span()  # exactly one, after every close and collection
    assert span.status.status_code is (StatusCode.ERROR if error else StatusCode.UNSET)
    attributes = dict(span.attributes or {})
    assert (attributes.pop(TTFC, None) is not None) == (received > 0)
    assert attributes == stream_attributes(server, received, error)
    points = telemetry.metrics()
    assert len(points["gen_ai.client.operation.duration"]) == 1
    assert ("gen_ai.client.operation.time_to_first_chunk" in points) == (received > 0)
    assert ("gen_ai.client.operation.time_per_output_chunk" in points) == (received > 1)
    complete = received == len(lines_of(STREAM))
    assert ("gen_ai.server.time_to_first_token" in points) == complete
    assert ("gen_ai.client.token.usage" in points) == complete


def open_stream(server: ReplayServer) -> Any:
    stream = sync_client(server.url).chat(**body_of(STREAM))
    assert isinstance(stream, types.GeneratorType)
    return stream


async def open_async_stream(server: ReplayServer) -> Any:
    stream = await async_client(server.url).chat(**body_of(STREAM))
    assert isinstance(stream, types.AsyncGeneratorType)
    return stream


def test_sync_stream_exhausted_then_closed(instrument: Any, replay: Any) -> None:
    telemetry, server = instrument(), replay(f"ollama/{STREAM}.json")
    stream = open_stream(server)
    chunks = list(stream)
    assert len(chunks) == 50 and chunks[-1].done is True
    stream.close()
    del stream
    check_stream(telemetry, server, 50)


def test_sync_stream_break_then_garbage_collected(instrument: Any, replay: Any) -> None:
    telemetry, server = instrument(), replay(f"ollama/{STREAM}.json")
    stream = open_stream(server)
    for _chunk in stream:
        break
    assert telemetry.spans() == []  # an abandoned stream stays open until it is collected
    del stream
    check_stream(telemetry, server, 1)


def test_sync_stream_close(instrument: Any, replay: Any) -> None:
    telemetry, server = instrument(), replay(f"ollama/{STREAM}.json")
    stream = open_stream(server)
    assert next(stream).message.content == "Why"
    assert stream.close() is None
    assert len(telemetry.spans()) == 1
    stream.close()
    del stream
    check_stream(telemetry, server, 1)


def test_sync_stream_user_exception_then_close(instrument: Any, replay: Any) -> None:
    telemetry, server = instrument(), replay(f"ollama/{STREAM}.json")
    stream = open_stream(server)
    with pytest.raises(KeyError, match="user code"):
        for _chunk in stream:
            raise KeyError("user code")
    assert telemetry.spans() == []  # the user's exception is not a failed call; the stream is still theirs
    stream.close()
    del stream
    check_stream(telemetry, server, 1)


def test_sync_stream_error_line(instrument: Any, replay: Any) -> None:
    telemetry, server = instrument(), replay(broken(ERROR_LINE))
    stream = open_stream(server)
    chunks = []
    with pytest.raises(ollama.ResponseError) as raised:
        for chunk in stream:
            chunks.append(chunk)
    assert (len(chunks), raised.value.error, raised.value.status_code) == (1, "boom", -1)
    del stream
    check_stream(telemetry, server, 1, "ollama.ResponseError")


def test_sync_stream_truncated_line(instrument: Any, replay: Any) -> None:
    telemetry, server = instrument(), replay(broken(TRUNCATED_LINE))
    stream = open_stream(server)
    with pytest.raises(json.JSONDecodeError):
        list(stream)
    del stream
    check_stream(telemetry, server, 1, "json.decoder.JSONDecodeError")


def test_sync_stream_never_iterated(instrument: Any, replay: Any) -> None:
    telemetry, server = instrument(), replay(f"ollama/{STREAM}.json")
    stream = open_stream(server)
    del stream
    check_stream(telemetry, server, 0)
    assert server.requests == []  # ollama sends a stream's request only when it is first iterated


def test_sync_stream_model_not_found(instrument: Any, replay: Any) -> None:
    """A streamed request's HTTP error surfaces from the first ``next()``: still typed by its status."""
    telemetry, server = instrument(), replay(f"ollama/{ERROR}.json")
    stream = open_stream(server)
    with pytest.raises(ollama.ResponseError) as raised:
        next(stream)
    assert raised.value.status_code == 404
    del stream
    check_stream(telemetry, server, 0, "404")


def test_sync_stream_connection_refused(instrument: Any) -> None:
    telemetry, port = instrument(), refused_port()
    stream = sync_client(f"http://127.0.0.1:{port}").chat(**body_of(STREAM))
    with pytest.raises(httpx.ConnectError):  # a stream's connect error is not wrapped by ollama-python
        next(stream)
    del stream
    gc.collect()
    check_error_span(telemetry, error_attributes(STREAM, port, "httpx.ConnectError"), "httpx.ConnectError")


async def test_async_stream_exhausted_then_closed(instrument: Any, replay: Any) -> None:
    telemetry, server = instrument(), replay(f"ollama/{STREAM}.json")
    stream = await open_async_stream(server)
    chunks = [chunk async for chunk in stream]
    assert len(chunks) == 50 and chunks[-1].done is True
    await stream.aclose()
    del stream
    check_stream(telemetry, server, 50)


async def test_async_stream_break_then_garbage_collected(instrument: Any, replay: Any) -> None:
    telemetry, server = instrument(), replay(f"ollama/{STREAM}.json")
    stream = await open_async_stream(server)
    async for _chunk in stream:
        break
    assert telemetry.spans() == []
    del stream
    check_stream(telemetry, server, 1)


async def test_async_stream_aclose(instrument: Any, replay: Any) -> None:
    telemetry, server = instrument(), replay(f"ollama/{STREAM}.json")
    stream = await open_async_stream(server)
    assert (await stream.__anext__()).message.content == "Why"
    assert await stream.aclose() is None
    assert len(telemetry.spans()) == 1
    await stream.aclose()
    del stream
    check_stream(telemetry, server, 1)


async def test_async_stream_user_exception_then_aclose(instrument: Any, replay: Any) -> None:
    telemetry, server = instrument(), replay(f"ollama/{STREAM}.json")
    stream = await open_async_stream(server)
    with pytest.raises(KeyError, match="user code"):
        async for _chunk in stream:
            raise KeyError("user code")
    assert telemetry.spans() == []
    await stream.aclose()
    del stream
    check_stream(telemetry, server, 1)


async def test_async_stream_error_line(instrument: Any, replay: Any) -> None:
    telemetry, server = instrument(), replay(broken(ERROR_LINE))
    stream = await open_async_stream(server)
    chunks = []
    with pytest.raises(ollama.ResponseError) as raised:
        async for chunk in stream:
            chunks.append(chunk)
    assert (len(chunks), raised.value.error, raised.value.status_code) == (1, "boom", -1)
    del stream
    check_stream(telemetry, server, 1, "ollama.ResponseError")


async def test_async_stream_truncated_line(instrument: Any, replay: Any) -> None:
    telemetry, server = instrument(), replay(broken(TRUNCATED_LINE))
    stream = await open_async_stream(server)
    with pytest.raises(json.JSONDecodeError):
        async for _chunk in stream:
            pass
    del stream
    check_stream(telemetry, server, 1, "json.decoder.JSONDecodeError")


async def test_async_stream_never_iterated(instrument: Any, replay: Any) -> None:
    telemetry, server = instrument(), replay(f"ollama/{STREAM}.json")
    stream = await open_async_stream(server)
    del stream
    check_stream(telemetry, server, 0)
    assert server.requests == []


async def test_async_stream_model_not_found(instrument: Any, replay: Any) -> None:
    telemetry, server = instrument(), replay(f"ollama/{ERROR}.json")
    stream = await open_async_stream(server)
    with pytest.raises(ollama.ResponseError) as raised:
        await stream.__anext__()
    assert raised.value.status_code == 404
    del stream
    check_stream(telemetry, server, 0, "404")


# --- odd but valid responses --------------------------------------------------------------------


def variant(**final: Any) -> dict[str, Any]:
    """chat_llama3 with its response's timing and count fields replaced by ``final``."""
    recording = load("chat_llama3")
    body = recording["interactions"][0]["response"]["json"]
    for field in ("done_reason", "prompt_eval_count", "eval_count", *TIMINGS):
        body.pop(field)
    body.update(final)
    return recording


ODD = {
    # Go's omitempty drops zero durations: an absent load_duration is 0, so TTFT is the prompt time alone.
    "no_load_duration": (
        {
            "done_reason": "stop",
            "prompt_eval_duration": 250_000_000,
            "eval_count": 4,
            "eval_duration": 100_000_000,
        },
        {
            "gen_ai.response.finish_reasons": ("stop",),
            "gen_ai.usage.output_tokens": 4,
            "gen_ai.usage.completion_tokens": 4,
            "ollama.response.prompt_eval_duration": 0.25,
            "ollama.response.eval_duration": 0.1,
        },
        (0.25, 0.025),
    ),
    # No output token: no time per output token (never a division by zero).
    "zero_eval_count": (
        {"done_reason": "stop", "load_duration": 1_000_000, "eval_count": 0, "eval_duration": 5},
        {
            "gen_ai.response.finish_reasons": ("stop",),
            "gen_ai.usage.output_tokens": 0,
            "gen_ai.usage.completion_tokens": 0,
            "ollama.response.load_duration": 0.001,
            "ollama.response.eval_duration": 5e-09,
        },
        (0.001, None),
    ),
    # A server from before done_reason, and one that measured nothing: no finish reason, no timings.
    "nothing_reported": ({}, {}, (None, None)),
    # done_reason "" (Ollama's DoneReasonConnectionClosed) and negative durations are not reported.
    "empty_reason_negative_durations": (
        {"done_reason": "", "load_duration": -1, "prompt_eval_duration": -5, "total_duration": -9},
        {},
        (None, None),
    ),
}


@pytest.mark.parametrize("case", sorted(ODD))
def test_odd_responses(instrument: Any, replay: Any, case: str) -> None:
    final, attributes, (ttft, tpot) = ODD[case]
    telemetry, server = instrument(), replay(variant(**final))
    response = sync_client(server.url).chat(**body_of("chat_llama3"))
    assert response.message.content.startswith("A joke about OpenTelemetry!")
    want = {**start_attributes("chat_llama3", server), "gen_ai.response.model": "llama3", **attributes}
    assert dict(telemetry.span().attributes or {}) == want
    points = telemetry.metrics()
    got = [
        points[m][0].sum if m in points else None
        for m in ("gen_ai.server.time_to_first_token", "gen_ai.server.time_per_output_token")
    ]
    assert got == [ttft, tpot]


def test_readers_take_plain_dicts() -> None:
    """Responses are read the same whether they are the client's pydantic objects or parsed JSON."""
    for name in ("chat_tool_call_thinking_qwen3", "generate_llama3", "synthetic_embed_all_minilm"):
        operation = operation_of(name)
        response_type = RESPONSE_TYPES[request_of(name)["path"]]
        from_dict, from_object = Invocation(operation, "ollama"), Invocation(operation, "ollama")
        readers.read_response(from_dict, final_of(name), True)
        readers.read_response(from_object, response_type(**final_of(name)), True)
        assert from_dict.output_tokens == RECORDED[name][1]
        if name == "chat_tool_call_thinking_qwen3":
            # The JSON has the call's id; ollama-python's ToolCall model drops it. Otherwise alike.
            assert from_dict.output_messages[0]["parts"][1]["id"] == "call_gsiiy8py"  # type: ignore[index]
            from_dict.output_messages[0]["parts"][1]["id"] = None  # type: ignore[index]
        for slot in Invocation.__slots__:
            assert getattr(from_dict, slot) == getattr(from_object, slot), (name, slot)


def test_other_endpoints_pass_through(instrument: Any, replay: Any) -> None:
    """``list``, ``pull``, ``show``, ... are not GenAI operations: no span, the call untouched."""
    telemetry = instrument()
    response = {"status": 200, "headers": {"content-type": "application/json"}, "json": {"models": []}}
    server = replay(
        {"interactions": [{"request": {"method": "GET", "path": "/api/tags"}, "response": response}]}
    )
    assert sync_client(server.url).list() == ollama.ListResponse(models=[])
    assert telemetry.spans() == []
    assert telemetry.metrics() == {}


# --- where the client talks to --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "env", "want"),
    [
        (None, None, ("127.0.0.1", 11434)),  # ollama-python's default
        (None, "example.com", ("example.com", 11434)),
        (None, "https://example.com", ("example.com", 443)),
        ("http://10.0.0.7:8080", "example.com", ("10.0.0.7", 8080)),  # the argument wins over OLLAMA_HOST
        ("[::1]:9999", None, ("::1", 9999)),
    ],
)
def test_target(
    monkeypatch: pytest.MonkeyPatch, host: str | None, env: str | None, want: tuple[str, int]
) -> None:
    if env is None:
        monkeypatch.delenv("OLLAMA_HOST", raising=False)
    else:
        monkeypatch.setenv("OLLAMA_HOST", env)
    with ollama.Client(host=host) as client:
        assert hook.target(client) == want


# --- the instrumentor -----------------------------------------------------------------------------


def test_entry_point_and_registry() -> None:
    found = {
        ep.name: ep for ep in entry_points(group="opentelemetry_instrumentor") if ep.value.startswith("otel_")
    }
    assert found["ollama"].load() is OllamaInstrumentor
    from otel_genai.instrumentation import INSTRUMENTORS

    assert INSTRUMENTORS["ollama"] == "otel_genai.instrumentation.ollama:OllamaInstrumentor"


def test_uninstrument_restores_the_client(instrument: Any, replay: Any) -> None:
    original = ollama.Client.__dict__["_request"], ollama.AsyncClient.__dict__["_request"]
    telemetry = instrument()
    assert isinstance(ollama.Client.__dict__["_request"], wrapt.FunctionWrapper)
    assert isinstance(ollama.AsyncClient.__dict__["_request"], wrapt.FunctionWrapper)
    otel_genai.uninstrument()
    assert (ollama.Client.__dict__["_request"], ollama.AsyncClient.__dict__["_request"]) == original
    server = replay("ollama/chat_llama3.json")
    sync_client(server.url).chat(**body_of("chat_llama3"))
    assert telemetry.spans() == []


def test_disabled_instrumentation(instrument: Any, replay: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "ollama")
    telemetry = instrument()
    assert not isinstance(ollama.Client.__dict__["_request"], wrapt.FunctionWrapper)
    server = replay("ollama/chat_llama3.json")
    sync_client(server.url).chat(**body_of("chat_llama3"))
    assert telemetry.spans() == []


LAZY_APP = """
import json, sys
import otel_genai
otel_genai.init(traces_exporter="none", metrics_exporter="none", logs_exporter="none")
observed = {"ollama_after_init": "ollama" in sys.modules}
import ollama, wrapt
observed["patched_on_import"] = isinstance(ollama.Client.__dict__["_request"], wrapt.FunctionWrapper)
otel_genai.shutdown()
print(json.dumps(observed))
"""


def test_ollama_is_imported_only_by_the_application() -> None:
    result = subprocess.run(
        [sys.executable, "-c", LAZY_APP], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "ollama_after_init": False,
        "patched_on_import": True,
    }
