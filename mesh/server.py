"""The network server: deduplicates uplinks heard by several bridges and stamps delivery.

Model: Sidewalk's cloud network server receives every copy that a bridge forwards; the first copy
of each (packet, fragment) counts, later ones are duplicates. A packet is delivered when the last
of its fragments has arrived; its delivery time is that arrival.

Whether a packet is complete is known the moment its last fragment is forwarded; *when* the first
copy arrives only matters to the latency metrics, so each forwarding is logged (time, number of
copies, one uniform draw of the backhaul stream) and the arrival times are computed for all of
them at once after the run (``stamp``), with the backhaul's latency model.

Source: Amazon Sidewalk architecture (bridges forward to the Sidewalk network server, which
de-duplicates and routes to the application server), "Amazon Sidewalk Privacy and Security
Whitepaper", 2020/2023.

Leaves out: server processing time (downlinks are ``mesh.downlink``'s).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mesh.records import PacketRecords


class NetworkServer:
    def __init__(self, records: PacketRecords) -> None:
        self._records = records
        self._fragments: dict[int, set[int]] = {}  # fragments seen, multi-fragment packets only
        self.complete = np.zeros(len(records), dtype=bool)
        size = max(1024, len(records))
        self._packet = np.empty(size, dtype=np.int64)
        self._fragment = np.empty(size, dtype=np.int32)
        self._sent_s = np.empty(size)
        self._copies = np.empty(size, dtype=np.int64)
        self._uniform = np.empty(size)
        self._n = 0

    def receive(self, packet: int, fragment: int, copies: int, t: float, uniform: float) -> None:
        """Take ``copies`` (> 0) copies of one fragment that left their bridges at ``t``;
        ``uniform`` is the backhaul's draw for the first copy's latency (NaN: ``t`` is already
        the first copy's arrival)."""
        n = self._n
        if n == self._packet.size:
            self._grow()
        self._packet[n] = packet
        self._fragment[n] = fragment
        self._sent_s[n] = t
        self._copies[n] = copies
        self._uniform[n] = uniform
        self._n = n + 1
        self._records.copies[packet] += copies
        n_fragments = int(self._records.fragments[packet])
        if n_fragments == 1:
            self.complete[packet] = True
            return
        seen = self._fragments.setdefault(packet, set())
        seen.add(fragment)
        if len(seen) == n_fragments:
            self.complete[packet] = True

    def _grow(self) -> None:
        for name in ("_packet", "_fragment", "_sent_s", "_copies", "_uniform"):
            old = getattr(self, name)
            new = np.empty(2 * old.size, dtype=old.dtype)
            new[: old.size] = old
            setattr(self, name, new)

    def forget(self, packet: int) -> None:
        """The endpoint is done with ``packet``: drop its reassembly state."""
        self._fragments.pop(packet, None)

    def stamp(
        self, first_arrival_s: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
    ) -> None:
        """Write every complete packet's delivery time: per (packet, fragment) the earliest
        first-copy arrival, per packet the latest of its fragments'."""
        n = self._n
        if n == 0:
            return
        packet = self._packet[:n]
        fragment = self._fragment[:n].astype(np.int64)
        arrival = first_arrival_s(self._sent_s[:n], self._copies[:n], self._uniform[:n])
        max_fragments = int(fragment.max()) + 1
        key = packet * max_fragments + fragment
        order = np.lexsort((arrival, key))
        key, arrival, packet = key[order], arrival[order], packet[order]
        first = np.ones(key.size, dtype=bool)
        first[1:] = key[1:] != key[:-1]
        per_fragment_packet = packet[first]
        per_fragment_arrival = arrival[first]
        delivered = self._records.delivered_s
        delivered[:] = np.nan
        latest = np.full(len(self._records), -np.inf)
        np.maximum.at(latest, per_fragment_packet, per_fragment_arrival)
        done = self.complete
        delivered[done] = latest[done]
