"""The dashboard in a real headless Chromium, after the real ``otel-genai demo --once`` filled the store.

Checks that the Overview shows the store's numbers, the trace list the demo's traces, that a trace opens
with its waterfall and captured prompt, that the Cost, Guardrails and ML tabs render the names.md data,
that the page refreshes itself when new spans arrive, and that a span attribute holding markup is shown
as text, never run. A screenshot of every tab lands in the test's tmp_path.
Skipped when Chromium, chromedriver or selenium are not installed (.ci/run installs them).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

from local_support import backend, rows
from otel_genai.local.server import LocalServer

webdriver = pytest.importorskip("selenium.webdriver")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver") or (
    "/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver") else None
)
pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="needs chromium and chromium-driver")

XSS = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'
TABS = ("overview", "traffic", "errors", "cost", "guardrails", "traces", "ml")


def _synthetic(server: LocalServer, *, hostile: bool = False) -> None:
    """Spans and metrics under the names.md contract (cost, guardrails, ML); ``hostile``: a markup span."""
    resource = Resource.create({"service.name": "synthetic-app"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=server.url + "/v1/traces")))
    tracer = provider.get_tracer("synthetic")
    calls = [
        (0.0125, 0.004, 100, 60, {"gen_ai.guardrail.configured": True, "gen_ai.guardrail.intervened": False}),
        (
            0.02,
            0.0,
            0,
            0,
            {
                "gen_ai.guardrail.configured": True,
                "gen_ai.guardrail.intervened": True,
                "gen_ai.guardrail.activations": ["content", "prompt_attack"],
                "gen_ai.guardrail.blocked": "input",
            },
        ),
        (
            0.0075,
            0.001,
            40,
            0,
            {
                "gen_ai.guardrail.configured": True,
                "gen_ai.guardrail.intervened": True,
                "gen_ai.guardrail.activations": ["sensitive_information"],
                "gen_ai.guardrail.blocked": "output",
            },
        ),
    ]
    for cost, savings, cache_read, cache_write, guard in calls:
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "aws.bedrock",
            "gen_ai.request.model": "claude-priced",
            "gen_ai.usage.input_tokens": 200,
            "gen_ai.usage.output_tokens": 50,
            "gen_ai.usage.cost": cost,
            "gen_ai.usage.cache_savings": savings,
            "gen_ai.usage.cache_read.input_tokens": cache_read,
            "gen_ai.usage.cache_creation.input_tokens": cache_write,
            **guard,
        }
        with tracer.start_as_current_span("chat claude-priced", kind=SpanKind.CLIENT, attributes=attributes):
            time.sleep(0.002)
    if hostile:
        markup = {"gen_ai.operation.name": "chat", "gen_ai.request.model": XSS, "gen_ai.input.messages": XSS}
        with tracer.start_as_current_span("chat " + XSS, kind=SpanKind.CLIENT, attributes=markup):
            pass
    provider.shutdown()

    reader = InMemoryMetricReader()
    meters = MeterProvider(resource=resource, metric_readers=[reader])
    meter = meters.get_meter("synthetic")
    loss = {"value": 0.0}
    meter.create_observable_gauge("keras.loss", callbacks=[lambda options: _observe(loss)])
    predictions = meter.create_counter("ml.model.predictions")
    duration = meter.create_histogram("ml.model.prediction.duration", unit="s")
    drift = {"value": 0.0}
    meter.create_observable_gauge(
        "ml.model.drift", callbacks=[lambda options: _observe(drift, feature="age")]
    )
    meter.create_counter("gen_ai.client.cost", unit="USD").add(
        0.04, {"gen_ai.request.model": "claude-priced"}
    )
    meter.create_counter("gen_ai.client.guardrail.activations", unit="{activation}").add(
        2, {"gen_ai.guardrail.type": "content", "gen_ai.guardrail.stage": "input"}
    )
    exporter = OTLPMetricExporter(endpoint=server.url + "/v1/metrics")
    for epoch, value in enumerate((0.9, 0.5, 0.3)):
        loss["value"], drift["value"] = value, 0.05 * epoch
        predictions.add(10, {"model": "iris", "class": "setosa"})
        duration.record(0.004, {"model": "iris"})
        assert exporter.export(reader.get_metrics_data()).name == "SUCCESS"
        time.sleep(0.01)
    meters.shutdown()


def _observe(box: dict[str, float], **extra: str) -> Any:
    from opentelemetry.metrics import Observation

    attributes = {"model": "iris", **extra}
    if "feature" not in extra:
        attributes["stage"] = "train"
    return [Observation(box["value"], attributes)]


@pytest.fixture
def browser() -> Iterator[Any]:
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="otel-genai-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.binary_location = CHROMIUM
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def _wait(driver: Any, script: str, *args: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(script, *args)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"page never satisfied: {script}")


def _show(driver: Any, url: str, tab: str) -> None:
    driver.get(f"{url}/#{tab}")
    _wait(driver, f"return document.getElementById('view').dataset.view === '{tab}'")


def _click(driver: Any, selector: str, text: str) -> None:
    """Click the first ``selector`` element whose first line of text contains ``text``, found and clicked in
    one script: the page re-renders itself when new data arrives, so a Selenium element handle can go stale
    between finding it and clicking it."""
    script = (
        "const hit = [...document.querySelectorAll(arguments[0])]"
        ".find(e => e.innerText.split('\\n')[0].includes(arguments[1]));"
        " if (hit) { hit.click(); return true; } return false;"
    )
    _wait(driver, script, selector, text)


def _tile(driver: Any, name: str) -> tuple[str, str]:
    return tuple(
        driver.execute_script(
            "const t = document.getElementById('kpi-' + arguments[0]);"
            " return [t.dataset.value, t.querySelector('.value').textContent];",
            name,
        )
    )


def _percentile(values: list[int], p: float) -> int:
    return values[max(0, math.ceil(p * len(values)) - 1)]


def test_dashboard_after_demo(tmp_path: Path, browser: Any) -> None:
    db = tmp_path / "demo.db"
    demo = subprocess.run(
        [sys.executable, "-m", "otel_genai.cli", "demo", "--once", "--port", "0", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "OTEL_METRIC_EXPORT_INTERVAL": "1000"},
    )
    assert demo.returncode == 0, demo.stderr
    assert demo.stdout.rstrip().splitlines()[-1].startswith("Dashboard:  http://127.0.0.1:")

    with backend(db) as server:
        _synthetic(server)
        store = server.store
        # Overview = the store, counted here independently of the API.
        inference = rows(store, "SELECT * FROM spans WHERE inference = 1")
        # The demo's classic-ML steps: served-model traffic and one Keras training run.
        sentiment = (
            "SELECT COUNT(*) AS n FROM points WHERE json_extract(attributes, '$.model') = 'demo-sentiment'"
        )
        assert rows(store, sentiment)[0]["n"] > 0
        assert [
            r["name"]
            for r in rows(
                store, "SELECT name FROM spans WHERE name LIKE '% demo-classifier' ORDER BY start_ns"
            )
        ] == [
            "fit demo-classifier",
            "evaluate demo-classifier",
        ]
        durations = sorted(r["duration_ns"] for r in inference)
        _show(browser, server.url, "overview")
        assert _tile(browser, "requests") == (str(len(inference)), f"{len(inference):,}")
        assert int(_tile(browser, "input_tokens")[0]) == sum(r["input_tokens"] or 0 for r in inference)
        assert int(_tile(browser, "output_tokens")[0]) == sum(r["output_tokens"] or 0 for r in inference)
        assert int(_tile(browser, "errors")[0]) == sum(r["status"] == 2 for r in inference) == 1
        for name, p in (("p50_ms", 0.5), ("p90_ms", 0.9), ("p95_ms", 0.95)):
            assert float(_tile(browser, name)[0]) == round(_percentile(durations, p) / 1e6, 3)
        mean = sum(durations) / len(durations) / 1e6
        assert abs(float(_tile(browser, "avg_ms")[0]) - mean) < 0.001
        total_cost = sum(r["cost"] for r in inference if r["cost"] is not None)
        assert float(_tile(browser, "cost")[0]) == pytest.approx(total_cost, abs=1e-12)
        assert _tile(browser, "cost")[1] == f"${total_cost:.4f}"
        table = browser.find_element("css selector", "#by-group table").text
        assert "otel-genai-demo" in table and "gpt-4o-mini" in table and "synthetic-app" in table

        # Every tab renders (and gets a screenshot); the names.md views show the synthetic numbers.
        for tab in TABS:
            _show(browser, server.url, tab)
            time.sleep(0.3)
            browser.save_screenshot(str(tmp_path / f"dashboard-{tab}.png"))
            if tab == "cost":
                assert float(_tile(browser, "total_cost")[0]) == pytest.approx(total_cost)
                assert float(_tile(browser, "savings")[0]) == pytest.approx(0.005)
                cache_read = sum(r["input_tokens"] or 0 for r in inference)
                assert float(_tile(browser, "cache_hit_ratio")[0]) == pytest.approx(140 / cache_read)
                # The demo's own calls are priced too (genai-prices), so the counter is the store's sum.
                counted = rows(store, "SELECT SUM(delta) AS s FROM points WHERE name = 'gen_ai.client.cost'")
                expected = f"gen_ai.client.cost \u2013 {counted[0]['s']:.5f}"
                assert expected in browser.find_element("id", "counters").text
            if tab == "guardrails":
                assert [_tile(browser, n)[0] for n in ("executions", "interventions")] == ["3", "2"]
                assert [_tile(browser, n)[0] for n in ("blocked_input", "filtered_output")] == ["1", "1"]
                assert "prompt_attack" in browser.find_element("id", "activations").text
                counters = browser.find_element("id", "counters").text
                assert "gen_ai.client.guardrail.activations content 2.000" in counters
            if tab == "ml":
                # The synthetic 30 plus the demo's own served-model traffic (otel-genai[ml] installed).
                served = rows(store, "SELECT SUM(delta) AS s FROM points WHERE name = 'ml.model.predictions'")
                assert _tile(browser, "predictions")[0] == str(int(served[0]["s"]))
                assert "keras.loss [iris/train]" in browser.find_element("id", "view").text
            if tab == "errors":
                assert _tile(browser, "error_count")[0] == "1"
                assert "model_not_found" in browser.find_element("id", "view").text

        # The trace list holds the demo's traces; one opens as a waterfall with its captured prompt.
        roots = {
            r["name"]
            for r in rows(
                store, "SELECT name FROM spans WHERE parent_id = '' AND service = 'otel-genai-demo'"
            )
        }
        assert {
            "invoke_workflow support_ticket",
            "chat gpt-4o-mini",
            "embeddings text-embedding-3-small",
        } <= roots
        _show(browser, server.url, "traces")
        listed = browser.find_element("id", "trace-list").text
        assert all(root in listed for root in roots)
        _click(browser, "#trace-list tr.click", "support_ticket")
        _wait(browser, "return document.getElementById('view').dataset.view === 'trace'")
        waterfall = browser.execute_script(
            "return [...document.querySelectorAll('#waterfall .wf-row')]"
            ".map(r => r.innerText.split('\\n')[0])"
        )
        assert waterfall[:2] == ["invoke_workflow support_ticket", "chat gpt-4o"]
        assert len(waterfall) == 4
        _click(browser, "#waterfall .wf-row", waterfall[2])
        _wait(
            browser,
            "return document.querySelector('#span-detail h2').textContent === 'execute_tool lookup_order'",
        )
        _click(browser, "#waterfall .wf-row", "chat gpt-4o")
        _wait(browser, "return document.querySelector('#span-detail h2').textContent === 'chat gpt-4o'")
        detail = browser.find_element("id", "span-detail").text
        assert "user: Where is my order A-17?" in detail and "gen_ai.usage.input_tokens" in detail
        browser.save_screenshot(str(tmp_path / "dashboard-trace.png"))

        # Live: a new span shows up without a reload.
        requests_before = int(_tile_after(browser, server.url))
        provider = TracerProvider(resource=Resource.create({"service.name": "late-app"}))
        provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=server.url + "/v1/traces")))
        with provider.get_tracer("late").start_as_current_span(
            "chat late", kind=SpanKind.CLIENT, attributes={"gen_ai.operation.name": "chat"}
        ):
            pass
        provider.shutdown()
        browser.execute_script("window.__marker = 'same page'")
        _wait(
            browser,
            f"return document.getElementById('kpi-requests').dataset.value === '{requests_before + 1}'",
        )
        assert browser.execute_script("return window.__marker") == "same page"
        assert browser.execute_script("return window.__xss") is None


def _tile_after(browser: Any, url: str) -> str:
    _show(browser, url, "overview")
    return str(_tile(browser, "requests")[0])


def test_markup_in_attributes_is_text_not_code(tmp_path: Path, browser: Any) -> None:
    with backend(tmp_path / "xss.db") as server:
        _synthetic(server, hostile=True)
        (hostile,) = rows(server.store, "SELECT trace_id FROM spans WHERE name LIKE 'chat <script>%'")
        for tab in ("overview", "traffic", "cost", "traces"):
            _show(browser, server.url, tab)
            time.sleep(0.3)
            assert browser.execute_script("return window.__xss") is None, tab
            assert not browser.find_elements("css selector", "#view script, #view img"), tab
        assert XSS in browser.find_element("id", "trace-list").text
        models = browser.execute_script(
            "return [...document.querySelectorAll('#f-model option')].map(o => o.textContent)"
        )
        assert XSS in models
        browser.get(f"{server.url}/#trace/{hostile['trace_id']}")
        _wait(browser, "return document.getElementById('view').dataset.view === 'trace'")
        time.sleep(0.3)
        detail = browser.find_element("id", "span-detail").text
        assert XSS in detail
        assert browser.execute_script("return window.__xss") is None
        assert not browser.find_elements("css selector", "#view script, #view img")
        assert json.loads(json.dumps(XSS)) in browser.find_element("css selector", "#span-detail pre").text
