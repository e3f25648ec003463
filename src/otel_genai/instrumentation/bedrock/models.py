"""Bedrock model ids: the readable model name behind profiles and ARNs, and the model family.

A ``modelId`` can be a foundation model (``anthropic.claude-3-5-haiku-20241022-v1:0``), a cross-region
inference profile (``us.anthropic...``, ``eu.``, ``apac.``, ``global.``, ...), or an ARN: inference
profile, foundation, custom, provisioned or imported model, or a SageMaker endpoint. Telemetry groups by
the readable name; the full id stays on the span.
"""

from __future__ import annotations

# Cross-region inference profile prefixes (geography, or "global") in front of a foundation model id.
_GEOGRAPHIES = frozenset({"us", "us-gov", "eu", "apac", "ca", "jp", "au", "global"})


def readable_name(model_id: str) -> str:
    """``arn:...:inference-profile/us.anthropic.claude-x`` -> ``anthropic.claude-x``; others unchanged."""
    name = model_id
    if name.startswith("arn:"):
        # arn:partition:service:region:account:resource-type/resource-id
        parts = name.split(":", 5)
        resource = parts[5] if len(parts) == 6 else ""
        _, slash, resource_id = resource.partition("/")
        if slash and resource_id:
            # custom-model/<base model>/<id>: the base model is the readable part
            name = resource_id.split("/", 1)[0] if "/" in resource_id else resource_id
    geography, dot, rest = name.partition(".")
    if dot and geography in _GEOGRAPHIES and "." in rest:
        name = rest
    return name


def billed_id(model_id: str) -> str | None:
    """The id Bedrock prices a call under when it is not the readable name: the inference profile
    (``us.``, ``global.``, ... regional and global profiles have their own rates), also inside an ARN."""
    billed = model_id
    if model_id.startswith("arn:"):
        resource = model_id.split(":", 5)[5] if model_id.count(":") >= 5 else ""
        kind, _, resource_id = resource.partition("/")
        if kind not in ("inference-profile", "foundation-model") or not resource_id:
            return None
        billed = resource_id
    return None if billed == readable_name(model_id) else billed


# Families whose InvokeModel bodies are images or videos: large, and nothing in them to report.
_MEDIA = ("stability.", "amazon.titan-image", "amazon.nova-canvas", "amazon.nova-reel", "luma.")
_EMBEDDINGS = (
    "amazon.titan-embed",
    "cohere.embed",
    "amazon.nova-2-multimodal-embeddings",
    "twelvelabs.marengo",
)


def is_media(name: str) -> bool:
    return name.startswith(_MEDIA)


def is_embeddings(name: str) -> bool:
    return name.startswith(_EMBEDDINGS)


__all__ = [
    "billed_id",
    "is_embeddings",
    "is_media",
    "readable_name",
]
