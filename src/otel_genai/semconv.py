"""Every attribute and metric name otel-genai emits, with enum values and bucket boundaries.

Two families of names are kept apart so either can be switched off:
the OpenTelemetry GenAI semantic conventions (core 1.41 / genai-dev, see ``docs/semconv.md``) and the
older OpenLLMetry 0.4 names that Dynatrace's AI Observability dashboards read ("legacy").
"""

from __future__ import annotations

# --- shared by both families -------------------------------------------------------------------
REQUEST_MODEL = "gen_ai.request.model"
REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
REQUEST_TEMPERATURE = "gen_ai.request.temperature"
REQUEST_TOP_P = "gen_ai.request.top_p"
RESPONSE_MODEL = "gen_ai.response.model"

# --- OpenTelemetry GenAI semantic conventions --------------------------------------------------
OPERATION_NAME = "gen_ai.operation.name"
PROVIDER_NAME = "gen_ai.provider.name"
REQUEST_CHOICE_COUNT = "gen_ai.request.choice.count"
REQUEST_TOP_K = "gen_ai.request.top_k"
REQUEST_STOP_SEQUENCES = "gen_ai.request.stop_sequences"
REQUEST_FREQUENCY_PENALTY = "gen_ai.request.frequency_penalty"
REQUEST_PRESENCE_PENALTY = "gen_ai.request.presence_penalty"
REQUEST_SEED = "gen_ai.request.seed"
REQUEST_STREAM = "gen_ai.request.stream"
REQUEST_REASONING_LEVEL = "gen_ai.request.reasoning.level"
REQUEST_ENCODING_FORMATS = "gen_ai.request.encoding_formats"
OUTPUT_TYPE = "gen_ai.output.type"
RESPONSE_ID = "gen_ai.response.id"
RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
RESPONSE_TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
CONVERSATION_ID = "gen_ai.conversation.id"
USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
USAGE_CACHE_CREATION_INPUT_TOKENS = "gen_ai.usage.cache_creation.input_tokens"
USAGE_REASONING_OUTPUT_TOKENS = "gen_ai.usage.reasoning.output_tokens"
TOKEN_TYPE = "gen_ai.token.type"
SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
INPUT_MESSAGES = "gen_ai.input.messages"
OUTPUT_MESSAGES = "gen_ai.output.messages"
TOOL_DEFINITIONS = "gen_ai.tool.definitions"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
ERROR_TYPE = "error.type"
OPENAI_REQUEST_SERVICE_TIER = "openai.request.service_tier"
OPENAI_RESPONSE_SERVICE_TIER = "openai.response.service_tier"
OPENAI_RESPONSE_SYSTEM_FINGERPRINT = "openai.response.system_fingerprint"
OPENAI_API_TYPE = "openai.api.type"
REQUEST_PREVIOUS_RESPONSE_ID = "gen_ai.request.previous_response.id"
RESPONSE_STATUS = "gen_ai.response.status"
EMBEDDINGS_DIMENSION_COUNT = "gen_ai.embeddings.dimension.count"

# --- legacy (OpenLLMetry 0.4 / Dynatrace dashboards) -------------------------------------------
LEGACY_SYSTEM = "gen_ai.system"
LEGACY_USAGE_PROMPT_TOKENS = "gen_ai.usage.prompt_tokens"
LEGACY_USAGE_COMPLETION_TOKENS = "gen_ai.usage.completion_tokens"
LEGACY_USAGE_TOTAL_TOKENS = "llm.usage.total_tokens"
LEGACY_REQUEST_TYPE = "llm.request.type"
LEGACY_IS_STREAMING = "llm.is_streaming"
LEGACY_OPENAI_API_BASE = "gen_ai.openai.api_base"
LEGACY_OPENAI_API_VERSION = "gen_ai.openai.api_version"
LEGACY_OPENAI_SYSTEM_FINGERPRINT = "gen_ai.openai.system_fingerprint"
LEGACY_PROMPT_PREFIX = "gen_ai.prompt"
LEGACY_COMPLETION_PREFIX = "gen_ai.completion"
LEGACY_PROMPT_FILTER_RESULTS = "gen_ai.prompt.prompt_filter_results"

