"""Wiring and running one simulation: ``simulate(config) -> SimResult``.

``simulate`` is a pure function of the configuration (and of an optional pre-built topology): it
makes the context (clock + seeded streams), lays out the topology, assigns endpoint classes, builds
one neighbour table per link in use, starts one SimPy process per endpoint, runs until every
endpoint is done with its last packet, then settles every packet's fate and delivery time. A
relaying strategy (``mesh.routing``), mobile endpoints (``mesh.movers``) and faults
(``mesh.faults``) are wired in when the configuration asks for them. The result holds raw records
only; summaries are computed by ``experiments``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import simpy
import simpy.rt

import topologies
from mesh.backhaul import Backhaul
from mesh.bridgelimits import BridgeLimits, accounts
from mesh.config import LINKS, EndpointConfig, SimConfig
from mesh.context import SimContext
from mesh.coverage import covered, probe_grid
from mesh.downlink import (
    DownlinkRecords,
    Downlinks,
    downlink_process,
    downlink_schedule,
    keepalive_process,
    lora_listening,
)
from mesh.external import ExternalHooks, ExternalPlan, ExternalPort, extend, make_env
from mesh.faults import FaultEngine, FaultError, Jammer, jammer_phase_s, plan_faults
from mesh.forwarding import FORWARDERS, Forwarder, best_decoder, decoders
from mesh.fsksync import FskSync, draw_sync
from mesh.ledger import RX, SECOND_CHIP, SLEEP, StateLedger
from mesh.links import (
    BAND,
    FREQUENCY_HZ,
    ClassPhy,
    class_phy,
    packet_energy_j,
    sir_thresholds_db,
    sir_weights,
)
from mesh.mac import endpoint_process
from mesh.medium import (
    CACHE_FLOATS,
    LinkMedium,
    Medium,
    ScanSchedule,
    Transmission,
    dbm_to_mw,
)
from mesh.mobility import (
    Trajectory,
    random_waypoint_area,
    random_waypoint_streets,
    street_graph,
)
from mesh.movers import Movers
from mesh.neighbours import NeighbourTable, build_table
from mesh.pathgain import PathGain
from mesh.privacy import LinkabilityAccumulator, LinkabilityResult
from mesh.records import LINK_CODE, PacketRecords
from mesh.routing import STRATEGIES, Relaying
from mesh.routing.gradient import Gradient
from mesh.server import NetworkServer
from mesh.traffic import build_schedule
from radios.energy import BATTERIES, NRF52840_MCU, RADIO_PROFILES
from topologies.base import ROLE_BRIDGE, Topology

#: FSK sync losses are drawn up to the end of traffic plus this margin (no run lasts longer: the
#: last frames, retries and downlinks end within seconds to minutes of ``duration_s``); after it
#: the endpoints are taken to stay in sync.
SYNC_MARGIN_S = 3600.0


class SimulationError(ValueError):
    """The configuration cannot be simulated (e.g. a CSV class name that no class has)."""


@dataclass(frozen=True)
class SimResult:
    config: SimConfig
    topology: Topology
    class_of_node: np.ndarray  # endpoint class index per node, -1 for bridges
    records: PacketRecords
    state_durations_s: np.ndarray  # (n_nodes, 4): sleep, idle, rx, tx (both chips together)
    chip_durations_s: np.ndarray  # (n_nodes, 7): sleep, then idle/rx/tx of each chip
    charge_c: np.ndarray  # (n_nodes, 5): sleep, idle, rx, tx, mcu (coulombs; bridges 0)
    battery_voltage_v: np.ndarray  # per node (NaN for bridges)
    battery_capacity_c: np.ndarray  # per node (NaN for bridges)
    battery_leakage_a: np.ndarray  # self-discharge as a current, per node (NaN for bridges)
    horizon_s: float
    area_coverage: dict[str, float]  # per link in use
    area_link: str  # the link whose coverage is reported as area_coverage
    neighbour_pairs: dict[str, int]
    transmissions: int
    ack_frames: int
    downlinks: DownlinkRecords
    downlink_frames: int
    keepalive_frames: int
    fsk_sync: FskSync | None  # beacon sync of FSK endpoints (None: no FSK endpoints)
    account_of_node: np.ndarray  # account index of each bridge (-1: not a bridge)
    bridge_load: BridgeLimits  # per-bridge copies, bytes, queueing and drops (booked)
    linkability: LinkabilityResult | None  # per-endpoint linkable intervals (privacy.observe)
    routing: Relaying | None = None  # the relaying strategy's counters (None: direct)
    relay_listen_s: np.ndarray | None = None  # per node: time relays listened instead of sleeping
    faults: FaultEngine | None = None  # fault windows and recovery times (None: no faults)
    movers: Movers | None = None  # trajectories of mobile endpoints (None: nobody moves)
    collisions: int = 0  # receptions lost to interference, every frame and receiver
    reached: np.ndarray | None = None  # per node: a bridge can decode it (static tables)
    external: ExternalPort | None = None  # external nodes' port (None: none)

    @property
    def endpoint_ids(self) -> np.ndarray:
        return self.topology.endpoint_ids

    @property
    def latency_split(self) -> dict[str, np.ndarray]:
        """Per-packet latency components (``PacketRecords.latency_split``)."""
        return self.records.latency_split()


class Network:
    """Everything the processes of one run share. Built by :func:`build_network`."""

    def __init__(
        self,
        ctx: SimContext,
        medium: Medium,
        ledger: StateLedger,
        records: PacketRecords,
        server: NetworkServer,
        forwarder: Forwarder,
        path_gain: PathGain,
        is_bridge: np.ndarray,
        backhaul: Backhaul,
        duration_s: float,
        downlinks: Downlinks | None = None,
        downlink_records: DownlinkRecords | None = None,
        fsk_sync: FskSync | None = None,
        limits: BridgeLimits | None = None,
        backhaul_overhead_bytes: int = 0,
        observations: LinkabilityAccumulator | None = None,
    ) -> None:
        self.ctx = ctx
        self.env = ctx.env
        self.mac_rng = ctx.rng("mac")
        self.medium = medium
        self.ledger = ledger
        self.records = records
        self.server = server
        self.forwarder = forwarder
        self.path_gain = path_gain
        self.is_bridge = is_bridge
        self.ack_frames = 0
        self.backhaul = backhaul
        self.finished_packets = np.zeros(len(records), dtype=bool)
        self.duration_s = duration_s
        self.downlinks = downlinks
        self.downlink_records = downlink_records
        self.downlink_frames = 0
        self.keepalive_frames = 0
        self.fsk_sync = fsk_sync
        self.limits = limits
        self.backhaul_overhead_bytes = backhaul_overhead_bytes
        self.observations = observations
        self._reach: dict[str, list[bool]] = {}
        # an endpoint's radio does one thing at a time: its uplinks (the whole packet, with
        # LBT, retries and ACK windows), a downlink window or a keep-alive
        self.busy = [False] * is_bridge.size
        self._radio_free: dict[int, simpy.Event] = {}
        self.routing: Relaying | None = None  # a relaying strategy (None: direct)
        self.failed: np.ndarray | None = None  # per node: failed for good (mesh.faults)
        self.link_phys: list[dict[str, ClassPhy]] = []
        self.class_of_node: list[int] = []

    def phy_of(self, node: int, link: str) -> ClassPhy:
        """The PHY endpoint ``node`` sends with on ``link``."""
        return self.link_phys[self.class_of_node[node]][link]

    def uplink_heard(self, node: int, phy: ClassPhy, tx: Transmission, delivered: bool) -> None:
        """After an uplink frame of an endpoint that listens: restart its LoRa windows and, when
        the network server got the frame, keep it as the endpoint's last heard uplink."""
        dl = self.downlinks
        assert dl is not None
        cfg = phy.config
        if phy.link == "lora":
            dl.lora_uplink(node, self.env.now)
        if delivered and cfg.downlink.enabled:
            dl.heard(node, tx)

    def radio_free(self, node: int) -> simpy.Event:
        """An event that fires when ``node``'s radio is released."""
        event = self._radio_free.get(node)
        if event is None:
            event = self._radio_free[node] = self.env.event()
        return event

    def release_radio(self, node: int) -> None:
        self.busy[node] = False
        event = self._radio_free.pop(node, None)
        if event is not None:
            event.succeed()

    def choose_link(self, node: int, phys: list[ClassPhy]) -> int:
        """Index in ``phys`` (the endpoint's links in order of preference) of the first link
        reachable now: BLE and LoRa when some bridge can decode the endpoint (static), FSK when
        in beacon sync. None reachable: the last one."""
        for index, phy in enumerate(phys):
            if phy.link == "fsk":
                sync = self.fsk_sync
                if sync is not None and sync.synced_from_s(node, self.env.now) == self.env.now:
                    return index
            elif self._reaches_now(node, phy.link):
                return index
        return len(phys) - 1

    def _reaches_now(self, node: int, link: str) -> bool:
        movers = self.medium.movers
        if movers is None or not movers.is_mobile(node):
            return self.reaches(link)[node]
        lm = self.medium.links[link]
        rx, _ = movers.row(
            node,
            link,
            self.env.now,
            lm.tx_power_dbm[node],
            lm.table.thresholds[node],
            lm.frequency_hz,
        )
        return bool(self.is_bridge[rx].any())

    def reaches(self, link: str) -> list[bool]:
        """Per node: can some bridge decode its frames on ``link`` (from the neighbour table)."""
        reach = self._reach.get(link)
        if reach is None:
            table = self.medium.links[link].table
            n = self.is_bridge.size
            owner = np.repeat(np.arange(n), np.diff(table.indptr))
            mask = np.zeros(n, dtype=bool)
            mask[owner[self.is_bridge[table.index]]] = True
            reach = self._reach[link] = mask.tolist()
        return reach

    def downlink_route(self, node: int, route: str, forget_after_s: float = math.inf) -> int:
        """The bridge the network server sends ``node``'s downlink through, among those that
        decoded its last heard uplink and have their backhaul up now (-1: none, or the last
        uplink is older than ``forget_after_s``)."""
        assert self.downlinks is not None
        tx = self.downlinks.last_heard.get(node)
        if tx is None or self.env.now - self.downlinks.last_heard_s[node] > forget_after_s:
            return -1
        if route == "best_rssi":
            return self.best_decoder(tx)
        up = decoders(tx, self.is_bridge & ~self.backhaul.down)
        return int(up[self.downlinks.rng.integers(up.size)]) if up.size else -1

    def best_decoder(self, tx: Transmission) -> int:
        """The strongest decoding bridge whose backhaul is up (-1: none)."""
        if self.backhaul.n_down:
            return best_decoder(tx, self.is_bridge & ~self.backhaul.down)
        return best_decoder(tx, self.is_bridge)

    def channel_busy(self, node: int, link: str, channel: int, threshold_dbm: float) -> bool:
        """Listen-before-talk: is any transmission on the channel heard at ``node`` above the
        threshold? Gains are computed for the (few) transmissions on air."""
        if self.medium.jammers and self.medium.jammed(link, node, self.env.now, threshold_dbm):
            return True
        on_air = [tx for tx in self.medium.on_air(link, channel) if tx.node != node]
        if not on_air:
            return False
        senders = np.array([tx.node for tx in on_air], dtype=np.int64)
        me = np.full(senders.size, node, dtype=np.int64)
        tx_power = self.medium.links[link].tx_power_dbm
        power = tx_power[senders] + self.path_gain.gain_db(senders, me, FREQUENCY_HZ[link])
        movers = self.medium.movers
        if movers is not None:
            for k, tx in enumerate(on_air):
                if movers.is_mobile(tx.node):
                    power[k] = movers.power_dbm(
                        tx.node, me[:1], tx.start_s, tx_power[tx.node], FREQUENCY_HZ[link]
                    )[0]
        return bool(np.any(power >= threshold_dbm))


