"""OpenAI endpoints beyond plain chat: the chat helpers, embeddings, legacy completions, and the endpoints
recorded as spans only (images, audio, moderations).

Every call goes through the real ``openai`` client to the loopback replay server; recorded files are
replayed with their exact recorded request, and endpoints with no recording get a minimal one built here.
"""

from __future__ import annotations

import base64
import gc
import struct
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import openai
import pytest

from conftest import Telemetry, chat_helpers, kwargs_for
from openai_support import (
    BASIC,
    MODES,
    OPENAI_VERSION,
    RECORDINGS,
    STREAM,
    Clients,
    assert_chat_span,
    assert_metrics,
    base_attributes,
    body_of,
    consumed,
    content_json,
    load,
    resolved,
    span_of,
    sse_chunks,
    usage_attributes,
)
from replay import ReplayServer


@pytest.fixture(autouse=True, scope="module")
def _cheap_gc() -> Iterator[None]:
    """Freeze the import-time heap so each ``gc.collect()`` scans only what a test created."""
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


@pytest.fixture
async def clients() -> AsyncIterator[Clients]:
    async with Clients() as made:
        yield made


# --- chat helpers: stream(), with_streaming_response -----------------------------------------------


@MODES
async def test_chat_stream_helper_final_completion(
    is_async: bool,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    clients: Clients,
) -> None:
    """``chat.completions.stream()``: one span with usage; get_final_completion() is unchanged."""
    telemetry = instrument()
    server = replay(f"openai/{STREAM}.json")
    body = body_of(STREAM)
    del body["stream"]  # the helper sets it
    helpers = chat_helpers(clients.openai(server.url + "/v1", is_async))
    if is_async:
        async with helpers.stream(**body) as stream:
            events = [event.type async for event in stream]
            completion = await stream.get_final_completion()
    else:
        with helpers.stream(**body) as stream:
            events = [event.type for event in stream]
            completion = stream.get_final_completion()
    assert events.count("chunk") == 8
    assert completion.choices[0].message.content == '"This is a test."'
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (12, 5)
    assert server.requests[0].json == body_of(STREAM)
    assert_chat_span(telemetry, server, STREAM)


@MODES
async def test_with_streaming_response_parse(
    is_async: bool,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    clients: Clients,
) -> None:
    """``with_streaming_response.create`` (body read lazily): the span ends at parse(), with the usage."""
    telemetry = instrument()
    server = replay(f"openai/{BASIC}.json")
    client = clients.openai(server.url + "/v1", is_async)
    manager = client.chat.completions.with_streaming_response.create(**kwargs_for(body_of(BASIC)))
    if is_async:
        async with manager as response:
            assert telemetry.spans() == []  # nothing read yet: the span is still open
            completion = await response.parse()
    else:
        with manager as response:
            assert telemetry.spans() == []
            completion = response.parse()
    assert completion.choices[0].message.content == "This is a test."
    assert_chat_span(telemetry, server, BASIC)


@MODES
async def test_with_streaming_response_stream_parse(
    is_async: bool,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    clients: Clients,
) -> None:
    """A stream through ``with_streaming_response``: parse() yields the stream, iterating it ends the span."""
    telemetry = instrument()
    server = replay(f"openai/{STREAM}.json")
    client = clients.openai(server.url + "/v1", is_async)
    manager = client.chat.completions.with_streaming_response.create(**kwargs_for(body_of(STREAM)))
    if is_async:
        async with manager as response:
            chunks = await consumed(await response.parse())
    else:
        with manager as response:
            chunks = await consumed(response.parse())
    assert len(chunks) == 8
    assert chunks[-1].usage.prompt_tokens == 12
    assert_chat_span(telemetry, server, STREAM)


