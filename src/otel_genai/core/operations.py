"""Spans for the work around model calls: workflows, agents, tools, tasks and retrievals.

The inference span belongs to ``Recorder``; these are the INTERNAL (retrieval: CLIENT) spans a framework
layer (LangChain) or the manual API (``@otel_genai.workflow`` ...) opens around it. Both go through here,
so a LangChain agent and a decorated function produce the same names and attributes: the semantic
conventions' ``invoke_workflow``/``invoke_agent``/``execute_tool``/``retrieval`` spans, plus the
``traceloop.*`` names Dynatrace's LangChain view reads. Scope attributes (workflow name, association
properties) are read from the parent context and handed on to everything started inside.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from .. import semconv as sc
from . import content, redaction, scope, scrub
from .recorder import Recorder, _legacy_name, error_type_of

_log = logging.getLogger("otel_genai")

WORKFLOW = "workflow"
AGENT = "agent"
TOOL = "tool"
TASK = "task"
RETRIEVAL = "retrieval"

_OPERATION = {
    WORKFLOW: sc.OP_INVOKE_WORKFLOW,
    AGENT: sc.OP_INVOKE_AGENT,
    TOOL: sc.OP_EXECUTE_TOOL,
    RETRIEVAL: sc.OP_RETRIEVAL,
}
_NAME_ATTRIBUTE = {
    WORKFLOW: sc.WORKFLOW_NAME,
    AGENT: sc.AGENT_NAME,
    TOOL: sc.TOOL_NAME,
    RETRIEVAL: sc.DATA_SOURCE_ID,
}


class Operation:
    """One open span and the context the work inside it runs in."""

    __slots__ = ("context", "kind", "name", "span")

    def __init__(self, kind: str, name: str | None, span: Span | None, context: Context) -> None:
        self.kind = kind
        self.name = name
        self.span = span
        self.context = context  # this span current, plus the scope attributes it hands on


class Operations:
    """Opens and ends non-inference spans with the recorder's tracer, settings and content policy."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.tracer = recorder.tracer
        self._semconv = recorder.settings.semconv_attributes
        self._legacy = recorder.settings.legacy_attributes
        self.content_on_span = recorder.capture.on_span  # tool arguments/results, retrieved documents
        self._limit = recorder.settings.max_content_length

    def start(
        self,
        kind: str,
        name: str | None,
        *,
        parent: Context | None = None,
        attributes: Mapping[str, Any] | None = None,
        hand_on: Mapping[str, Any] | None = None,
    ) -> Operation:
        """Open a ``kind`` span under ``parent`` (default: the current context); never raises.

        ``attributes`` go on the span at start (sampling-relevant ones belong here); ``hand_on`` are
        scope attributes for every span started inside (e.g. the conversation id).
        """
        base = parent if parent is not None else otel_context.get_current()
        try:
            a: dict[str, Any] = dict(scope.attributes(base))
            own: dict[str, Any] = dict(hand_on or {})
            operation = _OPERATION.get(kind)
            if operation is not None:
                a[sc.OPERATION_NAME] = operation
                a[_NAME_ATTRIBUTE[kind]] = name
                span_name = f"{operation} {name}" if name else operation
            else:
                span_name = name or kind
            if kind == WORKFLOW:
                a[sc.LEGACY_WORKFLOW_NAME] = own[sc.LEGACY_WORKFLOW_NAME] = name
            a[sc.LEGACY_SPAN_KIND] = TASK if kind == RETRIEVAL else kind
            a[sc.LEGACY_ENTITY_NAME] = name
            a.update(attributes or {})
            span = self.tracer.start_span(
                span_name,
                context=base,
                kind=SpanKind.CLIENT if kind == RETRIEVAL else SpanKind.INTERNAL,
                attributes=self.filter(a),
            )
            ctx = trace.set_span_in_context(span, scope.with_attributes(self.filter(own, True), base))
            return Operation(kind, name, span, ctx)
        except Exception:
            _log.debug("otel-genai: starting a %s span failed", kind, exc_info=True)
            return Operation(kind, name, None, base)

    def finish(
        self,
        op: Operation,
        *,
        attributes: Mapping[str, Any] | None = None,
        error: BaseException | None = None,
        error_type: str | None = None,
    ) -> None:
        """Set the final attributes and end the span; a second call is a no-op. Never raises."""
        span, op.span = op.span, None
        if span is None:
            return
        try:
            a = dict(attributes or {})
            if error is not None:
                a[sc.ERROR_TYPE] = error_type or error_type_of(error)
                scrub.record_exception(span, error, content=self.recorder.capture_content)
                span.set_status(Status(StatusCode.ERROR))
            if a and span.is_recording():
                span.set_attributes(self.filter(a))
        except Exception:
            _log.debug("otel-genai: finishing a %s span failed", op.kind, exc_info=True)
        finally:
            span.end()

    def filter(self, attributes: Mapping[str, Any], keep_all: bool = False) -> dict[str, Any]:
        """Drop unknown (None) values and the attribute family the settings switched off.

        ``keep_all`` keeps both families (scope attributes are filtered where they land, by the recorder).
        """
        return {
            k: v
            for k, v in attributes.items()
            if v is not None and (keep_all or (self._legacy if _legacy_name(k) else self._semconv))
        }

    def tool_arguments(self, value: Any) -> dict[str, Any]:
        """A tool call's arguments as span attributes, when content goes on spans (else nothing)."""
        if not self.content_on_span:
            return {}
        text = self.content(value)
        return {sc.TOOL_CALL_ARGUMENTS: text, sc.LEGACY_ENTITY_INPUT: text}

    def tool_result(self, value: Any) -> dict[str, Any]:
        """A tool call's result as span attributes, when content goes on spans (else nothing)."""
        if not self.content_on_span:
            return {}
        text = self.content(value)
        return {sc.TOOL_CALL_RESULT: text, sc.LEGACY_ENTITY_OUTPUT: text}

    @staticmethod
    def labels(
        conversation_id: str | None, properties: Mapping[str, Any], tags: list[str]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """(span attributes, attributes handed on to everything inside) for a framework run's labels: its
        conversation id (never invented), its properties as association properties, its tags."""
        attributes: dict[str, Any] = {}
        hand_on: dict[str, Any] = {}
        if conversation_id:
            attributes[sc.CONVERSATION_ID] = hand_on[sc.CONVERSATION_ID] = conversation_id
        for key, value in properties.items():
            attributes[f"{sc.LEGACY_ASSOCIATION_PREFIX}.{key}"] = value
        if tags:
            attributes[sc.LANGCHAIN_TAGS] = tags
        return attributes, hand_on

    def content(self, value: Any) -> str:
        """Content as the JSON text a span attribute holds, redacted and truncated to the length limit."""
        rewrite = self.recorder.redact
        if rewrite is not None:
            value = redaction.rewrite_any(value, rewrite)
        shortened = content.truncate(value, self._limit)
        return shortened if isinstance(shortened, str) else content.to_json(shortened)


__all__ = [
    "AGENT",
    "RETRIEVAL",
    "TASK",
    "TOOL",
    "WORKFLOW",
    "Operation",
    "Operations",
]
