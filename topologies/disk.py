"""Single-sink disk topology (registered as kind ``"disk"``): bridges at the centre, endpoints
uniform in a disk around them.

What it models
    Exactly ``endpoints`` endpoints placed independently and uniformly (by area) in a disk of
    radius ``radius_m`` centred in a ``2 radius_m`` square study area. One bridge stands at the
    centre; with ``bridges > 1`` they stand evenly spaced on a ring of radius ``bridge_ring_m``
    around the centre (the first at angle 0).

Source / rationale
    The placement of LoRaSim's single-gateway experiments (Bor, Roedig, Voigt, Alonso, "Do LoRa
    Low-Power Wide-Area Networks Scale?", ACM MSWiM 2016, section 5): nodes uniform in the disk
    in which the gateway hears them, the gateway at its centre. The radius is drawn as
    ``radius_m * sqrt(U)`` and the angle as ``2 pi V`` (inverse-transform sampling of the
    area-uniform radius, e.g. Devroye, "Non-Uniform Random Variate Generation", 1986), so the
    distance to the centre has density ``2 r / radius_m^2``.

What it leaves out
    LoRaSim's 10 m minimum separation between nodes (its rejection loop; at the densities of the
    Bor et al. experiments it removes well under 1 % of the area) and any spatial structure.
    Bridges are indoor ``PLACE_HOUSE`` when ``bridges_indoor`` else ``PLACE_OPEN``; endpoints are
    outdoor ``PLACE_OPEN``.

Random draws (order matters for reproducibility): one ``rng.random`` call of shape
``(endpoints, 2)`` (radius variate, angle variate). Bridge positions are not random.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from topologies.base import (
    Topology,
    TopologyError,
    assemble,
    check_bool,
    check_float,
    check_int,
    meta,
)

__all__ = ("DiskParams", "disk_points_m", "generate")


@dataclass(frozen=True)
class DiskParams:
    """Parameters of the single-sink disk topology."""

    name: ClassVar[str] = "disk"

    radius_m: float = field(default=100.0, metadata=meta("radius of the endpoints' disk", "m"))
    endpoints: int = field(default=100, metadata=meta("number of endpoints"))
    bridges: int = field(default=1, metadata=meta("number of bridges (1: at the centre)"))
    bridge_ring_m: float = field(
        default=0.0,
        metadata=meta("radius of the ring the bridges stand on when bridges > 1", "m"),
    )
    bridges_indoor: bool = field(
        default=False, metadata=meta("bridges stand inside houses (the engine adds wall loss)")
    )

    def __post_init__(self) -> None:
        check_float("radius_m", self.radius_m, minimum=0.0, strict_minimum=True)
        check_int("endpoints", self.endpoints, 0)
        check_int("bridges", self.bridges, 0)
        check_float("bridge_ring_m", self.bridge_ring_m, minimum=0.0)
        check_bool("bridges_indoor", self.bridges_indoor)
        if self.bridges > 1 and not 0.0 < self.bridge_ring_m <= self.radius_m:
            raise TopologyError(
                f"bridge_ring_m must be in (0, radius_m = {self.radius_m:g}] when bridges > 1 "
                f"(got {self.bridge_ring_m:g}); the bridges stand on that ring"
            )


def disk_points_m(
    rng: np.random.Generator, count: int, radius_m: float, centre_m: tuple[float, float]
) -> np.ndarray:
    """``count`` i.i.d. points uniform by area in the disk of ``radius_m`` around ``centre_m``,
    shape (count, 2)."""
    u = rng.random((count, 2))
    r = radius_m * np.sqrt(u[:, 0])
    theta = 2.0 * math.pi * u[:, 1]
    return np.column_stack((centre_m[0] + r * np.cos(theta), centre_m[1] + r * np.sin(theta)))


def generate(params: DiskParams, rng: np.random.Generator) -> Topology:
    """Draw one realisation of the disk topology."""
    radius = float(params.radius_m)
    centre = (radius, radius)
    n = int(params.bridges)
    if n == 1:
        bridges = np.array([centre])
    else:
        angle = 2.0 * math.pi * np.arange(n) / max(n, 1)
        ring = float(params.bridge_ring_m)
        bridges = np.column_stack(
            (centre[0] + ring * np.cos(angle), centre[1] + ring * np.sin(angle))
        )
    endpoints = disk_points_m(rng, int(params.endpoints), radius, centre)
    return assemble(
        bridges.reshape(n, 2),
        endpoints,
        bridges_indoor=params.bridges_indoor,
        width_m=2.0 * radius,
        height_m=2.0 * radius,
    )
