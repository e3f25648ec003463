"""Our parts of the OTLP export pipeline on the providers ``init()`` builds (docs/architecture.md)."""

__all__: list[str] = []
