"""Converse and ConverseStream: request and response readers, and the stream fold.

Amazon Nova's InvokeModel bodies use the same message, content-block and stream-event shapes, so the
InvokeModel readers reuse everything here for Nova.
"""

from __future__ import annotations

from typing import Any

from ... import semconv as sc
from ...core import content
from ...core.invocation import Invocation, Message
from ...core.streams import StreamFold
from .guardrails import Verdict, read_config
from .readers import Usage, as_count, as_float, as_int, as_str, converse_usage, finish_reason

GUARDRAIL_INTERVENED = "guardrail_intervened"

# --- content blocks -> semconv parts -------------------------------------------------------------


def _media(kind: str, value: Any) -> dict[str, Any]:
    modality = "document" if kind == "document" else kind
    part: dict[str, Any] = {"type": "blob", "modality": modality}
    source = value.get("source") if isinstance(value, dict) else None
    location = source.get("s3Location") if isinstance(source, dict) else None
    if isinstance(location, dict) and as_str(location.get("uri")):
        part = {"type": "uri", "modality": modality, "uri": location["uri"]}
    media_format = as_str(value.get("format")) if isinstance(value, dict) else None
    if media_format and kind != "document":
        part["mime_type"] = f"{kind}/{media_format}"
    return part


def _tool_result(blocks: Any) -> Any:
    """A ``toolResult``'s content: one text or JSON value as itself, several as a list."""
    values: list[Any] = []
    for block in blocks if isinstance(blocks, list) else ():
        if not isinstance(block, dict):
            continue
        if "text" in block:
            values.append(block["text"])
        elif "json" in block:
            values.append(block["json"])
        else:
            values.extend(_media(kind, value) for kind, value in block.items())
    return values[0] if len(values) == 1 else values


def parts(blocks: Any) -> list[dict[str, Any]]:
    """Converse content blocks (text, toolUse, toolResult, media, reasoning, guardContent) as parts."""
    result: list[dict[str, Any]] = []
    for block in blocks if isinstance(blocks, list) else ():
        if not isinstance(block, dict):
            continue
        text = block.get("text")
        if isinstance(text, str):
            result.append(content.text_part(text))
        elif "toolUse" in block:
            use = block["toolUse"] if isinstance(block["toolUse"], dict) else {}
            result.append(content.tool_call_part(use.get("toolUseId"), use.get("name"), use.get("input")))
        elif "toolResult" in block:
            tool_result = block["toolResult"] if isinstance(block["toolResult"], dict) else {}
            result.append(
                {
                    "type": "tool_call_response",
                    "id": tool_result.get("toolUseId"),
                    "response": _tool_result(tool_result.get("content")),
                }
            )
        elif "reasoningContent" in block:
            reasoning = block["reasoningContent"]
            text_block = reasoning.get("reasoningText") if isinstance(reasoning, dict) else None
            reasoning_text = text_block.get("text") if isinstance(text_block, dict) else None
            result.append(
                {"type": "reasoning", "content": reasoning_text if isinstance(reasoning_text, str) else ""}
            )
        elif "guardContent" in block:
            guarded = block["guardContent"]
            guarded_text = guarded.get("text") if isinstance(guarded, dict) else None
            text = guarded_text.get("text") if isinstance(guarded_text, dict) else None
            if isinstance(text, str):
                result.append(content.text_part(text))
        elif "cachePoint" in block:
            continue
        else:
            for kind in ("image", "document", "video", "audio"):
                if kind in block:
                    result.append(_media(kind, block[kind]))
                    break
            else:
                result.extend({"type": str(kind)} for kind in block)
    return result


def message(value: dict[str, Any], finish: str | None = None) -> Message:
    """One Converse message; ``finish`` makes it an output message."""
    role = as_str(value.get("role")) or ("assistant" if finish is not None else "user")
    result: Message = {"role": role, "parts": parts(value.get("content"))}
    if finish is not None:
        result["finish_reason"] = finish
    return result


def messages(value: Any) -> list[Message] | None:
    return [message(m) for m in value if isinstance(m, dict)] if isinstance(value, list) else None


def system_parts(value: Any) -> list[dict[str, Any]] | None:
    """``system`` blocks -> ``gen_ai.system_instructions`` (text only, per the conventions)."""
    found = [p for p in parts(value) if p.get("type") == "text"]
    return found or None


