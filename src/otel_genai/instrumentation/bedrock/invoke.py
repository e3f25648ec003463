"""InvokeModel and InvokeModelWithResponseStream: the model's own JSON body, read per family.

The request body decides the operation and the request readers; the response body (or each stream chunk)
is read by its shape, so a family we do not name (imported and custom models, OpenAI-compatible
open-weight models) is still read when it answers in a shape we know:

==========================  ===================================  ==========================================
family                      request                              response / stream chunk
==========================  ===================================  ==========================================
Anthropic Claude            ``anthropic_version``, ``messages``  ``content``/``stop_reason``/``usage``;
                            (legacy: ``prompt``)                 Anthropic events (legacy: ``completion``)
Amazon Nova                 ``messages`` + ``inferenceConfig``   ``output.message``; Converse stream events
Amazon Titan text           ``inputText``                        ``results[]``; ``outputText`` chunks
Meta Llama                  ``prompt`` + ``max_gen_len``         ``generation``, ``*_token_count``
Mistral                     ``prompt`` (chat: ``messages``)      ``outputs[]`` (chat: ``choices[]``)
Cohere Command / Command R  ``prompt`` / ``message``             ``generations[]`` / ``text``
AI21 Jurassic / Jamba       ``prompt`` / ``messages``            ``completions[]`` / ``choices[]``
OpenAI-compatible           ``messages`` or ``prompt``           ``choices[]``, ``usage.prompt_tokens``
==========================  ===================================  ==========================================

Token counts come from Bedrock itself whenever it sends them (``x-amzn-bedrock-*-token-count`` headers,
``amazon-bedrock-invocationMetrics`` on the last stream event): those are the billed counts, and they
exist for every family, so an unknown body still gets usage.
"""

from __future__ import annotations

import json
from typing import Any

from ... import semconv as sc
from ...core import content
from ...core.invocation import Invocation, Message
from ...core.streams import StreamFold
from ...dialects import anthropic
from ..openai import chat as openai_chat
from . import converse
from .guardrails import Verdict
from .models import is_embeddings
from .readers import (
    Usage,
    as_count,
    as_float,
    as_int,
    as_list,
    as_str,
    converse_usage,
    finish_reason,
    get,
    invocation_metrics_usage,
)

MAX_BODY = 4 * 1024 * 1024  # larger bodies (images, long documents) are passed through unread
# Choices per response at most: an index beyond it (garbage, a foreign server) must not size the finish
# reasons list (one chunk with index 10**9 would otherwise exhaust memory).
_MAX_CHOICES = 128
_COHERE_ROLES = {"USER": "user", "CHATBOT": "assistant", "SYSTEM": "system", "TOOL": "tool"}


def parse(data: Any) -> dict[str, Any] | None:
    """A JSON object body, or None (not JSON, too large, or not an object)."""
    if isinstance(data, (bytes, bytearray, str)) and len(data) <= MAX_BODY:
        try:
            value = json.loads(data)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None
    return None


# --- request ---------------------------------------------------------------------------------------


def operation_for(model: str, body: dict[str, Any] | None) -> str:
    if is_embeddings(model):
        return sc.OP_EMBEDDINGS
    if body is not None and ("prompt" in body or "inputText" in body):
        return sc.OP_TEXT_COMPLETION
    return sc.OP_CHAT


def _first(body: dict[str, Any], keys: tuple[str, ...], read: Any) -> Any:
    for key in keys:
        value = read(body.get(key))
        if value is not None:
            return value
    return None


def _read_sampling(inv: Invocation, body: dict[str, Any]) -> None:
    """Sampling parameters under every family's spelling (only one spelling appears in a body)."""
    config = body.get("textGenerationConfig")  # Titan
    params = config if isinstance(config, dict) else body
    inv.max_tokens = _first(
        params,
        (
            "maxTokenCount",
            "max_tokens",
            "max_gen_len",
            "maxTokens",
            "max_new_tokens",
            "max_completion_tokens",
        ),
        as_int,
    )
    inv.temperature = as_float(params.get("temperature"))
    inv.top_p = _first(params, ("topP", "top_p", "p"), as_float)
    inv.top_k = _first(params, ("topK", "top_k", "k"), as_int)
    stop = _first(params, ("stopSequences", "stop_sequences", "stop"), lambda v: v)
    if isinstance(stop, str):
        inv.stop_sequences = [stop]
    elif isinstance(stop, list) and stop and all(isinstance(s, str) for s in stop):
        inv.stop_sequences = stop
    inv.seed = as_int(params.get("seed"))


