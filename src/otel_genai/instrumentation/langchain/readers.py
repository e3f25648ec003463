"""What LangChain's callbacks tell about a model call: request parameters, messages, usage, response.

Used for every model call; when the model's client is instrumented too (ChatOpenAI -> openai), the
client layer's readings win and these only fill what it left unknown. Every field is optional.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...core import content, scrub
from ...core.invocation import Invocation, Message
from ...core.readers import as_float, as_int, as_list, as_str, get
from ...core.readers import finish_reason as finish_reason_rule
from ...dialects import anthropic
from ..openai.chat import tool_definition

# LangChain's ls_provider -> gen_ai.provider.name, where the spellings differ
_PROVIDERS = {
    "azure": "azure.ai.openai",
    "azure_openai": "azure.ai.openai",
    "amazon_bedrock": "aws.bedrock",
    "bedrock": "aws.bedrock",
    "bedrock_converse": "aws.bedrock",
    "google_genai": "gcp.gen_ai",
    "google_vertexai": "gcp.vertex_ai",
    "mistral": "mistral_ai",
    "mistralai": "mistral_ai",
    "xai": "x_ai",
    "ibm": "ibm.watsonx.ai",
    "watsonx": "ibm.watsonx.ai",
}
_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool", "function": "tool"}
_OWN_IDS = ("lc_run-", "run-")  # message ids LangChain made up, not the provider's response id


def _first(*values: int | None) -> int | None:
    """The first known count: 0 is a count, not a gap."""
    return next((v for v in values if v is not None), None)


def provider(metadata: Mapping[str, Any], serialized: Mapping[str, Any] | None) -> str:
    name = as_str(metadata.get("ls_provider"))
    if name is None:
        ids = as_list(get(serialized, "id"))
        name = str(ids[-1]).lower() if ids else "langchain"
    return _PROVIDERS.get(name, name)


def read_request(inv: Invocation, metadata: Mapping[str, Any], params: Mapping[str, Any]) -> None:
    """Model and sampling parameters from LangChain's ``ls_*`` metadata and the invocation params."""
    inv.request_model = (
        as_str(metadata.get("ls_model_name"))
        or as_str(params.get("model"))
        or as_str(params.get("model_name"))
        or as_str(params.get("model_id"))
    )
    inv.temperature = as_float(metadata.get("ls_temperature"))
    if inv.temperature is None:
        inv.temperature = as_float(params.get("temperature"))
    inv.max_tokens = _first(as_int(metadata.get("ls_max_tokens")), as_int(params.get("max_tokens")))
    inv.top_p = as_float(params.get("top_p"))
    stop = metadata.get("ls_stop") or params.get("stop")
    if isinstance(stop, str):
        inv.stop_sequences = [stop]
    elif isinstance(stop, (list, tuple)) and stop:
        inv.stop_sequences = [str(s) for s in stop]
    n = as_int(params.get("n"))
    if n is not None:
        inv.choice_count = n