# gen_ai.operation.name -> llm.request.type
LEGACY_REQUEST_TYPES = {"chat": "chat", "text_completion": "completion", "embeddings": "embedding"}
# gen_ai.provider.name -> gen_ai.system where the two spellings differ
LEGACY_SYSTEM_NAMES = {
    "azure.ai.openai": "az.ai.openai",
    "azure.ai.inference": "az.ai.inference",
    "x_ai": "xai",
}

# --- agents, tools, workflows, retrieval (LangChain and the manual API) ---------------------------
AGENT_NAME = "gen_ai.agent.name"
WORKFLOW_NAME = "gen_ai.workflow.name"
TOOL_NAME = "gen_ai.tool.name"
TOOL_TYPE = "gen_ai.tool.type"
TOOL_DESCRIPTION = "gen_ai.tool.description"
TOOL_CALL_ID = "gen_ai.tool.call.id"
TOOL_CALL_ARGUMENTS = "gen_ai.tool.call.arguments"
TOOL_CALL_RESULT = "gen_ai.tool.call.result"
DATA_SOURCE_ID = "gen_ai.data_source.id"
RETRIEVAL_TOP_K = "gen_ai.retrieval.top_k"
RETRIEVAL_QUERY_TEXT = "gen_ai.retrieval.query.text"
RETRIEVAL_DOCUMENTS = "gen_ai.retrieval.documents"
USER_ID = "user.id"
LANGCHAIN_TAGS = "langchain.tags"  # the user's run tags (ours: semconv has none for frameworks)
OP_INVOKE_WORKFLOW = "invoke_workflow"
OP_INVOKE_AGENT = "invoke_agent"
OP_EXECUTE_TOOL = "execute_tool"
OP_RETRIEVAL = "retrieval"
# legacy (OpenLLMetry 0.4): what Dynatrace's LangChain view reads
LEGACY_SPAN_KIND = "traceloop.span.kind"  # workflow, task, agent, tool
LEGACY_ENTITY_NAME = "traceloop.entity.name"
LEGACY_WORKFLOW_NAME = "traceloop.workflow.name"
LEGACY_ENTITY_INPUT = "traceloop.entity.input"
LEGACY_ENTITY_OUTPUT = "traceloop.entity.output"
LEGACY_ASSOCIATION_PREFIX = "traceloop.association.properties"

# --- enum values ------------------------------------------------------------------------------
OP_CHAT = "chat"
OP_TEXT_COMPLETION = "text_completion"
OP_EMBEDDINGS = "embeddings"
OP_FETCH_RESPONSE = "fetch_response"

# --- events -----------------------------------------------------------------------------------
EVENT_INFERENCE_DETAILS = "gen_ai.client.inference.operation.details"

# --- metrics (semconv.md section 5.1 baseline, plus the two Dynatrace charts) ------------------
METRIC_TOKEN_USAGE = "gen_ai.client.token.usage"
METRIC_OPERATION_DURATION = "gen_ai.client.operation.duration"
METRIC_TIME_TO_FIRST_CHUNK = "gen_ai.client.operation.time_to_first_chunk"
METRIC_TIME_PER_OUTPUT_CHUNK = "gen_ai.client.operation.time_per_output_chunk"
METRIC_GENERATION_CHOICES = "gen_ai.client.generation.choices"
METRIC_EMBEDDINGS_VECTOR_SIZE = "llm.openai.embeddings.vector_size"
METRIC_SERVER_TIME_TO_FIRST_TOKEN = "gen_ai.server.time_to_first_token"
METRIC_SERVER_TIME_PER_OUTPUT_TOKEN = "gen_ai.server.time_per_output_token"

TOKEN_BUCKETS: tuple[float, ...] = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip
DURATION_BUCKETS: tuple[float, ...] = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip

