"""Downlinks: application -> network server -> a bridge that heard the endpoint -> its next window.

Model:
- The application sends each endpoint of a class with downlinks enabled a message at Poisson
  times (mean ``downlink.interval_s``), drawn up front from the run's ``downlink`` stream.
- The network server routes it to a bridge that decoded the endpoint's last heard uplink: the
  strongest one (``best_rssi``) or the one whose copy arrived first (``first_copy``: with
  independent, identically distributed backhaul latencies that is a uniformly drawn decoder). A
  bridge whose backhaul is down cannot be used; with no usable route the server waits for the
  endpoint's next heard uplink. Server -> bridge takes one draw of the backhaul latency.
- The bridge sends the frame at the start of the endpoint's next receive window: on FSK the next
  window of its slot grid while in beacon sync (``mesh.fsksync``); on LoRa the next of the
  ``rx_windows`` windows opened ``rx_window_spacing_s`` apart after its last uplink (none left:
  the downlink waits for the next uplink, and is routed again). The frame goes through the medium
  like any other (interference, half duplex, sensitivity). A window is skipped when the endpoint
  is busy (its own uplink) or the bridge is transmitting.
- Acknowledged downlinks: the endpoint answers a decoded downlink with an ACK frame; a downlink
  not decoded, or whose ACK the bridge did not decode, is sent again in a later window, up to
  ``retries`` times. The first decode is the delivery (later copies are duplicates). A downlink
  still undelivered ``lifetime_s`` after it was sent expires; one whose lifetime runs past the
  end of traffic (``duration_s``) is ``unfinished`` and left out of the delivery ratio.

Energy: the endpoint is in RX for each downlink frame and in TX for its ACK; empty receive
windows are charged in bulk after the run (FSK: ``mesh.fsksync``; LoRa: :func:`lora_listening`).

Source: Amazon Sidewalk specification (downlinks through the bridge that last heard the endpoint;
FSK receive windows every 3,150 ms; LoRa 5, 10, 15 or 20 windows 5 s apart after an uplink;
acknowledged messages with 0..255 retries and a time to live). Payload sizes, the ACK frame and
the routing choices are ASSUMPTIONS.

LoRa periodic-listen mode: a window every ``periodic_listen_s`` besides those after uplinks, and
a keep-alive frame (:func:`keepalive_process`) after ``keepalive_interval_s`` without an uplink
(first one at a random phase); bridges forget an endpoint silent for ``forget_after_s``, after
which downlinks wait for its next uplink. BLE: the routed bridge holds the downlink until it hears
the endpoint advertise, then connects (``mesh.mac._ble_downlink``).

Leaves out: downlink queues longer than one message per endpoint (messages wait their turn in
order).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from mesh.config import EndpointConfig
from mesh.forwarding import decoders
from mesh.ledger import RX, SLEEP, TX
from mesh.mac import bridge_frame
from mesh.records import LINK_CODE

if TYPE_CHECKING:
    from mesh.links import ClassPhy
    from mesh.medium import Transmission
    from mesh.simulation import Network

#: Downlink fates.
DL_PENDING = -1
DL_DELIVERED = 0
DL_EXPIRED = 1
DL_LOST = 2
DL_UNFINISHED = 3
#: ``lost``: every try failed (``retries`` + 1 tries when acknowledged, else one).
DOWNLINK_FATES: tuple[str, ...] = ("delivered", "expired", "lost", "unfinished")

Process = Generator[Any, Any, None]


class DownlinkRecords:
    """One row per generated downlink, allocated once."""

    def __init__(self, endpoint: np.ndarray, generated_s: np.ndarray) -> None:
        n = int(endpoint.size)
        self.endpoint = np.asarray(endpoint, dtype=np.int64)
        self.generated_s = np.asarray(generated_s, dtype=np.float64)
        self.delivered_s = np.full(n, np.nan)
        self.fate = np.full(n, DL_PENDING, dtype=np.int8)
        self.transmissions = np.zeros(n, dtype=np.int32)
        self.bridge = np.full(n, -1, dtype=np.int64)  # bridge of the delivering (or last) try
        self.link = np.zeros(n, dtype=np.int8)  # link of the delivering (or last) try (LINK_CODE)

    def __len__(self) -> int:
        return int(self.endpoint.size)


def downlink_schedule(
    classes: tuple[EndpointConfig, ...],
    class_of_node: np.ndarray,
    duration_s: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Poisson downlink times per endpoint: (endpoint, time, indptr by node), sorted by node then
    time. A Poisson process on [0, T) is a Poisson(T / mean) count of uniform times."""
    n = class_of_node.size
    mean = np.full(n, np.inf)
    for index, cls in enumerate(classes):
        if cls.downlink.enabled:
            mean[class_of_node == index] = cls.downlink.interval_s
    nodes = np.flatnonzero(np.isfinite(mean))
    counts = np.zeros(n, dtype=np.int64)
    counts[nodes] = rng.poisson(duration_s / mean[nodes])
    endpoint = np.repeat(np.arange(n), counts)
    times = rng.random(endpoint.size) * duration_s
    order = np.lexsort((times, endpoint))
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return endpoint[order], times[order], indptr


