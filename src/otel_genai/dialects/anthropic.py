"""The Anthropic Messages dialect: request bodies, responses and stream events, whole or streamed.

Shared by the Anthropic client (typed objects), Claude on Bedrock's InvokeModel (parsed JSON inside
``chunk`` frames) and the legacy text-completion body. Nothing here records telemetry: it fills the
``Invocation``.
"""

from __future__ import annotations

from typing import Any

from ..core import content, scrub
from ..core.invocation import Invocation
from ..core.readers import Usage, as_count, as_float, as_int, as_list, as_str, finish_reason, get

__all__ = ["AnthropicFold", "parts", "read_request", "read_response", "usage"]


def usage(value: Any) -> Usage:
    """Anthropic's ``input_tokens`` excludes cache reads and writes; ``Usage.apply`` adds them in."""
    if value is None:
        return Usage()
    return Usage(
        as_count(get(value, "input_tokens")),
        as_count(get(value, "output_tokens")),
        as_count(get(value, "cache_read_input_tokens")),
        as_count(get(value, "cache_creation_input_tokens")),
    )


def _reasoning_tokens(value: Any) -> int | None:
    return as_count(get(get(value, "output_tokens_details"), "thinking_tokens"))


def _source_part(kind: str, value: Any) -> dict[str, Any]:
    modality = "document" if kind == "document" else kind
    source = get(value, "source")
    if get(source, "type") == "url":
        uri = get(source, "url")
        return {"type": "uri", "modality": modality, "uri": scrub.url(uri) if isinstance(uri, str) else uri}
    part: dict[str, Any] = {"type": "blob", "modality": modality}
    if as_str(get(source, "media_type")):
        part["mime_type"] = get(source, "media_type")
    return part


def parts(value: Any) -> list[dict[str, Any]]:
    """Message content: a string, or text/image/document/tool_use/tool_result/thinking blocks."""
    if isinstance(value, str):
        return [content.text_part(value)]
    result: list[dict[str, Any]] = []
    for block in as_list(value):
        kind = get(block, "type")
        if kind == "text":
            result.append(content.text_part(str(get(block, "text") or "")))
        elif kind == "tool_use":
            result.append(content.tool_call_part(get(block, "id"), get(block, "name"), get(block, "input")))
        elif kind == "tool_result":
            response = get(block, "content")
            if isinstance(response, (list, tuple)):
                texts = [get(b, "text") for b in response if get(b, "type") == "text"]
                response = texts[0] if len(texts) == 1 else texts
            result.append(
                {"type": "tool_call_response", "id": get(block, "tool_use_id"), "response": response}
            )
        elif kind == "thinking":
            result.append({"type": "reasoning", "content": str(get(block, "thinking") or "")})
        elif kind in ("image", "document"):
            result.append(_source_part(kind, block))
        elif isinstance(kind, str):
            result.append({"type": kind})
    return result


def read_request(inv: Invocation, body: Any, capture: bool) -> None:
    """Messages API body (``messages``; ``anthropic_version`` on Bedrock) or the legacy ``prompt`` body."""
    inv.max_tokens = as_int(get(body, "max_tokens")) or as_int(get(body, "max_tokens_to_sample"))
    inv.temperature = as_float(get(body, "temperature"))
    inv.top_p = as_float(get(body, "top_p"))
    inv.top_k = as_int(get(body, "top_k"))
    stop = get(body, "stop_sequences")
    if isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        inv.stop_sequences = stop
    effort = as_str(get(get(body, "output_config"), "effort"))
    if effort:
        inv.reasoning_level = effort
    if not capture:
        return
    system = parts(get(body, "system"))
    inv.system_instructions = [p for p in system if p["type"] == "text"] or None
    history = get(body, "messages")
    if isinstance(history, list):
        inv.input_messages = [
            {"role": as_str(get(m, "role")) or "user", "parts": parts(get(m, "content"))}
            for m in history
            if isinstance(m, dict)
        ]
    elif isinstance(get(body, "prompt"), str):
        inv.input_messages = [{"role": "user", "parts": [content.text_part(body["prompt"])]}]
    tools = get(body, "tools")
    if isinstance(tools, list):
        inv.tool_definitions = [
            {"type": "function" if "input_schema" in t else str(t.get("type")), "name": t.get("name")}
            for t in tools
            if isinstance(t, dict)
        ]


