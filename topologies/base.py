"""Core geometry types shared by every topology generator.

What it models
    A :class:`Topology` is a frozen snapshot of *where* the nodes of one neighbourhood network
    stand: 2-D positions in metres, the role of each node (bridge = always-powered gateway such
    as a smart speaker or floodlight camera; endpoint = battery device such as a tracker or
    sensor), whether the node is inside a building (the radio engine adds wall loss for indoor
    nodes) and a coarse *place* class (house / yard / street / open ground).  Positions live in a
    rectangular study area ``[0, width_m] x [0, height_m]`` whose origin is the lower-left corner;
    area-coverage probes sample that rectangle.

Conventions (enforced by ``Topology.__post_init__``)
    * Node ids are row indices.  Bridges come first, then endpoints (``roles`` is non-decreasing),
      so ``bridge_ids == arange(n_bridges)``.
    * Every array is copied on construction and made read-only, so a topology can be shared
      between simulation runs without defensive copies.
    * All positions are finite and inside the study area.

Source / rationale
    Plain numpy arrays (structure-of-arrays) keep the radio engine vectorised: path-loss matrices
    are computed directly from ``positions_m``.

What it leaves out
    Heights / 3-D geometry, building outlines (only the ``indoor`` flag is kept), antenna
    orientation, mobility (``streets_m`` merely records street centre lines for a later mobility
    model), and any radio or protocol state.  Two nodes may share a position; how distance 0 is
    handled is the radio engine's business.

The module also holds the small validation helpers used by the parameter dataclasses of the
generator modules, and :func:`param_docs`, which lists the documented fields of a parameter
dataclass (the CLI and the README reference are built from it).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

import numpy as np

__all__ = (
    "PLACE_HOUSE",
    "PLACE_NAMES",
    "PLACE_OPEN",
    "PLACE_STREET",
    "PLACE_YARD",
    "ROLE_BRIDGE",
    "ROLE_ENDPOINT",
    "ROLE_NAMES",
    "ParamDoc",
    "Topology",
    "TopologyError",
    "assemble",
    "check_bool",
    "check_float",
    "check_int",
    "meta",
    "outdoor_place_codes",
    "param_docs",
)

ROLE_BRIDGE: Final[int] = 0
ROLE_ENDPOINT: Final[int] = 1
ROLE_NAMES: Final[Mapping[int, str]] = MappingProxyType(
    {ROLE_BRIDGE: "bridge", ROLE_ENDPOINT: "endpoint"}
)

PLACE_HOUSE: Final[int] = 0
PLACE_YARD: Final[int] = 1
PLACE_STREET: Final[int] = 2
PLACE_OPEN: Final[int] = 3
PLACE_NAMES: Final[Mapping[int, str]] = MappingProxyType(
    {PLACE_HOUSE: "house", PLACE_YARD: "yard", PLACE_STREET: "street", PLACE_OPEN: "open"}
)


class TopologyError(ValueError):
    """Invalid topology parameters, input file or topology arrays (message says what is allowed)."""


# --------------------------------------------------------------------------------------------
# Topology
# --------------------------------------------------------------------------------------------


def _readonly(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def _empty_fields() -> Mapping[str, np.ndarray]:
    return MappingProxyType({})


def _empty_streets() -> np.ndarray:
    return np.zeros((0, 4), dtype=np.float64)


def _as_array(name: str, value: Any) -> np.ndarray:
    try:
        return np.array(value, copy=True)
    except (TypeError, ValueError) as exc:  # ragged input etc.
        raise TopologyError(f"{name} must be array-like, got {type(value).__name__}") from exc


def _as_int8_codes(name: str, value: Any, n: int, allowed: Mapping[int, str]) -> np.ndarray:
    a = _as_array(name, value)
    if a.shape != (n,):
        raise TopologyError(f"{name} must have shape ({n},), got {a.shape}")
    if a.dtype.kind not in "iu":
        raise TopologyError(f"{name} must be an integer array, got dtype {a.dtype}")
    bad = ~np.isin(a, np.array(list(allowed), dtype=np.int64))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        codes = ", ".join(f"{k}={v}" for k, v in allowed.items())
        raise TopologyError(f"{name}[{i}] = {a[i]} is not one of {codes}")
    return a.astype(np.int8)


@dataclass(frozen=True, eq=False)
class Topology:
    """Positions and roles of the nodes of one network, bridges first (see module docstring)."""

    positions_m: np.ndarray
    """(n, 2) float64 node positions (x, y) in metres."""
    roles: np.ndarray
    """(n,) int8, ``ROLE_BRIDGE`` or ``ROLE_ENDPOINT``; bridges first."""
    indoor: np.ndarray
    """(n,) bool, node is inside a building (the engine adds wall loss)."""
    places: np.ndarray
    """(n,) int8 ``PLACE_*`` code: where the node stands."""
    width_m: float
    """Study-area width: x ranges over [0, width_m]."""
    height_m: float
    """Study-area height: y ranges over [0, height_m]."""
    fields: Mapping[str, np.ndarray] = field(default_factory=_empty_fields)
    """Extra per-node columns (e.g. from a CSV file), each of shape (n,)."""
    streets_m: np.ndarray = field(default_factory=_empty_streets)
    """(k, 4) float64 street centre-line segments x0, y0, x1, y1 (empty unless known)."""

    def __post_init__(self) -> None:
        pos = _as_array("positions_m", self.positions_m)
        if pos.ndim != 2 or pos.shape[1] != 2:
            raise TopologyError(f"positions_m must have shape (n, 2), got {pos.shape}")
        if pos.dtype.kind not in "iuf":
            raise TopologyError(f"positions_m must be a real numeric array, got dtype {pos.dtype}")
        pos = pos.astype(np.float64)
        n = pos.shape[0]
        if not np.isfinite(pos).all():
            i = int(np.flatnonzero(~np.isfinite(pos).all(axis=1))[0])
            raise TopologyError(f"positions_m[{i}] = {pos[i].tolist()} is not finite")

        for dim in ("width_m", "height_m"):
            v = getattr(self, dim)
            if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating):
                raise TopologyError(f"{dim} must be a number > 0, got {v!r}")
            if not (math.isfinite(float(v)) and float(v) > 0.0):
                raise TopologyError(f"{dim} must be a finite number > 0, got {v!r}")
            object.__setattr__(self, dim, float(v))

        outside = (
            (pos[:, 0] < 0.0)
            | (pos[:, 0] > self.width_m)
            | (pos[:, 1] < 0.0)
            | (pos[:, 1] > self.height_m)
        )
        if outside.any():
            i = int(np.flatnonzero(outside)[0])
            raise TopologyError(
                f"positions_m[{i}] = {pos[i].tolist()} is outside the study area "
                f"[0, {self.width_m}] x [0, {self.height_m}]"
            )

        roles = _as_int8_codes("roles", self.roles, n, ROLE_NAMES)
        if n > 1 and (np.diff(roles) < 0).any():
            i = int(np.flatnonzero(np.diff(roles) < 0)[0]) + 1
            raise TopologyError(
                f"roles must list all bridges before all endpoints; node {i} is a bridge "
                "after an endpoint"
            )
        places = _as_int8_codes("places", self.places, n, PLACE_NAMES)

        indoor = _as_array("indoor", self.indoor)
        if indoor.shape != (n,):
            raise TopologyError(f"indoor must have shape ({n},), got {indoor.shape}")
        if indoor.dtype.kind != "b":
            raise TopologyError(f"indoor must be a bool array, got dtype {indoor.dtype}")

        if not isinstance(self.fields, Mapping):
            raise TopologyError(f"fields must be a mapping, got {type(self.fields).__name__}")
        extra: dict[str, np.ndarray] = {}
        for key, col in self.fields.items():
            if not isinstance(key, str):
                raise TopologyError(f"fields keys must be strings, got {key!r}")
            a = _as_array(f"fields[{key!r}]", col)
            if a.shape != (n,):
                raise TopologyError(f"fields[{key!r}] must have shape ({n},), got {a.shape}")
            extra[key] = _readonly(a)

        streets = _as_array("streets_m", self.streets_m)
        if streets.size == 0:
            streets = np.zeros((0, 4), dtype=np.float64)
        if streets.ndim != 2 or streets.shape[1] != 4 or streets.dtype.kind not in "iuf":
            raise TopologyError(
                f"streets_m must be a numeric (k, 4) array, got shape {streets.shape} "
                f"dtype {streets.dtype}"
            )
        streets = streets.astype(np.float64)
        if not np.isfinite(streets).all():
            raise TopologyError("streets_m must be finite")

        object.__setattr__(self, "positions_m", _readonly(pos))
        object.__setattr__(self, "roles", _readonly(roles))
        object.__setattr__(self, "places", _readonly(places))
        object.__setattr__(self, "indoor", _readonly(indoor))
        object.__setattr__(self, "fields", MappingProxyType(extra))
        object.__setattr__(self, "streets_m", _readonly(streets))

    # -- derived quantities -----------------------------------------------------------------

    @property
    def n_nodes(self) -> int:
        """Total number of nodes."""
        return int(self.positions_m.shape[0])

    @property
    def n_bridges(self) -> int:
        """Number of bridges (they are nodes ``0 .. n_bridges-1``)."""
        return int(np.count_nonzero(self.roles == ROLE_BRIDGE))

    @property
    def n_endpoints(self) -> int:
        """Number of endpoints (they are nodes ``n_bridges .. n_nodes-1``)."""
        return self.n_nodes - self.n_bridges

    @property
    def bridge_ids(self) -> np.ndarray:
        """Node ids of the bridges (int64, ascending)."""
        return np.flatnonzero(self.roles == ROLE_BRIDGE)

    @property
    def endpoint_ids(self) -> np.ndarray:
        """Node ids of the endpoints (int64, ascending)."""
        return np.flatnonzero(self.roles == ROLE_ENDPOINT)

    @property
    def area_m2(self) -> float:
        """Study-area size in square metres."""
        return self.width_m * self.height_m

    # -- value semantics --------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Topology):
            return NotImplemented
        if (self.width_m, self.height_m) != (other.width_m, other.height_m):
            return False
        pairs = [
            (self.positions_m, other.positions_m),
            (self.roles, other.roles),
            (self.indoor, other.indoor),
            (self.places, other.places),
            (self.streets_m, other.streets_m),
        ]
        if set(self.fields) != set(other.fields):
            return False
        pairs += [(self.fields[k], other.fields[k]) for k in self.fields]
        return all(_arrays_equal(a, b) for a, b in pairs)

    __hash__ = None  # type: ignore[assignment]  # mutable-looking arrays: not hashable

    def __repr__(self) -> str:
        extra = f", fields={sorted(self.fields)}" if self.fields else ""
        return (
            f"Topology(n_bridges={self.n_bridges}, n_endpoints={self.n_endpoints}, "
            f"width_m={self.width_m:g}, height_m={self.height_m:g}{extra})"
        )


def _arrays_equal(a: np.ndarray, b: np.ndarray) -> bool:
    if a.dtype.kind != b.dtype.kind:
        return False
    return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))


# --------------------------------------------------------------------------------------------
# Parameter dataclass helpers
# --------------------------------------------------------------------------------------------


def meta(doc: str, unit: str = "") -> dict[str, str]:
    """Field metadata of a parameter dataclass: ``field(default=..., metadata=meta(doc, unit))``."""
    return {"doc": doc, "unit": unit}


@dataclass(frozen=True)
class ParamDoc:
    """One documented field of a parameter dataclass (for the CLI and the README reference)."""

    name: str
    type: str
    default: Any
    unit: str
    doc: str


def param_docs(params_type: type) -> tuple[ParamDoc, ...]:
    """List the fields of a parameter dataclass with their default, unit and one-line doc."""
    out = []
    for f in dataclasses.fields(params_type):
        if f.default is not dataclasses.MISSING:
            default: Any = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = None
        type_name = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        out.append(
            ParamDoc(
                name=f.name,
                type=type_name,
                default=default,
                unit=str(f.metadata.get("unit", "")),
                doc=str(f.metadata.get("doc", "")),
            )
        )
    return tuple(out)


def _is_real(value: object) -> bool:
    return not isinstance(value, bool | np.bool_) and isinstance(
        value, int | float | np.integer | np.floating
    )


def check_int(name: str, value: object, minimum: int = 0) -> int:
    """Return ``value`` as int if it is an integer >= ``minimum``, else raise TopologyError."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise TopologyError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if int(value) < minimum:
        raise TopologyError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_float(
    name: str,
    value: object,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_minimum: bool = False,
) -> float:
    """Return ``value`` as float if it is a finite number within bounds, else raise TopologyError.

    ``strict_minimum=True`` requires ``value > minimum`` instead of ``>=``.
    """
    parts = []
    if minimum is not None:
        parts.append(f"{'>' if strict_minimum else '>='} {minimum:g}")
    if maximum is not None:
        parts.append(f"<= {maximum:g}")
    allowed = "a finite number" + (" " + " and ".join(parts) if parts else "")
    if not _is_real(value):
        raise TopologyError(f"{name} must be {allowed}, got {value!r}")
    v = float(value)  # type: ignore[arg-type]  # checked by _is_real
    ok = math.isfinite(v)
    if ok and minimum is not None:
        ok = v > minimum if strict_minimum else v >= minimum
    if ok and maximum is not None:
        ok = v <= maximum
    if not ok:
        raise TopologyError(f"{name} must be {allowed}, got {value!r}")
    return v


