"""Tests of the uniform random topology (topologies.uniform, kind "random")."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from topologies.base import PLACE_HOUSE, PLACE_OPEN, TopologyError
from topologies.uniform import RandomParams, generate


def test_exact_counts_roles_and_places() -> None:
    t = generate(RandomParams(bridges=7, endpoints=33), np.random.default_rng(0))
    assert (t.n_bridges, t.n_endpoints) == (7, 33)
    assert t.indoor[:7].all() and not t.indoor[7:].any()
    assert (t.places[:7] == PLACE_HOUSE).all() and (t.places[7:] == PLACE_OPEN).all()
    t = generate(RandomParams(bridges_indoor=False), np.random.default_rng(0))
    assert not t.indoor.any()


def test_zero_counts() -> None:
    t = generate(RandomParams(bridges=0, endpoints=0), np.random.default_rng(0))
    assert t.n_nodes == 0


def test_positions_uniform_inside_area() -> None:
    p = RandomParams(width_m=400.0, height_m=100.0, bridges=0, endpoints=5000)
    t = generate(p, np.random.default_rng(11))
    x, y = t.positions_m.T
    assert (x >= 0).all() and (x < 400).all() and (y >= 0).all() and (y < 100).all()
    assert stats.kstest(x / 400.0, "uniform").pvalue > 1e-3
    assert stats.kstest(y / 100.0, "uniform").pvalue > 1e-3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bridges": -3}, r"^bridges must be an integer >= 0, got -3$"),
        ({"endpoints": 1.5}, "endpoints must be an integer >= 0, got 1.5"),
        ({"width_m": 0}, "width_m must be a finite number > 0, got 0"),
        ({"bridges_indoor": 1}, "bridges_indoor must be true or false"),
    ],
)
def test_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(TopologyError, match=message):
        RandomParams(**kwargs)  # type: ignore[arg-type]
