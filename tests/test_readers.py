"""The reader toolkit: ``get_rare`` reads exactly what ``get`` reads, on every shape a provider hands us."""

from __future__ import annotations

from typing import Any

import pytest
from openai.types.chat import ChatCompletion
from pydantic import BaseModel, ConfigDict, computed_field

from otel_genai.core.readers import get, get_rare


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")
    declared: int = 1

    @property
    def prop(self) -> str:
        return "a property"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def computed(self) -> str:
        return "a computed field"


class Inherited(Open):
    pass


class Closed(BaseModel):
    declared: int = 1


class Plain:
    def __init__(self) -> None:
        self.set_here = "x"

    @property
    def prop(self) -> str:
        return "p"


AZURE = {  # an Azure OpenAI answer's shape: content filters as extras of the response and its choices
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o",
    "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {"hate": {"filtered": False}}}],
    "choices": [
        {
            "index": 0,
            "finish_reason": "stop",
            "message": {"role": "assistant", "content": "hi"},
            "content_filter_results": {"hate": {"filtered": False, "severity": "safe"}},
        }
    ],
}
_CHOICE = {k: v for k, v in AZURE["choices"][0].items() if k != "content_filter_results"}
OPENAI = {k: v for k, v in AZURE.items() if k != "prompt_filter_results"} | {"choices": [_CHOICE]}


def _objects() -> list[tuple[Any, str]]:
    azure, openai = ChatCompletion.model_validate(AZURE), ChatCompletion.model_validate(OPENAI)
    pairs: list[tuple[Any, str]] = []
    for response in (azure, openai, AZURE, OPENAI):
        pairs += [(response, "prompt_filter_results"), (response, "model"), (response, "missing")]
        choice = get(response, "choices")[0]
        pairs += [(choice, "content_filter_results"), (choice, "finish_reason"), (choice, "missing")]
    for obj in (Open(extra_field=5), Inherited(), Closed(), Plain(), None, 3):
        for name in ("declared", "extra_field", "prop", "computed", "set_here", "missing", "__class__"):
            pairs.append((obj, name))
    return pairs


@pytest.mark.parametrize(("obj", "name"), _objects())
def test_get_rare_reads_what_get_reads(obj: Any, name: str) -> None:
    assert get_rare(obj, name) == get(obj, name)
    assert get_rare(obj, name) == get(obj, name)  # again, with the class-member answer cached


def test_azure_filters_are_found_and_absent_ones_are_none() -> None:
    azure, openai = ChatCompletion.model_validate(AZURE), ChatCompletion.model_validate(OPENAI)
    assert get_rare(azure, "prompt_filter_results") == AZURE["prompt_filter_results"]
    assert get_rare(azure.choices[0], "content_filter_results")["hate"]["severity"] == "safe"
    assert get_rare(openai, "prompt_filter_results") is None
    assert get_rare(openai.choices[0], "content_filter_results") is None
