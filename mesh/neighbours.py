"""Neighbour tables: for one link, who could decode whom, and how strongly. Built once per run.

Model: a compressed-sparse-row table over all node ids. Row ``i`` lists the listeners ``j`` (sorted
by id) whose received power from ``i`` (static: ``i``'s transmit power plus the pair's gain from
``mesh.pathgain``) reaches ``threshold_dbm[i]``, the lowest sensitivity any frame of ``i`` is
received with, with that received power. Only these pairs can ever *decode*; interference from
weaker transmitters is computed exactly when frames overlap (``mesh.medium``), so nothing is lost
by leaving them out.

Candidate pairs come from k-d tree range searches (``scipy.spatial.cKDTree``), transmitters taken
in chunks to bound memory, pruned at the largest distance at which the best budget of the link
could still close with the most favourable (clipped) shadowing and no wall: the search is exact,
not approximate.

Source: k-d tree range search (Bentley 1975) as implemented by SciPy; pruning by maximum link
range as required by the scale issue.

Leaves out: nodes that move (tables are static for a run; a moving endpoint's row is computed at
each frame, ``mesh.movers``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from mesh.pathgain import PathGain

#: Transmitters handled per k-d tree query; bounds the temporary arrays of the build.
CHUNK = 2048
#: Pairs per dense distance block (when the pruning radius covers most of the area).
DENSE_PAIRS = 4_000_000


def _mostly_in_range(points_m: np.ndarray, radius_m: float) -> bool:
    """Whether a disk of ``radius_m`` covers at least half of the points' bounding box, so that
    most pairs are candidates anyway."""
    span = points_m.max(axis=0) - points_m.min(axis=0)
    area_m2 = max(float(span[0]) * float(span[1]), 1.0)
    return bool(np.pi * radius_m * radius_m >= 0.5 * area_m2)


@dataclass(frozen=True)
class NeighbourTable:
    indptr: np.ndarray  # (n_nodes + 1,) int64
    index: np.ndarray  # (n_pairs,) int32 listener ids, sorted within each row
    rssi_dbm: np.ndarray  # (n_pairs,) float64 received power
    threshold_dbm: np.ndarray  # (n_nodes,) the threshold each row was built with
    # Python copies for per-frame scalar access (much cheaper than numpy scalar indexing)
    thresholds: list[float] = field(init=False, repr=False, compare=False)
    _bounds: list[int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_bounds", self.indptr.tolist())
        object.__setattr__(self, "thresholds", self.threshold_dbm.tolist())

    def row(self, node: int) -> tuple[np.ndarray, np.ndarray]:
        a, b = self._bounds[node], self._bounds[node + 1]
        return self.index[a:b], self.rssi_dbm[a:b]

    @property
    def n_pairs(self) -> int:
        return int(self.index.size)


def build_table(
    path_gain: PathGain,
    transmitters: np.ndarray,
    listeners: np.ndarray,
    tx_power_dbm: np.ndarray,
    threshold_dbm: np.ndarray,
    frequency_hz: float,
) -> NeighbourTable:
    """Table of every (transmitter, listener) pair, other than a node with itself, whose received
    power ``tx_power_dbm[tx] + gain`` reaches ``threshold_dbm[tx]``. Both arrays are indexed by
    node id."""
    n_nodes = path_gain.positions_m.shape[0]
    transmitters = np.sort(np.asarray(transmitters, dtype=np.int64))
    listeners = np.asarray(listeners, dtype=np.int64)
    indptr = np.zeros(n_nodes + 1, dtype=np.int64)
    empty = NeighbourTable(
        indptr, np.zeros(0, dtype=np.int32), np.zeros(0), np.asarray(threshold_dbm, dtype=float)
    )
    if transmitters.size == 0 or listeners.size == 0:
        return empty
    budget_db = float(np.max(tx_power_dbm[transmitters] - threshold_dbm[transmitters]))
    radius_m = path_gain.max_range_m(budget_db, frequency_hz)
    if not radius_m > 0:
        return empty
    pos = path_gain.positions_m
    listeners = np.sort(listeners)
    dense = _mostly_in_range(pos[listeners], radius_m)
    tree_rx = None if dense else cKDTree(pos[listeners])
    chunk_size = max(1, DENSE_PAIRS // listeners.size) if dense else CHUNK
    parts_tx: list[np.ndarray] = []
    parts_rx: list[np.ndarray] = []
    parts_rssi: list[np.ndarray] = []
    for start in range(0, transmitters.size, chunk_size):
        chunk = transmitters[start : start + chunk_size]
        if tree_rx is None:
            # most pairs are candidates: a dense distance block is cheaper than a tree search,
            # and np.nonzero returns the pairs already ordered by (transmitter, listener)
            dx = pos[chunk, 0][:, None] - pos[listeners, 0][None, :]
            dy = pos[chunk, 1][:, None] - pos[listeners, 1][None, :]
            d2 = dx * dx + dy * dy
            i, j = np.nonzero(d2 <= radius_m * radius_m)
            squared_m2 = d2[i, j]
            ordered = True
        else:
            pairs = cKDTree(pos[chunk]).sparse_distance_matrix(
                tree_rx, radius_m, output_type="ndarray"
            )
            i, j = pairs["i"], pairs["j"]
            squared_m2 = pairs["v"].astype(np.float64) ** 2
            ordered = False
        tx = chunk[i]
        rx = listeners[j]
        keep = tx != rx
        tx, rx, squared_m2 = tx[keep], rx[keep], squared_m2[keep]
        rssi = tx_power_dbm[tx] + path_gain.gain_at_db(tx, rx, squared_m2, frequency_hz)
        keep = rssi >= threshold_dbm[tx]
        tx, rx, rssi = tx[keep], rx[keep], rssi[keep]
        if not ordered:
            order = np.argsort(tx * n_nodes + rx)
            tx, rx, rssi = tx[order], rx[order], rssi[order]
        parts_tx.append(tx)
        parts_rx.append(rx.astype(np.int32))
        parts_rssi.append(rssi)
    tx_all = np.concatenate(parts_tx)
    np.cumsum(np.bincount(tx_all, minlength=n_nodes), out=indptr[1:])
    return NeighbourTable(
        indptr=indptr,
        index=np.concatenate(parts_rx),
        rssi_dbm=np.concatenate(parts_rssi),
        threshold_dbm=np.asarray(threshold_dbm, dtype=np.float64),
    )
