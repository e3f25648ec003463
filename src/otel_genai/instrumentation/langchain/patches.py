"""Where the handler's spans become *current*: the few langchain-core/LangGraph entry points we wrap.

Attaching a context in ``on_chain_start`` and detaching it in ``on_chain_end`` is unsafe: for streams
the two callbacks run in different contexts (the caller's loop, a generator step, the garbage
collector), detach fails, and the span leaks into later work. Instead every attach here is undone in
the frame that made it, or made in a context copy nobody else uses:

- ``_set_config_context`` (langchain-core and LangGraph): runs inside the private ``copy_context()``
  LangChain makes for each child runnable, chain step, tool body and graph node; we set the parent
  run's context there and never detach, because that copy is dropped afterwards.
- ``_generate_with_cache`` / ``_agenerate_with_cache`` (chat models), ``_generate_helper`` /
  ``_agenerate_helper`` (LLMs): the model's own call to its client, by ``run_manager.run_id``, so the
  client hook finds the open inference (one span, one set of metrics).
- ``stream``/``astream`` of models and LangGraph agents, ``run``/``arun`` of tools, ``invoke``/``ainvoke``
  of retrievers: a *scope* (handler.Scope) that the run started inside claims; each step or call
  restores the caller's context when it returns (core/activation.py).
"""

from __future__ import annotations

import inspect
import logging
import weakref
from collections.abc import Callable
from contextvars import Token
from typing import Any, cast

from opentelemetry import context as otel_context

from ...core.activation import attach, detach, wrap_async_generator, wrap_generator
from .handler import SCOPE, OTelCallbackHandler, Scope

_log = logging.getLogger("otel_genai")
Wrapper = Callable[[Any, Any, tuple[Any, ...], dict[str, Any]], Any]

# Graphs built by a prebuilt-agent factory; their runs are agents, not workflows.
AGENT_GRAPHS: weakref.WeakSet[Any] = weakref.WeakSet()


class ScopeStep:
    """Enter: the scope and the context this generator (or call) last left; exit: the caller's again."""

    __slots__ = ("ctx", "scope")

    def __init__(self, kind: str, payload: Any = None) -> None:
        self.scope = Scope(kind, payload)
        self.ctx: otel_context.Context | None = None

    def enter(self) -> object:
        token = attach(self.ctx if self.ctx is not None else otel_context.get_current())
        return token, SCOPE.set(self.scope)

    def exit(self, token: object) -> None:
        context_token, scope_token = cast("tuple[object, Token[Scope | None]]", token)
        self.ctx = otel_context.get_current()
        SCOPE.reset(scope_token)
        detach(context_token)


def set_config_context(handler: OTelCallbackHandler) -> Wrapper:
    """``_set_config_context(config, ...)``: runs in LangChain's per-child context copy."""

    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        result = wrapped(*args, **kwargs)
        try:
            config = args[0] if args else kwargs.get("config")
            callbacks = config.get("callbacks") if isinstance(config, dict) else None
            ctx = handler.context_for(getattr(callbacks, "parent_run_id", None))
            if ctx is not None:
                attach(ctx)  # the copy is discarded after the child runs: nothing to detach
        except Exception:
            _log.debug("otel-genai: langchain context propagation failed", exc_info=True)
        return result

    return wrapper


def _run_id(manager: Any) -> Any:
    if isinstance(manager, list):  # LLM helpers take one manager per prompt
        manager = manager[0] if manager else None
    return getattr(manager, "run_id", None)


