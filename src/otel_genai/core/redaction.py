"""Rewriting message text before it is recorded anywhere: the user's ``redact`` hook and built-in masks.

Applied by the recorder to every text of a finished call's messages and system instructions (and so to
spans, events and audit records alike) before any of them is written, and to the tool arguments, tool
results and retrieval content that workflow, agent and tool spans capture. The built-in masks (opt-in,
``mask_content=True``) replace e-mail addresses, phone numbers, card numbers that pass the Luhn check and
API-key-like strings with ``[EMAIL]``, ``[PHONE]``, ``[CARD]`` and ``[SECRET]``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from .invocation import Invocation

_log = logging.getLogger("otel_genai")

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# API keys: vendor prefixes (sk-, sk-ant-, AKIA, ghp_, xox., AIza, dt0c01.) or a long token of mixed
# letters and digits
_SECRET = re.compile(
    r"\b(?:sk-[A-Za-z0-9_-]{16,}|(?:AKIA|ASIA)[A-Z0-9]{16}|gh[pousr]_[A-Za-z0-9]{30,}|xox[abpors]-[A-Za-z0-9-]{10,}"
    r"|AIza[A-Za-z0-9_-]{30,}|dt0c01\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{64}"
    r"|(?=[A-Za-z0-9_-]*[0-9])(?=[A-Za-z0-9_-]*[A-Z])(?=[A-Za-z0-9_-]*[a-z])[A-Za-z0-9_-]{32,})"
)
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_PHONE = re.compile(r"(?<![\w+])\+?\(?\d{1,4}\)?(?:[ .-]?\(?\d{2,4}\)?){2,5}(?!\w)")


def luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return "[CARD]" if luhn(digits) else match.group()


def _phone(match: re.Match[str]) -> str:
    text = match.group()
    digits = sum(c.isdigit() for c in text)
    # 9-15 digits, or 7+ written as a phone number (+ or area code in parentheses); not a date
    return "[PHONE]" if 9 <= digits <= 15 or (digits >= 7 and text[0] in "+(") else text


def mask(text: str) -> str:
    """The built-in masks, most specific first (a card number is no phone number)."""
    text = _SECRET.sub("[SECRET]", text)
    text = _EMAIL.sub("[EMAIL]", text)
    text = _CARD.sub(_card, text)
    return _PHONE.sub(_phone, text)


def rewriter(hook: Callable[[str], str] | None, builtin: bool) -> Callable[[str], str] | None:
    """One function for both: the user's hook first, then the masks; None when neither is on."""
    if hook is None:
        return mask if builtin else None
    if not builtin:
        return hook
    return lambda text: mask(hook(text))


def _rewrite(value: Any, fn: Callable[[str], str], schema: frozenset[str] | None = None) -> Any:
    if isinstance(value, str):
        result = fn(value)
        if not isinstance(result, str):
            raise TypeError("redact hook returned no str")
        return result
    if isinstance(value, (list, tuple)):
        return [_rewrite(item, fn, schema) for item in value]
    if isinstance(value, dict):
        keep = schema or frozenset()
        return {k: v if k in keep else _rewrite(v, fn, schema) for k, v in value.items()}
    return value


def rewrite_any(value: Any, fn: Callable[[str], str]) -> Any:
    """Every string inside ``value`` (tool arguments and results, retrieved documents); None if it fails."""
    try:
        return _rewrite(value, fn)
    except Exception:
        _log.debug("otel-genai: redact hook failed; content dropped", exc_info=True)
        return None


# message and part fields that are structure, not text the user or model wrote
_SCHEMA_KEYS = frozenset({"role", "type", "id", "name", "finish_reason", "modality", "mime_type"})


def apply(inv: Invocation, fn: Callable[[str], str]) -> None:
    """Rewrite every text of the call's messages in place; a failing hook drops the content instead."""
    try:
        inv.input_messages = _rewrite(inv.input_messages, fn, _SCHEMA_KEYS)
        inv.output_messages = _rewrite(inv.output_messages, fn, _SCHEMA_KEYS)
        inv.system_instructions = _rewrite(inv.system_instructions, fn, _SCHEMA_KEYS)
    except Exception:  # never record what the hook was meant to hide
        _log.debug("otel-genai: redact hook failed; content dropped", exc_info=True)
        inv.input_messages = inv.output_messages = inv.system_instructions = None


__all__ = [
    "apply",
    "luhn",
    "mask",
    "rewrite_any",
    "rewriter",
]
