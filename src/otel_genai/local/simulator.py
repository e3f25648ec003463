"""A tiny OpenAI-compatible chat server on loopback, for ``otel-genai demo`` and for trying the SDK offline.

It answers ``POST /v1/chat/completions`` (plain, ``stream=True``, ``stream_options.include_usage``, and a
tool call when ``tools`` are offered and no tool result is in the conversation yet) with a deterministic
reply and word-count token usage, and ``POST /v1/embeddings`` with small deterministic vectors; a model
named ``missing-*`` answers 404. For the other clients it also speaks Ollama's ``POST /api/chat`` and Amazon
Bedrock's ``POST /model/{id}/converse`` (non-streaming). Nothing leaves the machine.
"""

from __future__ import annotations

import base64
import contextlib
import json
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REPLY = "OpenTelemetry turns every model call into a span, a few metrics and, if you ask, the words."


def _usage(messages: list[Any], reply: str) -> dict[str, int]:
    prompt = sum(len(str(m.get("content", "")).split()) for m in messages if isinstance(m, dict))
    completion = len(reply.split())
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # small writes go out at once: no 40 ms stall before each chunk

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the demo prints its own output
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
        if self.path == "/api/chat":
            self._ollama_chat(body)
            return
        if self.path.startswith("/model/") and self.path.endswith("/converse"):
            self._converse(body)
            return
        if self.path.rstrip("/").endswith("/embeddings"):
            self._embeddings(body)
            return
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, {"error": {"message": f"no route {self.path}", "code": "not_found"}})
            return
        model = body.get("model", "sim-1")
        if model.startswith("missing"):
            self._send(404, {"error": {"message": f"model {model} not found", "code": "model_not_found"}})
            return
        usage = _usage(body.get("messages", []), REPLY)
        created = int(time.time())
        if body.get("stream"):
            self._stream(model, created, usage, bool((body.get("stream_options") or {}).get("include_usage")))
            return
        message: dict[str, Any] = {"role": "assistant", "content": REPLY}
        finish = "stop"
        answered = any(isinstance(m, dict) and m.get("role") == "tool" for m in body.get("messages", []))
        if body.get("tools") and not answered:
            tool = body["tools"][0].get("function", {}).get("name", "tool")
            call = {"id": "call_sim_1", "type": "function", "function": {"name": tool, "arguments": "{}"}}
            message, finish = {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"
            usage = {**usage, "completion_tokens": 8, "total_tokens": usage["prompt_tokens"] + 8}
        choice = {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
        self._send(
            200,
            {
                "id": "chatcmpl-sim",
                "object": "chat.completion",
                "created": created,
                "model": f"{model}-sim",
                "choices": [choice],
                "usage": usage,
                "system_fingerprint": "fp_simulator",
            },
        )

    def _ollama_chat(self, body: dict[str, Any]) -> None:
        usage = _usage(body.get("messages", []), REPLY)
        self._send(
            200,
            {
                "model": body.get("model", "sim"),
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "message": {"role": "assistant", "content": REPLY},
                "done": True,
                "done_reason": "stop",
                "total_duration": 12_000_000,
                "load_duration": 1_000_000,
                "prompt_eval_count": usage["prompt_tokens"],
                "prompt_eval_duration": 3_000_000,
                "eval_count": usage["completion_tokens"],
                "eval_duration": 8_000_000,
            },
        )

    def _converse(self, body: dict[str, Any]) -> None:
        texts = [
            {"content": part.get("text", "")}
            for message in body.get("messages", [])
            for part in message.get("content", [])
            if isinstance(part, dict)
        ]
        usage = _usage(texts, REPLY)
        self._send(
            200,
            {
                "output": {"message": {"role": "assistant", "content": [{"text": REPLY}]}},
                "stopReason": "end_turn",
                "usage": {
                    "inputTokens": usage["prompt_tokens"],
                    "outputTokens": usage["completion_tokens"],
                    "totalTokens": usage["total_tokens"],
                },
                "metrics": {"latencyMs": 12},
            },
        )

    def _embeddings(self, body: dict[str, Any]) -> None:
        inputs = body.get("input")
        texts = inputs if isinstance(inputs, list) else [inputs]
        data = []
        for index, text in enumerate(texts):
            seed = sum(str(text).encode())
            vector = [((seed * (i + 7)) % 97) / 97.0 for i in range(8)]
            encoded: Any = vector
            if body.get("encoding_format") == "base64":
                encoded = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        tokens = sum(len(str(text).split()) for text in texts)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        self._send(
            200, {"object": "list", "data": data, "model": body.get("model", "sim-embed"), "usage": usage}
        )

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, model: str, created: int, usage: dict[str, int], include_usage: bool) -> None:
        def chunk(
            delta: dict[str, Any] | None, finish: str | None, extra: dict[str, Any] | None = None
        ) -> bytes:
            payload = {
                "id": "chatcmpl-sim",
                "object": "chat.completion.chunk",
                "created": created,
                "model": f"{model}-sim",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]
                if delta is not None
                else [],
                **(extra or {}),
            }
            return f"data: {json.dumps(payload)}\n\n".encode()

        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        words = REPLY.split(" ")
        events = [chunk({"role": "assistant", "content": ""}, None)]
        events += [chunk({"content": (" " if i else "") + word}, None) for i, word in enumerate(words)]
        events.append(chunk({}, "stop"))
        if include_usage:
            events.append(chunk(None, None, {"usage": usage}))
        events.append(b"data: [DONE]\n\n")
        for event in events:
            self.wfile.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
            self.wfile.flush()
            time.sleep(0.01)  # a visible time to first chunk and chunk pace
        self.wfile.write(b"0\r\n\r\n")


class Simulator:
    """``with Simulator() as sim: OpenAI(base_url=sim.base_url, api_key="any")``."""

    def __init__(self, port: int = 0) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="otel-genai-simulator", daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> Simulator:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def serve(port: int = 8000, *, ready: Any = None) -> int:
    """Run the simulator in the foreground on 127.0.0.1 until interrupted (``otel-genai simulator``).

    ``ready``, if given, is called with the base URL once the server listens (tests use it).
    """
    import sys

    try:
        simulator = Simulator(port)
    except OSError as exc:
        print(f"otel-genai simulator: cannot listen on 127.0.0.1:{port}: {exc}", file=sys.stderr)
        return 1
    with simulator as sim:
        print(f"OpenAI-compatible simulator on {sim.base_url} (Ctrl+C stops it)", flush=True)
        print(f"  OPENAI_BASE_URL={sim.base_url} OPENAI_API_KEY=any python your_app.py", flush=True)
        if ready is not None:
            ready(sim.base_url)
        with contextlib.suppress(KeyboardInterrupt):
            while sim._thread.is_alive():
                sim._thread.join(0.5)
    return 0


def main(argv: Any = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="otel-genai simulator", description="Serve the OpenAI-compatible simulator on 127.0.0.1."
    )
    parser.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (default 8000; 0: any)")
    args = parser.parse_args(argv)
    return serve(args.port)


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = [
    "REPLY",
    "Simulator",
    "main",
    "serve",
]
