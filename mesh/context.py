"""The explicit simulation context: one SimPy environment plus named random streams.

Model: every random draw of a run comes from a ``numpy.random.Generator`` derived from the run's
seed through ``SeedSequence(seed).spawn``, one stream per purpose (topology layout, shadowing,
traffic, MAC, backhaul, class assignment, BLE scanner phases). Streams are spawned in the fixed
order of :data:`STREAM_NAMES`; new purposes are only ever appended, so adding one never changes the
draws of the others. Nothing here is module-level state: two contexts in one process are
independent.

Source: NumPy's "Parallel random number generation" guide (SeedSequence spawning); the explicit
environment follows SimPy's ``simpy.core.Environment``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import simpy

#: Purposes of the run's random streams, in spawn order. Append only.
STREAM_NAMES: tuple[str, ...] = (
    "topology",
    "classes",
    "shadowing",
    "traffic",
    "mac",
    "backhaul",
    "scanner",
    "fsk_sync",
    "downlink",
    "accounts",
    "routing",
    "mobility",
    "faults",
    "external",
)


def make_streams(seed: int) -> Mapping[str, np.random.Generator]:
    """Return one independent generator per purpose, all derived from ``seed``."""
    children = np.random.SeedSequence(seed).spawn(len(STREAM_NAMES))
    return MappingProxyType(
        {
            name: np.random.Generator(np.random.PCG64(ss))
            for name, ss in zip(STREAM_NAMES, children, strict=True)
        }
    )


@dataclass
class SimContext:
    """What every engine part is handed first: the clock and the random streams of one run."""

    seed: int
    env: simpy.Environment = field(default_factory=simpy.Environment)
    streams: Mapping[str, np.random.Generator] = field(init=False)

    def __post_init__(self) -> None:
        self.streams = make_streams(self.seed)

    def rng(self, purpose: str) -> np.random.Generator:
        """The generator for ``purpose`` (one of :data:`STREAM_NAMES`)."""
        try:
            return self.streams[purpose]
        except KeyError:
            raise KeyError(
                f"unknown random stream {purpose!r}; known: {', '.join(STREAM_NAMES)}"
            ) from None
