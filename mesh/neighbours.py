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

Leaves out: nodes that move (tables are static for a run).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from mesh.pathgain import PathGain

#: Transmitters handled per k-d tree query; bounds the temporary arrays of the build.
CHUNK = 2048


@dataclass(frozen=True)
class NeighbourTable:
    indptr: np.ndarray  # (n_nodes + 1,) int64
    index: np.ndarray  # (n_pairs,) int32 listener ids, sorted within each row
    rssi_dbm: np.ndarray  # (n_pairs,) float64 received power
    threshold_dbm: np.ndarray  # (n_nodes,) the threshold each row was built with

    def row(self, node: int) -> tuple[np.ndarray, np.ndarray]:
        a, b = self.indptr[node], self.indptr[node + 1]
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
    tree_rx = cKDTree(pos[listeners])
    parts_tx: list[np.ndarray] = []
    parts_rx: list[np.ndarray] = []
    parts_rssi: list[np.ndarray] = []
    for start in range(0, transmitters.size, CHUNK):
        chunk = transmitters[start : start + CHUNK]
        pairs = cKDTree(pos[chunk]).sparse_distance_matrix(tree_rx, radius_m, output_type="ndarray")
        tx = chunk[pairs["i"]]
        rx = listeners[pairs["j"]]
        distance_m = pairs["v"].astype(np.float64)
        keep = tx != rx
        tx, rx, distance_m = tx[keep], rx[keep], distance_m[keep]
        rssi = tx_power_dbm[tx] + path_gain.gain_at_db(tx, rx, distance_m**2, frequency_hz)
        keep = rssi >= threshold_dbm[tx]
        tx, rx, rssi = tx[keep], rx[keep], rssi[keep]
        order = np.lexsort((rx, tx))
        parts_tx.append(tx[order])
        parts_rx.append(rx[order].astype(np.int32))
        parts_rssi.append(rssi[order])
    tx_all = np.concatenate(parts_tx)
    np.cumsum(np.bincount(tx_all, minlength=n_nodes), out=indptr[1:])
    return NeighbourTable(
        indptr=indptr,
        index=np.concatenate(parts_rx),
        rssi_dbm=np.concatenate(parts_rssi),
        threshold_dbm=np.asarray(threshold_dbm, dtype=np.float64),
    )
