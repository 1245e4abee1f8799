"""No library module imports another module's private (underscore) names (issue 17)."""

import ast
from pathlib import Path

import alpscan

SRC = Path(alpscan.__file__).parent


def private_imports(root: Path) -> list[str]:
    """``module: name`` for every ``from alpscan... import _name`` below ``root``."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("alpscan"):
                found += [f"{path.relative_to(root)}: {a.name}" for a in node.names
                          if a.name.startswith("_")]  # fmt: skip
    return found


def test_no_library_module_imports_private_names():
    assert private_imports(SRC) == []


def test_checker_finds_a_private_import(tmp_path):
    (tmp_path / "m.py").write_text("from alpscan.fitting.window_fit import _hidden\n")
    assert private_imports(tmp_path) == ["m.py: _hidden"]
