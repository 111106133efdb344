"""Sidewalk FSK time sync: beacons, the slot grid of receive windows, sync loss and resync.

Model: Sidewalk's FSK link is synchronous. Bridges send a beacon every ``fsk_beacon_interval_s``
(10 s) on a network-wide time grid divided into ``fsk_slot_s`` (63 ms) slots; an endpoint keeps
time from the beacons and opens a short receive window every ``rx_window_interval_s`` (3,150 ms =
50 slots, 3 per beacon period by default) in its own slot of the grid, where bridges send it
downlinks. Each endpoint here:

- hears beacons when at least one FSK bridge reaches it (bridge FSK power + static link gain at or
  above the endpoint's sensitivity, the same channel as every other frame); an endpoint that no
  bridge reaches never gets sync: it scans for one beacon period every ``resync_interval_s``,
  sends no FSK frame and opens no receive window;
- misses each beacon with probability ``beacon_miss_probability`` (a Bernoulli stand-in for fading
  and interference on the beacon, drawn from the run's ``fsk_sync`` stream);
- after ``sync_loss_beacons`` consecutive misses loses sync: from the end of the last missed
  beacon's listen until the end of the next beacon it hears, its receiver stays on (resync), no
  receive window opens and FSK uplinks wait (then go out at a uniformly drawn time within one
  window period, ASSUMPTION, so that endpoints resyncing on the same beacon do not transmit at
  once). That is the energy and the latency sync loss costs.

Everything here is static for a run (sync does not depend on traffic), so it is drawn up front for
all FSK endpoints at once with numpy: the loss intervals per endpoint, and after the run the
receiver on-time and MCU wake-ups of beacon listens, empty windows, resyncs and scans.

Source: Amazon Sidewalk specification, "FSK link": synchronous, 10 s beacon period, 63 ms slots,
default receive window every 3,150 ms (3 per 10 s); beacon misses, sync-loss count, guard times,
window length and scan period are ASSUMPTIONS (not published).

Leaves out: beacons as frames on the medium (they neither interfere with nor suffer from
uplinks beyond the miss probability), clock drift between beacons, channel hopping of windows.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Geometric gaps drawn per block of endpoints (bounds the memory of the miss sampler).
BLOCK_CELLS = 4_000_000


@dataclass(frozen=True)
class FskSync:
    """Beacon sync of every node (only FSK endpoints have windows; other rows are unused).

    ``loss_start_s``/``loss_end_s`` (CSR by ``loss_indptr``) are the intervals during which a node
    is out of sync and listening continuously; they are sorted and disjoint per node."""

    beacon_interval_s: float
    beacon_listen_s: np.ndarray  # (n,) one beacon listen: airtime + a guard on each side
    fsk_endpoint: np.ndarray  # (n,) bool: node is an FSK endpoint
    in_range: np.ndarray  # (n,) bool: some bridge's beacon reaches it
    window_offset_s: np.ndarray  # (n,) first window (its slot in the grid)
    window_interval_s: np.ndarray  # (n,)
    window_s: np.ndarray  # (n,) receiver on-time of an empty window
    scan_interval_s: np.ndarray  # (n,) scan period of nodes out of range
    scan_offset_s: np.ndarray  # (n,) first scan of nodes out of range
    loss_indptr: np.ndarray
    loss_start_s: np.ndarray
    loss_end_s: np.ndarray
    _starts: list[list[float]] = field(init=False, repr=False, compare=False)
    _ends: list[list[float]] = field(init=False, repr=False, compare=False)
    _in_range: list[bool] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        bounds = self.loss_indptr.tolist()
        starts = self.loss_start_s.tolist()
        ends = self.loss_end_s.tolist()
        n = len(bounds) - 1
        object.__setattr__(self, "_starts", [starts[bounds[i] : bounds[i + 1]] for i in range(n)])
        object.__setattr__(self, "_ends", [ends[bounds[i] : bounds[i + 1]] for i in range(n)])
        object.__setattr__(self, "_in_range", self.in_range.tolist())

    def synced_from_s(self, node: int, t: float) -> float:
        """Earliest time >= ``t`` at which ``node`` is in sync (inf: never)."""
        if not self._in_range[node]:
            return math.inf
        starts = self._starts[node]
        if not starts or t < starts[0]:
            return t
        ends = self._ends[node]
        k = bisect.bisect_right(starts, t) - 1
        if k >= 0 and t < ends[k]:
            return ends[k]
        return t

    def next_window_s(self, node: int, t: float) -> float:
        """Start of the first receive window of ``node`` at or after ``t`` (inf: none ever)."""
        offset = float(self.window_offset_s[node])
        interval = float(self.window_interval_s[node])
        while True:
            t = self.synced_from_s(node, t)
            if math.isinf(t):
                return t
            window = offset + max(0.0, math.ceil((t - offset) / interval - 1e-9)) * interval
            if self.synced_from_s(node, window) == window:
                return window
            t = window + 1e-6  # past this window (the grid tolerance is 1e-9 periods)

    def listening(
        self, horizon_s: float, used_windows: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Receiver on-time (s) and MCU wake-ups per node over ``[0, horizon_s)`` spent on beacon
        listens, empty receive windows (``used_windows`` per node held a downlink frame and are
        charged by the MAC instead), sync loss and scans."""
        n = self.fsk_endpoint.size
        rx_s = np.zeros(n)
        wakes = np.zeros(n, dtype=np.int64)
        synced = self.fsk_endpoint & self.in_range
        beacon = self.beacon_interval_s
        n_beacons = _count_grid(0.0, beacon, horizon_s)
        offset = self.window_offset_s[synced]
        interval = self.window_interval_s[synced]
        n_windows = _count_grid(offset, interval, horizon_s)
        # loss intervals, clipped at the horizon, and what they replace
        owner = np.repeat(np.arange(n), np.diff(self.loss_indptr))
        start = np.minimum(self.loss_start_s, horizon_s)
        end = np.minimum(self.loss_end_s, horizon_s)
        lost_s = np.zeros(n)
        np.add.at(lost_s, owner, end - start)
        lost_beacons = np.zeros(n, dtype=np.int64)
        np.add.at(
            lost_beacons,
            owner,
            _count_grid(0.0, beacon, end) - _count_grid(0.0, beacon, start + 1e-9),
        )
        lost_windows = np.zeros(n, dtype=np.int64)
        o, w = self.window_offset_s[owner], self.window_interval_s[owner]
        np.add.at(lost_windows, owner, _count_grid(o, w, end) - _count_grid(o, w, start))
        beacons = n_beacons - lost_beacons[synced]
        windows = np.maximum(n_windows - lost_windows[synced] - used_windows[synced], 0)
        rx_s[synced] = (
            beacons * self.beacon_listen_s[synced]
            + windows * self.window_s[synced]
            + lost_s[synced]
        )
        wakes[synced] = beacons + windows
        out = self.fsk_endpoint & ~self.in_range
        scans = _count_grid(self.scan_offset_s[out], self.scan_interval_s[out], horizon_s)
        rx_s[out] = scans * (beacon + self.beacon_listen_s[out])
        wakes[out] = scans
        return rx_s, wakes