def tool_definitions(params: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    tools = as_list(params.get("tools")) or as_list(params.get("functions"))
    return [tool_definition(t) if get(t, "function") is not None else _plain_tool(t) for t in tools] or None


def _plain_tool(tool: Any) -> dict[str, Any]:
    name = as_str(get(tool, "name"))
    return {"type": "function", "name": name} if name else {"type": str(get(tool, "type") or "unknown")}


# --- messages -------------------------------------------------------------------------------------


def _parts(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [content.text_part(value)] if value else []
    parts: list[dict[str, Any]] = []
    for block in as_list(value):
        if isinstance(block, str):
            parts.append(content.text_part(block))
            continue
        kind = get(block, "type")
        if kind == "text":
            text = as_str(get(block, "text"))
            if text:
                parts.append(content.text_part(text))
        elif kind in ("reasoning", "thinking"):
            text = as_str(get(block, "reasoning")) or as_str(get(block, "thinking"))
            if text:
                parts.append({"type": "reasoning", "content": text})
        elif kind == "image_url":
            url = get(block, "image_url")
            url = get(url, "url") if not isinstance(url, str) else url
            if isinstance(url, str):
                parts.append({"type": "uri", "modality": "image", "uri": scrub.url(url)})
        elif kind in _ANTHROPIC_BLOCKS and isinstance(block, dict):
            parts.extend(anthropic.parts([block]))  # Anthropic-shaped content: the shared dialect
    return parts


# Anthropic content blocks LangChain passes through as they are (tool_use is in ``tool_calls``)
_ANTHROPIC_BLOCKS = frozenset({"image", "document", "tool_result"})


def message(msg: Any, finish_reason: str | None = None) -> Message:
    """A LangChain message as a semconv message (role, parts, tool calls and tool results)."""
    kind = get(msg, "type")
    role = _ROLES.get(kind) or as_str(get(msg, "role")) or "user"
    parts: list[dict[str, Any]]
    if role == "tool":
        parts = [
            {
                "type": "tool_call_response",
                "id": as_str(get(msg, "tool_call_id")),
                "response": get(msg, "content"),
            }
        ]
    else:
        parts = _parts(get(msg, "content"))
    for call in as_list(get(msg, "tool_calls")):
        parts.append(
            content.tool_call_part(as_str(get(call, "id")), as_str(get(call, "name")), get(call, "args"))
        )
    function_call = (get(msg, "additional_kwargs") or {}).get("function_call")
    if function_call and not get(msg, "tool_calls"):
        parts.append(
            content.tool_call_part(None, get(function_call, "name"), get(function_call, "arguments"))
        )
    result: Message = {"role": role, "parts": parts}
    if finish_reason is not None:
        result["finish_reason"] = finish_reason
    return result


def input_messages(messages: Any) -> list[Message]:
    return [message(m) for m in as_list(messages)]


def prompt_messages(prompts: Any) -> list[Message]:
    return [{"role": "user", "parts": [content.text_part(p)]} for p in as_list(prompts) if isinstance(p, str)]


# --- response -------------------------------------------------------------------------------------


def finish_reason(generation: Any) -> str | None:
    info = get(generation, "generation_info") or {}
    msg = get(generation, "message")
    metadata = get(msg, "response_metadata") or {}
    raw = (
        as_str(get(info, "finish_reason"))
        or as_str(get(metadata, "finish_reason"))
        or as_str(get(metadata, "stop_reason"))
        or as_str(get(metadata, "done_reason"))
    )
    return finish_reason_rule(raw.lower()) if raw else None


def read_response(inv: Invocation, response: Any, capture: bool) -> None:
    """Fill what is still unknown from an ``LLMResult``: the client layer, if any, was more exact."""
    generations = [g for batch in as_list(get(response, "generations")) for g in as_list(batch)]
    llm_output = get(response, "llm_output") or {}
    first = generations[0] if generations else None
    msg = get(first, "message")
    metadata = get(msg, "response_metadata") or {}
    if inv.finish_reasons is None and generations:
        reasons = [finish_reason(g) for g in generations]
        if any(reasons):
            inv.finish_reasons = [r or "error" for r in reasons]
    if inv.response_model is None:
        inv.response_model = (
            as_str(get(metadata, "model_name"))
            or as_str(get(metadata, "model"))
            or as_str(get(metadata, "model_id"))
            or as_str(get(llm_output, "model_name"))
        )
    if inv.response_id is None:
        message_id = as_str(get(msg, "id"))
        inv.response_id = (
            as_str(get(metadata, "id"))
            or as_str(get(llm_output, "id"))
            or (message_id if message_id and not message_id.startswith(_OWN_IDS) else None)
        )
    if inv.input_tokens is None and inv.output_tokens is None:
        _read_usage(inv, get(msg, "usage_metadata"), llm_output)
    if capture and inv.output_messages is None and generations:
        inv.output_messages = [_output_message(g) for g in generations]


def _read_usage(inv: Invocation, usage: Any, llm_output: Any) -> None:
    if usage:
        inv.input_tokens = as_int(get(usage, "input_tokens"))
        inv.output_tokens = as_int(get(usage, "output_tokens"))
        details = get(usage, "input_token_details") or {}
        inv.cache_read_tokens = as_int(get(details, "cache_read"))
        inv.cache_write_tokens = as_int(get(details, "cache_creation"))
        inv.reasoning_tokens = as_int(get(get(usage, "output_token_details") or {}, "reasoning"))
        return
    totals = get(llm_output, "token_usage") or get(llm_output, "usage")
    if totals:
        inv.input_tokens = _first(as_int(get(totals, "prompt_tokens")), as_int(get(totals, "input_tokens")))
        inv.output_tokens = _first(
            as_int(get(totals, "completion_tokens")), as_int(get(totals, "output_tokens"))
        )


def _output_message(generation: Any) -> Message:
    reason = finish_reason(generation) or "stop"
    msg = get(generation, "message")
    if msg is not None:
        out = message(msg, reason)
        out["role"] = "assistant"
        return out
    text = as_str(get(generation, "text"))
    return {"role": "assistant", "parts": [content.text_part(text)] if text else [], "finish_reason": reason}


__all__ = [
    "finish_reason",
    "input_messages",
    "message",
    "prompt_messages",
    "provider",
    "read_request",
    "read_response",
    "tool_definitions",
]
