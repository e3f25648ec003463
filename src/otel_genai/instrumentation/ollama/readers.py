"""Ollama request and response readers, and the stream accumulator.

The hook sees the JSON body the client is about to send (``/api/chat``, ``/api/generate``, ``/api/embed``,
``/api/embeddings``) and the client's response objects (``ChatResponse``, ``GenerateResponse``,
``EmbedResponse``, ``EmbeddingsResponse``; pydantic, but plain dicts are read the same way). Every field is
optional: an odd shape yields less telemetry, never an exception in user code.
"""

from __future__ import annotations

from typing import Any

from ... import semconv as sc
from ...core import content
from ...core.invocation import Invocation, Message
from ...core.readers import as_float, as_int, as_list, as_str, get
from ...core.streams import StreamFold
from ..openai.chat import tool_definition

_NS_PER_S = 1e9
_TIMINGS = (
    ("total_duration", sc.OLLAMA_TOTAL_DURATION),
    ("load_duration", sc.OLLAMA_LOAD_DURATION),
    ("prompt_eval_duration", sc.OLLAMA_PROMPT_EVAL_DURATION),
    ("eval_duration", sc.OLLAMA_EVAL_DURATION),
)

# --- request -----------------------------------------------------------------------------------


def read_request(inv: Invocation, body: dict[str, Any], capture: bool) -> None:
    """Sampling options, output format, thinking and (when capturing) messages and tools."""
    read_options(inv, body.get("options"))
    if inv.operation == sc.OP_EMBEDDINGS:
        return
    output_format = body.get("format")
    if output_format == "json" or isinstance(output_format, dict):  # "json" mode or a JSON schema
        inv.output_type = "json"
    think = body.get("think")
    if isinstance(think, bool):
        inv.attributes[sc.OLLAMA_REQUEST_THINK] = think
    elif isinstance(think, str) and think:  # a level ("low", "medium", "high") for models that take one
        inv.attributes[sc.OLLAMA_REQUEST_THINK] = True
        inv.reasoning_level = think
    if not capture:
        return
    if inv.operation == sc.OP_CHAT:
        messages = body.get("messages")
        if isinstance(messages, list) and messages:
            inv.input_messages = [input_message(m) for m in messages]
        tools = body.get("tools")
        if isinstance(tools, list) and tools:
            inv.tool_definitions = [tool_definition(t) for t in tools]
    else:
        read_generate_input(inv, body)


def read_options(inv: Invocation, options: Any) -> None:
    """``options`` (the Modelfile parameters): ``num_predict`` is the token limit; -1/-2 mean none."""
    if options is None:
        return
    inv.temperature = as_float(get(options, "temperature"))
    inv.top_p = as_float(get(options, "top_p"))
    inv.top_k = as_int(get(options, "top_k"))
    limit = as_int(get(options, "num_predict"))
    inv.max_tokens = limit if limit is not None and limit > 0 else None
    inv.seed = as_int(get(options, "seed"))
    inv.frequency_penalty = as_float(get(options, "frequency_penalty"))
    inv.presence_penalty = as_float(get(options, "presence_penalty"))
    stop = get(options, "stop")
    if isinstance(stop, str):
        inv.stop_sequences = [stop]
    elif isinstance(stop, (list, tuple)) and stop and all(isinstance(s, str) for s in stop):
        inv.stop_sequences = list(stop)


def _image_parts(images: Any) -> list[dict[str, Any]]:
    """Images travel as base64 text: recorded as their presence only, never their bytes."""
    return [{"type": "blob", "modality": "image"} for _ in as_list(images)]


def _tool_call_parts(calls: Any) -> list[dict[str, Any]]:
    parts = []
    for call in as_list(calls):
        function = get(call, "function")
        # Ollama's arguments are already an object; a client that keeps no id leaves it None.
        parts.append(
            content.tool_call_part(as_str(get(call, "id")), get(function, "name"), get(function, "arguments"))
        )
    return parts


