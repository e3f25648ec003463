"""The neutral reader toolkit every provider shares: tolerant field reads of pydantic objects and parsed
JSON alike, token counts, and the one finish-reason rule."""

from __future__ import annotations

from typing import Any, NamedTuple

from .invocation import Invocation

__all__ = [
    "Usage",
    "as_count",
    "as_float",
    "as_int",
    "as_list",
    "as_str",
    "finish_reason",
    "get",
    "get_rare",
]


def get(obj: Any, name: str) -> Any:
    """Attribute or key lookup that tolerates missing fields and foreign shapes."""
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


_ABSENT = object()
_CLASS_MEMBER: dict[tuple[type, str], bool] = {}  # (model class, name) -> a property, method or the like


def get_rare(obj: Any, name: str) -> Any:
    """``get`` for a field most objects lack (Azure's content-filter results on OpenAI models).

    A pydantic v2 model's missing attribute costs ~2 µs through ``getattr`` (pydantic raises and formats
    an AttributeError); its fields and extras are plain dicts, read here without that miss.
    """
    if isinstance(obj, dict):
        return obj.get(name)
    extra = getattr(obj, "__pydantic_extra__", _ABSENT)
    fields = getattr(obj, "__dict__", None)
    if isinstance(extra, dict) and isinstance(fields, dict):
        if name in fields:
            return fields[name]
        if name in extra:
            return extra[name]
        cls = type(obj)
        member = _CLASS_MEMBER.get((cls, name))
        if member is None:  # once per class and name: a handful of pairs
            member = _CLASS_MEMBER[(cls, name)] = any(name in k.__dict__ for k in cls.__mro__)
        if not member:
            return None
    return getattr(obj, name, None)


def as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def as_float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def as_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def as_list(value: Any) -> list[Any] | tuple[Any, ...]:
    """Sequence fields (``tool_calls``) only when they are sequences: iterating a stray int would raise."""
    return value if isinstance(value, (list, tuple)) else ()


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


# Every provider's stop reason -> the semconv finish reason (stop, length, content_filter, tool_call, error);
# anything else is reported as sent, lower-cased names only where listed here.
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
    "function_call": "tool_call",  # OpenAI legacy functions
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
    "refusal": "content_filter",
    "error_toxic": "content_filter",
    "error": "error",
    # Gemini / Vertex FinishReason
    "safety": "content_filter",
    "recitation": "content_filter",
    "blocklist": "content_filter",
    "prohibited_content": "content_filter",
    "spii": "content_filter",
    "image_safety": "content_filter",
    "malformed_function_call": "error",
}


def finish_reason(value: Any) -> str | None:
    reason = as_str(value)
    if reason is None:
        return None
    return _FINISH_REASONS.get(reason.lower(), reason)
