"""The one hook: botocore's ``BaseClient._make_api_call`` (and aiobotocore's ``AioBaseClient`` override).

Every operation of every botocore client passes through it, including clients created before ``init()``
and clients of any ``boto3.Session``; it sees the operation name and the caller's keyword arguments, and it
spans botocore's own retries. Only ``bedrock-runtime`` operations make GenAI spans; every other call costs
one set lookup.

``opentelemetry-instrumentation-botocore`` hooks the same method and has its own Bedrock extension. When
both are active exactly one of them traces a Bedrock call: if its wrapper sits inside ours, ours runs the
call with instrumentation suppressed (so it records nothing); if it sits outside ours (it was instrumented
after otel-genai), its span is already open and ours steps aside. The mechanics are the core's
(``core/hooks.py``): this module says which operations, how to read them and where their streams are.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from ... import semconv as sc
from ...core import content
from ...core.hooks import Call, Endpoint, Provider, hook, nothing
from ...core.invocation import Invocation
from ...core.recorder import Recorder
from ...core.streams import Accumulator
from . import bodies, converse, invoke
from .guardrails import Verdict, read_config
from .models import billed_id, is_media, readable_name
from .readers import as_count, as_str

_log = logging.getLogger("otel_genai")

SERVICE = "bedrock-runtime"
CONVERSE, CONVERSE_STREAM = "Converse", "ConverseStream"
INVOKE, INVOKE_STREAM = "InvokeModel", "InvokeModelWithResponseStream"
APPLY_GUARDRAIL = "ApplyGuardrail"
OPERATIONS = frozenset({CONVERSE, CONVERSE_STREAM, INVOKE, INVOKE_STREAM, APPLY_GUARDRAIL})
_CONTRIB = "opentelemetry.instrumentation.botocore"


def error_type(exc: BaseException) -> str | None:
    """A botocore ``ClientError``'s AWS error code; None lets the recorder name the exception class."""
    return bodies.aws_error_code(exc)


# --- coexistence with opentelemetry-instrumentation-botocore ------------------------------------------


def _traces_bedrock(wrapper: Any) -> bool:
    """Is ``wrapper`` the contrib botocore instrumentor's ``_patched_api_call``, with a Bedrock extension?"""
    owner = getattr(wrapper, "__self__", None)
    cls = type(owner)
    if owner is None or cls.__module__ != _CONTRIB:
        return False
    if cls.__name__ == "BotocoreInstrumentor":
        return True
    extensions = sys.modules.get(f"{_CONTRIB}.extensions")  # aiobotocore: no Bedrock extension yet
    return SERVICE in getattr(extensions, "_AIOBOTOCORE_EXTENSIONS", {})


def contrib_position(owner: type, ours: Any) -> str | None:
    """``"outside"``/``"inside"`` when a Bedrock-tracing contrib wrapper wraps ours or is wrapped by it."""
    current = owner.__dict__.get("_make_api_call")
    inside = False
    for _ in range(16):  # a wrapper chain, never a cycle; the bound is only a guard
        wrapper = getattr(current, "_self_wrapper", None)
        if wrapper is None:
            return None
        if wrapper is ours:
            inside = True
        elif _traces_bedrock(wrapper):
            return "inside" if inside else "outside"
        current = getattr(current, "__wrapped__", None)
    return None


# --- one call ------------------------------------------------------------------------------------------


def _converse_fold(inv: Invocation, capture: bool) -> Accumulator:
    return converse.ConverseStreamAccumulator(capture)


def _invoke_fold(inv: Invocation, capture: bool) -> Accumulator:
    return invoke.InvokeStreamAccumulator(capture)


# operation -> (readers live on BedrockCall), stream fold, the result key holding the event stream
ENDPOINTS = {
    CONVERSE: Endpoint(sc.OP_CHAT, nothing, nothing),
    CONVERSE_STREAM: Endpoint(sc.OP_CHAT, nothing, nothing, _converse_fold),
    INVOKE: Endpoint(sc.OP_CHAT, nothing, nothing),
    INVOKE_STREAM: Endpoint(sc.OP_CHAT, nothing, nothing, _invoke_fold),
    APPLY_GUARDRAIL: Endpoint(sc.OP_APPLY_GUARDRAIL, nothing, nothing),
}
_STREAM_KEYS = {CONVERSE_STREAM: "stream", INVOKE_STREAM: "body"}


