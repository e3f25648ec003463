"""Chat Completions: request and response readers, and the stream accumulator.

Readers accept the client's pydantic objects and plain dicts alike (raw responses are parsed JSON),
and treat every field as optional: odd shapes yield less telemetry, never an exception in user code.
"""

from __future__ import annotations

from typing import Any

from ... import semconv as sc
from ...core import content, scrub
from ...core.invocation import Invocation, Message
from ...core.readers import as_float, as_int, as_list, as_str, get, get_rare
from ...core.streams import StreamFold
from . import content_filters

# --- request -----------------------------------------------------------------------------------


def read_sampling(inv: Invocation, body: dict[str, Any]) -> None:
    """Sampling parameters Chat Completions and legacy Completions share."""
    inv.max_tokens = as_int(body.get("max_completion_tokens")) or as_int(body.get("max_tokens"))
    inv.temperature = as_float(body.get("temperature"))
    inv.top_p = as_float(body.get("top_p"))
    stop = body.get("stop")
    if isinstance(stop, str):
        inv.stop_sequences = [stop]
    elif isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        inv.stop_sequences = stop
    inv.seed = as_int(body.get("seed"))
    inv.choice_count = as_int(body.get("n"))
    inv.frequency_penalty = as_float(body.get("frequency_penalty"))
    inv.presence_penalty = as_float(body.get("presence_penalty"))
    read_service_tier(inv, body)


def read_service_tier(inv: Invocation, body: dict[str, Any]) -> None:
    tier = as_str(body.get("service_tier"))
    if tier and tier != "auto":
        inv.attributes[sc.OPENAI_REQUEST_SERVICE_TIER] = tier


def read_request(inv: Invocation, body: dict[str, Any], capture: bool) -> None:
    """Request parameters of ``POST /chat/completions`` (the JSON body the client is about to send)."""
    inv.attributes[sc.OPENAI_API_TYPE] = "chat_completions"
    read_sampling(inv, body)
    inv.reasoning_level = as_str(body.get("reasoning_effort"))
    response_format = body.get("response_format")
    format_type = get(response_format, "type") if response_format is not None else None
    if format_type == "text":
        inv.output_type = "text"
    elif format_type in ("json_object", "json_schema"):
        inv.output_type = "json"
    if capture:
        messages = body.get("messages")
        if isinstance(messages, list):
            inv.input_messages = [input_message(m) for m in messages]
        tools = body.get("tools")
        if isinstance(tools, list):
            inv.tool_definitions = [tool_definition(t) for t in tools]


