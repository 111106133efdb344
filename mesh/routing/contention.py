"""Contention flooding, as Meshtastic does it on LoRa.

Model: the origin sends a frame with a hop limit (``hop_limit``, 3 by default, at most 7). A
relay that decodes a frame it has not seen, with a hop limit above 0, schedules one rebroadcast
with the hop limit decremented after a contention delay weighted by the reception's SNR, so that
the farthest (weakest) receivers rebroadcast first:

- ``CW = cw_min + (cw_max - cw_min) * clip((SNR - snr_min) / (snr_max - snr_min), 0, 1)``,
  rounded;
- routers wait ``U{0 .. 2 CW - 1}`` slots; clients wait ``2 cw_max`` slots plus
  ``U{0 .. 2**CW - 1}`` slots, so routers go first;
- a slot is ``2.5`` symbols (channel activity detection) plus 0.2 ms propagation, 0.4 ms
  turnaround and 7 ms MAC processing (for FSK and BLE, 2.5 byte times instead of symbols).

A client that overhears another rebroadcast of the same frame while its own is pending cancels
it; a router never cancels. The originator listens after each frame for the time a rebroadcast
takes at most; it is done when it overheard one (implicit ACK) or a bridge decoded the frame
(the destination's ACK, not simulated as a frame); otherwise it sends again, up to
``originator_retries`` times.

SNR is the received power over the receiver's noise floor (``mesh.routing.base.noise_floor_dbm``).
Originator retries apply to FSK and LoRa frames; a BLE packet is already repeated over its
advertising events.

Source: Meshtastic firmware 2.x, ``RadioInterface::getTxDelayMsecWeighted`` and
``FloodingRouter`` (rebroadcast contention, cancel on overhearing, routers never cancel),
``ReliableRouter`` (implicit ACKs, 3 retransmissions); Meshtastic documentation "Mesh Broadcast
Algorithm".

Leaves out: channel activity detection before rebroadcasting (the medium's collisions model what
CAD would avoid); the want_ack/NAK messages of direct messages.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from mesh.ledger import RX, SLEEP
from mesh.routing.base import Frame, Relaying, noise_floor_dbm

if TYPE_CHECKING:
    from mesh.links import ClassPhy
    from mesh.medium import Transmission

#: Propagation, turnaround and MAC processing time in each contention slot (Meshtastic).
SLOT_FIXED_S = 0.0002 + 0.0004 + 0.007


def slot_s(phy: ClassPhy) -> float:
    """One contention slot for frames of ``phy``."""
    if phy.link == "lora":
        return 2.5 * phy.config.lora.symbol_time_s() + SLOT_FIXED_S
    return 2.5 * (phy.airtime_s(1) - phy.airtime_s(0)) + SLOT_FIXED_S


def contention_window(
    snr_db: float, snr_min_db: float, snr_max_db: float, cw_min: int, cw_max: int
) -> int:
    """The window exponent for a reception at ``snr_db``."""
    share = min(max((snr_db - snr_min_db) / (snr_max_db - snr_min_db), 0.0), 1.0)
    return round(cw_min + (cw_max - cw_min) * share)


def delay_slots(cw: int, router: bool, cw_max: int, rng: np.random.Generator) -> int:
    """Slots a relay waits before rebroadcasting, for window exponent ``cw``: routers
    ``U{0 .. 2 cw - 1}``, clients ``2 cw_max + U{0 .. 2**cw - 1}``."""
    if router:
        return int(rng.integers(0, 2 * cw)) if cw > 0 else 0
    return 2 * cw_max + int(rng.integers(0, 2**cw))


class ContentionFlood(Relaying):
    name = "contention_flood"
    implicit_ack = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pending: dict[tuple[int, int, int], Any] = {}  # (node, packet, fragment) -> process
        self.cancelled = np.zeros(self.relay_link.size, dtype=np.int64)
        self._acked: set[tuple[int, int, int]] = set()

    def initial_budget(self) -> int:
        return self.cfg.hop_limit

    def heard(self, tx: Transmission, frame: Frame, delivered: bool) -> None:
        key = frame.key
        if frame.hops > 1 or delivered:
            # the origin overheard a rebroadcast, or a bridge decoded its frame: implicit ACK
            if delivered or tx.decoded_by(frame.origin):
                self._acked.add((frame.origin, *key))
        nodes, rssi = self.relays_that_decoded(tx)
        if nodes.size == 0:
            return
        cfg = self.cfg
        net = self.net
        floor = noise_floor_dbm(frame.phy)
        slot = slot_s(frame.phy)
        for node, power in zip(nodes.tolist(), rssi.tolist(), strict=True):
            if node == frame.origin:
                continue
            if not self.cache(node).add(key):
                self.duplicates[node] += 1
                pending = self.pending.get((node, *key))
                if pending is not None and not self.router[node] and frame.hops > 1:
                    self.pending.pop((node, *key))
                    pending.interrupt()
                    self.cancelled[node] += 1
                continue
            if frame.budget <= 0:
                continue
            cw = contention_window(
                power - floor, cfg.snr_min_db, cfg.snr_max_db, cfg.cw_min, cfg.cw_max
            )
            slots = delay_slots(cw, bool(self.router[node]), cfg.cw_max, self.rng)
            process = net.env.process(
                self._rebroadcast(node, frame.next_hop(frame.budget - 1), slots * slot)
            )
            self.pending[(node, *key)] = process

    def _rebroadcast(self, node: int, frame: Frame, delay_s: float) -> Generator[Any, Any, None]:
        try:
            yield self.net.env.timeout(delay_s)
        except simpy.Interrupt:
            return
        self.pending.pop((node, *frame.key), None)
        yield from self.send(node, frame)

    def retry_timeout_s(self, phy: ClassPhy, airtime_s: float) -> float:
        """How long an originator listens for a rebroadcast: the longest client contention
        delay plus the rebroadcast's airtime."""
        cfg = self.cfg
        slots = 2 * cfg.cw_max + 2**cfg.cw_max
        relayed_s = airtime_s + phy.airtime_s(cfg.relay_payload_overhead_bytes) - phy.airtime_s(0)
        return slots * slot_s(phy) + relayed_s

    def await_ack(
        self, node: int, phy: ClassPhy, packet: int, fragment: int, airtime_s: float
    ) -> Generator[Any, Any, bool]:
        """The originator listens for an implicit ACK of its frame; True when it came."""
        net = self.net
        key = (node, packet, fragment)
        if key in self._acked:
            return True
        env, ledger, medium = net.env, net.ledger, net.medium
        medium.set_listening(phy.link, node, True)
        ledger.switch(node, RX + phy.state_offset, env.now)
        yield env.timeout(self.retry_timeout_s(phy, airtime_s))
        ledger.switch(node, SLEEP, env.now)
        medium.stop_listening(phy.link, node)
        return key in self._acked

    def forget(self, node: int, packet: int, fragment: int) -> None:
        self._acked.discard((node, packet, fragment))