SERVER_TTFT_BUCKETS: tuple[float, ...] = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip
SERVER_TPOT_BUCKETS: tuple[float, ...] = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5,
)  # fmt: skip

# name -> bucket boundaries, for Views on our own MeterProvider and advisory boundaries on any other
HISTOGRAM_BUCKETS: dict[str, tuple[float, ...]] = {
    METRIC_TOKEN_USAGE: TOKEN_BUCKETS,
    METRIC_OPERATION_DURATION: DURATION_BUCKETS,
    METRIC_TIME_TO_FIRST_CHUNK: DURATION_BUCKETS,
    METRIC_TIME_PER_OUTPUT_CHUNK: DURATION_BUCKETS,
    METRIC_SERVER_TIME_TO_FIRST_TOKEN: SERVER_TTFT_BUCKETS,
    METRIC_SERVER_TIME_PER_OUTPUT_TOKEN: SERVER_TPOT_BUCKETS,
}

# Attributes copied from the span onto metric points (low cardinality only).
METRIC_ATTRIBUTES: tuple[str, ...] = (
    OPERATION_NAME,
    PROVIDER_NAME,
    REQUEST_MODEL,
    RESPONSE_MODEL,
    SERVER_ADDRESS,
    SERVER_PORT,
)

# --- Ollama (provider-specific span attributes; docs/telemetry.md "Ollama") ----------------------
PROVIDER_OLLAMA = "ollama"
# The server's own timings from the final response, converted from Ollama's nanoseconds to seconds.
OLLAMA_TOTAL_DURATION = "ollama.response.total_duration"
OLLAMA_LOAD_DURATION = "ollama.response.load_duration"
OLLAMA_PROMPT_EVAL_DURATION = "ollama.response.prompt_eval_duration"
OLLAMA_EVAL_DURATION = "ollama.response.eval_duration"
OLLAMA_REQUEST_THINK = "ollama.request.think"  # bool: thinking asked for (True or a level) or refused

# --- Amazon Bedrock (provider-specific names; docs/telemetry.md "Amazon Bedrock") -------------------
PROVIDER_AWS_BEDROCK = "aws.bedrock"
OP_APPLY_GUARDRAIL = "apply_guardrail"  # custom operation: ApplyGuardrail is no inference
AWS_BEDROCK_REQUEST_MODEL_ID = "aws.bedrock.request.model_id"  # the modelId as sent (profile, ARN, ...)
AWS_BEDROCK_INVOCATION_LATENCY = "aws.bedrock.invocation.latency"  # s, as Bedrock measured it
AWS_BEDROCK_GUARDRAIL_ID = "aws.bedrock.guardrail.id"  # semconv (core aws registry)
AWS_BEDROCK_GUARDRAIL_VERSION = "aws.bedrock.guardrail.version"
AWS_BEDROCK_GUARDRAIL_SOURCE = "aws.bedrock.guardrail.source"  # ApplyGuardrail: INPUT or OUTPUT
AWS_BEDROCK_GUARDRAIL_INTERVENED = "aws.bedrock.guardrail.intervened"  # bool
AWS_BEDROCK_GUARDRAIL_POLICIES = "aws.bedrock.guardrail.policies"  # string[]: the policy types that fired
AWS_BEDROCK_GUARDRAIL_CONTENT_FILTERS = "aws.bedrock.guardrail.content_filters"  # filter types
AWS_BEDROCK_GUARDRAIL_DENIED_TOPICS = "aws.bedrock.guardrail.denied_topics"  # topic names
AWS_BEDROCK_GUARDRAIL_WORD_FILTERS = "aws.bedrock.guardrail.word_filters"  # managed list types, CUSTOM_WORD
AWS_BEDROCK_GUARDRAIL_SENSITIVE_INFORMATION = "aws.bedrock.guardrail.sensitive_information"  # PII types
AWS_BEDROCK_GUARDRAIL_CONTEXTUAL_GROUNDING = "aws.bedrock.guardrail.contextual_grounding"  # filter types
AWS_REQUEST_ID = "aws.request_id"  # semconv (core aws registry)
CLOUD_REGION = "cloud.region"  # semconv (core cloud registry)
GUARDRAIL_TYPE = "gen_ai.guardrail.type"  # OpenLLMetry's Bedrock guardrail attribute, on the counter below
METRIC_BEDROCK_GUARDRAIL_ACTIVATION = "gen_ai.bedrock.guardrail.activation"  # OpenLLMetry (semconv.md 8.2)

