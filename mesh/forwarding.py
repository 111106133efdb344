"""Forwarding: what happens to a frame once the medium has decided who decoded it.

One interface, :class:`Forwarder`; the relaying strategies of ``mesh.routing`` implement it too,
and use this module's :class:`DirectForwarder` for every bridge that decodes a frame, relayed or
not. The foundation's strategy is ``direct``:
Sidewalk's star of bridges. Every bridge that decoded the frame forwards it over its backhaul to the
network server, which keeps the first copy.

Each forwarded copy is ``size + backhaul_overhead_bytes`` long on the bridge's uplink, which is
rate-limited and charged to the bridge owner's data allowance (``mesh.bridgelimits``); a frame
whose every copy was refused by those limits is lost as ``backhaul_limit``. When observation is on,
every bridge that decoded a frame is reported (endpoint, bridges, time) to the privacy metric
(``mesh.privacy.LinkabilityAccumulator``), whether or not it could forward the frame: the owner
saw it on the air.

Source: Amazon Sidewalk architecture (endpoint -> any bridge in range -> Sidewalk network server).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Protocol

import numpy as np

from mesh.backhaul import Backhaul
from mesh.bridgelimits import BridgeLimits
from mesh.medium import Transmission
from mesh.privacy import LinkabilityAccumulator
from mesh.records import (
    BACKHAUL_DOWN,
    BACKHAUL_LIMIT,
    BELOW_SENSITIVITY,
    DELIVERED,
    NOT_LISTENING,
    RX_OK,
    RX_TO_FATE,
)
from mesh.server import NetworkServer

if TYPE_CHECKING:
    from mesh.faults import FaultEngine


class Forwarder(Protocol):
    def on_uplink(self, tx: Transmission, fragment: int, t: float, size_bytes: int) -> int:
        """Handle a finished uplink frame carrying ``size_bytes``; return DELIVERED or the drop
        reason of this attempt."""
        ...

    def forward_copy(
        self, bridge: int, node: int, packet: int, fragment: int, t: float, size_bytes: int
    ) -> int:
        """``bridge`` holds a fragment it received outside the medium's frames (a BLE
        connection): forward it; return DELIVERED or the drop reason."""
        ...

    def missed_reason(self, tx: Transmission) -> int:
        """Why no bridge decoded ``tx`` (a drop reason code)."""
        ...


class DirectForwarder:
    """Star topology: every decoding bridge forwards to the network server."""

    name = "direct"

    def __init__(
        self,
        is_bridge: np.ndarray,
        backhaul: Backhaul,
        server: NetworkServer,
        unheard_links: frozenset[str] = frozenset(),
        bridge_only_links: frozenset[str] = frozenset(),
        limits: BridgeLimits | None = None,
        overhead_bytes: int = 0,
        observations: LinkabilityAccumulator | None = None,
    ) -> None:
        """``unheard_links``: links no bridge listens on (their frames are ``not_listening``);
        ``bridge_only_links``: links whose only listeners are bridges (no mask needed)."""
        self._is_bridge = is_bridge
        self._unheard = unheard_links
        self._bridge_only = bridge_only_links
        self._backhaul = backhaul
        self._server = server
        self._limits = limits
        self._overhead = overhead_bytes
        self._observations = observations
        self.faults: FaultEngine | None = None  # told of every forwarding (outage recovery)
        self.mobile: list[bool] | None = None  # per node: moves (its frames' rows are not static)

    def on_uplink(self, tx: Transmission, fragment: int, t: float, size_bytes: int) -> int:
        rx = tx.rx
        static = self.mobile is None or not self.mobile[tx.node]
        if tx.link in self._bridge_only and tx.clean and static:  # common: every listener decoded
            if rx.size == 0:
                return self.missed_reason(tx)
            return self.forward_from(
                tx.node, tx.packet, tx.link, fragment, rx, t, size_bytes, whole_row=True
            )
        heard_by = decoders(tx, self._is_bridge)
        if heard_by.size:
            return self.forward_from(tx.node, tx.packet, tx.link, fragment, heard_by, t, size_bytes)
        return self.missed_reason(tx)

    def missed_reason(self, tx: Transmission) -> int:
        rx = tx.rx
        outcome = np.zeros(rx.size, dtype=np.int8) if tx.clean else tx.outcome
        mask = self._is_bridge[rx]
        if not mask.any():
            return NOT_LISTENING if tx.link in self._unheard else BELOW_SENSITIVITY
        return int(RX_TO_FATE[outcome[mask]].max())

    def forward_copy(
        self, bridge: int, node: int, packet: int, fragment: int, t: float, size_bytes: int
    ) -> int:
        return self.forward_from(node, packet, "ble", fragment, np.array([bridge]), t, size_bytes)

    def forward_from(
        self,
        node: int,
        packet: int,
        link: str,
        fragment: int,
        decoders: np.ndarray,
        t: float,
        size_bytes: int,
        whole_row: bool = False,
    ) -> int:
        """``decoders`` (bridges) decoded a frame of ``node`` (its own, or a relayed copy):
        forward it. ``whole_row``: ``decoders`` is the transmitter's whole neighbour-table row."""
        if self._observations is not None:
            self._observations.observe(node, decoders, t)
        backhaul = self._backhaul
        faults = self.faults
        if faults is not None and faults.awaiting:
            faults.forwarded(decoders[~backhaul.down[decoders]], t)
        if self._limits is None:
            copies = backhaul.copies_up(decoders, decoders.size)
            if copies == 0:
                return BACKHAUL_DOWN
            self._server.receive(packet, fragment, copies, t, backhaul.draw())
            return DELIVERED
        if backhaul.n_down:
            down = backhaul.down[decoders]
            if down.any():
                whole_row = False
                decoders = decoders[~down]
                if decoders.size == 0:
                    return BACKHAUL_DOWN
        size = size_bytes + self._overhead
        departure = self._limits.forward(decoders, t, size, node if whole_row else -1, link)
        if departure is None:  # every copy leaves together, after its service time
            sent_s = t + size * self._limits._s_per_byte
            self._server.receive(packet, fragment, int(decoders.size), sent_s, backhaul.draw())
            return DELIVERED
        kept = departure[~np.isnan(departure)]
        if kept.size == 0:
            return BACKHAUL_LIMIT
        if np.all(kept == kept[0]):
            self._server.receive(packet, fragment, int(kept.size), float(kept[0]), backhaul.draw())
        else:  # copies queued for different times: the first arrival, from one draw per copy
            arrival_s = float(np.min(kept + backhaul.latencies_s(kept.size)))
            self._server.receive(packet, fragment, int(kept.size), arrival_s, math.nan)
        return DELIVERED


def decoded_mask(tx: Transmission, among: np.ndarray) -> np.ndarray:
    """Per receiver of ``tx`` (aligned with ``tx.rx``): one of ``among`` (a per-node mask)
    that decoded it."""
    return among[tx.rx] if tx.clean else (tx.outcome == RX_OK) & among[tx.rx]


def decoders(tx: Transmission, is_bridge: np.ndarray) -> np.ndarray:
    """The bridges (by ``is_bridge``) that decoded ``tx``."""
    return tx.rx[decoded_mask(tx, is_bridge)]


def best_decoder(tx: Transmission, is_bridge: np.ndarray) -> int:
    """The bridge that decoded ``tx`` with the strongest signal, or -1."""
    ok = decoded_mask(tx, is_bridge)
    if not ok.any():
        return -1
    candidates = np.flatnonzero(ok)
    return int(tx.rx[candidates[np.argmax(tx.rssi_dbm[candidates])]])


FORWARDERS: dict[str, type[DirectForwarder]] = {"direct": DirectForwarder}
