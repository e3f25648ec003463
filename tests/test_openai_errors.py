"""HTTP errors, the client's own retries and timeouts, through the real ``openai`` client on loopback.

No recording holds a 429 or a 5xx (tests/recordings/README.md, Known gaps), so these build small
recordings from chat_basic_gpt4o_mini.json: its request, and an error answer in place of (or before) its
response. error.type is the provider's error code, else the HTTP status, else the openai exception class.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import openai
import pytest
from opentelemetry.trace import StatusCode

from conftest import Telemetry, kwargs_for
from openai_support import (
    BASIC,
    MODES,
    Clients,
    assert_chat_span,
    assert_metrics,
    base_attributes,
    body_of,
    load,
    resolved,
    span_of,
)
from replay import ReplayServer

RETRY_AFTER_MS = 50  # honoured exactly by the client (no jitter), so two retries wait >= 0.1 s


@pytest.fixture
async def clients() -> AsyncIterator[Clients]:
    async with Clients() as made:
        yield made


def with_answers(*answers: dict[str, Any]) -> dict[str, Any]:
    """The basic chat recording's interaction, answered by each of ``answers`` in turn."""
    interaction = load(BASIC)["interactions"][0]
    return {"interactions": [{"request": interaction["request"], "response": answer} for answer in answers]}


def error_answer(status: int, error: dict[str, Any], **headers: str) -> dict[str, Any]:
    return {
        "status": status,
        "headers": {"content-type": "application/json", **headers},
        "json": {"error": error},
    }


def error_attributes(server: ReplayServer, error_type: str) -> dict[str, Any]:
    return {
        **base_attributes(server, "chat", "gpt-4o-mini"),
        "openai.api.type": "chat_completions",
        "error.type": error_type,
    }


RATE_LIMITED = error_answer(
    429,
    {"message": "Rate limit reached", "type": "requests", "param": None, "code": "rate_limit_exceeded"},
    **{"x-should-retry": "false"},
)
SERVER_ERROR = error_answer(500, {"message": "The server had an error", "type": "server_error"})

# answer -> (error.type, exception class)
STATUS_ERRORS = {
    "429_rate_limit_exceeded": (RATE_LIMITED, "rate_limit_exceeded", openai.RateLimitError),
    "500_without_code": (SERVER_ERROR, "500", openai.InternalServerError),
}


@MODES
@pytest.mark.parametrize("case", list(STATUS_ERRORS))
async def test_status_error(
    case: str,
    is_async: bool,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    clients: Clients,
) -> None:
    """An HTTP error: ERROR span with the error code (or the status when the body has none)."""
    answer, error_type, error_class = STATUS_ERRORS[case]
    telemetry = instrument()
    server = replay(with_answers(answer))
    client = clients.openai(server.url + "/v1", is_async)
    with pytest.raises(openai.APIStatusError) as info:
        await resolved(client.chat.completions.create(**kwargs_for(body_of(BASIC))))
    assert type(info.value) is error_class
    assert info.value.status_code == answer["status"]

    span = telemetry.span()
    attributes = span_of(telemetry, "chat gpt-4o-mini", error=True)
    assert attributes == error_attributes(server, error_type)
    assert [e.attributes["exception.type"] for e in span.events] == [f"openai.{error_class.__name__}"]
    assert_metrics(telemetry.metrics(), attributes, error_type=error_type)
    server.assert_all_served()


@MODES
async def test_retries_stay_inside_one_span(
    is_async: bool,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    clients: Clients,
) -> None:
    """Two retryable 500s, then the answer: the client retries inside one successful span whose duration
    (and duration metric) includes both waits; the failed attempts leave no error on it."""
    retry = {"x-should-retry": "true", "retry-after-ms": str(RETRY_AFTER_MS)}
    answers = [error_answer(500, {"message": "try again", "type": "server_error"}, **retry)] * 2
    telemetry = instrument()
    server = replay(with_answers(*answers, load(BASIC)["interactions"][0]["response"]))
    client = clients.openai(server.url + "/v1", is_async, max_retries=2)
    completion = await resolved(client.chat.completions.create(**kwargs_for(body_of(BASIC))))
    assert completion.usage.prompt_tokens == 12
    assert [r.json for r in server.requests] == [body_of(BASIC)] * 3
    server.assert_all_served()

    span = telemetry.span()
    assert span.status.status_code is StatusCode.UNSET
    assert list(span.events) == []
    waited = 2 * RETRY_AFTER_MS / 1000
    assert span.end_time is not None and span.start_time is not None
    assert (span.end_time - span.start_time) / 1e9 >= waited
    [duration] = assert_chat_span(telemetry, server, BASIC)["gen_ai.client.operation.duration"]
    assert duration.sum >= waited


@MODES
async def test_retries_exhausted(
    is_async: bool,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    clients: Clients,
) -> None:
    """When every attempt fails, one ERROR span carries the last attempt's status."""
    retry = {"x-should-retry": "true", "retry-after-ms": "1"}
    telemetry = instrument()
    server = replay(
        with_answers(*[error_answer(503, {"message": "busy", "type": "server_error"}, **retry)] * 3)
    )
    client = clients.openai(server.url + "/v1", is_async, max_retries=2)
    with pytest.raises(openai.InternalServerError):
        await resolved(client.chat.completions.create(**kwargs_for(body_of(BASIC))))
    assert len(server.requests) == 3
    attributes = span_of(telemetry, "chat gpt-4o-mini", error=True)
    assert attributes == error_attributes(server, "503")
    assert_metrics(telemetry.metrics(), attributes, error_type="503")


@MODES
async def test_timeout(
    is_async: bool,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    clients: Clients,
) -> None:
    """The server answers after the client's timeout: error.type is the openai exception class."""
    telemetry = instrument()
    server = replay(f"openai/{BASIC}.json", delay_between_chunks=1.0)
    client = clients.openai(server.url + "/v1", is_async, timeout=0.2)
    with pytest.raises(openai.APITimeoutError) as info:
        await resolved(client.chat.completions.create(**kwargs_for(body_of(BASIC))))
    assert type(info.value) is openai.APITimeoutError

    span = telemetry.span()
    attributes = span_of(telemetry, "chat gpt-4o-mini", error=True)
    assert attributes == error_attributes(server, "openai.APITimeoutError")
    assert [e.attributes["exception.type"] for e in span.events] == ["openai.APITimeoutError"]
    assert_metrics(telemetry.metrics(), attributes, error_type="openai.APITimeoutError")