@MODES
@pytest.mark.parametrize("name", [BASIC, STREAM])
async def test_with_streaming_response_closed_unparsed(
    name: str,
    is_async: bool,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    clients: Clients,
) -> None:
    """Leaving the block without parse() ends the span exactly once: no response was read, so no usage."""
    telemetry = instrument()
    server = replay(f"openai/{name}.json")
    client = clients.openai(server.url + "/v1", is_async)
    manager = client.chat.completions.with_streaming_response.create(**kwargs_for(body_of(name)))
    if is_async:
        async with manager as response:
            assert response.http_response.status_code == 200
    else:
        with manager as response:
            assert response.http_response.status_code == 200
    await resolved(response.close())  # a second close is harmless
    del response
    gc.collect()
    expected = base_attributes(server, "chat", body_of(name)["model"])
    expected["openai.api.type"] = "chat_completions"
    if name == STREAM:
        expected["gen_ai.request.stream"] = expected["llm.is_streaming"] = True
    assert span_of(telemetry, f"chat {body_of(name)['model']}") == expected
    assert_metrics(telemetry.metrics(), expected)


# --- embeddings ------------------------------------------------------------------------------------

# recording -> (input tokens, dimension of each vector, vectors, what the user passed as encoding_format)
EMBEDDINGS: dict[str, tuple[int, int, int, str | None]] = {
    "embeddings_float_3_small": (6, 1536, 1, None),
    "embeddings_batch_input_3_small": (24, 1536, 3, None),
    "embeddings_dimensions_3_small": (8, 512, 1, None),
    "embeddings_base64_3_small": (9, 1536, 1, "base64"),
}


def test_every_embeddings_recording_is_covered() -> None:
    names = {p.stem for p in RECORDINGS.glob("embeddings_*.json")}
    assert names == {*EMBEDDINGS, "embeddings_error_404_model_not_found"}


def embedding_values(name: str) -> list[Any]:
    return [d["embedding"] for d in load(name)["interactions"][0]["response"]["json"]["data"]]


def assert_no_vector_in(text: str, name: str) -> None:
    """Neither a base64 vector nor any float of one appears in ``text`` (an exported span's JSON)."""
    for vector in embedding_values(name):
        if isinstance(vector, str):
            assert vector not in text and vector[:40] not in text
            floats = struct.unpack(f"<{len(base64.b64decode(vector)) // 4}f", base64.b64decode(vector))
        else:
            floats = vector
        assert not [f for f in floats[:50] if repr(f) in text and abs(f) > 1e-3]


@MODES
@pytest.mark.parametrize("name", list(EMBEDDINGS))
async def test_embeddings(
    name: str,
    is_async: bool,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    clients: Clients,
) -> None:
    """`embeddings {model}`: input tokens only, the vector dimension, never a vector (content on, too)."""
    input_tokens, dimension, vectors, user_format = EMBEDDINGS[name]
    telemetry = instrument(capture_message_content="SPAN_AND_EVENT")
    server = replay(f"openai/{name}.json")
    body = body_of(name)
    result = await resolved(clients.openai(server.url + "/v1", is_async).embeddings.create(**body))
    assert len(result.data) == vectors
    if user_format is None:
        assert [len(d.embedding) for d in result.data] == [dimension] * vectors
    # The body is the recorded one, except that openai asks for base64 itself when the caller chose no
    # format (3.x always, 1.x only with numpy installed); the span reports what was asked on the wire.
    sent = server.requests[0].json
    assert {k: v for k, v in sent.items() if k != "encoding_format"} == {
        k: v for k, v in body.items() if k != "encoding_format"
    }
    assert sent.get("encoding_format") in ({user_format} if user_format else {None, "base64"})
    if OPENAI_VERSION >= (3, 0):
        assert sent["encoding_format"] == "base64"

    span = telemetry.span()
    attributes = span_of(telemetry, "embeddings text-embedding-3-small")
    expected = {
        **base_attributes(server, "embeddings", "text-embedding-3-small"),
        "gen_ai.response.model": "text-embedding-3-small",
        **usage_attributes(input_tokens, None),
        "gen_ai.embeddings.dimension.count": dimension,
    }
    if "encoding_format" in sent:
        expected["gen_ai.request.encoding_formats"] = (sent["encoding_format"],)
    assert attributes == expected
    assert "gen_ai.usage.output_tokens" not in attributes
    assert_no_vector_in(span.to_json(), name)
    for record in telemetry.logs():
        assert_no_vector_in(str(dict(record.attributes or {})), name)
    assert_metrics(telemetry.metrics(), attributes, tokens={"input": input_tokens}, vector_size=dimension)


