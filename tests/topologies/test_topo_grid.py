"""Tests of the square-lattice topology (topologies.grid)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from topologies.base import PLACE_HOUSE, PLACE_OPEN, TopologyError
from topologies.grid import GridParams, generate, lattice_axis_m


def _axis_count(extent_m: float, spacing_m: float) -> int:
    return math.floor(extent_m / spacing_m + 0.5)


def test_default_counts_and_positions() -> None:
    t = generate(GridParams(), np.random.default_rng(0))
    assert t.n_bridges == 5 * 5
    assert t.n_endpoints == 20 * 20
    xs = np.unique(t.positions_m[: t.n_bridges, 0])
    np.testing.assert_allclose(xs, [100, 300, 500, 700, 900])
    np.testing.assert_allclose(t.positions_m[0], [100.0, 100.0])
    np.testing.assert_allclose(t.positions_m[1], [300.0, 100.0])  # x varies fastest
    np.testing.assert_allclose(t.positions_m[t.n_bridges], [25.0, 25.0])
    assert (t.width_m, t.height_m) == (1000.0, 1000.0)


def test_roles_indoor_places() -> None:
    t = generate(GridParams(), np.random.default_rng(0))
    b, e = t.bridge_ids, t.endpoint_ids
    assert t.indoor[b].all() and (t.places[b] == PLACE_HOUSE).all()
    assert not t.indoor[e].any() and (t.places[e] == PLACE_OPEN).all()
    t = generate(GridParams(bridges_indoor=False), np.random.default_rng(0))
    assert not t.indoor.any() and (t.places == PLACE_OPEN).all()


def test_rng_is_not_used() -> None:
    rng = np.random.default_rng(5)
    state = rng.bit_generator.state
    a = generate(GridParams(), rng)
    assert rng.bit_generator.state == state
    assert a == generate(GridParams(), None)


def test_non_square_area_and_partial_cells() -> None:
    t = generate(
        GridParams(width_m=1000.0, height_m=450.0, bridge_spacing_m=300.0, endpoint_spacing_m=1e4),
        np.random.default_rng(0),
    )
    # x: 150, 450, 750 (1050 > 1000); y: 150, 450 (a centre exactly on the edge is inside)
    assert t.n_bridges == 3 * 2
    assert t.n_endpoints == 0  # spacing larger than twice the area: no cell centre inside
    assert t.positions_m[:, 1].max() == 450.0


@settings(max_examples=60, deadline=None)
@given(
    width_m=st.floats(1.0, 3000.0),
    height_m=st.floats(1.0, 3000.0),
    bridge_spacing_m=st.floats(5.0, 2000.0),
    endpoint_spacing_m=st.floats(20.0, 2000.0),
)
def test_counts_closed_form(
    width_m: float, height_m: float, bridge_spacing_m: float, endpoint_spacing_m: float
) -> None:
    p = GridParams(width_m, height_m, bridge_spacing_m, endpoint_spacing_m)
    t = generate(p, np.random.default_rng(0))
    for n, s in ((t.n_bridges, bridge_spacing_m), (t.n_endpoints, endpoint_spacing_m)):
        expected = _axis_count(width_m, s) * _axis_count(height_m, s)
        assert n == expected or _near_boundary(width_m, height_m, s)
    assert (t.positions_m >= 0).all()
    assert (t.positions_m[:, 0] <= width_m).all() and (t.positions_m[:, 1] <= height_m).all()


def _near_boundary(width_m: float, height_m: float, spacing_m: float) -> bool:
    """Floating-point ties (a cell centre exactly on the edge) may go either way."""
    fracs = [(e / spacing_m + 0.5) % 1.0 for e in (width_m, height_m)]
    return any(min(f, 1.0 - f) < 1e-9 for f in fracs)


def test_lattice_axis_edges() -> None:
    np.testing.assert_allclose(lattice_axis_m(150.0, 100.0), [50.0, 150.0])
    assert lattice_axis_m(49.0, 100.0).size == 0
    xs = lattice_axis_m(0.3, 0.2)
    assert (xs <= 0.3).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"width_m": 0.0}, "width_m must be a finite number > 0, got 0.0"),
        ({"height_m": -1.0}, "height_m must be a finite number > 0"),
        ({"bridge_spacing_m": float("nan")}, "bridge_spacing_m must be a finite number > 0"),
        ({"endpoint_spacing_m": "50"}, "endpoint_spacing_m must be a finite number > 0"),
        ({"bridges_indoor": "yes"}, "bridges_indoor must be true or false, got 'yes'"),
    ],
)
def test_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(TopologyError, match=message):
        GridParams(**kwargs)  # type: ignore[arg-type]
