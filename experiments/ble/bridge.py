"""Hardware in the loop (``sidemesh ble bridge SPEC.toml``): real BLE devices in a running
emulation.

What it does
    * Runs the spec's scenario in real time (``mesh.external`` on ``simpy.rt``, factor
      ``[ble] realtime_factor``) in a worker thread, while bleak's asyncio loop runs the one
      :class:`~experiments.ble.scanner.Scanner` of the adapter and, when ``[ble.nus]`` names a
      board, a :class:`~experiments.ble.uart.UartLink` to it. The two meet only through
      :class:`~experiments.ble.handoff.Handoff` (see there for ordering and timestamps).
    * Real advertisers join as external endpoints: those listed in ``[[ble.devices]]`` at their
      positions, others (as ``join`` admits them: all, or Sidewalk 0xFE03 adverts only) in
      free slots at the default position, first come first served. Each advertisement, at most
      one per device every ``min_interval_s``, is one uplink through the emulated network
      carrying the advertised data (:attr:`Advertisement.payload`).
    * The NUS board is one more external node: each message from its TX characteristic (a line
      or a notification) is an uplink from it; every delivered uplink of the other real
      devices is routed to it (``route = "uplinks"``) through the bridge that heard it best,
      and written to its RX characteristic as a text line ``ADDRESS PAYLOAD_HEX TAG``. A lost
      link is re-established with backoff and recorded as an outage.
    * Ends when the scenario's duration has passed, or on Ctrl-C (the coroutine is cancelled):
      both stop the simulation through the hand-off and close the link; :meth:`Bridge.files`
      then gives the results gathered so far (uplinks, downlinks, outages, devices, a JSON
      summary) for ``experiments.runner.write_folder``.

Sources: ``mesh.external`` (engine side), bleak 3.x, SimPy 4 ``simpy.rt``.

Leaves out: the spec's simulated endpoints' summary (the run may be cut short; run the spec with
``sidemesh run`` for it), devices that change address (privacy addresses rotate: each new
address is a new device), and more than one board.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import topologies
from experiments.ble.adverts import SIDEWALK, Advertisement
from experiments.ble.config import BleConfig
from experiments.ble.handoff import Handoff
from experiments.ble.scanner import Scanner
from experiments.ble.uart import Backoff, Outage, UartLink
from experiments.spec import Spec
from mesh.config import EndpointConfig
from mesh.context import make_streams
from mesh.external import (
    EXTERNAL_CLASS,
    DownlinkRow,
    ExternalNode,
    ExternalPlan,
    ExternalStop,
    Injection,
    UplinkRow,
    check_plan,
)
from mesh.simulation import simulate
from topologies.base import Topology

SLOT_PREFIX = "slot-"


@dataclass
class Slots:
    """Which real device is which external node (plan index)."""

    nodes: list[ExternalNode]
    by_address: dict[str, int]
    free: list[int]
    nus: int | None
    joined: dict[str, float] = field(default_factory=dict)  # address -> time it joined

    def node_of(self, adv: Advertisement, cfg: BleConfig) -> int | None:
        """The node of ``adv``'s device, giving it a free slot if ``join`` admits it."""
        node = self.by_address.get(adv.address)
        if node is not None:
            self.joined.setdefault(adv.address, adv.time_s)
            return None if node == self.nus else node
        if cfg.join == "listed" or not self.free:
            return None
        if cfg.join == SIDEWALK and SIDEWALK not in adv.kinds:
            return None
        node = self.free.pop(0)
        self.by_address[adv.address] = node
        self.joined[adv.address] = adv.time_s
        return node


