"""The manual API: workflow, agent, tool and task spans for code that uses no framework.

``@otel_genai.workflow``, ``@otel_genai.agent``, ``@otel_genai.tool`` and ``@otel_genai.task`` decorate
functions, coroutine functions and (async) generators, with or without a name; each also works as a
context manager (``with otel_genai.workflow("nightly"):``). They produce the same spans as the LangChain
instrumentation (core/operations.py), and every inference span started inside is parented to them and
carries the workflow name. ``association_properties(user_id=..., session_id=..., **custom)`` labels every
span started in its ``with`` block; the labels leave with the block and never reach metrics.

The spans use the configuration ``otel_genai.init()`` installed (``ManualInstrumentor``, registered as
``manual``); without ``init()`` they use the global OpenTelemetry providers (``opentelemetry-instrument``).
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar, overload

from opentelemetry import context as otel_context
from opentelemetry.trace import Span

from . import semconv as sc
from .core import scope
from .core.activation import attach, detach, wrap_async_generator, wrap_generator
from .core.operations import AGENT, TASK, TOOL, WORKFLOW, Operation, Operations
from .instrumentation._base import GenAIInstrumentor

_log = logging.getLogger("otel_genai")
F = TypeVar("F", bound=Callable[..., Any])

_installed: Operations | None = None  # set by ManualInstrumentor (init())
_fallback: Operations | None = None
_lock = threading.Lock()


def _operations() -> Operations | None:
    """The configuration init() installed, else one on the global providers (built once)."""
    global _fallback
    if _installed is not None:
        return _installed
    if _fallback is None:
        with _lock:
            if _fallback is None:
                try:
                    from .config import Settings
                    from .core.recorder import Recorder

                    _fallback = Operations(Recorder(Settings.resolve()))
                except Exception:
                    _log.debug("otel-genai: manual API set-up failed", exc_info=True)
                    return None
    return _fallback


class ManualInstrumentor(GenAIInstrumentor):
    """Installs init()'s configuration for the manual API; ``uninstrument()`` removes it again."""

    name = "manual"
    module = "otel_genai.manual"

    def instrumentation_dependencies(self) -> Collection[str]:
        return ()

    def _patch(self, recorder: Any) -> None:
        global _installed
        _installed = Operations(recorder)

    def _uninstrument(self, **kwargs: Any) -> None:
        global _installed
        super()._uninstrument(**kwargs)
        _installed = None


class _OpStep:
    """A generator's span: opened at its first step, current only while a step runs."""

    __slots__ = ("args", "op", "scope")

    def __init__(self, owner: OperationScope, args: dict[str, Any] | None) -> None:
        self.scope = owner
        self.args = args
        self.op: Operation | None = None

    def enter(self) -> object:
        if self.op is None:
            self.op = self.scope._start(self.args)
        return attach(self.op.context)

    def exit(self, token: object) -> None:
        detach(token)

    def done(self, error: BaseException | None) -> None:
        if self.op is not None:
            self.scope._finish(self.op, None, None if isinstance(error, GeneratorExit) else error)


class OperationScope:
    """A workflow/agent/tool/task span as a decorator and as a (sync or async) context manager."""

    def __init__(self, kind: str, name: str | None, attributes: Mapping[str, Any] | None = None) -> None:
        self.kind = kind
        self.name = name
        self.attributes = dict(attributes or {})
        self._open: list[tuple[Operation, object]] = []  # with-blocks entered on this object

    # --- span lifecycle -------------------------------------------------------------------------

    def _start(self, args: dict[str, Any] | None = None) -> Operation:
        ops = _operations()
        if ops is None:
            return Operation(self.kind, self.name, None, otel_context.get_current())
        attributes = dict(self.attributes)
        if self.kind == TOOL and args is not None:
            attributes.update(ops.tool_arguments(args))
        return ops.start(self.kind, self.name, attributes=attributes)

    def _finish(
        self, op: Operation, result: Any, error: BaseException | None, returned: bool = False
    ) -> None:
        ops = _operations()
        if ops is None or op.span is None:
            return
        attributes: dict[str, Any] = {}
        if self.kind == TOOL and returned and error is None and ops.content_on_span:
            try:
                attributes = ops.tool_result(result)
            except Exception:
                _log.debug("otel-genai: reading a tool result failed", exc_info=True)
        ops.finish(op, attributes=attributes, error=error)

    # --- context manager ------------------------------------------------------------------------

    def __enter__(self) -> Span | None:
        op = self._start()
        self._open.append((op, attach(op.context)))
        return op.span

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        op, token = self._open.pop()
        detach(token)
        self._finish(op, None, exc)

    async def __aenter__(self) -> Span | None:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.__exit__(exc_type, exc, tb)

    # --- decorator ------------------------------------------------------------------------------

    def __call__(self, fn: F) -> F:
        if self.name is None:  # named after the function; this object may decorate several
            return OperationScope(self.kind, getattr(fn, "__name__", None) or self.kind, self.attributes)(fn)
        bind = _binder(fn) if self.kind == TOOL else None

        if inspect.isasyncgenfunction(fn):

            @functools.wraps(fn)
            def async_gen_wrapper(*args: Any, **kwargs: Any) -> Any:
                step = _OpStep(self, bind(args, kwargs) if bind else None)
                return wrap_async_generator(fn(*args, **kwargs), step, step.done)

            return async_gen_wrapper  # type: ignore[return-value]

        if inspect.isgeneratorfunction(fn):

            @functools.wraps(fn)
            def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
                step = _OpStep(self, bind(args, kwargs) if bind else None)
                return wrap_generator(fn(*args, **kwargs), step, step.done)

            return gen_wrapper  # type: ignore[return-value]

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                op = self._start(bind(args, kwargs) if bind else None)
                token = attach(op.context)
                try:
                    result = await fn(*args, **kwargs)
                except BaseException as exc:
                    detach(token)
                    self._finish(op, None, exc)
                    raise
                detach(token)
                self._finish(op, result, None, returned=True)
                return result

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            op = self._start(bind(args, kwargs) if bind else None)
            token = attach(op.context)
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                detach(token)
                self._finish(op, None, exc)
                raise
            detach(token)
            self._finish(op, result, None, returned=True)
            return result

        return wrapper  # type: ignore[return-value]


