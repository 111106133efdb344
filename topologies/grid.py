"""Regular square-lattice topology: bridges and endpoints on two independent lattices.

What it models
    An idealised, fully deterministic layout used for sanity checks and closed-form comparisons:
    bridges sit at the centres of square cells of side ``bridge_spacing_m`` tiling the study area
    from the origin, i.e. at ``(spacing/2 + i*spacing, spacing/2 + j*spacing)`` for every such
    point inside ``[0, width_m] x [0, height_m]``; endpoints sit on their own lattice built the same
    way with ``endpoint_spacing_m``.  Per axis the count is therefore
    ``floor(extent/spacing + 1/2)``, so ``n_bridges = floor(W/s_b + 1/2) * floor(H/s_b + 1/2)``.
    Nodes are listed bridges first, each lattice row by row (x varies fastest, then y).

Source / rationale
    Hexagonal / square reference deployments are the usual baseline in mesh-coverage studies; the
    square lattice gives exactly known inter-node distances (nearest bridge neighbour at
    ``bridge_spacing_m``) so radio and routing results can be checked by hand.

What it leaves out
    Randomness (the ``rng`` argument is accepted for a uniform interface and never used), houses
    and streets (bridges are ``PLACE_HOUSE``/indoor when ``bridges_indoor`` else ``PLACE_OPEN``;
    endpoints are outdoor ``PLACE_OPEN``).  The two lattices are independent, so a bridge and an
    endpoint can coincide (e.g. when ``bridge_spacing_m / endpoint_spacing_m`` is an odd integer);
    the radio engine must tolerate distance 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from topologies.base import Topology, assemble, check_bool, check_float, meta

__all__ = (
    "GridParams",
    "generate",
    "lattice_axis_m",
)


@dataclass(frozen=True)
class GridParams:
    """Parameters of the square-lattice topology."""

    name: ClassVar[str] = "grid"

    width_m: float = field(default=1000.0, metadata=meta("study-area width (x extent)", "m"))
    height_m: float = field(default=1000.0, metadata=meta("study-area height (y extent)", "m"))
    bridge_spacing_m: float = field(
        default=200.0, metadata=meta("distance between neighbouring bridges on their lattice", "m")
    )
    endpoint_spacing_m: float = field(
        default=50.0, metadata=meta("distance between neighbouring endpoints on their lattice", "m")
    )
    bridges_indoor: bool = field(
        default=True, metadata=meta("bridges stand inside houses (the engine adds wall loss)")
    )

    def __post_init__(self) -> None:
        for name in ("width_m", "height_m", "bridge_spacing_m", "endpoint_spacing_m"):
            check_float(name, getattr(self, name), minimum=0.0, strict_minimum=True)
        check_bool("bridges_indoor", self.bridges_indoor)


def lattice_axis_m(extent_m: float, spacing_m: float) -> np.ndarray:
    """Cell-centre coordinates ``spacing/2 + k*spacing`` that lie within ``[0, extent_m]``."""
    count = math.floor(extent_m / spacing_m + 0.5)
    while count > 0 and (count - 0.5) * spacing_m > extent_m:  # guard against rounding
        count -= 1
    return (np.arange(count, dtype=np.float64) + 0.5) * spacing_m


def _lattice_m(width_m: float, height_m: float, spacing_m: float) -> np.ndarray:
    xs = lattice_axis_m(width_m, spacing_m)
    ys = lattice_axis_m(height_m, spacing_m)
    gx, gy = np.meshgrid(xs, ys, indexing="xy")  # rows follow y, x varies fastest
    return np.column_stack([gx.ravel(), gy.ravel()])


def generate(params: GridParams, rng: np.random.Generator | None = None) -> Topology:
    """Build the lattice topology.  Deterministic: ``rng`` is ignored."""
    del rng
    w, h = float(params.width_m), float(params.height_m)
    return assemble(
        _lattice_m(w, h, float(params.bridge_spacing_m)),
        _lattice_m(w, h, float(params.endpoint_spacing_m)),
        bridges_indoor=params.bridges_indoor,
        width_m=w,
        height_m=h,
    )
