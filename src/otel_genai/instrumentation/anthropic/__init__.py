"""Anthropic instrumentation: ``AnthropicInstrumentor`` for ``init()`` and ``opentelemetry-instrument``."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from .._base import GenAIInstrumentor

# the messages.stream() helpers (module, sync class, async class)
HELPERS = (
    ("anthropic.lib.streaming._messages", "MessageStream", "AsyncMessageStream"),
    ("anthropic.lib.streaming._beta_messages", "BetaMessageStream", "BetaAsyncMessageStream"),
)


class AnthropicInstrumentor(GenAIInstrumentor):
    """Patches the anthropic client's request method (sync and async) once, for every client instance."""

    name = "anthropic"
    module = "anthropic"

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("anthropic >= 0.40",)

    def _patch(self, recorder: Any) -> None:
        from anthropic import _base_client

        from ...core.hooks import hook
        from .hook import AnthropicHook, suppress_own_span

        sync_wrapper, async_wrapper = hook(AnthropicHook(), recorder)
        self._wrap(_base_client.SyncAPIClient, "request", sync_wrapper)
        self._wrap(_base_client.AsyncAPIClient, "request", async_wrapper)
        if hasattr(_base_client, "start_api_call_span"):  # anthropic 2.x's own call spans
            self._wrap(_base_client, "start_api_call_span", suppress_own_span)
        self._wrap_stream_helpers(HELPERS)  # patched when the client imports them, if it ever does


__all__ = ["HELPERS", "AnthropicInstrumentor"]
