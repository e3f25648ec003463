"""Check a built wheel: it installs what a user needs (py.typed, the license files, the entry points).

python .ci/check_wheel.py dist/otel_genai-*.whl
"""

from __future__ import annotations

import sys
import zipfile


def main(path: str) -> int:
    with zipfile.ZipFile(path) as wheel:
        names = set(wheel.namelist())
        dist_info = next(n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info"))
        entry_points = wheel.read(f"{dist_info}/entry_points.txt").decode()
        metadata = wheel.read(f"{dist_info}/METADATA").decode()
    required = {
        "otel_genai/py.typed",
        "otel_genai/__init__.py",
        "otel_genai/local/simulator.py",
        f"{dist_info}/licenses/LICENSE",
        f"{dist_info}/licenses/NOTICE",
    }
    problems = [f"missing {name}" for name in sorted(required - names)]
    problems += [f"tests leaked into the wheel: {n}" for n in sorted(names) if n.startswith("tests/")]
    for needle in ("[opentelemetry_instrumentor]", "otel-genai = otel_genai.cli:main"):
        if needle not in entry_points:
            problems.append(f"entry_points.txt lacks {needle!r}")
    if "License-Expression: Apache-2.0" not in metadata:
        problems.append("METADATA lacks License-Expression: Apache-2.0")
    for problem in problems:
        print(f"wheel check: {problem}", file=sys.stderr)
    if not problems:
        print(f"wheel check: {path} ok ({len(names)} files)")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