def tool_definitions(tool_config: Any) -> list[dict[str, Any]] | None:
    tools = tool_config.get("tools") if isinstance(tool_config, dict) else None
    if not isinstance(tools, list):
        return None
    result: list[dict[str, Any]] = []
    for tool in tools:
        if not isinstance(tool, dict) or "cachePoint" in tool:
            continue
        spec = tool.get("toolSpec")
        if isinstance(spec, dict):
            result.append({"type": "function", "name": spec.get("name")})
        else:
            for kind, value in tool.items():
                name = value.get("name") if isinstance(value, dict) else None
                result.append({"type": kind, "name": name} if name else {"type": kind})
    return result or None


# --- request ---------------------------------------------------------------------------------------


def read_inference_config(inv: Invocation, config: Any) -> None:
    """``inferenceConfig`` (Converse; Nova InvokeModel, which also spells ``max_new_tokens``)."""
    if not isinstance(config, dict):
        return
    inv.max_tokens = as_int(config.get("maxTokens")) or as_int(config.get("max_new_tokens"))
    inv.temperature = as_float(config.get("temperature"))
    inv.top_p = as_float(config.get("topP"))
    inv.top_k = as_int(config.get("topK")) or inv.top_k
    stop = config.get("stopSequences")
    if isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        inv.stop_sequences = stop


def _top_k(extra: Any) -> int | None:
    """``additionalModelRequestFields``: ``top_k`` (Anthropic), ``topK``/``k``, or Nova's nested config."""
    if not isinstance(extra, dict):
        return None
    for key in ("top_k", "topK", "k"):
        value = as_int(extra.get(key))
        if value is not None:
            return value
    nested = extra.get("inferenceConfig")
    return as_int(nested.get("topK")) if isinstance(nested, dict) else None


def read_request(inv: Invocation, params: dict[str, Any], capture: bool) -> None:
    """The ``converse``/``converse_stream`` keyword arguments, before botocore serialises them."""
    read_inference_config(inv, params.get("inferenceConfig"))
    inv.top_k = _top_k(params.get("additionalModelRequestFields"))
    guardrail = params.get("guardrailConfig")
    if isinstance(guardrail, dict):
        read_config(inv, guardrail.get("guardrailIdentifier"), guardrail.get("guardrailVersion"))
    if capture:
        inv.system_instructions = system_parts(params.get("system"))
        inv.input_messages = messages(params.get("messages"))
        inv.tool_definitions = tool_definitions(params.get("toolConfig"))


# --- response --------------------------------------------------------------------------------------


def read_latency(inv: Invocation, milliseconds: Any) -> None:
    value = as_count(milliseconds)
    if value is not None:
        inv.attributes[sc.AWS_BEDROCK_INVOCATION_LATENCY] = value / 1000


def verdict_for(inv: Invocation, stop_reason: Any, trace: Any) -> Verdict:
    verdict = Verdict()
    if stop_reason == GUARDRAIL_INTERVENED:
        verdict.intervened = True
    elif sc.AWS_BEDROCK_GUARDRAIL_ID in inv.attributes and isinstance(stop_reason, str):
        verdict.intervened = False
    guardrail = trace.get("guardrail") if isinstance(trace, dict) else None
    if guardrail is not None:
        verdict.read_trace(guardrail)
    return verdict


def read_response(inv: Invocation, response: dict[str, Any], capture: bool) -> None:
    """A ``converse`` result (a plain dict from botocore's parser)."""
    stop_reason = response.get("stopReason")
    reason = finish_reason(stop_reason)
    if reason is not None:
        inv.finish_reasons = [reason]
    converse_usage(response.get("usage")).apply(inv)
    metrics = response.get("metrics")
    if isinstance(metrics, dict):
        read_latency(inv, metrics.get("latencyMs"))
    if capture:
        output = response.get("output")
        if isinstance(output, dict) and isinstance(output.get("message"), dict):
            inv.output_messages = [message(output["message"], reason or "error")]
    verdict_for(inv, stop_reason, response.get("trace")).apply(inv)


# --- streams ---------------------------------------------------------------------------------------


