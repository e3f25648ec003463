"""Bedrock Guardrails: which guardrail ran, whether it intervened, and which of its policies fired.

Three response shapes carry the same assessment objects: the Converse ``trace.guardrail``
(``inputAssessment``/``outputAssessments``), the InvokeModel body's ``amazon-bedrock-trace.guardrail``
(``input``/``outputs``) and ``ApplyGuardrail``'s ``assessments``. Only policy *types* and configured names
(filter types, topic names, PII entity types, regex names) are recorded: never the matched text, which is
the sensitive content the guardrail exists to catch.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ... import semconv as sc
from ...core.invocation import Invocation
from ...core.readers import as_str

# policy type (metric value), span attribute, assessment key, (entry list, the field naming an entry)
_POLICIES: tuple[tuple[str, str, str, tuple[tuple[str, str | None], ...]], ...] = (
    ("content_filter", sc.AWS_BEDROCK_GUARDRAIL_CONTENT_FILTERS, "contentPolicy", (("filters", "type"),)),
    ("denied_topic", sc.AWS_BEDROCK_GUARDRAIL_DENIED_TOPICS, "topicPolicy", (("topics", "name"),)),
    (
        "word_filter",
        sc.AWS_BEDROCK_GUARDRAIL_WORD_FILTERS,
        "wordPolicy",
        (("customWords", None), ("managedWordLists", "type")),
    ),
    (
        "sensitive_information",
        sc.AWS_BEDROCK_GUARDRAIL_SENSITIVE_INFORMATION,
        "sensitiveInformationPolicy",
        (("piiEntities", "type"), ("regexes", "name")),
    ),
    (
        "contextual_grounding",
        sc.AWS_BEDROCK_GUARDRAIL_CONTEXTUAL_GROUNDING,
        "contextualGroundingPolicy",
        (("filters", "type"),),
    ),
)
_CUSTOM_WORD = "CUSTOM_WORD"  # custom words are named by their match, which is content: record the kind only


def read_config(inv: Invocation, identifier: Any, version: Any) -> None:
    """The guardrail a request names (Converse ``guardrailConfig``, InvokeModel/ApplyGuardrail parameters)."""
    guardrail_id = as_str(identifier)
    if guardrail_id:
        inv.attributes[sc.AWS_BEDROCK_GUARDRAIL_ID] = guardrail_id
        guardrail_version = as_str(version)
        if guardrail_version:
            inv.attributes[sc.AWS_BEDROCK_GUARDRAIL_VERSION] = guardrail_version


def _fired(entry: Any) -> bool:
    if not isinstance(entry, dict):
        return False
    action = entry.get("action")
    return (isinstance(action, str) and action != "NONE") or entry.get("detected") is True


def _assessments(trace: Any) -> Iterator[tuple[str | None, Any]]:
    """(stage, assessment) for every assessment in a Converse or InvokeModel guardrail trace, or an
    ApplyGuardrail list (stage None: the request's ``source`` says)."""
    if isinstance(trace, list):
        for assessment in trace:
            yield None, assessment
        return
    if not isinstance(trace, dict):
        return
    for key in ("inputAssessment", "input"):  # {guardrail id: assessment}
        by_id = trace.get(key)
        if isinstance(by_id, dict):
            for assessment in by_id.values():
                yield sc.STAGE_INPUT, assessment
    converse_outputs = trace.get("outputAssessments")  # {guardrail id: [assessment, ...]}
    if isinstance(converse_outputs, dict):
        for assessments in converse_outputs.values():
            if isinstance(assessments, list):
                for assessment in assessments:
                    yield sc.STAGE_OUTPUT, assessment
    invoke_outputs = trace.get("outputs")  # [{guardrail id: assessment}, ...]
    if isinstance(invoke_outputs, list):
        for by_id in invoke_outputs:
            if isinstance(by_id, dict):
                for assessment in by_id.values():
                    yield sc.STAGE_OUTPUT, assessment


# Bedrock policy type -> neutral activation type (a content filter of type PROMPT_ATTACK is prompt_attack)
_NEUTRAL = {
    "content_filter": sc.GUARDRAIL_CONTENT,
    "denied_topic": sc.GUARDRAIL_DENIED_TOPIC,
    "word_filter": sc.GUARDRAIL_WORD,
    "sensitive_information": sc.GUARDRAIL_SENSITIVE_INFORMATION,
    "contextual_grounding": sc.GUARDRAIL_CONTEXTUAL_GROUNDING,
}


class Verdict:
    """What one call's guardrail did: intervened or not, and the names each policy type fired on."""

    __slots__ = ("activations", "fired", "intervened")

    def __init__(self) -> None:
        self.intervened: bool | None = None  # None: the response did not say
        self.fired: dict[str, set[str]] = {}  # policy type -> names
        self.activations: set[tuple[str, str | None]] = set()  # (neutral type, stage or None)

    def read_trace(self, trace: Any) -> None:
        for stage, assessment in _assessments(trace):
            if not isinstance(assessment, dict):
                continue
            for policy, _, key, lists in _POLICIES:
                section = assessment.get(key)
                if not isinstance(section, dict):
                    continue
                for list_key, name_key in lists:
                    entries = section.get(list_key)
                    for entry in entries if isinstance(entries, list) else ():
                        if _fired(entry):
                            name = as_str(entry.get(name_key)) if name_key else _CUSTOM_WORD
                            self.fired.setdefault(policy, set()).add(name or "unknown")
                            kind = _NEUTRAL[policy]
                            if policy == "content_filter" and name == "PROMPT_ATTACK":
                                kind = sc.GUARDRAIL_PROMPT_ATTACK
                            self.activations.add((kind, stage))

    def apply(self, inv: Invocation) -> None:
        """Span attributes, the ``content_filter`` finish reason, and one activation count per policy type
        (``provider_counts``: the recorder adds them)."""
        attributes = inv.attributes
        self._neutral(inv)
        if self.intervened is not None:
            attributes[sc.AWS_BEDROCK_GUARDRAIL_INTERVENED] = self.intervened
        if self.intervened and inv.finish_reasons:
            inv.finish_reasons = ["content_filter"] * len(inv.finish_reasons)
            for message in inv.output_messages or ():
                message["finish_reason"] = "content_filter"
        if self.fired:
            attributes[sc.AWS_BEDROCK_GUARDRAIL_POLICIES] = sorted(self.fired)
        for policy, span_attribute, _, _ in _POLICIES:
            if policy in self.fired:
                attributes[span_attribute] = sorted(self.fired[policy])
        types = sorted(self.fired) or (["unknown"] if self.intervened else [])
        metric_attributes: dict[str, Any] = {sc.PROVIDER_NAME: inv.provider}
        guardrail_id = attributes.get(sc.AWS_BEDROCK_GUARDRAIL_ID)
        if guardrail_id:
            metric_attributes[sc.AWS_BEDROCK_GUARDRAIL_ID] = guardrail_id
        counts = [
            (
                sc.METRIC_BEDROCK_GUARDRAIL_ACTIVATION,
                1,
                {**metric_attributes, sc.GUARDRAIL_TYPE: policy},
                "{activation}",
                "Bedrock guardrail policies that fired, by policy type.",
            )
            for policy in types
        ]
        if counts:
            inv.provider_counts = [*(inv.provider_counts or ()), *counts]

    def _neutral(self, inv: Invocation) -> None:
        """The provider-neutral fields the recorder turns into gen_ai.guardrail.* (docs/telemetry.md)."""
        source = as_str(inv.attributes.get(sc.AWS_BEDROCK_GUARDRAIL_SOURCE))
        default_stage = sc.STAGE_OUTPUT if source == "OUTPUT" else sc.STAGE_INPUT
        if inv.attributes.get(sc.AWS_BEDROCK_GUARDRAIL_ID) or self.intervened is not None or self.activations:
            inv.guardrail_configured = True
        if self.intervened is not None:
            inv.guardrail_intervened = self.intervened
        activations = {(kind, stage or default_stage) for kind, stage in self.activations}
        if activations:
            inv.guardrail_activations = activations
        if self.intervened:
            stages = {stage for _, stage in activations}
            inv.guardrail_blocked = (
                sc.STAGE_INPUT if sc.STAGE_INPUT in stages or not stages else sc.STAGE_OUTPUT
            )
            if not stages and source == "OUTPUT":
                inv.guardrail_blocked = sc.STAGE_OUTPUT


__all__ = [
    "Verdict",
    "read_config",
]
