"""The package's shape, as DESIGN.md states it, checked by reading the source (no imports).

Layering: ``core  <-  tune types  <-  schedulers, searchers  <-  tune controller/tuner  <-
integrations, cli``. Every import statement counts, including those inside functions
(lazy imports) and ``importlib.import_module("...")`` calls with a literal name.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "caliper"
MAX_LINES = 600

# The tune modules that make up the controller layer (the rest of caliper.tune are the types).
TUNE_CONTROLLER = ("caliper.tune.controller", "caliper.tune.tuner")


def module_name(path: Path) -> str:
    """``caliper/core/api.py`` -> ``caliper.core.api``; a package's ``__init__.py`` -> the
    package."""
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _package_of(module: str, is_package: bool) -> list[str]:
    parts = module.split(".")
    return parts if is_package else parts[:-1]


def imported_modules(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every module name ``source`` (the text of ``module``) imports, relative ones resolved.

    ``from a.b import c`` yields both ``a.b`` and ``a.b.c`` (``c`` may be a submodule).
    """
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _package_of(module, is_package)
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names if alias.name != "*")
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            first = node.args[0]
            if (
                name in ("import_module", "__import__")
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
            ):
                found.add(first.value)
    return found


def _is_within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def source_files() -> list[Path]:
    return sorted(p for p in PACKAGE_DIR.rglob("*.py") if "__pycache__" not in p.parts)


def package_imports() -> Iterator[tuple[str, set[str]]]:
    for path in source_files():
        module = module_name(path)
        is_package = path.name == "__init__.py"
        imports = imported_modules(path.read_text(encoding="utf-8"), module, is_package)
        yield module, {name for name in imports if _is_within(name, "caliper")}


def violations(rule) -> list[str]:
    out = []
    for module, imports in package_imports():
        out.extend(f"{module} imports {name}" for name in sorted(imports) if rule(module, name))
    return out


# -- the import walker itself -------------------------------------------------------------


def test_walker_resolves_absolute_relative_lazy_and_dynamic_imports():
    source = """
import os
import caliper.core.api as api
from caliper.tune import controller
from . import sibling
from .. import exceptions
from ..tune.trial import Trial

def lazy():
    from caliper.schedulers import asha
    importlib.import_module("caliper.tune.tuner")
"""
    found = imported_modules(source, "caliper.searchers.optuna")
    assert {
        "os",
        "caliper.core.api",
        "caliper.tune",
        "caliper.tune.controller",
        "caliper.searchers.sibling",
        "caliper.exceptions",
        "caliper.tune.trial.Trial",
        "caliper.schedulers.asha",
        "caliper.tune.tuner",
    } <= found


def test_walker_resolves_relative_imports_in_a_package_init():
    found = imported_modules("from .api import init\n", "caliper.core", is_package=True)
    assert "caliper.core.api" in found


def test_walker_sees_the_package():
    modules = {module for module, _ in package_imports()}
    assert {"caliper", "caliper.core", "caliper.core.api", "caliper.cli"} <= modules


# -- the layering ---------------------------------------------------------------------------


def test_core_imports_nothing_else_from_caliper():
    def rule(module: str, name: str) -> bool:
        return _is_within(module, "caliper.core") and not _is_within(name, "caliper.core")

    assert violations(rule) == []


@pytest.mark.parametrize("layer", ["caliper.schedulers", "caliper.searchers"])
def test_schedulers_and_searchers_never_import_the_tune_controller(layer):
    def rule(module: str, name: str) -> bool:
        return _is_within(module, layer) and any(_is_within(name, c) for c in TUNE_CONTROLLER)

    assert violations(rule) == []


def test_only_the_top_layer_imports_integrations_and_cli():
    top = ("caliper.integrations", "caliper.cli", "caliper.__main__")

    def rule(module: str, name: str) -> bool:
        below = not any(_is_within(module, t) for t in top)
        return below and any(_is_within(name, t) for t in top[:2])

    assert violations(rule) == []


# -- house style ----------------------------------------------------------------------------


def _subpackages() -> list[Path]:
    return sorted(p.parent for p in PACKAGE_DIR.rglob("__init__.py") if p.parent != PACKAGE_DIR)


def test_every_directory_in_the_package_is_a_package():
    dirs = [
        d
        for d in PACKAGE_DIR.rglob("*")
        if d.is_dir() and "__pycache__" not in d.parts and not d.name.startswith(".")
    ]
    missing = [
        str(d.relative_to(PACKAGE_DIR.parent)) for d in dirs if not (d / "__init__.py").exists()
    ]
    assert missing == []


def _module_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    body = list(tree.body)
    for node in tree.body:  # names a lazy __getattr__ provides are imported for type checkers
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            body.extend(node.body)
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def _declared_all(tree: ast.Module) -> list[str] | None:
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets = [node.target]
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            return ast.literal_eval(node.value)
    return None


EXPORTED_SUBMODULES = {"core", "exceptions", "util"}  # caliper.core, caliper.exceptions ...


@pytest.mark.parametrize(
    "package", _subpackages(), ids=lambda p: str(p.relative_to(PACKAGE_DIR.parent))
)
def test_subpackage_init_declares_all_with_names_it_defines(package):
    tree = ast.parse((package / "__init__.py").read_text(encoding="utf-8"))
    declared = _declared_all(tree)
    assert declared is not None, f"{package.name}/__init__.py has no __all__"
    assert isinstance(declared, list | tuple)
    assert all(isinstance(name, str) for name in declared)
    assert len(set(declared)) == len(declared), f"duplicates in {package.name}.__all__"
    undefined = sorted(set(declared) - _module_level_names(tree))
    assert undefined == [], f"{package.name}.__all__ names what it does not define: {undefined}"
    module = importlib.import_module(".".join(package.relative_to(PACKAGE_DIR.parent).parts))
    missing = [name for name in declared if not hasattr(module, name)]
    assert missing == [], f"{package.name}.__all__ names what it does not provide: {missing}"
    # A submodule named like an exported function replaces it once anything imports it
    # (Python binds submodules as package attributes): import them all, then look again.
    for info in pkgutil.iter_modules([str(package)]):
        importlib.import_module(f"{module.__name__}.{info.name}")
    hidden = [
        name
        for name in declared
        if isinstance(getattr(module, name), types.ModuleType) and name not in EXPORTED_SUBMODULES
    ]
    assert hidden == [], f"{package.name}: exported names hidden by submodules: {hidden}"


def test_the_subpackages_of_the_design_exist():
    names = {p.name for p in _subpackages()}
    assert {"core", "tune", "schedulers", "searchers", "integrations", "cli"} <= names


def test_no_source_file_is_over_600_lines():
    too_long = {}
    for path in source_files():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            too_long[str(path.relative_to(PACKAGE_DIR.parent))] = lines
    assert too_long == {}, f"files over {MAX_LINES} lines (split them): {too_long}"