# --- cost, prompt caching, guardrails, audit (docs/telemetry.md "Cost", "Caching", "Guardrails", "Audit") --
# Cost: OpenLIT's attribute names. The open semconv proposal (semantic-conventions-genai PR 443) would make
# these gen_ai.usage.cost.amount plus gen_ai.usage.cost.currency="USD": a change of these two lines.
USAGE_COST = "gen_ai.usage.cost"  # double, USD; absent when the price is unknown
USAGE_CACHE_SAVINGS = "gen_ai.usage.cache_savings"  # double, USD saved by prompt-cache reads
METRIC_COST = "gen_ai.client.cost"  # counter, USD
METRIC_COST_SAVINGS = "gen_ai.client.cost.savings"  # counter, USD
METRIC_TOKEN_CACHE = "gen_ai.client.token.cache"  # counter, {token}, gen_ai.token.type below
TOKEN_TYPE_CACHE_READ = "cache_read"
TOKEN_TYPE_CACHE_WRITE = "cache_write"
# Guardrails, provider-neutral (Bedrock Guardrails, Azure OpenAI content filters)
GUARDRAIL_CONFIGURED = "gen_ai.guardrail.configured"  # bool
GUARDRAIL_INTERVENED = "gen_ai.guardrail.intervened"  # bool
GUARDRAIL_ACTIVATIONS = "gen_ai.guardrail.activations"  # string[]: sorted activation types that fired
GUARDRAIL_BLOCKED = "gen_ai.guardrail.blocked"  # "input" or "output"
GUARDRAIL_STAGE = "gen_ai.guardrail.stage"  # on the activations counter: input | output
METRIC_GUARDRAIL_EXECUTIONS = "gen_ai.client.guardrail.executions"  # counter, {request}
METRIC_GUARDRAIL_ACTIVATIONS = "gen_ai.client.guardrail.activations"  # counter, {activation}
GUARDRAIL_CONTENT = "content"
GUARDRAIL_DENIED_TOPIC = "denied_topic"
GUARDRAIL_WORD = "word"
GUARDRAIL_SENSITIVE_INFORMATION = "sensitive_information"
GUARDRAIL_CONTEXTUAL_GROUNDING = "contextual_grounding"
GUARDRAIL_PROMPT_ATTACK = "prompt_attack"
STAGE_INPUT = "input"
STAGE_OUTPUT = "output"
# Audit trail: one OTLP log record per model call (opt-in)
EVENT_AUDIT = "gen_ai.auditing"  # the record's event.name, and its event.type attribute
EVENT_TYPE = "event.type"
SERVICE_NAME = "service.name"
AUDIT_INPUT_DIGEST = "gen_ai.input.messages.sha256"  # hex SHA-256 of the input messages (JSON)
AUDIT_OUTPUT_DIGEST = "gen_ai.output.messages.sha256"  # hex SHA-256 of the output messages (JSON)
TRACE_ID = "trace_id"
SPAN_ID = "span_id"

# --- provider kit (issue 14): Anthropic and Google Gen AI ---------------------------------------------
PROVIDER_ANTHROPIC = "anthropic"
PROVIDER_GCP_GEMINI = "gcp.gemini"  # generativelanguage.googleapis.com (the Gemini API)
PROVIDER_GCP_VERTEX_AI = "gcp.vertex_ai"  # aiplatform.googleapis.com