@MODES
async def test_embeddings_error(
    is_async: bool,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    clients: Clients,
) -> None:
    """404 model_not_found: an ERROR span with the code as error.type, only the duration metric."""
    telemetry = instrument()
    name = "embeddings_error_404_model_not_found"
    server = replay(f"openai/{name}.json")
    with pytest.raises(openai.NotFoundError) as info:
        await resolved(clients.openai(server.url + "/v1", is_async).embeddings.create(**body_of(name)))
    assert info.value.code == "model_not_found"
    attributes = span_of(telemetry, "embeddings non-existent-embedding-model", error=True)
    expected = {
        **base_attributes(server, "embeddings", "non-existent-embedding-model"),
        "error.type": "model_not_found",
    }
    if "encoding_format" in server.requests[0].json:
        expected["gen_ai.request.encoding_formats"] = ("base64",)
    assert attributes == expected
    assert_metrics(telemetry.metrics(), attributes, error_type="model_not_found")


# --- legacy completions ----------------------------------------------------------------------------

COMPLETION = "completions_legacy_davinci"
COMPLETION_STREAM = "completions_legacy_stream_davinci"


def completion_text(name: str) -> str:
    response = load(name)["interactions"][0]["response"]
    if "json" in response:
        return str(response["json"]["choices"][0]["text"])
    return "".join(c["choices"][0]["text"] for c in sse_chunks(response["text"]))


@MODES
@pytest.mark.parametrize("name", [COMPLETION, COMPLETION_STREAM])
async def test_legacy_completions(
    name: str,
    is_async: bool,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    clients: Clients,
) -> None:
    """`text_completion {model}`, finish reason `length`; usage from the plain call, none from the stream;
    with SPAN_ONLY the prompt and the completion text (joined from the chunks)."""
    telemetry = instrument(capture_message_content="SPAN_ONLY")
    server = replay(f"openai/{name}.json")
    result = await resolved(clients.openai(server.url + "/v1", is_async).completions.create(**body_of(name)))
    streaming = name == COMPLETION_STREAM
    if streaming:
        chunks = await consumed(result)
        assert len(chunks) == len(sse_chunks(load(name)["interactions"][0]["response"]["text"]))
    assert server.requests[0].json == body_of(name)

    attributes = span_of(telemetry, "text_completion davinci-002")
    ttfc = attributes.pop("gen_ai.response.time_to_first_chunk", None)
    assert (ttfc is not None) is streaming
    prompt, text = "Tell me a joke about opentelemetry", completion_text(name)
    assert text.startswith('?" I have to explain' if not streaming else ".\n\nGetting naked")
    expected = {
        **base_attributes(server, "text_completion", "davinci-002"),
        "gen_ai.response.id": "cmpl-DPUYBt15CHtILCiy8Xm2esGqlf4jU"
        if streaming
        else "cmpl-DPTNj4qhfdIEjI1MpcgEB6PYMYwUa",
        "gen_ai.response.model": "davinci:2023-07-21-v2",
        "gen_ai.response.finish_reasons": ("length",),
        "gen_ai.input.messages": content_json(
            [{"role": "user", "parts": [{"type": "text", "content": prompt}]}]
        ),
        "gen_ai.output.messages": content_json(
            [{"role": "assistant", "parts": [{"type": "text", "content": text}], "finish_reason": "length"}]
        ),
        "gen_ai.prompt.0.role": "user",
        "gen_ai.prompt.0.content": prompt,
        "gen_ai.completion.0.role": "assistant",
        "gen_ai.completion.0.content": text,
        "gen_ai.completion.0.finish_reason": "length",
    }
    if streaming:
        expected["gen_ai.request.stream"] = expected["llm.is_streaming"] = True
    else:
        expected.update(usage_attributes(8, 16))
    assert attributes == expected
    tokens = None if streaming else {"input": 8, "output": 16}
    assert_metrics(telemetry.metrics(), attributes, tokens=tokens, choices=1, streaming=streaming)


# --- endpoints recorded as spans only --------------------------------------------------------------

