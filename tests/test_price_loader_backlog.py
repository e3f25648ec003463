"""Calls held for the price table stay bounded when a busy loop starves the loader thread of the GIL.

The first priceable call starts importing genai-prices on a background thread and calls that end
meanwhile wait for it. Back-to-back calls on an in-process transport never block on I/O, so that thread
can go seconds without the GIL: thousands of calls were held (each with its span), then ended in one burst
that overflowed the span queue. Now a calling thread that finds calls waiting too long loads the table
and completes them itself.
"""

from __future__ import annotations

import threading

import pytest

import child_app
from otel_genai.core import pricing
from otlp_receiver import OtlpReceiver, attrs_to_dict

BUSY_LOOP = """
import json, sys
import openai
if hasattr(openai, "_httpx2"):  # openai 3.x ships on httpx2, 1.x on httpx; both have MockTransport
    import httpx2 as http
else:
    import httpx as http
import otel_genai
from otel_genai.core import pricing

recording = json.loads(open(sys.argv[2]).read())["interactions"][0]
body = json.dumps(recording["response"]["json"]).encode()
transport = http.MockTransport(
    lambda request: http.Response(200, headers={"content-type": "application/json"}, content=body)
)
otel_genai.init(endpoint=sys.argv[1], service_name="backlog")
client = openai.OpenAI(
    base_url="http://in-process/v1", api_key="sk-test", max_retries=0,
    http_client=http.Client(transport=transport),
)
held = 0
for i in range(int(sys.argv[3])):
    client.chat.completions.create(**recording["request"]["json"])
    held = max(held, len(pricing.LIBRARY._waiting))
otel_genai.shutdown()
print(json.dumps({"held": held, "caller_loads": pricing.LIBRARY.caller_loads}))
"""


def test_busy_loop_holds_a_bounded_number_of_calls() -> None:
    from replay import RECORDINGS_DIR

    calls = 3000  # ~2 s of calls: past _HELP_AFTER_S even on a fast machine, if the loader is starved
    with OtlpReceiver() as receiver:
        result = child_app.run(
            BUSY_LOOP,
            child_app.clean_env(),
            receiver.endpoint,
            str(RECORDINGS_DIR / "openai" / "chat_basic_gpt4o_mini.json"),
            str(calls),
        )
        observed = child_app.last_json(result)
        spans = receiver.spans()  # shutdown() in the child exported everything
    assert observed["held"] <= pricing._HELP_BACKLOG, observed
    assert len(spans) == calls
    assert all(attrs_to_dict(span.attributes).get("gen_ai.usage.cost", 0) > 0 for span in spans)


def test_a_starved_loader_is_helped_by_the_calling_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the help threshold at 0 s the submitting thread loads the table before submit() returns."""
    library = pricing._Library()
    monkeypatch.setattr(pricing, "_HELP_AFTER_S", 0.0)
    ran: list[threading.Thread] = []
    library.submit(lambda: ran.append(threading.current_thread()))
    assert library.loaded and library.caller_loads == 1  # the caller did not leave it to the thread
    assert library.drain(10) and len(ran) == 1  # completed once (by whichever thread popped it first)


def test_held_calls_below_the_thresholds_wait_for_the_loader_thread() -> None:
    library = pricing._Library()
    done = threading.Event()
    ran_on: list[threading.Thread] = []

    def task() -> None:
        ran_on.append(threading.current_thread())
        done.set()

    library.submit(task)
    assert done.wait(30) and library.drain(10)
    assert library.caller_loads == 0 and ran_on[0] is not threading.current_thread()
