"""Responses API: ``POST /responses`` (create, stream, parse) and ``GET /responses/{id}`` (retrieve)."""

from __future__ import annotations

from typing import Any

from ... import semconv as sc
from ...core import content, scrub
from ...core.invocation import Invocation, Message
from ...core.readers import as_float, as_int, as_list, as_str, get
from ...core.streams import StreamFold
from .chat import read_service_tier

# Output item types the provider executes itself (semconv server_tool_call parts).
_SERVER_TOOL_CALLS = frozenset(
    {
        "web_search_call",
        "file_search_call",
        "code_interpreter_call",
        "computer_call",
        "image_generation_call",
        "mcp_call",
        "local_shell_call",
    }
)
_INCOMPLETE_REASONS = {"max_output_tokens": "length", "content_filter": "content_filter"}


def read_request(inv: Invocation, body: dict[str, Any], capture: bool) -> None:
    inv.attributes[sc.OPENAI_API_TYPE] = "responses"
    inv.max_tokens = as_int(body.get("max_output_tokens"))
    inv.temperature = as_float(body.get("temperature"))
    inv.top_p = as_float(body.get("top_p"))
    inv.reasoning_level = as_str(get(body.get("reasoning"), "effort"))
    previous = as_str(body.get("previous_response_id"))
    if previous:
        inv.attributes[sc.REQUEST_PREVIOUS_RESPONSE_ID] = previous
    format_type = get(get(body.get("text"), "format"), "type")
    if format_type == "text":
        inv.output_type = "text"
    elif format_type in ("json_object", "json_schema"):
        inv.output_type = "json"
    read_service_tier(inv, body)
    if capture:
        instructions = body.get("instructions")
        if isinstance(instructions, str) and instructions:
            inv.system_instructions = [content.text_part(instructions)]
        inv.input_messages = input_messages(body.get("input"))
        tools = body.get("tools")
        if isinstance(tools, list):
            inv.tool_definitions = [_tool_definition(t) for t in tools]


def _tool_definition(tool: Any) -> dict[str, Any]:
    kind = as_str(get(tool, "type")) or "unknown"
    name = as_str(get(tool, "name"))
    return {"type": kind, "name": name} if name else {"type": kind}


def _parts(value: Any) -> list[dict[str, Any]]:
    """Content of an input or output message: a string, or typed parts."""
    if isinstance(value, str):
        return [content.text_part(value)]
    parts: list[dict[str, Any]] = []
    for part in as_list(value):
        kind = get(part, "type")
        if kind in ("input_text", "output_text", "text"):
            parts.append(content.text_part(str(get(part, "text") or "")))
        elif kind == "refusal":
            parts.append({"type": "refusal", "content": get(part, "refusal")})
        elif kind == "input_image":
            url = as_str(get(part, "image_url"))
            file_id = as_str(get(part, "file_id"))
            if url and not url.startswith("data:"):
                parts.append({"type": "uri", "modality": "image", "uri": scrub.url(url)})
            elif file_id:
                parts.append({"type": "file", "modality": "image", "file_id": file_id})
            else:
                parts.append({"type": "blob", "modality": "image"})
        elif kind == "input_file":
            parts.append({"type": "file", "modality": "document", "file_id": get(part, "file_id")})
        elif kind is not None:
            parts.append({"type": str(kind)})
    return parts


def input_messages(value: Any) -> list[Message]:
    """``input`` is a string or a list of messages and items (function calls and their outputs)."""
    if isinstance(value, str):
        return [{"role": "user", "parts": [content.text_part(value)]}]
    messages: list[Message] = []
    for item in as_list(value):
        kind = get(item, "type")
        if kind == "function_call":
            part = content.tool_call_part(get(item, "call_id"), get(item, "name"), get(item, "arguments"))
            messages.append({"role": "assistant", "parts": [part]})
        elif kind == "function_call_output":
            response = {
                "type": "tool_call_response",
                "id": get(item, "call_id"),
                "response": get(item, "output"),
            }
            messages.append({"role": "tool", "parts": [response]})
        elif kind in (None, "message"):
            messages.append({"role": get(item, "role") or "user", "parts": _parts(get(item, "content"))})
        else:
            messages.append({"role": "assistant", "parts": [_item_part(item, kind)]})
    return messages


def _item_part(item: Any, kind: Any) -> dict[str, Any]:
    if kind == "reasoning":
        summary = "".join(str(get(s, "text") or "") for s in as_list(get(item, "summary")))
        return {"type": "reasoning", "content": summary}
    if kind in _SERVER_TOOL_CALLS:
        return {
            "type": "server_tool_call",
            "id": get(item, "id"),
            "name": kind,
            "server_tool_call": {"type": kind},
        }
    return {"type": str(kind)}


