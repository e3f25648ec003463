"""Message content: semconv parts, truncation that keeps JSON valid, and the legacy indexed attributes.

Provider modules build messages as plain dicts in the semconv shape (semconv.md section 4) and only when
capture is on; this module never decides *whether* to capture, only how content is written.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from .invocation import Message

_TRUNCATED = "…[truncated]"


def text_part(content: str) -> dict[str, Any]:
    return {"type": "text", "content": content}


def tool_call_part(call_id: str | None, name: str | None, arguments: Any) -> dict[str, Any]:
    return {"type": "tool_call", "id": call_id, "name": name, "arguments": parse_json_maybe(arguments)}


def parse_json_maybe(value: Any) -> Any:
    """Tool arguments arrive as JSON text; semconv prefers the object, but broken JSON is kept as text."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


# Message and part fields that belong to the schema, not to the content: kept whole, so that truncated
# messages still validate (part ``type`` is the discriminator) and tool calls still match their responses.
_SCHEMA_KEYS = frozenset({"role", "type", "id", "name", "finish_reason", "modality", "mime_type"})


def truncate(value: Any, limit: int, *, _schema: bool = True) -> Any:
    """Shorten every content string in ``value`` to ``limit`` characters (0 = no limit), leaving the structure
    intact. In messages and parts (the top level and under ``parts``) the schema fields are not content."""
    if limit <= 0:
        return value
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + _TRUNCATED
    if isinstance(value, dict):
        if not _schema:
            return {k: truncate(v, limit, _schema=False) for k, v in value.items()}
        return {
            k: v if k in _SCHEMA_KEYS and isinstance(v, str) else truncate(v, limit, _schema=k == "parts")
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [truncate(v, limit, _schema=_schema) for v in value]
    return value


def _default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    return str(value)


def to_json(value: Any) -> str:
    """Compact JSON as the Python reference util writes it; bytes become base64."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_default)


def _text_of(message: Message) -> str | None:
    texts = [p.get("content") for p in message.get("parts", ()) if p.get("type") in ("text", "reasoning")]
    texts = [t for t in texts if isinstance(t, str)]
    return "".join(texts) if texts else None


def legacy_attributes(prefix: str, messages: list[Message], limit: int) -> dict[str, Any]:
    """OpenLLMetry 0.4 ``gen_ai.prompt.N.*`` / ``gen_ai.completion.N.*`` attributes from semconv messages."""
    attributes: dict[str, Any] = {}
    for index, message in enumerate(messages):
        key = f"{prefix}.{index}"
        attributes[f"{key}.role"] = message.get("role", "")
        text = _text_of(message)
        if text is not None:
            attributes[f"{key}.content"] = truncate(text, limit)
        if message.get("finish_reason"):
            attributes[f"{key}.finish_reason"] = message["finish_reason"]
        calls = [p for p in message.get("parts", ()) if p.get("type") == "tool_call"]
        for j, call in enumerate(calls):
            if call.get("id"):
                attributes[f"{key}.tool_calls.{j}.id"] = call["id"]
            attributes[f"{key}.tool_calls.{j}.name"] = call.get("name") or ""
            arguments = call.get("arguments")
            if arguments is not None:
                text_args = arguments if isinstance(arguments, str) else to_json(arguments)
                attributes[f"{key}.tool_calls.{j}.arguments"] = truncate(text_args, limit)
        responses = [p for p in message.get("parts", ()) if p.get("type") == "tool_call_response"]
        if responses and responses[0].get("id"):
            attributes[f"{key}.tool_call_id"] = responses[0]["id"]
        if responses and text is None:
            response = responses[0].get("response")
            attributes[f"{key}.content"] = truncate(
                response if isinstance(response, str) else to_json(response), limit
            )
    return attributes


__all__ = [
    "legacy_attributes",
    "parse_json_maybe",
    "text_part",
    "to_json",
    "tool_call_part",
    "truncate",
]
