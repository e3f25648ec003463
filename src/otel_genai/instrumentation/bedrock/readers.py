"""Small tolerant readers the Bedrock modules share: token counts, usage, finish reasons."""

from __future__ import annotations

from typing import Any, NamedTuple

from ...core.invocation import Invocation
from ..openai.readers import as_float, as_int, as_list, as_str, get

__all__ = ["Usage", "as_count", "as_float", "as_int", "as_list", "as_str", "finish_reason", "get"]


def as_count(value: Any) -> int | None:
    """A token count as Bedrock writes them: an int, an integral float (Titan: ``28.0``), a header string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


class Usage(NamedTuple):
    """Token counts as one source reports them; Bedrock's own input count excludes cache reads and writes."""

    input: int | None = None
    output: int | None = None
    cache_read: int | None = None
    cache_write: int | None = None

    def known(self) -> bool:
        return self.input is not None or self.output is not None

    def apply(self, inv: Invocation) -> None:
        """Input tokens as the semconv total: uncached input plus cache reads and writes."""
        if self.input is not None:
            inv.input_tokens = self.input + (self.cache_read or 0) + (self.cache_write or 0)
        if self.output is not None:
            inv.output_tokens = self.output
        if self.cache_read is not None:
            inv.cache_read_tokens = self.cache_read
        if self.cache_write is not None:
            inv.cache_write_tokens = self.cache_write

    def apply_billed(self, inv: Invocation) -> None:
        """Bedrock's own counts win over the model's; cache counts it does not send keep the model's."""
        if self.known():
            Usage(
                self.input,
                self.output,
                self.cache_read if self.cache_read is not None else inv.cache_read_tokens,
                self.cache_write if self.cache_write is not None else inv.cache_write_tokens,
            ).apply(inv)


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


# Every family's stop reason -> the semconv finish reason; anything else is reported as sent.
_FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "stop": "stop",
    "finish": "stop",  # Titan FINISH
    "complete": "stop",  # Cohere COMPLETE
    "endoftext": "stop",  # AI21 Jurassic
    "stop_criteria_met": "stop",
    "max_tokens": "length",
    "length": "length",
    "model_length": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_call",
    "tool_calls": "tool_call",
    "tool_call": "tool_call",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
    "refusal": "content_filter",
    "error_toxic": "content_filter",
    "error": "error",
}


def finish_reason(value: Any) -> str | None:
    reason = as_str(value)
    if reason is None:
        return None
    return _FINISH_REASONS.get(reason.lower(), reason)
