"""What every otel-genai instrumentor shares: lazy patching, the recorder, and a clean uninstrument."""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import ModuleType
from typing import Any, ClassVar

import wrapt
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from ..config import Settings
from ..core.recorder import Recorder

_log = logging.getLogger("otel_genai")


class GenAIInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Patches ``module`` when it is imported (now or later), never importing it eagerly.

    Subclasses set ``name`` and ``module`` and implement ``_patch(recorder)`` with ``self._wrap(...)``.
    ``instrument()`` accepts the standard ``tracer_provider``/``meter_provider``/``logger_provider``
    keywords plus ``settings`` (an ``otel_genai.config.Settings``; default: from the environment).
    """

    name: ClassVar[str]
    module: ClassVar[str]

    def __init__(self) -> None:
        if not hasattr(self, "_patches"):
            self._patches: list[tuple[Any, str, Any]] = []
            self._generation = 0

    def _instrument(self, **kwargs: Any) -> None:
        settings = kwargs.get("settings") or Settings.resolve()
        recorder = Recorder(
            settings,
            tracer_provider=kwargs.get("tracer_provider"),
            meter_provider=kwargs.get("meter_provider"),
            logger_provider=kwargs.get("logger_provider"),
        )
        self._generation += 1
        self._patch_when_imported(self.module, lambda _module: self._patch(recorder))

    def _patch(self, recorder: Recorder) -> None:
        raise NotImplementedError

    def _patch_when_imported(self, module: str, patch: Callable[[ModuleType], None]) -> None:
        """Run ``patch(module)`` once ``module`` is imported (at once if it is), unless uninstrumented (or
        re-instrumented) first: the library, or a part of it that most programs never import (openai's
        stream helpers cost ~55 ms), is patched without importing it."""
        generation = self._generation

        def on_import(imported: ModuleType) -> None:
            if generation != self._generation:
                return  # uninstrumented (or re-instrumented) before the module was imported
            try:
                patch(imported)
            except Exception:
                _log.warning("otel-genai: could not instrument %s", module, exc_info=True)

        wrapt.register_post_import_hook(on_import, module)

    def _wrap_stream_helpers(self, helpers: tuple[tuple[str, str, str], ...]) -> None:
        """Wrap a client's stream helpers, (module, sync class, async class) each, when they are imported:
        their own folding errors then end the span (core/stream_helpers.py)."""
        for module, sync_name, async_name in helpers:

            def patch(imported: ModuleType, sync_name: str = sync_name, async_name: str = async_name) -> None:
                from ..core.stream_helpers import helper_classes

                for cls, method, wrapper in helper_classes(imported, sync_name, async_name):
                    self._wrap(cls, method, wrapper)

            self._patch_when_imported(module, patch)

    def _wrap(self, owner: Any, attribute: str, wrapper: Any) -> None:
        self._patches.append((owner, attribute, wrapt.wrap_function_wrapper(owner, attribute, wrapper)))

    def _uninstrument(self, **kwargs: Any) -> None:
        self._generation += 1
        while self._patches:
            owner, attribute, patched = self._patches.pop()
            if owner.__dict__.get(attribute) is patched:
                setattr(owner, attribute, patched.__wrapped__)
            else:  # someone wrapped on top of us; removing ours would remove theirs too
                _log.warning(
                    "otel-genai: %s.%s was re-wrapped by another library; left in place", owner, attribute
                )


__all__ = [
    "GenAIInstrumentor",
]
