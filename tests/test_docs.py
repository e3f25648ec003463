"""The documents a newcomer reads first say what the code does."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")


def read(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


def test_configuration_md_states_the_real_default_service_name() -> None:
    from opentelemetry.sdk.resources import Resource

    actual = Resource.create({}).attributes["service.name"]  # unknown_service:<executable>
    row = next(line for line in read("docs/configuration.md").splitlines() if "`OTEL_SERVICE_NAME`" in line)
    default = row.split("|")[3].strip()
    assert default == f"`{actual}`" or (
        actual.startswith("unknown_service:") and "unknown_service:" in default
    )
    assert default != "`unknown_service`"


def test_backends_md_covers_dynatrace_collector_jaeger_grafana_phoenix() -> None:
    text = read("docs/backends.md")
    for needle in (
        "openTelemetryTrace.ingest",
        "metrics.ingest",
        "logs.ingest",
        "/api/v2/otlp",
        "Authorization=Api-Token%20",
        "delta",
        "receivers:",
        "## Jaeger",
        "## Grafana",
        "openinference.project.name",
        "`default`",
    ):
        assert needle in text, needle
    assert "docs/backends.md" in read("README.md")


def test_readme_documents_installing_every_extra() -> None:
    extras = tomllib.loads(read("pyproject.toml"))["project"]["optional-dependencies"]
    readme = read("README.md")
    for extra in extras:
        if extra.startswith(("test", "dev")):
            continue
        assert f'pip install "otel-genai[{extra}]"' in readme, extra


def test_license_is_the_apache_text_and_notice_names_the_recordings() -> None:
    license_text = read("LICENSE")
    assert "Apache License" in license_text
    assert "Version 2.0, January 2004" in license_text
    assert "END OF TERMS AND CONDITIONS" in license_text
    notice = read("NOTICE")
    for repo in ("traceloop/openllmetry", "open-telemetry/opentelemetry-python-contrib", "pydantic/logfire"):
        assert repo in notice
    assert re.search(r"license\s*=\s*\"Apache-2.0\"", read("pyproject.toml"))
