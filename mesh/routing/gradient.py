"""Gradient routing: relays learn their distance to the nearest bridge from beacons and forward
unicast to a parent, hop by hop, with acknowledgements.

Model:
- Beacons: every bridge (while powered, with its internet up) and every relay that has a route
  sends a beacon every ``beacon_interval_s`` (its own random phase) on each link it relays on,
  advertising its metric (bridges 0) and a sequence number. Beacons go through the medium.
- A relay keeps, per neighbour it heard, the advertised metric and the last ``etx_window``
  sequence numbers heard. Its metric is the best over neighbours heard in the last three beacon
  intervals (and not marked lost) of ``advertised + cost``: cost 1 (``metric = "hops"``) or the
  link's ETX, ``expected / received`` beacons over the window (``metric = "etx"``; one direction
  only, the beacons'). The best neighbour is its parent.
- Data: an endpoint's frame (sent by its own MAC) that a bridge decoded is delivered as under
  ``direct``; otherwise the decoding relay with the best metric (then the strongest signal) takes
  it (anycast first hop: endpoints keep no routing state). A relay sends a frame unicast to its
  parent; the parent, when it decoded it, answers with an ACK ``ack_delay_s`` later through the
  medium and takes the frame (a bridge forwards it; a relay forwards it to its own parent; a
  frame it already has is a duplicate). A missing ACK leads to a retry after a short random
  backoff, up to ``hop_retries`` times; after ``parent_loss`` unacknowledged frames in a row the
  relay marks its parent lost until it hears it beacon again, and takes the next best neighbour.
- A frame carries a TTL (``ttl``) like a flooded one; it is dropped when it would exceed it.

Source: the distance-vector gradient of RPL (RFC 6550: DIO beacons, rank, preferred parent) and
of the Collection Tree Protocol (Gnawali et al., SenSys 2009), with the ETX metric of De Couto et
al., "A High-Throughput Path Metric for Multi-Hop Wireless Routing" (MobiCom 2003).

Leaves out: Trickle timers (beacons are periodic), loop detection beyond the TTL, and ETX of the
reverse direction.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import numpy as np

from mesh.records import DELIVERED
from mesh.routing.base import Frame, Relaying, pdu_channels

if TYPE_CHECKING:
    from mesh.links import ClassPhy
    from mesh.medium import Transmission

#: Beacon payload: metric, sequence number, sender (ASSUMPTION).
BEACON_BYTES = 8
#: ACK payload of one hop (ASSUMPTION).
ACK_BYTES = 1
#: Neighbours not heard for this many beacon intervals are forgotten.
STALE_INTERVALS = 3.0


class _Neighbour:
    __slots__ = ("heard", "last_s", "metric", "seq")

    def __init__(self) -> None:
        self.metric = math.inf
        self.seq = -1
        self.last_s = -math.inf
        self.heard: deque[int] = deque()


class Gradient(Relaying):
    name = "gradient"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        n = self.relay_link.size
        self.metric = np.full(n, math.inf)
        self.parent = np.full(n, -1, dtype=np.int64)
        self.neighbours: dict[int, dict[int, _Neighbour]] = {}
        self.lost: dict[int, set[int]] = {}
        self.misses = np.zeros(n, dtype=np.int64)
        self.beacons = 0
        self.parent_changes = np.zeros(n, dtype=np.int64)
        self._seq = np.zeros(n, dtype=np.int64)

    # -- beacons -----------------------------------------------------------------------------
    def start_beacons(self, nodes: list[tuple[int, ClassPhy]]) -> None:
        """Start one beacon process per (node, link PHY)."""
        interval_s = self.cfg.beacon_interval_s
        for node, phy in nodes:
            phase_s = float(self.rng.uniform(0.0, interval_s))
            self.net.env.process(self._beacon(node, phy, phase_s))

    def _advertised(self, node: int) -> float:
        net = self.net
        if not self.can_relay(node):
            return math.inf
        if net.is_bridge[node]:
            return 0.0 if not net.backhaul.down[node] else math.inf
        return float(self.metric[node]) if self.parent_of(node) >= 0 else math.inf

    def _beacon(self, node: int, phy: ClassPhy, phase_s: float) -> Generator[Any, Any, None]:
        net = self.net
        env = net.env
        interval_s = self.cfg.beacon_interval_s
        yield env.timeout(phase_s)
        end_s = net.duration_s
        while env.now < end_s:
            metric = self._advertised(node)
            if math.isfinite(metric) and self._radio_free(node, phy.link):
                seq = int(self._seq[node])
                self._seq[node] += 1
                self.beacons += 1
                txs = yield from self._frame(node, phy, BEACON_BYTES, channel=0)
                for tx in txs:
                    self._beacon_heard(tx, node, metric, seq)
            yield env.timeout(interval_s)

    def _radio_free(self, node: int, link: str) -> bool:
        """Can ``node`` send a control frame now (a beacon or ACK is skipped otherwise)?"""
        return not self.net.busy[node] and not self.net.medium.transmitting(link, node)

    def _frame(
        self, node: int, phy: ClassPhy, payload_bytes: int, channel: int
    ) -> Generator[Any, Any, list[Transmission]]:
        """``node`` (whose radio is free: :meth:`_radio_free`) sends one control frame (beacon,
        ACK) with ``phy``'s modulation, holding its radio."""
        net = self.net
        net.busy[node] = True
        airtime_s = phy.airtime_s(payload_bytes)
        out = []
        net.ledger.wake(node)
        for ch in pdu_channels(phy, channel):
            out.append((yield from self.pdu(node, phy, ch, airtime_s, -1)))
        net.release_radio(node)
        return out

    def _beacon_heard(self, tx: Transmission, sender: int, metric: float, seq: int) -> None:
        nodes, _ = self.relays_that_decoded(tx)
        now = self.net.env.now
        window = self.cfg.etx_window
        for node in nodes.tolist():
            if self.net.is_bridge[node]:
                continue
            table = self.neighbours.setdefault(node, {})
            entry = table.get(sender)
            if entry is None:
                entry = table[sender] = _Neighbour()
            if seq <= entry.seq:
                continue  # another channel's PDU of the same beacon
            entry.metric = metric
            entry.seq = seq
            entry.last_s = now
            entry.heard.append(seq)
            while entry.heard and entry.heard[0] <= seq - window:
                entry.heard.popleft()
            lost = self.lost.get(node)
            if lost is not None:
                lost.discard(sender)
            if sender == self.parent[node]:
                self._update(node)  # the parent's metric may have grown: look at all
            elif math.isfinite(metric) and metric + self.link_cost(entry) < self.metric[node]:
                self._adopt(node, sender, metric + self.link_cost(entry))

    def link_cost(self, entry: _Neighbour) -> float:
        if self.cfg.metric == "hops":
            return 1.0
        expected = min(self.cfg.etx_window, entry.seq - entry.heard[0] + 1) if entry.heard else 1
        return expected / max(len(entry.heard), 1)

    def _adopt(self, node: int, parent: int, metric: float) -> None:
        if self.parent[node] >= 0 and parent != self.parent[node]:
            self.parent_changes[node] += 1
        self.parent[node] = parent
        self.metric[node] = metric

    def parent_of(self, node: int) -> int:
        """``node``'s parent, recomputed first when it went stale (not heard for three beacon
        intervals)."""
        parent = int(self.parent[node])
        if parent >= 0:
            entry = self.neighbours[node][parent]
            fresh_s = STALE_INTERVALS * self.cfg.beacon_interval_s
            if self.net.env.now - entry.last_s > fresh_s:
                self._update(node)
                parent = int(self.parent[node])
        return parent

    def _update(self, node: int) -> None:
        """Recompute ``node``'s metric and parent from its fresh, not-lost neighbours."""
        now = self.net.env.now
        fresh_s = STALE_INTERVALS * self.cfg.beacon_interval_s
        lost = self.lost.get(node, ())
        best, best_metric = -1, math.inf
        for sender, entry in self.neighbours.get(node, {}).items():
            if sender in lost or now - entry.last_s > fresh_s or not math.isfinite(entry.metric):
                continue
            metric = entry.metric + self.link_cost(entry)
            if metric < best_metric or (metric == best_metric and sender < best):
                best, best_metric = sender, metric
        current = int(self.parent[node])
        if best >= 0 and current >= 0 and current != best and current not in lost:
            held = self.neighbours[node].get(current)
            if held is not None and now - held.last_s <= fresh_s:
                kept = held.metric + self.link_cost(held)
                if kept <= best_metric:  # a tie: keep the parent (no churn between equals)
                    best, best_metric = current, kept
        if best >= 0:
            self._adopt(node, best, best_metric)
        else:
            self.parent[node] = -1
            self.metric[node] = math.inf

    # -- data ---------------------------------------------------------------------------------
    def heard(self, tx: Transmission, frame: Frame, delivered: bool) -> None:
        if delivered or frame.hops > 1:
            return  # a bridge has it; unicast frames are handled by their sender
        nodes, rssi = self.relays_that_decoded(tx)
        keep = ~self.net.is_bridge[nodes]
        nodes, rssi = nodes[keep], rssi[keep]
        routed = np.array([self.parent_of(int(n)) >= 0 for n in nodes.tolist()], dtype=bool)
        nodes, rssi = nodes[routed], rssi[routed]
        if nodes.size == 0:
            return
        metric = self.metric[nodes]
        if not np.isfinite(metric).any():
            return
        order = np.lexsort((-rssi, metric))
        node = int(nodes[order[0]])
        if node == frame.origin or not self.cache(node).add(frame.key):
            return
        if frame.budget >= 2:
            self.net.env.process(self._forward(node, frame.next_hop(frame.budget - 1)))

    def _forward(self, node: int, frame: Frame) -> Generator[Any, Any, None]:
        """``node`` holds ``frame``: send it to its parent until one acknowledges it."""
        net = self.net
        env = net.env
        cfg = self.cfg
        phy = frame.phy
        ack_s = phy.airtime_s(ACK_BYTES)
        for _ in range(1 + cfg.hop_retries):
            parent = self.parent_of(node)
            if parent < 0 or not self.can_relay(node):
                return
            sent = yield from self.send(node, frame, broadcast=False)
            # a bridge whose internet is down takes nothing (and does not beacon)
            got = (
                any(tx.decoded_by(parent) for tx in sent)
                and self.can_relay(parent)
                and not (net.is_bridge[parent] and net.backhaul.down[parent])
            )
            passes_on = self._take(parent, frame) if got else False
            yield env.timeout(cfg.ack_delay_s)
            acked = False
            if got and self._radio_free(parent, phy.link):
                acks = yield from self._frame(parent, phy, ACK_BYTES, frame.channel)
                acked = any(a.decoded_by(node) for a in acks)
            if passes_on:  # the parent sends it on once its ACK is out
                env.process(self._forward(parent, frame.next_hop(frame.budget - 1)))
            if acked:
                self.misses[node] = 0
                return
            self.misses[node] += 1
            if self.misses[node] >= cfg.parent_loss:
                self.misses[node] = 0
                self.lost.setdefault(node, set()).add(parent)
                self._update(node)
            yield env.timeout(float(self.rng.uniform(0.0, 10 * ack_s)))

    def _take(self, parent: int, frame: Frame) -> bool:
        """``parent`` decoded unicast ``frame``: a bridge forwards it; a relay will pass it on
        (True)."""
        net = self.net
        if not self.cache(parent).add(frame.key):
            self.duplicates[parent] += 1
            return False
        if net.is_bridge[parent]:
            fate = self.forward(np.array([parent]), frame)
            if fate != DELIVERED:
                net.records.note_attempt(frame.packet, fate)
            return False
        return frame.budget >= 2