def _cohere_history(body: dict[str, Any]) -> list[Message]:
    history: list[Message] = []
    for turn in as_list(body.get("chat_history")):
        if isinstance(turn, dict) and isinstance(turn.get("message"), str):
            role = _COHERE_ROLES.get(str(turn.get("role")), str(turn.get("role")).lower())
            history.append({"role": role, "parts": [content.text_part(turn["message"])]})
    history.append({"role": "user", "parts": [content.text_part(body["message"])]})
    return history


def read_request(inv: Invocation, body: dict[str, Any], capture: bool) -> None:
    """Request parameters (and, when capturing, the prompt) from an InvokeModel JSON body."""
    model = inv.request_model or ""
    if "anthropic_version" in body or model.startswith("anthropic."):
        anthropic.read_request(inv, body, capture)
        return
    if isinstance(body.get("messages"), list) and (
        model.startswith("amazon.nova") or "schemaVersion" in body or "inferenceConfig" in body
    ):
        converse.read_inference_config(inv, body.get("inferenceConfig"))  # Nova: the Converse shapes
        if capture:
            inv.system_instructions = converse.system_parts(body.get("system"))
            inv.input_messages = converse.messages(body.get("messages"))
            inv.tool_definitions = converse.tool_definitions(body.get("toolConfig"))
        return
    _read_sampling(inv, body)
    if not capture or inv.operation == sc.OP_EMBEDDINGS:
        return
    history = body.get("messages")
    if isinstance(history, list):  # OpenAI-compatible chat (Mistral Large, Jamba, open-weight models)
        inv.input_messages = [openai_chat.input_message(m) for m in history]
    elif isinstance(body.get("message"), str):  # Cohere Command R
        inv.input_messages = _cohere_history(body)
        preamble = as_str(body.get("preamble"))
        if preamble:
            inv.system_instructions = [content.text_part(preamble)]
    else:
        prompt = body.get("inputText", body.get("prompt"))
        if isinstance(prompt, str):
            inv.input_messages = [{"role": "user", "parts": [content.text_part(prompt)]}]
    tools = body.get("tools")
    if isinstance(tools, list):
        inv.tool_definitions = [openai_chat.tool_definition(t) for t in tools]


# --- text families: whole responses and stream chunks alike -----------------------------------------