def input_message(message: Any) -> Message:
    role = as_str(get(message, "role")) or "user"
    if role == "tool":
        part: dict[str, Any] = {
            "type": "tool_call_response",
            "id": as_str(get(message, "tool_call_id")),
            "response": get(message, "content"),
        }
        name = as_str(get(message, "tool_name"))
        if name:
            part["name"] = name
        return {"role": role, "parts": [part]}
    parts = _generated_parts(as_str(get(message, "thinking")), as_str(get(message, "content")))
    parts += _image_parts(get(message, "images"))
    parts += _tool_call_parts(get(message, "tool_calls"))
    return {"role": role, "parts": parts}


def read_generate_input(inv: Invocation, body: dict[str, Any]) -> None:
    """``/api/generate``: ``system`` is the system instruction, ``prompt`` (and images) the user turn."""
    system = as_str(body.get("system"))
    if system:
        inv.system_instructions = [content.text_part(system)]
    parts: list[dict[str, Any]] = []
    prompt = as_str(body.get("prompt"))
    if prompt:
        parts.append(content.text_part(prompt))
    parts += _image_parts(body.get("images"))
    if parts:
        inv.input_messages = [{"role": "user", "parts": parts}]


# --- response ----------------------------------------------------------------------------------


def read_timings(inv: Invocation, response: Any) -> None:
    """The server's own timings (nanoseconds on the wire) as span attributes in seconds, and the two
    server-side metrics: time to first token = load + prompt evaluation, time per output token =
    eval_duration / eval_count. Ollama omits zero values (Go ``omitempty``), so an absent part is 0."""
    durations: dict[str, int] = {}
    for field, name in _TIMINGS:
        value = as_int(get(response, field))
        if value is not None and value >= 0:
            durations[field] = value
            inv.attributes[name] = value / _NS_PER_S
    if inv.operation == sc.OP_EMBEDDINGS:
        return  # nothing generated: no first token, no output tokens
    if "load_duration" in durations or "prompt_eval_duration" in durations:
        load, prompt = durations.get("load_duration", 0), durations.get("prompt_eval_duration", 0)
        inv.server_time_to_first_token = (load + prompt) / _NS_PER_S
    count = as_int(get(response, "eval_count"))
    if count and count > 0 and "eval_duration" in durations:
        inv.server_time_per_output_token = durations["eval_duration"] / count / _NS_PER_S


def finish_reason(response: Any) -> str | None:
    return as_str(get(response, "done_reason"))


def read_final(inv: Invocation, response: Any) -> None:
    """What the final (``done``) response of a chat or generation carries: model, usage, timings."""
    inv.response_model = as_str(get(response, "model")) or inv.response_model
    inv.input_tokens = as_int(get(response, "prompt_eval_count"))
    inv.output_tokens = as_int(get(response, "eval_count"))
    read_timings(inv, response)
    reason = finish_reason(response)
    if reason:
        inv.finish_reasons = [reason]


def _output_message(parts: list[dict[str, Any]], reason: str | None) -> Message:
    message: Message = {"role": "assistant", "parts": parts}
    if reason:
        message["finish_reason"] = reason
    return message


def read_response(inv: Invocation, response: Any, capture: bool) -> None:
    """A complete (non-streamed) response of any of the four endpoints."""
    if inv.operation == sc.OP_EMBEDDINGS:
        read_embeddings(inv, response)
        return
    read_final(inv, response)
    if not capture:
        return
    if inv.operation == sc.OP_CHAT:
        message = get(response, "message")
        parts = _generated_parts(as_str(get(message, "thinking")), as_str(get(message, "content")))
        parts += _tool_call_parts(get(message, "tool_calls"))
    else:
        parts = _generated_parts(as_str(get(response, "thinking")), as_str(get(response, "response")))
    reason = inv.finish_reasons[0] if inv.finish_reasons else None
    inv.output_messages = [_output_message(parts, reason)]


