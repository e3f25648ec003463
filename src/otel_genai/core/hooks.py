"""The wrapper every client hook uses, written once for sync and once for async.

A provider supplies ``begin(instance, args, kwargs)``: it reads the request and opens the span, returning a
call object (``fail(exc)``, ``end(result, is_async=...)``), or None when the request is not a GenAI
operation. The user's call itself runs outside every guard: its result and its exceptions pass through.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class Call(Protocol):
    def fail(self, exc: BaseException) -> None: ...

    def end(self, result: Any, *, is_async: bool) -> Any: ...


Begin = Callable[[Any, tuple[Any, ...], dict[str, Any]], Call | None]


def sync_wrapper(begin: Begin) -> Callable[..., Any]:
    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        call = begin(instance, args, kwargs)
        if call is None:
            return wrapped(*args, **kwargs)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        return call.end(result, is_async=False)

    return wrapper


def async_wrapper(begin: Begin) -> Callable[..., Any]:
    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        call = begin(instance, args, kwargs)
        if call is None:
            return await wrapped(*args, **kwargs)
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        return call.end(result, is_async=True)

    return wrapper
