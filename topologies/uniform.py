"""Uniform random topology (registered as kind ``"random"``): fixed counts, i.i.d. positions.

What it models
    Exactly ``bridges`` bridges and ``endpoints`` endpoints, each placed independently and
    uniformly in the study area ``[0, width_m) x [0, height_m)``.  This is a binomial point process
    (a Poisson process conditioned on its count); use ``poisson`` when the count itself should
    vary between realisations.

Source / rationale
    The standard "random geometric graph" baseline of wireless-network literature; fixed counts
    make runs comparable when sweeping radio parameters.  The module is called ``uniform`` so it
    does not shadow the standard-library ``random`` module.

What it leaves out
    Any spatial structure (houses, streets, clustering, minimum separation).  Bridges are indoor
    ``PLACE_HOUSE`` when ``bridges_indoor`` else ``PLACE_OPEN``; endpoints are outdoor
    ``PLACE_OPEN``.

Random draws (order matters for reproducibility): one ``rng.uniform`` call of shape
``(bridges, 2)`` for bridges, then one of shape ``(endpoints, 2)`` for endpoints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from topologies.base import Topology, assemble, check_bool, check_float, check_int, meta

__all__ = (
    "RandomParams",
    "generate",
    "uniform_points_m",
)


@dataclass(frozen=True)
class RandomParams:
    """Parameters of the uniform random topology."""

    name: ClassVar[str] = "random"

    width_m: float = field(default=1000.0, metadata=meta("study-area width (x extent)", "m"))
    height_m: float = field(default=1000.0, metadata=meta("study-area height (y extent)", "m"))
    bridges: int = field(default=10, metadata=meta("number of bridges"))
    endpoints: int = field(default=100, metadata=meta("number of endpoints"))
    bridges_indoor: bool = field(
        default=True, metadata=meta("bridges stand inside houses (the engine adds wall loss)")
    )

    def __post_init__(self) -> None:
        check_float("width_m", self.width_m, minimum=0.0, strict_minimum=True)
        check_float("height_m", self.height_m, minimum=0.0, strict_minimum=True)
        check_int("bridges", self.bridges, 0)
        check_int("endpoints", self.endpoints, 0)
        check_bool("bridges_indoor", self.bridges_indoor)


def uniform_points_m(
    rng: np.random.Generator, count: int, width_m: float, height_m: float
) -> np.ndarray:
    """``count`` i.i.d. uniform points in ``[0, width_m) x [0, height_m)``, shape (count, 2)."""
    return rng.uniform(low=(0.0, 0.0), high=(width_m, height_m), size=(count, 2))


def generate(params: RandomParams, rng: np.random.Generator) -> Topology:
    """Draw one realisation of the uniform random topology."""
    w, h = float(params.width_m), float(params.height_m)
    bridges = uniform_points_m(rng, int(params.bridges), w, h)
    endpoints = uniform_points_m(rng, int(params.endpoints), w, h)
    return assemble(bridges, endpoints, bridges_indoor=params.bridges_indoor, width_m=w, height_m=h)
