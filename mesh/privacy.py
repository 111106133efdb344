"""Rotating transmission IDs and how long a bridge owner can link an endpoint's frames.

Model: an endpoint does not transmit its device ID over the air but a *transmission ID* that
rotates every ``rotation_period_s`` (15 minutes by default in Sidewalk). Time is cut into epochs
``floor(time_s / rotation_period_s)``; in each epoch the endpoint's ID is a keyed hash of
``(key, endpoint, epoch)`` (:func:`transmission_id`). A bridge owner sees only the IDs (and
metadata: time, size) of the frames their bridge receives, so they can tie observations of one
endpoint together only while its ID stays the same: they group their observations by
``(bridge, transmission ID)`` and the *linkable interval* of a group is the time from its first to
its last observation (0 for a single observation). :func:`linkability` reports, per endpoint, the
mean and maximum linkable interval over its groups and the number of groups and observations. The
network server, which resolves IDs, sees metadata only (device ID, size, time, gateway) and is not
modelled here.

Source: Amazon, "Amazon Sidewalk Privacy and Security Whitepaper" (2020, updated 2023): endpoint
transmission IDs rotate (by default every 15 minutes) so that bridge owners cannot track a device
over time; the network server sees metadata only.

ID hash: SplitMix64 finaliser (Steele, Lea, Flood, "Fast splittable pseudorandom number
generators", OOPSLA 2014; constants as in Vigna's splitmix64.c) applied to the counter
``endpoint * 2**32 + epoch`` of a stream seeded by ``key``. The map ``(endpoint, epoch) -> ID`` is
a bijection for a fixed key, so no two endpoints or epochs ever share an ID. It is NOT a
cryptographic construction (Sidewalk derives IDs with keyed cryptography); it only has to be
deterministic and collision-free for the emulation.

Leaves out: linking across ID changes by other means a real adversary might use (RSSI or timing
fingerprints, traffic periodicity, frame sizes, several colluding bridges comparing notes), ID
collisions of a shorter real over-the-air ID, clock skew between endpoints (every endpoint rotates
exactly at multiples of the period, all in phase), and the network server's view.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "DEFAULT_ROTATION_PERIOD_S",
    "LinkabilityResult",
    "linkability",
    "mean_over_observed",
    "transmission_id",
]

DEFAULT_ROTATION_PERIOD_S = 900.0
"""Sidewalk's default transmission-ID rotation period (15 minutes, whitepaper)."""

_U64_MASK = 0xFFFF_FFFF_FFFF_FFFF
_GOLDEN_GAMMA = 0x9E37_79B9_7F4A_7C15
"""SplitMix64 increment (odd approximation of 2^64 / golden ratio)."""
_MIX1 = np.uint64(0xBF58_476D_1CE4_E5B9)
_MIX2 = np.uint64(0x94D0_49BB_1331_11EB)
_S27 = np.uint64(27)
_S30 = np.uint64(30)
_S31 = np.uint64(31)
_S32 = np.uint64(32)
_LIMIT_32 = 2**32
"""Endpoint ids and epochs must be below this so that they pack into one 64-bit counter."""


