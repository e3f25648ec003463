"""Which OpenAI endpoints are GenAI operations, and the readers for each.

The hook sees every request the client makes; ``resolve`` picks the few it records. Endpoints not
listed (files listing, fine-tuning jobs, ...) pass through with no telemetry at all.
"""

from __future__ import annotations

from typing import Any

from ... import semconv as sc
from ...core.hooks import Endpoint, nothing
from ...core.invocation import Invocation
from ...core.streams import Accumulator
from . import chat, completions, embeddings, responses

_nothing = nothing


def _folds(cls: Any) -> Any:
    """The accumulator factory for one of our fold classes: ``(capture, choice_count)`` constructors."""

    def make(inv: Invocation, capture: bool) -> Accumulator:
        fold: Accumulator = cls(capture, inv.choice_count)
        return fold

    return make


CHAT = Endpoint(sc.OP_CHAT, chat.read_request, chat.read_response, _folds(chat.ChatAccumulator))
RESPONSES = Endpoint(
    sc.OP_CHAT, responses.read_request, responses.read_response, _folds(responses.ResponsesAccumulator)
)
FETCH_RESPONSE = Endpoint(
    sc.OP_FETCH_RESPONSE,
    responses.read_fetch_request,
    responses.read_fetched,
    _folds(responses.FetchedResponsesAccumulator),
    model_in_span_name=False,
)
COMPLETIONS = Endpoint(
    sc.OP_TEXT_COMPLETION,
    completions.read_request,
    completions.read_response,
    _folds(completions.CompletionAccumulator),
)
EMBEDDINGS = Endpoint(sc.OP_EMBEDDINGS, embeddings.read_request, embeddings.read_response)

# Everything else a user can call through the client gets a span too, so nothing is invisible.
_OTHER: dict[str, Endpoint] = {
    "/images/generations": Endpoint("image_generation", _nothing, _nothing),
    "/images/edits": Endpoint("image_edit", _nothing, _nothing),
    "/images/variations": Endpoint("image_variation", _nothing, _nothing),
    "/audio/speech": Endpoint("speech", _nothing, _nothing),
    "/audio/transcriptions": Endpoint("transcription", _nothing, _nothing),
    "/audio/translations": Endpoint("translation", _nothing, _nothing),
    "/moderations": Endpoint("moderation", _nothing, _nothing),
}

_POST: dict[str, Endpoint] = {
    "/chat/completions": CHAT,
    "/responses": RESPONSES,
    "/completions": COMPLETIONS,
    "/embeddings": EMBEDDINGS,
    "/files": Endpoint("upload_file", _nothing, _nothing),
    "/batches": Endpoint("create_batch", _nothing, _nothing),
    **_OTHER,
}


def resolve(method: str, path: str) -> tuple[Endpoint, str | None] | None:
    """(endpoint, id from the path) for a request the client is about to make, or None."""
    path = "/" + path.rsplit("/v1/", 1)[-1].lstrip("/")
    if method == "post":
        endpoint = _POST.get(path)
        return (endpoint, None) if endpoint is not None else None
    if method == "get" and path.startswith("/responses/"):
        response_id = path[len("/responses/") :]
        if response_id and "/" not in response_id:  # not /responses/{id}/input_items
            return FETCH_RESPONSE, response_id
    return None


__all__ = [
    "CHAT",
    "COMPLETIONS",
    "EMBEDDINGS",
    "FETCH_RESPONSE",
    "RESPONSES",
    "resolve",
]
