"""Topology generators and loaders: where bridges and endpoints stand.

What it models
    Geometry only.  Every generator turns a frozen parameter dataclass and a
    ``numpy.random.Generator`` into a :class:`~topologies.base.Topology`: read-only numpy arrays of
    positions (metres, origin at the lower-left corner of a ``width_m x height_m`` study area),
    roles (bridges first, then endpoints), an indoor flag and a place class per node.

    ========  ==========================  =================================================
    kind      parameters                  model
    ========  ==========================  =================================================
    grid      ``grid.GridParams``         bridges / endpoints on two square lattices
    random    ``uniform.RandomParams``    fixed counts, i.i.d. uniform positions
    disk      ``disk.DiskParams``         single sink at the centre, endpoints uniform in a disk
    poisson   ``poisson.PoissonParams``   homogeneous Poisson point processes
    suburb    ``suburb.SuburbParams``     US street grid with lots, houses, yards, streets
    csv       ``csv_loader.CsvParams``    nodes read from a CSV file
    ========  ==========================  =================================================

    Adding a topology = one module (docstring, params dataclass with ``name: ClassVar[str]`` and
    documented fields, ``generate(params, rng) -> Topology``) + one line in ``TOPOLOGY_KINDS``.

Source / rationale
    Keeping geometry separate from radios and protocols lets the same node layout be replayed
    under different radio models, and lets layouts be unit-tested statistically on their own.

What it leaves out
    Everything that is not geometry: this package imports nothing from ``radios``, ``mesh`` or
    ``experiments`` (nor simpy / click / matplotlib) and holds no module-level mutable state;
    randomness comes only from the ``rng`` argument.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from topologies import csv_loader, disk, grid, poisson, suburb, uniform
from topologies.base import (
    PLACE_HOUSE,
    PLACE_NAMES,
    PLACE_OPEN,
    PLACE_STREET,
    PLACE_YARD,
    ROLE_BRIDGE,
    ROLE_ENDPOINT,
    ROLE_NAMES,
    ParamDoc,
    Topology,
    TopologyError,
    param_docs,
)
from topologies.csv_loader import CsvParams
from topologies.disk import DiskParams
from topologies.grid import GridParams
from topologies.poisson import PoissonParams
from topologies.suburb import SuburbParams
from topologies.uniform import RandomParams

__all__ = (
    "PLACE_HOUSE",
    "PLACE_NAMES",
    "PLACE_OPEN",
    "PLACE_STREET",
    "PLACE_YARD",
    "ROLE_BRIDGE",
    "ROLE_ENDPOINT",
    "ROLE_NAMES",
    "TOPOLOGY_KINDS",
    "CsvParams",
    "DiskParams",
    "GridParams",
    "ParamDoc",
    "PoissonParams",
    "RandomParams",
    "SuburbParams",
    "Topology",
    "TopologyError",
    "TopologyKind",
    "generate",
    "make_params",
    "param_docs",
)


@dataclass(frozen=True)
class TopologyKind:
    """A registered topology: its name, parameter dataclass, generator and one-line doc."""

    name: str
    params_type: type
    generate: Callable[[Any, np.random.Generator], Topology]
    doc: str


def _kind(
    module: Any, params_type: type, fn: Callable[[Any, np.random.Generator], Topology]
) -> TopologyKind:
    doc = (module.__doc__ or "").strip().splitlines()[0]
    name: str = getattr(params_type, "name")  # noqa: B009  # ClassVar of the params dataclass
    return TopologyKind(name=name, params_type=params_type, generate=fn, doc=doc)


TOPOLOGY_KINDS: Mapping[str, TopologyKind] = MappingProxyType(
    {
        k.name: k
        for k in (
            _kind(grid, GridParams, grid.generate),
            _kind(uniform, RandomParams, uniform.generate),
            _kind(disk, DiskParams, disk.generate),
            _kind(poisson, PoissonParams, poisson.generate),
            _kind(suburb, SuburbParams, suburb.generate),
            _kind(csv_loader, CsvParams, csv_loader.load),
        )
    }
)
"""Read-only registry: kind name -> :class:`TopologyKind`."""


def make_params(kind: str, values: Mapping[str, Any] | None = None) -> Any:
    """Build the parameter dataclass of ``kind`` from a mapping (e.g. a TOML table).

    Raises TopologyError for an unknown kind or an unknown parameter name (listing the allowed
    ones); value errors come from the dataclass's own validation.
    """
    if kind not in TOPOLOGY_KINDS:
        raise TopologyError(
            f"topology kind must be one of {', '.join(TOPOLOGY_KINDS)}, got {kind!r}"
        )
    params_type = TOPOLOGY_KINDS[kind].params_type
    values = dict(values or {})
    allowed = [f.name for f in dataclasses.fields(params_type)]
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise TopologyError(
            f"unknown {kind} topology parameter {unknown[0]!r}; allowed: {', '.join(allowed)}"
        )
    return params_type(**values)


def generate(params: Any, rng: np.random.Generator) -> Topology:
    """Generate a topology from any registered parameter dataclass instance."""
    kind = TOPOLOGY_KINDS.get(str(getattr(type(params), "name", "")))
    if kind is None or not isinstance(params, kind.params_type):
        raise TypeError(
            f"params must be an instance of a registered topology parameter class "
            f"({', '.join(k.params_type.__name__ for k in TOPOLOGY_KINDS.values())}), "
            f"got {type(params).__name__}"
        )
    return kind.generate(params, rng)
