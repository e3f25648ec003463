"""Helpers shared by the Bedrock tests: real boto3/aiobotocore clients on the replay server, recorded calls
replayed through the client's own methods, and exact span/metric checks.

Clients use fake credentials, so every request is really SigV4-signed; responses are parsed by botocore
from the recorded bytes (JSON bodies, AWS event-stream frames).
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import boto3
import pytest
from botocore.config import Config
from botocore.eventstream import EventStreamBuffer
from opentelemetry.trace import SpanKind, StatusCode

from conftest import Telemetry
from otel_genai import semconv as sc
from replay import ReplayServer

RECORDINGS = Path(__file__).parent / "recordings" / "bedrock"
ALL = sorted(p.stem for p in RECORDINGS.glob("*.json"))
MODES = pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
REGION = "us-east-1"
LEGACY_REQUEST_TYPES = {"chat": "chat", "text_completion": "completion", "embeddings": "embedding"}
METRIC_KEYS = (
    "gen_ai.operation.name",
    "gen_ai.provider.name",
    "gen_ai.request.model",
    "gen_ai.response.model",
    "server.address",
    "server.port",
)
TTFC = "gen_ai.response.time_to_first_chunk"

try:  # the async path is tested only where aiobotocore installs next to the newest botocore
    import aiobotocore  # noqa: F401

    HAS_AIOBOTOCORE = True
except ImportError:  # pragma: no cover
    HAS_AIOBOTOCORE = False
needs_aiobotocore = pytest.mark.skipif(not HAS_AIOBOTOCORE, reason="aiobotocore not installed")


# --- recordings ------------------------------------------------------------------------------------


@cache
def _text(name: str) -> str:
    return (RECORDINGS / f"{name}.json").read_text(encoding="utf-8")


def load(name: str) -> dict[str, Any]:
    """A fresh copy of the recording, so no test can alter another's expectations."""
    return json.loads(_text(name))


def interactions(name: str) -> list[dict[str, Any]]:
    return list(load(name)["interactions"])


def recorded_events(name: str, index: int = 0) -> list[tuple[str, dict[str, Any]]]:
    """The recorded event stream as (event type, payload), chunk payloads decoded from base64."""
    buffer = EventStreamBuffer()
    buffer.add_data(base64.b64decode(interactions(name)[index]["response"]["body_b64"]))
    events = []
    for message in buffer:
        payload = json.loads(message.payload)
        if "bytes" in payload:
            payload = json.loads(base64.b64decode(payload["bytes"]))
        events.append((message.headers[":event-type"], payload))
    return events


def recorded_body(name: str, index: int = 0) -> bytes:
    """The exact bytes the replay server sends for a JSON response."""
    return json.dumps(interactions(name)[index]["response"]["json"]).encode()


def frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One AWS event-stream message (string headers only), CRCs included, as botocore parses it."""
    encoded = b"".join(
        bytes([len(k)]) + k.encode() + b"\x07" + struct.pack(">H", len(v)) + v.encode()
        for k, v in headers.items()
    )
    total = 16 + len(encoded) + len(payload)
    prelude = struct.pack(">II", total, len(encoded))
    prelude += struct.pack(">I", binascii.crc32(prelude))
    message = prelude + encoded + payload
    return message + struct.pack(">I", binascii.crc32(message))


def exception_frame(code: str, message: str) -> bytes:
    headers = {":message-type": "exception", ":exception-type": code, ":content-type": "application/json"}
    return frame(headers, json.dumps({"message": message}).encode())


def with_stream_tail(name: str, keep: int, tail: bytes = b"") -> dict[str, Any]:
    """The recording's first ``keep`` stream frames followed by ``tail`` (e.g. an exception frame)."""
    recording = load(name)
    response = recording["interactions"][0]["response"]
    body = base64.b64decode(response["body_b64"])
    start = 0
    for _ in range(keep):
        start += int.from_bytes(body[start : start + 4], "big")
    response["body_b64"] = base64.b64encode(body[:start] + tail).decode()
    recording["interactions"] = recording["interactions"][:1]
    return recording


# --- calls -----------------------------------------------------------------------------------------


@dataclass
class Call:
    """One recorded request as the boto3 method and keyword arguments that send it."""

    method: str
    kwargs: dict[str, Any]
    model_id: str | None = None