class BleHeld:
    """A downlink a bridge holds for a BLE endpoint until it hears the endpoint advertise."""

    __slots__ = ("bridge", "delivered_s", "event", "heard", "payload_bytes", "tries")

    def __init__(self, bridge: int, payload_bytes: int, event: simpy.Event) -> None:
        self.bridge = bridge
        self.payload_bytes = payload_bytes
        self.event = event
        self.heard = False  # the bridge decoded one of the endpoint's current PDUs
        self.tries = 0  # connection events that carried the downlink
        self.delivered_s = math.nan


class Downlinks:
    """Routing state (who last heard each endpoint) and the LoRa window clock of each endpoint."""

    def __init__(self, env: simpy.Environment, n_nodes: int, rng: np.random.Generator) -> None:
        self._env = env
        self.rng = rng
        self.last_heard: dict[int, Transmission] = {}
        self.last_heard_s: dict[int, float] = {}
        self.periodic_offset_s = np.zeros(n_nodes)  # phase of periodic-listen windows
        self._heard: dict[int, simpy.Event] = {}
        self.lora_last_end_s = [-math.inf] * n_nodes
        self.lora_ends_s: dict[int, list[float]] = {}
        # receive windows that held a downlink frame (charged by the MAC, not as empty windows)
        self.used_windows = np.zeros(n_nodes, dtype=np.int64)  # FSK
        self.used_lora = np.zeros(n_nodes, dtype=np.int64)  # LoRa, after uplinks
        self.used_periodic = np.zeros(n_nodes, dtype=np.int64)  # LoRa periodic-listen grid
        self.keepalive_phase_s = np.zeros(n_nodes)  # first keep-alive of a silent endpoint
        self.ble_held: dict[int, BleHeld] = {}

    def heard(self, node: int, tx: Transmission) -> None:
        """The network server got uplink ``tx`` of ``node``: routes follow its decoders."""
        self.last_heard[node] = tx
        self.last_heard_s[node] = self._env.now
        event = self._heard.pop(node, None)
        if event is not None:
            event.succeed()

    def next_uplink(self, node: int) -> simpy.Event:
        """An event that fires when the next uplink of ``node`` is heard."""
        event = self._heard.get(node)
        if event is None:
            event = self._heard[node] = self._env.event()
        return event

    def ble_heard_by(self, node: int, tx: Transmission, is_bridge: np.ndarray) -> None:
        """An advertising PDU of ``node`` ended: did the bridge holding its downlink decode it?"""
        held = self.ble_held[node]
        if not held.heard and tx.decoded_by(held.bridge):
            held.heard = True

    def ble_done(self, node: int) -> None:
        """The connection that carried ``node``'s downlink is over (delivered or lost)."""
        held = self.ble_held.pop(node)
        held.event.succeed()

    def lora_uplink(self, node: int, end_s: float) -> None:
        """A LoRa uplink frame of ``node`` ended: its receive windows restart."""
        self.lora_last_end_s[node] = end_s
        self.lora_ends_s.setdefault(node, []).append(end_s)

    def lora_next_window_s(
        self, node: int, t: float, count: int, spacing_s: float, periodic_s: float = 0.0
    ) -> float:
        """The first window at or after ``t``: of those after the last uplink, or (periodic-listen
        mode) of the periodic grid; inf: none left until the next uplink."""
        end = self.lora_last_end_s[node]
        after_uplink = math.inf
        if count and end > -math.inf:
            k = max(1, math.ceil((t - end) / spacing_s - 1e-9))
            after_uplink = end + k * spacing_s if k <= count else math.inf
        if not periodic_s:
            return after_uplink
        offset = float(self.periodic_offset_s[node])
        grid = offset + max(0.0, math.ceil((t - offset) / periodic_s - 1e-9)) * periodic_s
        return min(after_uplink, grid)


