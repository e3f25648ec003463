"""Legacy Completions: ``POST /completions`` (operation ``text_completion``), plain and streamed."""

from __future__ import annotations

from typing import Any

from ...core import content
from ...core.invocation import Invocation
from ...core.readers import as_list, as_str, get
from ...core.streams import StreamFold
from .chat import read_response_envelope, read_sampling, read_usage


def read_request(inv: Invocation, body: dict[str, Any], capture: bool) -> None:
    read_sampling(inv, body)
    if capture:
        prompt = body.get("prompt")
        prompts = [prompt] if isinstance(prompt, str) else [p for p in as_list(prompt) if isinstance(p, str)]
        inv.input_messages = [{"role": "user", "parts": [content.text_part(p)]} for p in prompts]


def read_response(inv: Invocation, response: Any, capture: bool) -> None:
    read_response_envelope(inv, response)
    choices = as_list(get(response, "choices"))
    if not choices:
        return
    inv.finish_reasons = [as_str(get(c, "finish_reason")) or "error" for c in choices]
    if capture:
        inv.output_messages = [
            {"role": "assistant", "parts": [content.text_part(str(get(c, "text") or ""))], "finish_reason": r}
            for c, r in zip(choices, inv.finish_reasons, strict=True)
        ]


class CompletionAccumulator(StreamFold):
    """Folds streamed ``Completion`` chunks: text per choice, finish reasons, usage if the server sends it."""

    __slots__ = ("capture", "envelope", "finish", "max_index", "texts", "usage")

    def __init__(self, capture: bool, choice_count: int | None) -> None:
        self.capture = capture
        self.envelope: Any = None
        self.usage: Any = None
        self.finish: dict[int, str] = {}
        self.max_index = min(choice_count or 1, 128) - 1
        self.texts: dict[int, list[str]] = {}
        self.hide_usage_chunk = False  # True when we, not the caller, asked for the usage chunk

    def add(self, chunk: Any) -> bool:
        if self.envelope is None and getattr(chunk, "model", None):
            self.envelope = chunk
        if getattr(chunk, "usage", None) is not None:
            self.usage = chunk.usage
            if self.hide_usage_chunk and not chunk.choices:
                return True
        for choice in chunk.choices:
            index = choice.index
            if not isinstance(index, int) or not 0 <= index < 128:
                continue
            self.max_index = max(self.max_index, index)
            if choice.finish_reason:
                self.finish[index] = choice.finish_reason
            if self.capture and choice.text:
                self.texts.setdefault(index, []).append(choice.text)
        return False

    def apply(self, inv: Invocation) -> None:
        if self.envelope is None and self.usage is None and not self.finish:
            return
        if self.envelope is not None:
            read_response_envelope(inv, self.envelope)
        read_usage(inv, self.usage)
        inv.finish_reasons = [self.finish.get(i, "error") for i in range(self.max_index + 1)]
        if self.capture:
            inv.output_messages = [
                {
                    "role": "assistant",
                    "parts": [content.text_part("".join(self.texts.get(i, [])))],
                    "finish_reason": r,
                }
                for i, r in enumerate(inv.finish_reasons)
            ]


__all__ = [
    "CompletionAccumulator",
    "read_request",
    "read_response",
]
