"""Ollama instrumentation: ``OllamaInstrumentor`` for ``init()`` and ``opentelemetry-instrument``."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from .._base import GenAIInstrumentor


class OllamaInstrumentor(GenAIInstrumentor):
    """Patches the ollama client's request method (sync and async) once, for every client instance and
    the module-level ``ollama.chat(...)`` functions."""

    name = "ollama"
    module = "ollama"

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("ollama >= 0.4",)

    def _patch(self, recorder: Any) -> None:
        from ollama import AsyncClient, Client

        from ...core.hooks import hook
        from .hook import OllamaHook

        sync_wrapper, async_wrapper = hook(OllamaHook(), recorder)
        self._wrap(Client, "_request", sync_wrapper)
        self._wrap(AsyncClient, "_request", async_wrapper)


__all__ = ["OllamaInstrumentor"]
