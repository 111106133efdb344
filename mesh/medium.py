"""The shared radio medium: transmissions occupying channels, and what every listener makes of them.

Model (per link and channel):
- A transmission occupies its channel for its airtime. At its start, every listener in the
  transmitter's neighbour-table row gets a received power ``P = tx_power + gain`` (static path loss,
  shadowing, walls; see ``mesh.pathgain``). The listener locks onto it when ``P`` reaches the
  sensitivity of the transmission's modulation, its receiver is on (bridges always on FSK/LoRa; BLE
  scanners by their scan schedule; endpoints only in their receive windows), it is not itself
  transmitting in that band (half duplex) and it has a free demodulator (a bridge decodes at most a
  configured number of packets at once, 8 for LoRa like an SX1301-class gateway).
- Interference: every listener keeps, for each reception in progress, the running sum of weighted
  interference ``sum_k w[v_s, v_k] * I_k`` of the overlapping transmissions on the same channel and
  the maximum that sum reached. The reception succeeds when ``S >= max`` (capture on) or when
  nothing overlapped it (capture off). Weights and thresholds: ``mesh.links``.
- A node that starts transmitting aborts its own receptions in progress in that band (half duplex).

Cost: one call at transmission start and one at its end; each does a handful of numpy operations
over the transmitter's neighbour row and over the (few) transmissions overlapping it on the
channel. No per-receiver processes, and no list of past packets is kept or scanned.

Sources: reception rules follow Bor et al. 2016 (LoRaSim) and Magrin et al. 2017 (ns-3 lorawan):
sensitivity, SIR-based capture, limited gateway demodulators; BLE scanning per Bluetooth Core Spec
Vol 6 Part B 4.4.3.

Leaves out: preamble-timing capture (a later, stronger packet taking over a locked demodulator),
partial-overlap energy weighting, adjacent-channel leakage, fading within a packet.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mesh.links import BAND, BANDS
from mesh.neighbours import NeighbourTable
from mesh.records import (
    RX_BELOW_SENSITIVITY,
    RX_COLLISION,
    RX_HALF_DUPLEX,
    RX_NOT_LISTENING,
    RX_OK,
    RX_RECEIVER_BUSY,
)


class Transmission:
    """One frame on air. Per-receiver facts live in the arrays aligned with ``rx``."""

    __slots__ = (
        "airtime_s",
        "channel",
        "cur_i",
        "link",
        "locked",
        "max_i",
        "node",
        "outcome",
        "packet",
        "rssi_dbm",
        "rx",
        "rx_mw",
        "t_start",
        "variant",
    )

    def __init__(
        self,
        node: int,
        link: str,
        channel: int,
        variant: int,
        t_start: float,
        airtime_s: float,
        packet: int,
        rx: np.ndarray,
        rssi_dbm: np.ndarray,
    ) -> None:
        self.node = node
        self.link = link
        self.channel = channel
        self.variant = variant
        self.t_start = t_start
        self.airtime_s = airtime_s
        self.packet = packet
        self.rx = rx
        self.rssi_dbm = rssi_dbm
        self.rx_mw = np.power(10.0, rssi_dbm / 10.0)
        self.outcome = np.empty(rx.size, dtype=np.int8)
        self.locked = np.zeros(rx.size, dtype=bool)
        self.cur_i = np.zeros(rx.size)
        self.max_i = np.zeros(rx.size)

    def decoded_by(self, node: int) -> bool:
        """Whether ``node`` decoded this transmission (valid after the medium ended it)."""
        pos = int(np.searchsorted(self.rx, node))
        return pos < self.rx.size and int(self.rx[pos]) == node and self.outcome[pos] == RX_OK


@dataclass(frozen=True)
class ScanSchedule:
    """BLE scanners: listening on advertising channel ``k mod 3`` during the first ``window_s`` of
    scan interval ``k``, counted from the node's own phase (Core Spec Vol 6 Part B 4.4.3)."""

    phase_s: np.ndarray  # per node
    interval_s: float
    window_s: float

    def listening(self, nodes: np.ndarray, channel: int, t0: float, airtime_s: float) -> np.ndarray:
        u = t0 - self.phase_s[nodes]
        k = np.floor(u / self.interval_s)
        offset = u - k * self.interval_s
        return (offset + airtime_s <= self.window_s) & (np.mod(k, 3) == channel)