__all__ = [
    "AGENT_NAME",
    "AUDIT_INPUT_DIGEST",
    "AUDIT_OUTPUT_DIGEST",
    "AWS_BEDROCK_GUARDRAIL_CONTENT_FILTERS",
    "AWS_BEDROCK_GUARDRAIL_CONTEXTUAL_GROUNDING",
    "AWS_BEDROCK_GUARDRAIL_DENIED_TOPICS",
    "AWS_BEDROCK_GUARDRAIL_ID",
    "AWS_BEDROCK_GUARDRAIL_INTERVENED",
    "AWS_BEDROCK_GUARDRAIL_POLICIES",
    "AWS_BEDROCK_GUARDRAIL_SENSITIVE_INFORMATION",
    "AWS_BEDROCK_GUARDRAIL_SOURCE",
    "AWS_BEDROCK_GUARDRAIL_VERSION",
    "AWS_BEDROCK_GUARDRAIL_WORD_FILTERS",
    "AWS_BEDROCK_INVOCATION_LATENCY",
    "AWS_BEDROCK_REQUEST_MODEL_ID",
    "AWS_REQUEST_ID",
    "CLOUD_REGION",
    "CONVERSATION_ID",
    "DATA_SOURCE_ID",
    "DURATION_BUCKETS",
    "EMBEDDINGS_DIMENSION_COUNT",
    "ERROR_TYPE",
    "EVENT_AUDIT",
    "EVENT_INFERENCE_DETAILS",
    "EVENT_TYPE",
    "GUARDRAIL_ACTIVATIONS",
    "GUARDRAIL_BLOCKED",
    "GUARDRAIL_CONFIGURED",
    "GUARDRAIL_CONTENT",
    "GUARDRAIL_CONTEXTUAL_GROUNDING",
    "GUARDRAIL_DENIED_TOPIC",
    "GUARDRAIL_INTERVENED",
    "GUARDRAIL_PROMPT_ATTACK",
    "GUARDRAIL_SENSITIVE_INFORMATION",
    "GUARDRAIL_STAGE",
    "GUARDRAIL_TYPE",
    "GUARDRAIL_WORD",
    "HISTOGRAM_BUCKETS",
    "INPUT_MESSAGES",
    "LANGCHAIN_TAGS",
    "LEGACY_ASSOCIATION_PREFIX",
    "LEGACY_COMPLETION_PREFIX",
    "LEGACY_ENTITY_INPUT",
    "LEGACY_ENTITY_NAME",
    "LEGACY_ENTITY_OUTPUT",
    "LEGACY_IS_STREAMING",
    "LEGACY_OPENAI_API_BASE",
    "LEGACY_OPENAI_API_VERSION",
    "LEGACY_OPENAI_SYSTEM_FINGERPRINT",
    "LEGACY_PROMPT_FILTER_RESULTS",
    "LEGACY_PROMPT_PREFIX",
    "LEGACY_REQUEST_TYPE",
    "LEGACY_REQUEST_TYPES",
    "LEGACY_SPAN_KIND",
    "LEGACY_SYSTEM",
    "LEGACY_SYSTEM_NAMES",
    "LEGACY_USAGE_COMPLETION_TOKENS",
    "LEGACY_USAGE_PROMPT_TOKENS",
    "LEGACY_USAGE_TOTAL_TOKENS",
    "LEGACY_WORKFLOW_NAME",
    "METRIC_ATTRIBUTES",
    "METRIC_BEDROCK_GUARDRAIL_ACTIVATION",
    "METRIC_COST",
    "METRIC_COST_SAVINGS",
    "METRIC_EMBEDDINGS_VECTOR_SIZE",
    "METRIC_GENERATION_CHOICES",
    "METRIC_GUARDRAIL_ACTIVATIONS",
    "METRIC_GUARDRAIL_EXECUTIONS",
    "METRIC_OPERATION_DURATION",
    "METRIC_SERVER_TIME_PER_OUTPUT_TOKEN",
    "METRIC_SERVER_TIME_TO_FIRST_TOKEN",
    "METRIC_TIME_PER_OUTPUT_CHUNK",
    "METRIC_TIME_TO_FIRST_CHUNK",
    "METRIC_TOKEN_CACHE",
    "METRIC_TOKEN_USAGE",
    "OLLAMA_EVAL_DURATION",
    "OLLAMA_LOAD_DURATION",
    "OLLAMA_PROMPT_EVAL_DURATION",
    "OLLAMA_REQUEST_THINK",
    "OLLAMA_TOTAL_DURATION",
    "OPENAI_API_TYPE",
    "OPENAI_REQUEST_SERVICE_TIER",
    "OPENAI_RESPONSE_SERVICE_TIER",
    "OPENAI_RESPONSE_SYSTEM_FINGERPRINT",
    "OPERATION_NAME",
    "OP_APPLY_GUARDRAIL",
    "OP_CHAT",
    "OP_EMBEDDINGS",
    "OP_EXECUTE_TOOL",
    "OP_FETCH_RESPONSE",
    "OP_INVOKE_AGENT",
    "OP_INVOKE_WORKFLOW",
    "OP_RETRIEVAL",
    "OP_TEXT_COMPLETION",
    "OUTPUT_MESSAGES",
    "OUTPUT_TYPE",
    "PROVIDER_ANTHROPIC",
    "PROVIDER_AWS_BEDROCK",
    "PROVIDER_GCP_GEMINI",
    "PROVIDER_GCP_VERTEX_AI",
    "PROVIDER_NAME",
    "PROVIDER_OLLAMA",
    "REQUEST_CHOICE_COUNT",
    "REQUEST_ENCODING_FORMATS",
    "REQUEST_FREQUENCY_PENALTY",
    "REQUEST_MAX_TOKENS",
    "REQUEST_MODEL",
    "REQUEST_PRESENCE_PENALTY",
    "REQUEST_PREVIOUS_RESPONSE_ID",
    "REQUEST_REASONING_LEVEL",
    "REQUEST_SEED",
    "REQUEST_STOP_SEQUENCES",
    "REQUEST_STREAM",
    "REQUEST_TEMPERATURE",
    "REQUEST_TOP_K",
    "REQUEST_TOP_P",
    "RESPONSE_FINISH_REASONS",
    "RESPONSE_ID",
    "RESPONSE_MODEL",
    "RESPONSE_STATUS",
    "RESPONSE_TIME_TO_FIRST_CHUNK",
    "RETRIEVAL_DOCUMENTS",
    "RETRIEVAL_QUERY_TEXT",
    "RETRIEVAL_TOP_K",
    "SERVER_ADDRESS",
    "SERVER_PORT",
    "SERVER_TPOT_BUCKETS",
    "SERVER_TTFT_BUCKETS",
    "SERVICE_NAME",
    "SPAN_ID",
    "STAGE_INPUT",
    "STAGE_OUTPUT",
    "SYSTEM_INSTRUCTIONS",
    "TOKEN_BUCKETS",
    "TOKEN_TYPE",
    "TOKEN_TYPE_CACHE_READ",
    "TOKEN_TYPE_CACHE_WRITE",
    "TOOL_CALL_ARGUMENTS",
    "TOOL_CALL_ID",
    "TOOL_CALL_RESULT",
    "TOOL_DEFINITIONS",
    "TOOL_DESCRIPTION",
    "TOOL_NAME",
    "TOOL_TYPE",
    "TRACE_ID",
    "USAGE_CACHE_CREATION_INPUT_TOKENS",
    "USAGE_CACHE_READ_INPUT_TOKENS",
    "USAGE_CACHE_SAVINGS",
    "USAGE_COST",
    "USAGE_INPUT_TOKENS",
    "USAGE_OUTPUT_TOKENS",
    "USAGE_REASONING_OUTPUT_TOKENS",
    "USER_ID",
    "WORKFLOW_NAME",
]
