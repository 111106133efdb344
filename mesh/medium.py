"""The shared radio medium: transmissions occupying channels, and what every listener makes of them.

Model (per link and channel):
- A transmission occupies its channel for its airtime. The listeners that could decode it are the
  transmitter's neighbour-table row (received power at or above the frame's sensitivity; static
  path loss, shadowing and walls, see ``mesh.pathgain``). A listener *locks* onto the frame at its
  start when its receiver is on (bridges always on FSK/LoRa; BLE scanners by their scan schedule;
  endpoints only in their receive windows), it is not itself transmitting in that band (half
  duplex) and it has a free demodulator (a bridge decodes at most a configured number of frames at
  once, 8 for LoRa like an SX1301-class gateway). A locked demodulator stays busy until the frame
  ends, or until the listener aborts the reception by transmitting itself.
- Interference: for every locked reception, the running sum of weighted interference
  ``sum_k w[v_s, v_k] * I_k`` of the frames overlapping it on the same channel, and the largest
  value that sum reaches. The reception survives when ``S >= max`` (capture on) or when nothing
  was heard overlapping it (capture off). Interferer powers are exact (the same static gains as
  the tables), looked up or computed when frames overlap: no interferer is too weak to count
  (capture off: interferers below ``floor_dbm`` are not heard). Weights and thresholds:
  ``mesh.links``.
- A node that starts transmitting aborts its own receptions in progress in that band.
- Jammers (``mesh.faults``) add their power to the interference of every frame of their band that
  overlaps one of their bursts. A moving transmitter's row and powers come from ``mesh.movers``,
  at its position when its frame starts.

Cost: one call at transmission start and one at its end, each a few numpy operations over the
frame's decode candidates. Demodulator contention, half duplex and interference are only looked at
when another frame of the link (or band) is on air, which is rare at realistic loads; then the
work is proportional to the frames on air. A transmitter's powers at every listener are computed
in one pass the first time one of its frames overlaps another and kept (they never change during
a run), within the memory budget :data:`CACHE_FLOATS`. No per-receiver processes, no list of
past packets.

Sources: reception rules follow Bor et al. 2016 (LoRaSim) and Magrin et al. 2017 (ns-3 lorawan):
sensitivity, SIR-based capture, limited gateway demodulators; BLE scanning per Bluetooth Core Spec
Vol 6 Part B 4.4.3.

Leaves out: preamble-timing capture (a later, stronger frame taking over a locked demodulator),
partial-overlap energy weighting, adjacent-channel leakage, fading within a frame.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mesh.links import BAND, BANDS
from mesh.neighbours import NeighbourTable
from mesh.pathgain import PathGain
from mesh.records import (
    RX_COLLISION,
    RX_HALF_DUPLEX,
    RX_NOT_LISTENING,
    RX_OK,
    RX_RECEIVER_BUSY,
)

_LN10_OVER_10 = math.log(10.0) / 10.0

#: Memory budget of the interference cache, in float64 values (256 MiB); past it, powers are
#: computed on every overlap instead. A performance knob only: results do not depend on it.
CACHE_FLOATS = 32 * 1024 * 1024


def dbm_to_mw(power_dbm: np.ndarray) -> np.ndarray:
    """``10 ** (P / 10)``, computed as an exponential (faster than ``np.power``)."""
    return np.exp(power_dbm * _LN10_OVER_10)


class Transmission:
    """One frame on air. Per-receiver facts live in the arrays aligned with ``rx``."""

    __slots__ = (
        "_outcome",
        "channel",
        "contributions",
        "cur_i",
        "link",
        "locked",
        "max_i",
        "n_overlapping",
        "node",
        "packet",
        "rssi_dbm",
        "rx",
        "start_s",
        "variant",
    )

    def __init__(
        self,
        node: int,
        link: str,
        channel: int,
        variant: int,
        packet: int,
        rx: np.ndarray,
        rssi_dbm: np.ndarray,
    ) -> None:
        self.node = node
        self.link = link
        self.channel = channel
        self.variant = variant
        self.packet = packet
        self.rx = rx
        self.rssi_dbm = rssi_dbm
        self.start_s = 0.0
        # per-receiver outcome codes, allocated when the first one stops being RX_OK
        self._outcome: np.ndarray | None = None
        # receivers holding a demodulator for this frame; None: all of ``rx``
        self.locked: np.ndarray | None = None
        # interference bookkeeping, allocated on the first overlap only
        self.cur_i: np.ndarray | None = None
        self.max_i: np.ndarray | None = None
        self.n_overlapping = 0
        self.contributions: list[tuple[Transmission, np.ndarray, np.ndarray]] = []

    @property
    def clean(self) -> bool:
        """True while every receiver's outcome is RX_OK (no array allocated)."""
        return self._outcome is None

    @property
    def outcome(self) -> np.ndarray:
        """Outcome code per receiver (``mesh.records.RX_*``), writable."""
        if self._outcome is None:
            self._outcome = np.zeros(self.rx.size, dtype=np.int8)
        return self._outcome

    def decoded_by(self, node: int) -> bool:
        """Whether ``node`` decoded this transmission (valid after the medium ended it)."""
        pos = int(np.searchsorted(self.rx, node))
        if pos >= self.rx.size or int(self.rx[pos]) != node:
            return False
        return self._outcome is None or self._outcome[pos] == RX_OK

    def locked_positions(self) -> np.ndarray:
        if self.locked is None:
            return np.arange(self.rx.size)
        return np.flatnonzero(self.locked)

    def locked_receivers(self) -> np.ndarray:
        return self.rx if self.locked is None else self.rx[self.locked]