def finish_reason(response: Any) -> str:
    """Responses carry a status, not a finish reason; map it to the semconv values."""
    status = get(response, "status")
    if status == "completed":
        calls = any(get(item, "type") == "function_call" for item in as_list(get(response, "output")))
        return "tool_call" if calls else "stop"
    if status == "incomplete":
        reason = get(get(response, "incomplete_details"), "reason")
        return _INCOMPLETE_REASONS.get(str(reason), str(reason or "incomplete"))
    return "error" if status in ("failed", "cancelled") else str(status or "error")


def read_response(inv: Invocation, response: Any, capture: bool) -> None:
    inv.response_id = as_str(get(response, "id"))
    inv.response_model = as_str(get(response, "model"))
    tier = as_str(get(response, "service_tier"))
    if tier:
        inv.attributes[sc.OPENAI_RESPONSE_SERVICE_TIER] = tier
        inv.dimensions = {sc.OPENAI_RESPONSE_SERVICE_TIER: tier}
        inv.service_tier = tier  # priced at that tier's rates
    reason = finish_reason(response)
    inv.finish_reasons = [reason]
    error = get(response, "error")
    if error is not None and get(response, "status") == "failed":
        inv.error_type = as_str(get(error, "code")) or "_OTHER"
    usage = get(response, "usage")
    if usage is not None:
        inv.input_tokens = as_int(get(usage, "input_tokens"))
        inv.output_tokens = as_int(get(usage, "output_tokens"))
        inv.cache_read_tokens = as_int(get(get(usage, "input_tokens_details"), "cached_tokens"))
        inv.reasoning_tokens = as_int(get(get(usage, "output_tokens_details"), "reasoning_tokens"))
    if capture:
        parts: list[dict[str, Any]] = []
        for item in as_list(get(response, "output")):
            kind = get(item, "type")
            if kind == "message":
                parts.extend(_parts(get(item, "content")))
            elif kind == "function_call":
                parts.append(
                    content.tool_call_part(get(item, "call_id"), get(item, "name"), get(item, "arguments"))
                )
            else:
                parts.append(_item_part(item, kind))
        inv.output_messages = [{"role": "assistant", "parts": parts, "finish_reason": reason}]


def read_fetched(inv: Invocation, response: Any, capture: bool) -> None:
    """``responses.retrieve``: a stored response, no inference; so no token usage is reported, and the
    finish reason is only an attribute (as ``finish_reasons`` it would count in generation.choices)."""
    read_response(inv, response, capture)
    inv.input_tokens = inv.output_tokens = inv.cache_read_tokens = inv.reasoning_tokens = None
    inv.attributes[sc.RESPONSE_FINISH_REASONS], inv.finish_reasons = inv.finish_reasons, None
    status = as_str(get(response, "status"))
    if status:
        inv.attributes[sc.RESPONSE_STATUS] = status


def read_fetch_request(inv: Invocation, body: dict[str, Any], capture: bool) -> None:
    """Nothing in the body: the response id is in the path (set by the hook)."""


class ResponsesAccumulator(StreamFold):
    """Typed stream events: the terminal event carries the whole response, usage included."""

    __slots__ = ("capture", "final", "started")

    def __init__(self, capture: bool, choice_count: int | None = None) -> None:
        self.capture = capture
        self.final: Any = None
        self.started: Any = None
        self.hide_usage_chunk = False  # never set: the Responses API always reports usage

    def add(self, event: Any) -> bool:
        kind = getattr(event, "type", None)
        if kind in ("response.completed", "response.incomplete", "response.failed"):
            self.final = event.response
        elif kind == "response.created":
            self.started = event.response
        return False

    def apply(self, inv: Invocation) -> None:
        if self.final is not None:
            read_response(inv, self.final, self.capture)
        elif self.started is not None:  # the stream ended early: identity only, no finish reason
            inv.response_id = as_str(get(self.started, "id"))
            inv.response_model = as_str(get(self.started, "model"))


class FetchedResponsesAccumulator(ResponsesAccumulator):
    """``responses.retrieve(id, stream=True)``: a stored response's events, read as a fetched response."""

    __slots__ = ()

    def apply(self, inv: Invocation) -> None:
        if self.final is not None:
            read_fetched(inv, self.final, self.capture)
        else:
            super().apply(inv)


__all__ = [
    "FetchedResponsesAccumulator",
    "ResponsesAccumulator",
    "finish_reason",
    "input_messages",
    "read_fetch_request",
    "read_fetched",
    "read_request",
    "read_response",
]