def listener_slot(n_nodes: int, listeners: np.ndarray) -> np.ndarray:
    """Index of each node among ``listeners`` (-1 for the others)."""
    slot = np.full(n_nodes, -1, dtype=np.int64)
    slot[listeners] = np.arange(listeners.size)
    return slot


def assign_classes(
    topo: Topology, classes: tuple[EndpointConfig, ...], rng: np.random.Generator
) -> np.ndarray:
    """Endpoint class per node: by the CSV ``class`` column when present, else by the shares
    (largest-remainder rounding of share x count, then a random permutation)."""
    class_of_node = np.full(topo.n_nodes, -1, dtype=np.int64)
    endpoints = topo.endpoint_ids
    if "class" in topo.fields:
        names = [c.name for c in classes]
        column = topo.fields["class"]
        for node in endpoints.tolist():
            name = str(column[node])
            if name not in names:
                raise SimulationError(
                    f"topology CSV row {int(topo.fields['csv_row'][node]) + 2}: class {name!r} "
                    f"is not a defined endpoint class ({', '.join(names)})"
                )
            class_of_node[node] = names.index(name)
        return class_of_node
    n = endpoints.size
    shares = np.array([c.share for c in classes])
    shares = shares / shares.sum()  # they sum to 1 within 1e-6; make it exact
    exact = shares * n
    counts = np.floor(exact).astype(np.int64)
    remainder = n - int(counts.sum())
    if remainder > 0:
        order = np.argsort(-(exact - counts), kind="stable")
        counts[order[:remainder]] += 1
    labels = np.repeat(np.arange(len(classes)), counts)
    class_of_node[endpoints] = rng.permutation(labels)
    return class_of_node


