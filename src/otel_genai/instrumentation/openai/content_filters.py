"""Azure OpenAI content filters, translated into the neutral guardrail fields of the invocation.

Azure reports its verdicts per category in ``prompt_filter_results`` (the input) and each choice's
``content_filter_results`` (the output), answers a blocked prompt with a ``content_filter`` error (HTTP 400,
or 200 with an error body) whose ``innererror.content_filter_result`` names the categories, and ends a
filtered completion with the ``content_filter`` finish reason. Only category names are read, never text.
"""

from __future__ import annotations

from typing import Any

from ... import semconv as sc
from ...core.invocation import Invocation
from ...core.readers import get, get_rare

# Azure category -> neutral activation type
CATEGORIES = {
    "hate": sc.GUARDRAIL_CONTENT,
    "sexual": sc.GUARDRAIL_CONTENT,
    "violence": sc.GUARDRAIL_CONTENT,
    "self_harm": sc.GUARDRAIL_CONTENT,
    "self-harm": sc.GUARDRAIL_CONTENT,
    "protected_material_text": sc.GUARDRAIL_CONTENT,
    "protected_material_code": sc.GUARDRAIL_CONTENT,
    "profanity": sc.GUARDRAIL_WORD,
    "custom_blocklists": sc.GUARDRAIL_WORD,
    "jailbreak": sc.GUARDRAIL_PROMPT_ATTACK,
    "indirect_attack": sc.GUARDRAIL_PROMPT_ATTACK,
    "ungrounded_material": sc.GUARDRAIL_CONTEXTUAL_GROUNDING,
    "personally_identifiable_information": sc.GUARDRAIL_SENSITIVE_INFORMATION,
}


def _fired(verdict: Any) -> bool:
    if isinstance(verdict, dict):
        return verdict.get("filtered") is True or verdict.get("detected") is True
    if isinstance(verdict, list):  # custom_blocklists: [{"id": ..., "filtered": bool}, ...]
        return any(_fired(item) for item in verdict)
    return False


def _read(inv: Invocation, results: Any, stage: str) -> None:
    if not isinstance(results, dict) or not results:
        return
    inv.guardrail_configured = True
    for category, verdict in results.items():
        kind = CATEGORIES.get(category)
        if kind is not None and _fired(verdict):
            activations = inv.guardrail_activations = inv.guardrail_activations or set()
            activations.add((kind, stage))
            inv.guardrail_intervened = True
    if inv.guardrail_intervened is None:
        inv.guardrail_intervened = False


def read_response(inv: Invocation, response: Any, choices: list[Any]) -> None:
    """A completion's prompt and choice verdicts, and the ``content_filter`` finish reason."""
    read_verdicts(
        inv,
        get_rare(response, "prompt_filter_results") or (),
        [get_rare(choice, "content_filter_results") for choice in choices],
        [get(choice, "finish_reason") for choice in choices],
    )


def read_verdicts(inv: Invocation, prompts: Any, outputs: list[Any], finish_reasons: list[Any]) -> None:
    """Prompt verdicts (``prompt_filter_results`` entries), output verdicts (``content_filter_results``
    of choices or stream chunks) and finish reasons, as one call's guardrail fields."""
    for prompt in prompts if isinstance(prompts, list) else ():
        _read(inv, get(prompt, "content_filter_results"), sc.STAGE_INPUT)
    for results in outputs:
        _read(inv, results, sc.STAGE_OUTPUT)
    if "content_filter" in finish_reasons:
        inv.guardrail_configured = inv.guardrail_intervened = True
        inv.guardrail_blocked = sc.STAGE_OUTPUT
        activations = inv.guardrail_activations = inv.guardrail_activations or set()
        if not any(stage == sc.STAGE_OUTPUT for _, stage in activations):
            activations.add((sc.GUARDRAIL_CONTENT, sc.STAGE_OUTPUT))


def read_error(inv: Invocation, error: Any) -> None:
    """A ``content_filter`` error: the prompt was blocked, for the categories ``innererror`` names."""
    if get(error, "code") != "content_filter":
        return
    inv.guardrail_configured = inv.guardrail_intervened = True
    inv.guardrail_blocked = sc.STAGE_INPUT
    _read(inv, get(get(error, "innererror"), "content_filter_result"), sc.STAGE_INPUT)
    inv.guardrail_intervened = True
    if not inv.guardrail_activations:
        inv.guardrail_activations = {(sc.GUARDRAIL_CONTENT, sc.STAGE_INPUT)}


__all__ = [
    "CATEGORIES",
    "read_error",
    "read_response",
    "read_verdicts",
]