def _mix64(z: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """SplitMix64 finaliser: a bijective 64-bit avalanche mixer (wrapping uint64 arithmetic)."""
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


def _mix64_int(z: int) -> int:
    """:func:`_mix64` on one Python int (no numpy scalar overflow warnings)."""
    z = ((z ^ (z >> 30)) * 0xBF58_476D_1CE4_E5B9) & _U64_MASK
    z = ((z ^ (z >> 27)) * 0x94D0_49BB_1331_11EB) & _U64_MASK
    return z ^ (z >> 31)


def _check_key(key: int) -> int:
    if isinstance(key, bool) or not isinstance(key, int | np.integer):
        raise ValueError(f"key must be an integer, got {key!r}")
    return int(key) & _U64_MASK


def _rotation_on(rotation_period_s: float) -> bool:
    """Validate the period; False when rotation is off (0 or inf)."""
    if isinstance(rotation_period_s, bool) or not isinstance(
        rotation_period_s, int | float | np.integer | np.floating
    ):
        raise ValueError(
            f"rotation_period_s must be a number of seconds, got {rotation_period_s!r}"
        )
    period = float(rotation_period_s)
    if math.isnan(period) or period < 0:
        raise ValueError(
            "rotation_period_s must be >= 0 (0 or inf turns rotation off), "
            f"got {rotation_period_s!r}"
        )
    return 0.0 < period < math.inf


def _as_ids(x: npt.ArrayLike, name: str) -> npt.NDArray[np.int64]:
    arr = np.asarray(x)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must be an array of non-negative integers, got dtype {arr.dtype}")
    if arr.size:
        if arr.dtype.kind == "i" and int(arr.min()) < 0:
            raise ValueError(f"{name} must be non-negative integer ids")
        if int(arr.max()) >= _LIMIT_32:
            raise ValueError(f"{name} must be ids below 2**32")
    return arr.astype(np.int64)


def _as_times(x: npt.ArrayLike) -> npt.NDArray[np.float64]:
    arr = np.asarray(x)
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"time_s must be an array of real numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if arr.size and not (np.all(np.isfinite(arr)) and float(arr.min()) >= 0.0):
        raise ValueError("time_s must be finite and >= 0")
    return arr


def _epochs(time_s: npt.NDArray[np.float64], rotation_period_s: float) -> npt.NDArray[np.int64]:
    """``floor(time_s / rotation_period_s)`` (all 0 with rotation off), checked below 2**32."""
    if not _rotation_on(rotation_period_s):
        return np.zeros(time_s.shape, dtype=np.int64)
    q = np.floor(time_s / float(rotation_period_s))
    if q.size and float(q.max()) >= _LIMIT_32:
        raise ValueError(
            "time_s / rotation_period_s must stay below 2**32 epochs, got up to "
            f"{float(q.max()):.6g} (period {rotation_period_s!r} s)"
        )
    return q.astype(np.int64)


def transmission_id(
    endpoint: npt.ArrayLike,
    time_s: npt.ArrayLike,
    rotation_period_s: float,
    key: int,
) -> npt.NDArray[np.uint64]:
    """The 64-bit transmission ID endpoint ``endpoint`` uses at time ``time_s``.

    With ``epoch = floor(time_s / rotation_period_s)`` and the counter
    ``k = endpoint * 2**32 + epoch``, the ID is ``mix64(mix64(key + g) + k * g)`` (SplitMix64,
    ``g`` its odd increment, arithmetic modulo 2**64). For a fixed key this is a bijection of
    ``(endpoint, epoch)``: distinct endpoints or epochs never share an ID. The ID changes exactly
    when ``time_s / rotation_period_s`` crosses an integer (in floating point).
    ``rotation_period_s`` 0 or ``inf`` turns rotation off: the ID depends on ``(key, endpoint)``
    only (it equals the epoch-0 ID). Deterministic across runs and machines.

    Args:
        endpoint: integer endpoint ids in ``0 .. 2**32 - 1`` (broadcast against ``time_s``).
        time_s: times, s (finite, >= 0); ``time_s / rotation_period_s`` must stay below 2**32.
        rotation_period_s: rotation period, s (>= 0; 0 or inf for no rotation).
        key: 64-bit network key (any Python int; reduced modulo 2**64).

    Returns:
        uint64 array of the broadcast shape of ``endpoint`` and ``time_s``.
    """
    _rotation_on(rotation_period_s)
    seed = _mix64_int((_check_key(key) + _GOLDEN_GAMMA) & _U64_MASK)
    e, t = np.broadcast_arrays(_as_ids(endpoint, "endpoint"), _as_times(time_s))
    shape = e.shape
    epoch = _epochs(np.atleast_1d(t).ravel(), rotation_period_s)
    counter = (np.atleast_1d(e).ravel().astype(np.uint64) << _S32) | epoch.astype(np.uint64)
    ids = _mix64(np.uint64(seed) + counter * np.uint64(_GOLDEN_GAMMA))
    return ids.reshape(shape)


@dataclass(frozen=True, eq=False)
class LinkabilityResult:
    """Per-endpoint linkability: read-only arrays of length ``n_endpoints``, indexed by endpoint id.

    A *group* is the set of observations one bridge made of one transmission ID; its linkable
    interval is its last minus its first observation time (0 for one observation).

    Attributes:
        mean_linkable_s: mean linkable interval over the endpoint's groups, s (NaN if never
            observed).
        max_linkable_s: longest linkable interval of the endpoint's groups, s (NaN if never
            observed).
        groups: number of ``(bridge, transmission ID)`` groups of the endpoint.
        observations: number of observations of the endpoint (frames received, over all bridges).
    """

    mean_linkable_s: npt.NDArray[np.float64]
    max_linkable_s: npt.NDArray[np.float64]
    groups: npt.NDArray[np.int64]
    observations: npt.NDArray[np.int64]


def linkability(
    endpoint: npt.ArrayLike,
    bridge: npt.ArrayLike,
    time_s: npt.ArrayLike,
    rotation_period_s: float,
    n_endpoints: int,
    key: int,
) -> LinkabilityResult:
    """How long bridge owners can link each endpoint's frames under rotating transmission IDs.

    Observation ``i`` is "bridge ``bridge[i]`` received a frame from endpoint ``endpoint[i]`` at
    ``time_s[i]``"; the three flat arrays have equal length (may be 0) and any order. Each bridge
    owner groups their observations by transmission ID (:func:`transmission_id` with
    ``rotation_period_s`` and ``key``). Since the ID is a bijection of ``(endpoint, epoch)`` for a
    fixed key, grouping by ``(bridge, ID)`` is grouping by ``(bridge, endpoint, epoch)``; this
    function sorts on that dense integer key (one argsort rather than a two-key lexsort on 64-bit
    IDs), so the result does not depend on ``key``, which is validated and names the ID scheme.
    Vectorised: about one argsort of the observations. The result is bit-for-bit independent of
    the order of the observations.

    Args:
        endpoint: endpoint id of each observation, integers in ``0 .. n_endpoints - 1``.
        bridge: bridge (node) id of each observation, non-negative integers below 2**32.
        time_s: time of each observation, s (finite, >= 0).
        rotation_period_s: ID rotation period, s (>= 0; 0 or inf for no rotation).
        n_endpoints: length of the per-endpoint arrays (> max endpoint id).
        key: 64-bit network key (any Python int).
    """
    _check_key(key)
    if isinstance(n_endpoints, bool) or not isinstance(n_endpoints, int | np.integer):
        raise ValueError(f"n_endpoints must be an integer, got {n_endpoints!r}")
    n = int(n_endpoints)
    if n < 0:
        raise ValueError(f"n_endpoints must be >= 0, got {n}")
    e = np.ravel(_as_ids(endpoint, "endpoint"))
    b = np.ravel(_as_ids(bridge, "bridge"))
    t = np.ravel(_as_times(time_s))
    if not (e.shape == b.shape == t.shape):
        raise ValueError(
            "endpoint, bridge and time_s must have the same length, got "
            f"{e.size}, {b.size}, {t.size}"
        )
    if e.size and int(e.max()) >= n:
        raise ValueError(f"endpoint ids must be below n_endpoints={n}, got {int(e.max())}")
    epoch = _epochs(t, rotation_period_s)

    groups = np.zeros(n, dtype=np.int64)
    mean = np.full(n, np.nan)
    longest = np.full(n, np.nan)
    if e.size:
        starts, order = _group_starts(b, e, epoch, n)
        ts = t[order]
        span = np.maximum.reduceat(ts, starts) - np.minimum.reduceat(ts, starts)
        group_endpoint = e[order[starts]]
        groups = np.bincount(group_endpoint, minlength=n).astype(np.int64)
        total = np.bincount(group_endpoint, weights=span, minlength=n)
        seen = groups > 0
        np.divide(total, groups, out=mean, where=seen)
        longest[seen] = -np.inf
        np.maximum.at(longest, group_endpoint, span)
    observations = np.bincount(e, minlength=n).astype(np.int64)
    for arr in (mean, longest, groups, observations):
        arr.flags.writeable = False
    return LinkabilityResult(
        mean_linkable_s=mean, max_linkable_s=longest, groups=groups, observations=observations
    )


def _group_starts(
    b: npt.NDArray[np.int64],
    e: npt.NDArray[np.int64],
    epoch: npt.NDArray[np.int64],
    n_endpoints: int,
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Sort order of the observations by ``(bridge, endpoint, epoch)`` and the first index (in
    that order) of each distinct triple."""
    epoch0 = int(epoch.min())
    n_epochs = int(epoch.max()) - epoch0 + 1
    n_bridges = int(b.max()) + 1
    if n_bridges * n_endpoints * n_epochs <= np.iinfo(np.int64).max:
        packed = (b * n_endpoints + e) * n_epochs + (epoch - epoch0)
        order = np.argsort(packed)
        ks = packed[order]
        change = ks[1:] != ks[:-1]
    else:  # key space too large to pack into int64: sort on the three columns
        order = np.lexsort((epoch, e, b))
        change = (
            (b[order][1:] != b[order][:-1])
            | (e[order][1:] != e[order][:-1])
            | (epoch[order][1:] != epoch[order][:-1])
        )
    starts = np.concatenate(([0], np.flatnonzero(change) + 1)).astype(np.intp)
    return starts, order.astype(np.intp, copy=False)


def mean_over_observed(result: LinkabilityResult) -> float:
    """Mean of ``mean_linkable_s`` over the endpoints observed at least once, s (each endpoint
    weighs the same, however many groups it has); NaN if no endpoint was observed."""
    seen = result.groups > 0
    if not np.any(seen):
        return math.nan
    return float(np.mean(result.mean_linkable_s[seen]))


class LinkabilityAccumulator:
    """:func:`linkability` computed while the run goes, in memory bounded by the open groups.

    Observations must come in nondecreasing time per endpoint (as a simulation makes them).
    A group can only grow while its endpoint keeps its transmission ID, so when an endpoint's
    epoch changes its groups are closed: their spans are added to the endpoint's sum, count and
    maximum and forgotten. An endpoint's buffer of raw observations is folded into one entry per
    bridge (first, last) every :data:`FOLD_ENTRIES` frames, which bounds it with rotation off.
    The result equals :func:`linkability` of the same observations (tested; means up to the
    last bits of the summation order)."""

    FOLD_ENTRIES = 64

    def __init__(self, n_endpoints: int, rotation_period_s: float) -> None:
        self._period = float(rotation_period_s) if _rotation_on(rotation_period_s) else 0.0
        self._epoch = [-1] * n_endpoints
        self._buffer: dict[int, list[tuple[np.ndarray, Any, Any]]] = {}
        self._observations = [0] * n_endpoints
        self._span_sum = np.zeros(n_endpoints)
        self._span_max = np.full(n_endpoints, np.nan)
        self._groups = np.zeros(n_endpoints, dtype=np.int64)

    def observe(self, endpoint: int, bridges: np.ndarray, time_s: float) -> None:
        """``bridges`` (distinct) each received a frame of ``endpoint`` at ``time_s``."""
        self._observations[endpoint] += int(bridges.size)
        epoch = math.floor(time_s / self._period) if self._period else 0
        if epoch != self._epoch[endpoint]:
            self._close(endpoint)
            self._epoch[endpoint] = epoch
        buffer = self._buffer.get(endpoint)
        if buffer is None:
            buffer = self._buffer[endpoint] = []
        buffer.append((bridges, time_s, time_s))
        if len(buffer) >= self.FOLD_ENTRIES:
            self._buffer[endpoint] = [_fold(buffer)]

    def _close(self, endpoint: int) -> None:
        buffer = self._buffer.pop(endpoint, None)
        if not buffer:
            return
        if len(buffer) == 1 and buffer[0][1] is buffer[0][2]:  # one frame: every span is 0
            self._groups[endpoint] += buffer[0][0].size
            if not self._span_max[endpoint] >= 0.0:
                self._span_max[endpoint] = 0.0
            return
        _, first, last = _fold(buffer)
        spans = last - first
        self._span_sum[endpoint] += float(spans.sum())
        self._groups[endpoint] += spans.size
        longest = float(spans.max())
        if not longest <= self._span_max[endpoint]:  # (NaN: none yet)
            self._span_max[endpoint] = longest

    def result(self) -> LinkabilityResult:
        """Close every open group and return the per-endpoint figures."""
        for endpoint in list(self._buffer):
            self._close(endpoint)
        groups = self._groups.copy()
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(groups > 0, self._span_sum / np.maximum(groups, 1), np.nan)
        arrays = (mean, self._span_max.copy(), groups, np.array(self._observations, np.int64))
        for array in arrays:
            array.setflags(write=False)
        return LinkabilityResult(*arrays)


def _fold(
    buffer: list[tuple[np.ndarray, Any, Any]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One entry per bridge: the earliest first and the latest last observation time."""
    lengths = [entry[0].size for entry in buffer]
    bridges = np.concatenate([entry[0] for entry in buffer])
    if all(isinstance(entry[1], float) for entry in buffer):  # raw frames: one time each
        first = np.repeat(np.array([entry[1] for entry in buffer]), lengths)
        last = first
    else:
        first = np.concatenate([np.broadcast_to(e[1], e[0].shape) for e in buffer])
        last = np.concatenate([np.broadcast_to(e[2], e[0].shape) for e in buffer])
    order = np.lexsort((first, bridges))
    bridges, first, last = bridges[order], first[order], last[order]
    starts = np.flatnonzero(np.concatenate(([True], bridges[1:] != bridges[:-1])))
    return bridges[starts], first[starts], np.maximum.reduceat(last, starts)
