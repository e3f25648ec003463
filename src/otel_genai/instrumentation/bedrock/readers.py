"""Small tolerant readers the Bedrock modules share: token counts, usage, finish reasons."""

from __future__ import annotations

from typing import Any

from ...core.readers import Usage, as_count, as_float, as_int, as_list, as_str, finish_reason, get

__all__ = ["Usage", "as_count", "as_float", "as_int", "as_list", "as_str", "finish_reason", "get"]


def converse_usage(usage: Any) -> Usage:
    """Converse ``usage``, and Nova's InvokeModel ``usage`` (cache counts spelled ``...TokenCount``)."""
    if not isinstance(usage, dict):
        return Usage()
    read = usage.get("cacheReadInputTokens")
    write = usage.get("cacheWriteInputTokens")
    return Usage(
        as_count(usage.get("inputTokens")),
        as_count(usage.get("outputTokens")),
        as_count(read if read is not None else usage.get("cacheReadInputTokenCount")),
        as_count(write if write is not None else usage.get("cacheWriteInputTokenCount")),
    )


def invocation_metrics_usage(metrics: Any) -> Usage:
    """``amazon-bedrock-invocationMetrics``, the counts Bedrock bills, on the last event of a stream."""
    if not isinstance(metrics, dict):
        return Usage()
    return Usage(
        as_count(metrics.get("inputTokenCount")),
        as_count(metrics.get("outputTokenCount")),
        as_count(metrics.get("cacheReadInputTokenCount")),
        as_count(metrics.get("cacheWriteInputTokenCount")),
    )
