"""Tests of the topologies registry, the shared generator contract and the package rules."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import topologies
from topologies import (
    TOPOLOGY_KINDS,
    CsvParams,
    DiskParams,
    GridParams,
    PoissonParams,
    RandomParams,
    SuburbParams,
    Topology,
    TopologyError,
    generate,
    make_params,
    param_docs,
)
from topologies.base import ROLE_BRIDGE

PACKAGE_DIR = Path(topologies.__file__).parent
RANDOM_KINDS: list[Any] = [
    RandomParams(bridges=5, endpoints=50),
    DiskParams(endpoints=40),
    PoissonParams(width_m=300.0, height_m=200.0),
    SuburbParams(homes=60),
]
ALL_GENERATED: list[Any] = [GridParams(), *RANDOM_KINDS]


def test_registry_contents() -> None:
    assert list(TOPOLOGY_KINDS) == ["grid", "random", "disk", "poisson", "suburb", "csv"]
    for name, kind in TOPOLOGY_KINDS.items():
        assert kind.name == name == getattr(kind.params_type, "name")  # noqa: B009
        assert dataclasses.is_dataclass(kind.params_type)
        assert kind.doc and "\n" not in kind.doc
    with pytest.raises(TypeError):
        TOPOLOGY_KINDS["x"] = TOPOLOGY_KINDS["grid"]  # type: ignore[index]


@pytest.mark.parametrize("kind", list(TOPOLOGY_KINDS))
def test_params_are_frozen_documented_and_constructible(kind: str) -> None:
    params_type = TOPOLOGY_KINDS[kind].params_type
    params = params_type()
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.bridges_indoor = False
    for f in dataclasses.fields(params_type):
        assert f.metadata["doc"], f.name
        assert "unit" in f.metadata, f.name
        if f.name.endswith("_m"):
            assert f.metadata["unit"] == "m", f.name
    docs = param_docs(params_type)
    assert [d.name for d in docs] == [f.name for f in dataclasses.fields(params_type)]


@pytest.mark.parametrize("params", ALL_GENERATED, ids=lambda p: type(p).name)
def test_generator_contract(params: Any) -> None:
    topo = generate(params, np.random.default_rng(7))
    assert isinstance(topo, Topology)
    roles = topo.roles
    assert np.all(np.diff(roles) >= 0), "bridges first"
    assert np.all(roles[: topo.n_bridges] == ROLE_BRIDGE)
    assert np.all(topo.positions_m >= 0.0)
    assert np.all(topo.positions_m[:, 0] <= topo.width_m)
    assert np.all(topo.positions_m[:, 1] <= topo.height_m)
    assert not topo.positions_m.flags.writeable


@pytest.mark.parametrize("params", ALL_GENERATED, ids=lambda p: type(p).name)
def test_same_seed_same_topology(params: Any) -> None:
    a = generate(params, np.random.default_rng(123))
    b = generate(params, np.random.default_rng(123))
    assert a == b
    np.testing.assert_array_equal(a.positions_m, b.positions_m)


@pytest.mark.parametrize("params", RANDOM_KINDS, ids=lambda p: type(p).name)
def test_different_seed_different_topology(params: Any) -> None:
    a = generate(params, np.random.default_rng(1))
    b = generate(params, np.random.default_rng(2))
    assert a != b


def test_generate_rejects_unknown_params() -> None:
    with pytest.raises(TypeError, match="registered topology parameter class"):
        generate(object(), np.random.default_rng(0))


def test_generate_dispatches_csv(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    p.write_text("x_m,y_m,role\n1,2,endpoint\n3,4,bridge\n")
    topo = generate(CsvParams(path=str(p)), np.random.default_rng(0))
    assert topo.n_bridges == 1


def test_make_params() -> None:
    assert make_params("grid", {"width_m": 500}) == GridParams(width_m=500)
    assert make_params("suburb") == SuburbParams()
    with pytest.raises(TopologyError, match="topology kind must be one of grid, random"):
        make_params("hex", {})
    with pytest.raises(TopologyError, match="unknown grid topology parameter 'spacing_m'; allowed"):
        make_params("grid", {"spacing_m": 3})
    with pytest.raises(TopologyError, match="bridges must be an integer >= 0, got -3"):
        make_params("random", {"bridges": -3})


FORBIDDEN_IMPORTS = {"radios", "mesh", "experiments", "simpy", "click", "matplotlib"}


@pytest.mark.parametrize("module", sorted(PACKAGE_DIR.glob("*.py")), ids=lambda p: p.name)
def test_package_rules(module: Path) -> None:
    tree = ast.parse(module.read_text())
    doc = ast.get_docstring(tree)
    assert doc and len(doc.splitlines()) > 3, "module docstring (what / source / leaves out)"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            names = []
        for name in names:
            assert name.split(".")[0] not in FORBIDDEN_IMPORTS, f"{module.name} imports {name}"
        # randomness only through a Generator argument: no np.random.<function> calls
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "random"
        ):
            assert node.attr == "Generator", f"{module.name} uses np.random.{node.attr}"
    # no module-level mutable state
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign | ast.AnnAssign) and stmt.value is not None:
            assert not isinstance(
                stmt.value, ast.List | ast.Dict | ast.Set | ast.ListComp | ast.DictComp
            ), f"{module.name}:{stmt.lineno} module-level mutable container"
