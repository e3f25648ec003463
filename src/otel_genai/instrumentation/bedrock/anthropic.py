"""Anthropic Claude on InvokeModel: the Messages API body (and the legacy text-completion body), whole or
streamed as Anthropic's own events inside Bedrock's ``chunk`` frames."""

from __future__ import annotations

from typing import Any

from ...core import content, scrub
from ...core.invocation import Invocation
from .readers import Usage, as_count, as_float, as_int, as_str, finish_reason


def _usage(usage: Any) -> Usage:
    """Anthropic's ``input_tokens`` excludes cache reads and writes, like Bedrock's own counts."""
    if not isinstance(usage, dict):
        return Usage()
    return Usage(
        as_count(usage.get("input_tokens")),
        as_count(usage.get("output_tokens")),
        as_count(usage.get("cache_read_input_tokens")),
        as_count(usage.get("cache_creation_input_tokens")),
    )


def _source_part(kind: str, value: dict[str, Any]) -> dict[str, Any]:
    modality = "document" if kind == "document" else kind
    source = value.get("source")
    if isinstance(source, dict) and source.get("type") == "url":
        uri = source.get("url")
        return {"type": "uri", "modality": modality, "uri": scrub.url(uri) if isinstance(uri, str) else uri}
    part: dict[str, Any] = {"type": "blob", "modality": modality}
    if isinstance(source, dict) and as_str(source.get("media_type")):
        part["mime_type"] = source["media_type"]
    return part


def parts(value: Any) -> list[dict[str, Any]]:
    """Message content: a string, or text/image/document/tool_use/tool_result/thinking blocks."""
    if isinstance(value, str):
        return [content.text_part(value)]
    result: list[dict[str, Any]] = []
    for block in value if isinstance(value, list) else ():
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            result.append(content.text_part(str(block.get("text") or "")))
        elif kind == "tool_use":
            result.append(content.tool_call_part(block.get("id"), block.get("name"), block.get("input")))
        elif kind == "tool_result":
            response = block.get("content")
            if isinstance(response, list):
                texts = [b.get("text") for b in response if isinstance(b, dict) and b.get("type") == "text"]
                response = texts[0] if len(texts) == 1 else texts
            result.append(
                {"type": "tool_call_response", "id": block.get("tool_use_id"), "response": response}
            )
        elif kind == "thinking":
            result.append({"type": "reasoning", "content": str(block.get("thinking") or "")})
        elif kind in ("image", "document"):
            result.append(_source_part(kind, block))
        elif isinstance(kind, str):
            result.append({"type": kind})
    return result


def read_request(inv: Invocation, body: dict[str, Any], capture: bool) -> None:
    """Messages API body (``anthropic_version``, ``messages``) or the legacy ``prompt`` body."""
    inv.max_tokens = as_int(body.get("max_tokens")) or as_int(body.get("max_tokens_to_sample"))
    inv.temperature = as_float(body.get("temperature"))
    inv.top_p = as_float(body.get("top_p"))
    inv.top_k = as_int(body.get("top_k"))
    stop = body.get("stop_sequences")
    if isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        inv.stop_sequences = stop
    if not capture:
        return
    system = parts(body.get("system"))
    inv.system_instructions = [p for p in system if p["type"] == "text"] or None
    history = body.get("messages")
    if isinstance(history, list):
        inv.input_messages = [
            {"role": as_str(m.get("role")) or "user", "parts": parts(m.get("content"))}
            for m in history
            if isinstance(m, dict)
        ]
    elif isinstance(body.get("prompt"), str):
        inv.input_messages = [{"role": "user", "parts": [content.text_part(body["prompt"])]}]
    tools = body.get("tools")
    if isinstance(tools, list):
        inv.tool_definitions = [
            {"type": "function" if "input_schema" in t else str(t.get("type")), "name": t.get("name")}
            for t in tools
            if isinstance(t, dict)
        ]


def read_response(inv: Invocation, body: dict[str, Any], capture: bool) -> None:
    inv.response_id = as_str(body.get("id"))
    inv.response_model = as_str(body.get("model"))
    _usage(body.get("usage")).apply(inv)
    reason = finish_reason(body.get("stop_reason")) or "error"
    inv.finish_reasons = [reason]
    if not capture:
        return
    completion = body.get("completion")  # legacy text completion
    message_parts = (
        [content.text_part(completion)] if isinstance(completion, str) else parts(body.get("content"))
    )
    inv.output_messages = [
        {"role": as_str(body.get("role")) or "assistant", "parts": message_parts, "finish_reason": reason}
    ]


class AnthropicFold:
    """Folds Anthropic stream events: message_start, content_block_*, message_delta, message_stop."""

    __slots__ = ("blocks", "capture", "input", "model", "output", "response_id", "stop_reason")

    def __init__(self, capture: bool) -> None:
        self.capture = capture
        self.response_id: str | None = None
        self.model: str | None = None
        self.input = Usage()
        self.output: int | None = None
        self.stop_reason: Any = None
        self.blocks: dict[int, list[Any]] = {}  # index -> [kind, tool id, tool name, [pieces]]

    def add(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "content_block_delta":
            if self.capture:
                self._add_delta(event)
        elif kind == "content_block_start":
            if self.capture:
                block = event.get("content_block")
                if isinstance(block, dict):
                    index = as_int(event.get("index")) or 0
                    self.blocks[index] = [block.get("type"), block.get("id"), block.get("name"), []]
        elif kind == "message_start":
            started = event.get("message")
            if isinstance(started, dict):
                self.response_id = as_str(started.get("id"))
                self.model = as_str(started.get("model"))
                # its output_tokens is a placeholder (1); the real count comes with message_delta
                self.input = _usage(started.get("usage"))._replace(output=None)
        elif kind == "message_delta":
            delta = event.get("delta")
            if isinstance(delta, dict):
                self.stop_reason = delta.get("stop_reason")
            usage = event.get("usage")
            if isinstance(usage, dict):
                self.output = as_count(usage.get("output_tokens"))
        elif "completion" in event:  # legacy text-completion stream
            self.stop_reason = event.get("stop_reason") or self.stop_reason
            if self.capture and isinstance(event["completion"], str):
                self.blocks.setdefault(0, ["text", None, None, []])[3].append(event["completion"])

    def _add_delta(self, event: dict[str, Any]) -> None:
        delta = event.get("delta")
        if not isinstance(delta, dict):
            return
        block = self.blocks.setdefault(as_int(event.get("index")) or 0, ["text", None, None, []])
        for key in ("text", "partial_json", "thinking"):
            piece = delta.get(key)
            if isinstance(piece, str):
                block[3].append(piece)
                return

    def apply(self, inv: Invocation) -> None:
        inv.response_id = self.response_id
        inv.response_model = self.model
        self.input._replace(output=self.output).apply(inv)
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
