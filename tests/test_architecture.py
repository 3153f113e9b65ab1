"""The house rules the layer contract cannot see (import-linter, run by `make lint`, checks the layers).

A private name (`_helper`) or a private module (`_something.py`) belongs to its own top-level
package: another package that needs it is asking for it to become public in the lowest layer
that needs it. This test reads every import in src/ and fails on one that crosses.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def _imports(path: Path, src: Path) -> list[tuple[list[str], str]]:
    parts = list(path.relative_to(src).with_suffix("").parts)
    package = parts[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                module = package[: len(package) - node.level + 1] + (node.module.split(".") if node.module else [])
            elif node.module and node.module.split(".")[0] == "pix2mobile":
                module = node.module.split(".")
            else:
                continue
            found += [(module, alias.name) for alias in node.names]
    return found


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def crossings(src: Path) -> list[str]:
    """Imports under `src/pix2mobile` of a private name or module of another top-level package."""
    found = []
    for path in sorted((src / "pix2mobile").rglob("*.py")):
        rel = path.relative_to(src).parts
        here = rel[1] if len(rel) > 2 else None
        for module, name in _imports(path, src):
            there = module[1] if len(module) > 1 else None
            if there != here and (_private(name) or any(_private(p) for p in module[1:])):
                found.append(f"{path.relative_to(src)}: {'.'.join(module)} import {name}")
    return found


def test_no_private_name_or_module_is_imported_across_packages() -> None:
    found = crossings(SRC)
    assert not found, "\n".join(found)


def test_the_rule_catches_crossings_and_allows_a_package_its_own(tmp_path: Path) -> None:
    """The same check on a small tree that breaks it twice, so it cannot pass by reading nothing."""
    for rel, text in {"pix2mobile/a/__init__.py": "", "pix2mobile/a/_inner.py": "",
                      "pix2mobile/a/x.py": "from pix2mobile.a._inner import y\nfrom ._inner import z\n",
                      "pix2mobile/b/y.py": "from pix2mobile.a._inner import y\nfrom ..a.x import _helper\n"
                                          "from pix2mobile.a.x import public\n"}.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    assert crossings(tmp_path) == ["pix2mobile/b/y.py: pix2mobile.a._inner import y",
                                   "pix2mobile/b/y.py: pix2mobile.a.x import _helper"]