def _link_medium(
    link: str,
    config: SimConfig,
    is_bridge: np.ndarray,
    class_of_node: np.ndarray,
    link_phys: list[dict[str, ClassPhy]],
    path_gain: PathGain,
    scan_phase: np.ndarray | None,
    relays: np.ndarray | None = None,
    mobile: np.ndarray | None = None,
) -> LinkMedium:
    """One link's transmit powers, decode thresholds, neighbour table, listeners and limits.

    Transmitters are the link's endpoints (and its bridges when ACKs, downlinks or relaying are
    in use); listeners are the bridges listening on it (and its endpoints, for ACKs, downlinks
    and contention_flood's implicit ACKs). ``relays``: per node, relays on this link (both
    transmit and always listen)."""
    classes = config.endpoint_classes
    n = class_of_node.size
    link_classes = [i for i, c in enumerate(classes) if link in c.links]
    on_link = np.isin(class_of_node, link_classes)
    bridge_on_link = is_bridge & (link in config.bridge.links)
    acked = link in talks_back_links(config)
    relaying = config.routing.relaying
    if relays is None:
        relays = np.zeros(n, dtype=bool)
    implicit = config.routing.strategy == "contention_flood"  # originators listen for rebroadcasts
    power = np.full(n, -np.inf)
    threshold = np.full(n, np.inf)
    for i in link_classes:
        power[class_of_node == i] = link_phys[i][link].tx_power_dbm
        threshold[class_of_node == i] = link_phys[i][link].sensitivity_dbm
    lowest_sensitivity = min(link_phys[i][link].sensitivity_dbm for i in link_classes)
    power[bridge_on_link] = config.bridge.tx_power_dbm(link)
    threshold[bridge_on_link] = lowest_sensitivity
    threshold[relays] = lowest_sensitivity  # relays resend every class's frames
    transmitters = np.flatnonzero(on_link | (bridge_on_link & (acked or relaying)) | relays)
    still = ~mobile if mobile is not None else np.ones(n, dtype=bool)  # moving nodes only send
    listeners = np.flatnonzero(bridge_on_link | (on_link & still & (acked or implicit)) | relays)
    table = build_table(path_gain, transmitters, listeners, power, threshold, FREQUENCY_HZ[link])
    capacity = np.ones(n, dtype=np.int32)
    capacity[is_bridge] = config.bridge.demodulators(link)
    scan = None
    if link == "ble" and scan_phase is not None:
        scan = ScanSchedule(
            scan_phase,
            config.bridge.scan_interval_s,
            config.bridge.scan_window_s,
            (relays & ~is_bridge) if relays.any() else None,
        )
    always_on = bridge_on_link | relays
    return LinkMedium(
        link=link,
        table=table,
        tx_power_dbm=power,
        weights=sir_weights(sir_thresholds_db(link, classes, config.medium), config.medium.capture),
        capacity=capacity,
        listening=always_on.copy(),
        always_listening=not (acked or implicit) and scan is None and not config.faults.any,
        floor_dbm=lowest_sensitivity - config.medium.interference_margin_db,
        frequency_hz=FREQUENCY_HZ[link],
        scan=scan,
        min_capacity=int(capacity[listeners].min()) if listeners.size else 1,
        listeners=listeners,
        listener_slot=listener_slot(n, listeners),
        n_listeners=int(listeners.size),
        cache_budget=CACHE_FLOATS // len(config.links_in_use),
        always_on=always_on,
    )


#: ``relay_links`` value of a relaying bridge (it relays on every link of its own).
BRIDGE_RELAY = -2


def relay_links(config: SimConfig, is_bridge: np.ndarray, class_of_node: np.ndarray) -> np.ndarray:
    """Per node, the link code (``LINK_CODE``) it relays on: a relay endpoint's primary link,
    :data:`BRIDGE_RELAY` for relaying bridges, -1 for the others (and for everyone under
    ``direct``)."""
    out = np.full(class_of_node.size, -1, dtype=np.int64)
    if not config.routing.relaying:
        return out
    for index, cls in enumerate(config.endpoint_classes):
        if cls.relay:
            out[class_of_node == index] = LINK_CODE[cls.link]
    if config.bridge.relay:
        out[is_bridge] = BRIDGE_RELAY
    return out


