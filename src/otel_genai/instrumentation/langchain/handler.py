"""The callback handler: one span per real operation of a LangChain/LangGraph run, correctly parented.

LangChain reports every runnable it runs (start, end, error, with ``run_id`` and ``parent_run_id``). The
handler keeps one small record per run in flight and decides what the run is:

- a chain the user started (no parent run) -> ``invoke_workflow {name}``;
- an agent (a LangGraph prebuilt agent, marked by ``patches.py``; an ``AgentExecutor``) -> ``invoke_agent``;
- a LangGraph node -> a task span (``traceloop.span.kind=task``), except inside a prebuilt agent;
- a tool -> ``execute_tool {tool}``; a retriever -> ``retrieval {data source}``;
- a chat model / LLM -> the inference span, through the recorder, so that the client hook underneath
  (openai, botocore, ollama) joins it instead of opening a second one;
- anything else (prompt templates, parsers, lambdas, LangGraph internals) -> no span, unless verbose.

Parents come from ``parent_run_id`` (the nearest ancestor run that has a span), never from whatever
context happens to be current, so the tree is right in threads and tasks too. Making a span *current*
for the code inside a run is ``patches.py``'s job; the handler only hands it the run's context.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any
from uuid import UUID

from langchain_core.callbacks.base import BaseCallbackHandler
from opentelemetry import context as otel_context
from opentelemetry.context import Context

from ... import semconv as sc
from ...core import scope as scope_attributes
from ...core.activation import attach, detach
from ...core.invocation import Invocation
from ...core.operations import AGENT, RETRIEVAL, TASK, TOOL, WORKFLOW, Operation, Operations
from ...core.readers import as_list, as_str, get
from ...core.recorder import Recorder
from . import readers

_log = logging.getLogger("otel_genai")

_AGENT_CLASSES = frozenset({"AgentExecutor"})  # langchain(-classic)'s agent loop, recognised by class
_SKIPPED_RUN_TYPES = frozenset({"prompt", "parser"})
_HIDDEN_TAG = "langsmith:hidden"
_NODE_TAG = "graph:step:"
# tags LangChain and LangGraph add themselves: position markers, not the user's labels
_INTERNAL_TAGS = ("seq:step:", "graph:step:", "map:key:", "langsmith:", "branch:", "condition:")
_INTERNAL_METADATA = ("ls_", "langgraph_", "lc_", "checkpoint_", "__")
_INTERNAL_METADATA_KEYS = frozenset({"checkpoint_ns", "checkpoint_id", "task_id", "run_id", "graph_id"})
# LangGraph control flow (interrupts, commands to a parent graph) travels as exceptions: not errors
_CONTROL_FLOW = frozenset({"GraphBubbleUp", "GraphInterrupt", "NodeInterrupt", "ParentCommand"})


def _control_flow(error: BaseException) -> bool:
    """LangGraph's interrupts travel as exceptions but are not failures."""
    return any(c.__name__ in _CONTROL_FLOW for c in type(error).__mro__)


def _root_names_workflow(
    name: str, base: Context, attributes: dict[str, Any], hand_on: dict[str, Any]
) -> None:
    """A root run that is not a workflow (an agent graph) still names the trace's workflow, as OpenLLMetry
    does: Dynatrace's workflow views need a ``traceloop.span.kind=workflow`` span and the name on every
    span. A workflow name the caller's scope already carries (``@otel_genai.workflow``) stays."""
    if sc.LEGACY_WORKFLOW_NAME in scope_attributes.attributes(base):
        return
    attributes[sc.LEGACY_WORKFLOW_NAME] = hand_on[sc.LEGACY_WORKFLOW_NAME] = name
    attributes[sc.LEGACY_SPAN_KIND] = WORKFLOW


class Scope:
    """Set by an entry point ``patches.py`` wraps (a model's ``stream``, a tool's ``run``, an agent
    graph's ``stream``): the first run of ``kind`` that starts inside claims it, and its span becomes
    current for the rest of the entry point's frame. The entry point restores the context on exit."""

    __slots__ = ("claimed", "kind", "payload")

    def __init__(self, kind: str, payload: Any = None) -> None:
        self.kind = kind
        self.payload = payload
        self.claimed = False


SCOPE: ContextVar[Scope | None] = ContextVar("otel_genai_langchain_scope", default=None)