class TextFold:
    """Titan, Llama, Mistral, Cohere, AI21 and OpenAI-compatible bodies: text per choice, stop reasons,
    usage. A whole response is folded as a single chunk; stream chunks carry the same fields."""

    __slots__ = ("capture", "finish", "response_id", "seen", "texts", "tools", "usage")

    def __init__(self, capture: bool) -> None:
        self.capture = capture
        self.seen = False
        self.finish: dict[int, Any] = {}
        self.texts: dict[int, list[str]] = {}
        self.tools: dict[int, list[dict[str, Any]]] = {}  # OpenAI-compatible tool calls, whole responses
        self.usage = Usage()
        self.response_id: str | None = None

    def _text(self, index: int, text: Any) -> None:
        if self.capture and isinstance(text, str) and 0 <= index < _MAX_CHOICES:
            self.texts.setdefault(index, []).append(text)

    def _stop(self, index: int, reason: Any) -> None:
        if reason is not None and 0 <= index < _MAX_CHOICES:
            self.finish[index] = reason

    def add(self, body: dict[str, Any]) -> bool:
        """Fold one body or chunk; False when it has none of the known shapes."""
        if "outputText" in body:  # Titan stream chunk
            self._text(0, body["outputText"])
            self._stop(0, body.get("completionReason"))
            self._count(body.get("inputTextTokenCount"), body.get("totalOutputTextTokenCount"))
        elif isinstance(body.get("results"), list):  # Titan
            output = 0
            for i, result in enumerate(body["results"]):
                if isinstance(result, dict):
                    self._text(i, result.get("outputText"))
                    self._stop(i, result.get("completionReason"))
                    output += as_count(result.get("tokenCount")) or 0
            self._count(body.get("inputTextTokenCount"), output if body["results"] else None)
        elif "generation" in body:  # Meta Llama
            self._text(0, body["generation"])
            self._stop(0, body.get("stop_reason"))
            self._count(body.get("prompt_token_count"), body.get("generation_token_count"))
        elif isinstance(body.get("outputs"), list):  # Mistral text
            for i, output_item in enumerate(body["outputs"]):
                if isinstance(output_item, dict):
                    self._text(i, output_item.get("text"))
                    self._stop(i, output_item.get("stop_reason"))
        elif isinstance(body.get("generations"), list):  # Cohere Command
            for i, generation in enumerate(body["generations"]):
                if isinstance(generation, dict):
                    index = as_int(generation.get("index")) or i
                    self._text(index, generation.get("text"))
                    self._stop(index, generation.get("finish_reason"))
        elif isinstance(body.get("completions"), list):  # AI21 Jurassic
            for i, completion in enumerate(body["completions"]):
                self._text(i, get(get(completion, "data"), "text"))
                self._stop(i, get(get(completion, "finishReason"), "reason"))
        elif isinstance(body.get("choices"), list):  # OpenAI-compatible
            self._add_choices(body)
        elif "completion" in body:  # Claude legacy text completion (stream chunk)
            self._text(0, body["completion"])
            self._stop(0, body.get("stop_reason"))
        elif "text" in body or "finish_reason" in body or "is_finished" in body:  # Cohere chat / stream
            if body.get("event_type") in (None, "text-generation"):
                self._text(0, body.get("text"))
            self._stop(0, body.get("finish_reason"))
            self.response_id = as_str(body.get("response_id")) or self.response_id
        else:
            return False
        self.seen = True
        return True

    def _count(self, input_tokens: Any, output_tokens: Any) -> None:
        prompt, generated = as_count(input_tokens), as_count(output_tokens)
        self.usage = Usage(
            prompt if prompt is not None else self.usage.input,
            generated if generated is not None else self.usage.output,
        )

    def _add_choices(self, body: dict[str, Any]) -> None:
        self.response_id = as_str(body.get("id")) or self.response_id
        usage = body.get("usage")
        if isinstance(usage, dict):
            self._count(usage.get("prompt_tokens"), usage.get("completion_tokens"))
        for position, choice in enumerate(body["choices"]):
            if not isinstance(choice, dict):
                continue
            index = as_int(choice.get("index")) or position
            self._stop(index, choice.get("finish_reason") or choice.get("stop_reason"))
            if not self.capture:
                continue
            message = choice.get("message") or choice.get("delta")
            if isinstance(message, dict):
                self._text(index, message.get("content"))
                calls = as_list(message.get("tool_calls"))
                if calls and "message" in choice:
                    parts = openai_chat.output_message(message, "")["parts"]
                    self.tools[index] = [p for p in parts if p["type"] == "tool_call"]
            else:
                self._text(index, choice.get("text"))

    def apply(self, inv: Invocation) -> None:
        if self.response_id:
            inv.response_id = self.response_id
        self.usage.apply(inv)
        if not self.seen:
            return
        count = max([*self.finish, *self.texts, 0]) + 1
        inv.finish_reasons = [finish_reason(self.finish.get(i)) or "error" for i in range(count)]
        if self.capture:
            inv.output_messages = []
            for i, reason in enumerate(inv.finish_reasons):
                parts = [content.text_part("".join(self.texts[i]))] if i in self.texts else []
                parts += self.tools.get(i, [])
                inv.output_messages.append({"role": "assistant", "parts": parts, "finish_reason": reason})


# --- response --------------------------------------------------------------------------------------


def _vector_size(body: dict[str, Any]) -> int | None:
    """Titan ``embedding``; Cohere ``embeddings`` (a list of vectors, or vectors by type)."""
    vector = body.get("embedding")
    if isinstance(vector, list):
        return len(vector)
    vectors = body.get("embeddings")
    if isinstance(vectors, dict):
        vectors = next(iter(vectors.values()), None)
    if isinstance(vectors, list) and vectors and isinstance(vectors[0], list):
        return len(vectors[0])
    return None


def header_usage(headers: Any) -> Usage:
    """``x-amzn-bedrock-*-token-count``: Bedrock's own (billed) counts, for every model family."""
    if not isinstance(headers, dict):
        return Usage()
    return Usage(
        as_count(headers.get("x-amzn-bedrock-input-token-count")),
        as_count(headers.get("x-amzn-bedrock-output-token-count")),
        as_count(headers.get("x-amzn-bedrock-cache-read-input-token-count")),
        as_count(headers.get("x-amzn-bedrock-cache-write-input-token-count")),
    )


def guardrail_verdict(inv: Invocation, action: Any, trace: Any) -> Verdict:
    """``amazon-bedrock-guardrailAction`` (``INTERVENED``/``NONE``) and ``amazon-bedrock-trace``."""
    verdict = Verdict()
    if isinstance(action, str):
        verdict.intervened = action == "INTERVENED"
    guardrail = trace.get("guardrail") if isinstance(trace, dict) else None
    if guardrail is not None:
        verdict.read_trace(guardrail)
    return verdict


