"""Every module of the package says what it exports, and nothing checked in is half-merged."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEXT = {".py", ".md", ".toml", ".cfg", ".txt", ".js", ".css", ".html", ".yaml", ".yml"}
MODULES = sorted((ROOT / "src" / "otel_genai").rglob("*.py"))


def _defined(tree: ast.Module) -> set[str]:
    """Names bound at module level: definitions, assignments and imports."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _mapped(tree: ast.Module) -> list[ast.Constant]:
    """String constants outside ``__all__`` (the keys a lazy ``__getattr__`` resolves)."""
    found = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            continue
        found += [n for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    return found


def _all(tree: ast.Module) -> list[str] | None:
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            value = node.value
            assert isinstance(value, ast.List | ast.Tuple), "__all__ must be a literal list"
            return [ast.literal_eval(e) for e in value.elts]
    return None


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT / "src")))
def test_module_declares_all_and_defines_it(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    exported = _all(tree)
    assert exported is not None, f"{path.name} has no __all__"
    defined = _defined(tree)
    missing = set(exported) - defined
    if "__getattr__" in defined:  # resolved lazily: each name must at least be mapped somewhere
        missing -= {n.value for n in _mapped(tree)}
    assert not missing, f"{path.name}: __all__ names what the module does not define: {sorted(missing)}"


def test_no_merge_conflict_markers_are_checked_in() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    markers = ("<<<<<<< ", ">>>>>>> ", "=======\n")
    found = []
    for name in tracked:
        path = ROOT / name
        if path.suffix not in TEXT:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(True), 1):
            if line.startswith(markers[:2]) or line == markers[2]:
                found.append(f"{name}:{number}")
    assert not found, f"merge conflict markers: {found}"
