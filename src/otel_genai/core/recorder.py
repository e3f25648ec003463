"""Turns invocations into spans, metrics and events: the only place that knows attribute names.

Every provider calls ``start()`` before the request and ``finish()`` once the response (or the stream,
or the error) is complete. Nothing here may raise into user code: ``finish`` logs failures at debug
level and still ends the span.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from itertools import repeat
from operator import truediv
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.metrics import MeterProvider, get_meter
from opentelemetry.trace import SpanKind, Status, StatusCode, TracerProvider

from .. import semconv as sc
from ..config import ContentCapture, Settings, warn_once
from ..version import __version__
from . import audit, content, fastspan, pricing, redaction, scope, scrub
from .invocation import Invocation
from .readers import finish_reason

_log = logging.getLogger("otel_genai")
_INFERENCE_KEY = otel_context.create_key("otel_genai.inference")
_SCOPE = "otel_genai"


_CAPTURE_SETTING = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"


def _event_logger(logger_provider: Any, setting: str, consequence: str) -> Any:
    """The ``otel_genai`` logger for events, or None where its ``emit`` lacks the keyword form they are
    recorded with (``emit(event_name=..., attributes=..., context=...)``: API and SDK 1.38 and later).
    Before that every event would fail inside the guard, unseen; instead one warning names the setting."""
    from opentelemetry._logs import get_logger

    logger = get_logger(_SCOPE, __version__, logger_provider)
    try:
        import inspect

        takes = "event_name" in inspect.signature(logger.emit).parameters
    except (TypeError, ValueError):  # no signature to read: assume the current API
        takes = True
    if takes:
        return logger
    warn_once(
        setting,
        "otel-genai: %s needs opentelemetry-api and -sdk 1.38 or later (Logger.emit with event_name); %s",
        setting,
        consequence,
    )
    return None


def active_invocation() -> Invocation | None:
    """The inference currently open in this context (any layer), if any."""
    value = otel_context.get_value(_INFERENCE_KEY)
    return value if isinstance(value, Invocation) else None


def normalise_finish_reasons(inv: Invocation) -> None:
    """The one finish-reason rule for every provider: semconv values (stop, length, content_filter,
    tool_call, error) through ``readers.finish_reason``; a value it does not know is kept as sent."""
    reasons = inv.finish_reasons
    if reasons:
        inv.finish_reasons = [finish_reason(r) or r for r in reasons]
    for message in inv.output_messages or ():
        reason = message.get("finish_reason")
        if reason is not None:
            message["finish_reason"] = finish_reason(reason) or reason


def error_type_of(exc: BaseException) -> str:
    """Low-cardinality error id: ``module.QualName``, unqualified for builtins (python-genai's rule)."""
    cls = type(exc)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


_LEGACY_PREFIXES = ("gen_ai.openai.", "llm.", "traceloop.", "gen_ai.prompt.", "gen_ai.completion.")
# Deprecated names that share the gen_ai. prefix: legacy too, so they stay off the semconv event.
_LEGACY_NAMES = frozenset(
    {sc.LEGACY_SYSTEM, sc.LEGACY_USAGE_PROMPT_TOKENS, sc.LEGACY_USAGE_COMPLETION_TOKENS}
)


def _sdk_set_attributes(span: Any, attributes: dict[str, Any]) -> None:
    span.set_attributes(attributes)


def _with(key: tuple[tuple[str, Any], ...], attributes: dict[str, Any], name: str, value: Any) -> Any:
    """``tuple({**attributes, name: value}.items())``, given ``key == tuple(attributes.items())``."""
    if name in attributes:
        return tuple({**attributes, name: value}.items())
    return (*key, (name, value))


class _Keyed:
    """An SDK instrument (the application's own MeterProvider) behind the fast instruments' interface."""

    __slots__ = ("_instrument",)

    def __init__(self, instrument: Any) -> None:
        self._instrument = instrument

    def record(self, amount: float, attributes: dict[str, Any] | None = None) -> None:
        self._instrument.record(amount, attributes)

    def add(self, amount: float, attributes: dict[str, Any] | None = None) -> None:
        self._instrument.add(amount, attributes)

    def record_key(self, amount: float, key: tuple[tuple[str, Any], ...]) -> None:
        self._instrument.record(amount, dict(key))

    def add_key(self, amount: float, key: tuple[tuple[str, Any], ...]) -> None:
        self._instrument.add(amount, dict(key))


def _legacy_name(name: str) -> bool:
    return name in _LEGACY_NAMES or name.startswith(_LEGACY_PREFIXES)


_KNOWN_NAMES: dict[str, bool] = {}  # attribute name -> _legacy_name(name), for the names calls repeat


def _is_legacy(name: str) -> bool:
    """``_legacy_name``, remembered: a call's provider attributes are the same few names every time."""
    known = _KNOWN_NAMES.get(name)
    if known is None:
        known = _legacy_name(name)
        if len(_KNOWN_NAMES) < 1024:  # scope attributes carry application-chosen names
            _KNOWN_NAMES[name] = known
    return known


_COUNT_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "vector_size",
)
_MAX_COUNT = 2**53  # beyond it a count is garbage (and past 2**63 it could not even be encoded)


