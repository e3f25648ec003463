"""Secrets never leave: passwords and keys in URLs, API keys and prompts echoed by provider errors.

Checked on the bytes an OTLP exporter would send (the spans encoded exactly as the OTLP/HTTP exporter
encodes them), so nothing can hide in an attribute, an event or the status.
"""

from __future__ import annotations

from typing import Any

import openai
import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.trace import StatusCode

from conftest import API_KEY, Telemetry
from otel_genai.core import scrub

PROMPT = "my confidential prompt about Project Nightingale"
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": PROMPT}]}


def error_recording(status: int, error: dict[str, Any]) -> dict[str, Any]:
    """One chat request answered by ``status`` with OpenAI's error body shape."""
    return {
        "interactions": [
            {
                "request": {"method": "POST", "path": "/v1/chat/completions", "json": CHAT},
                "response": {
                    "status": status,
                    "headers": {"content-type": "application/json"},
                    "json": {"error": error},
                },
            }
        ]
    }


ECHOED_KEY = error_recording(
    401,
    {
        "message": f"Incorrect API key provided: {API_KEY}. Also saw Bearer abcdefghijklmnop1234.",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_api_key",
    },
)
QUOTED_PROMPT = error_recording(
    400,
    {
        "message": f"Invalid 'messages[0].content': {PROMPT!r} is flagged. Key AKIAABCDEFGHIJKLMNOP leaked.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "content_policy_violation",
    },
)


def exported_bytes(telemetry: Telemetry) -> bytes:
    return encode_spans(telemetry.spans()).SerializeToString()


def fail_once(client: openai.OpenAI) -> openai.APIStatusError:
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(**CHAT)
    return info.value


def test_api_key_echoed_by_a_401_is_not_exported(instrument: Any, replay: Any) -> None:
    telemetry = instrument()
    server = replay(ECHOED_KEY)
    exc = fail_once(openai.OpenAI(base_url=server.url + "/v1", api_key=API_KEY, max_retries=0))
    assert API_KEY in str(exc)  # the user's exception is untouched
    data = exported_bytes(telemetry)
    assert API_KEY.encode() not in data
    assert b"abcdefghijklmnop1234" not in data
    span = telemetry.span()
    assert span.status.status_code is StatusCode.ERROR
    (event,) = span.events
    assert event.attributes["exception.type"] == "openai.AuthenticationError"
    assert event.attributes["exception.message"] == "401 invalid_api_key invalid_request_error"
    assert event.attributes["exception.stacktrace"].endswith(
        "openai.AuthenticationError: 401 invalid_api_key invalid_request_error"
    )


def test_prompt_quoted_by_a_400_is_not_exported_without_content_capture(instrument: Any, replay: Any) -> None:
    telemetry = instrument()
    server = replay(QUOTED_PROMPT)
    fail_once(openai.OpenAI(base_url=server.url + "/v1", api_key=API_KEY, max_retries=0))
    data = exported_bytes(telemetry)
    assert b"Nightingale" not in data
    assert b"content_policy_violation" in data  # the code stays
    assert dict(telemetry.span().attributes or {})["error.type"] == "content_policy_violation"


def test_with_content_capture_the_error_text_stays_but_keys_go(instrument: Any, replay: Any) -> None:
    telemetry = instrument(capture_message_content="SPAN_ONLY")
    server = replay(QUOTED_PROMPT)
    fail_once(openai.OpenAI(base_url=server.url + "/v1", api_key=API_KEY, max_retries=0))
    (event,) = telemetry.span().events
    message = event.attributes["exception.message"]
    assert "Project Nightingale" in message
    assert "AKIAABCDEFGHIJKLMNOP" not in message
    assert f"Key {scrub.MARKER} leaked" in message
    assert b"AKIAABCDEFGHIJKLMNOP" not in exported_bytes(telemetry)