class BedrockCall(Call):
    """One hooked Bedrock operation: the result is a dict; InvokeModel's body is read first."""

    __slots__ = ("operation",)

    def __init__(self, provider: Provider, recorder: Recorder, inv: Invocation, operation: str) -> None:
        super().__init__(provider, recorder, inv, ENDPOINTS[operation])
        self.operation = operation

    def end(self, result: Any, *, is_async: bool) -> Any:
        try:
            _read_request_id(self.inv, result)
        except Exception:
            _log.debug("otel-genai: reading a bedrock request id failed", exc_info=True)
        return super().end(result, is_async=is_async)

    def read_response(self, inv: Invocation, result: Any, capture: bool) -> None:
        if not isinstance(result, dict) or self.operation in _STREAM_KEYS:
            return
        if self.operation == CONVERSE:
            converse.read_response(inv, result, capture)
        elif self.operation == INVOKE:
            body = invoke.parse(self.body) if self.body is not None else None
            verdict = invoke.read_response(inv, body, capture) if body is not None else Verdict()
            headers = _headers(result)
            invoke.header_usage(headers).apply_billed(inv)
            converse.read_latency(inv, headers.get("x-amzn-bedrock-invocation-latency"))
            verdict.apply(inv)
        elif self.operation == APPLY_GUARDRAIL:
            _read_guardrail_response(inv, result, capture)
            return
        if inv.response_model is None:
            inv.response_model = inv.request_model


def _headers(result: dict[str, Any]) -> dict[str, Any]:
    metadata = result.get("ResponseMetadata")
    headers = metadata.get("HTTPHeaders") if isinstance(metadata, dict) else None
    return headers if isinstance(headers, dict) else {}


def _read_request_id(inv: Invocation, result: Any) -> None:
    metadata = result.get("ResponseMetadata") if isinstance(result, dict) else None
    request_id = as_str(metadata.get("RequestId")) if isinstance(metadata, dict) else None
    if request_id:
        inv.attributes[sc.AWS_REQUEST_ID] = request_id


def _guardrail_parts(blocks: Any) -> list[dict[str, Any]]:
    """ApplyGuardrail ``content``/``outputs``: ``{"text": {"text": ...}}`` or ``{"text": ...}`` blocks."""
    found: list[dict[str, Any]] = []
    for block in blocks if isinstance(blocks, list) else ():
        text = block.get("text") if isinstance(block, dict) else None
        if isinstance(text, dict):
            text = text.get("text")
        if isinstance(text, str):
            found.append(content.text_part(text))
        elif isinstance(block, dict) and "image" in block:
            found.append({"type": "blob", "modality": "image"})
    return found


def _read_guardrail_response(inv: Invocation, result: dict[str, Any], capture: bool) -> None:
    verdict = Verdict()
    action = as_str(result.get("action"))
    if action is not None:
        verdict.intervened = action == "GUARDRAIL_INTERVENED"
    verdict.read_trace(result.get("assessments") if isinstance(result.get("assessments"), list) else None)
    if capture and isinstance(result.get("outputs"), list):
        reason = "content_filter" if verdict.intervened else "stop"
        inv.output_messages = [
            {"role": "assistant", "parts": _guardrail_parts(result["outputs"]), "finish_reason": reason}
        ]
    verdict.apply(inv)


# --- reading the request ----------------------------------------------------------------------------


def _invocation(client: Any, operation: str, params: dict[str, Any], capture: bool) -> Invocation:
    meta = client.meta
    url = urlsplit(str(meta.endpoint_url))
    port = url.port or (443 if url.scheme == "https" else 80)
    model_id = as_str(params.get("modelId"))
    model = readable_name(model_id) if model_id else None
    body = None
    if operation in (CONVERSE, CONVERSE_STREAM):
        op_name = sc.OP_CHAT
    elif operation == APPLY_GUARDRAIL:
        op_name, model = sc.OP_APPLY_GUARDRAIL, None
    else:
        body = invoke.parse(params.get("body"))  # bytes or str only: a file the caller passed is never read
        op_name = invoke.operation_for(model or "", body)
    inv = Invocation(
        op_name,
        sc.PROVIDER_AWS_BEDROCK,
        model,
        server_address=url.hostname,
        server_port=port,
        streaming=operation in (CONVERSE_STREAM, INVOKE_STREAM),
    )
    if model_id:
        inv.attributes[sc.AWS_BEDROCK_REQUEST_MODEL_ID] = model_id
        inv.pricing_model = billed_id(model_id)
    tier = params.get("serviceTier")
    if isinstance(tier, dict) and as_str(tier.get("type")):
        inv.service_tier = as_str(tier.get("type"))  # Converse's flex / priority tiers
    region = as_str(getattr(meta, "region_name", None))
    if region:
        inv.attributes[sc.CLOUD_REGION] = region
    if operation in (CONVERSE, CONVERSE_STREAM):
        converse.read_request(inv, params, capture)
    elif operation == APPLY_GUARDRAIL:
        read_config(inv, params.get("guardrailIdentifier"), params.get("guardrailVersion"))
        source = as_str(params.get("source"))
        if source:
            inv.attributes[sc.AWS_BEDROCK_GUARDRAIL_SOURCE] = source
        if capture:
            role = "assistant" if source == "OUTPUT" else "user"
            inv.input_messages = [{"role": role, "parts": _guardrail_parts(params.get("content"))}]
    else:
        read_config(inv, params.get("guardrailIdentifier"), params.get("guardrailVersion"))
        if body is not None:
            invoke.read_request(inv, body, capture)
    return inv


