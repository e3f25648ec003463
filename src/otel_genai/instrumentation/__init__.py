"""The instrumentors ``init()`` knows, by the name ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`` uses."""

from __future__ import annotations

import importlib
from typing import Any

# name -> "module:Class"; imported only when init() instruments (provider modules stay unimported)
INSTRUMENTORS: dict[str, str] = {
    "openai": "otel_genai.instrumentation.openai:OpenAIInstrumentor",
    "langchain": "otel_genai.instrumentation.langchain:LangChainInstrumentor",
    "manual": "otel_genai.manual:ManualInstrumentor",  # the decorators' configuration, not a library
    "bedrock": "otel_genai.instrumentation.bedrock:BedrockInstrumentor",
    "ollama": "otel_genai.instrumentation.ollama:OllamaInstrumentor",
    "anthropic": "otel_genai.instrumentation.anthropic:AnthropicInstrumentor",
    "google_genai": "otel_genai.instrumentation.google_genai:GoogleGenAIInstrumentor",
}


def load(name: str) -> Any:
    module, _, cls = INSTRUMENTORS[name].partition(":")
    return getattr(importlib.import_module(module), cls)()


__all__ = [
    "INSTRUMENTORS",
    "load",
]
