"""The google-genai client's hook: ``BaseApiClient.request`` / ``request_streamed`` and their async twins.

Every ``models.*`` method (``generate_content``, ``generate_content_stream``, ``embed_content``, sync and
async, and each round of automatic function calling) sends its request through these four with the REST
path (``models/{model}:generateContent``) and the wire JSON already converted for its API, so one reader
serves the Gemini API (``gcp.gemini``) and Vertex AI (``gcp.vertex_ai``). A streamed response is a
generator of ``SdkHttpResponse`` chunks, each one JSON body. The mechanics are the core's
(``core/hooks.py``); the format is ``dialects/gemini.py``.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from ... import semconv as sc
from ...core import hooks
from ...core.invocation import Invocation
from ...core.readers import as_str, get
from ...core.recorder import Recorder
from ...core.streams import Accumulator, StreamFold
from ...dialects import gemini

_DEFAULT_PORTS = {"http": 80, "https": 443}
_MODEL_PREFIXES = ("publishers/google/models/", "models/")


def error_type(exc: BaseException) -> str | None:
    """``google.genai.errors.APIError`` -> its HTTP status code; None: the recorder's class-name rule."""
    code = getattr(exc, "code", None)
    if isinstance(code, int) and type(exc).__module__.startswith("google.genai"):
        return str(code)
    return None


def _body(response: Any) -> Any:
    """An ``SdkHttpResponse``'s JSON body (a str), parsed; the SDK parses its own copy."""
    text = getattr(response, "body", None)
    return json.loads(text) if isinstance(text, str) and text else None


def read_response(inv: Invocation, response: Any, capture: bool) -> None:
    gemini.read_response(inv, _body(response), capture)


def read_embeddings(inv: Invocation, response: Any, capture: bool) -> None:
    gemini.read_embed_response(inv, _body(response), capture)


class ChunkFold(StreamFold):
    """``streamGenerateContent`` chunks: the body is parsed per chunk only when content is captured."""

    __slots__ = ("capture", "fold", "latest")

    def __init__(self, inv: Invocation, capture: bool) -> None:
        self.capture = capture
        self.fold = gemini.Fold(capture)
        self.latest: Any = None

    def add(self, chunk: Any) -> None:
        if self.capture:
            self.fold.add(_body(chunk))
        else:
            if self.fold.first is None:
                self.fold.add(_body(chunk))  # the id and model, once
            self.latest = chunk  # usage and finish reasons arrive last

    def apply(self, inv: Invocation) -> None:
        if self.latest is not None:
            self.fold.add(_body(self.latest))
        self.fold.apply(inv)

    def error_type(self, exc: BaseException) -> str | None:
        return error_type(exc)


def _folds(inv: Invocation, capture: bool) -> Accumulator:
    return ChunkFold(inv, capture)


# the REST method after the ":" of the path -> endpoint
ENDPOINTS = {
    "generateContent": hooks.Endpoint(sc.OP_CHAT, gemini.read_request, read_response),
    "streamGenerateContent": hooks.Endpoint(sc.OP_CHAT, gemini.read_request, read_response, _folds),
    "embedContent": hooks.Endpoint(sc.OP_EMBEDDINGS, gemini.read_embed_request, read_embeddings),
    "batchEmbedContents": hooks.Endpoint(sc.OP_EMBEDDINGS, gemini.read_embed_request, read_embeddings),
}


def model_of(resource: str) -> str:
    """``models/gemini-2.5-flash`` or ``publishers/google/models/...`` -> ``gemini-2.5-flash``."""
    for prefix in _MODEL_PREFIXES:
        if resource.startswith(prefix):
            return resource[len(prefix) :]
    position = resource.find("/publishers/google/models/")
    return resource[position + len("/publishers/google/models/") :] if position >= 0 else resource


def target(client: Any) -> tuple[str | None, int | None]:
    # (a dict where a release keeps the http_options it was given as one)
    url = urlsplit(str(get(getattr(client, "_http_options", None), "base_url") or ""))
    return (url.hostname or None), (url.port or _DEFAULT_PORTS.get(url.scheme))


class GoogleGenAIHook(hooks.Provider):
    label = "google-genai"

    def __init__(self, streaming: bool) -> None:
        self.streaming = streaming

    def error_type(self, exc: BaseException) -> str | None:
        return error_type(exc)

    def begin(
        self, recorder: Recorder, client: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> hooks.Call | None:
        path = args[1] if len(args) > 1 else kwargs.get("path")
        if not isinstance(path, str):
            return None
        resource, _, method = path.partition("?")[0].rpartition(":")
        endpoint = ENDPOINTS.get(method)
        if endpoint is None:
            return None
        body = args[2] if len(args) > 2 else kwargs.get("request_dict")
        body = body if isinstance(body, dict) else {}
        host, port = target(client)
        provider = sc.PROVIDER_GCP_VERTEX_AI if getattr(client, "vertexai", False) else sc.PROVIDER_GCP_GEMINI
        inv = Invocation(
            endpoint.operation,
            provider,
            as_str(model_of(resource)),
            server_address=host,
            server_port=port,
            streaming=self.streaming,
        )
        endpoint.read_request(inv, body, recorder.capture_content)
        recorder.start(inv)
        return hooks.Call(self, recorder, inv, endpoint)


__all__ = [
    "ENDPOINTS",
    "ChunkFold",
    "GoogleGenAIHook",
    "error_type",
    "model_of",
    "read_embeddings",
    "read_response",
    "target",
]
