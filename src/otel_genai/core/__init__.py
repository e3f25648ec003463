"""Internal: the machinery behind the public API (``otel_genai.__all__``), with no compatibility promise.

Each module's ``__all__`` lists what the rest of otel-genai may use; everything else is private to it.
"""

__all__: list[str] = []  # nothing here is public API