@dataclass(frozen=True)
class ScanSchedule:
    """BLE scanners: listening on advertising channel ``k mod 3`` during the first ``window_s`` of
    scan interval ``k``, counted from the node's own phase (Core Spec Vol 6 Part B 4.4.3)."""

    phase_s: np.ndarray  # per node
    interval_s: float
    window_s: float
    continuous: np.ndarray | None = None  # per node: scans the whole interval (relays)

    def listening(self, nodes: np.ndarray, channel: int, t0: float, airtime_s: float) -> np.ndarray:
        u = t0 - self.phase_s[nodes]
        k = np.floor(u / self.interval_s)
        offset = u - k * self.interval_s
        window = offset + airtime_s <= self.window_s
        if self.continuous is not None:
            window |= self.continuous[nodes]
        return window & (np.mod(k, 3) == channel)


@dataclass
class LinkMedium:
    """Static description and live state of one link."""

    link: str
    table: NeighbourTable
    tx_power_dbm: np.ndarray  # per node
    weights: np.ndarray  # [signal variant, interferer variant], linear
    capacity: np.ndarray  # demodulators per node
    listening: np.ndarray  # per node: receiver switched on (mutable: endpoints' windows)
    always_listening: bool  # every listener in the table is always on (skip the check)
    floor_dbm: float  # capture off: weaker interferers are not heard
    frequency_hz: float
    scan: ScanSchedule | None = None
    min_capacity: int = 1
    # interference cache: powers of a transmitter at every listener, filled as frames overlap
    listeners: np.ndarray | None = None  # the table's listener ids, sorted
    listener_slot: np.ndarray | None = None  # per node: index among the listeners, or -1
    n_listeners: int = 0
    cache_budget: int = 0  # floats the cache may still allocate
    power_cache: dict[int, np.ndarray] = field(default_factory=dict)
    active: dict[int, list[Transmission]] = field(default_factory=dict)  # by channel
    on_air: list[Transmission] = field(default_factory=list)
    # per node: listening outside receive windows (relays; None: nobody but bridges)
    always_on: np.ndarray | None = None


@dataclass
class BandState:
    transmitting: np.ndarray  # per node
    n_listeners_transmitting: int = 0  # transmitting nodes that are listeners of some table
    on_air: list[Transmission] = field(default_factory=list)


