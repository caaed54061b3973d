"""What code a step runs, as digests: shipline itself, a bring-your-own entrypoint with the
project modules it imports, and the extra files the config names (``training.deps``).

A cache key that misses any of these reuses a stale model after an edit, so each is keyed on
the bytes that actually run: shipline's installed package (every ``.py`` file), the entrypoint
file and, followed recursively, every module it imports that resolves to a file in the project
folder, and each file matched by ``deps``.
"""

from __future__ import annotations

__all__ = ["deps_digests", "deps_files", "entrypoint_files", "file_digests", "package_digest"]

import ast
import functools
from pathlib import Path

import blake3

from shipline.errors import UsageError


@functools.cache
def package_digest() -> str:
    """The digest of every Python file of the installed shipline package (relative path + bytes)."""
    import shipline

    root = Path(shipline.__file__).parent
    return _tree_digest(root, sorted(root.rglob("*.py")))


def _tree_digest(root: Path, files: list[Path]) -> str:
    hasher = blake3.blake3()
    for path in files:
        relative = path.relative_to(root).as_posix().encode()
        content = path.read_bytes()
        # Lengths first, so no two different trees hash the same byte stream.
        hasher.update(len(relative).to_bytes(8, "big") + relative)
        hasher.update(len(content).to_bytes(8, "big") + content)
    return hasher.hexdigest()


def file_digests(root: Path, files: list[Path]) -> dict[str, str]:
    """``{path relative to root: blake3 of its bytes}`` for each file."""
    return {
        path.relative_to(root).as_posix(): blake3.blake3(path.read_bytes()).hexdigest()
        for path in files
    }


def entrypoint_files(project_dir: Path, entry: Path) -> list[Path]:
    """The entrypoint file and every project module it imports, directly or not, sorted.

    Imports are read from the syntax tree (nothing is executed); a module counts when it
    resolves to ``NAME.py`` or ``NAME/__init__.py`` under the project folder or beside the
    importing file. Installed packages are covered by the environment part of the key.
    """
    root = project_dir.resolve()
    seen: set[Path] = set()
    pending = [entry.resolve()]
    while pending:
        path = pending.pop()
        if path in seen or not path.is_file() or not path.is_relative_to(root):
            continue
        seen.add(path)
        try:
            tree = ast.parse(path.read_bytes(), filename=str(path))
        except (SyntaxError, ValueError):
            continue  # training reports the syntax error with its line
        for module in _imported_modules(tree):
            pending += _module_files(module, (root, path.parent))
    return sorted(seen)


def _imported_modules(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.ImportFrom):  # from . import x
            names += [alias.name for alias in node.names]
    return names


def _module_files(module: str, folders: tuple[Path, ...]) -> list[Path]:
    parts = module.split(".")
    found: list[Path] = []
    for folder in folders:
        for depth in range(1, len(parts) + 1):
            base = folder.joinpath(*parts[:depth])
            found += [p for p in (base.with_suffix(".py"), base / "__init__.py") if p.is_file()]
    return found


def deps_digests(project_dir: Path, patterns: list[str]) -> dict[str, str]:
    """Digests of the files matched by ``training.deps`` (globs relative to the project)."""
    return file_digests(project_dir.resolve(), deps_files(project_dir, patterns))


def deps_files(project_dir: Path, patterns: list[str]) -> list[Path]:
    """The files matched by ``training.deps``, resolved and sorted.

    A pattern that matches no file, or a file outside the project folder, is a config error:
    a dependency that silently drops out of the key would reuse a stale model.
    """
    root = project_dir.resolve()
    files: set[Path] = set()
    for pattern in patterns:
        matched = [p.resolve() for p in sorted(root.glob(pattern)) if p.is_file()]
        if not matched:
            raise UsageError(f"training.deps: {pattern!r} matches no file in {project_dir}")
        outside = [p for p in matched if not p.is_relative_to(root)]
        if outside:
            raise UsageError(
                f"training.deps: {pattern!r} matches {outside[0]}, outside the project folder"
            )
        files.update(matched)
    return sorted(files)
