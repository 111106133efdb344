"""Mobile endpoints in the engine: where they are when they transmit, who hears them, and how
long they go without coverage.

Model: each endpoint of a class with ``mobility.mobile = true`` follows a trajectory drawn from
the run's ``mobility`` stream (``mesh.mobility``: random waypoint on the suburb's streets, or in
the area for topologies without streets). When it transmits, its neighbour row is computed at its
position at the frame's start (k-d tree range search over the link's listeners, built once; the
same median path loss and walls as every other link; the row is reused while the node stays
within :data:`ROW_REUSE_M`). Its shadowing towards a listener is that of
the square cell of side ``shadowing_decorrelation_m`` it is in: each cell has an id of its own
(ids from 2**31 up, above every node id) in the pair shadowing hash, so shadowing stays reciprocal
and seeded, is the same for every node at one place, and changes as the node moves
(Gudmundson, "Correlation model for shadow fading in mobile radio systems", Electronics Letters
27(23), 1991: shadowing decorrelates over tens of metres). Its power at other receivers
(interference) and at listen-before-talk listeners is computed the same way.

Coverage gaps: after the run each mobile endpoint's track is sampled every ``gap_sample_s``; a
sample is covered when some bridge's received power from that point on the class's link reaches
the class's sensitivity. The lengths of the uncovered runs (``mesh.mobility.coverage_gaps_s``) are
the gaps.

Leaves out: moving listeners (a mobile class only transmits: no ACKs, downlinks, LBT or relaying),
motion during a frame, Doppler, FSK (its beacon sync is computed once per run; mobile classes use
BLE or LoRa), outages in the coverage-gap metric (it measures the radio reach of bridges only).
"""

from __future__ import annotations

import bisect
import math

import numpy as np
from scipy.spatial import cKDTree

from mesh.mobility import Trajectory, coverage_gaps_s
from mesh.pathgain import PathGain

#: A moving node's row is reused while it is within this distance (Manhattan) of where the row
#: was computed: the PDUs of one BLE advertising event (a millisecond apart) and frames sent
#: during a pause share it; the received power changes by less than 0.01 dB over it.
ROW_REUSE_M = 0.05
#: First id of the shadowing cells (above every node id).
CELL_ID_BASE = 1 << 31
_CELL_BITS = 15
_CELL_OFFSET = 1 << (_CELL_BITS - 1)
_CELL_MASK = (1 << _CELL_BITS) - 1


def cell_ids(points_m: np.ndarray, cell_m: float) -> np.ndarray:
    """The shadowing id of the cell each point (k, 2) is in."""
    ix = (np.floor(points_m[:, 0] / cell_m).astype(np.int64) + _CELL_OFFSET) & _CELL_MASK
    iy = (np.floor(points_m[:, 1] / cell_m).astype(np.int64) + _CELL_OFFSET) & _CELL_MASK
    return CELL_ID_BASE + (ix << _CELL_BITS) + iy