def relays_on(
    link: str, relay_link: np.ndarray, is_bridge: np.ndarray, bridge_links: tuple[str, ...]
) -> np.ndarray:
    """Nodes relaying on ``link`` (relaying bridges: on each of the bridges' links)."""
    relays = relay_link == LINK_CODE[link]
    if link in bridge_links:
        relays |= (relay_link == BRIDGE_RELAY) & is_bridge
    return relays


def _beaconing(
    config: SimConfig,
    relay_link: np.ndarray,
    is_bridge: np.ndarray,
    class_of_node: np.ndarray,
    link_phys: list[dict[str, ClassPhy]],
) -> list[tuple[int, ClassPhy]]:
    """Gradient beacons: (node, PHY) for every bridge on every link some relay endpoint relays
    on, and for every relay endpoint on its link. A bridge beacons with the PHY of the first
    relaying class of the link."""
    out: list[tuple[int, ClassPhy]] = []
    classes = config.endpoint_classes
    for link in config.links_in_use:
        relaying = [i for i, c in enumerate(classes) if c.relay and c.link == link]
        if not relaying:
            continue
        phy = link_phys[relaying[0]][link]
        if link in config.bridge.links:
            out.extend((int(b), phy) for b in np.flatnonzero(is_bridge))
        for index in relaying:
            nodes = np.flatnonzero((class_of_node == index) & (relay_link == LINK_CODE[link]))
            out.extend((int(node), link_phys[index][link]) for node in nodes)
    return out


def class_phys(config: SimConfig) -> list[dict[str, ClassPhy]]:
    """Per endpoint class, the PHY of each link it can send on. Links served by a chip other
    than the class's main one (BLE on the nRF52840 beside an SX1262) use the second chip's
    ledger states."""
    out: list[dict[str, ClassPhy]] = []
    overhead = config.privacy.encryption_overhead_bytes
    for cls in config.endpoint_classes:
        main = cls.radio_name
        out.append(
            {
                link: class_phy(
                    cls, overhead, link, 0 if cls.radio_for(link) == main else SECOND_CHIP
                )
                for link in cls.links
            }
        )
    return out


def preferred_order(cls: EndpointConfig, phys: dict[str, ClassPhy]) -> list[ClassPhy]:
    """The class's links in the order its policy tries them: by transmit energy per packet
    (``lowest_energy``; ties keep the mask order) or in the mask's order (``ordered``)."""
    ordered = [phys[link] for link in cls.links]
    if cls.link_policy == "ordered" or len(ordered) == 1:
        return ordered
    voltage_v = BATTERIES[cls.battery].voltage_v
    return sorted(
        ordered,
        key=lambda phy: packet_energy_j(phy, RADIO_PROFILES[cls.radio_for(phy.link)], voltage_v),
    )


def talks_back_links(config: SimConfig) -> frozenset[str]:
    """Links on which bridges send frames to endpoints (uplink ACKs or downlinks)."""
    links: set[str] = set()
    for c in config.endpoint_classes:
        if c.acked:
            links.update(link for link in c.links if link != "ble")
        if c.downlink.enabled:  # downlinks arrive on the link of the last heard uplink
            links.update(link for link in c.links if link != "ble")
    return frozenset(links)


def _fsk_sync(
    config: SimConfig,
    is_bridge: np.ndarray,
    class_of_node: np.ndarray,
    link_phys: list[dict[str, ClassPhy]],
    path_gain: PathGain,
    uplink_table: NeighbourTable,
    rng: np.random.Generator,
) -> FskSync:
    """Beacon reach and sync-loss draws of every FSK endpoint (``mesh.fsksync``).

    An endpoint hears a beacon when some bridge's FSK power plus the pair's gain reaches the
    endpoint's sensitivity. The uplink table already holds ``P_endpoint + gain`` for the pairs
    where that reached the endpoint's own sensitivity, so most endpoints are settled from it
    (add ``P_bridge - P_endpoint``); only the others are searched with a table of their own."""
    classes = config.endpoint_classes
    bridge = config.bridge
    n = class_of_node.size
    fsk_endpoint = np.zeros(n, dtype=bool)
    sensitivity = np.full(n, np.inf)
    arrays = {key: np.zeros(n) for key in ("interval", "window", "miss", "loss", "scan", "listen")}
    for index, cls in enumerate(classes):
        if "fsk" not in cls.links:
            continue
        nodes = class_of_node == index
        fsk_endpoint |= nodes
        sensitivity[nodes] = link_phys[index]["fsk"].sensitivity_dbm
        link = cls.fsk_link
        arrays["interval"][nodes] = link.rx_window_interval_s
        arrays["window"][nodes] = link.rx_window_s
        arrays["miss"][nodes] = link.beacon_miss_probability
        arrays["loss"][nodes] = link.sync_loss_beacons
        arrays["scan"][nodes] = link.resync_interval_s
        arrays["listen"][nodes] = (
            cls.fsk.airtime_s(min(bridge.fsk_beacon_bytes, cls.fsk.mtu_bytes))
            + 2 * link.beacon_guard_s
        )
    in_range = np.zeros(n, dtype=bool)
    beaconing = np.flatnonzero(is_bridge) if "fsk" in bridge.links else np.zeros(0, np.int64)
    endpoints = np.flatnonzero(fsk_endpoint)
    if beaconing.size and endpoints.size:
        power_e = np.zeros(n)
        for index, cls in enumerate(classes):
            if "fsk" in cls.links:
                power_e[class_of_node == index] = cls.tx_power_for("fsk")
        owner = np.repeat(np.arange(n), np.diff(uplink_table.indptr))
        beacon_dbm = uplink_table.rssi_dbm + (bridge.fsk_tx_power_dbm - power_e[owner])
        heard = is_bridge[uplink_table.index] & (beacon_dbm >= sensitivity[owner])
        in_range[owner[heard]] = True
        endpoints = endpoints[~in_range[endpoints]]
    if beaconing.size and endpoints.size:
        power = np.full(n, -np.inf)
        power[beaconing] = bridge.fsk_tx_power_dbm
        threshold = np.full(n, float(sensitivity[endpoints].min()))
        table = build_table(path_gain, beaconing, endpoints, power, threshold, FREQUENCY_HZ["fsk"])
        hears = table.rssi_dbm >= sensitivity[table.index]
        in_range[table.index[hears]] = True
    return draw_sync(
        fsk_endpoint=fsk_endpoint,
        in_range=in_range,
        window_interval_s=arrays["interval"],
        window_s=arrays["window"],
        miss_probability=arrays["miss"],
        sync_loss_beacons=arrays["loss"].astype(np.int64),
        scan_interval_s=arrays["scan"],
        beacon_interval_s=bridge.fsk_beacon_interval_s,
        beacon_listen_s=arrays["listen"],
        slot_s=bridge.fsk_slot_s,
        horizon_s=config.scenario.duration_s + SYNC_MARGIN_S,
        rng=rng,
    )