def lora_listening(
    ends_s: dict[int, list[float]],
    n_nodes: int,
    count: np.ndarray,
    spacing_s: np.ndarray,
    window_s: np.ndarray,
    horizon_s: float,
    used_windows: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Receiver on-time and wake-ups of empty LoRa receive windows: after each uplink ending at
    ``e``, windows at ``e + k * spacing`` for ``k = 1..count`` before the next uplink and the
    horizon (per-node ``count``, ``spacing_s``, ``window_s``)."""
    rx_s = np.zeros(n_nodes)
    wakes = np.zeros(n_nodes, dtype=np.int64)
    if not ends_s:
        return rx_s, wakes
    nodes = np.fromiter(ends_s.keys(), dtype=np.int64, count=len(ends_s))
    lengths = np.fromiter((len(v) for v in ends_s.values()), dtype=np.int64, count=nodes.size)
    owner = np.repeat(nodes, lengths)
    end = np.concatenate([np.asarray(v, dtype=np.float64) for v in ends_s.values()])
    following = np.append(end[1:], math.inf)
    last = np.cumsum(lengths) - 1  # each node's last uplink: its windows run to the horizon
    following[last] = math.inf
    limit = np.minimum(following, horizon_s)
    windows = np.clip(np.ceil((limit - end) / spacing_s[owner]) - 1, 0, count[owner])
    total = np.bincount(owner, weights=windows, minlength=n_nodes).astype(np.int64)
    total = np.maximum(total - used_windows, 0)
    total[~np.isin(np.arange(n_nodes), nodes)] = 0
    rx_s[:] = total * window_s
    wakes[:] = total
    return rx_s, wakes


def downlink_process(
    net: Network,
    node: int,
    phys: dict[str, ClassPhy],
    first: int,
    times_s: list[float],
) -> Process:
    """Every downlink of one endpoint, in order. ``phys``: the endpoint's links; a downlink
    travels on the link of the endpoint's last heard uplink (the route's)."""
    env, dl, records = net.env, net.downlinks, net.downlink_records
    assert dl is not None and records is not None
    phy = next(iter(phys.values()))
    cfg = phy.config
    dcfg = cfg.downlink
    end_s = net.duration_s
    for k, t_gen in enumerate(times_s):
        d = first + k
        if env.now < t_gen:
            yield env.timeout(t_gen - env.now)
        deadline = t_gen + dcfg.lifetime_s
        limit = min(deadline, end_s)
        tries = 0
        bridge = -1
        while True:
            if env.now >= limit:
                records.fate[d] = DL_EXPIRED if deadline <= end_s else DL_UNFINISHED
                break
            if bridge < 0:
                heard = dl.last_heard.get(node)
                forget_s = _forget_after_s(phys[heard.link]) if heard is not None else math.inf
                route = net.downlink_route(node, dcfg.route, forget_s)
                route_phy = phys[heard.link] if heard is not None else phy
                if route < 0:
                    yield dl.next_uplink(node) | env.timeout(limit - env.now)
                    continue
                limits = net.limits
                if limits is not None and not limits.charge_downlink(
                    route, env.now, dcfg.payload_bytes + net.backhaul_overhead_bytes
                ):  # the owner's allowance is used up: wait for an uplink through another bridge
                    yield dl.next_uplink(node) | env.timeout(limit - env.now)
                    continue
                yield env.timeout(net.backhaul.one_way_s(dl.rng))
                bridge = route
                phy = route_phy  # the link of the uplink the route was chosen from
                records.link[d] = LINK_CODE[phy.link]
                continue
            if phy.link == "ble":  # the bridge waits for the endpoint to advertise
                held = BleHeld(bridge, dcfg.payload_bytes, env.event())
                dl.ble_held[node] = held
                yield held.event | env.timeout(limit - env.now)
                if not held.event.triggered:
                    if not held.heard:  # not heard in time
                        del dl.ble_held[node]
                        continue
                    yield held.event  # heard: its connection is about to end
                tries += 1
                records.transmissions[d] += held.tries
                records.bridge[d] = bridge
                if not math.isnan(held.delivered_s):
                    records.delivered_s[d] = held.delivered_s
                    records.fate[d] = DL_DELIVERED
                    break
                if tries > dcfg.retries:
                    records.fate[d] = DL_LOST
                    break
                bridge = -1  # the connection was lost: route it again
                continue
            window = _next_window(net, node, phy, env.now)
            if math.isinf(window):  # LoRa: no window until the next uplink; route it again
                bridge = -1
                yield dl.next_uplink(node) | env.timeout(limit - env.now)
                continue
            if window >= limit:
                yield env.timeout(limit - env.now)
                continue
            if window > env.now:
                yield env.timeout(window - env.now)
                if abs(_next_window(net, node, phy, window) - window) > 1e-9:
                    continue  # an uplink in between restarted the windows: find the next one
            if net.busy[node] or net.medium.transmitting(phy.link, bridge):
                yield env.timeout(1e-6)  # this window is lost; wait for the next one
                continue
            net.busy[node] = True
            tries += 1
            records.transmissions[d] += 1
            records.bridge[d] = bridge
            decoded = yield from _send_downlink(net, node, phy, bridge, dcfg.payload_bytes)
            if decoded and math.isnan(records.delivered_s[d]):
                records.delivered_s[d] = env.now
            confirmed = decoded
            if decoded and dcfg.acked:
                confirmed = yield from _send_downlink_ack(net, node, phy, bridge)
            net.release_radio(node)
            if confirmed:
                records.fate[d] = DL_DELIVERED
                break
            if not dcfg.acked or tries > dcfg.retries:
                delivered = not math.isnan(records.delivered_s[d])  # only its ACK was lost
                records.fate[d] = DL_DELIVERED if delivered else DL_LOST
                break


def _forget_after_s(phy: ClassPhy) -> float:
    """How long bridges remember an endpoint that went silent (periodic-listen mode only)."""
    lora = phy.config.lora_link
    return lora.forget_after_s if phy.link == "lora" and lora.periodic_listen_s else math.inf


def keepalive_process(net: Network, node: int, phy: ClassPhy) -> Process:
    """Periodic-listen mode: a keep-alive frame whenever the endpoint has sent nothing on LoRa
    for ``keepalive_interval_s``, until the end of traffic. A bridge that decodes it (with its
    backhaul up) refreshes the endpoint's downlink route."""
    env, dl = net.env, net.downlinks
    assert dl is not None
    lora = phy.config.lora_link
    off = phy.state_offset
    airtime_s = phy.airtime_s(lora.keepalive_bytes)
    while True:
        last_s = dl.lora_last_end_s[node]
        due_s = (
            last_s + lora.keepalive_interval_s
            if last_s > -math.inf
            else float(dl.keepalive_phase_s[node])  # random phase: no network-wide lockstep
        )
        if due_s >= net.duration_s:
            return
        if env.now < due_s:
            yield env.timeout(due_s - env.now)
            continue
        if net.busy[node]:  # an uplink (or a downlink window) is under way: it will do
            yield net.radio_free(node)
            if env.now >= net.duration_s:
                return
            continue
        net.busy[node] = True
        net.ledger.wake(node)
        net.ledger.switch(node, TX + off, env.now)
        channel = int(dl.rng.integers(phy.channels))
        frame = net.medium.start(
            node, phy.link, channel, phy.variant, phy.sensitivity_dbm, env.now, airtime_s, -1
        )
        net.keepalive_frames += 1
        yield env.timeout(airtime_s)
        net.medium.end(frame)
        net.ledger.switch(node, SLEEP, env.now)
        net.release_radio(node)
        dl.lora_uplink(node, env.now)
        if net.observations is not None:
            heard_by = decoders(frame, net.is_bridge)
            if heard_by.size:
                net.observations.observe(node, heard_by, env.now)
        if net.best_decoder(frame) >= 0:
            dl.heard(node, frame)


