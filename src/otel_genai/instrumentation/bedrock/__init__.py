"""Amazon Bedrock instrumentation: ``BedrockInstrumentor`` for ``init()`` and ``opentelemetry-instrument``."""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

import wrapt

from .._base import GenAIInstrumentor

_log = logging.getLogger("otel_genai")


class BedrockInstrumentor(GenAIInstrumentor):
    """Patches ``BaseClient._make_api_call`` once (boto3/botocore), and aiobotocore's async override when
    aiobotocore is imported (now or later): every client, whenever it was created."""

    name = "bedrock"
    module = "botocore"

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("botocore >= 1.34",)

    def _patch(self, recorder: Any) -> None:
        from botocore.client import BaseClient

        from .hook import wrapper

        generation = self._generation

        def live() -> bool:
            """False once uninstrumented: a wrapper another library kept in place then passes through."""
            return self._generation == generation

        self._wrap(BaseClient, "_make_api_call", wrapper(recorder, BaseClient, live, is_async=False))

        def on_aiobotocore(module: Any) -> None:
            if generation != self._generation:
                return  # uninstrumented (or re-instrumented) before aiobotocore was imported
            try:
                owner = module.AioBaseClient
                self._wrap(owner, "_make_api_call", wrapper(recorder, owner, live, is_async=True))
            except Exception:
                _log.warning("otel-genai: could not instrument aiobotocore", exc_info=True)

        wrapt.register_post_import_hook(on_aiobotocore, "aiobotocore.client")

    def _uninstrument(self, **kwargs: Any) -> None:
        # opentelemetry-instrumentation-botocore unwraps with getattr(), which puts back the *bound* form
        # of what it wrapped: ours, when it went on top of ours. Recognise it, so ours still comes off.
        for owner, attribute, patched in self._patches:
            if getattr(owner.__dict__.get(attribute), "_self_parent", None) is patched:
                setattr(owner, attribute, patched)
        super()._uninstrument(**kwargs)


__all__ = ["BedrockInstrumentor"]