WAV = b"RIFF\x24\x00\x00\x00WAVEfmt "  # the upload's bytes: never parsed, only sent
# No recordings exist for these endpoints: each answer is the smallest valid body for the client.
MODERATION = {
    "id": "modr-1",
    "model": "omni-moderation-latest",
    "results": [{"flagged": False, "categories": {"hate": False}, "category_scores": {"hate": 0.001}}],
}


def _moderation(client: Any) -> Any:
    return client.moderations.create(model="omni-moderation-latest", input="a secret prompt")


def _image(client: Any) -> Any:
    return client.images.generate(model="dall-e-3", prompt="a secret prompt")


def _image_edit(client: Any) -> Any:
    return client.images.edit(model="dall-e-2", image=("a.png", WAV, "image/png"), prompt="a secret prompt")


def _speech(client: Any) -> Any:
    return client.audio.speech.create(model="tts-1", voice="alloy", input="a secret prompt")


def _transcription(client: Any) -> Any:
    return client.audio.transcriptions.create(model="whisper-1", file=("a.wav", WAV, "audio/wav"))


def _translation(client: Any) -> Any:
    with warnings.catch_warnings():  # openai 3.x marks the endpoint deprecated; it still works
        warnings.simplefilter("ignore", DeprecationWarning)
        return client.audio.translations.create(model="whisper-1", file=("a.wav", WAV, "audio/wav"))


def _upload(client: Any) -> Any:
    return client.files.create(file=("a.jsonl", b"{}\n", "application/jsonl"), purpose="batch")


# operation (endpoints.py) -> (call, path, request model, response: JSON body, or (content type, text))
SPAN_ONLY: dict[str, tuple[Callable[[Any], Any], str, str | None, Any]] = {
    "moderation": (_moderation, "/v1/moderations", "omni-moderation-latest", MODERATION),
    "image_generation": (
        _image,
        "/v1/images/generations",
        "dall-e-3",
        {"created": 1, "data": [{"url": "http://x/y.png"}]},
    ),
    "image_edit": (
        _image_edit,
        "/v1/images/edits",
        "dall-e-2",
        {"created": 1, "data": [{"url": "http://x/y.png"}]},
    ),
    "speech": (_speech, "/v1/audio/speech", "tts-1", ("audio/mpeg", "ID3-not-really-mp3")),
    "transcription": (_transcription, "/v1/audio/transcriptions", "whisper-1", {"text": "a secret answer"}),
    "translation": (_translation, "/v1/audio/translations", "whisper-1", {"text": "a secret answer"}),
    "upload_file": (
        _upload,
        "/v1/files",
        None,
        {
            "id": "file-1",
            "object": "file",
            "bytes": 3,
            "created_at": 1,
            "filename": "a.jsonl",
            "purpose": "batch",
        },
    ),
}


@MODES
@pytest.mark.parametrize("operation", list(SPAN_ONLY))
async def test_span_only_endpoints(
    operation: str,
    is_async: bool,
    instrument: Callable[..., Telemetry],
    replay: Callable[..., ReplayServer],
    clients: Clients,
) -> None:
    """One span named after the operation and model, the duration metric, and no content even with
    capture on: these endpoints' inputs and outputs are not messages."""
    call, path, model, answer = SPAN_ONLY[operation]
    if isinstance(answer, tuple):
        response = {"status": 200, "headers": {"content-type": answer[0]}, "text": answer[1]}
    else:
        response = {"status": 200, "headers": {"content-type": "application/json"}, "json": answer}
    recording = {
        "interactions": [{"request": {"method": "POST", "path": path, "json": None}, "response": response}]
    }
    telemetry = instrument(capture_message_content="SPAN_AND_EVENT")
    server = replay(recording)
    result = await resolved(call(clients.openai(server.url + "/v1", is_async)))
    if isinstance(answer, tuple):
        assert result.content == answer[1].encode()
    server.assert_all_served()

    span = telemetry.span()
    attributes = span_of(telemetry, f"{operation} {model}" if model else operation)
    assert attributes == base_attributes(server, operation, model)
    assert "secret" not in span.to_json()
    [event] = telemetry.logs()
    assert "secret" not in str(dict(event.attributes or {}))
    assert_metrics(telemetry.metrics(), attributes)