def _next_window(net: Network, node: int, phy: ClassPhy, t: float) -> float:
    if phy.link == "fsk":
        assert net.fsk_sync is not None
        return net.fsk_sync.next_window_s(node, t)
    assert net.downlinks is not None
    lora_link = phy.config.lora_link
    return net.downlinks.lora_next_window_s(
        node, t, lora_link.rx_windows, lora_link.rx_window_spacing_s, lora_link.periodic_listen_s
    )


def _on_periodic_grid(dl: Downlinks, node: int, phy: ClassPhy, t: float) -> bool:
    period_s = phy.config.lora_link.periodic_listen_s
    if not period_s:
        return False
    k = (t - float(dl.periodic_offset_s[node])) / period_s
    return abs(k - round(k)) < 1e-9


def _send_downlink(
    net: Network, node: int, phy: ClassPhy, bridge: int, payload_bytes: int
) -> Generator[Any, Any, bool]:
    """The bridge sends one downlink frame in the endpoint's window; did the endpoint decode it?"""
    assert net.downlinks is not None
    dl = net.downlinks
    if phy.link == "fsk":
        dl.used_windows[node] += 1
    elif _on_periodic_grid(dl, node, phy, net.env.now):
        dl.used_periodic[node] += 1
    else:
        dl.used_lora[node] += 1
    channel = int(dl.rng.integers(phy.channels))
    net.ledger.wake(node)
    net.ledger.switch(node, RX + phy.state_offset, net.env.now)
    net.downlink_frames += 1
    return (yield from bridge_frame(net, node, phy, bridge, channel, payload_bytes))


def _send_downlink_ack(
    net: Network, node: int, phy: ClassPhy, bridge: int
) -> Generator[Any, Any, bool]:
    """The endpoint acknowledges a decoded downlink; did the bridge decode the ACK?"""
    env, ledger, medium = net.env, net.ledger, net.medium
    assert net.downlinks is not None
    cfg = phy.config
    channel = int(net.downlinks.rng.integers(phy.channels))
    airtime_s = phy.airtime_s(cfg.ack_payload_bytes)
    ledger.switch(node, TX + phy.state_offset, env.now)
    ack = medium.start(
        node, phy.link, channel, phy.variant, phy.sensitivity_dbm, env.now, airtime_s, -1
    )
    net.ack_frames += 1
    yield env.timeout(airtime_s)
    medium.end(ack)
    ledger.switch(node, SLEEP, env.now)
    heard = ack.decoded_by(bridge)
    if heard and net.observations is not None:  # the bridge's owner sees the ACK too
        net.observations.observe(node, np.array([bridge]), env.now)
    return heard
