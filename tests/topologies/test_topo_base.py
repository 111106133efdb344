"""Tests of topologies.base: the Topology container and the parameter helpers."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from topologies.base import (
    PLACE_HOUSE,
    PLACE_OPEN,
    PLACE_STREET,
    ROLE_BRIDGE,
    ROLE_ENDPOINT,
    Topology,
    TopologyError,
    check_bool,
    check_float,
    check_int,
)


def _topo(**overrides: object) -> Topology:
    kwargs: dict[str, object] = {
        "positions_m": [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]],
        "roles": np.array([ROLE_BRIDGE, ROLE_ENDPOINT, ROLE_ENDPOINT], dtype=np.int8),
        "indoor": np.array([True, False, False]),
        "places": np.array([PLACE_HOUSE, PLACE_OPEN, PLACE_STREET], dtype=np.int8),
        "width_m": 10.0,
        "height_m": 10.0,
    }
    kwargs.update(overrides)
    return Topology(**kwargs)  # type: ignore[arg-type]


def test_valid_topology_properties() -> None:
    t = _topo(fields={"name": np.array(["a", "b", "c"])})
    assert t.n_nodes == 3
    assert t.n_bridges == 1
    assert t.n_endpoints == 2
    assert t.bridge_ids.tolist() == [0]
    assert t.endpoint_ids.tolist() == [1, 2]
    assert t.area_m2 == 100.0
    assert t.positions_m.dtype == np.float64
    assert t.roles.dtype == np.int8
    assert t.places.dtype == np.int8
    assert t.indoor.dtype == np.bool_
    assert t.streets_m.shape == (0, 4)
    assert "n_bridges=1" in repr(t)


def test_arrays_are_read_only_copies() -> None:
    pos = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    t = _topo(positions_m=pos, fields={"v": np.arange(3.0)})
    pos[0, 0] = 9.0  # caller's array stays writable and is not aliased
    assert t.positions_m[0, 0] == 1.0
    for arr in (t.positions_m, t.roles, t.indoor, t.places, t.streets_m, t.fields["v"]):
        assert not arr.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            arr[0] = 0
    with pytest.raises(TypeError):
        t.fields["w"] = np.zeros(3)  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.width_m = 5.0  # type: ignore[misc]


def test_equality_by_value() -> None:
    assert _topo() == _topo()
    assert _topo() != _topo(width_m=11.0)
    assert _topo() != _topo(positions_m=[[1.0, 2.0], [3.0, 4.0], [5.0, 7.0]])
    assert _topo(fields={"v": np.array([np.nan, 1, 2])}) == _topo(
        fields={"v": np.array([np.nan, 1, 2])}
    )
    assert _topo(fields={"v": np.zeros(3)}) != _topo()


def test_empty_topology_allowed() -> None:
    t = _topo(
        positions_m=np.zeros((0, 2)),
        roles=np.zeros(0, dtype=np.int8),
        indoor=np.zeros(0, dtype=bool),
        places=np.zeros(0, dtype=np.int8),
    )
    assert t.n_nodes == t.n_bridges == t.n_endpoints == 0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"positions_m": [[1.0, 2.0], [3.0, 4.0]]}, r"roles must have shape \(2,\)"),
        ({"positions_m": np.zeros((3, 3))}, r"positions_m must have shape \(n, 2\)"),
        ({"positions_m": [[1.0, 2.0], [np.nan, 4.0], [5.0, 6.0]]}, r"positions_m\[1\].*finite"),
        ({"positions_m": [[1.0, 2.0], [3.0, 11.0], [5.0, 6.0]]}, "outside the study area"),
        ({"positions_m": [[-0.1, 2.0], [3.0, 1.0], [5.0, 6.0]]}, "outside the study area"),
        ({"positions_m": np.array([["a", "b"]] * 3)}, "real numeric"),
        ({"roles": np.array([1, 0, 1])}, "bridges before all endpoints"),
        ({"roles": np.array([0, 1, 2])}, r"roles\[2\] = 2 is not one of"),
        ({"roles": np.array([0.0, 1.0, 1.0])}, "roles must be an integer array"),
        ({"places": np.array([0, 1, 7])}, r"places\[2\] = 7"),
        ({"indoor": np.array([1, 0, 0])}, "indoor must be a bool array"),
        ({"indoor": np.array([True, False])}, r"indoor must have shape \(3,\)"),
        ({"width_m": 0.0}, "width_m must be a finite number > 0"),
        ({"height_m": float("inf")}, "height_m must be a finite number > 0"),
        ({"width_m": True}, "width_m must be a number > 0"),
        ({"fields": {"v": np.zeros(2)}}, r"fields\['v'\] must have shape \(3,\)"),
        ({"fields": {1: np.zeros(3)}}, "fields keys must be strings"),
        ({"fields": [1, 2]}, "fields must be a mapping"),
        ({"streets_m": np.zeros((2, 3))}, r"streets_m must be a numeric \(k, 4\) array"),
        ({"streets_m": np.full((1, 4), np.inf)}, "streets_m must be finite"),
    ],
)
def test_topology_validation(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(TopologyError, match=message):
        _topo(**overrides)


def test_topology_error_is_value_error() -> None:
    assert issubclass(TopologyError, ValueError)


def test_check_helpers() -> None:
    assert check_int("n", np.int64(3)) == 3
    with pytest.raises(TopologyError, match=r"^bridges must be an integer >= 0, got -3$"):
        check_int("bridges", -3)
    with pytest.raises(TopologyError, match=r"must be an integer >= 1, got 2\.0"):
        check_int("homes", 2.0, 1)
    with pytest.raises(TopologyError, match="must be an integer"):
        check_int("homes", True, 1)
    assert check_float("x", 2) == 2.0
    with pytest.raises(TopologyError, match=r"x must be a finite number >= 0 and <= 1, got 1.5"):
        check_float("x", 1.5, minimum=0.0, maximum=1.0)
    with pytest.raises(TopologyError, match=r"x must be a finite number > 0, got 0"):
        check_float("x", 0, minimum=0.0, strict_minimum=True)
    with pytest.raises(TopologyError, match="got nan"):
        check_float("x", float("nan"))
    with pytest.raises(TopologyError, match="got '1'"):
        check_float("x", "1")
    assert check_bool("b", np.True_) is True
    with pytest.raises(TopologyError, match="b must be true or false, got 1"):
        check_bool("b", 1)