class Movers:
    """Positions and radio rows of a run's mobile endpoints."""

    def __init__(
        self,
        n_nodes: int,
        trajectories: dict[int, Trajectory],
        cell_m: np.ndarray,
        path_gain: PathGain,
    ) -> None:
        """``cell_m``: per node, the shadowing decorrelation distance of its class."""
        self.trajectories = trajectories
        self.mobile = np.zeros(n_nodes, dtype=bool)
        self.mobile[list(trajectories)] = True
        self._mobile: list[bool] = self.mobile.tolist()
        self._cell_m = cell_m
        self._path_gain = path_gain
        self._trees: dict[str, tuple[cKDTree, np.ndarray, float]] = {}
        # scalar copies of the tracks for per-frame lookups (numpy is slow one point at a time)
        self._tracks: dict[int, tuple[list[float], list[float], list[float]]] = {
            node: (tr.times_s.tolist(), tr.points_m[:, 0].tolist(), tr.points_m[:, 1].tolist())
            for node, tr in trajectories.items()
        }
        self._rows: dict[tuple[int, str], tuple[float, float, np.ndarray, np.ndarray]] = {}

    def is_mobile(self, node: int) -> bool:
        return self._mobile[node]

    def position(self, node: int, t: float) -> tuple[float, float]:
        """Where ``node`` is at ``t`` (the same as ``Trajectory.position_at``)."""
        times, xs, ys = self._tracks[node]
        k = bisect.bisect_right(times, t)
        if k == 0:
            return xs[0], ys[0]
        if k == len(times):
            return xs[-1], ys[-1]
        t0, t1 = times[k - 1], times[k]
        if t1 <= t0:
            return xs[k], ys[k]
        u = (t - t0) / (t1 - t0)
        return xs[k - 1] + u * (xs[k] - xs[k - 1]), ys[k - 1] + u * (ys[k] - ys[k - 1])

    def _where(self, node: int, t: float) -> tuple[np.ndarray, int]:
        x, y = self.position(node, float(t))
        point = np.array([[x, y]])
        return point, int(cell_ids(point, float(self._cell_m[node]))[0])

    def add_link(
        self,
        link: str,
        listeners: np.ndarray,
        tx_power_dbm: np.ndarray,
        threshold_dbm: np.ndarray,
        frequency_hz: float,
    ) -> None:
        """Prepare the range search of ``link`` (its listeners and the largest range any mobile
        node's budget can close)."""
        movers = np.flatnonzero(self.mobile)
        budget = tx_power_dbm[movers] - threshold_dbm[movers]
        budget = budget[np.isfinite(budget)]
        if listeners.size == 0 or budget.size == 0:
            return
        radius_m = self._path_gain.max_range_m(float(budget.max()), frequency_hz)
        positions = self._path_gain.positions_m[listeners]
        self._trees[link] = (cKDTree(positions), np.sort(listeners), radius_m)

    def row(
        self,
        node: int,
        link: str,
        t: float,
        tx_power_dbm: float,
        threshold_dbm: float,
        frequency_hz: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Listeners (sorted) that receive ``node`` at ``t`` at or above ``threshold_dbm``, and
        their received powers."""
        entry = self._trees.get(link)
        if entry is None:
            return np.zeros(0, dtype=np.int32), np.zeros(0)
        x, y = self.position(node, float(t))
        cached = self._rows.get((node, link))
        if cached is not None and abs(cached[0] - x) + abs(cached[1] - y) <= ROW_REUSE_M:
            return cached[2], cached[3]
        tree, listeners, radius_m = entry
        point, cell = self._where(node, t)
        found = np.sort(np.asarray(tree.query_ball_point(point[0], radius_m), dtype=np.int64))
        rx = listeners[found] if found.size else np.zeros(0, dtype=np.int64)
        rx = np.sort(rx)
        power = tx_power_dbm + self._path_gain.gain_from_db(
            np.repeat(point, rx.size, axis=0), np.full(rx.size, cell), rx, frequency_hz
        )
        keep = power >= threshold_dbm
        row = rx[keep].astype(np.int32), power[keep]
        self._rows[(node, link)] = (x, y, *row)
        return row

    def power_dbm(
        self, node: int, receivers: np.ndarray, t: float, tx_power_dbm: float, frequency_hz: float
    ) -> np.ndarray:
        """Received power of mobile ``node`` (at its position at ``t``) at ``receivers``."""
        point, cell = self._where(node, t)
        receivers = np.asarray(receivers, dtype=np.int64)
        return tx_power_dbm + self._path_gain.gain_from_db(
            np.repeat(point, receivers.size, axis=0),
            np.full(receivers.size, cell),
            receivers,
            frequency_hz,
        )

    def coverage_gaps(
        self,
        node: int,
        bridges: np.ndarray,
        duration_s: float,
        sample_s: float,
        tx_power_dbm: float,
        sensitivity_dbm: float,
        frequency_hz: float,
    ) -> tuple[np.ndarray, float]:
        """Gap lengths along ``node``'s track over ``[0, duration_s]`` and the share of samples
        without coverage."""
        times = np.arange(0.0, duration_s + 1e-9, sample_s)
        if times.size == 0 or bridges.size == 0:
            return np.array([duration_s]) if bridges.size == 0 else np.zeros(0), 1.0
        points = self.trajectories[node].position_at(times)
        cells = cell_ids(points, float(self._cell_m[node]))
        k = bridges.size
        best = np.full(times.size, -math.inf)
        chunk = max(1, 2_000_000 // k)
        for a in range(0, times.size, chunk):
            p = points[a : a + chunk]
            m = p.shape[0]
            gain = self._path_gain.gain_from_db(
                np.repeat(p, k, axis=0),
                np.repeat(cells[a : a + chunk], k),
                np.tile(bridges, m),
                frequency_hz,
            ).reshape(m, k)
            best[a : a + m] = gain.max(axis=1)
        covered = tx_power_dbm + best >= sensitivity_dbm
        return coverage_gaps_s(times, covered), float(1.0 - covered.mean())