def simulate(
    config: SimConfig,
    topology: Topology | None = None,
    progress: Callable[[float, float], None] | None = None,
    trace: bool = False,
    external: ExternalPlan | None = None,
    hooks: ExternalHooks | None = None,
) -> SimResult:
    """Run one scenario. ``progress(sim_time_s, duration_s)`` is called as simulated time passes;
    ``trace`` keeps the relaying event trace (``SimResult.routing.trace``). ``external`` adds
    outside devices whose uplinks ``hooks`` inject while the run goes on (``mesh.external``;
    in real time when the plan gives a factor)."""
    if (external is None) != (hooks is None):
        raise ValueError("external and hooks go together")
    ctx = SimContext(config.scenario.seed, env=make_env(external))
    topo = (
        topology
        if topology is not None
        else topologies.generate(config.topology, ctx.rng("topology"))
    )
    class_of_node = assign_classes(topo, config.endpoint_classes, ctx.rng("classes"))
    external_ids = np.zeros(0, dtype=np.int64)
    if external is not None:
        config, topo, class_of_node, external_ids = extend(config, topo, class_of_node, external)
    classes = config.endpoint_classes
    n = topo.n_nodes
    is_bridge = topo.roles == ROLE_BRIDGE
    bridges = topo.bridge_ids
    link_phys = class_phys(config)
    preference = [preferred_order(c, link_phys[i]) for i, c in enumerate(classes)]
    shadow_key = int(ctx.rng("shadowing").integers(0, 2**63 - 1))
    path_gain = PathGain(
        topo.positions_m, topo.indoor, config.propagation, config.walls.wall_loss_db, shadow_key
    )

    links = config.links_in_use
    link_media: dict[str, LinkMedium] = {}
    is_listener = np.zeros(n, dtype=bool)
    scan_phase = None
    if "ble" in links:
        scan_phase = ctx.rng("scanner").uniform(0.0, 3 * config.bridge.scan_interval_s, size=n)
    relay_link = relay_links(config, is_bridge, class_of_node)
    movers = _movers(config, topo, class_of_node, path_gain, ctx.rng("mobility"))
    mobile = movers.mobile if movers is not None else None
    for link in links:
        link_media[link] = _link_medium(
            link,
            config,
            is_bridge,
            class_of_node,
            link_phys,
            path_gain,
            scan_phase,
            (
                relays_on(link, relay_link, is_bridge, config.bridge.links)
                if config.routing.relaying
                else None
            ),
            mobile,
        )
        listeners = link_media[link].listeners
        assert listeners is not None
        is_listener[listeners] = True
    medium = Medium(n, link_media, path_gain, config.medium.capture, is_listener)
    if movers is not None:
        medium.movers = movers
        for link, lm in link_media.items():
            assert lm.listeners is not None
            movers.add_link(
                link, lm.listeners, lm.tx_power_dbm, lm.table.threshold_dbm, lm.frequency_hz
            )

    duration_s = config.scenario.duration_s
    traffic_class = class_of_node.copy()
    traffic_class[external_ids] = -1  # external nodes send only what is injected
    schedule = build_schedule(classes, traffic_class, duration_s, ctx.rng("traffic"))
    channel_u = ctx.rng("mac").random(schedule.n_packets)
    records = PacketRecords(schedule.endpoint, schedule.times_s)
    primary_code = np.array([LINK_CODE[c.link] for c in classes], dtype=np.int8)
    records.link[:] = primary_code[class_of_node[schedule.endpoint]]
    server = NetworkServer(records)
    backhaul = Backhaul(
        ctx.env, n, bridges, config.bridge, 2 * duration_s + 3600.0, ctx.rng("backhaul")
    )
    unheard = frozenset(link for link in links if link not in config.bridge.links)
    # no endpoint (nor relay) listens on these links
    bridge_only = frozenset(
        link
        for link, lm in link_media.items()
        if lm.listeners is not None and bool(is_bridge[lm.listeners].all())
    )
    bcfg = config.bridge
    account_of_node = accounts(n, bridges, bcfg.bridges_per_account, ctx.rng("accounts"))
    limits = BridgeLimits(
        n,
        account_of_node,
        bcfg.backhaul_rate_bps,
        bcfg.backhaul_queue_bytes or np.inf,
        bcfg.monthly_allowance_bytes,
        bcfg.allowance_period_s,
        {link: (lm.table.indptr, lm.table.index) for link, lm in link_media.items()},
    )
    observations = (
        LinkabilityAccumulator(n, config.privacy.rotation_period_s)
        if config.privacy.observe
        else None
    )
    forwarder = FORWARDERS["direct"](
        is_bridge,
        backhaul,
        server,
        unheard,
        bridge_only,
        limits,
        bcfg.backhaul_overhead_bytes,
        observations,
    )
    initial = np.where(is_bridge, RX, SLEEP)
    ledger = StateLedger(initial)
    fsk_sync = (
        _fsk_sync(
            config,
            is_bridge,
            class_of_node,
            link_phys,
            path_gain,
            link_media["fsk"].table,
            ctx.rng("fsk_sync"),
        )
        if "fsk" in links
        else None
    )
    dl_rng = ctx.rng("downlink")
    dl_endpoint, dl_times, dl_indptr = downlink_schedule(classes, class_of_node, duration_s, dl_rng)
    downlink_records = DownlinkRecords(dl_endpoint, dl_times)
    listening = any(phy.listens for phys_of in link_phys for phy in phys_of.values())
    downlinks = Downlinks(ctx.env, n, dl_rng) if listening else None
    periodic = np.zeros(n)  # periodic-listen period of each LoRa endpoint (0: off)
    for index, cls in enumerate(classes):
        if "lora" in cls.links:
            periodic[class_of_node == index] = cls.lora_link.periodic_listen_s
    if downlinks is not None and periodic.any():
        downlinks.periodic_offset_s = dl_rng.random(n) * periodic
        keepalive = np.zeros(n)
        for index, cls in enumerate(classes):
            if "lora" in cls.links:
                keepalive[class_of_node == index] = cls.lora_link.keepalive_interval_s
        downlinks.keepalive_phase_s = dl_rng.random(n) * keepalive
    net = Network(
        ctx,
        medium,
        ledger,
        records,
        server,
        forwarder,
        path_gain,
        is_bridge,
        backhaul,
        duration_s,
        downlinks,
        downlink_records,
        fsk_sync,
        limits,
        bcfg.backhaul_overhead_bytes,
        observations,
    )
    net.link_phys = link_phys
    net.class_of_node = class_of_node.tolist()
    if movers is not None:
        forwarder.mobile = movers.mobile.tolist()

    routing: Relaying | None = None
    if config.routing.relaying:
        relay_offset = np.zeros(n, dtype=np.int64)
        router = is_bridge.copy()
        for index, cls in enumerate(classes):
            nodes = class_of_node == index
            relay_offset[nodes] = link_phys[index][cls.link].state_offset
            router[nodes] = cls.relay_role == "router"
        routing = STRATEGIES[config.routing.strategy](
            net, config.routing, forwarder, relay_link, relay_offset, router, trace
        )
        net.forwarder = routing
        net.routing = routing
        if isinstance(routing, Gradient):
            routing.start_beacons(
                _beaconing(config, relay_link, is_bridge, class_of_node, link_phys)
            )

    faults: FaultEngine | None = None
    if config.faults.any:
        relay_class = np.array([c.relay for c in classes] + [False])[class_of_node]
        faults = _faults(config, ctx, net, path_gain, link_media, relay_class)
        forwarder.faults = faults
        net.failed = faults.failed
        if routing is not None:
            routing.failed = faults.failed
            routing.powered_off = faults.off

    port: ExternalPort | None = None
    if external is not None and hooks is not None:
        port = ExternalPort(net, external, hooks, external_ids, ctx.rng("external"))
        ctx.env.process(port.pump())

    times = schedule.times_s.tolist()
    u = channel_u.tolist()
    indptr = schedule.indptr.tolist()
    endpoints_running: list[simpy.Process] = []
    for node in topo.endpoint_ids.tolist():
        a, b = indptr[node], indptr[node + 1]
        if a == b:
            continue
        endpoints_running.append(
            ctx.env.process(
                endpoint_process(net, node, preference[class_of_node[node]], times[a:b], a, u[a:b])
            )
        )

    dl_times_list = dl_times.tolist()
    dl_bounds = dl_indptr.tolist()
    for node in np.flatnonzero(np.diff(dl_indptr)).tolist():
        a, b = dl_bounds[node], dl_bounds[node + 1]
        cls_index = class_of_node[node]
        endpoints_running.append(
            ctx.env.process(
                downlink_process(net, node, link_phys[cls_index], a, dl_times_list[a:b])
            )
        )

    for node in np.flatnonzero(periodic).tolist():  # keep-alives do not extend the run
        ctx.env.process(keepalive_process(net, node, link_phys[class_of_node[node]]["lora"]))

    env = ctx.env
    if isinstance(env, simpy.rt.RealtimeEnvironment):
        env.sync()  # wall time 0 is now, not when the environment was made (before the set-up)
    # The run ends when every endpoint is done with its last packet and downlink; processes that
    # only keep time (backhaul outage edges, keep-alives) do not extend it.
    all_done = simpy.AllOf(env, endpoints_running)
    # Always through the whole traffic duration (keep-alives run until its end), then until the
    # last process is done: the same events whether or not progress is reported.
    steps = 200 if progress is not None else 1
    for k in range(1, steps + 1):
        until_s = duration_s * k / steps
        if until_s > env.now:
            env.run(until=until_s)
        if progress is not None:
            progress(env.now, duration_s)
    if not all_done.processed:
        env.run(until=all_done)
    horizon_s = max(float(env.now), duration_s)
    records.settle(net.finished_packets, server.complete)
    server.stamp(backhaul.first_arrival_s)

    limits.flush()
    durations = ledger.close(horizon_s)
    _charge_windows(config, class_of_node, link_phys, net, durations, ledger.wakes, horizon_s)
    relay_listen_s = np.zeros(n)
    if routing is not None:
        # a relay endpoint listens on its relay link whenever its radio is not otherwise busy
        relays = np.flatnonzero(routing.is_relay & ~is_bridge)
        offset = np.asarray(routing.relay_offset)[relays]
        listen = durations[relays, SLEEP].copy()
        if faults is not None:  # a relay that failed for good sleeps from then on
            dead_s = np.maximum(horizon_s - faults.failed_at_s[relays], 0.0)
            listen = np.maximum(listen - dead_s, 0.0)
        relay_listen_s[relays] = listen
        durations[relays, RX + offset] += listen
        durations[relays, SLEEP] -= listen
    charge, voltage, capacity_c, leakage_a = _charge(
        config, topo, class_of_node, durations, ledger.wakes
    )
    reached = np.zeros(n, dtype=bool)  # some bridge can decode it on its primary link
    for index, cls in enumerate(classes):
        nodes = class_of_node == index
        reached[nodes] = np.asarray(net.reaches(cls.link), dtype=bool)[nodes]
    area = _area_coverage(config, topo, link_phys)
    area_link = _area_link(config, class_of_node)
    return SimResult(
        config=config,
        topology=topo,
        class_of_node=class_of_node,
        records=records,
        state_durations_s=np.column_stack(
            (durations[:, SLEEP], durations[:, 1:4] + durations[:, 4:7])
        ),
        chip_durations_s=durations,
        charge_c=charge,
        battery_voltage_v=voltage,
        battery_capacity_c=capacity_c,
        battery_leakage_a=leakage_a,
        horizon_s=horizon_s,
        area_coverage=area,
        area_link=area_link,
        neighbour_pairs={link: lm.table.n_pairs for link, lm in link_media.items()},
        transmissions=int(records.transmissions.sum()),
        ack_frames=net.ack_frames,
        downlinks=downlink_records,
        downlink_frames=net.downlink_frames,
        keepalive_frames=net.keepalive_frames,
        fsk_sync=fsk_sync,
        account_of_node=account_of_node,
        bridge_load=limits,
        linkability=observations.result() if observations is not None else None,
        routing=routing,
        relay_listen_s=relay_listen_s,
        faults=faults,
        movers=movers,
        collisions=medium.collisions,
        reached=reached,
        external=port,
    )


