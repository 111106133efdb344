"""Homogeneous Poisson point-process topology: random counts, uniform positions.

What it models
    Bridges and endpoints as two independent homogeneous Poisson point processes on the study area
    ``[0, width_m) x [0, height_m)``: for each role the node count is drawn as
    ``N ~ Poisson(density * area)`` and the N points are then placed i.i.d. uniformly (the standard
    two-step construction of a homogeneous PPP restricted to a bounded window).

    Each intensity is given either as a density (``*_density_per_km2``) or as an expected count
    (``bridges`` / ``endpoints``, meaning ``density = count / area``; it may be fractional).  Giving
    both members of a pair is an error.  Giving neither selects the defaults below.

Defaults (ASSUMPTION, not measured)
    ``bridge_density_per_km2 = 20`` and ``endpoint_density_per_km2 = 500``: a sparse deployment.  A
    US suburb has roughly 1000 homes/km^2 (700 m^2 lots plus streets, see ``suburb``), so 20
    bridges/km^2 corresponds to ~2 % of homes running an opted-in bridge, and 500 endpoints/km^2 to
    one tracked/sensing device per two homes.  Override per scenario.

Source / rationale
    The PPP is the canonical model of stochastic geometry for uncoordinated device placement
    (e.g. Haenggi, "Stochastic Geometry for Wireless Networks", CUP 2012, ch. 2); its nearest
    neighbour distance has the closed form ``P(D <= r) = 1 - exp(-lambda*pi*r^2)``, which the
    tests check.

What it leaves out
    Clustering / repulsion (houses, streets), inhomogeneous intensity, edge correction (the window
    is simply cut).  Bridges are indoor ``PLACE_HOUSE`` when ``bridges_indoor`` else
    ``PLACE_OPEN``; endpoints are outdoor ``PLACE_OPEN``.

Random draws (order matters for reproducibility): bridge count, bridge positions (one
``rng.uniform`` call of shape ``(N_b, 2)``), endpoint count, endpoint positions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Final

import numpy as np

from topologies.base import Topology, TopologyError, assemble, check_bool, check_float, meta
from topologies.uniform import uniform_points_m

__all__ = (
    "DEFAULT_BRIDGE_DENSITY_PER_KM2",
    "DEFAULT_ENDPOINT_DENSITY_PER_KM2",
    "PoissonParams",
    "generate",
)

DEFAULT_BRIDGE_DENSITY_PER_KM2: Final[float] = 20.0
DEFAULT_ENDPOINT_DENSITY_PER_KM2: Final[float] = 500.0

_M2_PER_KM2: Final[float] = 1e6


@dataclass(frozen=True)
class PoissonParams:
    """Parameters of the Poisson point-process topology (give a density or a count per role)."""

    name: ClassVar[str] = "poisson"

    width_m: float = field(default=1000.0, metadata=meta("study-area width (x extent)", "m"))
    height_m: float = field(default=1000.0, metadata=meta("study-area height (y extent)", "m"))
    bridge_density_per_km2: float | None = field(
        default=None,
        metadata=meta(
            "bridge intensity; exclusive with bridges; "
            f"{DEFAULT_BRIDGE_DENSITY_PER_KM2:g} if neither is given",
            "1/km^2",
        ),
    )
    endpoint_density_per_km2: float | None = field(
        default=None,
        metadata=meta(
            "endpoint intensity; exclusive with endpoints; "
            f"{DEFAULT_ENDPOINT_DENSITY_PER_KM2:g} if neither is given",
            "1/km^2",
        ),
    )
    bridges: float | None = field(
        default=None,
        metadata=meta("expected number of bridges (density = bridges / area); may be fractional"),
    )
    endpoints: float | None = field(
        default=None,
        metadata=meta(
            "expected number of endpoints (density = endpoints / area); may be fractional"
        ),
    )
    bridges_indoor: bool = field(
        default=True, metadata=meta("bridges stand inside houses (the engine adds wall loss)")
    )

    def __post_init__(self) -> None:
        check_float("width_m", self.width_m, minimum=0.0, strict_minimum=True)
        check_float("height_m", self.height_m, minimum=0.0, strict_minimum=True)
        for density, count in (
            ("bridge_density_per_km2", "bridges"),
            ("endpoint_density_per_km2", "endpoints"),
        ):
            d, c = getattr(self, density), getattr(self, count)
            if d is not None and c is not None:
                raise TopologyError(
                    f"give either {density} or {count}, not both (got {density}={d!r}, "
                    f"{count}={c!r})"
                )
            if d is not None:
                check_float(density, d, minimum=0.0)
            if c is not None:
                check_float(count, c, minimum=0.0)
        check_bool("bridges_indoor", self.bridges_indoor)

    @property
    def area_km2(self) -> float:
        """Study-area size in km^2."""
        return float(self.width_m) * float(self.height_m) / _M2_PER_KM2

    @property
    def effective_bridge_density_per_km2(self) -> float:
        """Bridge intensity actually used (from density, count or default)."""
        return self._density(
            self.bridge_density_per_km2, self.bridges, DEFAULT_BRIDGE_DENSITY_PER_KM2
        )

    @property
    def effective_endpoint_density_per_km2(self) -> float:
        """Endpoint intensity actually used (from density, count or default)."""
        return self._density(
            self.endpoint_density_per_km2, self.endpoints, DEFAULT_ENDPOINT_DENSITY_PER_KM2
        )

    @property
    def expected_bridges(self) -> float:
        """Mean number of bridges per realisation."""
        return self.effective_bridge_density_per_km2 * self.area_km2

    @property
    def expected_endpoints(self) -> float:
        """Mean number of endpoints per realisation."""
        return self.effective_endpoint_density_per_km2 * self.area_km2

    def _density(self, density: float | None, count: float | None, default: float) -> float:
        if density is not None:
            return float(density)
        if count is not None:
            return float(count) / self.area_km2
        return default


def generate(params: PoissonParams, rng: np.random.Generator) -> Topology:
    """Draw one realisation of the two Poisson point processes."""
    w, h = float(params.width_m), float(params.height_m)
    n_b = int(rng.poisson(params.expected_bridges))
    bridges = uniform_points_m(rng, n_b, w, h)
    n_e = int(rng.poisson(params.expected_endpoints))
    endpoints = uniform_points_m(rng, n_e, w, h)
    return assemble(bridges, endpoints, bridges_indoor=params.bridges_indoor, width_m=w, height_m=h)