def call_of(interaction: dict[str, Any]) -> Call:
    request = interaction["request"]
    path = unquote(request["path"])
    body = request["json"]
    if path.startswith("/guardrail/"):
        _, _, guardrail_id, _, version, _ = path.split("/")
        return Call(
            "apply_guardrail", {"guardrailIdentifier": guardrail_id, "guardrailVersion": version, **body}
        )
    model_id, _, action = path[len("/model/") :].rpartition("/")
    if action in ("converse", "converse-stream"):
        method = "converse" if action == "converse" else "converse_stream"
        return Call(method, {"modelId": model_id, **body}, model_id)
    kwargs: dict[str, Any] = {
        "modelId": model_id,
        "body": json.dumps(body).encode() if body is not None else b"",
    }
    headers = request.get("headers", {})
    for header, keyword in (
        ("x-amzn-bedrock-guardrailidentifier", "guardrailIdentifier"),
        ("x-amzn-bedrock-guardrailversion", "guardrailVersion"),
        ("x-amzn-bedrock-trace", "trace"),
    ):
        if header in headers:
            kwargs[keyword] = headers[header]
    method = "invoke_model" if action == "invoke" else "invoke_model_with_response_stream"
    return Call(method, kwargs, model_id)


@cache
def _session() -> boto3.Session:
    """One session for the whole run: its loader caches the service model (client creation ~40 ms less)."""
    return boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION)


def sync_client(server: ReplayServer | str) -> Any:
    url = server if isinstance(server, str) else server.url
    return _session().client(
        "bedrock-runtime", endpoint_url=url, config=Config(retries={"max_attempts": 1}, read_timeout=10)
    )


@cache
def _aio_session() -> Any:
    from aiobotocore.session import get_session

    return get_session()  # shared for its loader cache; each client still gets its own connector


@asynccontextmanager
async def async_client(server: ReplayServer) -> AsyncIterator[Any]:
    from aiobotocore.config import AioConfig

    async with _aio_session().create_client(
        "bedrock-runtime",
        endpoint_url=server.url,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=AioConfig(retries={"max_attempts": 1}, read_timeout=10),
    ) as client:
        yield client


@dataclass
class Result:
    """What the user got: the response dict, plus the consumed stream events or the read body bytes."""

    response: dict[str, Any]
    events: list[Any] = field(default_factory=list)
    body: bytes | None = None


def perform_sync(client: Any, call: Call) -> Result:
    response = getattr(client, call.method)(**call.kwargs)
    if call.method == "converse_stream":
        return Result(response, events=list(response["stream"]))
    if call.method == "invoke_model_with_response_stream":
        return Result(response, events=list(response["body"]))
    if call.method == "invoke_model":
        return Result(response, body=response["body"].read())
    return Result(response)


async def perform_async(client: Any, call: Call) -> Result:
    response = await getattr(client, call.method)(**call.kwargs)
    if call.method == "converse_stream":
        return Result(response, events=[e async for e in response["stream"]])
    if call.method == "invoke_model_with_response_stream":
        return Result(response, events=[e async for e in response["body"]])
    if call.method == "invoke_model":
        return Result(response, body=await response["body"].read())
    return Result(response)


async def replay_all(server: ReplayServer, name: str, is_async: bool) -> list[Result]:
    """Every interaction of ``name`` through the client's own methods, sync or async."""
    calls = [call_of(i) for i in interactions(name)]
    if is_async:
        async with async_client(server) as client:
            return [await perform_async(client, call) for call in calls]
    client = sync_client(server)
    return [perform_sync(client, call) for call in calls]


# --- checks ----------------------------------------------------------------------------------------


def port_of(server: ReplayServer) -> int:
    return int(server.url.rsplit(":", 1)[1])


def base_attributes(
    server: ReplayServer, operation: str, model: str | None, model_id: str | None, streaming: bool
) -> dict[str, Any]:
    """What every Bedrock span carries before the response: identity, target, legacy names."""
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": operation,
        "gen_ai.provider.name": "aws.bedrock",
        "gen_ai.system": "aws.bedrock",
        "llm.request.type": LEGACY_REQUEST_TYPES.get(operation, "unknown"),
        "server.address": "127.0.0.1",
        "server.port": port_of(server),
        "cloud.region": REGION,
    }
    if model is not None:
        attributes["gen_ai.request.model"] = model
    if model_id is not None:
        attributes["aws.bedrock.request.model_id"] = model_id
    if streaming:
        attributes["gen_ai.request.stream"] = True
        attributes["llm.is_streaming"] = True
    return attributes