def _movers(
    config: SimConfig,
    topo: Topology,
    class_of_node: np.ndarray,
    path_gain: PathGain,
    rng: np.random.Generator,
) -> Movers | None:
    """Trajectories of the endpoints of mobile classes (``mesh.movers``), or None."""
    classes = config.endpoint_classes
    if not any(c.mobility.mobile for c in classes):
        return None
    horizon_s = config.scenario.duration_s + SYNC_MARGIN_S
    graph = street_graph(topo.streets_m) if topo.streets_m.shape[0] else None
    trajectories: dict[int, Trajectory] = {}
    cell_m = np.ones(topo.n_nodes)
    for index, cls in enumerate(classes):
        mob = cls.mobility
        if not mob.mobile:
            continue
        nodes = np.flatnonzero(class_of_node == index)
        cell_m[nodes] = mob.shadowing_decorrelation_m
        speed = (mob.speed_mps[0], mob.speed_mps[1])
        pause = (mob.pause_s[0], mob.pause_s[1])
        for node in nodes.tolist():
            if graph is not None:
                trajectories[node] = random_waypoint_streets(graph, horizon_s, speed, pause, rng)
            else:
                trajectories[node] = random_waypoint_area(
                    topo.width_m, topo.height_m, horizon_s, speed, pause, rng
                )
    return Movers(topo.n_nodes, trajectories, cell_m, path_gain)