class BedrockHook(Provider):
    """botocore's ``_make_api_call`` on one client class (``BaseClient`` or aiobotocore's override)."""

    label = "bedrock"

    def __init__(self, owner: type, live: Callable[[], bool]) -> None:
        self.owner = owner
        self.live = live
        self.ours: Any = None  # our wrapper on ``owner``, to find the contrib wrapper's position

    def error_type(self, exc: BaseException) -> str | None:
        return error_type(exc)

    def read_error(self, inv: Invocation, exc: BaseException) -> None:
        _read_request_id(inv, getattr(exc, "response", None))

    def begin(
        self, recorder: Recorder, client: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Call | None:
        """Open the span for a bedrock-runtime operation; None for anything else (or when we step aside)."""
        if not self.live():
            return None
        operation = args[0] if args else kwargs.get("operation_name")
        if operation not in OPERATIONS or client.meta.service_model.service_name != SERVICE:
            return None
        params = args[1] if len(args) > 1 else kwargs.get("api_params")
        if not isinstance(params, dict):
            return None
        position = contrib_position(self.owner, self.ours)
        if position == "outside":
            return None  # the botocore instrumentation's Bedrock span is already open
        inv = _invocation(client, operation, params, recorder.capture_content)
        recorder.start(inv)
        call = BedrockCall(self, recorder, inv, operation)
        call.suppress = position == "inside"
        return call

    def stream_of(self, call: Call, result: Any, is_async: bool) -> Any:
        key = _STREAM_KEYS.get(getattr(call, "operation", ""))
        stream = result.get(key) if key and isinstance(result, dict) else None
        if stream is None:
            return None
        return (
            bodies.AsyncEventIterator(stream, call.inv)
            if is_async
            else bodies.EventIterator(stream, call.inv)
        )

    def put_stream(self, result: Any, proxy: Any) -> Any:
        for key in _STREAM_KEYS.values():
            if key in result:
                result[key] = proxy
                break
        return result

    def needs_body(self, call: Call, result: Any) -> bool:
        """InvokeModel bodies worth reading: JSON, not media, not larger than ``invoke.MAX_BODY``."""
        if getattr(call, "operation", None) != INVOKE or not isinstance(result, dict):
            return False
        if is_media(call.inv.request_model or ""):
            return False
        if "json" not in str(result.get("contentType") or "").lower():
            return False
        length = as_count(_headers(result).get("content-length"))
        return length is None or length <= invoke.MAX_BODY

    def read_body(self, result: Any) -> bytes | None:
        return bodies.read_sync(result)

    async def read_body_async(self, result: Any) -> bytes | None:
        return await bodies.read_async(result)


def wrapper(recorder: Recorder, owner: type, live: Callable[[], bool], *, is_async: bool) -> Any:
    """The wrapper for ``owner._make_api_call``; it knows itself (for ``contrib_position``)."""
    provider = BedrockHook(owner, live)
    sync_wrapper, async_wrapper = hook(provider, recorder)
    provider.ours = async_wrapper if is_async else sync_wrapper
    return provider.ours


__all__ = [
    "APPLY_GUARDRAIL",
    "ENDPOINTS",
    "OPERATIONS",
    "SERVICE",
    "BedrockCall",
    "BedrockHook",
    "contrib_position",
    "error_type",
    "wrapper",
]
