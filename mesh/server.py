"""The network server: deduplicates uplinks heard by several bridges and stamps delivery.

Model: Sidewalk's cloud network server receives every copy that a bridge forwards; the first copy
of each (packet, fragment) counts, later ones are duplicates. A packet is delivered when the last
of its fragments has arrived; its delivery time is that arrival.

Source: Amazon Sidewalk architecture (bridges forward to the Sidewalk network server, which
de-duplicates and routes to the application server), "Amazon Sidewalk Privacy and Security
Whitepaper", 2020/2023.

Leaves out: server processing time, downlink scheduling (a later issue).
"""

from __future__ import annotations

import math

from mesh.records import PacketRecords


class NetworkServer:
    def __init__(self, records: PacketRecords) -> None:
        self._records = records
        self._fragments: dict[int, list[float]] = {}  # first arrival per fragment, in flight only

    def receive(self, packet: int, fragment: int, copies: int, first_arrival_s: float) -> None:
        """Take ``copies`` (> 0) copies of one fragment, the first arriving at the given time."""
        records = self._records
        records.copies[packet] += copies
        n_fragments = int(records.fragments[packet])
        if n_fragments == 1:
            if not first_arrival_s >= records.delivered_s[packet]:  # NaN or earlier
                records.delivered_s[packet] = first_arrival_s
            return
        firsts = self._fragments.setdefault(packet, [math.inf] * n_fragments)
        firsts[fragment] = min(firsts[fragment], first_arrival_s)
        if all(math.isfinite(x) for x in firsts):
            records.delivered_s[packet] = max(firsts)

    def forget(self, packet: int) -> None:
        """The endpoint is done with ``packet``: drop its reassembly state."""
        self._fragments.pop(packet, None)
