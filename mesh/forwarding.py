"""Forwarding: what happens to a frame once the medium has decided who decoded it.

One interface, :class:`Forwarder`, so that relaying strategies (flooding, gradients) plug in later
as one module plus one entry in :data:`FORWARDERS`. The foundation's strategy is ``direct``:
Sidewalk's star of bridges. Every bridge that decoded the frame forwards it over its backhaul to the
network server, which keeps the first copy.

Source: Amazon Sidewalk architecture (endpoint -> any bridge in range -> Sidewalk network server).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from mesh.backhaul import Backhaul
from mesh.medium import Transmission
from mesh.records import (
    BACKHAUL_DOWN,
    BELOW_SENSITIVITY,
    DELIVERED,
    NOT_LISTENING,
    RX_OK,
    RX_TO_FATE,
)
from mesh.server import NetworkServer


class Forwarder(Protocol):
    def on_uplink(self, tx: Transmission, fragment: int, t: float) -> int:
        """Handle a finished uplink frame; return DELIVERED or the drop reason of this attempt."""
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
    ) -> None:
        """``unheard_links``: links no bridge listens on (their frames are ``not_listening``);
        ``bridge_only_links``: links whose only listeners are bridges (no mask needed)."""
        self._is_bridge = is_bridge
        self._unheard = unheard_links
        self._bridge_only = bridge_only_links
        self._backhaul = backhaul
        self._server = server

    def on_uplink(self, tx: Transmission, fragment: int, t: float) -> int:
        rx = tx.rx
        if tx.link in self._bridge_only and tx.clean:  # the common case: every listener decoded
            if rx.size == 0:
                return NOT_LISTENING if tx.link in self._unheard else BELOW_SENSITIVITY
            return self._forward(tx, fragment, rx, rx.size, t)
        outcome = np.zeros(rx.size, dtype=np.int8) if tx.clean else tx.outcome
        if tx.link not in self._bridge_only:
            mask = self._is_bridge[rx]
            rx, outcome = rx[mask], outcome[mask]
        if outcome.size == 0:
            return NOT_LISTENING if tx.link in self._unheard else BELOW_SENSITIVITY
        decoded = outcome == RX_OK
        n_decoded = int(np.count_nonzero(decoded))
        if n_decoded:
            return self._forward(tx, fragment, rx[decoded], n_decoded, t)
        return int(RX_TO_FATE[outcome].max())

    def _forward(
        self, tx: Transmission, fragment: int, decoders: np.ndarray, n_decoded: int, t: float
    ) -> int:
        copies = self._backhaul.copies_up(decoders, n_decoded)
        if copies == 0:
            return BACKHAUL_DOWN
        self._server.receive(tx.packet, fragment, copies, t, self._backhaul.draw())
        return DELIVERED


def decoders(tx: Transmission, is_bridge: np.ndarray) -> np.ndarray:
    """The bridges (by ``is_bridge``) that decoded ``tx``."""
    ok = is_bridge[tx.rx] if tx.clean else (tx.outcome == RX_OK) & is_bridge[tx.rx]
    return tx.rx[ok]


def best_decoder(tx: Transmission, is_bridge: np.ndarray) -> int:
    """The bridge that decoded ``tx`` with the strongest signal, or -1."""
    ok = is_bridge[tx.rx] if tx.clean else (tx.outcome == RX_OK) & is_bridge[tx.rx]
    if not ok.any():
        return -1
    candidates = np.flatnonzero(ok)
    return int(tx.rx[candidates[np.argmax(tx.rssi_dbm[candidates])]])


FORWARDERS: dict[str, type[DirectForwarder]] = {"direct": DirectForwarder}
