"""The Gemini dialect (Gemini API and Vertex AI): ``generateContent`` bodies and responses, streamed or
whole, and the embeddings bodies, as the wire JSON (camelCase) that google-genai sends and receives.

Token counts follow genai-prices' own reading of ``usageMetadata``: input = prompt (cached content
included) + tool-use prompt; output = candidates + thoughts; reasoning = thoughts; cache read = cached
content. Nothing here records telemetry: it fills the ``Invocation``.
"""

from __future__ import annotations

from typing import Any

from ..core import content
from ..core.invocation import Invocation
from ..core.readers import as_count, as_float, as_int, as_list, as_str, finish_reason

__all__ = [
    "Fold",
    "read_embed_request",
    "read_embed_response",
    "read_request",
    "read_response",
    "read_usage",
]

_ROLES = {"model": "assistant"}
_DEFAULT_REASON = "stop"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def parts(value: Any) -> list[dict[str, Any]]:
    """``Content.parts``: text (``thought`` = reasoning), functionCall/functionResponse, inline/file data."""
    result: list[dict[str, Any]] = []
    for part in as_list(value):
        if not isinstance(part, dict):
            continue
        if isinstance(part.get("text"), str):
            if part.get("thought"):
                result.append({"type": "reasoning", "content": part["text"]})
            else:
                result.append(content.text_part(part["text"]))
        elif isinstance(part.get("functionCall"), dict):
            call = part["functionCall"]
            result.append(
                content.tool_call_part(as_str(call.get("id")), as_str(call.get("name")), call.get("args"))
            )
        elif isinstance(part.get("functionResponse"), dict):
            response = part["functionResponse"]
            result.append(
                {
                    "type": "tool_call_response",
                    "id": as_str(response.get("id")),
                    "response": response.get("response"),
                }
            )
        elif isinstance(part.get("inlineData"), dict):
            blob: dict[str, Any] = {"type": "blob", "modality": "image"}
            mime = as_str(part["inlineData"].get("mimeType"))
            if mime:
                blob["mime_type"] = mime
                blob["modality"] = mime.split("/", 1)[0]
            result.append(blob)
        elif isinstance(part.get("fileData"), dict):
            result.append({"type": "uri", "modality": "file", "uri": part["fileData"].get("fileUri")})
    return result


def _message(value: Any, role: str | None = None) -> dict[str, Any]:
    given = as_str(_dict(value).get("role")) or role or "user"
    return {"role": _ROLES.get(given, given), "parts": parts(_dict(value).get("parts"))}


def read_request(inv: Invocation, body: dict[str, Any], capture: bool) -> None:
    config = _dict(body.get("generationConfig") or body.get("generation_config"))
    inv.max_tokens = as_int(config.get("maxOutputTokens"))
    inv.temperature = as_float(config.get("temperature"))
    inv.top_p = as_float(config.get("topP"))
    top_k = config.get("topK")
    inv.top_k = as_int(top_k) if as_int(top_k) is not None else as_count(top_k)
    stop = config.get("stopSequences")
    if isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        inv.stop_sequences = stop
    inv.seed = as_int(config.get("seed"))
    inv.choice_count = as_int(config.get("candidateCount"))
    inv.presence_penalty = as_float(config.get("presencePenalty"))
    inv.frequency_penalty = as_float(config.get("frequencyPenalty"))
    mime = as_str(config.get("responseMimeType"))
    if mime:
        inv.output_type = "json" if mime == "application/json" else "text" if mime == "text/plain" else mime
    level = as_str(_dict(config.get("thinkingConfig")).get("thinkingLevel"))
    if level:
        inv.reasoning_level = level.lower()
    if isinstance(body.get("safetySettings"), list) and body["safetySettings"]:
        inv.guardrail_configured = True
    if not capture:
        return
    system = body.get("systemInstruction")
    if system is not None:
        inv.system_instructions = [
            p for p in parts(_dict(system).get("parts")) if p["type"] == "text"
        ] or None
    history = body.get("contents")
    if isinstance(history, list):
        inv.input_messages = [_message(m) for m in history if isinstance(m, dict)]
    tools = body.get("tools")
    if isinstance(tools, list):
        inv.tool_definitions = [
            {"type": "function", "name": declaration.get("name")}
            for tool in tools
            if isinstance(tool, dict)
            for declaration in as_list(tool.get("functionDeclarations"))
            if isinstance(declaration, dict)
        ] or None


def read_usage(inv: Invocation, usage: Any) -> None:
    usage = _dict(usage)
    prompt, tool_prompt = (
        as_count(usage.get("promptTokenCount")),
        as_count(usage.get("toolUsePromptTokenCount")),
    )
    if prompt is not None or tool_prompt is not None:
        inv.input_tokens = (prompt or 0) + (tool_prompt or 0)
    candidates, thoughts = (
        as_count(usage.get("candidatesTokenCount")),
        as_count(usage.get("thoughtsTokenCount")),
    )
    if candidates is not None or thoughts is not None:
        inv.output_tokens = (candidates or 0) + (thoughts or 0)
    if thoughts is not None:
        inv.reasoning_tokens = thoughts
    cached = as_count(usage.get("cachedContentTokenCount"))
    if cached is not None:
        inv.cache_read_tokens = cached


