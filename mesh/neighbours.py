"""Neighbour tables: for one link, who can hear whom, and how strongly. Built once per run.

Model: a compressed-sparse-row table over all node ids. Row ``i`` lists the listeners ``j`` (sorted
by id) whose received power from ``i`` at ``i``'s transmit power reaches the link's interference
floor, with the static gain of the pair. Candidate pairs come from a k-d tree
(``scipy.spatial.cKDTree``) pruned at the largest distance where the floor could still be reached
with the most favourable (clipped) shadowing, so the search is exact, not approximate.

Source: the pruning-by-maximum-range design follows the issue's performance requirements; k-d tree
range search (Bentley 1975) as implemented by SciPy.

Leaves out: nodes that move (tables are static for a run).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from mesh.pathgain import PathGain


@dataclass(frozen=True)
class NeighbourTable:
    indptr: np.ndarray  # (n_nodes + 1,) int64
    index: np.ndarray  # (n_pairs,) int64 listener ids, sorted within each row
    gain_db: np.ndarray  # (n_pairs,) float64

    def row(self, node: int) -> tuple[np.ndarray, np.ndarray]:
        a, b = self.indptr[node], self.indptr[node + 1]
        return self.index[a:b], self.gain_db[a:b]

    @property
    def n_pairs(self) -> int:
        return int(self.index.size)


def build_table(
    path_gain: PathGain,
    transmitters: np.ndarray,
    listeners: np.ndarray,
    tx_power_dbm: np.ndarray,
    floor_dbm: float,
    frequency_hz: float,
) -> NeighbourTable:
    """Table of every (transmitter, listener) pair, other than a node with itself, whose received
    power ``tx_power_dbm[transmitter] + gain`` is at least ``floor_dbm``.

    ``tx_power_dbm`` is indexed by node id.
    """
    n_nodes = path_gain.positions_m.shape[0]
    transmitters = np.asarray(transmitters, dtype=np.int64)
    listeners = np.asarray(listeners, dtype=np.int64)
    empty = NeighbourTable(
        indptr=np.zeros(n_nodes + 1, dtype=np.int64),
        index=np.zeros(0, dtype=np.int64),
        gain_db=np.zeros(0, dtype=np.float64),
    )
    if transmitters.size == 0 or listeners.size == 0:
        return empty
    max_tx_dbm = float(np.max(tx_power_dbm[transmitters]))
    radius_m = path_gain.max_range_m(max_tx_dbm - floor_dbm, frequency_hz)
    if not radius_m > 0:
        return empty
    pos = path_gain.positions_m
    tree_tx = cKDTree(pos[transmitters])
    tree_rx = cKDTree(pos[listeners])
    pairs = tree_tx.sparse_distance_matrix(tree_rx, radius_m, output_type="ndarray")
    tx = transmitters[pairs["i"]]
    rx = listeners[pairs["j"]]
    distance_m = pairs["v"].astype(np.float64)
    keep = tx != rx
    tx, rx, distance_m = tx[keep], rx[keep], distance_m[keep]
    gain = path_gain.gain_at_db(tx, rx, distance_m, frequency_hz)
    keep = tx_power_dbm[tx] + gain >= floor_dbm
    tx, rx, gain = tx[keep], rx[keep], gain[keep]
    order = np.lexsort((rx, tx))
    tx, rx, gain = tx[order], rx[order], gain[order]
    indptr = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(tx, minlength=n_nodes), out=indptr[1:])
    return NeighbourTable(indptr=indptr, index=rx, gain_db=np.ascontiguousarray(gain))