def plan_slots(cfg: BleConfig, topo: Topology) -> Slots:
    """External nodes: the listed devices, the board, then ``max_devices`` free slots."""
    nodes = [ExternalNode(d.address, d.x_m, d.y_m, d.indoor) for d in cfg.devices]
    by_address = {d.address: k for k, d in enumerate(cfg.devices)}
    nus = None
    if cfg.nus.enabled:
        nus = len(nodes)
        by_address[cfg.nus.address] = nus
        nodes.append(ExternalNode(cfg.nus.address, cfg.nus.x_m, cfg.nus.y_m, cfg.nus.indoor))
    x = cfg.default_x_m if cfg.default_x_m is not None else topo.width_m / 2
    y = cfg.default_y_m if cfg.default_y_m is not None else topo.height_m / 2
    free = []
    if cfg.join != "listed":
        for k in range(cfg.max_devices):
            free.append(len(nodes))
            nodes.append(ExternalNode(f"{SLOT_PREFIX}{k + 1}", x, y))
    return Slots(nodes=nodes, by_address=by_address, free=free, nus=nus)


class BridgeHooks:
    """``mesh.external.ExternalHooks`` of the bridge: records and routes (simulation thread)."""

    def __init__(
        self,
        handoff: Handoff,
        nodes: list[ExternalNode],
        nus: int | None,
        route_to_nus: bool,
        deliver: Callable[[bytes], None],
        on_row: Callable[[UplinkRow | DownlinkRow], None],
    ) -> None:
        self.handoff = handoff
        self.nodes = nodes
        self.nus = nus
        self.route_to_nus = route_to_nus and nus is not None
        self.deliver = deliver
        self.on_row = on_row
        self.names: dict[int, str] = {}  # node -> device address (slots get one when used)
        self._lock = threading.Lock()
        self.uplinks: list[UplinkRow] = []
        self.downlinks: list[DownlinkRow] = []

    def pending(self) -> Sequence[Injection] | None:
        return self.handoff.pending()

    def uplink(self, row: UplinkRow) -> Sequence[tuple[int, bytes]]:
        with self._lock:
            self.uplinks.append(row)
        self.on_row(row)
        if not self.route_to_nus or row.node == self.nus or row.fate != "delivered":
            return ()
        assert self.nus is not None
        line = f"{self.names.get(row.node, row.name)} {row.payload.hex()} {row.tag}".strip()
        return [(self.nus, (line + "\n").encode("utf-8"))]

    def downlink(self, row: DownlinkRow) -> None:
        with self._lock:
            self.downlinks.append(row)
        self.on_row(row)
        if row.fate == "delivered" and row.node == self.nus:
            self.deliver(row.payload)


