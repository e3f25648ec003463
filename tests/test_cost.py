"""Cost per call: exactly what genai-prices computes, for every recording that has usage.

Real clients (openai, boto3) replay each recording over loopback; the expected price of every span is
``genai_prices.calc_price`` on the span's token counts (which the provider tests check against the
recordings), with the provider's model id and the response's service tier. The fast path (a quote
resolved once per model) is also compared with ``calc_price`` over every model of the main providers.
"""

from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import openai
import pytest

import child_app
from bedrock_support import ALL as BEDROCK_ALL
from bedrock_support import call_of, interactions, perform_sync, sync_client
from conftest import API_KEY, Telemetry, kwargs_for
from cost_support import check_cost, expected_cost
from otel_genai import semconv as sc
from otel_genai.core import pricing
from otel_genai.core.invocation import Invocation
from otlp_receiver import OtlpReceiver, attrs_to_dict
from replay import RECORDINGS_DIR, ReplayServer

genai_prices = pytest.importorskip("genai_prices")

OPENAI = sorted(p.stem for p in (RECORDINGS_DIR / "openai").glob("*.json") if "error" not in p.stem)
AZURE = sorted(p.stem for p in (RECORDINGS_DIR / "azure-openai").glob("*.json") if "error" not in p.stem)
BEDROCK = [n for n in BEDROCK_ALL if "error" not in n and not n.startswith("apply_")]


def _refs(attributes: dict[str, Any]) -> list[str]:
    return [m for m in (attributes.get(sc.RESPONSE_MODEL), attributes.get(sc.REQUEST_MODEL)) if m]


def _openai_call(client: Any, path: str, body: dict[str, Any]) -> None:
    if path.endswith("/chat/completions"):
        method = client.chat.completions.create
    elif path.endswith("/responses"):
        if not hasattr(client, "responses"):
            pytest.skip("the Responses API arrived in openai 1.66")
        method = client.responses.create
    elif path.endswith("/embeddings"):
        method = client.embeddings.create
    else:
        method = client.completions.create
    result = method(**kwargs_for(body, method))
    if body.get("stream"):
        list(result)


@pytest.mark.parametrize("name", OPENAI)
def test_openai_recording_cost(
    name: str, instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    telemetry = instrument(cost=True)
    server = replay(f"openai/{name}.json")
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=API_KEY, max_retries=0)
    for interaction in interactions_of("openai", name):
        request = interaction["request"]
        if request["path"].startswith("/v1/"):
            _openai_call(client, request["path"], request.get("json") or {})
    client.close()
    check_cost(telemetry, "openai", _refs)  # the model the response names, else the one requested


def test_openai_recordings_are_mostly_priced(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    """The comparison above is not vacuous: the main models are in genai-prices' table."""
    telemetry = instrument(cost=True)
    server = replay(
        "openai/chat_prompt_caching_cached_tokens.json", "openai/chat_service_tier_priority_gpt5.json"
    )
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=API_KEY, max_retries=0)
    for name in ("chat_prompt_caching_cached_tokens", "chat_service_tier_priority_gpt5"):
        for interaction in interactions_of("openai", name):
            _openai_call(client, interaction["request"]["path"], interaction["request"]["json"])
    client.close()
    assert check_cost(telemetry, "openai", lambda a: a[sc.RESPONSE_MODEL]) == len(telemetry.spans())
    by_tier = {s.attributes.get(sc.OPENAI_RESPONSE_SERVICE_TIER): s.attributes for s in telemetry.spans()}
    priority = by_tier["priority"]
    # the priority tier is priced at its own rate, higher than the standard one
    standard = expected_cost(
        {**priority, sc.OPENAI_RESPONSE_SERVICE_TIER: None}, "openai", priority[sc.RESPONSE_MODEL]
    )
    assert standard is not None and priority[sc.USAGE_COST] > standard[0]
    cached = [s.attributes for s in telemetry.spans() if s.attributes.get(sc.USAGE_CACHE_READ_INPUT_TOKENS)]
    assert cached and all(a[sc.USAGE_CACHE_SAVINGS] > 0 for a in cached)


