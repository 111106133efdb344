"""Tests of the single-sink disk topology (topologies.disk, kind "disk")."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from topologies.base import PLACE_OPEN, TopologyError
from topologies.disk import DiskParams, generate


def test_one_bridge_at_the_centre_and_endpoints_inside_the_disk() -> None:
    t = generate(DiskParams(radius_m=110.0, endpoints=4000), np.random.default_rng(5))
    assert (t.n_bridges, t.n_endpoints) == (1, 4000)
    assert t.positions_m[0].tolist() == [110.0, 110.0]
    assert (t.width_m, t.height_m) == (220.0, 220.0)
    r = np.hypot(*(t.positions_m[1:] - 110.0).T)
    assert r.max() <= 110.0
    # uniform by area: (r / R)^2 is uniform on (0, 1), and the angle is uniform
    assert stats.kstest((r / 110.0) ** 2, "uniform").pvalue > 1e-3
    angle = np.arctan2(*(t.positions_m[1:] - 110.0).T[::-1])
    assert stats.kstest((angle + np.pi) / (2 * np.pi), "uniform").pvalue > 1e-3
    assert not t.indoor.any() and (t.places == PLACE_OPEN).all()


def test_several_bridges_stand_evenly_on_their_ring() -> None:
    t = generate(
        DiskParams(radius_m=100.0, endpoints=3, bridges=4, bridge_ring_m=50.0),
        np.random.default_rng(0),
    )
    np.testing.assert_allclose(
        t.positions_m[:4], [[150, 100], [100, 150], [50, 100], [100, 50]], atol=1e-9
    )


def test_same_seed_same_layout() -> None:
    p = DiskParams(endpoints=50)
    a = generate(p, np.random.default_rng(9)).positions_m
    b = generate(p, np.random.default_rng(9)).positions_m
    assert np.array_equal(a, b)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"radius_m": 0.0}, "radius_m"),
        ({"endpoints": -1}, "endpoints must be an integer >= 0"),
        ({"bridges": 3}, r"bridge_ring_m must be in \(0, radius_m = 100\]"),
        ({"bridges": 2, "bridge_ring_m": 150.0}, "bridge_ring_m must be in"),
    ],
)
def test_bad_parameters_name_the_key(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(TopologyError, match=message):
        DiskParams(**kwargs)  # type: ignore[arg-type]