class Medium:
    """All links' channels of one run."""

    def __init__(
        self,
        n_nodes: int,
        links: dict[str, LinkMedium],
        path_gain: PathGain,
        capture: bool,
        is_listener: np.ndarray,
    ) -> None:
        self.links = links
        self.path_gain = path_gain
        self.capture = capture
        self.is_listener = is_listener  # node appears as a listener in some table
        self.bands = {band: BandState(np.zeros(n_nodes, dtype=bool)) for band in BANDS}
        self._band_of = {link: self.bands[BAND[link]] for link in links}
        self._listener: list[bool] = is_listener.tolist()
        self._counts = np.zeros(n_nodes, dtype=np.int32)
        self.jammers: dict[str, list[Any]] = {}  # by band: ``mesh.faults.Jammer``
        self.movers: Any = None  # ``mesh.movers.Movers`` when some endpoints move
        self.collisions = 0  # receptions lost to interference (a diagnostic)
        self.now: Callable[[], float] = lambda: 0.0  # the clock (jammers need frame ends)

    def on_air(self, link: str, channel: int) -> list[Transmission]:
        """Transmissions currently occupying ``channel`` of ``link`` (do not modify)."""
        return self.links[link].active.get(channel, [])

    def transmitting(self, link: str, node: int) -> bool:
        """Whether listener ``node`` is transmitting in ``link``'s band (flags are kept for
        listeners only: nobody else's are ever needed)."""
        return bool(self.bands[BAND[link]].transmitting[node])

    def set_listening(self, link: str, node: int, on: bool) -> None:
        self.links[link].listening[node] = on

    def stop_listening(self, link: str, node: int) -> None:
        """A receive window of ``node`` ends: back to its usual state (on for relays)."""
        lm = self.links[link]
        lm.listening[node] = lm.always_on is not None and bool(lm.always_on[node])

    def start(
        self,
        node: int,
        link: str,
        channel: int,
        variant: int,
        sensitivity_dbm: float,
        t: float,
        airtime_s: float,
        packet: int,
    ) -> Transmission:
        lm = self.links[link]
        table = lm.table
        movers = self.movers
        if movers is not None and movers.is_mobile(node):
            rx, rssi = movers.row(
                node, link, t, lm.tx_power_dbm[node], table.thresholds[node], lm.frequency_hz
            )
        else:
            rx, rssi = table.row(node)
        if sensitivity_dbm > table.thresholds[node]:
            keep = rssi >= sensitivity_dbm
            rx, rssi = rx[keep], rssi[keep]
        tx = Transmission(node, link, channel, variant, packet, rx, rssi)
        tx.start_s = t
        band = self._band_of[link]
        if rx.size:
            if not lm.always_listening:
                on = lm.listening[rx]
                if lm.scan is not None:
                    on &= lm.scan.listening(rx, channel, t, airtime_s)
                if not on.all():
                    tx.outcome[~on] = RX_NOT_LISTENING
            if band.n_listeners_transmitting:
                deaf = band.transmitting[rx]
                if deaf.any():
                    outcome = tx.outcome
                    outcome[(outcome == RX_OK) & deaf] = RX_HALF_DUPLEX
            if len(lm.on_air) >= lm.min_capacity:
                self._demodulator_contention(lm, tx)
            if not tx.clean:
                tx.locked = tx.outcome == RX_OK
        others = lm.active.get(channel)
        if others:  # even a frame that no one can decode interferes with those on air
            for other in others:
                self._overlap(lm, other, tx)
        if self._listener[node]:
            # starting to transmit aborts this node's own receptions in the band
            for other in band.on_air:
                pos = int(np.searchsorted(other.rx, node))
                if pos < other.rx.size and other.rx[pos] == node and other.decoded_by(node):
                    other.outcome[pos] = RX_HALF_DUPLEX
                    if other.locked is None:
                        other.locked = np.ones(other.rx.size, dtype=bool)
                    other.locked[pos] = False  # the aborted reception frees its demodulator
            band.n_listeners_transmitting += 1
            band.transmitting[node] = True  # only listeners' flags are ever read
        lm.active.setdefault(channel, []).append(tx)
        lm.on_air.append(tx)
        band.on_air.append(tx)
        return tx

    def _demodulator_contention(self, lm: LinkMedium, tx: Transmission) -> None:
        """Mark ``tx``'s receivers whose demodulators are all held by frames on air."""
        counts = self._counts
        busy_nodes = np.concatenate([o.locked_receivers() for o in lm.on_air])
        if busy_nodes.size == 0:
            return
        np.add.at(counts, busy_nodes, 1)
        full = counts[tx.rx] >= lm.capacity[tx.rx]
        counts[busy_nodes] = 0
        if full.any():
            outcome = tx.outcome
            outcome[(outcome == RX_OK) & full] = RX_RECEIVER_BUSY

    def _interference_mw(
        self,
        lm: LinkMedium,
        source: Transmission,
        target: Transmission,
        positions: np.ndarray,
    ) -> np.ndarray:
        """Exact power of ``source`` at ``target``'s receivers ``positions``, weighted by the
        SIR threshold of ``target``'s modulation against ``source``'s: from ``source``'s
        neighbour row where the pair is in it, computed pair by pair otherwise."""
        weight = lm.weights[target.variant, source.variant]
        if weight == 0.0 or positions.size == 0:
            return np.zeros(positions.size)
        receivers = target.rx[positions]
        movers = self.movers
        if movers is not None and movers.is_mobile(source.node):
            power_dbm = movers.power_dbm(
                source.node,
                receivers,
                source.start_s,
                lm.tx_power_dbm[source.node],
                lm.frequency_hz,
            )
            if not self.capture:
                power_dbm = np.where(power_dbm >= lm.floor_dbm, power_dbm, -np.inf)
            return weight * dbm_to_mw(power_dbm)
        cache = self._cache_row(lm, source.node)
        if cache is None or lm.listener_slot is None:
            return weight * self._power_mw(lm, source.node, receivers)
        return weight * cache[lm.listener_slot[receivers]]

    def _cache_row(self, lm: LinkMedium, node: int) -> np.ndarray | None:
        """``node``'s powers at every listener of the link, computed in one pass the first time
        one of its frames overlaps another, while the cache's memory budget lasts; None past it."""
        if lm.listeners is None:
            return None
        row = lm.power_cache.get(node)
        if row is None and lm.n_listeners and lm.cache_budget >= lm.n_listeners:
            row = lm.power_cache[node] = self._power_mw(lm, node, lm.listeners)
            lm.cache_budget -= lm.n_listeners
        return row

    def _power_mw(self, lm: LinkMedium, node: int, receivers: np.ndarray) -> np.ndarray:
        """Exact received power of ``node`` at ``receivers`` (mW; 0 below the capture-off
        floor): from ``node``'s neighbour row where the pair is in it, pair by pair otherwise."""
        row_rx, row_rssi = lm.table.row(node)
        power_dbm = np.empty(receivers.size)
        if row_rx.size:
            k = np.searchsorted(row_rx, receivers)
            k[k == row_rx.size] = 0
            found = row_rx[k] == receivers
            power_dbm[found] = row_rssi[k[found]]
            missing = ~found
        else:
            missing = np.ones(receivers.size, dtype=bool)
        if missing.any():
            others = receivers[missing]
            senders = np.full(others.size, node, dtype=np.int64)
            power_dbm[missing] = lm.tx_power_dbm[node] + self.path_gain.gain_db(
                senders, others, lm.frequency_hz
            )
        if not self.capture:
            power_dbm = np.where(power_dbm >= lm.floor_dbm, power_dbm, -np.inf)
        return dbm_to_mw(power_dbm)

    def _jam(self, lm: LinkMedium, tx: Transmission, jammers: list[Any]) -> None:
        """Add the power of every jammer burst overlapping ``tx`` to its receivers'
        interference, weighted like a co-channel frame of the same modulation."""
        end_s = self.now()
        for jammer in jammers:
            if tx.rx.size == 0 or not jammer.overlaps(tx.start_s, end_s):
                continue
            power = jammer.power_mw[tx.rx] * lm.weights[tx.variant, tx.variant]
            if tx.max_i is None:
                tx.cur_i = np.zeros(tx.rx.size)
                tx.max_i = np.zeros(tx.rx.size)
            tx.max_i += power

    def jammed(self, link: str, node: int, t: float, threshold_dbm: float) -> bool:
        """Is a jammer of ``link``'s band on at ``t`` and heard at ``node`` above the
        threshold (listen-before-talk)?"""
        threshold_mw = float(dbm_to_mw(np.array(threshold_dbm)))
        for jammer in self.jammers.get(BAND[link], ()):
            if jammer.on_at(t) and jammer.power_mw[node] >= threshold_mw:
                return True
        return False

    def _overlap(self, lm: LinkMedium, a: Transmission, b: Transmission) -> None:
        """Frames ``a`` (on air) and ``b`` (starting) overlap on one channel: each interferes
        with the other's locked receptions until one of them ends.

        Powers are exact: from the table where the pair is in it, pair by pair otherwise.
        """
        for source, target in ((a, b), (b, a)):
            positions = target.locked_positions()
            power = self._interference_mw(lm, source, target, positions)
            if target.cur_i is None:
                target.cur_i = np.zeros(target.rx.size)
                target.max_i = np.zeros(target.rx.size)
            assert target.max_i is not None
            target.cur_i[positions] += power
            np.maximum(target.max_i, target.cur_i, out=target.max_i)
            target.n_overlapping += 1
            source.contributions.append((target, positions, power))

    def end(self, tx: Transmission) -> Transmission:
        lm = self.links[tx.link]
        lm.active[tx.channel].remove(tx)
        lm.on_air.remove(tx)
        band = self._band_of[tx.link]
        band.on_air.remove(tx)
        if self._listener[tx.node]:
            band.transmitting[tx.node] = False
            band.n_listeners_transmitting -= 1
        for target, positions, power in tx.contributions:
            if target.cur_i is None:
                continue
            target.n_overlapping -= 1
            if target.n_overlapping == 0:
                target.cur_i[:] = 0.0  # nothing overlaps it any more: clear rounding residue
            else:
                target.cur_i[positions] -= power
        tx.contributions = []
        jammers = self.jammers.get(BAND[tx.link]) if self.jammers else None
        if jammers:
            self._jam(lm, tx, jammers)
        if tx.max_i is not None:
            if self.capture:
                lost = dbm_to_mw(tx.rssi_dbm) < tx.max_i
            else:
                lost = tx.max_i > 0.0
            if lost.any():
                outcome = tx.outcome
                hit = lost & (outcome == RX_OK)
                outcome[hit] = RX_COLLISION
                self.collisions += int(np.count_nonzero(hit))
        return tx