def usage_attributes(
    input_tokens: int, output_tokens: int, cache_read: int | None = None, cache_write: int | None = None
) -> dict[str, Any]:
    """Usage in both families; ``input_tokens`` is already the total including cache reads and writes."""
    attributes: dict[str, Any] = {
        "gen_ai.usage.input_tokens": input_tokens,
        "gen_ai.usage.output_tokens": output_tokens,
        "gen_ai.usage.prompt_tokens": input_tokens,
        "gen_ai.usage.completion_tokens": output_tokens,
        "llm.usage.total_tokens": input_tokens + output_tokens,
    }
    if cache_read is not None:
        attributes["gen_ai.usage.cache_read.input_tokens"] = cache_read
    if cache_write is not None:
        attributes["gen_ai.usage.cache_creation.input_tokens"] = cache_write
    return attributes


def span_attributes(span: Any, *, streaming: bool) -> dict[str, Any]:
    """The span's attributes with the measured time to first chunk checked and removed, and without the
    provider-neutral gen_ai.guardrail.* fields (test_guardrails.py checks those for every recording)."""
    attributes = {k: v for k, v in (span.attributes or {}).items() if not k.startswith("gen_ai.guardrail.")}
    ttfc = attributes.pop(TTFC, None)
    if streaming:
        assert isinstance(ttfc, float) and ttfc >= 0
    else:
        assert ttfc is None
    return attributes


def check_span(span: Any, name: str, *, error: bool = False) -> None:
    assert span.name == name
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is (StatusCode.ERROR if error else StatusCode.UNSET)


def check_metrics(
    telemetry: Telemetry,
    attributes: dict[str, Any],
    *,
    streaming: bool,
    chunks: int = 2,
    error_type: str | None = None,
    server_ttft: float | None = None,
    guardrail: dict[str, int] | None = None,
) -> None:
    """One call's metric points, exactly: names, attribute sets, counts and values."""
    metrics = {name: points for name, points in telemetry.metrics().items() if points}
    base = {k: attributes[k] for k in METRIC_KEYS if k in attributes}
    expected = {sc.METRIC_OPERATION_DURATION}
    [duration] = metrics[sc.METRIC_OPERATION_DURATION]
    assert dict(duration.attributes) == ({**base, "error.type": error_type} if error_type else base)
    assert duration.count == 1
    if "gen_ai.usage.input_tokens" in attributes:
        expected.add(sc.METRIC_TOKEN_USAGE)
        tokens = {p.attributes["gen_ai.token.type"]: p for p in metrics[sc.METRIC_TOKEN_USAGE]}
        assert set(tokens) == {"input", "output"}
        for kind in ("input", "output"):
            point = tokens[kind]
            assert dict(point.attributes) == {**base, "gen_ai.token.type": kind}
            assert (point.count, point.sum) == (1, attributes[f"gen_ai.usage.{kind}_tokens"])
    if attributes.get("gen_ai.response.finish_reasons"):
        expected.add(sc.METRIC_GENERATION_CHOICES)
        [choices] = metrics[sc.METRIC_GENERATION_CHOICES]
        assert (dict(choices.attributes), choices.value) == (
            base,
            len(attributes["gen_ai.response.finish_reasons"]),
        )
    if streaming:  # one mean inter-chunk point per stream of two or more chunks
        names = (sc.METRIC_TIME_TO_FIRST_CHUNK, sc.METRIC_TIME_PER_OUTPUT_CHUNK)[: 2 if chunks >= 2 else 1]
        expected.update(names)
        for name in names:
            [point] = metrics[name]
            assert (dict(point.attributes), point.count) == (base, 1)
    if server_ttft is not None:
        expected |= {sc.METRIC_SERVER_TIME_TO_FIRST_TOKEN, sc.METRIC_SERVER_TIME_PER_OUTPUT_TOKEN}
        [first] = metrics[sc.METRIC_SERVER_TIME_TO_FIRST_TOKEN]
        assert (dict(first.attributes), first.count, first.sum) == (base, 1, server_ttft)
    if guardrail:
        expected.add(sc.METRIC_BEDROCK_GUARDRAIL_ACTIVATION)
        counted = {
            p.attributes["gen_ai.guardrail.type"]: (dict(p.attributes), p.value)
            for p in metrics[sc.METRIC_BEDROCK_GUARDRAIL_ACTIVATION]
        }
        guardrail_id = attributes["aws.bedrock.guardrail.id"]
        assert counted == {
            kind: (
                {
                    "gen_ai.provider.name": "aws.bedrock",
                    "aws.bedrock.guardrail.id": guardrail_id,
                    "gen_ai.guardrail.type": kind,
                },
                value,
            )
            for kind, value in guardrail.items()
        }
    assert set(metrics) == expected
