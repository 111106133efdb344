"""What every relaying strategy shares: frames in flight, relays' radios, delivery and counters.

A relaying strategy (``mesh.routing.flood``, ``.contention``, ``.gradient``) sits where the
foundation's :class:`mesh.forwarding.DirectForwarder` sits: the MAC hands it every uplink frame
once the medium has decided who decoded it. :class:`Relaying` first does what ``direct`` does
(every bridge that decoded the frame forwards it to the network server), then lets the strategy
decide which relays take the frame further (:meth:`Relaying.heard`). A relayed frame goes through
the same medium as any other (interference, capture, half duplex, demodulators) from the relay's
position with the relay's transmit power and the origin's modulation; bridges that decode it
forward it like an endpoint's, with the number of radio hops it took.

Relays: nodes whose role has ``relay = true``: endpoint classes relay on their primary link and
listen on it whenever their radio is free (charged as RX after the run); bridges relay (on all
their links) the frames they cannot forward over their own backhaul (down, or failed). A relay's
radio does one thing at a time: a relayed frame waits while the relay sends its own packets.

Counters: relay transmissions and their airtime per node, duplicate receptions at relays (a
frame already in the node's seen cache), and the hop count (radio hops) of the first copy of
each packet that a bridge forwarded. An optional trace records every frame start and every
reception by a relay or bridge in event order (tests, debugging).

Source: the strategies' own modules. Leaves out: end-to-end acknowledgements across relays (a
class's ``acked`` ACK still comes only from a bridge that decoded the endpoint directly); relaying
of downlinks and of BLE connection transfers (``forward_copy`` stays direct).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import numpy as np

from mesh.config import RoutingConfig
from mesh.forwarding import DirectForwarder, decoded_mask, decoders
from mesh.ledger import RX, SLEEP, TX
from mesh.records import DELIVERED

if TYPE_CHECKING:
    from mesh.links import ClassPhy
    from mesh.medium import Transmission
    from mesh.simulation import Network

Process = Generator[Any, Any, Any]


class Frame:
    """One packet fragment travelling through the mesh: what every copy of it carries."""

    __slots__ = ("budget", "channel", "fragment", "hops", "origin", "packet", "phy", "size_bytes")

    def __init__(
        self,
        origin: int,
        packet: int,
        fragment: int,
        size_bytes: int,
        phy: ClassPhy,
        channel: int,
        hops: int,
        budget: int,
    ) -> None:
        self.origin = origin
        self.packet = packet
        self.fragment = fragment
        self.size_bytes = size_bytes
        self.phy = phy  # the origin's PHY: link, modulation variant, sensitivity, airtime
        self.channel = channel
        self.hops = hops  # radio hops this copy has taken
        self.budget = budget  # TTL (flood, gradient) or hop limit (contention_flood) it carries

    @property
    def key(self) -> tuple[int, int]:
        return (self.packet, self.fragment)

    def next_hop(self, budget: int) -> Frame:
        return Frame(
            self.origin,
            self.packet,
            self.fragment,
            self.size_bytes,
            self.phy,
            self.channel,
            self.hops + 1,
            budget,
        )


class SeenCache:
    """A node's cache of frames it has seen: bounded, oldest evicted first (Bluetooth Mesh
    Profile 3.4.6.5, network message cache)."""

    __slots__ = ("_items", "_size")

    def __init__(self, size: int) -> None:
        self._items: OrderedDict[tuple[int, int], None] = OrderedDict()
        self._size = size

    def add(self, key: tuple[int, int]) -> bool:
        """Remember ``key``; False when it was already there (a duplicate)."""
        if key in self._items:
            return False
        self._items[key] = None
        if len(self._items) > self._size:
            self._items.popitem(last=False)
        return True

    def __contains__(self, key: tuple[int, int]) -> bool:
        return key in self._items


class Relaying:
    """The shared machinery; strategies override :meth:`heard` and :meth:`initial_budget`."""

    name = "base"
    #: originators wait for an implicit ACK (contention_flood)
    implicit_ack = False

    def __init__(
        self,
        net: Network,
        cfg: RoutingConfig,
        direct: DirectForwarder,
        relay_link: np.ndarray,
        relay_offset: np.ndarray,
        router: np.ndarray,
        trace: bool = False,
    ) -> None:
        """``relay_link``: per node, the link code it relays on (-1: not a relay; bridges that
        relay: -2, every link of theirs); ``relay_offset``: ledger offset of the chip a relay
        endpoint relays with; ``router``: contention_flood router role per node."""
        self.net = net
        self.rng = net.ctx.rng("routing")
        self.cfg = cfg
        self.direct = direct
        n = relay_link.size
        self.relay_link = relay_link
        self.relay_offset = relay_offset.tolist()
        self.router = router
        self.is_relay = relay_link != -1
        self._is_relay: list[bool] = self.is_relay.tolist()
        self.relay_frames = np.zeros(n, dtype=np.int64)
        self.relay_tx_s = np.zeros(n)
        self.duplicates = np.zeros(n, dtype=np.int64)  # duplicate receptions at relays
        self.caches: dict[int, SeenCache] = {}
        self.trace: list[tuple[Any, ...]] | None = [] if trace else None
        self.failed = np.zeros(n, dtype=bool)  # nodes that failed for good (mesh.faults)
        self.powered_off = np.zeros(n, dtype=bool)

    # -- the Forwarder protocol -------------------------------------------------------------
    def on_uplink(self, tx: Transmission, fragment: int, t: float, size_bytes: int) -> int:
        fate = self.direct.on_uplink(tx, fragment, t, size_bytes)
        packet = tx.packet
        records = self.net.records
        if fate == DELIVERED and records.hops[packet] == 0:
            records.hops[packet] = 1
        if self.trace is not None:
            self._trace_rx(tx, 1)
        phy = self.net.phy_of(tx.node, tx.link)
        frame = Frame(
            tx.node, packet, fragment, size_bytes, phy, tx.channel, 1, self.initial_budget()
        )
        self.heard(tx, frame, fate == DELIVERED)
        return fate

    def forward_copy(
        self, bridge: int, node: int, packet: int, fragment: int, t: float, size_bytes: int
    ) -> int:
        fate = self.direct.forward_copy(bridge, node, packet, fragment, t, size_bytes)
        if fate == DELIVERED and self.net.records.hops[packet] == 0:
            self.net.records.hops[packet] = 1
        return fate

    def missed_reason(self, tx: Transmission) -> int:
        return self.direct.missed_reason(tx)

    # -- for strategies ---------------------------------------------------------------------
    def initial_budget(self) -> int:
        return self.cfg.ttl

    def heard(self, tx: Transmission, frame: Frame, delivered: bool) -> None:
        """``tx`` carrying ``frame`` ended; bridges already forwarded it (``delivered``)."""
        raise NotImplementedError

    def await_ack(
        self, node: int, phy: ClassPhy, packet: int, fragment: int, airtime_s: float
    ) -> Generator[Any, Any, bool]:
        """Strategies with implicit ACKs: wait for one; True when it came."""
        raise NotImplementedError
        yield

    def cache(self, node: int) -> SeenCache:
        cache = self.caches.get(node)
        if cache is None:
            cache = self.caches[node] = SeenCache(self.cfg.cache_size)
        return cache

    def relays_that_decoded(self, tx: Transmission) -> tuple[np.ndarray, np.ndarray]:
        """The relays (and relaying bridges that cannot forward it) that decoded ``tx``: node
        ids and received powers."""
        rx = tx.rx
        ok = decoded_mask(tx, self.is_relay)
        if not ok.any():
            return rx[:0], tx.rssi_dbm[:0]
        nodes, rssi = rx[ok], tx.rssi_dbm[ok]
        net = self.net
        bridge = net.is_bridge[nodes]
        if bridge.any():
            # a bridge relays only what it cannot forward itself
            can_forward = bridge & ~net.backhaul.down[nodes]
            keep = ~can_forward
            nodes, rssi = nodes[keep], rssi[keep]
        alive = ~(self.failed[nodes] | self.powered_off[nodes])
        return nodes[alive], rssi[alive]

    def deliver(self, tx: Transmission, frame: Frame) -> int:
        """Bridges that decoded relayed frame ``tx`` forward it to the network server; returns
        DELIVERED or the drop reason of the copies (-1: no bridge decoded it)."""
        heard_by = decoders(tx, self.net.is_bridge)
        if heard_by.size == 0:
            return -1  # the origin's attempt already gave the packet its reason
        return self.forward(heard_by, frame)

    def forward(self, bridges: np.ndarray, frame: Frame) -> int:
        """``bridges`` hold a relayed copy of ``frame`` that just ended: they forward it; a
        delivery records the copy's hops and its frame's times."""
        net = self.net
        now = net.env.now
        fate = self.direct.forward_from(
            frame.origin,
            frame.packet,
            frame.phy.link,
            frame.fragment,
            bridges,
            now,
            frame.size_bytes,
        )
        records = net.records
        if fate == DELIVERED:
            if records.hops[frame.packet] == 0:
                records.hops[frame.packet] = frame.hops
            start_s = now - self.airtime_s(frame)
            records.frame_done(frame.packet, start_s, now, net.server.complete[frame.packet])
        return fate

    def airtime_s(self, frame: Frame) -> float:
        return frame.phy.airtime_s(frame.size_bytes + self.cfg.relay_payload_overhead_bytes)

    def can_relay(self, node: int) -> bool:
        return not (self.failed[node] or self.powered_off[node])

    def send(
        self,
        node: int,
        frame: Frame,
        copies: int = 1,
        interval_s: float = 0.0,
        broadcast: bool = True,
    ) -> Generator[Any, Any, list[Transmission]]:
        """``node`` sends ``frame`` ``copies`` times, ``interval_s`` apart, waiting for its radio
        first (an endpoint's own packets hold it). BLE: each copy is an advertising event, one
        PDU on each of the three channels. A ``broadcast`` copy is handed to the network:
        bridges forward it, the strategy's :meth:`heard` sees it (unicast copies are the
        caller's). Returns the transmissions."""
        net = self.net
        env, ledger, medium = net.env, net.ledger, net.medium
        is_bridge = bool(net.is_bridge[node])
        sent: list[Transmission] = []
        # one frame at a time: endpoints' own packets and every relaying process share the lock
        # (bridges take it too among relaying processes; their ACKs and downlinks check that
        # the bridge is not transmitting)
        while net.busy[node]:
            yield net.radio_free(node)
        net.busy[node] = True
        phy = frame.phy
        airtime_s = self.airtime_s(frame)
        for copy in range(copies):
            if copy:
                yield env.timeout(interval_s)
            if not self.can_relay(node) or (is_bridge and medium.transmitting(phy.link, node)):
                break
            ledger.wake(node)
            for channel in pdu_channels(phy, frame.channel):
                if self.trace is not None:
                    self.trace.append(
                        (env.now, "tx", node, frame.packet, frame.fragment, frame.hops)
                    )
                tx = yield from self.pdu(node, phy, channel, airtime_s, frame.packet)
                self.relay_frames[node] += 1
                sent.append(tx)
                if self.trace is not None:
                    self._trace_rx(tx, frame.hops)
                if broadcast:
                    fate = self.deliver(tx, frame)
                    if fate > DELIVERED:  # bridges heard it but could not forward it
                        net.records.note_attempt(frame.packet, fate)
                    self.heard(tx, frame, False)
        net.release_radio(node)
        return sent

    def pdu(
        self, node: int, phy: ClassPhy, channel: int, airtime_s: float, packet: int
    ) -> Generator[Any, Any, Transmission]:
        """``node`` (holding its radio) sends one PDU of ``phy``'s modulation: its ledger is in
        TX meanwhile (then RX for a bridge, sleep for an endpoint) and its airtime counts as
        relaying work."""
        net = self.net
        env, ledger, medium = net.env, net.ledger, net.medium
        is_bridge = bool(net.is_bridge[node])
        ledger.switch(node, TX + (0 if is_bridge else self.relay_offset[node]), env.now)
        tx = medium.start(
            node, phy.link, channel, phy.variant, phy.sensitivity_dbm, env.now, airtime_s, packet
        )
        yield env.timeout(airtime_s)
        medium.end(tx)
        ledger.switch(node, RX if is_bridge else SLEEP, env.now)
        self.relay_tx_s[node] += airtime_s
        return tx

    def _trace_rx(self, tx: Transmission, hops: int) -> None:
        assert self.trace is not None
        net = self.net
        ok = decoded_mask(tx, self.is_relay | net.is_bridge)
        for node in tx.rx[ok].tolist():
            self.trace.append((net.env.now, "rx", node, tx.node, tx.packet, hops))


def pdu_channels(phy: ClassPhy, channel: int) -> list[int]:
    """The channels one transmission uses: BLE an advertising event on all three, the other
    links ``channel``."""
    return [0, 1, 2] if phy.link == "ble" else [channel]


def noise_floor_dbm(phy: ClassPhy) -> float:
    """Thermal noise floor of the receiver, ``-174 + 10 log10(B) + NF`` dBm with NF = 6 dB
    (Semtech SX1276 datasheet 4.1.1.4 sensitivity formula); for FSK and BLE, the sensitivity
    less 10 dB (ASSUMPTION: GFSK needs about 10 dB SNR)."""
    if phy.link == "lora":
        return -174.0 + 10.0 * math.log10(phy.config.lora.bw_hz) + 6.0
    return phy.sensitivity_dbm - 10.0
