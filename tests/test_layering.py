"""The package layering of the design, checked on the source (imports parsed with ``ast``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "radios": {"mesh", "experiments", "topologies", "simpy", "click", "matplotlib", "bleak"},
    "topologies": {"mesh", "experiments", "radios", "simpy", "click", "matplotlib", "bleak"},
    "mesh": {"experiments", "click", "matplotlib", "bleak"},
    "experiments": {"bleak"},
}
ALLOWED_NP_RANDOM = {"Generator", "SeedSequence", "PCG64"}


def modules(package: str) -> list[Path]:
    return sorted((REPO / package).glob("*.py"))


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_respect_the_layering(package: str) -> None:
    offenders = {
        path.name: sorted(imported_roots(path) & FORBIDDEN[package]) for path in modules(package)
    }
    assert {k: v for k, v in offenders.items() if v} == {}


@pytest.mark.parametrize("package", ["radios", "topologies", "mesh"])
def test_no_global_numpy_random_and_no_print(package: str) -> None:
    for path in modules(package):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute):
                inner = node.value
                if (
                    isinstance(inner.value, ast.Name)
                    and inner.value.id in ("np", "numpy")
                    and inner.attr == "random"
                ):
                    assert node.attr in ALLOWED_NP_RANDOM, f"{path.name}: np.random.{node.attr}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id != "print", f"{path.name} prints"
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names]
                assert "random" not in names, f"{path.name} imports the random module"


@pytest.mark.parametrize("package", ["radios", "topologies", "mesh", "experiments"])
def test_every_module_opens_with_a_docstring(package: str) -> None:
    for path in modules(package):
        doc = ast.get_docstring(ast.parse(path.read_text()))
        assert doc and len(doc) > 40, f"{path} has no real module docstring"


def test_ble_modules_open_with_a_docstring_and_import_bleak_lazily() -> None:
    """bleak and Bumble are optional: the ``experiments.ble`` modules import them only inside
    functions, except ``sim`` (the Bumble backend), which nothing imports at module level."""
    for path in sorted((REPO / "experiments" / "ble").glob("*.py")):
        tree = ast.parse(path.read_text())
        if path.name != "__init__.py":
            doc = ast.get_docstring(tree)
            assert doc and len(doc) > 40, f"{path} has no real module docstring"
        top: set[str] = set()
        for node in tree.body:
            if isinstance(node, ast.Import):
                top.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                top.add(node.module.split(".")[0])
                if node.module == "experiments.ble.sim" or (
                    node.module == "experiments.ble" and any(a.name == "sim" for a in node.names)
                ):
                    raise AssertionError(f"{path.name} imports the Bumble backend eagerly")
        if path.name != "sim.py":
            assert not top & {"bleak", "bumble"}, f"{path.name} imports bleak or bumble eagerly"