def test_password_in_base_url_is_not_exported(instrument: Any, replay: Any) -> None:
    telemetry = instrument()
    server = replay("openai/chat_basic_gpt4o_mini.json")
    host = server.url.removeprefix("http://")
    client = openai.OpenAI(base_url=f"http://user:P4ssw0rd@{host}/v1/", api_key=API_KEY, max_retries=0)
    from test_init import BODY

    client.chat.completions.create(**BODY)
    span = telemetry.span()
    assert dict(span.attributes or {})["gen_ai.openai.api_base"] == f"http://{host}/v1/"
    data = exported_bytes(telemetry)
    assert b"P4ssw0rd" not in data
    assert b"user:" not in data


def test_image_url_signature_is_not_exported_with_content_capture(instrument: Any, replay: Any) -> None:
    telemetry = instrument(capture_message_content="SPAN_ONLY")
    server = replay("openai/chat_basic_gpt4o_mini.json")
    from test_init import BODY

    signed = "https://blob.example.net/cat.png?sv=2024&sig=S3cr3tS1gnature&se=2030"
    body = {
        **BODY,
        "messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": signed}}]},
        ],
    }
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=API_KEY, max_retries=0)
    client.chat.completions.create(**body)
    data = exported_bytes(telemetry)
    assert b"S3cr3tS1gnature" not in data
    assert b"blob.example.net/cat.png?sv=2024&sig=REDACTED&se=2030" in data


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://user:P4ssw0rd@host/v1/", "http://host/v1/"),
        ("https://host/v1?key=AIzaSy123&alt=sse", "https://host/v1?key=REDACTED&alt=sse"),
        ("https://h/x?api-key=abc&api-version=2024", "https://h/x?api-key=REDACTED&api-version=2024"),
        ("https://h/x?token=t0k&sig=s1g", "https://h/x?token=REDACTED&sig=REDACTED"),
        ("https://api.openai.com/v1", "https://api.openai.com/v1"),
    ],
)
def test_url_scrubbing(url: str, expected: str) -> None:
    assert scrub.url(url) == expected


@pytest.mark.parametrize(
    "secret",
    [
        "sk-proj-abcdefghijklmnopqrstuvwxyz0123",
        "sk-ant-api03-abcdefghijklmnop",
        "AKIAIOSFODNN7EXAMPLE",
        "AIzaSyA-abcdefghijklmnopqrstuvwxyz012345",
        "gsk_abcdefghijklmnopqrstuvwx",
    ],
)
def test_key_shaped_strings_are_redacted(secret: str) -> None:
    assert scrub.text(f"failed with {secret} here") == f"failed with {scrub.MARKER} here"


def test_bearer_token_keeps_its_scheme() -> None:
    assert scrub.text("Authorization: Bearer eyJhbGciOi.J9.abc") == f"Authorization: Bearer {scrub.MARKER}"


def test_a_plain_error_message_is_kept() -> None:
    assert scrub.exception_message(ValueError("tool failed: no order A-17"), content=False) == (
        "tool failed: no order A-17"
    )


ECHO_APP = """
import json, sys
import openai
import otel_genai
from replay import ReplayServer
import test_secrets

otel_genai.init(endpoint=sys.argv[1])
with ReplayServer(test_secrets.ECHOED_KEY) as server:
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=test_secrets.API_KEY, max_retries=0)
    try:
        client.chat.completions.create(**test_secrets.CHAT)
    except openai.AuthenticationError as exc:
        echoed = test_secrets.API_KEY in str(exc)
otel_genai.shutdown()
print(json.dumps({"echoed": echoed}))
"""


def test_echoed_key_never_reaches_the_otlp_receiver() -> None:
    """End to end: a real application, the real OTLP/HTTP exporter, the bytes the receiver got."""
    import child_app
    from otlp_receiver import OtlpReceiver

    with OtlpReceiver() as receiver:
        result = child_app.run(ECHO_APP, child_app.clean_env(), receiver.endpoint)
        assert child_app.last_json(result) == {"echoed": True}  # the user's exception still has it
        receiver.wait_for(lambda: receiver.spans())
    bodies = b"".join(body for _, body in receiver.raw_bodies)
    assert b"invalid_api_key" in bodies
    assert API_KEY.encode() not in bodies
    assert b"Incorrect API key provided" not in bodies