def check_bool(name: str, value: object) -> bool:
    """Return ``value`` as bool if it is a bool, else raise TopologyError."""
    if not isinstance(value, bool | np.bool_):
        raise TopologyError(f"{name} must be true or false, got {value!r}")
    return bool(value)


def outdoor_place_codes(indoor: np.ndarray) -> np.ndarray:
    """Place codes for abstract topologies: ``PLACE_HOUSE`` when indoor, else ``PLACE_OPEN``."""
    return np.where(indoor, PLACE_HOUSE, PLACE_OPEN).astype(np.int8)


def assemble(
    bridge_xy_m: np.ndarray,
    endpoint_xy_m: np.ndarray,
    *,
    bridges_indoor: bool,
    width_m: float,
    height_m: float,
) -> Topology:
    """Build an abstract (no houses) topology: bridges indoor per flag, endpoints outdoor.

    Places are ``PLACE_HOUSE`` for indoor bridges and ``PLACE_OPEN`` otherwise.
    """
    nb, ne = len(bridge_xy_m), len(endpoint_xy_m)
    positions = np.concatenate(
        [np.reshape(bridge_xy_m, (nb, 2)), np.reshape(endpoint_xy_m, (ne, 2))]
    ).astype(np.float64)
    roles = np.concatenate(
        [np.full(nb, ROLE_BRIDGE, dtype=np.int8), np.full(ne, ROLE_ENDPOINT, dtype=np.int8)]
    )
    indoor = np.concatenate([np.full(nb, bool(bridges_indoor)), np.zeros(ne, dtype=bool)])
    return Topology(
        positions_m=positions,
        roles=roles,
        indoor=indoor,
        places=outdoor_place_codes(indoor),
        width_m=width_m,
        height_m=height_m,
    )