class Bridge:
    """One bridge session. ``await bridge.run()``; then :meth:`files` (also after a cancel)."""

    def __init__(
        self,
        spec: Spec,
        *,
        adapter: str | None = None,
        scanner_backend: type | None = None,
        client_backend: type | None = None,
        duration_s: float | None = None,
        on_row: Callable[[UplinkRow | DownlinkRow], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.spec = spec
        self.cfg = spec.ble if spec.ble is not None else BleConfig()
        config = spec.config
        if duration_s is not None:
            import dataclasses

            config = dataclasses.replace(
                config, scenario=dataclasses.replace(config.scenario, duration_s=duration_s)
            )
        self.config = config
        self.adapter = adapter
        self.scanner_backend = scanner_backend
        self.client_backend = client_backend
        self.clock = clock
        self.topology = spec.topology or topologies.generate(
            config.topology, make_streams(config.scenario.seed)["topology"]
        )
        self.slots = plan_slots(self.cfg, self.topology)
        self.plan = ExternalPlan(
            tuple(self.slots.nodes),
            endpoint=EndpointConfig(
                name=EXTERNAL_CLASS,
                link="ble",
                tx_power_dbm=self.cfg.tx_power_dbm,
                battery="CR2032",
            ),
            poll_s=self.cfg.poll_s,
            realtime_factor=self.cfg.realtime_factor,
        )
        check_plan(config, self.plan)  # fail before touching Bluetooth
        self.handoff = Handoff(clock)
        self.link: UartLink | None = None
        self.outages: list[Outage] = []
        self.writes = 0
        self.unsent = 0
        self.adverts = 0
        self.ignored = 0
        self.interrupted = False
        self.error: BaseException | None = None
        self.started_wall_s = 0.0
        self.wall_s = 0.0
        self._last_put: dict[str, float] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending_writes: set[asyncio.Task[None]] = set()
        self.hooks = BridgeHooks(
            self.handoff,
            self.slots.nodes,
            self.slots.nus,
            self.cfg.nus.route == "uplinks",
            self._deliver,
            on_row or (lambda row: None),
        )

    # -- asyncio side --------------------------------------------------------------------

    def _on_advertisement(self, adv: Advertisement) -> None:
        self.adverts += 1
        if adv.rssi_dbm < self.cfg.min_rssi_dbm:
            self.ignored += 1
            return
        node = self.slots.node_of(adv, self.cfg)
        if node is None:
            self.ignored += 1
            return
        last = self._last_put.get(adv.address, -math.inf)
        if adv.time_s - last < self.cfg.min_interval_s:
            return
        self._last_put[adv.address] = adv.time_s
        self.hooks.names[node] = adv.address
        self.handoff.put(node, adv.payload, tag=f"rssi={adv.rssi_dbm}")

    def _on_board_message(self, message: bytes) -> None:
        if self.slots.nus is not None:
            self.handoff.put(self.slots.nus, message, tag="nus")

    def _deliver(self, payload: bytes) -> None:
        """(simulation thread) a downlink reached the board's node: write it (event loop)."""
        if self._loop is not None:
            Handoff.to_loop(self._loop, self._start_write, payload)

    def _start_write(self, payload: bytes) -> None:
        task = asyncio.get_running_loop().create_task(self._write(payload))
        self._pending_writes.add(task)
        task.add_done_callback(self._pending_writes.discard)

    async def _write(self, payload: bytes) -> None:
        link = self.link
        if link is not None and await link.send(payload):
            self.writes += 1
        else:
            self.unsent += 1

    def _simulate(self, done: asyncio.Event, loop: asyncio.AbstractEventLoop) -> None:
        try:
            simulate(self.config, self.topology, external=self.plan, hooks=self.hooks)
        except ExternalStop:
            pass
        except BaseException as err:  # reported by run()
            self.error = err
        finally:
            Handoff.to_loop(loop, done.set)

    async def run(self) -> None:
        """Scan, bridge and simulate until the scenario ends or the task is cancelled."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        self.started_wall_s = self.clock()
        done = asyncio.Event()
        worker: threading.Thread | None = None
        link_task: asyncio.Task[None] | None = None
        try:
            async with Scanner(self.adapter, self.scanner_backend, self.clock) as scanner:
                scanner.subscribe(self._on_advertisement)
                nus = self.cfg.nus
                if nus.enabled:
                    self.link = UartLink(
                        scanner,
                        nus.address,
                        self._on_board_message,
                        framing=nus.framing,
                        backoff=Backoff(nus.backoff_initial_s, 2.0, nus.backoff_max_s),
                        backend=self.client_backend,
                        connect_timeout_s=nus.connect_timeout_s,
                        clock=self.clock,
                    )
                    link_task = loop.create_task(self.link.run())
                worker = threading.Thread(
                    target=self._simulate, args=(done, loop), name="sidemesh-rt", daemon=True
                )
                worker.start()
                waiters: list[asyncio.Task[Any]] = [loop.create_task(done.wait())]
                if link_task is not None:
                    waiters.append(link_task)
                finished, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                for task in finished:
                    if task is link_task:
                        task.result()  # a fatal link error (no NUS service, permissions)
                for task in waiters:
                    if task is not link_task:
                        task.cancel()
        except asyncio.CancelledError:
            self.interrupted = True
            raise
        finally:
            self.handoff.stop()
            if worker is not None:
                await asyncio.shield(asyncio.to_thread(worker.join))
            if self.link is not None:
                self.outages = await asyncio.shield(self.link.close())
            if link_task is not None:
                link_task.cancel()
            for task in list(self._pending_writes):
                task.cancel()
            self.wall_s = self.clock() - self.started_wall_s
        if self.error is not None:
            raise self.error

    # -- results -------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        ups = list(self.hooks.uplinks)
        downs = list(self.hooks.downlinks)
        fates: dict[str, int] = {}
        for row in ups:
            fates[row.fate] = fates.get(row.fate, 0) + 1
        delivered = [r for r in ups if r.fate == "delivered"]
        latency = [r.delivered_s - r.start_s for r in delivered]
        return {
            "spec": self.spec.source,
            "interrupted": self.interrupted,
            "wall_s": round(self.wall_s, 3),
            "realtime_factor": self.cfg.realtime_factor,
            "advertisements_seen": self.adverts,
            "advertisements_ignored": self.ignored,
            "devices_joined": len(self.slots.joined),
            "uplinks": len(ups),
            "uplinks_by_fate": dict(sorted(fates.items())),
            "uplink_latency_mean_s": sum(latency) / len(latency) if latency else None,
            "downlinks": len(downs),
            "downlinks_delivered": sum(r.fate == "delivered" for r in downs),
            "board_writes": self.writes,
            "board_unsent": self.unsent,
            "outages": len(self.outages),
            "outage_total_s": sum(o.end_s - o.start_s for o in self.outages if o.end_s == o.end_s),
        }

    def files(self) -> dict[str, str]:
        """The result files: ``uplinks.csv``, ``downlinks.csv``, ``outages.csv``,
        ``devices.csv``, ``bridge.json``."""
        names = self.hooks.names
        up = _csv(
            (
                "start_s",
                "wall_s",
                "node",
                "device",
                "size_bytes",
                "fate",
                "bridges",
                "best_rssi_dbm",
                "delivered_s",
                "latency_s",
                "tag",
                "payload_hex",
            ),
            [
                (
                    f"{r.start_s:.6f}",
                    f"{r.wall_s - self.started_wall_s:.6f}",
                    r.node,
                    names.get(r.node, r.name),
                    r.size_bytes,
                    r.fate,
                    " ".join(map(str, r.bridges)),
                    _num(r.best_rssi_dbm),
                    _num(r.delivered_s),
                    _num(r.delivered_s - r.start_s),
                    r.tag,
                    r.payload.hex(),
                )
                for r in self.hooks.uplinks
            ],
        )
        down = _csv(
            ("sent_s", "node", "device", "size_bytes", "fate", "bridge", "delivered_s"),
            [
                (
                    f"{r.sent_s:.6f}",
                    r.node,
                    names.get(r.node, r.name),
                    r.size_bytes,
                    r.fate,
                    r.bridge,
                    _num(r.delivered_s),
                )
                for r in self.hooks.downlinks
            ],
        )
        outages = _csv(
            ("address", "start_s", "end_s", "duration_s", "attempts", "reason"),
            [
                (
                    o.address,
                    f"{o.start_s:.3f}",
                    _num(o.end_s),
                    _num(o.end_s - o.start_s),
                    o.attempts,
                    o.reason,
                )
                for o in self.outages
            ],
        )
        devices = _csv(
            ("node", "address", "x_m", "y_m", "indoor", "joined_s"),
            [
                (
                    k,
                    names.get(k, n.name if not n.name.startswith(SLOT_PREFIX) else ""),
                    f"{n.x_m:g}",
                    f"{n.y_m:g}",
                    str(n.indoor).lower(),
                    _num(self.slots.joined.get(names.get(k, n.name), math.nan)),
                )
                for k, n in enumerate(self.slots.nodes)
            ],
        )
        return {
            "uplinks.csv": up,
            "downlinks.csv": down,
            "outages.csv": outages,
            "devices.csv": devices,
            "bridge.json": json.dumps(self.summary(), indent=2, sort_keys=True) + "\n",
        }


def _num(value: float) -> str:
    return "" if not math.isfinite(value) else f"{value:.6f}"


def _csv(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()