@pytest.mark.parametrize("name", AZURE)
def test_azure_recording_cost(
    name: str, instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    from test_openai_azure import request_of

    telemetry = instrument(cost=True)
    server = replay(f"azure-openai/{name}.json")
    body, deployment, api, version = request_of(name)
    client = openai.AzureOpenAI(
        azure_endpoint=server.url,
        api_key=API_KEY,
        azure_deployment=deployment,
        api_version=version,
        max_retries=0,
    )
    _openai_call(client, f"/{api}", body)
    client.close()
    # an Azure deployment is priced as the model it serves (the response names it)
    check_cost(telemetry, "azure", _refs)


def interactions_of(folder: str, name: str) -> list[dict[str, Any]]:
    return list(json.loads((RECORDINGS_DIR / folder / f"{name}.json").read_text())["interactions"])


def _bedrock_ref(attributes: dict[str, Any]) -> str:
    """The model id as sent; an ARN's resource id (an inference profile keeps its geography prefix)."""
    model_id = str(attributes[sc.AWS_BEDROCK_REQUEST_MODEL_ID])
    return model_id.rsplit("/", 1)[-1] if model_id.startswith("arn:") else model_id


@pytest.mark.parametrize("name", BEDROCK)
def test_bedrock_recording_cost(
    name: str, instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    telemetry = instrument(cost=True)
    server = replay(f"bedrock/{name}.json")
    client = sync_client(server)
    for interaction in interactions(name):
        perform_sync(client, call_of(interaction))
    check_cost(telemetry, "aws", _bedrock_ref)


@pytest.mark.parametrize(
    ("name", "priced"),
    [
        ("converse_claude37_inference_profile_arn", True),  # profile ARN: priced as its profile
        ("invoke_nova_lite_cross_region_profile", True),
        ("invoke_claude35_haiku_prompt_cache_write_read", True),
        ("invoke_imported_model_sagemaker_arn", False),  # an imported model has no list price
    ],
)
def test_bedrock_ids_behind_profiles_and_arns(
    name: str, priced: bool, instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    telemetry = instrument(cost=True)
    server = replay(f"bedrock/{name}.json")
    client = sync_client(server)
    for interaction in interactions(name):
        perform_sync(client, call_of(interaction))
    spans = telemetry.spans()
    assert all((sc.USAGE_COST in s.attributes) is priced for s in spans)
    if name.endswith("write_read"):  # the cache write costs more than input, the read less
        write, read = (dict(s.attributes) for s in spans)
        assert write[sc.USAGE_CACHE_CREATION_INPUT_TOKENS] > 0 and read[sc.USAGE_CACHE_SAVINGS] > 0


# --- the fast path equals calc_price for every model -------------------------------------------------

USAGES = [
    {"input_tokens": 1200, "output_tokens": 300},
    {"input_tokens": 1200, "output_tokens": 300, "cache_read_tokens": 1000},
    {"input_tokens": 5000, "output_tokens": 7, "cache_read_tokens": 100, "cache_write_tokens": 4000},
    {"input_tokens": 90, "output_tokens": 2000, "output_reasoning_tokens": 1500},
    {"input_tokens": 250_000, "output_tokens": 40_000, "cache_read_tokens": 200_000},  # tiered prices
    {"input_tokens": 10, "output_tokens": 0, "cache_read_tokens": 20},  # invalid: reads exceed input
    {"input_tokens": 7},
]


def _inv(usage: dict[str, int]) -> Invocation:
    inv = Invocation("chat", "openai", "m")
    for key, value in usage.items():
        setattr(inv, pricing.USAGE_FIELDS[key], value)
    return inv


@pytest.mark.parametrize("provider_id", ["openai", "anthropic", "aws", "azure", "google", "deepseek", "x-ai"])
def test_quote_equals_calc_price_for_every_model(provider_id: str) -> None:
    snapshot = pricing.LIBRARY.snapshot
    provider = next(p for p in snapshot.providers if p.id == provider_id)
    compared = 0
    for model in provider.models:
        ref = model.id
        for context in (None, {"service_tier": "priority"}, {"processing": "batch"}):
            try:
                quote = pricing.library_quote(snapshot, ref, provider_id, context)
            except LookupError:
                continue
            for usage in USAGES:
                try:
                    want: float | None = float(
                        genai_prices.calc_price(
                            genai_prices.Usage(**usage), ref, provider_id=provider_id, price_context=context
                        ).total_price
                    )
                except ValueError:
                    want = None
                got = quote.cost(_inv(usage))
                assert (got[0] if got else None) == want, (ref, context, usage)
                compared += 1
    assert compared > 100


def test_a_priced_call_costs_microseconds() -> None:
    """Not a benchmark (benchmarks/ measures it): a sanity bound that fails if the library runs per call."""
    import time

    quote = pricing.library_quote(pricing.LIBRARY.snapshot, "gpt-4o-mini", "openai", None)
    inv = _inv({"input_tokens": 1200, "output_tokens": 300, "cache_read_tokens": 1000})
    start = time.perf_counter()
    for _ in range(1000):
        quote.cost(inv)
    assert (time.perf_counter() - start) / 1000 < 50e-6


# --- unknown and local models, user prices -----------------------------------------------------------


def _single(model: str, usage: dict[str, int]) -> dict[str, Any]:
    return {
        "interactions": [
            {
                "request": {"method": "POST", "path": "/chat/completions", "json": {"model": model}},
                "response": {
                    "status": 200,
                    "headers": {"content-type": "application/json"},
                    "json": {
                        "id": "c1",
                        "object": "chat.completion",
                        "model": model,
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {"role": "assistant", "content": "ok"},
                            }
                        ],
                        "usage": usage,
                    },
                },
            }
        ]
    }


def test_unknown_model_gets_no_cost_and_one_debug_line(
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    telemetry = instrument(cost=True)
    recording = _single("my-private-model", {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15})
    recording["interactions"] *= 3
    server = replay(recording)
    client = openai.OpenAI(base_url=server.url, api_key=API_KEY, max_retries=0)
    with caplog.at_level(logging.DEBUG, logger="otel_genai"):
        for _ in range(3):
            client.chat.completions.create(
                model="my-private-model", messages=[{"role": "user", "content": "x"}]
            )
    assert [s.attributes.get(sc.USAGE_COST) for s in telemetry.spans()] == [None] * 3
    assert sc.METRIC_COST not in telemetry.metrics(features=True)
    assert len([r for r in caplog.records if "no price" in r.getMessage()]) == 1


OLLAMA_CHAT = "ollama/chat_llama3.json"


def _ollama_chat(server: ReplayServer) -> None:
    import ollama

    body = interactions_of("ollama", "chat_llama3")[0]["request"]["json"]
    ollama.Client(host=server.url).chat(model=body["model"], messages=body["messages"])


def test_ollama_is_unpriced_by_default(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    telemetry = instrument(cost=True)
    _ollama_chat(replay(OLLAMA_CHAT))
    span = telemetry.span()
    assert span.attributes[sc.USAGE_INPUT_TOKENS] > 0
    assert sc.USAGE_COST not in span.attributes


def _user_cost(attributes: Any, input_mtok: float, output_mtok: float) -> float:
    return float(
        Decimal(repr(input_mtok)) * attributes[sc.USAGE_INPUT_TOKENS] / 1_000_000
        + Decimal(repr(output_mtok)) * attributes[sc.USAGE_OUTPUT_TOKENS] / 1_000_000
    )


def test_user_price_for_a_local_model(
    instrument: Callable[..., Telemetry], replay: Callable[..., ReplayServer]
) -> None:
    model = interactions_of("ollama", "chat_llama3")[0]["request"]["json"]["model"]
    telemetry = instrument(prices={model: {"input_mtok": 0.05, "output_mtok": 0.25, "provider": "ollama"}})
    _ollama_chat(replay(OLLAMA_CHAT))
    span = telemetry.span()
    assert span.attributes[sc.USAGE_COST] == _user_cost(span.attributes, 0.05, 0.25)
    [point] = telemetry.metrics(features=True)[sc.METRIC_COST]
    assert point.value == span.attributes[sc.USAGE_COST]


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_prices_file(
    suffix: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
) -> None:
    """OTEL_GENAI_PRICES_FILE overrides genai-prices (a negotiated rate for gpt-4o-mini)."""
    path = tmp_path / f"prices{suffix}"
    if suffix == ".toml":
        path.write_text('[models."gpt-4o-mini-2024-07-18"]\ninput_mtok = 0.1\noutput_mtok = 0.5\n')
    else:
        path.write_text(
            json.dumps({"models": {"gpt-4o-mini-2024-07-18": {"input_mtok": 0.1, "output_mtok": 0.5}}})
        )
    monkeypatch.setenv("OTEL_GENAI_PRICES_FILE", str(path))
    telemetry = instrument(cost=True)
    server = replay("openai/chat_basic_gpt4o_mini.json")
    body = interactions_of("openai", "chat_basic_gpt4o_mini")[0]["request"]["json"]
    openai.OpenAI(base_url=f"{server.url}/v1", api_key=API_KEY, max_retries=0).chat.completions.create(**body)
    span = telemetry.span()
    assert span.attributes[sc.USAGE_COST] == _user_cost(span.attributes, 0.1, 0.5)


def test_bad_prices_warn_naming_the_entry(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    from otel_genai.config import Settings

    with caplog.at_level(logging.WARNING, logger="otel_genai"):
        settings = Settings.resolve(
            {
                "prices": {
                    "good": {"input_mtok": 1},
                    "bad-model": {"input_mtok": -1},
                    "typo": {"inptu_mtok": 1},
                }
            },
            env={"OTEL_GENAI_PRICES_FILE": str(tmp_path / "missing.toml")},
        )
    assert list(settings.prices) == [(None, "good")]
    messages = "\n".join(r.getMessage() for r in caplog.records)
    assert "'bad-model'" in messages and "'typo'" in messages and "missing.toml" in messages


# --- off the hot path: never imported at init(), the first call completed off-thread -------------------

LAZY_APP = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
import otel_genai
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
otel_genai.init(tracer_provider=provider, metrics_exporter="none", logs_exporter="none")
observed = {"after_init": "genai_prices" in sys.modules}

import openai
from replay import RECORDINGS_DIR, ReplayServer

path = "openai/chat_basic_gpt4o_mini.json"
body = json.loads((RECORDINGS_DIR / path).read_text())["interactions"][0]["request"]["json"]
with ReplayServer(path) as server:
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="sk-test", max_retries=0)
    start = time.perf_counter()
    client.chat.completions.create(**body)
    observed["call_s"] = time.perf_counter() - start
    observed["ended_at_return"] = len(exporter.get_finished_spans())
otel_genai.force_flush()
[span] = exporter.get_finished_spans()
observed["cost"] = span.attributes.get("gen_ai.usage.cost")
observed["span_s"] = (span.end_time - span.start_time) / 1e9
observed["tokens"] = [span.attributes[f"gen_ai.usage.{kind}_tokens"] for kind in ("input", "output")]
print(json.dumps(observed))
"""


def test_genai_prices_loads_off_the_callers_thread() -> None:
    tests = str(Path(__file__).parent)
    process = subprocess.run(
        [sys.executable, "-c", LAZY_APP, tests], capture_output=True, text=True, timeout=60, check=False
    )
    assert process.returncode == 0, process.stderr
    observed = json.loads(process.stdout.strip().splitlines()[-1])
    assert observed["after_init"] is False
    # the call returned before the price table was there; its span ended later, with its real end time
    assert observed["ended_at_return"] == 0
    assert observed["span_s"] <= observed["call_s"]
    want = genai_prices.calc_price(
        genai_prices.Usage(input_tokens=observed["tokens"][0], output_tokens=observed["tokens"][1]),
        "gpt-4o-mini-2024-07-18",
        provider_id="openai",
    )
    assert observed["cost"] == float(want.total_price)
    assert not math.isnan(observed["cost"])


FORK_APP = """
import os, sys
from otel_genai.core import pricing
pricing.LIBRARY._lock.acquire()  # held by "another thread" at the moment of the fork
pid = os.fork()
if pid == 0:
    pricing.LIBRARY.submit(None)  # the child loads and exits its worker: no deadlock
    os._exit(0 if pricing.LIBRARY.drain(10) and pricing.LIBRARY.loaded else 1)
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_price_loader_survives_fork() -> None:
    process = subprocess.run([sys.executable, "-c", FORK_APP], capture_output=True, text=True, timeout=60)
    assert process.stdout.strip() == "0", process.stderr


# The process's first priced call ends while genai-prices is still loading: its span is completed later
# by the loader thread. Every way out of the process must wait for it (bounded), not only force_flush().
FIRST_CALL_THEN_EXIT = (
    child_app.CALLS
    + """
import os, sys, time
import otel_genai

class SlowPrices:  # a slow disk: genai-prices takes a second to import, so the call ends before it
    def find_spec(self, name, path=None, target=None):
        if name == "genai_prices":
            time.sleep(1.0)
        return None  # the normal finders import it

sys.meta_path.insert(0, SlowPrices())
otel_genai.init(endpoint=sys.argv[1], service_name="first-priced-call")
if sys.argv[2] == "fork":
    pid = os.fork()
    if pid == 0:
        calls(1)
        os._exit(0)  # as multiprocessing and forking servers end a child: no atexit
    os.waitpid(pid, 0)
else:
    calls(1)
    if sys.argv[2] == "shutdown":
        otel_genai.shutdown()
    # "exit": the interpreter's own exit, through the atexit flush init() registered
"""
)


@pytest.mark.parametrize("how", ["shutdown", "exit", "fork"])
def test_the_first_priced_call_is_delivered_however_the_process_ends(how: str) -> None:
    if how == "fork" and not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    with OtlpReceiver() as receiver:
        child_app.run(FIRST_CALL_THEN_EXIT, child_app.clean_env(), receiver.endpoint, how)
        spans = receiver.wait_for(lambda: receiver.spans() or None, timeout=5)
    [span] = spans
    attributes = attrs_to_dict(span.attributes)
    assert attributes["gen_ai.usage.cost"] > 0
