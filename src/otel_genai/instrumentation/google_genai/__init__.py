"""Google Gen AI instrumentation: ``GoogleGenAIInstrumentor`` for init() and opentelemetry-instrument."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from .._base import GenAIInstrumentor


class GoogleGenAIInstrumentor(GenAIInstrumentor):
    """Patches google-genai's API client (whole and streamed requests, sync and async) for all clients."""

    name = "google_genai"
    module = "google.genai"

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("google-genai >= 1.0",)

    def _patch(self, recorder: Any) -> None:
        from google.genai._api_client import BaseApiClient

        from ...core.hooks import hook
        from .hook import GoogleGenAIHook

        whole_sync, whole_async = hook(GoogleGenAIHook(streaming=False), recorder)
        stream_sync, stream_async = hook(GoogleGenAIHook(streaming=True), recorder)
        self._wrap(BaseApiClient, "request", whole_sync)
        self._wrap(BaseApiClient, "async_request", whole_async)
        self._wrap(BaseApiClient, "request_streamed", stream_sync)
        self._wrap(BaseApiClient, "async_request_streamed", stream_async)


__all__ = ["GoogleGenAIInstrumentor"]