def _faults(
    config: SimConfig,
    ctx: SimContext,
    net: Network,
    path_gain: PathGain,
    link_media: dict[str, LinkMedium],
    is_relay: np.ndarray,
) -> FaultEngine:
    """Draw the run's faults (``mesh.faults``) and install them: outage edges as a process,
    jammers in the medium."""
    n = is_relay.size
    rng = ctx.rng("faults")
    duration_s = config.scenario.duration_s
    try:
        plan = plan_faults(
            config.faults, n, net.is_bridge, is_relay, duration_s, 2 * duration_s + 3600.0, rng
        )
    except FaultError as err:
        raise SimulationError(str(err)) from None
    engine = FaultEngine(
        ctx.env, plan, net.medium, net.backhaul, np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    )
    medium = net.medium
    for jam in config.faults.jammers:
        phase_s = jammer_phase_s(jam, rng)
        power_dbm = jam.tx_power_dbm + path_gain.from_point_db(
            np.array([jam.x_m, jam.y_m]), FREQUENCY_HZ[jam.link]
        )
        lm = link_media.get(jam.link)
        if lm is not None and not config.medium.capture:
            power_dbm = np.where(power_dbm >= lm.floor_dbm, power_dbm, -np.inf)
        jammer = Jammer(jam, phase_s, dbm_to_mw(power_dbm))
        medium.jammers.setdefault(BAND[jam.link], []).append(jammer)
    env = ctx.env
    medium.now = lambda: float(env.now)
    return engine


