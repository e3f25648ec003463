"""Developer and CI sessions: ``nox -s tests`` is the test command the README and CI use."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests", "tests_openai_oldest", "fast_paths_older_sdks"]
nox.options.reuse_existing_virtualenvs = True

PYTHON_PATHS = ("src", "tests", "benchmarks", "examples", "noxfile.py", ".ci")
TORCH = "torch==2.13.0"  # Keras's backend for the ML tests (CPU wheel)
OLDEST_OPENAI = "1.40.0"  # first release with chat.completions.parse (as beta); see docs/compatibility.md


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite against the newest openai release."""
    session.install("-e", ".[test]")
    session.install("-e", ".[test-ml]", TORCH)  # the ML tests: Keras on torch, Flask under gunicorn
    session.run("pytest", *session.posargs)


@nox.session
def tests_openai_oldest(session: nox.Session) -> None:
    """The suite against the oldest supported openai 1.x (which predates httpx 0.28), without LangChain."""
    session.install("-e", ".[test-core]", f"openai=={OLDEST_OPENAI}", "httpx<0.28")
    session.run("pytest", *session.posargs)


@nox.session
@nox.parametrize("sdk", ["1.30.0", "1.40.0"])
def fast_paths_older_sdks(session: nox.Session, sdk: str) -> None:
    """The fast span and metric paths, and events and the audit trail (on or warned off), against older
    SDK releases of the supported range, alone: the rest of the suite needs a newer SDK. The fast span
    encoder writes what the newest SDK writes; older encoders differ in edge cases (scope attributes,
    None inside sequences), so it is not run here."""
    otel = ("api", "sdk", "exporter-otlp-proto-http", "proto")
    session.install(*(f"opentelemetry-{name}=={sdk}" for name in otel), "hypothesis", "pytest", "wrapt")
    session.env["PYTHONPATH"] = "src:tests"
    tests = ("tests/test_fastspan.py", "tests/test_fastmetrics.py", "tests/test_event_logger_sdk.py")
    session.run("pytest", "--noconftest", *tests)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff==0.17.6")
    session.run("ruff", "check", *PYTHON_PATHS)
    session.run("ruff", "format", "--check", *PYTHON_PATHS)


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[test]", "mypy==2.4.1")
    session.run("mypy")


@nox.session
def bench(session: nox.Session) -> None:
    """Overhead, import time, memory and delivery benchmarks (not part of the test run)."""
    session.install("-e", ".[test]")
    session.run("python", "benchmarks/run.py", *session.posargs)


@nox.session
def package(session: nox.Session) -> None:
    """The wheel builds and holds py.typed, LICENSE, NOTICE and the entry points (.ci/check_wheel.py)."""
    import glob
    import tempfile

    out = tempfile.mkdtemp(prefix="otel-genai-wheel-")
    session.run("python", "-m", "pip", "wheel", ".", "--no-deps", "--wheel-dir", out, silent=True)
    (wheel,) = glob.glob(f"{out}/otel_genai-*.whl")
    session.run("python", ".ci/check_wheel.py", wheel)