def _drop_bad_counts(inv: Invocation) -> None:
    """A negative, non-integer or absurd count from a provider or proxy is unknown, never recorded."""
    for name in _COUNT_FIELDS:
        value = getattr(inv, name)
        if value is not None and (
            type(value) is not int or not 0 <= value <= _MAX_COUNT  # bool and float are not counts
        ):
            setattr(inv, name, None)


def _fit(span: Any, legacy: dict[str, Any], rest: dict[str, Any]) -> dict[str, Any]:
    """The newest of ``legacy`` that fit beside ``rest`` under the span's attribute count limit.

    The SDK would evict the oldest itself, but logs a line per evicted key (hundreds for a long
    conversation); trimming first keeps the same attributes and stderr quiet.
    """
    limit = getattr(getattr(span, "_limits", None), "max_span_attributes", None)
    if not isinstance(limit, int) or not legacy:
        return legacy
    current = getattr(span, "_attributes", None) or {}
    room = limit - len(current) - sum(1 for key in rest if key not in current)
    if room >= len(legacy):
        return legacy
    return dict(list(legacy.items())[-room:]) if room > 0 else {}


# (attribute, Invocation field) pairs emitted whenever the field is known
_SHARED_FIELDS = (
    (sc.REQUEST_MAX_TOKENS, "max_tokens"),
    (sc.REQUEST_TEMPERATURE, "temperature"),
    (sc.REQUEST_TOP_P, "top_p"),
    (sc.RESPONSE_MODEL, "response_model"),
)
_SEMCONV_FIELDS = (
    (sc.REQUEST_TOP_K, "top_k"),
    (sc.REQUEST_STOP_SEQUENCES, "stop_sequences"),
    (sc.REQUEST_SEED, "seed"),
    (sc.REQUEST_FREQUENCY_PENALTY, "frequency_penalty"),
    (sc.REQUEST_PRESENCE_PENALTY, "presence_penalty"),
    (sc.OUTPUT_TYPE, "output_type"),
    (sc.REQUEST_REASONING_LEVEL, "reasoning_level"),
    (sc.RESPONSE_ID, "response_id"),
    (sc.RESPONSE_FINISH_REASONS, "finish_reasons"),
    (sc.USAGE_INPUT_TOKENS, "input_tokens"),
    (sc.USAGE_OUTPUT_TOKENS, "output_tokens"),
    (sc.USAGE_CACHE_READ_INPUT_TOKENS, "cache_read_tokens"),
    (sc.USAGE_CACHE_CREATION_INPUT_TOKENS, "cache_write_tokens"),
    (sc.USAGE_REASONING_OUTPUT_TOKENS, "reasoning_tokens"),
    (sc.ERROR_TYPE, "error_type"),
)