def read_response(inv: Invocation, body: dict[str, Any], capture: bool) -> Verdict:
    """A whole InvokeModel response body; returns the guardrail verdict it carries."""
    if inv.operation == sc.OP_EMBEDDINGS:
        inv.vector_size = _vector_size(body)
        fold = TextFold(False)
        fold._count(body.get("inputTextTokenCount"), None)
        fold.usage.apply(inv)
    elif body.get("type") == "message" or ("stop_reason" in body and "content" in body):
        anthropic.read_response(inv, body, capture)
    elif "completion" in body and "stop_reason" in body:
        anthropic.read_response(inv, body, capture)  # legacy text completion
    elif isinstance(body.get("output"), dict):  # Nova
        reason = finish_reason(body.get("stopReason")) or "error"
        inv.finish_reasons = [reason]
        converse_usage(body.get("usage")).apply(inv)
        output_message = body["output"].get("message")
        if capture and isinstance(output_message, dict):
            inv.output_messages = [converse.message(output_message, reason)]
    else:
        fold = TextFold(capture)
        fold.add(body)
        fold.apply(inv)
        inv.response_model = as_str(body.get("model"))
    return guardrail_verdict(
        inv, body.get("amazon-bedrock-guardrailAction"), body.get("amazon-bedrock-trace")
    )


# --- streams ---------------------------------------------------------------------------------------


class InvokeStreamAccumulator(StreamFold):
    """Folds ``{"chunk": {"bytes": ...}}`` events: each chunk's bytes are one JSON event of the model's own
    stream (Anthropic events, Converse-shaped Nova events, or text-family chunks), plus Bedrock's
    ``amazon-bedrock-invocationMetrics`` on the last one."""

    __slots__ = ("action", "billed", "capture", "first_byte", "fold", "latency", "trace")

    def __init__(self, capture: bool) -> None:
        self.capture = capture
        self.fold: Any = None  # chosen by the first chunk's shape
        self.billed = Usage()
        self.latency: Any = None
        self.first_byte: Any = None
        self.action: Any = None
        self.trace: Any = None

    def add(self, event: Any) -> None:
        chunk = event.get("chunk")
        if not isinstance(chunk, dict):
            return
        body = parse(chunk.get("bytes"))
        if body is None:
            return
        fold = self.fold
        if fold is None:
            capture = self.capture
            if (
                "type" in body
                and isinstance(body["type"], str)
                and body["type"].startswith(("message", "content"))
            ):
                fold = anthropic.AnthropicFold(capture)
            elif "messageStart" in body or "contentBlockDelta" in body:
                fold = converse.ConverseFold(capture)
            else:
                fold = TextFold(capture)
            self.fold = fold
        fold.add(body)
        self._add_bedrock_fields(body)

    def _add_bedrock_fields(self, body: dict[str, Any]) -> None:
        metrics = body.get("amazon-bedrock-invocationMetrics")
        if isinstance(metrics, dict):
            self.billed = invocation_metrics_usage(metrics)
            self.latency = metrics.get("invocationLatency")
            self.first_byte = metrics.get("firstByteLatency")
        action = body.get("amazon-bedrock-guardrailAction")
        if action is not None:
            self.action = action
        trace = body.get("amazon-bedrock-trace")
        if trace is not None:
            self.trace = trace

    def apply(self, inv: Invocation) -> None:
        if self.fold is not None:
            self.fold.apply(inv)
        self.billed.apply_billed(inv)
        latency, first_byte = as_count(self.latency), as_count(self.first_byte)
        if latency is not None:
            inv.attributes[sc.AWS_BEDROCK_INVOCATION_LATENCY] = latency / 1000
        if first_byte is not None:
            inv.server_time_to_first_token = first_byte / 1000
            output = inv.output_tokens
            if latency is not None and output is not None and output > 1 and latency >= first_byte:
                inv.server_time_per_output_token = (latency - first_byte) / 1000 / (output - 1)
        if inv.response_model is None:
            inv.response_model = inv.request_model
        guardrail_verdict(inv, self.action, self.trace).apply(inv)


__all__ = [
    "MAX_BODY",
    "InvokeStreamAccumulator",
    "TextFold",
    "guardrail_verdict",
    "header_usage",
    "operation_for",
    "parse",
    "read_request",
    "read_response",
]
