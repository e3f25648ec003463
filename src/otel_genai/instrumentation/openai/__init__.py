"""OpenAI instrumentation: ``OpenAIInstrumentor`` for ``init()`` and ``opentelemetry-instrument``."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from .._base import GenAIInstrumentor

# openai's stream helpers (module, sync class, async class): their own folding errors end the span
HELPERS = (
    ("openai.lib.streaming.chat._completions", "ChatCompletionStream", "AsyncChatCompletionStream"),
    ("openai.lib.streaming.responses._responses", "ResponseStream", "AsyncResponseStream"),
)


class OpenAIInstrumentor(GenAIInstrumentor):
    """Patches the openai client's request method (sync and async) once, for every client instance."""

    name = "openai"
    module = "openai"

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("openai >= 1.40, < 4",)

    def _patch(self, recorder: Any) -> None:
        from openai._base_client import AsyncAPIClient, SyncAPIClient

        from ...core.hooks import hook
        from .hook import OpenAIHook

        sync_wrapper, async_wrapper = hook(OpenAIHook(), recorder)
        self._wrap(SyncAPIClient, "request", sync_wrapper)
        self._wrap(AsyncAPIClient, "request", async_wrapper)
        self._wrap_stream_helpers(HELPERS)  # patched when the client imports them, if it ever does


__all__ = ["HELPERS", "OpenAIInstrumentor"]
