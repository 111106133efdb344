"""Managed flooding, as Bluetooth Mesh relays do it.

Model: every frame carries a TTL, set to ``ttl`` by its origin. A relay that decodes a frame it
has not seen (its seen cache, ``cache_size`` entries, oldest evicted first) and whose TTL is at
least 2 retransmits it with the TTL decremented: after a random delay U(0, relay_delay_max_s),
``1 + relay_retransmits`` times, ``relay_interval_s`` apart (BLE: each time an advertising event
on the three channels). A frame already in the cache is a duplicate and is dropped. With TTL 7 a
frame makes at most 7 radio hops.

Source: Bluetooth SIG, Mesh Profile 1.0.1, 3.4.6.3 (relay rule: TTL >= 2, decrement), 3.4.6.5
(network message cache), 4.2.20 (Relay Retransmit Count and Interval Steps; the defaults here,
2 retransmissions 20 ms apart, are typical provisioner settings).

Leaves out: the network PDU's own fields (IV index, SEQ, obfuscation): a frame is identified by
its packet and fragment; subnet and friend/low-power features.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from mesh.routing.base import Frame, Relaying

if TYPE_CHECKING:
    from mesh.medium import Transmission


class Flood(Relaying):
    name = "flood"

    def heard(self, tx: Transmission, frame: Frame, delivered: bool) -> None:
        nodes, _ = self.relays_that_decoded(tx)
        if nodes.size == 0:
            return
        cfg = self.cfg
        net = self.net
        key = frame.key
        for node in nodes.tolist():
            if node == frame.origin:
                continue
            if not self.cache(node).add(key):
                self.duplicates[node] += 1
                continue
            if frame.budget < 2:
                continue
            delay_s = float(self.rng.uniform(0.0, cfg.relay_delay_max_s))
            net.env.process(self._relay(node, frame.next_hop(frame.budget - 1), delay_s))

    def _relay(self, node: int, frame: Frame, delay_s: float) -> Generator[Any, Any, None]:
        yield self.net.env.timeout(delay_s)
        yield from self.send(node, frame, 1 + self.cfg.relay_retransmits, self.cfg.relay_interval_s)
