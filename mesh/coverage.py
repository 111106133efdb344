"""Area coverage by link budget: where could a device of a given link reach a bridge?

Model: a square grid of probe points over the study area (optionally leaving out a margin at the
edges). A probe is covered when an outdoor device there, transmitting at the class's power, would
reach at least one bridge that listens on the link with a *median* received power (no shadowing)
at or above the class's sensitivity: ``tx_power - median_loss(d) - wall(bridge) >= sensitivity``.
Path loss grows with distance in every model, so only the nearest bridge of each wall class
(indoor / outdoor) needs checking: a k-d tree nearest-neighbour query per probe. No simulation is
involved.

Closed form used by the tests: for a Poisson field of bridges of density lambda and the ideal disk
model of range r, the covered share is ``1 - exp(-lambda * pi * r**2)`` (the void probability of a
Poisson process, e.g. Haenggi, "Stochastic Geometry for Wireless Networks", 2012, ch. 2).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree

#: Number of probes chosen when no spacing is given.
DEFAULT_PROBES = 40_000


def probe_grid(width_m: float, height_m: float, spacing_m: float, margin_m: float) -> np.ndarray:
    """Probe points at cell centres of a square grid inside the area less ``margin_m``."""
    w = max(width_m - 2 * margin_m, 0.0)
    h = max(height_m - 2 * margin_m, 0.0)
    if w <= 0 or h <= 0:
        return np.zeros((0, 2))
    if spacing_m <= 0:
        spacing_m = math.sqrt(w * h / DEFAULT_PROBES)
    nx = max(1, round(w / spacing_m))
    ny = max(1, round(h / spacing_m))
    xs = margin_m + (np.arange(nx) + 0.5) * (w / nx)
    ys = margin_m + (np.arange(ny) + 0.5) * (h / ny)
    gx, gy = np.meshgrid(xs, ys, indexing="xy")
    return np.column_stack([gx.ravel(), gy.ravel()])


def covered(
    probes_m: np.ndarray,
    bridge_positions_m: np.ndarray,
    bridge_indoor: np.ndarray,
    model: object,
    frequency_hz: float,
    budget_db: float,
    wall_loss_db: float,
) -> np.ndarray:
    """Boolean per probe: some bridge reachable within ``budget_db`` of median loss."""
    result = np.zeros(len(probes_m), dtype=bool)
    if len(probes_m) == 0:
        return result
    for indoor in (False, True):
        pos = bridge_positions_m[bridge_indoor == indoor]
        if len(pos) == 0:
            continue
        distance_m, _ = cKDTree(pos).query(probes_m, k=1)
        loss = np.asarray(model.median_loss_db(distance_m, frequency_hz))  # type: ignore[attr-defined]
        if indoor:
            loss = loss + wall_loss_db
        result |= loss <= budget_db
    return result
