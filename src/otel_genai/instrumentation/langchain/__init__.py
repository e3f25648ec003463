"""LangChain and LangGraph instrumentation: ``LangChainInstrumentor`` for ``init()`` and
``opentelemetry-instrument``.

A callback handler, registered with langchain-core's configure hook so that every run gets it whatever
callbacks the user passes, turns runs into workflow, agent, task, tool, retrieval and inference spans
(handler.py); a few wrapped entry points make those spans current for the code inside (patches.py).
Nothing is imported until the application imports ``langchain_core``, and each part of it only when
that part is imported.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable
from contextvars import ContextVar
from typing import Any

import wrapt

from ...config import (
    LANGCHAIN_CONVERSATION_ID_KEYS,
    LANGCHAIN_CONVERSATION_ID_KEYS_ENV,
    LANGCHAIN_VERBOSE_ENV,
    Settings,
)
from .._base import GenAIInstrumentor

_log = logging.getLogger("otel_genai")

# the settings live in config.py (validated there, one warning for a bad value); these names stay for callers
VERBOSE_ENV = LANGCHAIN_VERBOSE_ENV
CONVERSATION_ID_KEYS_ENV = LANGCHAIN_CONVERSATION_ID_KEYS_ENV
DEFAULT_CONVERSATION_ID_KEYS = LANGCHAIN_CONVERSATION_ID_KEYS


class LangChainInstrumentor(GenAIInstrumentor):
    """Instruments langchain-core (and LangGraph, when it is used) for every run in the process.

    ``instrument()`` also accepts ``verbose`` (a span for every runnable) and ``conversation_id_keys``
    (metadata keys that carry ``gen_ai.conversation.id``); otherwise they come from
    ``OTEL_INSTRUMENTATION_GENAI_LANGCHAIN_VERBOSE`` / ``..._CONVERSATION_ID_KEYS``.
    """

    name = "langchain"
    module = "langchain_core"

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("langchain-core >= 0.3",)

    def _instrument(self, **kwargs: Any) -> None:
        self._option_overrides = {
            k: kwargs[k] for k in ("verbose", "conversation_id_keys") if kwargs.get(k) is not None
        }
        self._settings = kwargs.get("settings")
        super()._instrument(**kwargs)

    def _options(self) -> Any:
        from .handler import Options

        overrides = getattr(self, "_option_overrides", {})
        settings = Settings.resolve(
            {
                "langchain_verbose": overrides.get("verbose"),
                "langchain_conversation_id_keys": overrides.get("conversation_id_keys"),
            }
        )
        base = getattr(self, "_settings", None)
        if isinstance(base, Settings) and not overrides:  # init()'s own settings (its keywords included)
            settings = base
        return Options(settings.langchain_verbose, settings.langchain_conversation_id_keys)

    def _patch(self, recorder: Any) -> None:
        from .handler import OTelCallbackHandler

        self._handler = handler = OTelCallbackHandler(recorder, self._options())
        generation = self._generation

        def on(module: str, patch: Callable[[Any], None]) -> None:
            def hook(imported: Any) -> None:
                if generation != self._generation:
                    return  # uninstrumented (or re-instrumented) since
                try:
                    patch(imported)
                except Exception:
                    _log.warning("otel-genai: could not instrument %s", module, exc_info=True)

            wrapt.register_post_import_hook(hook, module)

        from . import patches as p

        def configure_hook(module: Any) -> None:
            var = ContextVar("otel_genai_langchain_handler", default=handler)
            self._hook_var: ContextVar[Any] | None = var
            module.register_configure_hook(var, True)  # inheritable: every child run too

        def config(module: Any) -> None:
            original = module._set_config_context
            self._wrap(module, "_set_config_context", p.set_config_context(handler))
            self._rewrap_imported(original, "_set_config_context", p.set_config_context(handler))

        def chat_models(module: Any) -> None:
            model = module.BaseChatModel
            self._wrap(model, "_generate_with_cache", p.by_run_manager(handler, 2, "run_manager", False))
            self._wrap(model, "_agenerate_with_cache", p.by_run_manager(handler, 2, "run_manager", True))
            self._wrap(model, "stream", p.scoped_stream(handler, "model"))
            self._wrap(model, "astream", p.scoped_stream(handler, "model"))

        def llms(module: Any) -> None:
            model = module.BaseLLM
            self._wrap(model, "_generate_helper", p.by_run_manager(handler, 2, "run_managers", False))
            self._wrap(model, "_agenerate_helper", p.by_run_manager(handler, 2, "run_managers", True))
            self._wrap(model, "stream", p.scoped_stream(handler, "model"))
            self._wrap(model, "astream", p.scoped_stream(handler, "model"))

        def tools(module: Any) -> None:
            self._wrap(module.BaseTool, "run", p.scoped_call(handler, "tool", False))
            self._wrap(module.BaseTool, "arun", p.scoped_call(handler, "tool", True))

        def retrievers(module: Any) -> None:
            top_k = p.retriever_top_k
            self._wrap(module.BaseRetriever, "invoke", p.scoped_call(handler, "retrieval", False, top_k))
            self._wrap(module.BaseRetriever, "ainvoke", p.scoped_call(handler, "retrieval", True, top_k))

        def history(module: Any) -> None:
            self._wrap(module.RunnableWithMessageHistory, "_merge_configs", p.session_metadata(handler))

        def langgraph_runnable(module: Any) -> None:
            if hasattr(module, "_set_config_context"):  # LangGraph's own copy (1.x)
                self._wrap(module, "_set_config_context", p.set_config_context(handler))

        def pregel(module: Any) -> None:
            graph = module.Pregel
            self._wrap(graph, "stream", p.scoped_stream(handler, "agent", p.is_agent_graph))
            self._wrap(graph, "astream", p.scoped_stream(handler, "agent", p.is_agent_graph))

        def factory(attribute: str, *namespaces: str) -> Callable[[Any], None]:
            def patch(module: Any) -> None:
                original = getattr(module, attribute)
                self._wrap(module, attribute, p.mark_agent(handler))
                self._rewrap_imported(original, attribute, p.mark_agent(handler), namespaces)

            return patch

        on("langchain_core.tracers.context", configure_hook)
        on("langchain_core.runnables.config", config)
        on("langchain_core.language_models.chat_models", chat_models)
        on("langchain_core.language_models.llms", llms)
        on("langchain_core.tools.base", tools)
        on("langchain_core.retrievers", retrievers)
        on("langchain_core.runnables.history", history)
        on("langgraph._internal._runnable", langgraph_runnable)
        on("langgraph.pregel", pregel)
        on("langgraph.prebuilt.chat_agent_executor", factory("create_react_agent", "langgraph.prebuilt"))
        on("langchain.agents.factory", factory("create_agent", "langchain.agents"))

    def _rewrap_imported(
        self, original: Any, attribute: str, wrapper: Any, namespaces: Iterable[str] | None = None
    ) -> None:
        """Modules that imported ``original`` by name before we patched it get the wrapper too."""
        import sys

        for name, module in list(sys.modules.items()):
            if namespaces is not None and name not in namespaces:
                continue
            if namespaces is None and not name.startswith(("langchain_core.", "langgraph.")):
                continue
            if module is not None and module.__dict__.get(attribute) is original:
                self._wrap(module, attribute, wrapper)

    def _uninstrument(self, **kwargs: Any) -> None:
        handler = getattr(self, "_handler", None)
        if handler is not None:
            handler.active = False  # managers configured earlier may still call it: it does nothing
        var = getattr(self, "_hook_var", None)
        if var is not None:
            try:
                from langchain_core.tracers import context

                context._configure_hooks[:] = [h for h in context._configure_hooks if h[0] is not var]
            except Exception:
                _log.debug("otel-genai: removing the langchain configure hook failed", exc_info=True)
            self._hook_var = None
        super()._uninstrument(**kwargs)


__all__ = ["LangChainInstrumentor"]
