"""External nodes: devices outside the simulation (real BLE hardware) taking part in a run.

What it models
    * :class:`ExternalNode`\\ s are endpoints placed in the topology like any other (appended
      after the generated nodes by :func:`extend`), sending on BLE with one endpoint class of
      their own (:attr:`ExternalPlan.endpoint`), but with no traffic process: each of their
      uplinks is *injected* from outside. :class:`ExternalPort` polls a source every
      ``poll_s`` simulated seconds (:meth:`ExternalHooks.pending`) and starts one uplink per
      injection, in the order the source returns them: the first of a batch at the poll's
      simulated time, the others as much later as they arrived after it on the wall clock
      (scaled by the real-time factor, at most one poll), so injections keep their spacing.
    * An injected uplink is one legacy advertising event (Bluetooth Core Spec v5.3 Vol 6 Part B
      4.4.2): one PDU carrying the payload (cut to the class's BLE MTU) on channels 37, 38, 39,
      through the shared medium, so it meets the simulated traffic (interference, capture, the
      bridges' scan windows and demodulators) and the bridges' positions and path loss. It is
      delivered when a bridge that decoded one of its PDUs has its backhaul up; it reaches the
      network server one backhaul latency later (the first of the up decoders' copies; the
      latencies of external nodes' copies and downlinks are drawn from the run's ``external``
      stream, so injecting leaves every other stream, and the simulated traffic's draws, alone).
    * A downlink to an external node (:meth:`ExternalPort.downlink`, or the routes the hooks
      return for a delivered uplink) goes from the network server through the strongest bridge
      that decoded the node's last delivered uplink and has its backhaul up, one backhaul
      latency later, then over a BLE connection (CONNECT_IND, first connection event, one
      data PDU), like ``mesh.mac``'s BLE downlinks; it is delivered when the bridge-to-node link
      budget at the bridge's BLE power reaches the class's sensitivity.
    * Records: one :class:`UplinkRow` / :class:`DownlinkRow` per injection, handed to the hooks
      as soon as its fate is known (so a caller interrupted mid-run still holds every finished
      row).
    * Real time: :func:`make_env` gives a ``simpy.rt.RealtimeEnvironment`` (``strict=False``:
      a slow step is late, not an error) when a factor is given; ``mesh.simulation.simulate``
      re-anchors its wall clock (``env.sync()``) once the run is set up, just before it starts,
      so the time spent building tables is not caught up in a burst of early steps.

Sources: Bluetooth Core Spec v5.3 Vol 6 Part B 4.4.2 (advertising events), 4.5 (connection
events), 2.3.3.1 (CONNECT_IND); SimPy 4 ``simpy.rt.RealtimeEnvironment``.

Leaves out: external nodes' energy (they are real devices), their traffic on other links,
bridge data allowances and uplink queues for their copies, interference on the BLE data
channels of the downlink connection (data channels are not simulated, as in ``mesh.mac``),
and relaying of their frames (``direct`` strategy only: :func:`check_plan`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import simpy
import simpy.rt

from mesh.config import EndpointConfig, SimConfig
from mesh.forwarding import decoded_mask
from mesh.links import FREQUENCY_HZ
from mesh.records import BELOW_SENSITIVITY, FATE_NAMES
from radios.ble import ADV_CHANNELS, CONNECT_IND_PAYLOAD_BYTES, T_IFS_S
from radios.ble import airtime_s as ble_airtime_s
from topologies.base import PLACE_HOUSE, PLACE_OPEN, ROLE_ENDPOINT, Topology

if TYPE_CHECKING:
    from mesh.simulation import Network

#: Name of the endpoint class of external nodes (reserved: a spec class may not use it).
EXTERNAL_CLASS = "external"
#: transmitWindowDelay before the first connection event (Core Spec Vol 6 Part B 4.5.3).
CONNECT_DELAY_S = 0.00125
#: Share given to the external class (shares must sum to 1; classes are assigned before the
#: external nodes are appended, so it decides nothing).
_NOMINAL_SHARE = 1e-9


class ExternalError(ValueError):
    """An external plan that cannot run (message names the key and what is allowed)."""


class ExternalStop(Exception):
    """Raised inside the run when the source asks to stop (Ctrl-C): ends ``env.run``."""


@dataclass(frozen=True)
class ExternalNode:
    """One outside device placed in the topology."""

    name: str  # e.g. its BLE address
    x_m: float
    y_m: float
    indoor: bool = False


@dataclass(frozen=True)
class ExternalPlan:
    """External nodes, the class they send with, and how the run meets the outside world."""

    nodes: tuple[ExternalNode, ...]
    endpoint: EndpointConfig = dataclasses.field(
        default_factory=lambda: EndpointConfig(
            name=EXTERNAL_CLASS, link="ble", tx_power_dbm=0.0, battery="CR2032"
        )
    )
    #: simulated seconds between two looks at the source
    poll_s: float = 0.05
    #: wall seconds per simulated second (``simpy.rt``); None: as fast as possible
    realtime_factor: float | None = None

    def __post_init__(self) -> None:
        if not self.nodes:
            raise ExternalError("nodes: at least one external node is needed")
        names = [n.name for n in self.nodes]
        if len(set(names)) != len(names):
            raise ExternalError(f"nodes: names must differ, got {names}")
        if self.endpoint.link != "ble" or self.endpoint.links != ("ble",):
            raise ExternalError("endpoint.link: external nodes send on ble only")
        if not (math.isfinite(self.poll_s) and self.poll_s > 0):
            raise ExternalError(f"poll_s must be > 0, got {self.poll_s}")
        factor = self.realtime_factor
        if factor is not None and not (math.isfinite(factor) and factor > 0):
            raise ExternalError(f"realtime_factor must be > 0, got {factor}")


@dataclass(frozen=True)
class Injection:
    """One uplink handed in from outside: ``node`` indexes :attr:`ExternalPlan.nodes`."""

    node: int
    payload: bytes
    wall_s: float = math.nan  # when the outside world saw it (monotonic clock)
    tag: str = ""  # free text carried to the record (e.g. the measured RSSI)
    #: who sent it, carried to the record's ``name`` (e.g. the address of the device holding
    #: a shared slot); empty: the node's own name
    name: str = ""


@dataclass(frozen=True)
class UplinkRow:
    node: int
    name: str
    start_s: float  # simulated time the advertising event started
    wall_s: float
    size_bytes: int
    fate: str  # "delivered" or a drop reason of mesh.records.DROP_REASONS
    bridges: tuple[int, ...]  # bridges that decoded at least one PDU
    best_rssi_dbm: float  # strongest decoded PDU (-inf: none)
    delivered_s: float  # arrival at the network server (NaN unless delivered)
    tag: str
    payload: bytes = b""  # what was sent (cut to the MTU)


@dataclass(frozen=True)
class DownlinkRow:
    node: int
    name: str
    sent_s: float  # simulated time the network server sent it
    size_bytes: int
    fate: str  # "delivered", "no_route", "below_sensitivity"
    bridge: int  # the bridge that carried it (-1: none)
    delivered_s: float
    payload: bytes


class ExternalHooks(Protocol):
    """The outside world as the run sees it. Called from inside the simulation."""

    def pending(self) -> Sequence[Injection] | None:
        """Injections that arrived since the last call, in order; None: stop the run."""
        ...

    def uplink(self, row: UplinkRow) -> Sequence[tuple[int, bytes]]:
        """An injected uplink's fate; return downlinks ``(node, payload)`` the network server
        sends when it arrives (only delivered uplinks' are sent)."""
        ...

    def downlink(self, row: DownlinkRow) -> None:
        """A downlink's fate (delivered ones carry ``payload`` to the device)."""
        ...


def make_env(plan: ExternalPlan | None) -> simpy.Environment:
    """A real-time environment when the plan asks for one, else a plain one."""
    if plan is not None and plan.realtime_factor is not None:
        return simpy.rt.RealtimeEnvironment(factor=plan.realtime_factor, strict=False)
    return simpy.Environment()


def check_plan(config: SimConfig, plan: ExternalPlan) -> None:
    """Refuse what external nodes do not support."""
    if config.routing.strategy != "direct":
        raise ExternalError(
            f"[routing] strategy: external nodes need direct, got {config.routing.strategy!r}"
        )
    if EXTERNAL_CLASS in [c.name for c in config.endpoint_classes]:
        raise ExternalError(f"[[endpoint_class]] name: {EXTERNAL_CLASS!r} is reserved")
    if "ble" not in config.bridge.links:
        raise ExternalError("[bridge] links: bridges must listen on ble to hear external nodes")


def extend(
    config: SimConfig, topo: Topology, class_of_node: np.ndarray, plan: ExternalPlan
) -> tuple[SimConfig, Topology, np.ndarray, np.ndarray]:
    """Append the plan's nodes to the topology as endpoints of one more class.

    Returns the extended configuration, topology, class per node and the node ids of the
    external nodes (in plan order)."""
    check_plan(config, plan)
    k = len(plan.nodes)
    n = topo.n_nodes
    pos = np.array([[node.x_m, node.y_m] for node in plan.nodes], dtype=np.float64)
    outside = (pos[:, 0] < 0) | (pos[:, 0] > topo.width_m)
    outside |= (pos[:, 1] < 0) | (pos[:, 1] > topo.height_m)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise ExternalError(
            f"node {plan.nodes[i].name}: ({pos[i, 0]:g}, {pos[i, 1]:g}) m is outside the study "
            f"area [0, {topo.width_m:g}] x [0, {topo.height_m:g}]"
        )
    indoor = np.array([node.indoor for node in plan.nodes], dtype=bool)
    fields = {name: np.concatenate((col, _padding(col, k))) for name, col in topo.fields.items()}
    extended = dataclasses.replace(
        topo,
        positions_m=np.vstack((topo.positions_m, pos)),
        roles=np.concatenate((topo.roles, np.full(k, ROLE_ENDPOINT, dtype=np.int8))),
        indoor=np.concatenate((topo.indoor, indoor)),
        places=np.concatenate(
            (topo.places, np.where(indoor, PLACE_HOUSE, PLACE_OPEN).astype(np.int8))
        ),
        fields=fields,
    )
    scale = 1.0 - _NOMINAL_SHARE
    classes = tuple(dataclasses.replace(c, share=c.share * scale) for c in config.endpoint_classes)
    ext_class = dataclasses.replace(plan.endpoint, name=EXTERNAL_CLASS, share=_NOMINAL_SHARE)
    config = dataclasses.replace(config, endpoint_classes=(*classes, ext_class))
    ids = np.arange(n, n + k, dtype=np.int64)
    class_of_node = np.concatenate((class_of_node, np.full(k, len(classes), dtype=np.int64)))
    return config, extended, class_of_node, ids


def _padding(column: np.ndarray, k: int) -> np.ndarray:
    kind = column.dtype.kind
    if kind in "US":
        return np.full(k, "", dtype=column.dtype)
    if kind == "f":
        return np.full(k, np.nan)
    if kind in "iu":
        return np.full(k, -1, dtype=np.int64)
    if kind == "b":
        return np.zeros(k, dtype=bool)
    return np.full(k, None, dtype=object)


Process = Generator[Any, Any, None]


class ExternalPort:
    """The live side of a plan inside one run (built by ``mesh.simulation.simulate``)."""

    def __init__(
        self,
        net: Network,
        plan: ExternalPlan,
        hooks: ExternalHooks,
        node_ids: np.ndarray,
        rng: np.random.Generator,
    ) -> None:
        self.net = net
        self.plan = plan
        self.hooks = hooks
        self.node_ids = node_ids.tolist()
        self.rng = rng
        self.phy = net.phy_of(self.node_ids[0], "ble")
        # node index -> a decoded PDU of its last delivered uplink (the downlink route)
        self.last_heard: dict[int, Any] = {}
        self.uplinks = 0
        self.downlinks = 0

    def pump(self) -> Process:
        """Every ``poll_s``: start an uplink per pending injection; stop when told to."""
        env = self.net.env
        while True:
            batch = self.hooks.pending()
            if batch is None:
                raise ExternalStop("stopped from outside")
            first_wall_s = batch[0].wall_s if batch else math.nan
            for item in batch:
                if not 0 <= item.node < len(self.node_ids):
                    raise ExternalError(f"injection for node {item.node}: no such external node")
                env.process(self._uplink(item, self._offset_s(item.wall_s - first_wall_s)))
            yield env.timeout(self.plan.poll_s)

    def _offset_s(self, wall_gap_s: float) -> float:
        """Simulated delay of an injection after the batch's first: its wall-clock gap in
        simulated seconds (within one poll), so a batch keeps its inter-arrival times."""
        factor = self.plan.realtime_factor
        if factor is None or not math.isfinite(wall_gap_s):
            return 0.0
        return min(max(wall_gap_s / factor, 0.0), self.plan.poll_s)

    def _uplink(self, item: Injection, delay_s: float = 0.0) -> Process:
        net = self.net
        if delay_s > 0:
            yield net.env.timeout(delay_s)
        env, medium, phy = net.env, net.medium, self.phy
        node = self.node_ids[item.node]
        size = min(len(item.payload), phy.mtu_bytes)
        airtime_s = phy.airtime_s(size)
        gap_s = phy.config.ble.adv_pdu_gap_s
        start_s = env.now
        heard: set[int] = set()
        decoded: Any = None  # the last PDU some bridge decoded
        best_dbm = -math.inf
        reason = BELOW_SENSITIVITY
        for channel in range(len(ADV_CHANNELS)):
            tx = medium.start(node, "ble", channel, 0, phy.sensitivity_dbm, env.now, airtime_s, -1)
            yield env.timeout(airtime_s)
            medium.end(tx)
            ok = decoded_mask(tx, net.is_bridge)
            if ok.any():
                heard.update(tx.rx[ok].tolist())
                best_dbm = max(best_dbm, float(tx.rssi_dbm[ok].max()))
                decoded = tx
            else:
                reason = max(reason, net.forwarder.missed_reason(tx))
            if channel < len(ADV_CHANNELS) - 1:
                yield env.timeout(gap_s)
        up = [b for b in sorted(heard) if not net.backhaul.down[b]]
        delivered_s = math.nan
        if up:
            fate = "delivered"
            delivered_s = env.now + float(np.min(net.backhaul.latencies_s(len(up), self.rng)))
            self.last_heard[item.node] = decoded
        elif heard:
            fate = "backhaul_down"
        else:
            fate = FATE_NAMES[reason]
        self.uplinks += 1
        row = UplinkRow(
            node=item.node,
            name=item.name or self.plan.nodes[item.node].name,
            start_s=start_s,
            wall_s=item.wall_s,
            size_bytes=size,
            fate=fate,
            bridges=tuple(sorted(heard)),
            best_rssi_dbm=best_dbm,
            delivered_s=delivered_s,
            tag=item.tag,
            payload=item.payload[:size],
        )
        routes = self.hooks.uplink(row)
        if fate != "delivered" or not routes:
            return
        yield env.timeout(max(0.0, delivered_s - env.now))
        for target, payload in routes:
            env.process(self._downlink(target, payload))

    def downlink(self, node: int, payload: bytes) -> simpy.Process:
        """Send ``payload`` from the network server to external node ``node`` now."""
        return self.net.env.process(self._downlink(node, payload))

    def _downlink(self, index: int, payload: bytes) -> Process:
        net = self.net
        env, phy = net.env, self.phy
        sent_s = env.now
        node = self.node_ids[index]
        tx = self.last_heard.get(index)
        bridge = net.best_decoder(tx) if tx is not None else -1
        fate = "no_route"
        delivered_s = math.nan
        if bridge >= 0:
            yield env.timeout(net.backhaul.one_way_s(self.rng))
            gain = net.path_gain.gain_db(np.array([bridge]), np.array([node]), FREQUENCY_HZ["ble"])
            rssi_dbm = net.medium.links["ble"].tx_power_dbm[bridge] + float(gain[0])
            if rssi_dbm >= phy.sensitivity_dbm:
                ble = phy.config.ble
                yield env.timeout(
                    T_IFS_S
                    + ble_airtime_s(CONNECT_IND_PAYLOAD_BYTES, ble.phy)
                    + CONNECT_DELAY_S
                    + ble.data_pdu_airtime_s(len(payload))
                )
                fate = "delivered"
                delivered_s = env.now
            else:
                fate = "below_sensitivity"
        self.downlinks += 1
        self.hooks.downlink(
            DownlinkRow(
                node=index,
                name=self.plan.nodes[index].name,
                sent_s=sent_s,
                size_bytes=len(payload),
                fate=fate,
                bridge=bridge,
                delivered_s=delivered_s,
                payload=payload,
            )
        )
