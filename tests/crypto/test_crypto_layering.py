"""timecoin.crypto is the bottom layer: stdlib, PyNaCl and gmpy2 only."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import timecoin.crypto as crypto

PACKAGE = Path(crypto.__file__).resolve().parent
ALLOWED_THIRD_PARTY = {"nacl", "gmpy2"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_imports_stay_in_the_bottom_layer() -> None:
    files = sorted(PACKAGE.glob("*.py"))
    assert files
    for path in files:
        for name in _imports(path):
            top = name.split(".")[0]
            if top == "timecoin":
                assert name.startswith("timecoin.crypto"), f"{path.name} imports {name}"
            elif top != "__future__":
                assert top in sys.stdlib_module_names or top in ALLOWED_THIRD_PARTY, (
                    f"{path.name} imports {name}"
                )


def test_all_is_complete() -> None:
    for name in crypto.__all__:
        assert hasattr(crypto, name), name