def _count_grid(offset_s: Any, step_s: Any, end_s: Any) -> np.ndarray:
    """Number of grid points ``offset + k * step`` (k >= 0) strictly before ``end_s``."""
    count = np.ceil((np.asarray(end_s) - offset_s) / step_s)
    return np.maximum(count, 0).astype(np.int64)


def draw_sync(
    *,
    fsk_endpoint: np.ndarray,
    in_range: np.ndarray,
    window_interval_s: np.ndarray,
    window_s: np.ndarray,
    miss_probability: np.ndarray,
    sync_loss_beacons: np.ndarray,
    scan_interval_s: np.ndarray,
    beacon_interval_s: float,
    beacon_listen_s: np.ndarray,
    slot_s: float,
    horizon_s: float,
    rng: np.random.Generator,
) -> FskSync:
    """Draw every FSK endpoint's window slot, scan phase and sync-loss intervals up to
    ``horizon_s`` (per-node arrays; entries of other nodes are ignored)."""
    n = fsk_endpoint.size
    nodes = np.flatnonzero(fsk_endpoint)
    slots = np.rint(window_interval_s / slot_s).astype(np.int64)
    window_offset_s = np.zeros(n)
    window_offset_s[nodes] = rng.integers(0, np.maximum(slots[nodes], 1)) * slot_s
    scan_offset_s = np.zeros(n)
    scan_offset_s[nodes] = rng.random(nodes.size) * scan_interval_s[nodes]
    n_beacons = max(1, math.ceil(horizon_s / beacon_interval_s))
    starts: list[np.ndarray] = []
    ends: list[np.ndarray] = []
    owners: list[np.ndarray] = []
    lossy = nodes[in_range[nodes] & (miss_probability[nodes] > 0)]
    for p in np.unique(miss_probability[lossy]).tolist():
        group = lossy[miss_probability[lossy] == p]
        owner, start, length = _miss_runs(group.size, n_beacons, p, rng)
        need = sync_loss_beacons[group][owner]
        keep = length >= need
        owner, start, length, need = owner[keep], start[keep], length[keep], need[keep]
        # sync is lost when the need-th missed beacon's listen ends; it is back when the first
        # beacon heard after the run has been received (a run at the end of the horizon: never)
        lost_index = start + need - 1
        back_index = start + length
        listen_s = beacon_listen_s[group][owner]
        starts.append(lost_index * beacon_interval_s + listen_s)
        ends.append(
            np.where(back_index < n_beacons, back_index * beacon_interval_s + listen_s, math.inf)
        )
        owners.append(group[owner])
    if owners:
        owner_all = np.concatenate(owners)
        start_all = np.concatenate(starts)
        end_all = np.concatenate(ends)
        order = np.lexsort((start_all, owner_all))
        owner_all, start_all, end_all = owner_all[order], start_all[order], end_all[order]
    else:
        owner_all = np.zeros(0, dtype=np.int64)
        start_all = end_all = np.zeros(0)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner_all, minlength=n), out=indptr[1:])
    return FskSync(
        beacon_interval_s=beacon_interval_s,
        beacon_listen_s=beacon_listen_s.astype(np.float64),
        fsk_endpoint=fsk_endpoint.copy(),
        in_range=in_range.copy(),
        window_offset_s=window_offset_s,
        window_interval_s=window_interval_s.astype(np.float64),
        window_s=window_s.astype(np.float64),
        scan_interval_s=scan_interval_s.astype(np.float64),
        scan_offset_s=scan_offset_s,
        loss_indptr=indptr,
        loss_start_s=start_all,
        loss_end_s=end_all,
    )


