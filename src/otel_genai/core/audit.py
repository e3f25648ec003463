"""The audit record of one model call: who asked which model what (as digests), what it cost, what the
guardrails did. One OTLP log record per call (``event.name`` and ``event.type`` ``gen_ai.auditing``) so a
backend can route and keep it apart from debug telemetry; emitted whatever the span's sampling decision.

The SHA-256 digests of the input and output let an auditor prove later which prompt produced which answer
without the telemetry holding the text (the text itself is added only when content capture is on).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .. import semconv as sc
from .invocation import Invocation, Message

# Span attributes the record repeats (identity, usage, cost, guardrail outcome, error); never content.
FIELDS = (
    sc.REQUEST_MODEL,
    sc.RESPONSE_MODEL,
    sc.RESPONSE_ID,
    sc.RESPONSE_FINISH_REASONS,
    sc.USAGE_INPUT_TOKENS,
    sc.USAGE_OUTPUT_TOKENS,
    sc.USAGE_CACHE_READ_INPUT_TOKENS,
    sc.USAGE_CACHE_CREATION_INPUT_TOKENS,
    sc.USAGE_REASONING_OUTPUT_TOKENS,
    sc.USAGE_COST,
    sc.USAGE_CACHE_SAVINGS,
    sc.GUARDRAIL_CONFIGURED,
    sc.GUARDRAIL_INTERVENED,
    sc.GUARDRAIL_ACTIVATIONS,
    sc.GUARDRAIL_BLOCKED,
    sc.ERROR_TYPE,
    sc.SERVER_ADDRESS,
    sc.USER_ID,
    sc.CONVERSATION_ID,
    sc.WORKFLOW_NAME,
    sc.AGENT_NAME,
)
_ASSOCIATION = sc.LEGACY_ASSOCIATION_PREFIX + "."


def digest(system: list[dict[str, Any]] | None, messages: list[Message] | None) -> str | None:
    """Hex SHA-256 of the messages as canonical JSON (sorted keys, no whitespace), or None if none."""
    if not system and not messages:
        return None
    payload: Any = messages or []
    if system:
        payload = {"system_instructions": system, "messages": payload}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record(
    inv: Invocation,
    attributes: dict[str, Any],
    span: Any,
    digests: tuple[str | None, str | None] | None,
    service_name: str | None,
) -> dict[str, Any]:
    """The record's attributes (trace and span ids travel in the log record itself)."""
    out: dict[str, Any] = {
        sc.EVENT_TYPE: sc.EVENT_AUDIT,
        sc.OPERATION_NAME: inv.operation,
        sc.PROVIDER_NAME: inv.provider,
    }
    if service_name:
        out[sc.SERVICE_NAME] = service_name
    if inv.request_model:
        out[sc.REQUEST_MODEL] = inv.request_model
    if inv.server_address:
        out[sc.SERVER_ADDRESS] = inv.server_address
    for name in FIELDS:
        value = attributes.get(name, inv.attributes.get(name))
        if value is not None and name not in out:
            out[name] = value
    for name, value in inv.attributes.items():
        if name.startswith(_ASSOCIATION) and value is not None:
            out[name] = value
    context = span.get_span_context()
    if context.is_valid:
        out[sc.TRACE_ID] = format(context.trace_id, "032x")
        out[sc.SPAN_ID] = format(context.span_id, "016x")
    if digests is not None:
        if digests[0]:
            out[sc.AUDIT_INPUT_DIGEST] = digests[0]
        if digests[1]:
            out[sc.AUDIT_OUTPUT_DIGEST] = digests[1]
    return out


__all__ = [
    "FIELDS",
    "digest",
    "record",
]
