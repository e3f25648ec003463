"""Run a generator's steps inside a context of their own, so nothing it attaches leaks to its caller.

A generator body runs in the context of whoever calls ``next()``: a span it makes current at its first
step would stay current in the caller's loop between chunks, and the matching detach, run later (or by
the garbage collector, in another context), would fail. Here every step (``send``, ``throw``, ``close``)
runs between ``step.enter()`` and ``step.exit()`` in one frame of the wrapper, so tokens always come
back to the context that made them, and what a step leaves attached is saved by the step object (if it
wants) instead of leaking. The wrappers are real generators, so ``inspect.isgenerator`` still holds.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any, Protocol

from opentelemetry import context as otel_context

_log = logging.getLogger("otel_genai")


class Step(Protocol):
    """What surrounds every resumption of a wrapped generator."""

    def enter(self) -> object:
        """Make the step's context current; return what ``exit`` needs to undo it."""

    def exit(self, token: object) -> None:
        """Undo ``enter`` (same frame, same context, so it cannot fail)."""


Done = Callable[[BaseException | None], None]


def attach(ctx: otel_context.Context) -> object:
    return otel_context.attach(ctx)


def detach(token: object) -> None:
    """Detach a token taken in this very frame; a failure is logged, never raised."""
    try:
        otel_context.detach(token)  # type: ignore[arg-type]
    except Exception:
        _log.debug("otel-genai: context detach failed", exc_info=True)


def _finish(done: Done | None, error: BaseException | None) -> None:
    if done is not None:
        try:
            done(error)
        except Exception:
            _log.debug("otel-genai: finishing a generator span failed", exc_info=True)


def wrap_generator(
    gen: Generator[Any, Any, Any], step: Step, done: Done | None = None
) -> Generator[Any, Any, Any]:
    """``gen`` with every step run inside ``step``; ``done(error)`` once when it ends (error ``None``
    on exhaustion, the exception otherwise, ``GeneratorExit`` when closed early)."""
    error: BaseException | None = None
    try:
        to_send: Any = None
        to_throw: BaseException | None = None
        while True:
            token = step.enter()
            try:
                if to_throw is not None:
                    exc, to_throw = to_throw, None
                    item = gen.throw(exc)
                else:
                    item = gen.send(to_send)
            except StopIteration as stop:
                return stop.value
            finally:
                step.exit(token)
            try:
                to_send = yield item
            except GeneratorExit:
                token = step.enter()
                try:
                    gen.close()
                finally:
                    step.exit(token)
                raise
            except BaseException as exc:
                to_throw = exc
    except BaseException as exc:
        error = exc
        raise
    finally:
        _finish(done, error)


async def wrap_async_generator(
    agen: AsyncGenerator[Any, Any], step: Step, done: Done | None = None
) -> AsyncGenerator[Any, Any]:
    """The async counterpart of ``wrap_generator``: ``asend``/``athrow``/``aclose`` run inside ``step``.

    An ``await`` suspends only this task, so ``enter`` and ``exit`` still run in one task's context.
    """
    error: BaseException | None = None
    try:
        to_send: Any = None
        to_throw: BaseException | None = None
        while True:
            token = step.enter()
            try:
                if to_throw is not None:
                    exc, to_throw = to_throw, None
                    item = await agen.athrow(exc)
                else:
                    item = await agen.asend(to_send)
            except StopAsyncIteration:
                return
            finally:
                step.exit(token)
            try:
                to_send = yield item
            except GeneratorExit:
                token = step.enter()
                try:
                    await agen.aclose()
                finally:
                    step.exit(token)
                raise
            except BaseException as exc:
                to_throw = exc
    except BaseException as exc:
        error = exc
        raise
    finally:
        _finish(done, error)


__all__ = [
    "Done",
    "Step",
    "attach",
    "detach",
    "wrap_async_generator",
    "wrap_generator",
]