class Recorder:
    """Owns the tracer, the instruments (created once) and the content policy for one configuration."""

    def __init__(
        self,
        settings: Settings,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        logger_provider: Any = None,
    ) -> None:
        self.settings = settings
        self.capture: ContentCapture = settings.capture_content
        self.capture_content = settings.capture_content.enabled  # providers read content only when True
        self._content_on_span = settings.capture_content.on_span
        self._semconv = settings.semconv_attributes
        self._legacy = settings.legacy_attributes
        self._limit = settings.max_content_length
        self.tracer = trace.get_tracer(_SCOPE, __version__, tracer_provider)
        # On the provider init() built, attributes we built skip the SDK's re-check (core/fastspan.py).
        fast_spans = getattr(tracer_provider, "_otel_genai_fast_spans", False) is True
        self._set_attributes = fastspan.set_attributes if fast_spans else _sdk_set_attributes
        self._starter = fastspan.SpanStarter(self.tracer, tracer_provider) if fast_spans else None
        meter = get_meter(_SCOPE, __version__, meter_provider)
        # The provider init() built carries a fast in-process aggregator (core/fastmetrics.py).
        fast = getattr(meter_provider, "_otel_genai_metrics", None)
        self._fast = fast

        def histogram(name: str, unit: str, description: str) -> Any:
            if fast is not None:
                return fast.histogram(name, unit, description, sc.HISTOGRAM_BUCKETS[name])
            return _Keyed(
                meter.create_histogram(
                    name, unit, description, explicit_bucket_boundaries_advisory=sc.HISTOGRAM_BUCKETS[name]
                )
            )

        def counter(name: str, unit: str, description: str) -> Any:
            if fast is not None:
                return fast.counter(name, unit, description)
            return _Keyed(meter.create_counter(name, unit, description))

        # One point per chunk where it is cheap (our aggregator); the stream's mean gap otherwise.
        self.per_chunk_metrics = (
            settings.per_chunk_metrics if settings.per_chunk_metrics is not None else fast is not None
        )

        self._duration = histogram(sc.METRIC_OPERATION_DURATION, "s", "GenAI operation duration.")
        self._tokens = histogram(sc.METRIC_TOKEN_USAGE, "{token}", "Input and output tokens used.")
        self._ttfc = histogram(sc.METRIC_TIME_TO_FIRST_CHUNK, "s", "Time to the first chunk of a stream.")
        self._tpoc = histogram(sc.METRIC_TIME_PER_OUTPUT_CHUNK, "s", "Time between chunks of a stream.")
        self._choices = counter(sc.METRIC_GENERATION_CHOICES, "{choice}", "Choices returned by a generation.")
        self._vector_size = counter(
            sc.METRIC_EMBEDDINGS_VECTOR_SIZE, "{element}", "Size of the returned embedding vectors."
        )
        self._server_ttft = histogram(
            sc.METRIC_SERVER_TIME_TO_FIRST_TOKEN, "s", "Time to first token as the model server measured it."
        )
        self._server_tpot = histogram(
            sc.METRIC_SERVER_TIME_PER_OUTPUT_TOKEN,
            "s",
            "Time per output token as the model server measured it.",
        )
        self._meter = meter
        self._counters: dict[str, Any] = {}  # provider-specific counters, keyed by metric name (a fixed set)
        self._events: Any = None
        if self.capture.on_event:
            from opentelemetry._logs import SeverityNumber

            self._events = _event_logger(
                logger_provider, f"{_CAPTURE_SETTING}={self.capture.value}", "content events are off"
            )
            self._debug_severity = SeverityNumber.DEBUG  # semconv: the details event is DEBUG
            if self._events is None and not self.capture.on_span:
                self.capture_content = False  # EVENT_ONLY without events: the content has nowhere to go
        # cost, prompt caching, guardrails, audit trail and redaction (docs/telemetry.md)
        self._prices = (
            pricing.table(settings.prices, settings.cost) if settings.cost or settings.prices else None
        )
        self._cost = counter(sc.METRIC_COST, "USD", "Price of GenAI calls in USD.")
        self._cost_savings = counter(sc.METRIC_COST_SAVINGS, "USD", "USD saved by prompt-cache reads.")
        self._cache_tokens = counter(
            sc.METRIC_TOKEN_CACHE, "{token}", "Prompt-cache tokens read and written."
        )
        self._guardrail_executions = counter(
            sc.METRIC_GUARDRAIL_EXECUTIONS, "{request}", "Requests with a guardrail or content filter."
        )
        self._guardrail_activations = counter(
            sc.METRIC_GUARDRAIL_ACTIVATIONS, "{activation}", "Guardrail activations by type and stage."
        )
        self._audit: Any = None
        if settings.audit:
            self._audit = _event_logger(logger_provider, "OTEL_GENAI_AUDIT", "the audit trail is off")
        if self._audit is not None:
            self.capture_content = True  # the audit record's digests need the content; it stays off spans
        self.redact = self._redact = redaction.rewriter(settings.redact, settings.mask_content)

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self, inv: Invocation, *, activate: bool = True) -> None:
        """Open the span (sampling-relevant attributes at start) or join an inference already open."""
        inv.start_ns = time.perf_counter_ns()
        ctx = otel_context.get_current()  # read once: scope, outer inference, parent span
        for key, value in scope.attributes(ctx).items():  # workflow name, association properties
            inv.attributes.setdefault(key, value)
        outer = ctx.get(_INFERENCE_KEY)
        if isinstance(outer, Invocation) and outer.span is not None:
            inv.outer = outer  # another layer (e.g. LangChain) owns the span: enrich it, emit nothing
            return
        prices = self._prices
        if prices is not None and not prices.loaded and prices.priceable(inv.provider):
            prices.warm()  # import genai-prices while the request is in flight, off this thread
        name = f"{inv.operation} {inv.request_model}" if inv.request_model else inv.operation
        if self._starter is not None:
            inv.span = self._starter.start(name, ctx, self._start_attributes(inv))
        else:
            inv.span = self.tracer.start_span(
                name, ctx, kind=SpanKind.CLIENT, attributes=self._start_attributes(inv)
            )
        if activate:
            ctx = trace.set_span_in_context(inv.span, ctx)
            inv.context_token = otel_context.attach(otel_context.set_value(_INFERENCE_KEY, inv, ctx))

    def chunk(self, inv: Invocation) -> None:
        """One streamed chunk arrived now (a layer without a stream proxy: LangChain's token callbacks)."""
        now = time.perf_counter_ns()
        inv.streaming = True
        if inv.first_chunk_ns is None:
            inv.first_chunk_ns = now
        inv.last_chunk_ns = now
        inv.chunk_count += 1

    def deactivate(self, inv: Invocation) -> None:
        """Leave the span's context (the call returned; a stream may still be open)."""
        token, inv.context_token = inv.context_token, None
        if token is not None:
            try:
                otel_context.detach(token)  # type: ignore[arg-type]
            except Exception:  # a foreign context mix-up must not reach the user
                _log.debug("otel-genai: context detach failed", exc_info=True)

    def fail(self, inv: Invocation, exc: BaseException, error_type: str | None = None) -> None:
        """Finish with an error; the caller re-raises the user's exception unchanged."""
        inv.error_type = error_type or inv.error_type or error_type_of(exc)
        if inv.span is not None:
            try:  # scrubbed: no API key, and no provider free text unless content capture is on
                scrub.record_exception(inv.span, exc, content=self.capture_content)
            except Exception:
                _log.debug("otel-genai: record_exception failed", exc_info=True)
        self.finish(inv)

    def finish(self, inv: Invocation) -> None:
        """Emit span attributes, metrics and the event, then end the span. Safe to call more than once."""
        self.deactivate(inv)
        if inv.outer is not None:
            inv.merge_into(inv.outer)
            inv.outer = None
            return
        span = inv.span
        if span is None:
            return
        inv.span = None  # from here on a second finish() is a no-op
        end_ns = time.perf_counter_ns()
        quote = None
        try:
            _drop_bad_counts(inv)  # before pricing: a negative or absurd count is unknown, never priced
            quote = self._quote(inv)
            if quote is pricing.PENDING:  # the price table is loading: that thread completes the call
                end_time = time.time_ns()
                self._prices.later(  # type: ignore[union-attr]
                    inv, lambda found: self._complete(inv, span, end_ns, found, end_time)
                )
                return
        except Exception:
            quote = None
            _log.debug("otel-genai: pricing failed", exc_info=True)
        self._complete(inv, span, end_ns, quote)

    def _complete(
        self,
        inv: Invocation,
        span: Any,
        end_ns: int,
        quote: pricing.Quote | None,
        end_time: int | None = None,
    ) -> None:
        """Everything ``finish`` records, then the span's end (``end_time`` when completed later)."""
        try:
            normalise_finish_reasons(inv)
            digests = self._digests(inv) if self._audit is not None else None
            if self._redact is not None:
                redaction.apply(inv, self._redact)
            attributes = self._span_attributes(inv)
            cost = quote.cost(inv) if quote is not None else None
            if cost is not None:
                attributes[sc.USAGE_COST] = cost[0]
                if cost[1] is not None:
                    attributes[sc.USAGE_CACHE_SAVINGS] = cost[1]
            self._guardrail_attributes(inv, attributes)
            if inv.enriched:  # the client layer named the model and server after the span started
                attributes = {**self._start_attributes(inv), **attributes}
                if inv.request_model:
                    span.update_name(f"{inv.operation} {inv.request_model}")
            if span.is_recording():
                if self._content_on_span:
                    # Past the SDK's attribute count limit (128) the oldest keys are evicted: a long
                    # conversation's per-message legacy content must go first, never the operation,
                    # model or usage, so content is set before them and the start attributes again.
                    extra = self._content_attributes(inv)
                    legacy = {k: v for k, v in extra.items() if _legacy_name(k)}
                    rest = {k: v for k, v in extra.items() if k not in legacy}
                    rest.update({**self._start_attributes(inv), **attributes})
                    self._set_attributes(span, {**_fit(span, legacy, rest), **rest})
                else:
                    self._set_attributes(span, attributes)
            if inv.error_type is not None:
                span.set_status(Status(StatusCode.ERROR))
            self._record_metrics(inv, end_ns, cost)
            if self._events is not None:
                self._emit_event(inv, attributes, span)
            if self._audit is not None:
                self._emit_audit(inv, attributes, span, digests)
        except Exception:
            _log.debug("otel-genai: recording telemetry failed", exc_info=True)
        finally:
            span.end(end_time=end_time)

    def _quote(self, inv: Invocation) -> Any:
        """The call's price quote (None: unpriced), or ``pricing.PENDING`` while the table loads."""
        prices = self._prices
        if prices is None or inv.error_type is not None:
            return None
        if inv.input_tokens is None and inv.output_tokens is None:
            return None
        return prices.quote(inv)

    # --- attributes --------------------------------------------------------------------------

    def _start_attributes(self, inv: Invocation) -> dict[str, Any]:
        attributes: dict[str, Any] = {sc.OPERATION_NAME: inv.operation}
        if self._semconv:
            attributes[sc.PROVIDER_NAME] = inv.provider
        if self._legacy:
            attributes[sc.LEGACY_SYSTEM] = sc.LEGACY_SYSTEM_NAMES.get(inv.provider, inv.provider)
        if inv.request_model:
            attributes[sc.REQUEST_MODEL] = inv.request_model
        if inv.server_address:
            attributes[sc.SERVER_ADDRESS] = inv.server_address
        if inv.server_port:
            attributes[sc.SERVER_PORT] = inv.server_port
        return attributes

    def _span_attributes(self, inv: Invocation) -> dict[str, Any]:
        a: dict[str, Any] = {}
        for key, slot in _SHARED_FIELDS:
            value = getattr(inv, slot)
            if value is not None:
                a[key] = value
        if self._semconv:
            for key, slot in _SEMCONV_FIELDS:
                value = getattr(inv, slot)
                if value is not None:
                    a[key] = value
            if inv.choice_count is not None and inv.choice_count != 1:
                a[sc.REQUEST_CHOICE_COUNT] = inv.choice_count
            if inv.streaming:
                a[sc.REQUEST_STREAM] = True
            if inv.first_chunk_ns is not None:
                a[sc.RESPONSE_TIME_TO_FIRST_CHUNK] = (inv.first_chunk_ns - inv.start_ns) / 1e9
            if inv.vector_size is not None and inv.operation == sc.OP_EMBEDDINGS:
                a[sc.EMBEDDINGS_DIMENSION_COUNT] = inv.vector_size
        if self._legacy:
            a[sc.LEGACY_REQUEST_TYPE] = sc.LEGACY_REQUEST_TYPES.get(inv.operation, "unknown")
            if inv.input_tokens is not None:
                a[sc.LEGACY_USAGE_PROMPT_TOKENS] = inv.input_tokens
            if inv.output_tokens is not None:
                a[sc.LEGACY_USAGE_COMPLETION_TOKENS] = inv.output_tokens
                if inv.input_tokens is not None:
                    a[sc.LEGACY_USAGE_TOTAL_TOKENS] = inv.input_tokens + inv.output_tokens
            if inv.streaming:
                a[sc.LEGACY_IS_STREAMING] = True
        semconv, legacy = self._semconv, self._legacy
        for key, value in inv.attributes.items():
            if value is not None and (legacy if _is_legacy(key) else semconv):
                a[key] = value
        return a

    def _content_attributes(self, inv: Invocation) -> dict[str, Any]:
        limit = self._limit
        a: dict[str, Any] = {}
        if self._semconv:
            for key, value in (
                (sc.SYSTEM_INSTRUCTIONS, inv.system_instructions),
                (sc.INPUT_MESSAGES, inv.input_messages),
                (sc.OUTPUT_MESSAGES, inv.output_messages),
                (sc.TOOL_DEFINITIONS, inv.tool_definitions),
            ):
                if value:
                    a[key] = content.to_json(content.truncate(value, limit))
        if self._legacy:
            prompts = (
                [{"role": "system", "parts": inv.system_instructions}] if inv.system_instructions else []
            )
            prompts += inv.input_messages or []
            a.update(content.legacy_attributes(sc.LEGACY_PROMPT_PREFIX, prompts, limit))
            a.update(content.legacy_attributes(sc.LEGACY_COMPLETION_PREFIX, inv.output_messages or [], limit))
        return a

    # --- metrics and events ------------------------------------------------------------------

    def _record_metrics(
        self, inv: Invocation, end_ns: int, cost: tuple[float, float | None] | None = None
    ) -> None:
        attributes: dict[str, Any] = {sc.OPERATION_NAME: inv.operation, sc.PROVIDER_NAME: inv.provider}
        if inv.request_model:
            attributes[sc.REQUEST_MODEL] = inv.request_model
        if inv.response_model:
            attributes[sc.RESPONSE_MODEL] = inv.response_model
        if inv.server_address:
            attributes[sc.SERVER_ADDRESS] = inv.server_address
        if inv.server_port:
            attributes[sc.SERVER_PORT] = inv.server_port
        if inv.dimensions:  # a provider's own metric dimensions (openai.response.service_tier)
            attributes.update(inv.dimensions)
        key = tuple(attributes.items())  # the series key, built once for the call's points
        duration = (end_ns - inv.start_ns) / 1e9
        if inv.error_type is not None:
            self._duration.record_key(duration, _with(key, attributes, sc.ERROR_TYPE, inv.error_type))
        else:
            self._duration.record_key(duration, key)
        if inv.input_tokens is not None:
            self._tokens.record_key(inv.input_tokens, _with(key, attributes, sc.TOKEN_TYPE, "input"))
        if inv.output_tokens is not None:
            self._tokens.record_key(inv.output_tokens, _with(key, attributes, sc.TOKEN_TYPE, "output"))
        if inv.finish_reasons and inv.error_type is None:  # a failed call generated no choices
            self._choices.add_key(len(inv.finish_reasons), key)
        if inv.vector_size:
            self._vector_size.add_key(inv.vector_size, key)
        if inv.first_chunk_ns is not None:
            self._ttfc.record_key((inv.first_chunk_ns - inv.start_ns) / 1e9, key)
            self._record_chunk_gaps(inv, attributes)
        if inv.error_type is None:  # server timings: successful responses only
            if inv.server_time_to_first_token is not None:
                self._server_ttft.record_key(inv.server_time_to_first_token, key)
            if inv.server_time_per_output_token is not None:
                self._server_tpot.record_key(inv.server_time_per_output_token, key)
        if cost is not None:
            self._cost.add_key(cost[0], key)
            if cost[1] is not None:
                self._cost_savings.add_key(cost[1], key)
        if inv.cache_read_tokens is not None:
            self._cache_tokens.add_key(
                inv.cache_read_tokens, _with(key, attributes, sc.TOKEN_TYPE, sc.TOKEN_TYPE_CACHE_READ)
            )
        if inv.cache_write_tokens is not None:
            self._cache_tokens.add_key(
                inv.cache_write_tokens, _with(key, attributes, sc.TOKEN_TYPE, sc.TOKEN_TYPE_CACHE_WRITE)
            )
        if inv.guardrail_configured or inv.guardrail_activations:
            self._guardrail_executions.add_key(1, key)
            for kind, stage in sorted(inv.guardrail_activations or ()):
                self._guardrail_activations.add(
                    1, {**attributes, sc.GUARDRAIL_TYPE: kind, sc.GUARDRAIL_STAGE: stage}
                )
        for name, value, metric_attributes, unit, description in inv.provider_counts or ():
            self.count(name, value, metric_attributes, unit, description)

    def _guardrail_attributes(self, inv: Invocation, attributes: dict[str, Any]) -> None:
        if inv.guardrail_configured or inv.guardrail_activations:
            attributes[sc.GUARDRAIL_CONFIGURED] = True
        if inv.guardrail_intervened is not None:
            attributes[sc.GUARDRAIL_INTERVENED] = inv.guardrail_intervened
        if inv.guardrail_activations:
            attributes[sc.GUARDRAIL_ACTIVATIONS] = sorted({kind for kind, _ in inv.guardrail_activations})
        if inv.guardrail_blocked:
            attributes[sc.GUARDRAIL_BLOCKED] = inv.guardrail_blocked

    def count(
        self, name: str, value: int, attributes: dict[str, Any], unit: str = "1", description: str = ""
    ) -> None:
        """Add to a provider-specific counter (e.g. Bedrock guardrail activations), created on first use."""
        try:
            counter = self._counters.get(name)
            if counter is None:
                fast = self._fast
                counter = self._counters[name] = (
                    fast.counter(name, unit, description)
                    if fast is not None
                    else self._meter.create_counter(name, unit, description)
                )
            counter.add(value, attributes)
        except Exception:
            _log.debug("otel-genai: counting %s failed", name, exc_info=True)

    def _record_chunk_gaps(self, inv: Invocation, attributes: dict[str, Any]) -> None:
        # One SDK data point costs 6-12 us (SDK 1.45), more than our whole per-chunk budget: on a
        # foreign MeterProvider a stream contributes its mean inter-chunk time once (unless asked for
        # per-chunk points); our own aggregator takes one point per chunk at a fraction of that cost.
        if inv.chunk_count < 2 or inv.last_chunk_ns is None or inv.first_chunk_ns is None:
            return
        if self.per_chunk_metrics and inv.chunk_gaps_ns:
            gaps = list(map(truediv, inv.chunk_gaps_ns, repeat(1e9)))  # in C; the same as gap / 1e9
            record_many = getattr(self._tpoc, "record_many", None)
            if record_many is not None:
                record_many(gaps, attributes)
            else:
                record: Callable[..., None] = self._tpoc.record
                for gap in gaps:
                    record(gap, attributes)
        else:
            mean_ns = (inv.last_chunk_ns - inv.first_chunk_ns) / (inv.chunk_count - 1)
            self._tpoc.record(mean_ns / 1e9, attributes)

    def _emit_event(self, inv: Invocation, attributes: dict[str, Any], span: Any) -> None:
        event: dict[str, Any] = {k: v for k, v in attributes.items() if not _legacy_name(k)}
        event[sc.OPERATION_NAME] = inv.operation
        event[sc.PROVIDER_NAME] = inv.provider
        for key, value in (
            (sc.REQUEST_MODEL, inv.request_model),
            (sc.SERVER_ADDRESS, inv.server_address),
            (sc.SERVER_PORT, inv.server_port),
        ):
            if value:
                event[key] = value  # identity, not content: never truncated
        for name, data in (
            (sc.SYSTEM_INSTRUCTIONS, inv.system_instructions),
            (sc.INPUT_MESSAGES, inv.input_messages),
            (sc.OUTPUT_MESSAGES, inv.output_messages),
            (sc.TOOL_DEFINITIONS, inv.tool_definitions),
        ):
            if data:
                event[name] = content.truncate(data, self._limit)
        self._events.emit(
            event_name=sc.EVENT_INFERENCE_DETAILS,
            severity_number=self._debug_severity,
            attributes=event,
            context=trace.set_span_in_context(span),
        )

    # --- audit trail -------------------------------------------------------------------------

    def _digests(self, inv: Invocation) -> tuple[str | None, str | None]:
        """SHA-256 of the input and output as the provider sent them (before any redaction)."""
        return audit.digest(inv.system_instructions, inv.input_messages), audit.digest(
            None, inv.output_messages
        )

    def _emit_audit(
        self,
        inv: Invocation,
        attributes: dict[str, Any],
        span: Any,
        digests: tuple[str | None, str | None] | None,
    ) -> None:
        """One log record per model call, whatever the span's sampling decision."""
        record = audit.record(inv, attributes, span, digests, self.settings.service_name)
        if self.capture.enabled:
            limit = self._limit
            for name, data in (
                (sc.SYSTEM_INSTRUCTIONS, inv.system_instructions),
                (sc.INPUT_MESSAGES, inv.input_messages),
                (sc.OUTPUT_MESSAGES, inv.output_messages),
            ):
                if data:
                    record[name] = content.to_json(content.truncate(data, limit))
        self._audit.emit(
            event_name=sc.EVENT_AUDIT,
            severity_number=self._audit_severity(),
            attributes=record,
            context=trace.set_span_in_context(span),
        )

    def _audit_severity(self) -> Any:
        from opentelemetry._logs import SeverityNumber

        return SeverityNumber.INFO


__all__ = [
    "Recorder",
    "active_invocation",
    "error_type_of",
    "normalise_finish_reasons",
]