def _miss_runs(
    rows: int, n_beacons: int, p: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of missed beacons of ``rows`` independent Bernoulli(``p``) sequences of length
    ``n_beacons``: (row, first index, length) of each run, by row then index.

    Only the misses are drawn: the gaps between them are geometric (a Bernoulli sequence's
    successes are separated by Geometric(p) steps), in blocks of rows that bound the memory."""
    mean = n_beacons * p
    per_row = int(mean + 8 * math.sqrt(mean + 1) + 16)  # enough gaps to cover the row
    block = max(1, BLOCK_CELLS // per_row)
    out_row: list[np.ndarray] = []
    out_start: list[np.ndarray] = []
    out_length: list[np.ndarray] = []
    for a in range(0, rows, block):
        b = min(rows, a + block)
        while True:
            position = np.cumsum(rng.geometric(p, size=(b - a, per_row)), axis=1) - 1
            if np.all(position[:, -1] >= n_beacons):
                break
            per_row *= 2  # (vanishingly rare) a row ran out of gaps: draw this block again
        row, col = np.nonzero(position < n_beacons)
        index = position[row, col]
        # a run starts where the previous miss of the row is not the beacon just before
        new_run = np.ones(index.size, dtype=bool)
        new_run[1:] = (row[1:] != row[:-1]) | (index[1:] != index[:-1] + 1)
        first = np.flatnonzero(new_run)
        length = np.diff(np.append(first, index.size))
        out_row.append(row[first] + a)
        out_start.append(index[first])
        out_length.append(length)
    if not out_row:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    return np.concatenate(out_row), np.concatenate(out_start), np.concatenate(out_length)


def _runs(missed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of True in each row of a boolean matrix: (row, first column, length) of each (the
    reference the geometric sampler is tested against)."""
    rows, cols = missed.shape
    padded = np.zeros((rows, cols + 2), dtype=np.int8)
    padded[:, 1:-1] = missed
    edges = np.diff(padded, axis=1)
    row_up, col_up = np.nonzero(edges == 1)
    _, col_down = np.nonzero(edges == -1)
    return row_up, col_up, col_down - col_up