def _charge_windows(
    config: SimConfig,
    class_of_node: np.ndarray,
    link_phys: list[dict[str, ClassPhy]],
    net: Network,
    durations: np.ndarray,
    wakes: list[int],
    horizon_s: float,
) -> None:
    """Move the receiver on-time of scheduled listening (FSK beacons, empty receive windows,
    resyncs; LoRa windows after uplinks) from SLEEP to RX and count its wake-ups. The MAC charged
    the windows that carried a frame; scheduled listening that would overlap another state is
    rare (windows are milliseconds) and is taken from sleep only, so each node's timeline still
    sums to the horizon."""
    n = class_of_node.size
    rx_s = np.zeros(n)
    extra_wakes = np.zeros(n, dtype=np.int64)
    dl = net.downlinks
    none = np.zeros(n, np.int64)
    if net.fsk_sync is not None:
        fsk_rx, fsk_wakes = net.fsk_sync.listening(
            horizon_s, dl.used_windows if dl is not None else none
        )
        rx_s += fsk_rx
        extra_wakes += fsk_wakes
    if dl is not None:
        count = np.zeros(n, dtype=np.int64)
        spacing = np.ones(n)
        window = np.zeros(n)
        for index, cls in enumerate(config.endpoint_classes):
            if "lora" not in cls.links:
                continue
            nodes = class_of_node == index
            count[nodes] = cls.lora_link.rx_windows
            spacing[nodes] = cls.lora_link.rx_window_spacing_s
            window[nodes] = cls.lora_link.rx_window_symbols * cls.lora.symbol_time_s()
        lora_rx, lora_wakes = lora_listening(
            dl.lora_ends_s, n, count, spacing, window, horizon_s, dl.used_lora
        )
        rx_s += lora_rx
        extra_wakes += lora_wakes
        # periodic-listen windows (one that also follows an uplink is counted twice: they are
        # milliseconds long)
        for index, cls in enumerate(config.endpoint_classes):
            period_s = cls.lora_link.periodic_listen_s
            if "lora" not in cls.links or not period_s:
                continue
            nodes = np.flatnonzero(class_of_node == index)
            offset = dl.periodic_offset_s[nodes]
            windows = np.maximum(np.ceil((horizon_s - offset) / period_s), 0).astype(np.int64)
            windows = np.maximum(windows - dl.used_periodic[nodes], 0)
            rx_s[nodes] += windows * window[nodes]
            extra_wakes[nodes] += windows
    rx_state = np.full(n, RX)  # the sub-GHz chip's RX state of each node
    for index, phys in enumerate(link_phys):
        sub_ghz = [phy for link, phy in phys.items() if link != "ble"]
        if sub_ghz:
            rx_state[class_of_node == index] = RX + sub_ghz[0].state_offset
    take = np.minimum(rx_s, durations[:, SLEEP])
    durations[:, SLEEP] -= take
    durations[np.arange(n), rx_state] += take
    for node in np.flatnonzero(extra_wakes).tolist():
        wakes[node] += int(extra_wakes[node])


def _charge(
    config: SimConfig,
    topo: Topology,
    class_of_node: np.ndarray,
    durations: np.ndarray,
    wakes: list[int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Charge drawn per state from each endpoint's battery; battery voltage, capacity, leakage."""
    n = topo.n_nodes
    charge = np.zeros((n, 5))
    voltage = np.full(n, np.nan)
    capacity = np.full(n, np.nan)
    leakage = np.full(n, np.nan)
    horizon_s = durations.sum(axis=1)
    wake_count = np.asarray(wakes, dtype=np.float64)
    mcu = NRF52840_MCU
    for index, cls in enumerate(config.endpoint_classes):
        nodes = class_of_node == index
        d = durations[nodes]
        # each chip sleeps whenever it is not active; its active states at its own currents
        chips = [(cls.radio_name, cls.tx_power_dbm, d[:, 1:4])]
        others = [link for link in cls.links if cls.radio_for(link) != cls.radio_name]
        if others:
            chips.append((cls.radio_for(others[0]), cls.tx_power_for(others[0]), d[:, 4:7]))
        for name, tx_power_dbm, active in chips:
            radio = RADIO_PROFILES[name]
            currents = np.array(
                [radio.idle_current_a, radio.rx_current_a, radio.tx_current_at(tx_power_dbm)]
            )
            charge[nodes, 0] += (horizon_s[nodes] - active.sum(axis=1)) * radio.sleep_current_a
            charge[nodes, 1:4] += active * currents
        charge[nodes, 4] = (
            mcu.sleep_current_a * horizon_s[nodes]
            + wake_count[nodes] * mcu.active_current_a * mcu.wake_time_s
        )
        battery = BATTERIES[cls.battery]
        voltage[nodes] = battery.voltage_v
        capacity[nodes] = battery.capacity_c
        leakage[nodes] = battery.leakage_current_a
    return charge, voltage, capacity, leakage


def area_probes(
    config: SimConfig, topo: Topology, link: str, link_phys: list[dict[str, ClassPhy]]
) -> tuple[np.ndarray, np.ndarray]:
    """The area-coverage probe grid and, per probe, whether an outdoor device of the first class
    sending on ``link`` (at its power) reaches some bridge by median link budget (``mesh.coverage``;
    none when the bridges do not listen on the link)."""
    metrics = config.metrics
    probes = probe_grid(
        topo.width_m, topo.height_m, metrics.area_probe_spacing_m, metrics.area_margin_m
    )
    classes = [i for i, c in enumerate(config.endpoint_classes) if link in c.links]
    if link not in config.bridge.links or len(probes) == 0 or not classes:
        return probes, np.zeros(len(probes), dtype=bool)
    phy = link_phys[classes[0]][link]
    bridges = topo.bridge_ids
    ok = covered(
        probes,
        topo.positions_m[bridges],
        topo.indoor[bridges],
        config.propagation,
        FREQUENCY_HZ[link],
        phy.tx_power_dbm - phy.sensitivity_dbm,
        config.walls.wall_loss_db,
    )
    return probes, ok


def _area_coverage(
    config: SimConfig, topo: Topology, link_phys: list[dict[str, ClassPhy]]
) -> dict[str, float]:
    result: dict[str, float] = {}
    for link in config.links_in_use:
        probes, ok = area_probes(config, topo, link, link_phys)
        result[link] = float(ok.mean()) if len(probes) else 0.0
    return result


def _area_link(config: SimConfig, class_of_node: np.ndarray) -> str:
    """The configured area link, or (auto) the link of the most endpoints."""
    if config.metrics.area_link != "auto":
        return config.metrics.area_link
    counts = {link: 0 for link in LINKS}
    for index, cls in enumerate(config.endpoint_classes):
        counts[cls.link] += int(np.sum(class_of_node == index))
    return max(config.links_in_use, key=lambda link: counts[link])