def _reason(candidate: dict[str, Any]) -> str:
    raw = as_str(candidate.get("finishReason"))
    reason = finish_reason(raw) if raw else _DEFAULT_REASON
    if reason == "stop" and any(
        isinstance(p, dict) and "functionCall" in p
        for p in as_list(_dict(candidate.get("content")).get("parts"))
    ):
        return "tool_call"  # Gemini says STOP when it asks for a function call
    return reason or _DEFAULT_REASON


def _guardrails(inv: Invocation, body: dict[str, Any], reasons: list[str]) -> None:
    blocked = as_str(_dict(body.get("promptFeedback")).get("blockReason"))
    if blocked:
        inv.guardrail_intervened, inv.guardrail_blocked = True, "input"
        inv.guardrail_activations = {("content", "input")}
    elif "content_filter" in reasons:
        inv.guardrail_intervened, inv.guardrail_blocked = True, "output"
        inv.guardrail_activations = {("content", "output")}


def read_response(inv: Invocation, body: Any, capture: bool) -> None:
    body = _dict(body)
    inv.response_id = as_str(body.get("responseId"))
    inv.response_model = as_str(body.get("modelVersion"))
    read_usage(inv, body.get("usageMetadata"))
    candidates = [c for c in as_list(body.get("candidates")) if isinstance(c, dict)]
    reasons = [_reason(c) for c in candidates]
    if not candidates and as_str(_dict(body.get("promptFeedback")).get("blockReason")):
        reasons = ["content_filter"]
    inv.finish_reasons = reasons or None
    _guardrails(inv, body, reasons)
    if capture:
        inv.output_messages = [
            {**_message(c.get("content"), "model"), "finish_reason": reason}
            for c, reason in zip(candidates, reasons, strict=False)
        ]


class Fold:
    """Folds ``streamGenerateContent`` chunks: each a ``GenerateContentResponse`` JSON body.

    Usage, model and finish reasons come with the last chunks, so without content only the latest body is
    kept; with content every candidate's parts are appended in order.
    """

    __slots__ = ("capture", "first", "last", "pieces", "reasons")

    def __init__(self, capture: bool) -> None:
        self.capture = capture
        self.first: dict[str, Any] | None = None
        self.last: dict[str, Any] = {}
        self.pieces: dict[int, list[Any]] = {}  # candidate index -> parts
        self.reasons: dict[int, Any] = {}

    def add(self, body: Any) -> None:
        if not isinstance(body, dict):
            return
        if self.first is None:
            self.first = body
        self.last = {**self.last, **body}
        for position, candidate in enumerate(as_list(body.get("candidates"))):
            if not isinstance(candidate, dict):
                continue
            index = as_int(candidate.get("index")) or position
            if candidate.get("finishReason"):
                self.reasons[index] = candidate["finishReason"]
            if self.capture or candidate.get("content"):
                found = as_list(_dict(candidate.get("content")).get("parts"))
                if self.capture:
                    self.pieces.setdefault(index, []).extend(found)
                elif any(isinstance(p, dict) and "functionCall" in p for p in found):
                    self.pieces.setdefault(index, []).append({"functionCall": {}})

    def apply(self, inv: Invocation) -> None:
        merged = dict(self.last)
        indices = sorted(set(self.pieces) | set(self.reasons))
        merged["candidates"] = [
            {
                "index": i,
                "finishReason": self.reasons.get(i),
                "content": {"role": "model", "parts": self._joined(i)},
            }
            for i in indices
        ]
        read_response(inv, merged, self.capture)

    def _joined(self, index: int) -> list[Any]:
        """Consecutive text pieces of one kind joined into one part, as the whole response would have them."""
        joined: list[Any] = []
        for part in self.pieces.get(index, ()):
            if not isinstance(part, dict):
                continue
            previous = joined[-1] if joined else None
            if (
                isinstance(part.get("text"), str)
                and isinstance(previous, dict)
                and isinstance(previous.get("text"), str)
                and bool(previous.get("thought")) == bool(part.get("thought"))
            ):
                joined[-1] = {**previous, "text": previous["text"] + part["text"]}
            else:
                joined.append(part)
        return joined


def read_embed_request(inv: Invocation, body: dict[str, Any], capture: bool) -> None:
    """``embedContent`` / ``batchEmbedContents``: the model is in the path; inputs are never recorded."""


def read_embed_response(inv: Invocation, body: Any, capture: bool) -> None:
    body = _dict(body)
    embeddings = body.get("embeddings")
    first = (
        _dict(embeddings[0]) if isinstance(embeddings, list) and embeddings else _dict(body.get("embedding"))
    )
    values = first.get("values")
    if isinstance(values, list):
        inv.vector_size = len(values)
    read_usage(inv, body.get("usageMetadata"))