def _parts_of_content(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [content.text_part(value)]
    parts: list[dict[str, Any]] = []
    if isinstance(value, list):
        for item in value:
            kind = get(item, "type")
            if kind == "text":
                parts.append(content.text_part(str(get(item, "text") or "")))
            elif kind == "image_url":
                url = get(get(item, "image_url"), "url")
                if isinstance(url, str) and url.startswith("data:"):
                    parts.append({"type": "blob", "modality": "image", "mime_type": url[5:].split(";")[0]})
                else:
                    uri = scrub.url(url) if isinstance(url, str) else url
                    parts.append({"type": "uri", "modality": "image", "uri": uri})
            elif kind == "input_audio":
                parts.append({"type": "blob", "modality": "audio"})
            elif kind is not None:
                parts.append({"type": str(kind)})
    return parts


def input_message(message: Any) -> Message:
    role = get(message, "role") or "user"
    parts = _parts_of_content(get(message, "content"))
    for call in as_list(get(message, "tool_calls")):
        function = get(call, "function")
        parts.append(
            content.tool_call_part(get(call, "id"), get(function, "name"), get(function, "arguments"))
        )
    function_call = get(message, "function_call")
    if function_call is not None:
        parts.append(
            content.tool_call_part(None, get(function_call, "name"), get(function_call, "arguments"))
        )
    if role == "tool":
        response = get(message, "content")
        parts = [{"type": "tool_call_response", "id": get(message, "tool_call_id"), "response": response}]
    result: Message = {"role": role, "parts": parts}
    if get(message, "name"):
        result["name"] = get(message, "name")
    return result


def tool_definition(tool: Any) -> dict[str, Any]:
    function = get(tool, "function")
    if function is None:
        return {"type": str(get(tool, "type") or "unknown")}
    return {"type": "function", "name": get(function, "name")}


# --- response ----------------------------------------------------------------------------------


def read_usage(inv: Invocation, usage: Any) -> None:
    if usage is None:
        return
    inv.input_tokens = as_int(get(usage, "prompt_tokens"))
    inv.output_tokens = as_int(get(usage, "completion_tokens"))
    details = get(usage, "prompt_tokens_details")
    if details is not None:
        inv.cache_read_tokens = as_int(get(details, "cached_tokens"))
    details = get(usage, "completion_tokens_details")
    if details is not None:
        inv.reasoning_tokens = as_int(get(details, "reasoning_tokens"))


def read_response_envelope(inv: Invocation, response: Any) -> None:
    """Fields every OpenAI completion object carries: id, model, fingerprint, tier, usage."""
    inv.response_id = as_str(get(response, "id"))
    inv.response_model = as_str(get(response, "model"))
    fingerprint = as_str(get(response, "system_fingerprint"))
    if fingerprint:
        inv.attributes[sc.OPENAI_RESPONSE_SYSTEM_FINGERPRINT] = fingerprint
        inv.attributes[sc.LEGACY_OPENAI_SYSTEM_FINGERPRINT] = fingerprint
    tier = as_str(get(response, "service_tier"))
    if tier:
        inv.attributes[sc.OPENAI_RESPONSE_SERVICE_TIER] = tier
        inv.dimensions = {sc.OPENAI_RESPONSE_SERVICE_TIER: tier}
        inv.service_tier = tier  # priced at that tier's rates
    read_usage(inv, get(response, "usage"))


def read_response(inv: Invocation, response: Any, capture: bool) -> None:
    """A complete ``ChatCompletion`` (or ``ParsedChatCompletion``, or its JSON)."""
    read_response_envelope(inv, response)
    choices = get(response, "choices")
    if not isinstance(choices, list) or not choices:
        error = get(response, "error")
        if error is not None:  # Azure answers a filtered prompt with HTTP 200 and an error body
            code = as_str(get(error, "code"))
            inv.error_type = code or "_OTHER"
            inv.finish_reasons = ["content_filter" if code == "content_filter" else "error"]
            content_filters.read_error(inv, error)
        return
    inv.finish_reasons = [as_str(get(c, "finish_reason")) or "error" for c in choices]
    content_filters.read_response(inv, response, choices)
    if capture:
        read_content_filters(inv, response, choices)
    if capture:
        reasons = inv.finish_reasons
        inv.output_messages = [
            output_message(get(c, "message"), r) for c, r in zip(choices, reasons, strict=True)
        ]


def read_content_filters(inv: Invocation, response: Any, choices: list[Any]) -> None:
    """Azure's content-filter verdicts, as the legacy attributes Dynatrace shows (content capture only)."""
    prompt_filters = get_rare(response, "prompt_filter_results")
    if prompt_filters:
        inv.attributes[sc.LEGACY_PROMPT_FILTER_RESULTS] = content.to_json(prompt_filters)
    for index, choice in enumerate(choices):
        filters = get_rare(choice, "content_filter_results")
        if filters:
            inv.attributes[f"{sc.LEGACY_COMPLETION_PREFIX}.{index}.content_filter_results"] = content.to_json(
                filters
            )


def output_message(message: Any, finish_reason: str) -> Message:
    parts = _parts_of_content(get(message, "content"))
    refusal = get(message, "refusal")
    if isinstance(refusal, str) and refusal:
        parts.append({"type": "refusal", "content": refusal})
    for call in as_list(get(message, "tool_calls")):
        function = get(call, "function")
        parts.append(
            content.tool_call_part(get(call, "id"), get(function, "name"), get(function, "arguments"))
        )
    function_call = get(message, "function_call")
    if function_call is not None:
        parts.append(
            content.tool_call_part(None, get(function_call, "name"), get(function_call, "arguments"))
        )
    return {"role": get(message, "role") or "assistant", "parts": parts, "finish_reason": finish_reason}


# --- streams -----------------------------------------------------------------------------------


# OpenAI's upper limit for ``n``. A choice index beyond it (a foreign server's, or garbage) would otherwise
# size the finish_reasons list: one chunk with index 10**12 would exhaust memory.
_MAX_CHOICES = 128


class ChatAccumulator(StreamFold):
    """Folds ``ChatCompletionChunk`` objects; keeps text and tool-call fragments only when capturing."""

    __slots__ = (
        "capture",
        "envelope",
        "filters",
        "finish",
        "max_index",
        "prompt_filters",
        "texts",
        "tools",
        "usage",
    )

    def __init__(self, capture: bool, choice_count: int | None) -> None:
        self.capture = capture
        self.envelope: Any = None  # first chunk with an id: id, model, fingerprint, tier
        self.usage: Any = None
        self.finish: dict[int, str] = {}
        self.max_index = min(choice_count or 1, _MAX_CHOICES) - 1
        self.texts: dict[int, list[str]] = {}
        self.tools: dict[int, dict[int, list[Any]]] = {}  # choice -> tool index -> [id, name, [args]]
        self.hide_usage_chunk = False  # True when we, not the caller, asked for the usage chunk
        self.prompt_filters: Any = None  # Azure: the chunk carrying prompt_filter_results
        self.filters: list[Any] = []  # Azure: each chunk's content_filter_results, read at the end

    def add(self, chunk: Any) -> bool:
        if self.envelope is None and getattr(chunk, "model", None):
            self.envelope = chunk
        extra = getattr(chunk, "__pydantic_extra__", None)  # Azure's fields; a dict lookup, no miss
        if extra and self.prompt_filters is None:
            self.prompt_filters = extra.get("prompt_filter_results")
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            self.usage = usage
            if self.hide_usage_chunk and not chunk.choices:
                return True
        for choice in chunk.choices:
            index = choice.index
            if not isinstance(index, int) or not 0 <= index < _MAX_CHOICES:
                continue
            if index > self.max_index:
                self.max_index = index
            if choice.finish_reason:
                self.finish[index] = choice.finish_reason
            if self.capture:
                self._add_delta(index, choice.delta)
            extra = getattr(choice, "__pydantic_extra__", None)
            if extra:
                results = extra.get("content_filter_results")
                if results:
                    self.filters.append(results)
        return False

    def _add_delta(self, index: int, delta: Any) -> None:
        if delta is None:
            return
        text = getattr(delta, "content", None)
        if text:
            self.texts.setdefault(index, []).append(text)
        for call in getattr(delta, "tool_calls", None) or ():
            slot = self.tools.setdefault(index, {}).setdefault(call.index or 0, [None, None, []])
            slot[0] = slot[0] or call.id
            function = call.function
            if function is not None:
                slot[1] = slot[1] or function.name
                if function.arguments:
                    slot[2].append(function.arguments)

    def apply(self, inv: Invocation) -> None:
        if self.envelope is not None:
            read_response_envelope(inv, self.envelope)
        read_usage(inv, self.usage)
        if not self.finish and self.usage is None and self.envelope is None:
            return  # nothing arrived: no finish reasons to report
        inv.finish_reasons = [self.finish.get(i, "error") for i in range(self.max_index + 1)]
        if self.prompt_filters or self.filters:
            content_filters.read_verdicts(inv, self.prompt_filters, self.filters, inv.finish_reasons)
        if self.capture:
            inv.output_messages = []
            for i, reason in enumerate(inv.finish_reasons):
                parts: list[dict[str, Any]] = []
                if i in self.texts:
                    parts.append(content.text_part("".join(self.texts[i])))
                for _, (call_id, name, arguments) in sorted(self.tools.get(i, {}).items()):
                    parts.append(content.tool_call_part(call_id, name, "".join(arguments)))
                inv.output_messages.append({"role": "assistant", "parts": parts, "finish_reason": reason})


__all__ = [
    "ChatAccumulator",
    "input_message",
    "output_message",
    "read_content_filters",
    "read_request",
    "read_response",
    "read_response_envelope",
    "read_sampling",
    "read_service_tier",
    "read_usage",
    "tool_definition",
]