class ConverseFold:
    """Folds ConverseStream events (also Nova's InvokeModelWithResponseStream events) into one response."""

    __slots__ = ("blocks", "capture", "latency", "role", "started", "stop_reason", "trace", "usage")

    def __init__(self, capture: bool) -> None:
        self.capture = capture
        self.started = False
        self.role: str | None = None
        self.stop_reason: Any = None
        self.usage = Usage()
        self.latency: Any = None
        self.trace: Any = None
        self.blocks: dict[int, list[Any]] = {}  # index -> [kind, tool id, tool name, [pieces]]

    def add(self, event: Any) -> bool:
        """Fold one event; False when the event is not a Converse stream event."""
        delta_event = event.get("contentBlockDelta")
        if delta_event is not None:
            self.started = True
            if self.capture and isinstance(delta_event, dict):
                self._add_delta(delta_event)
        elif "contentBlockStart" in event:
            self.started = True
            if self.capture:
                self._add_start(event["contentBlockStart"])
        elif "messageStart" in event:
            self.started = True
            start = event["messageStart"]
            self.role = as_str(start.get("role")) if isinstance(start, dict) else None
        elif "messageStop" in event:
            stop = event["messageStop"]
            self.stop_reason = stop.get("stopReason") if isinstance(stop, dict) else None
        elif "metadata" in event:
            metadata = event["metadata"]
            if isinstance(metadata, dict):
                self.usage = converse_usage(metadata.get("usage"))
                metrics = metadata.get("metrics")
                self.latency = metrics.get("latencyMs") if isinstance(metrics, dict) else None
                self.trace = metadata.get("trace")
        elif "contentBlockStop" not in event:
            return False
        return True

    def _block(self, index: Any, kind: str) -> list[Any]:
        key = index if isinstance(index, int) else 0
        block = self.blocks.get(key)
        if block is None:
            block = self.blocks[key] = [kind, None, None, []]
        return block

    def _add_start(self, start_event: Any) -> None:
        start = start_event.get("start") if isinstance(start_event, dict) else None
        use = start.get("toolUse") if isinstance(start, dict) else None
        if isinstance(use, dict):
            block = self._block(start_event.get("contentBlockIndex"), "tool")
            block[0], block[1], block[2] = "tool", use.get("toolUseId"), use.get("name")

    def _add_delta(self, delta_event: dict[str, Any]) -> None:
        delta = delta_event.get("delta")
        if not isinstance(delta, dict):
            return
        index = delta_event.get("contentBlockIndex")
        text = delta.get("text")
        if isinstance(text, str):
            self._block(index, "text")[3].append(text)
            return
        use = delta.get("toolUse")
        if isinstance(use, dict) and isinstance(use.get("input"), str):
            self._block(index, "tool")[3].append(use["input"])
            return
        reasoning = delta.get("reasoningContent")
        if isinstance(reasoning, dict) and isinstance(reasoning.get("text"), str):
            self._block(index, "reasoning")[3].append(reasoning["text"])

    def output_parts(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = []
        for _, (kind, call_id, name, pieces) in sorted(self.blocks.items()):
            text = "".join(pieces)
            if kind == "tool":
                result.append(content.tool_call_part(call_id, name, text or None))
            elif kind == "reasoning":
                result.append({"type": "reasoning", "content": text})
            elif result and result[-1]["type"] == "text":  # Nova streams one block per text delta
                result[-1]["content"] += text
            else:
                result.append(content.text_part(text))
        return result

    def apply(self, inv: Invocation) -> str | None:
        """Finish reason, usage, latency, and (when capturing) the output message; returns the reason."""
        self.usage.apply(inv)
        read_latency(inv, self.latency)
        reason = finish_reason(self.stop_reason)
        if reason is None and self.started:
            reason = "error"  # the stream ended before its messageStop
        if reason is not None:
            inv.finish_reasons = [reason]
            if self.capture:
                inv.output_messages = [
                    {"role": self.role or "assistant", "parts": self.output_parts(), "finish_reason": reason}
                ]
        return reason


class ConverseStreamAccumulator(StreamFold):
    """The core stream proxies' accumulator for ``converse_stream``'s event stream."""

    __slots__ = ("fold",)

    def __init__(self, capture: bool) -> None:
        self.fold = ConverseFold(capture)

    def add(self, chunk: Any) -> None:
        self.fold.add(chunk)

    def apply(self, inv: Invocation) -> None:
        fold = self.fold
        fold.apply(inv)
        if inv.response_model is None:
            inv.response_model = inv.request_model  # Bedrock answers with the model it was asked for
        verdict_for(inv, fold.stop_reason, fold.trace).apply(inv)


__all__ = [
    "GUARDRAIL_INTERVENED",
    "ConverseFold",
    "ConverseStreamAccumulator",
    "message",
    "messages",
    "parts",
    "read_inference_config",
    "read_latency",
    "read_request",
    "read_response",
    "system_parts",
    "tool_definitions",
    "verdict_for",
]