def _generated_parts(thinking: str | None, text: str | None) -> list[dict[str, Any]]:
    """Ollama keeps the reasoning apart from the answer: a ``reasoning`` part, then a ``text`` part."""
    parts: list[dict[str, Any]] = []
    if thinking:
        parts.append({"type": "reasoning", "content": thinking})
    if text:
        parts.append(content.text_part(text))
    return parts


def read_embeddings(inv: Invocation, response: Any) -> None:
    """``/api/embed`` (``embeddings``: one vector per input, counts, timings) or the legacy
    ``/api/embeddings`` (one ``embedding``, nothing else). Vectors are measured, never recorded."""
    inv.response_model = as_str(get(response, "model"))
    inv.input_tokens = as_int(get(response, "prompt_eval_count"))
    vectors = as_list(get(response, "embeddings"))
    vector = vectors[0] if vectors else get(response, "embedding")
    if isinstance(vector, (list, tuple)):
        inv.vector_size = len(vector)
    read_timings(inv, response)


# --- streams -----------------------------------------------------------------------------------


class StreamAccumulator(StreamFold):
    """Folds ``ChatResponse``/``GenerateResponse`` chunks. The final ``done`` chunk carries the model,
    ``done_reason``, counts and timings; text, thinking and tool calls are kept only when capturing."""

    __slots__ = ("capture", "chat", "final", "first", "texts", "thoughts", "tool_calls")

    def __init__(self, operation: str, capture: bool) -> None:
        self.chat = operation == sc.OP_CHAT
        self.capture = capture
        self.first: Any = None
        self.final: Any = None
        self.texts: list[str] = []
        self.thoughts: list[str] = []
        self.tool_calls: list[Any] = []

    def add(self, chunk: Any) -> None:
        if self.first is None:
            self.first = chunk
        if get(chunk, "done") is True:
            self.final = chunk
        if not self.capture:
            return
        source = get(chunk, "message") if self.chat else chunk
        thinking = get(source, "thinking")
        if isinstance(thinking, str) and thinking:
            self.thoughts.append(thinking)
        text = get(source, "content" if self.chat else "response")
        if isinstance(text, str) and text:
            self.texts.append(text)
        if self.chat:
            self.tool_calls.extend(as_list(get(source, "tool_calls")))

    def apply(self, inv: Invocation) -> None:
        if self.first is None:
            return  # nothing arrived: nothing to report
        inv.response_model = as_str(get(self.first, "model"))
        if self.final is not None:
            read_final(inv, self.final)
        else:
            inv.finish_reasons = ["error"]  # the stream ended before its done chunk
        if self.capture:
            parts = _generated_parts("".join(self.thoughts), "".join(self.texts))
            parts += _tool_call_parts(self.tool_calls)
            reason = inv.finish_reasons[0] if inv.finish_reasons else None
            inv.output_messages = [_output_message(parts, reason)]

    def error_type(self, exc: BaseException) -> str | None:
        """Errors raised while iterating (a 404 for a streamed request, an error line) are typed alike."""
        return error_type(exc)


def error_type(exc: BaseException) -> str | None:
    """``ollama.ResponseError`` -> its HTTP status (``404``), or ``ollama.ResponseError`` when it has none
    (an error line inside a stream); None lets the recorder use the class name (``ConnectionError``)."""
    cls = type(exc)
    if cls.__name__ != "ResponseError" or not cls.__module__.startswith("ollama"):
        return None
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and 100 <= status <= 599:
        return str(status)
    return "ollama.ResponseError"


__all__ = [
    "StreamAccumulator",
    "error_type",
    "finish_reason",
    "input_message",
    "read_embeddings",
    "read_final",
    "read_generate_input",
    "read_options",
    "read_request",
    "read_response",
    "read_timings",
]