class Medium:
    """All links' channels of one run."""

    def __init__(
        self,
        n_nodes: int,
        tables: dict[str, NeighbourTable],
        tx_power_dbm: dict[str, np.ndarray],
        weights: dict[str, np.ndarray],
        capture: bool,
        demodulators: dict[str, np.ndarray],
        listening: dict[str, np.ndarray],
        scan: ScanSchedule | None,
    ) -> None:
        self.tables = tables
        self.tx_power_dbm = tx_power_dbm
        self.weights = weights
        self.capture = capture
        self.capacity = demodulators
        self.listening = listening  # per link, bool per node: receiver switched on
        self.scan = scan
        self.demod_used = {link: np.zeros(n_nodes, dtype=np.int32) for link in tables}
        self.transmitting = {band: np.zeros(n_nodes, dtype=bool) for band in BANDS}
        self.active: dict[tuple[str, int], list[Transmission]] = {}
        self.active_band: dict[str, list[Transmission]] = {band: [] for band in BANDS}
        self._scratch = np.zeros(n_nodes)

    def on_air(self, link: str, channel: int) -> list[Transmission]:
        """Transmissions currently occupying ``channel`` of ``link`` (do not modify)."""
        return self.active.get((link, channel), [])

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
        rx, gain = self.tables[link].row(node)
        tx = Transmission(
            node,
            link,
            channel,
            variant,
            t,
            airtime_s,
            packet,
            rx,
            self.tx_power_dbm[link][node] + gain,
        )
        outcome = tx.outcome
        outcome[:] = np.where(tx.rssi_dbm >= sensitivity_dbm, RX_OK, RX_BELOW_SENSITIVITY)
        on = self.listening[link][rx]
        if link == "ble" and self.scan is not None:
            on = on & self.scan.listening(rx, channel, t, airtime_s)
        outcome[(outcome == RX_OK) & ~on] = RX_NOT_LISTENING
        band = BAND[link]
        outcome[(outcome == RX_OK) & self.transmitting[band][rx]] = RX_HALF_DUPLEX
        ok = outcome == RX_OK
        if ok.any():
            used = self.demod_used[link]
            free = used[rx] < self.capacity[link][rx]
            outcome[ok & ~free] = RX_RECEIVER_BUSY
            tx.locked = ok & free
            used[rx[tx.locked]] += 1

        weights = self.weights[link]
        scratch = self._scratch
        key = (link, channel)
        overlapping = self.active.setdefault(key, [])
        if overlapping:
            scratch[rx] = tx.rx_mw
            for other in overlapping:
                # the new transmission interferes with the other's receptions ...
                w_on_other = weights[other.variant, variant]
                if w_on_other > 0.0:
                    other.cur_i += w_on_other * scratch[other.rx]
                    np.maximum(other.max_i, other.cur_i, out=other.max_i)
            scratch[rx] = 0.0
            for other in overlapping:
                # ... and every transmission already on air interferes with the new one.
                w_on_new = weights[variant, other.variant]
                if w_on_new > 0.0:
                    scratch[other.rx] = other.rx_mw
                    tx.cur_i += w_on_new * scratch[rx]
                    scratch[other.rx] = 0.0
            tx.max_i[:] = tx.cur_i

        # Half duplex: starting to transmit aborts this node's own receptions in the band.
        for other in self.active_band[band]:
            pos = int(np.searchsorted(other.rx, node))
            if pos < other.rx.size and other.rx[pos] == node and other.outcome[pos] == RX_OK:
                other.outcome[pos] = RX_HALF_DUPLEX

        overlapping.append(tx)
        self.active_band[band].append(tx)
        self.transmitting[band][node] = True
        return tx

    def end(self, tx: Transmission) -> Transmission:
        key = (tx.link, tx.channel)
        overlapping = self.active[key]
        overlapping.remove(tx)
        band = BAND[tx.link]
        self.active_band[band].remove(tx)
        self.transmitting[band][tx.node] = False
        if overlapping:
            weights = self.weights[tx.link]
            scratch = self._scratch
            scratch[tx.rx] = tx.rx_mw
            for other in overlapping:
                w = weights[other.variant, tx.variant]
                if w > 0.0:
                    other.cur_i -= w * scratch[other.rx]
            scratch[tx.rx] = 0.0
            if len(overlapping) == 1:
                overlapping[0].cur_i[:] = 0.0  # no one left: clear rounding residue
        outcome = tx.outcome
        ok = outcome == RX_OK
        if self.capture:
            lost = ok & (tx.rx_mw < tx.max_i)
        else:
            lost = ok & (tx.max_i > 0.0)
        outcome[lost] = RX_COLLISION
        if tx.locked.any():
            self.demod_used[tx.link][tx.rx[tx.locked]] -= 1
        return tx
