"""The layers of DESIGN.md hold in the code: each module imports only modules of its own layer or the
ones above it, so a newcomer can read the package top down (docs/design.md lists the modules)."""

from __future__ import annotations

import ast
from pathlib import Path

from .conftest import ROOT

PACKAGE = ROOT / "deidlang"

#: module prefix -> layer (DESIGN.md: 2 parse, 3 compile, 4 validate, 5 engine, 6 runner and services,
#: 7 cli); anything not listed is shared vocabulary (1: actions, arguments, plan, dictionary, errors ...)
LAYERS = {
    "syntax": 2, "ast": 2,
    "compiler": 3, "printing": 3,
    "validate": 4, "explain": 4,
    "engine": 5,
    "runner": 6, "cluster": 6, "pool": 6, "fileio": 6, "journal": 6, "plancache": 6, "store": 6, "scan": 6,
    "node": 6, "review": 6, "verify": 6, "lsp": 6, "substitution": 6,
    "cli": 7,
}
FACADES = {"deidlang", "deidlang.__main__"}  # the public API and `python -m deidlang` gather every layer


def _name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else ""
    return LAYERS.get(top, 1)


def _imports(path: Path, module: str):
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            yield node.lineno, [target] + [f"{target}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            yield node.lineno, [a.name for a in node.names]


def _is_module(name: str) -> bool:
    path = ROOT / name.replace(".", "/")
    return path.with_suffix(".py").is_file() or path.is_dir()


def test_no_module_imports_a_layer_below_it():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _name(path)
        if module in FACADES:
            continue
        for line, targets in _imports(path, module):
            for target in targets:
                if target.startswith("deidlang.") and _is_module(target) and _layer(target) > _layer(module):
                    upward.append(f"{path.relative_to(ROOT)}:{line}: layer {_layer(module)} imports {target} "
                                  f"(layer {_layer(target)})")
    assert not upward, "\n".join(upward)


def test_the_check_sees_relative_imports():
    """The resolution above is right: the engine's relative imports of the plan are found."""
    path = PACKAGE / "engine" / "dataset.py"
    targets = {t for _, names in _imports(path, _name(path)) for t in names}
    assert "deidlang.plan" in targets and "deidlang.engine.admission" in targets


def test_no_module_is_longer_than_a_reader_can_hold():
    """Issue 18: small modules named for what they do; none over 400 lines."""
    long = {str(p.relative_to(ROOT)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert not long, long
