"""Run a small application in a fresh interpreter, with the environment a test chooses.

Start-up, fork and exit behaviour (what ``init()`` installs globally, what reaches a real OTLP receiver,
what is printed to stderr) can only be observed in a process of its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

TESTS_DIR = Path(__file__).parent
HANG_GUARD_S = 60  # not a timing assertion: only stops a hung child from hanging the suite

# Makes N chat calls against the bundled simulator; prints {"contents": [...]} last.
CALLS = """
import openai
from otel_genai.local.simulator import Simulator

def calls(n, model="gpt-4o-mini"):
    with Simulator() as sim:
        client = openai.OpenAI(base_url=sim.base_url, api_key="sk-test-child", max_retries=0)
        messages = [{"role": "user", "content": "one two three"}]
        return [client.chat.completions.create(model=model, messages=messages).choices[0].message.content
                for _ in range(n)]
"""


def clean_env(**extra: str) -> dict[str, str]:
    """The parent's environment without OTEL_*/OPENAI_* variables, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS_DIR), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


def run(code: str, env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
        env=env,
        check=False,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def last_json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(result.stdout.strip().splitlines()[-1])


# What `pip install "otel-genai[openai]"` would not have installed (top-level names in site-packages, or
# paths inside namespace packages), hidden from a minimal interpreter.
NOT_IN_OPENAI_EXTRA = (
    "langchain*",
    "langgraph*",
    "ollama*",
    "boto3*",
    "botocore*",
    "aiobotocore*",
    "s3transfer*",
    "opentelemetry_distro*",
    "opentelemetry/distro",
    "opentelemetry_instrumentation_botocore*",
    "opentelemetry/instrumentation/botocore",
)


def _farm(source: Path, target: Path, hidden: tuple[str, ...], prefix: str = "") -> None:
    """Symlink ``source``'s entries into ``target``, except the hidden ones (recursing where needed)."""
    import fnmatch

    target.mkdir(parents=True, exist_ok=True)
    for entry in source.iterdir():
        rel = prefix + entry.name
        if any(fnmatch.fnmatch(rel, pattern) for pattern in hidden):
            continue
        if entry.name == "__pycache__" or entry.suffix == ".pth":
            continue
        if entry.is_dir() and any(pattern.startswith(rel + "/") for pattern in hidden):
            _farm(entry, target / entry.name, hidden, rel + "/")
        else:
            (target / entry.name).symlink_to(entry)


def minimal_python(
    workdir: Path, hidden: tuple[str, ...] = NOT_IN_OPENAI_EXTRA
) -> tuple[str, dict[str, str]]:
    """A fresh venv interpreter that sees only this environment's packages minus ``hidden``, and our src.

    Returns (python executable, environment). Cheap: the venv is empty and the packages are symlinks.
    """
    import site
    import venv

    site_packages = Path(next(p for p in site.getsitepackages() if p.endswith("site-packages")))
    _farm(site_packages, workdir / "site", hidden)
    venv.create(workdir / "venv", with_pip=False, symlinks=True)
    python = str(workdir / "venv" / "bin" / "python")
    src = Path(__file__).resolve().parent.parent / "src"
    env = clean_env()
    env["PYTHONPATH"] = os.pathsep.join([str(src), str(workdir / "site"), str(TESTS_DIR)])
    env["PATH"] = os.pathsep.join([str(workdir / "venv" / "bin"), env.get("PATH", "")])
    return python, env