def _claim(kind: str) -> Scope | None:
    scope = SCOPE.get()
    if scope is not None and scope.kind == kind and not scope.claimed:
        scope.claimed = True
        return scope
    return None


class _Run:
    """One run in flight: its span (operation or inference, or none) and the context its work runs in."""

    __slots__ = ("context", "in_agent", "inv", "op")

    def __init__(
        self,
        context: Context | None,
        op: Operation | None = None,
        inv: Invocation | None = None,
        in_agent: bool = False,
    ) -> None:
        self.context = context  # None: a root run without a span leaves the caller's context alone
        self.op = op
        self.inv = inv
        self.in_agent = in_agent  # the nearest span above is a prebuilt agent: its nodes get no spans


class Options:
    """The LangChain instrumentation's own settings (docs/configuration.md)."""

    __slots__ = ("conversation_id_keys", "verbose")

    def __init__(self, verbose: bool = False, conversation_id_keys: tuple[str, ...] = ()) -> None:
        self.verbose = verbose
        self.conversation_id_keys = conversation_id_keys


class OTelCallbackHandler(BaseCallbackHandler):
    """Registered for every run through langchain-core's configure hook; never raises."""

    run_inline = True  # called in the caller's task, in order: the parent context is the caller's
    raise_error = False

    def __init__(self, recorder: Recorder, options: Options) -> None:
        super().__init__()
        self.recorder = recorder
        self.ops = Operations(recorder)
        self.options = options
        self.active = True
        self._runs: dict[UUID, _Run] = {}
        self._lock = threading.Lock()

    # --- lookups used by patches.py -------------------------------------------------------------

    def context_for(self, run_id: Any) -> Context | None:
        """The context the work inside ``run_id`` runs in (its span, or its nearest ancestor's)."""
        if not self.active or run_id is None:
            return None
        run = self._runs.get(run_id)
        return run.context if run is not None else None

    # --- shared helpers -------------------------------------------------------------------------

    def _parent(self, parent_run_id: UUID | None) -> _Run | None:
        return self._runs.get(parent_run_id) if parent_run_id is not None else None

    def _base(self, parent: _Run | None) -> Context:
        if parent is not None and parent.context is not None:
            return parent.context
        return otel_context.get_current()

    def _add(self, run_id: UUID, run: _Run, claim: str | None = None) -> None:
        with self._lock:
            self._runs[run_id] = run
        if claim is not None and run.context is not None and _claim(claim) is not None:
            attach(run.context)  # the entry point's scope restores the context when it returns

    def _pop(self, run_id: UUID) -> _Run | None:
        with self._lock:
            return self._runs.pop(run_id, None)

    def _labels(
        self, tags: list[str] | None, metadata: Mapping[str, Any] | None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """What LangChain's tags and metadata say (the user's own, not LangChain's internal keys); the
        core names the attributes (``Operations.labels``)."""
        conversation_id = None
        properties: dict[str, Any] = {}
        if metadata:
            for key in self.options.conversation_id_keys:
                value = metadata.get(key)
                if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
                    conversation_id = str(value)
                    break
            properties = {
                key: value
                for key, value in metadata.items()
                if isinstance(value, (str, int, float, bool))
                and not key.startswith(_INTERNAL_METADATA)
                and key not in _INTERNAL_METADATA_KEYS
            }
        user_tags = [t for t in tags or () if isinstance(t, str) and not t.startswith(_INTERNAL_TAGS)]
        return self.ops.labels(conversation_id, properties, user_tags)

    # --- chains, agents, graph nodes ------------------------------------------------------------

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not self.active:
            return
        try:
            parent = self._parent(parent_run_id)
            name = as_str(kwargs.get("name")) or _class_name(serialized) or "chain"
            agent_scope = _claim(AGENT)
            kind = self._chain_kind(name, serialized, parent, tags or [], kwargs.get("run_type"), agent_scope)
            if kind is None:
                inherited = parent.context if parent is not None else None
                self._add(run_id, _Run(inherited, in_agent=parent.in_agent if parent else False))
                return
            attributes, hand_on = self._labels(tags, metadata)
            op_name: str | None = name
            if kind == AGENT and name == "LangGraph":  # LangGraph's default name says nothing
                op_name = None
                attributes[sc.LEGACY_ENTITY_NAME] = name
            if parent is None and kind != WORKFLOW:
                _root_names_workflow(name, self._base(parent), attributes, hand_on)
            op = self.ops.start(
                kind, op_name, parent=self._base(parent), attributes=attributes, hand_on=hand_on
            )
            self._add(run_id, _Run(op.context, op=op, in_agent=kind == AGENT))
            if agent_scope is not None and op.context is not None:
                attach(op.context)  # the agent graph's stream() scope restores the context
        except Exception:
            _log.debug("otel-genai: langchain on_chain_start failed", exc_info=True)

    def _chain_kind(
        self,
        name: str,
        serialized: dict[str, Any] | None,
        parent: _Run | None,
        tags: list[str],
        run_type: Any,
        agent_scope: Scope | None,
    ) -> str | None:
        if agent_scope is not None or _class_name(serialized) in _AGENT_CLASSES:
            return AGENT
        if _HIDDEN_TAG in tags:
            return None
        if parent is None:
            return (
                WORKFLOW if run_type not in _SKIPPED_RUN_TYPES else (TASK if self.options.verbose else None)
            )
        if self.options.verbose:
            return TASK
        if not parent.in_agent and any(t.startswith(_NODE_TAG) for t in tags):
            return TASK  # a LangGraph node: a step the user wrote
        return None

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        run = self._pop(run_id)
        if run is not None and run.op is not None:
            self.ops.finish(run.op)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        run = self._pop(run_id)
        if run is not None and run.op is not None:
            ended = _control_flow(error) or isinstance(error, GeneratorExit)
            self.ops.finish(run.op, error=None if ended else error)

    # --- tools ----------------------------------------------------------------------------------

    def on_tool_start(
        self,
        serialized: dict[str, Any] | None,
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not self.active:
            return
        try:
            parent = self._parent(parent_run_id)
            name = as_str(get(serialized, "name")) or as_str(kwargs.get("name")) or "tool"
            attributes, hand_on = self._labels(tags, metadata)
            attributes[sc.TOOL_TYPE] = "function"
            attributes[sc.TOOL_CALL_ID] = as_str(kwargs.get("tool_call_id"))
            attributes[sc.TOOL_DESCRIPTION] = as_str(get(serialized, "description"))
            attributes.update(self.ops.tool_arguments(inputs if inputs is not None else input_str))
            op = self.ops.start(TOOL, name, parent=self._base(parent), attributes=attributes, hand_on=hand_on)
            self._add(run_id, _Run(op.context, op=op), claim=TOOL)
        except Exception:
            _log.debug("otel-genai: langchain on_tool_start failed", exc_info=True)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        run = self._pop(run_id)
        if run is None or run.op is None:
            return
        attributes: dict[str, Any] = {}
        if self.ops.content_on_span:
            try:
                result = get(output, "content") if hasattr(output, "tool_call_id") else output
                attributes = self.ops.tool_result(
                    result if isinstance(result, (str, int, float, bool, list, dict)) else str(result)
                )
            except Exception:
                _log.debug("otel-genai: reading a tool result failed", exc_info=True)
        self.ops.finish(run.op, attributes=attributes)

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        run = self._pop(run_id)
        if run is not None and run.op is not None:
            self.ops.finish(run.op, error=None if _control_flow(error) else error)

    # --- retrievers -----------------------------------------------------------------------------

    def on_retriever_start(
        self,
        serialized: dict[str, Any] | None,
        query: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not self.active:
            return
        try:
            parent = self._parent(parent_run_id)
            meta = metadata or {}
            source = (
                as_str(meta.get("ls_vector_store_provider"))
                or as_str(kwargs.get("name"))
                or _class_name(serialized)
                or as_str(meta.get("ls_retriever_name"))
            )
            attributes, hand_on = self._labels(tags, metadata)
            scope = SCOPE.get()
            if scope is not None and scope.kind == RETRIEVAL and not scope.claimed:
                attributes[sc.RETRIEVAL_TOP_K] = scope.payload
            if self.ops.content_on_span and isinstance(query, str):
                attributes[sc.RETRIEVAL_QUERY_TEXT] = self.ops.content(query)
            op = self.ops.start(
                RETRIEVAL, source, parent=self._base(parent), attributes=attributes, hand_on=hand_on
            )
            self._add(run_id, _Run(op.context, op=op), claim=RETRIEVAL)
        except Exception:
            _log.debug("otel-genai: langchain on_retriever_start failed", exc_info=True)

    def on_retriever_end(self, documents: Any, *, run_id: UUID, **kwargs: Any) -> None:
        run = self._pop(run_id)
        if run is None or run.op is None:
            return
        attributes: dict[str, Any] = {}
        try:
            found = []
            for doc in as_list(documents):
                entry: dict[str, Any] = {}
                doc_id = get(doc, "id")
                if doc_id is not None:
                    entry["id"] = str(doc_id)
                score = (get(doc, "metadata") or {}).get("score")
                if isinstance(score, (int, float)) and not isinstance(score, bool):
                    entry["score"] = score
                if self.ops.content_on_span and isinstance(get(doc, "page_content"), str):
                    entry["content"] = get(doc, "page_content")
                found.append(entry)
            if any(found):
                attributes[sc.RETRIEVAL_DOCUMENTS] = self.ops.content(found)
        except Exception:
            _log.debug("otel-genai: reading retrieved documents failed", exc_info=True)
        self.ops.finish(run.op, attributes=attributes)

    def on_retriever_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        run = self._pop(run_id)
        if run is not None and run.op is not None:
            self.ops.finish(run.op, error=error)

    # --- models: the inference span -------------------------------------------------------------

    def on_chat_model_start(
        self,
        serialized: dict[str, Any] | None,
        messages: list[list[Any]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self._model_start(sc.OP_CHAT, serialized, messages, run_id, parent_run_id, tags, metadata, kwargs)

    def on_llm_start(
        self,
        serialized: dict[str, Any] | None,
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self._model_start(
            sc.OP_TEXT_COMPLETION, serialized, prompts, run_id, parent_run_id, tags, metadata, kwargs
        )

    def _model_start(
        self,
        operation: str,
        serialized: dict[str, Any] | None,
        request: Any,
        run_id: UUID,
        parent_run_id: UUID | None,
        tags: list[str] | None,
        metadata: dict[str, Any] | None,
        kwargs: dict[str, Any],
    ) -> None:
        if not self.active:
            return
        try:
            meta = metadata or {}
            params = kwargs.get("invocation_params") or {}
            inv = Invocation(operation, readers.provider(meta, serialized))
            readers.read_request(inv, meta, params)
            attributes, _ = self._labels(tags, metadata)
            attributes[sc.LEGACY_ENTITY_NAME] = as_str(kwargs.get("name")) or _class_name(serialized)
            inv.attributes.update({k: v for k, v in attributes.items() if v is not None})
            if self.recorder.capture_content:
                batch = as_list(request)
                first = batch[0] if batch else None
                if operation == sc.OP_CHAT:
                    inv.input_messages = readers.input_messages(first)
                else:
                    inv.input_messages = readers.prompt_messages([first])
                inv.tool_definitions = readers.tool_definitions(params)
            parent = self._parent(parent_run_id)
            token = attach(self._base(parent))
            try:
                self.recorder.start(inv)  # joins an inference already open, if any
                ctx = otel_context.get_current()  # the parent plus this inference, for the client hook
                self.recorder.deactivate(inv)
            finally:
                detach(token)
            self._add(run_id, _Run(ctx, inv=inv), claim="model")
        except Exception:
            _log.debug("otel-genai: langchain model start failed", exc_info=True)

    def on_llm_new_token(self, token: Any, *, run_id: UUID, **kwargs: Any) -> None:
        run = self._runs.get(run_id)
        inv = run.inv if run is not None else None
        if inv is not None:
            self.recorder.chunk(inv)  # chunk timing is the recorder's

    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        run = self._pop(run_id)
        if run is None or run.inv is None:
            return
        inv = run.inv
        try:
            readers.read_response(inv, response, self.recorder.capture_content)
        except Exception:
            _log.debug("otel-genai: reading a langchain model response failed", exc_info=True)
        self.recorder.finish(inv)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        run = self._pop(run_id)
        if run is None or run.inv is None:
            return
        if isinstance(error, GeneratorExit):  # the caller stopped reading a stream: not a failure
            self.recorder.finish(run.inv)
        else:
            self.recorder.fail(run.inv, error)


def _class_name(serialized: Any) -> str | None:
    ids = as_list(get(serialized, "id"))
    return str(ids[-1]) if ids else as_str(get(serialized, "name"))


__all__ = [
    "SCOPE",
    "OTelCallbackHandler",
    "Options",
    "Scope",
]
