"""The neutral record of one GenAI call: what a provider module reads, and all the recorder needs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.trace import Span

Message = dict[str, Any]  # {"role": ..., "parts": [...], "finish_reason"?: ...} per semconv.md section 4


class Invocation:
    """One operation (chat, text_completion, embeddings) from request to final response or error.

    Provider modules fill it; ``Recorder`` turns it into one span, its metrics and its event.
    ``None`` means "not known" and is never emitted; in particular unknown token counts are never zero.
    """

    __slots__ = (
        "attributes",
        "batch",
        "cache_read_tokens",
        "cache_write_tokens",
        "choice_count",
        "chunk_count",
        "chunk_gaps_ns",
        "context_token",
        "dimensions",
        "enriched",
        "error_type",
        "finish_reasons",
        "first_chunk_ns",
        "frequency_penalty",
        "guardrail_activations",
        "guardrail_blocked",
        "guardrail_configured",
        "guardrail_intervened",
        "input_messages",
        "input_tokens",
        "last_chunk_ns",
        "max_tokens",
        "operation",
        "outer",
        "output_messages",
        "output_tokens",
        "output_type",
        "presence_penalty",
        "pricing_model",
        "provider",
        "provider_counts",
        "reasoning_level",
        "reasoning_tokens",
        "request_model",
        "response_id",
        "response_model",
        "seed",
        "server_address",
        "server_port",
        "server_time_per_output_token",
        "server_time_to_first_token",
        "service_tier",
        "span",
        "start_ns",
        "stop_sequences",
        "streaming",
        "system_instructions",
        "temperature",
        "tool_definitions",
        "top_k",
        "top_p",
        "vector_size",
    )

    operation: str
    provider: str
    request_model: str | None
    server_address: str | None
    server_port: int | None
    streaming: bool
    # request parameters
    max_tokens: int | None
    temperature: float | None
    top_p: float | None
    top_k: int | None
    stop_sequences: list[str] | None
    seed: int | None
    choice_count: int | None
    frequency_penalty: float | None
    presence_penalty: float | None
    output_type: str | None
    reasoning_level: str | None
    attributes: dict[str, Any]  # provider-specific span attributes, e.g. openai.request.service_tier
    dimensions: dict[str, Any] | None  # provider-specific metric attributes (span attributes too)
    # response
    response_id: str | None
    response_model: str | None
    finish_reasons: list[str] | None
    input_tokens: int | None
    output_tokens: int | None
    cache_read_tokens: int | None
    cache_write_tokens: int | None
    reasoning_tokens: int | None
    vector_size: int | None
    # what the model server itself measured (Ollama's timings), in seconds
    server_time_to_first_token: float | None
    server_time_per_output_token: float | None
    error_type: str | None
    # pricing: what the provider bills by, when the request or response says so
    pricing_model: str | None  # the model id the provider prices, if neither request nor response model
    service_tier: str | None  # the tier that served the call (genai-prices "service_tier": flex, priority)
    batch: bool | None  # billed at batch rates
    # guardrails / content filters, provider-neutral (the recorder turns them into gen_ai.guardrail.*)
    guardrail_configured: bool | None  # a guardrail or content filter applied to this request
    guardrail_intervened: bool | None  # it blocked or filtered something
    guardrail_activations: (
        set[tuple[str, str]] | None
    )  # (type, stage): content, denied_topic, ...; input/output
    guardrail_blocked: str | None  # "input" (prompt blocked) or "output" (response filtered)
    # provider-specific counters the recorder adds at the end: (metric, value, attributes, unit, description)
    provider_counts: list[tuple[str, int, dict[str, Any], str, str]] | None
    # content, filled only when capture is on
    input_messages: list[Message] | None
    output_messages: list[Message] | None
    system_instructions: list[dict[str, Any]] | None
    tool_definitions: list[dict[str, Any]] | None
    # timing (time.perf_counter_ns) and lifecycle, owned by the recorder and the stream proxies
    start_ns: int
    first_chunk_ns: int | None
    last_chunk_ns: int | None
    chunk_count: int
    chunk_gaps_ns: list[int] | None
    span: Span | None
    context_token: object | None
    outer: Invocation | None  # set when another layer already opened the inference span
    enriched: bool  # an inner layer merged into this one: start attributes and name may have changed

    def __init__(
        self,
        operation: str,
        provider: str,
        request_model: str | None = None,
        *,
        server_address: str | None = None,
        server_port: int | None = None,
        streaming: bool = False,
    ) -> None:
        self.operation = operation
        self.provider = provider
        self.request_model = request_model
        self.server_address = server_address
        self.server_port = server_port
        self.streaming = streaming
        self.max_tokens = self.temperature = self.top_p = self.top_k = None
        self.stop_sequences = self.seed = self.choice_count = None
        self.frequency_penalty = self.presence_penalty = self.output_type = self.reasoning_level = None
        self.attributes = {}
        self.dimensions = None
        self.response_id = self.response_model = self.finish_reasons = None
        self.input_tokens = self.output_tokens = None
        self.cache_read_tokens = self.cache_write_tokens = self.reasoning_tokens = self.vector_size = None
        self.server_time_to_first_token = self.server_time_per_output_token = None
        self.error_type = None
        self.pricing_model = self.service_tier = self.batch = None
        self.guardrail_configured = self.guardrail_intervened = None
        self.guardrail_activations = self.guardrail_blocked = None
        self.provider_counts = None
        self.input_messages = self.output_messages = None
        self.system_instructions = self.tool_definitions = None
        self.start_ns = 0
        self.first_chunk_ns = self.last_chunk_ns = None
        self.chunk_count = 0
        self.chunk_gaps_ns = None
        self.span = None
        self.context_token = None
        self.outer = None
        self.enriched = False

    def merge_into(self, outer: Invocation) -> None:
        """Copy what this inner layer learned onto ``outer``: last write wins, unknowns never erase."""
        for name in self.__slots__:
            if name in ("span", "context_token", "outer", "enriched", "start_ns", "operation", "chunk_count"):
                continue
            value = getattr(self, name)
            if name == "attributes":
                outer.attributes.update(value)
            elif value is not None and not (name == "streaming" and value is False):
                setattr(outer, name, value)
        outer.enriched = True


__all__ = [
    "Invocation",
    "Message",
]
