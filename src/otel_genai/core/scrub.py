"""Secrets out of everything we export: URLs, exception messages and stack traces.

Why: a base URL may carry a password (``http://user:pw@host``) or a key in its query (Azure SAS ``sig=``,
Gemini ``key=``); a provider's 401 may echo the API key and a 400 may quote the prompt. The rule:

- URL-valued attributes lose their userinfo, and the values of key-carrying query parameters.
- Exception text loses the API keys of the clients we saw, and key-shaped strings (``sk-…``, ``AKIA…``,
  bearer tokens, ...), which become ``REDACTED``.
- Without content capture, an error a provider answered with (it has a status code or a response) is
  exported as its status, code and type only, because its free text may quote the request's messages.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

MARKER = "REDACTED"
# query parameters whose value is a credential (compared lower-cased, '-' and '_' alike)
_KEY_PARAMS = frozenset(
    {
        "key",
        "api_key",
        "apikey",
        "sig",
        "signature",
        "token",
        "access_token",
        "code",
        "password",
        "secret",
        "client_secret",
        "x_amz_signature",
        "x_amz_security_token",
        "x_amz_credential",
        "x_goog_signature",
        "x_goog_credential",
    }
)
_KEY_SHAPES = re.compile(
    r"(?:\bsk-[A-Za-z0-9_\-]{12,}"  # OpenAI, Anthropic (sk-ant-), DeepSeek, ...
    r"|\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"  # AWS access key ids
    r"|\bAIza[0-9A-Za-z_\-]{30,}"  # Google API keys
    r"|\b(?:gsk|xai|ghp|gho|hf|pk|rk|dt0c01)[_.\-][A-Za-z0-9_.\-]{16,}"  # Groq, xAI, GitHub, HF, Dynatrace
    r"|(?i:\bbearer\s+)[A-Za-z0-9\-._~+/]{8,}=*"  # bearer tokens
    r"|(?i:\bapi-token\s+)[A-Za-z0-9\-._~+/]{8,}=*)"
)
_PREFIXED = re.compile(r"(?i)^(bearer|api-token)\s+")
_known: set[str] = set()  # API keys of the clients we instrumented (bounded below)
_MAX_KNOWN = 64


def remember(secret: object) -> None:
    """Note a client's API key so that it is redacted wherever it appears."""
    if isinstance(secret, str) and len(secret) >= 8 and secret not in _known and len(_known) < _MAX_KNOWN:
        _known.add(secret)


def text(value: str, secrets: Iterable[str] = ()) -> str:
    """``value`` with known and given secrets, and anything shaped like a key, replaced by the marker."""
    for secret in (*_known, *secrets):
        if secret and secret in value:
            value = value.replace(secret, MARKER)
    return _KEY_SHAPES.sub(_redact_match, value)


def _redact_match(match: re.Match[str]) -> str:
    prefix = _PREFIXED.match(match.group(0))
    return f"{prefix.group(0)}{MARKER}" if prefix else MARKER


def url(value: str) -> str:
    """A URL without userinfo and with the values of credential query parameters redacted."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return text(value)
    netloc = parts.netloc.rpartition("@")[2] if "@" in parts.netloc else parts.netloc
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_secret_param(k) for k, _ in pairs):
            query = "&".join(
                f"{quote(k, safe='')}={MARKER if _secret_param(k) else quote(v, safe='')}" for k, v in pairs
            )
    if netloc == parts.netloc and query == parts.query:
        return text(value)
    return text(urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)))


def _secret_param(name: str) -> bool:
    return name.lower().replace("-", "_") in _KEY_PARAMS


def provider_answered(exc: BaseException) -> bool:
    """True for an error built from a provider's response (its text may quote the request)."""
    try:
        return any(getattr(exc, name, None) is not None for name in ("status_code", "response", "body"))
    except Exception:  # a property that raises: treat as a provider error (the safe side)
        return True


def error_summary(exc: BaseException) -> str:
    """Status, code and type of a provider error, without its free text: ``401 invalid_api_key``."""
    parts: list[str] = []
    status = getattr(exc, "status_code", None)
    response: Any = getattr(exc, "response", None)
    if status is None and isinstance(response, dict):  # botocore ClientError
        status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    if status is not None:
        parts.append(str(status))
    for attribute in ("code", "type"):
        value = getattr(exc, attribute, None)
        if isinstance(value, str | int) and str(value) not in parts:
            parts.append(str(value))
    if isinstance(response, dict):
        code = (response.get("Error") or {}).get("Code")
        if isinstance(code, str) and code not in parts:
            parts.append(code)
    return text(" ".join(parts)) if parts else type(exc).__name__


def exception_message(exc: BaseException, *, content: bool) -> str:
    """What ``exception.message`` and the span status may say about ``exc``."""
    if not content and provider_answered(exc):
        return error_summary(exc)
    return text(str(exc))


def exception_attributes(exc: BaseException, *, content: bool) -> dict[str, str]:
    """The semconv ``exception`` event's attributes, scrubbed; the trace keeps frames, not messages."""
    cls = type(exc)
    name = cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    message = exception_message(exc, content=content)
    frames = "".join(traceback.format_tb(exc.__traceback__)) if exc.__traceback__ is not None else ""
    stacktrace = f"Traceback (most recent call last):\n{frames}{name}: {message}" if frames else ""
    attributes = {"exception.type": name, "exception.message": message}
    if stacktrace:
        attributes["exception.stacktrace"] = text(stacktrace)
    return attributes


def record_exception(span: Any, exc: BaseException, *, content: bool) -> str:
    """Add the scrubbed ``exception`` event to ``span``; returns the message for the span status."""
    attributes = exception_attributes(exc, content=content)
    span.add_event("exception", attributes)
    return attributes["exception.message"]


__all__ = [
    "MARKER",
    "error_summary",
    "exception_attributes",
    "exception_message",
    "provider_answered",
    "record_exception",
    "remember",
    "text",
    "url",
]