def _binder(fn: Callable[..., Any]) -> Callable[[tuple[Any, ...], dict[str, Any]], dict[str, Any] | None]:
    """Tool arguments by parameter name (``self``/``cls`` left out), read only when content is captured."""
    try:
        signature: inspect.Signature | None = inspect.signature(fn)
    except (TypeError, ValueError):
        signature = None

    def bind(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any] | None:
        ops = _operations()
        if ops is None or not ops.content_on_span:
            return None
        try:
            if signature is None:
                return {"args": list(args), **kwargs}
            bound = signature.bind_partial(*args, **kwargs).arguments
            return {k: v for k, v in bound.items() if k not in ("self", "cls")}
        except Exception:
            return None

    return bind


def _make(kind: str, name: Any, attributes: dict[str, Any]) -> Any:
    if callable(name):  # used bare: @otel_genai.workflow
        return OperationScope(kind, None, attributes)(name)
    return OperationScope(kind, name, attributes)


@overload
def workflow(name: F, /) -> F: ...
@overload
def workflow(name: str | None = None, /, **attributes: Any) -> OperationScope: ...
def workflow(name: Any = None, /, **attributes: Any) -> Any:
    """``invoke_workflow {name}``: steps that together do one job (default name: the function's)."""
    return _make(WORKFLOW, name, attributes)


@overload
def agent(name: F, /) -> F: ...
@overload
def agent(name: str | None = None, /, **attributes: Any) -> OperationScope: ...
def agent(name: Any = None, /, **attributes: Any) -> Any:
    """``invoke_agent {name}``: an agent's run, with the model and tool calls it makes inside."""
    return _make(AGENT, name, attributes)


@overload
def task(name: F, /) -> F: ...
@overload
def task(name: str | None = None, /, **attributes: Any) -> OperationScope: ...
def task(name: Any = None, /, **attributes: Any) -> Any:
    """``{name}``: one step of a workflow (``traceloop.span.kind=task``; no GenAI operation of its own)."""
    return _make(TASK, name, attributes)


@overload
def tool(name: F, /) -> F: ...
@overload
def tool(
    name: str | None = None, /, *, tool_type: str = "function", description: str | None = None
) -> OperationScope: ...
def tool(name: Any = None, /, *, tool_type: str = "function", description: str | None = None) -> Any:
    """``execute_tool {name}``: a tool call; arguments and result recorded only when content is captured."""
    return _make(TOOL, name, {sc.TOOL_TYPE: tool_type, sc.TOOL_DESCRIPTION: description})


def _value(value: Any) -> Any:
    return value if isinstance(value, (str, bool, int, float)) else str(value)


@contextmanager
def association_properties(
    *, user_id: Any = None, session_id: Any = None, **properties: Any
) -> Iterator[None]:
    """Label every span started inside the block: ``traceloop.association.properties.<key>``, plus
    ``user.id`` and ``gen_ai.conversation.id`` (the session). Spans only, never metrics; the labels are
    detached when the block exits, whatever way it exits."""
    attributes: dict[str, Any] = {}
    if user_id is not None:
        attributes[sc.USER_ID] = _value(user_id)
        properties["user_id"] = user_id
    if session_id is not None:
        attributes[sc.CONVERSATION_ID] = str(session_id)
        properties["session_id"] = session_id
    for key, value in properties.items():
        if value is not None:
            attributes[f"{sc.LEGACY_ASSOCIATION_PREFIX}.{key}"] = _value(value)
    token = attach(scope.with_attributes(attributes))
    try:
        yield
    finally:
        detach(token)


__all__ = ["ManualInstrumentor", "agent", "association_properties", "task", "tool", "workflow"]
