"""The SDK's in-memory log record exporter under one name across the supported SDK releases.

Imported by conftest.py and by tests that run without it (``nox -s fast_paths_older_sdks``).
"""

try:
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
except ImportError:  # SDK before 1.39 names it InMemoryLogExporter
    from opentelemetry.sdk._logs.export import (  # type: ignore[attr-defined,no-redef,unused-ignore]
        InMemoryLogExporter as InMemoryLogRecordExporter,
    )

__all__ = ["InMemoryLogRecordExporter"]
