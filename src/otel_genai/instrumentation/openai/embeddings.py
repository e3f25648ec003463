"""Embeddings: ``POST /embeddings``. Vectors are only measured (their dimension), never recorded."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from ... import semconv as sc
from ...core.invocation import Invocation
from ...core.readers import as_list, as_str, get
from .chat import read_usage


def read_request(inv: Invocation, body: dict[str, Any], capture: bool) -> None:
    encoding = as_str(body.get("encoding_format"))
    if encoding:
        inv.attributes[sc.REQUEST_ENCODING_FORMATS] = [encoding]


def dimension(embedding: Any) -> int | None:
    """Length of one vector; a base64 one (float32 little-endian) is decoded only to be counted."""
    if isinstance(embedding, list):
        return len(embedding)
    if isinstance(embedding, str):
        try:
            return len(base64.b64decode(embedding, validate=True)) // 4
        except (binascii.Error, ValueError):
            return None
    return None


def read_response(inv: Invocation, response: Any, capture: bool) -> None:
    inv.response_model = as_str(get(response, "model"))
    read_usage(inv, get(response, "usage"))
    inv.output_tokens = None  # embeddings produce no output tokens
    data = as_list(get(response, "data"))
    if data:
        inv.vector_size = dimension(get(data[0], "embedding"))


__all__ = [
    "dimension",
    "read_request",
    "read_response",
]
