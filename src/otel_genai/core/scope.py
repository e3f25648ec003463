"""Attributes a context scope stamps on every GenAI span started inside it.

A workflow's name (``traceloop.workflow.name``), association properties (user and session ids, custom
key/values) and a conversation id belong on every span of the work they describe, including inference
spans that a client hook opens deep inside. They travel in the OpenTelemetry context, so they follow the
work into threads and tasks and vanish when the scope's context is left; they never reach metrics.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.context import Context

_KEY = otel_context.create_key("otel_genai.scope_attributes")


def attributes(ctx: Context | None = None) -> Mapping[str, Any]:
    """The attributes the current (or given) context asks every GenAI span to carry."""
    value = otel_context.get_value(_KEY, ctx)
    return value if isinstance(value, dict) else {}


def with_attributes(extra: Mapping[str, Any], ctx: Context | None = None) -> Context:
    """``ctx`` (default: the current context) plus ``extra``; the innermost scope wins a shared key."""
    if not extra:
        return ctx if ctx is not None else otel_context.get_current()
    return otel_context.set_value(_KEY, {**attributes(ctx), **extra}, ctx)


__all__ = [
    "attributes",
    "with_attributes",
]
