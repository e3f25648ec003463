"""The Anthropic client's hook: ``SyncAPIClient.request`` / ``AsyncAPIClient.request`` (Stainless, as openai).

Under every typed method: ``messages.create`` (whole or ``stream=True``), the ``messages.stream()`` helper,
``beta.messages``, ``with_raw_response``, and the Bedrock and Vertex clients, whose provider is their
platform (``aws.bedrock``, ``gcp.vertex_ai``). The body is read before the client rewrites it for its
platform. Everything else (end, streams, raw responses, the guard) is the core's; the Messages format is
``dialects/anthropic.py``.

anthropic 2.x opens a span of its own for each API call when a tracer provider is reachable. One model call
must make one inference span, so while ours is open the client's ``start_api_call_span`` returns None,
the SDK's own way of running a call without a span (see ``suppress_own_span``).
"""

from __future__ import annotations

from typing import Any

from ... import semconv as sc
from ...core import hooks
from ...core.invocation import Invocation
from ...core.readers import as_str
from ...core.recorder import Recorder, active_invocation
from ...core.streams import Accumulator, StreamFold
from ...dialects import anthropic as dialect

_DEFAULT_PORTS = {"http": 80, "https": 443}
# the platform clients' own gen_ai.provider.name, for versions that do not say it themselves
_PLATFORMS = {"AnthropicBedrock": "aws.bedrock", "AnthropicVertex": "gcp.vertex_ai"}


def error_type(exc: BaseException) -> str | None:
    """``APIStatusError`` -> its HTTP status; other anthropic errors -> ``anthropic.ClassName``."""
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return str(status)
    cls = type(exc)
    return f"anthropic.{cls.__qualname__}" if cls.__module__.startswith("anthropic") else None


class MessageFold(StreamFold):
    """Stream events of the Messages API (typed objects) folded by the dialect."""

    __slots__ = ("fold",)

    def __init__(self, inv: Invocation, capture: bool) -> None:
        self.fold = dialect.AnthropicFold(capture)

    def add(self, chunk: Any) -> None:
        self.fold.add(chunk)

    def apply(self, inv: Invocation) -> None:
        self.fold.apply(inv)

    def error_type(self, exc: BaseException) -> str | None:
        return error_type(exc)


def _folds(inv: Invocation, capture: bool) -> Accumulator:
    return MessageFold(inv, capture)


ENDPOINTS = {
    "/v1/messages": hooks.Endpoint(sc.OP_CHAT, dialect.read_request, dialect.read_response, _folds),
    "/v1/complete": hooks.Endpoint(
        sc.OP_TEXT_COMPLETION, dialect.read_request, dialect.read_response, _folds
    ),
}


def provider_name(client: Any) -> str:
    name = getattr(type(client), "_gen_ai_provider_name", None)
    if isinstance(name, str) and name:
        return name
    for cls in type(client).__mro__:
        platform = _PLATFORMS.get(cls.__name__.removeprefix("Async"))
        if platform:
            return platform
    return sc.PROVIDER_ANTHROPIC


def target(client: Any) -> tuple[str | None, int | None]:
    url = client.base_url
    return (url.host or None), (url.port or _DEFAULT_PORTS.get(url.scheme))


class AnthropicHook(hooks.Provider):
    label = "anthropic"
    raw_responses = True

    def error_type(self, exc: BaseException) -> str | None:
        return error_type(exc)

    def begin(
        self, recorder: Recorder, client: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> hooks.Call | None:
        request = hooks.stainless_request(args, kwargs)
        endpoint = ENDPOINTS.get(request.path) if request.method == "post" else None
        if endpoint is None:
            return None
        host, port = target(client)
        inv = Invocation(
            endpoint.operation,
            provider_name(client),
            as_str(request.body.get("model")),
            server_address=host,
            server_port=port,
            streaming=request.streaming,
        )
        endpoint.read_request(inv, request.body, recorder.capture_content)
        recorder.start(inv)
        return hooks.Call(self, recorder, inv, endpoint)


def suppress_own_span(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The client's ``start_api_call_span``: no span of its own inside an inference we (or LangChain) hold."""
    if active_invocation() is not None:
        return None
    return wrapped(*args, **kwargs)


__all__ = [
    "ENDPOINTS",
    "AnthropicHook",
    "MessageFold",
    "error_type",
    "provider_name",
    "suppress_own_span",
    "target",
]
