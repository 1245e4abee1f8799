"""Content hash of the library code a rule script runs: its import closure inside a package.

The workflow passes ``code_hash(script)`` to each rule as a parameter, so editing a module
reruns exactly the rules whose script imports it, directly or through other modules.  The
closure is found statically (an AST walk, imports inside functions included), not by
importing anything.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

__all__ = ["import_closure", "code_hash"]


def _module_file(name: str, src: Path) -> Path | None:
    """File of module ``name`` (dotted) under ``src``: ``a/b.py`` or ``a/b/__init__.py``."""
    base = src.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _with_parents(name: str) -> list[str]:
    """``a.b.c`` -> ``[a, a.b, a.b.c]``: importing a module runs its packages' ``__init__``."""
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


#: Parsed imports by (file, dotted name, SHA-256 of the content): the workflow hashes the
#: closure of every rule script when it is parsed (also in every cluster job), and the
#: closures share most modules, so each file is parsed once per process (an edited file
#: has another content hash and is parsed again).
_IMPORTS_CACHE: dict[tuple[str, str | None, bytes], tuple[frozenset[str], frozenset[str]]] = {}


def _imports(path: Path, module: str | None) -> tuple[set[str], set[str]]:
    """Dotted names ``path`` imports (relative imports resolved): (modules, maybe modules).

    ``module`` is the file's own dotted name (None for a script outside the package).
    ``import a.b`` and the ``x`` of ``from x import y`` must be modules; the ``x.y`` of
    ``from x import y`` is a module only if such a file exists (else ``y`` is a name).
    """
    text = path.read_bytes()
    key = (str(path), module, hashlib.sha256(text).digest())
    if key not in _IMPORTS_CACHE:
        modules, candidates = _parse_imports(text, path, module)
        _IMPORTS_CACHE[key] = (frozenset(modules), frozenset(candidates))
    modules, candidates = _IMPORTS_CACHE[key]
    return set(modules), set(candidates)


def _parse_imports(text: bytes, path: Path, module: str | None) -> tuple[set[str], set[str]]:
    """:func:`_imports` of the file content ``text`` (uncached)."""
    tree = ast.parse(text, filename=str(path))
    is_package = path.name == "__init__.py"
    modules: set[str] = set()
    candidates: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if module is None:
                    raise ValueError(f"{path}: relative import outside a package")
                parts = module.split(".")
                keep = len(parts) - node.level + (1 if is_package else 0)
                if keep < 1:
                    raise ValueError(f"{path}: relative import beyond the top-level package")
                base = ".".join(parts[:keep] + ([node.module] if node.module else []))
            else:
                base = node.module
            modules.add(base)
            candidates.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return modules, candidates


def _in_package(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def import_closure(script: str | Path, src: str | Path, package: str = "alpscan") -> list[Path]:
    """Files of ``package`` (under ``src``) that running ``script`` imports, transitively.

    Parameters
    ----------
    script : str or pathlib.Path
        The entry file (a rule script).
    src : str or pathlib.Path
        Directory holding the package directory (``src`` for ``src/alpscan``).
    package : str, optional
        Top-level package whose modules are followed; other imports are ignored.

    Returns
    -------
    list of pathlib.Path
        Sorted module files, package ``__init__.py`` files included.

    Raises
    ------
    ValueError
        If a file imports a ``package`` module that does not exist under ``src``.
    """
    src = Path(src)
    found: dict[str, Path] = {}
    todo: list[tuple[Path, str | None]] = [(Path(script), None)]
    while todo:
        path, module = todo.pop()
        modules, candidates = _imports(path, module)
        for name in sorted(n for n in modules if _in_package(n, package)):
            if _module_file(name, src) is None:
                raise ValueError(f"{path}: imports {name}, which is not a module under {src}")
        names = modules | {n for n in candidates if _module_file(n, src) is not None}
        for name in sorted(n for n in names if _in_package(n, package)):
            for mod in _with_parents(name):
                if mod not in found:
                    found[mod] = _module_file(mod, src)
                    todo.append((found[mod], mod))
    return sorted(found.values())


def code_hash(script: str | Path, src: str | Path, package: str = "alpscan") -> str:
    """16-hex-digit SHA-256 of the paths and contents of :func:`import_closure` files."""
    src = Path(src)
    digest = hashlib.sha256()
    for path in import_closure(script, src, package):
        digest.update(path.relative_to(src).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