def read_response(inv: Invocation, body: Any, capture: bool) -> None:
    inv.response_id = as_str(get(body, "id"))
    inv.response_model = as_str(get(body, "model"))
    counts = get(body, "usage")
    usage(counts).apply(inv)
    reasoning = _reasoning_tokens(counts)
    if reasoning is not None:
        inv.reasoning_tokens = reasoning
    reason = finish_reason(get(body, "stop_reason")) or "error"
    inv.finish_reasons = [reason]
    if not capture:
        return
    completion = get(body, "completion")  # legacy text completion
    message_parts = (
        [content.text_part(completion)] if isinstance(completion, str) else parts(get(body, "content"))
    )
    inv.output_messages = [
        {"role": as_str(get(body, "role")) or "assistant", "parts": message_parts, "finish_reason": reason}
    ]


class AnthropicFold:
    """Folds Anthropic stream events: message_start, content_block_*, message_delta, message_stop."""

    __slots__ = ("blocks", "capture", "input", "model", "output", "reasoning", "response_id", "stop_reason")

    def __init__(self, capture: bool) -> None:
        self.capture = capture
        self.response_id: str | None = None
        self.model: str | None = None
        self.input = Usage()
        self.output: int | None = None
        self.reasoning: int | None = None
        self.stop_reason: Any = None
        self.blocks: dict[int, list[Any]] = {}  # index -> [kind, tool id, tool name, [pieces]]

    def add(self, event: Any) -> None:
        kind = get(event, "type")
        if kind == "content_block_delta":
            if self.capture:
                self._add_delta(event)
        elif kind == "content_block_start":
            if self.capture:
                block = get(event, "content_block")
                if block is not None:
                    index = as_int(get(event, "index")) or 0
                    self.blocks[index] = [get(block, "type"), get(block, "id"), get(block, "name"), []]
        elif kind == "message_start":
            started = get(event, "message")
            if started is not None:
                self.response_id = as_str(get(started, "id"))
                self.model = as_str(get(started, "model"))
                # its output_tokens is a placeholder (1); the real count comes with message_delta
                self.input = usage(get(started, "usage"))._replace(output=None)
        elif kind == "message_delta":
            delta = get(event, "delta")
            if delta is not None:
                self.stop_reason = get(delta, "stop_reason")
            counts = get(event, "usage")
            if counts is not None:
                self.output = as_count(get(counts, "output_tokens"))
                self.reasoning = _reasoning_tokens(counts)
                final = usage(counts)  # newer APIs repeat the input and cache counts here
                self.input = Usage(
                    final.input if final.input is not None else self.input.input,
                    None,
                    final.cache_read if final.cache_read is not None else self.input.cache_read,
                    final.cache_write if final.cache_write is not None else self.input.cache_write,
                )
        elif isinstance(get(event, "completion"), str):  # legacy text-completion stream
            self.stop_reason = get(event, "stop_reason") or self.stop_reason
            if self.capture:
                self.blocks.setdefault(0, ["text", None, None, []])[3].append(get(event, "completion"))

    def _add_delta(self, event: Any) -> None:
        delta = get(event, "delta")
        if delta is None:
            return
        block = self.blocks.setdefault(as_int(get(event, "index")) or 0, ["text", None, None, []])
        for key in ("text", "partial_json", "thinking"):
            piece = get(delta, key)
            if isinstance(piece, str):
                block[3].append(piece)
                return

    def apply(self, inv: Invocation) -> None:
        inv.response_id = self.response_id
        inv.response_model = self.model
        self.input._replace(output=self.output).apply(inv)
        if self.reasoning is not None:
            inv.reasoning_tokens = self.reasoning
        reason = finish_reason(self.stop_reason) or "error"
        inv.finish_reasons = [reason]
        if self.capture:
            inv.output_messages = [{"role": "assistant", "parts": self._parts(), "finish_reason": reason}]

    def _parts(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = []
        for _, (kind, call_id, name, pieces) in sorted(self.blocks.items()):
            text = "".join(pieces)
            if kind == "tool_use":
                result.append(content.tool_call_part(call_id, name, text or None))
            elif kind == "thinking":
                result.append({"type": "reasoning", "content": text})
            else:
                result.append(content.text_part(text))
        return result
