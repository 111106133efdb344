"""Expected endpoint reach in the suburb, computed outside the engine: the reference of the
catalog's Sidewalk coverage-against-bridge-density reproduction.

Model
    The suburb's houses are fixed (``topologies.suburb.layout``). ``M`` of its ``H`` houses,
    chosen uniformly without replacement, each host a bridge at a uniform point of the footprint
    (indoor). An endpoint at ``e`` is reached when at least one bridge's link closes:
    ``PL(d) + X + walls <= B``, ``B`` the class's link budget (TX power minus sensitivity),
    ``walls`` the wall loss per indoor end, ``X`` the log-normal shadowing of that link, normal
    with ``sigma`` truncated at ``clip`` sigma, independent between links. So a house ``h`` would
    reach ``e`` with probability ``q_eh = E[P(X <= B - PL(d) - walls)]`` (averaged over the
    bridge's point in the footprint by a midpoint rule), independently of the other houses, and

        P(e not reached) = sum over M-subsets S of prod_{h in S} (1 - q_eh) / C(H, M)
                         = e_M(1 - q_e1, ..., 1 - q_eH) / C(H, M),

    ``e_M`` the elementary symmetric polynomial, evaluated by the stable recurrence
    ``a_j(k) = (k - j) / k a_j(k - 1) + j / k x_k a_{j-1}(k - 1)`` for ``a_j(k) = e_j / C(k, j)``
    (all weights in [0, 1]). The reach is the mean over endpoints, whose placements are drawn
    by the suburb generator itself with seeds of their own (the reference does not reuse the
    runs' seeds).

Sources: the link model of ``mesh.pathgain`` and ``radios.propagation`` (log-distance with
log-normal shadowing, Rappaport 2002, §4.9-4.10); sampling without replacement and elementary
symmetric polynomials (e.g. Stanley, Enumerative Combinatorics vol. 2, §7.4).

Leaves out: everything that is not the static link budget (traffic, collisions, scanning duty):
it is the reference for ``endpoint_reach``, not for delivery.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from typing import Any

import numpy as np

from mesh.config import EndpointConfig, SimConfig
from mesh.links import FREQUENCY_HZ, class_phy
from radios.propagation import shadowing_below
from topologies import ROLE_ENDPOINT, SuburbParams, generate
from topologies.suburb import layout

QUADRATURE_POINTS = 4
"""Midpoint rule per axis of a house footprint (16 bridge points per house)."""


def expected_reach(config: SimConfig, cls: EndpointConfig, draws: int = 8) -> float:
    """Expected share of ``cls``'s endpoints some bridge can decode (see the module doc)."""
    params = config.topology
    if not isinstance(params, SuburbParams):
        raise TypeError(f"expected_reach needs a suburb topology, got {type(params).__name__}")
    phy = class_phy(cls, config.privacy.encryption_overhead_bytes)
    budget_db = float(phy.tx_power_dbm - phy.sensitivity_dbm)
    by_bridges = _reach_by_bridges(
        dataclasses.replace(params, bridge_fraction=0.0),
        config.propagation,
        float(config.walls.wall_loss_db),
        budget_db,
        float(FREQUENCY_HZ[phy.link]),
        draws,
    )
    return float(by_bridges[params.n_bridges])


@lru_cache(maxsize=16)
def _reach_by_bridges(
    params: SuburbParams,
    model: Any,
    wall_loss_db: float,
    budget_db: float,
    frequency_hz: float,
    draws: int,
) -> np.ndarray:
    """Expected reach for every bridge count M = 0 .. homes (index M)."""
    houses = layout(params).houses_m  # (H, 4): x0, y0, x1, y1
    grid = (np.arange(QUADRATURE_POINTS) + 0.5) / QUADRATURE_POINTS
    gx = houses[:, 0:1] + grid[None, :] * (houses[:, 2:3] - houses[:, 0:1])  # (H, g)
    gy = houses[:, 1:2] + grid[None, :] * (houses[:, 3:4] - houses[:, 1:2])
    bx = np.repeat(gx, QUADRATURE_POINTS, axis=1)  # (H, g*g): every (x, y) pair
    by = np.tile(gy, (1, QUADRATURE_POINTS))
    loss = model.loss_function(frequency_hz)
    sigma, clip = float(model.shadowing_sigma_db), float(model.shadowing_clip_sigma)
    total = np.zeros(int(params.homes) + 1)
    for draw in range(draws):
        topo = generate(params, np.random.default_rng([draw, 0x5EED]))
        ends = topo.roles == ROLE_ENDPOINT
        ex, ey = topo.positions_m[ends, 0], topo.positions_m[ends, 1]
        walls_db = wall_loss_db * (1.0 + topo.indoor[ends].astype(np.float64))  # bridge indoor
        q = np.empty((ex.size, houses.shape[0]))
        for h in range(houses.shape[0]):
            d2 = (ex[:, None] - bx[h][None, :]) ** 2 + (ey[:, None] - by[h][None, :]) ** 2
            margin = budget_db - walls_db[:, None] - np.asarray(loss(d2.ravel())).reshape(d2.shape)
            q[:, h] = shadowing_below(margin, sigma, clip).mean(axis=1)
        total += 1.0 - _none_of_m(1.0 - q).mean(axis=0)
    return total / draws


def _none_of_m(x: np.ndarray) -> np.ndarray:
    """``e_M(x_e1..x_eH) / C(H, M)`` for every row e and every M = 0..H, shape (E, H + 1)."""
    rows, homes = x.shape
    a = np.zeros((rows, homes + 1))
    a[:, 0] = 1.0
    for k in range(1, homes + 1):
        j = np.arange(1, k + 1)
        a[:, 1 : k + 1] = ((k - j) / k) * a[:, 1 : k + 1] + (j / k) * x[:, k - 1 : k] * a[:, 0:k]
    return a
