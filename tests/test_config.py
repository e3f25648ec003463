"""``Settings.resolve``: keyword > environment > default; a bad value costs one warning, never an exception.

Every test passes its environment explicitly (``env=``), so nothing here depends on the process's variables.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.export import AggregationTemporality

from otel_genai import config, sdk
from otel_genai.config import ContentCapture, Settings, Temporality

SIGNALS = ("traces", "metrics", "logs")
DEFAULT_ENDPOINTS = {s: f"http://localhost:4318/v1/{s}" for s in SIGNALS}
DEFAULTS = Settings(
    disabled=False,
    service_name=None,
    resource_attributes={},
    endpoints=DEFAULT_ENDPOINTS,
    headers={s: {} for s in SIGNALS},
    timeout_s=10.0,
    exporters={s: ("otlp",) for s in SIGNALS},
    temporality=Temporality.DELTA,
    metric_export_interval_ms=60_000,
    sampler="parentbased_always_on",
    sampler_arg=1.0,
    disabled_instrumentations=frozenset(),
    capture_content=ContentCapture.NO_CONTENT,
    max_content_length=16_384,
    semconv_attributes=True,
    legacy_attributes=True,
    per_chunk_metrics=None,  # not set: per chunk on our own MeterProvider, the stream's mean otherwise
)


@pytest.fixture(autouse=True)
def _fresh_warnings(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """config warns once per variable per process; each test starts with no variable warned about."""
    config._warned.clear()
    caplog.set_level(logging.WARNING, logger="otel_genai")
    yield
    config._warned.clear()


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "otel_genai" and r.levelno >= logging.WARNING]


def resolve(env: dict[str, str] | None = None, **keywords: Any) -> Settings:
    return Settings.resolve(keywords, env=env or {})


def test_defaults(caplog: pytest.LogCaptureFixture) -> None:
    assert resolve() == DEFAULTS
    assert Settings.resolve(None, env={}) == DEFAULTS
    assert warnings(caplog) == []


def test_environment_is_read_from_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "checkout")
    assert Settings.resolve().service_name == "checkout"
    assert Settings.resolve({}, env={}).service_name is None


# (keyword, value, variable, text, attribute getter, value from the keyword, from the variable, default)
PRECEDENCE = [
    ("service_name", "kw-svc", "OTEL_SERVICE_NAME", "env-svc", "service_name", "kw-svc", "env-svc", None),
    (
        "endpoint",
        "https://kw.example:4318",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "http://env.example:4318",
        "endpoints",
        {s: f"https://kw.example:4318/v1/{s}" for s in SIGNALS},
        {s: f"http://env.example:4318/v1/{s}" for s in SIGNALS},
        DEFAULT_ENDPOINTS,
    ),
    ("timeout", 500, "OTEL_EXPORTER_OTLP_TIMEOUT", "2500", "timeout_s", 0.5, 2.5, 10.0),
    (
        "traces_exporter",
        "none",
        "OTEL_TRACES_EXPORTER",
        "console",
        "exporters",
        {"traces": (), "metrics": ("otlp",), "logs": ("otlp",)},
        {"traces": ("console",), "metrics": ("otlp",), "logs": ("otlp",)},
        {s: ("otlp",) for s in SIGNALS},
    ),
    (
        "temporality",
        "lowmemory",
        "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
        "cumulative",
        "temporality",
        Temporality.LOWMEMORY,
        Temporality.CUMULATIVE,
        Temporality.DELTA,
    ),
    (
        "metric_export_interval",
        1000,
        "OTEL_METRIC_EXPORT_INTERVAL",
        "5000",
        "metric_export_interval_ms",
        1000,
        5000,
        60_000,
    ),
    (
        "sampler",
        "traceidratio",
        "OTEL_TRACES_SAMPLER",
        "always_off",
        "sampler",
        "traceidratio",
        "always_off",
        "parentbased_always_on",
    ),
    ("sampler_arg", 0.5, "OTEL_TRACES_SAMPLER_ARG", "0.25", "sampler_arg", 0.5, 0.25, 1.0),
    ("disabled", False, "OTEL_SDK_DISABLED", "true", "disabled", False, True, False),
    (
        "disabled_instrumentations",
        ["Bedrock"],
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS",
        "openai",
        "disabled_instrumentations",
        frozenset({"bedrock"}),
        frozenset({"openai"}),
        frozenset(),
    ),
    (
        "capture_message_content",
        "span_only",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
        "EVENT_ONLY",
        "capture_content",
        ContentCapture.SPAN_ONLY,
        ContentCapture.EVENT_ONLY,
        ContentCapture.NO_CONTENT,
    ),
    (
        "max_content_length",
        100,
        "OTEL_INSTRUMENTATION_GENAI_MAX_CONTENT_LENGTH",
        "0",
        "max_content_length",
        100,
        0,
        16_384,
    ),
    (
        "semconv_attributes",
        True,
        "OTEL_INSTRUMENTATION_GENAI_SEMCONV_ATTRIBUTES",
        "false",
        "semconv_attributes",
        True,
        False,
        True,
    ),
    (
        "legacy_attributes",
        False,
        "OTEL_INSTRUMENTATION_GENAI_LEGACY_ATTRIBUTES",
        "true",
        "legacy_attributes",
        False,
        True,
        True,
    ),
    (
        "per_chunk_metrics",
        False,
        "OTEL_INSTRUMENTATION_GENAI_PER_CHUNK_METRICS",
        "on",
        "per_chunk_metrics",
        False,
        True,
        None,
    ),
]


@pytest.mark.parametrize(
    ("keyword", "kw_value", "variable", "text", "attribute", "from_kw", "from_env", "default"),
    PRECEDENCE,
    ids=[row[0] for row in PRECEDENCE],
)
def test_keyword_beats_environment_beats_default(
    caplog: pytest.LogCaptureFixture,
    keyword: str,
    kw_value: Any,
    variable: str,
    text: str,
    attribute: str,
    from_kw: Any,
    from_env: Any,
    default: Any,
) -> None:
    assert getattr(resolve(), attribute) == default
    assert getattr(resolve({variable: text}), attribute) == from_env
    assert getattr(resolve({variable: text}, **{keyword: kw_value}), attribute) == from_kw
    assert getattr(resolve({variable: text}, **{keyword: None}), attribute) == from_env  # None = not given
    assert warnings(caplog) == []


def test_resource_attributes_are_url_decoded_and_keywords_win_per_key() -> None:
    env = {"OTEL_RESOURCE_ATTRIBUTES": "service.namespace=shop, deployment.environment=prod%20eu,team=a%3Db"}
    assert resolve(env).resource_attributes == {
        "service.namespace": "shop",
        "deployment.environment": "prod eu",
        "team": "a=b",
    }
    assert resolve(env, resource_attributes={"team": "payments", "tier": 1}).resource_attributes == {
        "service.namespace": "shop",
        "deployment.environment": "prod eu",
        "team": "payments",
        "tier": "1",
    }


def test_base_endpoint_gets_the_signal_path_and_per_signal_endpoints_are_used_as_is() -> None:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "https://abc123.live.dynatrace.com/api/v2/otlp/",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://metrics.example:9090/custom/ingest",
    }
    assert resolve(env).endpoints == {
        "traces": "https://abc123.live.dynatrace.com/api/v2/otlp/v1/traces",
        "metrics": "http://metrics.example:9090/custom/ingest",
        "logs": "https://abc123.live.dynatrace.com/api/v2/otlp/v1/logs",
    }
    only_signal = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://tempo:4318"}
    assert resolve(only_signal).endpoints == {**DEFAULT_ENDPOINTS, "traces": "http://tempo:4318"}


def test_headers_are_url_decoded_and_per_signal_headers_add_to_the_general_ones() -> None:
    env = {
        "OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Api-Token%20abc,x-tenant=a",
        "OTEL_EXPORTER_OTLP_METRICS_HEADERS": "x-tenant=b, x-scope = metrics ",
    }
    general = {"Authorization": "Api-Token abc", "x-tenant": "a"}
    assert resolve(env).headers == {
        "traces": general,
        "metrics": {"Authorization": "Api-Token abc", "x-tenant": "b", "x-scope": "metrics"},
        "logs": general,
    }
    with_keyword = resolve(env, headers={"x-tenant": "kw"}).headers
    assert {s: h["x-tenant"] for s, h in with_keyword.items()} == {s: "kw" for s in SIGNALS}


def test_headers_keyword_may_use_the_variable_syntax() -> None:
    """``init(headers="Authorization=Api-Token%20abc")`` is what users paste from the variable."""
    settings_ = resolve(headers="Authorization=Api-Token%20abc")
    assert settings_.headers == {s: {"Authorization": "Api-Token abc"} for s in SIGNALS}
    assert resolve(resource_attributes="team=a").resource_attributes == {"team": "a"}


@pytest.mark.parametrize(("text", "seconds"), [("2500", 2.5), ("10000", 10.0), ("0", 0.0), ("150.5", 0.1505)])
def test_timeout_is_in_milliseconds(text: str, seconds: float) -> None:
    assert resolve({"OTEL_EXPORTER_OTLP_TIMEOUT": text}).timeout_s == seconds


@pytest.mark.parametrize(
    ("text", "temporality"),
    [
        ("delta", Temporality.DELTA),
        ("DELTA", Temporality.DELTA),
        ("Cumulative", Temporality.CUMULATIVE),
        ("cumulative", Temporality.CUMULATIVE),
        ("LowMemory", Temporality.LOWMEMORY),
        (" lowmemory ", Temporality.LOWMEMORY),
    ],
)
def test_temporality_preference_any_case(
    caplog: pytest.LogCaptureFixture, text: str, temporality: Any
) -> None:
    assert resolve({"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": text}).temporality is temporality
    assert resolve(temporality=text.strip()).temporality is temporality
    assert warnings(caplog) == []


@pytest.mark.parametrize(
    ("text", "exporters"),
    [
        ("otlp", ("otlp",)),
        ("console", ("console",)),
        ("none", ()),
        ("otlp,console", ("otlp", "console")),
        (" OTLP , Console ", ("otlp", "console")),
        ("none,otlp", ("otlp",)),
    ],
)
def test_exporter_lists(caplog: pytest.LogCaptureFixture, text: str, exporters: tuple[str, ...]) -> None:
    for signal in SIGNALS:
        resolved = resolve({f"OTEL_{signal.upper()}_EXPORTER": text}).exporters
        assert resolved == {**{s: ("otlp",) for s in SIGNALS}, signal: exporters}
    assert resolve(metrics_exporter=["console", "otlp"]).exporters["metrics"] == ("console", "otlp")
    assert warnings(caplog) == []


def test_metric_export_interval_in_milliseconds() -> None:
    assert resolve({"OTEL_METRIC_EXPORT_INTERVAL": "15000"}).metric_export_interval_ms == 15_000
    assert resolve({"OTEL_METRIC_EXPORT_INTERVAL": "1"}).metric_export_interval_ms == 1


@pytest.mark.parametrize(
    "name",
    [
        "always_on",
        "always_off",
        "traceidratio",
        "parentbased_always_on",
        "parentbased_always_off",
        "parentbased_traceidratio",
    ],
)
def test_every_standard_sampler(caplog: pytest.LogCaptureFixture, name: str) -> None:
    resolved = resolve({"OTEL_TRACES_SAMPLER": name.upper(), "OTEL_TRACES_SAMPLER_ARG": "0.1"})
    assert (resolved.sampler, resolved.sampler_arg) == (name, 0.1)
    assert warnings(caplog) == []


def test_sampler_arg_bounds_are_inclusive() -> None:
    assert resolve({"OTEL_TRACES_SAMPLER_ARG": "0"}).sampler_arg == 0.0
    assert resolve({"OTEL_TRACES_SAMPLER_ARG": "1"}).sampler_arg == 1.0


@pytest.mark.parametrize(
    ("text", "disabled"), [("true", True), ("TRUE", True), ("True", True), ("false", False)]
)
def test_sdk_disabled(text: str, disabled: bool) -> None:
    assert resolve({"OTEL_SDK_DISABLED": text}).disabled is disabled


@pytest.mark.parametrize(
    ("text", "value"), [("true", True), ("false", False), ("False", False), (" ", False)]
)
def test_boolean_keywords_given_as_text_are_parsed_not_truth_tested(text: str, value: bool) -> None:
    """``init(disabled="false")`` must not disable: a non-empty string is truthy."""
    assert resolve(disabled=text).disabled is value
    assert resolve(legacy_attributes=text).legacy_attributes is (value if text.strip() else True)


def test_disabled_instrumentations_list() -> None:
    env = {"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "openai, Bedrock,,langchain "}
    assert resolve(env).disabled_instrumentations == frozenset({"openai", "bedrock", "langchain"})
    assert resolve(disabled_instrumentations="ollama").disabled_instrumentations == frozenset({"ollama"})


@pytest.mark.parametrize(
    ("text", "capture"),
    [
        ("NO_CONTENT", ContentCapture.NO_CONTENT),
        ("span_only", ContentCapture.SPAN_ONLY),
        ("Event_Only", ContentCapture.EVENT_ONLY),
        ("span_and_EVENT", ContentCapture.SPAN_AND_EVENT),
    ],
)
def test_capture_message_content_any_case(caplog: pytest.LogCaptureFixture, text: str, capture: Any) -> None:
    assert resolve({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": text}).capture_content is capture
    assert resolve(capture_message_content=text).capture_content is capture
    assert resolve(capture_message_content=capture).capture_content is capture
    assert warnings(caplog) == []


def test_capture_content_flags() -> None:
    flags = {c: (c.on_span, c.on_event, c.enabled) for c in ContentCapture}
    assert flags == {
        ContentCapture.NO_CONTENT: (False, False, False),
        ContentCapture.SPAN_ONLY: (True, False, True),
        ContentCapture.EVENT_ONLY: (False, True, True),
        ContentCapture.SPAN_AND_EVENT: (True, True, True),
    }


@pytest.mark.parametrize(
    ("text", "capture"), [("true", ContentCapture.SPAN_ONLY), ("FALSE", ContentCapture.NO_CONTENT)]
)
def test_legacy_boolean_capture_values_warn_once(
    caplog: pytest.LogCaptureFixture, text: str, capture: Any
) -> None:
    env = {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": text}
    assert resolve(env).capture_content is capture
    assert resolve(env).capture_content is capture  # init() twice still warns once
    (message,) = warnings(caplog)
    assert "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT" in message
    assert capture.value in message
    assert resolve(capture_message_content=True).capture_content is ContentCapture.SPAN_ONLY
    assert resolve(capture_message_content=False).capture_content is ContentCapture.NO_CONTENT


# (variable, bad text): each resolves to the defaults, as if the variable were unset
BAD_VALUES = [
    ("OTEL_TRACES_EXPORTER", "zipkin"),
    ("OTEL_METRICS_EXPORTER", "otlp,prometheus"),
    ("OTEL_LOGS_EXPORTER", ","),
    ("OTEL_EXPORTER_OTLP_HEADERS", "Authorization"),
    ("OTEL_EXPORTER_OTLP_HEADERS", "=nokey"),
    ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-tenant"),
    ("OTEL_RESOURCE_ATTRIBUTES", "team"),
    ("OTEL_METRIC_EXPORT_INTERVAL", "-5"),
    ("OTEL_METRIC_EXPORT_INTERVAL", "0"),
    ("OTEL_METRIC_EXPORT_INTERVAL", "soon"),
    ("OTEL_EXPORTER_OTLP_TIMEOUT", "-1"),
    ("OTEL_EXPORTER_OTLP_TIMEOUT", "inf"),
    ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "sideways"),
    ("OTEL_TRACES_SAMPLER", "sometimes"),
    ("OTEL_TRACES_SAMPLER_ARG", "2.0"),
    ("OTEL_TRACES_SAMPLER_ARG", "-0.5"),
    ("OTEL_TRACES_SAMPLER_ARG", "nan"),
    ("OTEL_TRACES_SAMPLER_ARG", "half"),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://"),
    ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://collector/v1/traces"),
    ("OTEL_SDK_DISABLED", "maybe"),
    ("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "everything"),
    ("OTEL_INSTRUMENTATION_GENAI_MAX_CONTENT_LENGTH", "-1"),
    ("OTEL_INSTRUMENTATION_GENAI_LEGACY_ATTRIBUTES", "perhaps"),
]


@pytest.mark.parametrize(("variable", "text"), BAD_VALUES, ids=[f"{v}={t}" for v, t in BAD_VALUES])
def test_bad_variable_warns_once_and_falls_back(
    caplog: pytest.LogCaptureFixture, variable: str, text: str
) -> None:
    assert resolve({variable: text}) == DEFAULTS
    assert resolve({variable: text}) == DEFAULTS  # a second init() does not warn again
    (message,) = warnings(caplog)
    assert variable in message


# (keyword, bad value, the variable the warning names)
BAD_KEYWORDS = [
    ("traces_exporter", "zipkin", "OTEL_TRACES_EXPORTER"),
    ("metrics_exporter", 5, "OTEL_METRICS_EXPORTER"),
    ("headers", "no-equals-sign", "OTEL_EXPORTER_OTLP_HEADERS"),
    ("headers", 5, "OTEL_EXPORTER_OTLP_HEADERS"),
    ("resource_attributes", ["team"], "OTEL_RESOURCE_ATTRIBUTES"),
    ("metric_export_interval", -1, "OTEL_METRIC_EXPORT_INTERVAL"),
    ("timeout", "soon", "OTEL_EXPORTER_OTLP_TIMEOUT"),
    ("temporality", "sideways", "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"),
    ("sampler", "sometimes", "OTEL_TRACES_SAMPLER"),
    ("sampler_arg", 2.0, "OTEL_TRACES_SAMPLER_ARG"),
    ("endpoint", "collector:4318", "OTEL_EXPORTER_OTLP_ENDPOINT"),
    ("endpoint", 4318, "OTEL_EXPORTER_OTLP_ENDPOINT"),
    ("capture_message_content", "everything", "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"),
    ("max_content_length", 10**400, "OTEL_INSTRUMENTATION_GENAI_MAX_CONTENT_LENGTH"),
    ("disabled", "maybe", "OTEL_SDK_DISABLED"),
]


@pytest.mark.parametrize(
    ("keyword", "value", "variable"), BAD_KEYWORDS, ids=[f"{k}={v!r}"[:40] for k, v, _ in BAD_KEYWORDS]
)
def test_bad_keyword_warns_once_and_falls_back(
    caplog: pytest.LogCaptureFixture, keyword: str, value: Any, variable: str
) -> None:
    assert resolve(**{keyword: value}) == DEFAULTS
    (message,) = warnings(caplog)
    assert variable in message


def test_bad_per_signal_endpoint_falls_back_to_the_base_endpoint(caplog: pytest.LogCaptureFixture) -> None:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "collector:4318/v1/logs",
    }
    assert resolve(env).endpoints == {s: f"http://collector:4318/v1/{s}" for s in SIGNALS}
    (message,) = warnings(caplog)
    assert "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT" in message


def test_several_bad_variables_warn_once_each(caplog: pytest.LogCaptureFixture) -> None:
    env = {
        "OTEL_TRACES_EXPORTER": "zipkin",
        "OTEL_TRACES_SAMPLER": "sometimes",
        "OTEL_EXPORTER_OTLP_HEADERS": "x",
    }
    for _ in range(3):
        assert resolve(env) == DEFAULTS
    messages = warnings(caplog)
    assert len(messages) == 3
    for variable in env:
        assert sum(variable in m for m in messages) == 1


json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)
KEYWORDS = (
    "service_name", "endpoint", "headers", "timeout", "resource_attributes", "traces_exporter",
    "metrics_exporter", "logs_exporter", "temporality", "metric_export_interval", "sampler", "sampler_arg",
    "capture_message_content", "max_content_length", "semconv_attributes", "legacy_attributes",
    "per_chunk_metrics", "disabled_instrumentations", "disabled",
)  # fmt: skip
VARIABLES = (
    "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
    "OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "OTEL_TRACES_EXPORTER",
    "OTEL_METRIC_EXPORT_INTERVAL", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", "OTEL_SDK_DISABLED",
    "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    keywords=st.fixed_dictionaries({}, optional=dict.fromkeys(KEYWORDS, json_like)),
    env=st.fixed_dictionaries({}, optional=dict.fromkeys(VARIABLES, st.text(max_size=20))),
)
def test_resolve_never_raises(keywords: dict[str, Any], env: dict[str, str]) -> None:
    """Whatever the types, the result is usable by ``sdk.build``: valid exporters, URLs, numbers, enums."""
    resolved = Settings.resolve(keywords, env=env)
    assert set(resolved.endpoints) == set(resolved.headers) == set(resolved.exporters) == set(SIGNALS)
    assert all(url.startswith(("http://", "https://")) for url in resolved.endpoints.values())
    assert all(set(names) <= {"otlp", "console"} for names in resolved.exporters.values())
    assert all(
        isinstance(k, str) and isinstance(v, str) for h in resolved.headers.values() for k, v in h.items()
    )
    assert resolved.timeout_s >= 0 and resolved.metric_export_interval_ms >= 1
    assert 0 <= resolved.sampler_arg <= 1
    assert resolved.sampler in config.SAMPLERS
    assert isinstance(resolved.temporality, Temporality)
    assert isinstance(resolved.capture_content, ContentCapture)
    assert isinstance(resolved.disabled, bool) and isinstance(resolved.legacy_attributes, bool)
    assert sdk.sampler_for(resolved) is not None


def test_temporality_maps_counters_and_histograms() -> None:
    delta, cumulative = AggregationTemporality.DELTA, AggregationTemporality.CUMULATIVE
    assert sdk.TEMPORALITIES[resolve().temporality] == {
        Counter: delta,
        UpDownCounter: cumulative,
        Histogram: delta,
        ObservableCounter: delta,
        ObservableUpDownCounter: cumulative,
        ObservableGauge: cumulative,
    }
    asked = resolve({"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "CUMULATIVE"}).temporality
    assert set(sdk.TEMPORALITIES[asked].values()) == {cumulative}
    assert len(sdk.TEMPORALITIES[asked]) == 6
    low = sdk.TEMPORALITIES[Temporality.LOWMEMORY]
    assert (low[Counter], low[Histogram], low[ObservableCounter]) == (delta, delta, cumulative)


def test_langchain_settings_live_here(caplog: pytest.LogCaptureFixture) -> None:
    """LangChain's two settings are parsed and validated with the others: one warning for a bad value."""
    resolved = Settings.resolve(
        env={
            "OTEL_INSTRUMENTATION_GENAI_LANGCHAIN_VERBOSE": "loud",
            "OTEL_INSTRUMENTATION_GENAI_LANGCHAIN_CONVERSATION_ID_KEYS": " chat_id, ,user_session ",
        }
    )
    assert resolved.langchain_verbose is False
    assert resolved.langchain_conversation_id_keys == ("chat_id", "user_session")
    warnings = [r for r in caplog.records if "LANGCHAIN_VERBOSE" in r.getMessage()]
    assert len(warnings) == 1
    assert Settings.resolve(env={}).langchain_conversation_id_keys == (
        "conversation_id",
        "session_id",
        "thread_id",
    )
    assert Settings.resolve({"langchain_verbose": True}, env={}).langchain_verbose is True
