"""Where a client sends its requests: server address and port, provider name, Azure details.

``gen_ai.provider.name`` comes from this base-URL table (docs/telemetry.md repeats it): well-known values
from the semantic conventions where the host tells the provider apart, ``openai`` otherwise (the value the
conventions give OpenAI-compatible servers such as vLLM, NVIDIA NIM, Kong AI Gateway or a LiteLLM proxy).
"""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import urlsplit

from ...core import scrub

# (host, provider): the host itself or any subdomain; a row starting with "." or "-" matches any host
# ending in it (regional Vertex AI hosts are "us-central1-aiplatform.googleapis.com").
PROVIDERS_BY_HOST: tuple[tuple[str, str], ...] = (
    (".openai.azure.com", "azure.ai.openai"),
    (".cognitiveservices.azure.com", "azure.ai.openai"),
    (".services.ai.azure.com", "azure.ai.inference"),
    (".inference.ai.azure.com", "azure.ai.inference"),
    ("api.deepseek.com", "deepseek"),
    ("api.groq.com", "groq"),
    ("api.x.ai", "x_ai"),
    ("api.mistral.ai", "mistral_ai"),
    ("api.perplexity.ai", "perplexity"),
    ("api.moonshot.ai", "moonshot_ai"),
    ("api.moonshot.cn", "moonshot_ai"),
    ("api.anthropic.com", "anthropic"),
    ("api.cohere.ai", "cohere"),
    ("api.cohere.com", "cohere"),
    ("generativelanguage.googleapis.com", "gcp.gemini"),
    ("aiplatform.googleapis.com", "gcp.vertex_ai"),
    ("-aiplatform.googleapis.com", "gcp.vertex_ai"),
)
OLLAMA_PORT = 11434  # Ollama's OpenAI-compatible /v1 on its default port
_AZURE_CLIENTS = frozenset({"AzureOpenAI", "AsyncAzureOpenAI"})
_STORED = ("_base_url", "_configured_base_url")  # where openai releases keep what base_url returns


def provider_for_host(host: str, port: int | None = None) -> str:
    for pattern, provider in PROVIDERS_BY_HOST:
        if pattern[0] in ".-":
            if host.endswith(pattern) or host == pattern[1:]:
                return provider
        elif host == pattern or host.endswith("." + pattern):
            return provider
    return "ollama" if port == OLLAMA_PORT else "openai"


class Target:
    """Derived once per client and base URL, and kept on the client, so nothing global grows."""

    __slots__ = (
        "api_base", "api_version", "base_url", "cls", "deployment", "host", "port", "provider", "stored"
    )  # fmt: skip

    def __init__(self, client: Any, base_url: Any) -> None:
        self.base_url = base_url
        # The client's own attributes holding exactly what its base_url property returned (_base_url;
        # _configured_base_url since openai 3.63): while the class and each of them are unchanged, so is
        # base_url, and the property, which runs an import statement per read in openai 2.x and 3.x,
        # need not be read per call. None: no such attribute, the property is read every call.
        fields = getattr(client, "__dict__", {})
        held = tuple((name, fields[name]) for name in _STORED if fields.get(name) is base_url)
        self.stored = held or None
        self.cls = type(client)
        parts = urlsplit(str(base_url))
        self.api_base = scrub.url(str(base_url))  # no userinfo, no key in the query
        scrub.remember(getattr(client, "api_key", None))  # redacted wherever an error echoes it
        self.host = parts.hostname or None
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.provider = provider_for_host(self.host or "", parts.port)
        self.api_version: str | None = None
        self.deployment: str | None = None
        if any(cls.__name__ in _AZURE_CLIENTS for cls in type(client).__mro__):
            self.provider = "azure.ai.openai"
            version = getattr(client, "_api_version", None)
            self.api_version = version if isinstance(version, str) else None
            _, marker, rest = parts.path.partition("/deployments/")
            self.deployment = rest.strip("/").split("/")[0] or None if marker else None


def target(client: Any) -> Target:
    found: Target | None = getattr(client, "_otel_genai_target", None)
    if found is not None and found.stored is not None and found.cls is type(client):
        fields = client.__dict__
        for name, value in found.stored:  # one or two: a loop costs less than all() over a generator
            if fields.get(name) is not value:
                break
        else:
            return found
    base_url = client.base_url
    if found is None or found.base_url is not base_url:  # base_url is settable: re-derive on change
        found = Target(client, base_url)
        with contextlib.suppress(Exception):  # a client that refuses attributes: derive each time
            client._otel_genai_target = found
    return found


__all__ = [
    "OLLAMA_PORT",
    "PROVIDERS_BY_HOST",
    "Target",
    "provider_for_host",
    "target",
]