def by_run_manager(handler: OTelCallbackHandler, position: int, name: str, is_async: bool) -> Wrapper:
    """A model's call to its client, inside its run's context (sync or async, as the method is)."""

    def context_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        manager = kwargs.get(name, args[position] if len(args) > position else None)
        return handler.context_for(_run_id(manager))

    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        ctx = context_of(args, kwargs)
        if ctx is None:
            return wrapped(*args, **kwargs)
        token = attach(ctx)
        try:
            return wrapped(*args, **kwargs)
        finally:
            detach(token)

    async def async_wrapper(
        wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        ctx = context_of(args, kwargs)
        if ctx is None:
            return await wrapped(*args, **kwargs)
        token = attach(ctx)
        try:
            return await wrapped(*args, **kwargs)
        finally:
            detach(token)

    return async_wrapper if is_async else wrapper


def scoped_stream(
    handler: OTelCallbackHandler, kind: str, only: Callable[[Any], bool] | None = None
) -> Wrapper:
    """A generator entry point (``stream``/``astream``): every step runs in the scope's context."""

    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        result = wrapped(*args, **kwargs)
        if not handler.active or (only is not None and not only(instance)):
            return result
        if inspect.isgenerator(result):
            return wrap_generator(result, ScopeStep(kind))
        if inspect.isasyncgen(result):
            return wrap_async_generator(result, ScopeStep(kind))
        return result

    return wrapper


def scoped_call(
    handler: OTelCallbackHandler, kind: str, is_async: bool, payload: Callable[[Any], Any] | None = None
) -> Wrapper:
    """A call entry point (``run``, ``invoke``): the run it starts is current until it returns."""

    def step_for(instance: Any) -> ScopeStep:
        value = None
        if payload is not None:
            try:
                value = payload(instance)
            except Exception:
                _log.debug("otel-genai: reading %s parameters failed", kind, exc_info=True)
        return ScopeStep(kind, value)

    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if not handler.active:
            return wrapped(*args, **kwargs)
        step = step_for(instance)
        token = step.enter()
        try:
            return wrapped(*args, **kwargs)
        finally:
            step.exit(token)

    async def async_wrapper(
        wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not handler.active:
            return await wrapped(*args, **kwargs)
        step = step_for(instance)
        token = step.enter()
        try:
            return await wrapped(*args, **kwargs)
        finally:
            step.exit(token)

    return async_wrapper if is_async else wrapper


def retriever_top_k(retriever: Any) -> int | None:
    """The number of documents a retriever was asked for, where it says (``search_kwargs["k"]``, ``k``)."""
    search = getattr(retriever, "search_kwargs", None)
    k = search.get("k") if isinstance(search, dict) else None
    if k is None:
        k = getattr(retriever, "k", None)
    return k if isinstance(k, int) and not isinstance(k, bool) else None


def mark_agent(handler: OTelCallbackHandler) -> Wrapper:
    """A prebuilt-agent factory: remember the graph it returns, so its runs become agent spans."""

    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        graph = wrapped(*args, **kwargs)
        try:
            AGENT_GRAPHS.add(graph)
        except TypeError:
            _log.debug("otel-genai: cannot mark %r as an agent", type(graph))
        return graph

    return wrapper


def is_agent_graph(graph: Any) -> bool:
    """A LangGraph graph whose runs are agents: built by a prebuilt-agent factory (seen when it was
    imported after ``init()``, or marked by ``create_agent``'s own metadata), or any graph that runs
    tools through a ``ToolNode`` (the ReAct loop, prebuilt or hand-built). Decided once per graph."""
    try:
        known = _AGENT_DECISIONS.get(graph)
        if known is None:
            known = _AGENT_DECISIONS[graph] = graph in AGENT_GRAPHS or _looks_like_agent(graph)
        return known
    except TypeError:  # not weak-referenceable or not hashable: decide every time
        return _looks_like_agent(graph)


_AGENT_DECISIONS: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


def _looks_like_agent(graph: Any) -> bool:
    try:
        metadata = (getattr(graph, "config", None) or {}).get("metadata") or {}
        if metadata.get("ls_integration") == "langchain_create_agent":
            return True
        nodes = getattr(graph, "nodes", None) or {}
        return any(
            any(cls.__name__ == "ToolNode" for cls in type(getattr(node, "bound", None)).__mro__)
            for node in nodes.values()
        )
    except Exception:
        return False


def session_metadata(handler: OTelCallbackHandler) -> Wrapper:
    """``RunnableWithMessageHistory._merge_configs``: its session keys become run metadata (for the
    conversation id), as LangGraph already does with ``thread_id``."""

    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        config = wrapped(*args, **kwargs)
        if not handler.active:
            return config
        try:
            configurable = config.get("configurable") or {}
            metadata = config.get("metadata")
            if metadata is None:
                metadata = config["metadata"] = {}
            for spec in instance.history_factory_config:
                value = configurable.get(spec.id)
                if isinstance(value, (str, int)) and not isinstance(value, bool) and spec.id not in metadata:
                    metadata[spec.id] = value
        except Exception:
            _log.debug("otel-genai: reading the message-history session failed", exc_info=True)
        return config

    return wrapper


__all__ = [
    "AGENT_GRAPHS",
    "ScopeStep",
    "Wrapper",
    "by_run_manager",
    "is_agent_graph",
    "mark_agent",
    "retriever_top_k",
    "scoped_call",
    "scoped_stream",
    "session_metadata",
    "set_config_context",
]
