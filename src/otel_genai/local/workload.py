"""The demo's scripted workload: real client libraries against the loopback simulator.

Each step is one thing a user's app does (a chat, a stream, a tool-using workflow, a failing call,
embeddings, and a LangChain chain, an Ollama chat and a Bedrock Converse call when those libraries are
installed), plus classic ML when ``otel-genai[ml]`` is installed: a served model's traffic through
``ModelMonitor`` (its inputs drift as the demo goes on) and, once per process, a short Keras training run.
A step whose library is missing is skipped; a step that fails is reported, never raised.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from typing import Any

Report = Callable[[str, str], None]


def run(base_url: str, report: Report, *, ml: bool = False) -> list[str]:
    """Run every available step against the simulator at ``base_url`` (``http://127.0.0.1:N/v1``).

    ``ml`` adds the classic-ML steps; they keep per-process state (one monitor, one training run), which
    suits the demo's process and nothing else.
    """
    import openai

    client = openai.OpenAI(base_url=base_url, api_key="demo-key", max_retries=0)
    root = base_url.rsplit("/v1", 1)[0]
    steps: list[tuple[str, Callable[[], str]]] = [
        ("chat", lambda: _chat(client)),
        ("stream", lambda: _stream(client)),
        ("tool call", lambda: _support_ticket(client)),
        ("error", lambda: _error(client, openai)),
        ("embeddings", lambda: _embeddings(client)),
    ]
    if importlib.util.find_spec("langchain_openai") and importlib.util.find_spec("langchain_core"):
        steps.append(("langchain", lambda: _langchain(base_url)))
    if importlib.util.find_spec("ollama"):
        steps.append(("ollama", lambda: _ollama(root)))
    if importlib.util.find_spec("boto3"):
        steps.append(("bedrock", lambda: _bedrock(root)))
    if ml and importlib.util.find_spec("numpy"):
        steps.append(("served ML", _served_model))
    if ml and not _trained and _keras_backend():
        steps.append(("training", _training))
    done = []
    for name, step in steps:
        try:
            report(name, step())
            done.append(name)
        except Exception as exc:  # a demo step failing must not end the demo
            report(name, f"skipped ({type(exc).__name__}: {exc})")
    return done


_QUESTION: Any = [{"role": "user", "content": "What does otel-genai record?"}]


def _chat(client: Any) -> str:
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=_QUESTION)
    return str(reply.choices[0].message.content)


def _stream(client: Any) -> str:
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=_QUESTION, stream=True, stream_options={"include_usage": True}
    )
    return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


def _support_ticket(client: Any) -> str:
    import otel_genai

    @otel_genai.tool
    def lookup_order(order_id: str) -> dict[str, str]:
        return {"order_id": order_id, "status": "shipped"}

    @otel_genai.workflow("support_ticket")
    def handle(question: str) -> str:
        tools = [
            {
                "type": "function",
                "function": {
                    "name": "lookup_order",
                    "description": "Find an order by id",
                    "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}},
                },
            }
        ]
        messages: Any = [{"role": "user", "content": question}]
        first = client.chat.completions.create(model="gpt-4o", messages=messages, tools=tools)
        call = first.choices[0].message.tool_calls[0]
        result = lookup_order("A-17")
        messages += [
            first.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": str(result)},
        ]
        second = client.chat.completions.create(model="gpt-4o", messages=messages, tools=tools)
        return f"{call.function.name}() -> {second.choices[0].message.content}"

    with otel_genai.association_properties(user_id="demo-user", session_id="ticket-42"):
        return handle("Where is my order A-17?")


def _error(client: Any, openai: Any) -> str:
    try:
        client.chat.completions.create(model="missing-model", messages=_QUESTION)
    except openai.NotFoundError as exc:
        return f"{type(exc).__name__}: {exc.code}"
    return "no error?"


def _embeddings(client: Any) -> str:
    result = client.embeddings.create(model="text-embedding-3-small", input=["otel", "genai"])
    return f"{len(result.data)} vectors of {len(result.data[0].embedding)}"


def _langchain(base_url: str) -> str:
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_openai import ChatOpenAI

    prompt = ChatPromptTemplate.from_messages([("user", "Summarise {topic} in one line.")])
    model = ChatOpenAI(model="gpt-4o-mini", base_url=base_url, api_key="demo-key", max_retries=0)  # type: ignore[arg-type]
    chain = prompt | model | StrOutputParser()
    return str(chain.invoke({"topic": "OpenTelemetry"}))


def _ollama(root: str) -> str:
    import ollama

    reply = ollama.Client(host=root).chat(model="llama3.2", messages=_QUESTION)
    return str(reply["message"]["content"])


def _bedrock(root: str) -> str:
    import boto3

    client = boto3.client(
        "bedrock-runtime",
        endpoint_url=root,
        region_name="us-east-1",
        aws_access_key_id="demo",
        aws_secret_access_key="demo",
    )
    reply = client.converse(
        modelId="anthropic.claude-3-haiku-20240307-v1:0",
        messages=[{"role": "user", "content": [{"text": "What does otel-genai record?"}]}],
    )
    return str(reply["output"]["message"]["content"][0]["text"])


_served: dict[str, Any] = {}  # the demo's ModelMonitor and how many batches it has served
_trained: list[str] = []  # the Keras run happens once per process


def _served_model() -> str:
    """A batch for a two-class model behind a ModelMonitor; each batch's inputs shift a little further."""
    import numpy as np

    from otel_genai.ml import InputRejected, ModelMonitor

    rng = np.random.default_rng(len(_served))
    if "monitor" not in _served:
        _served["monitor"] = ModelMonitor(
            "demo-sentiment",
            reference=rng.normal(0.0, 1.0, (500, 3)),
            class_names=["negative", "positive"],
            feature_names=["length", "exclamations", "caps"],
            window=400,
            drift_every=100,
            reject_non_finite=True,
            prometheus=False,
        )
        _served["batches"] = 0
    monitor, batch = _served["monitor"], _served["batches"]
    _served["batches"] = batch + 1
    x = rng.normal(0.25 * batch, 1.0, (200, 3))  # covariate shift grows with every batch
    with monitor.observe(x) as obs:
        p = 1 / (1 + np.exp(-(x @ np.array([0.8, -0.5, 0.3]))))
        obs.outputs(np.stack([1 - p, p], axis=1))
    try:  # one malformed request per batch: rejected, counted, never predicted
        with monitor.observe(np.array([[np.nan, 1.0, 2.0]])):
            pass
    except InputRejected:
        pass
    drift = monitor.drift()
    worst = max(drift.values()) if drift else 0.0
    return f"200 predictions, 1 input rejected, max input drift (PSI) {worst:.2f}"


def _keras_backend() -> bool:
    """Keras with a backend that imports here (torch preferred: no TensorFlow needed)."""
    if not importlib.util.find_spec("keras"):
        return False
    backend = os.environ.get("KERAS_BACKEND")
    if backend is None and importlib.util.find_spec("torch") and not importlib.util.find_spec("tensorflow"):
        os.environ["KERAS_BACKEND"] = backend = "torch"
    return bool(importlib.util.find_spec(backend or "tensorflow"))


def _training() -> str:
    """Two epochs of a small classifier on synthetic data, then an evaluation, with the Keras callback."""
    _trained.append("done")
    import keras
    import numpy as np

    from otel_genai.ml import KerasCallback

    rng = np.random.default_rng(7)
    x = rng.normal(size=(512, 8)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int32")
    model = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(2)]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.02),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    callback = KerasCallback(model_name="demo-classifier")
    history = model.fit(x, y, epochs=3, batch_size=64, validation_split=0.2, verbose=0, callbacks=[callback])
    model.evaluate(x, y, verbose=0, callbacks=[callback])
    return f"3 epochs, accuracy {history.history['accuracy'][-1]:.2f}"


__all__ = [
    "Report",
    "run",
]
