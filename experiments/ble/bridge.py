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
    * Placements (``[[ble.devices]]``, ``[ble.nus]``, the default position) are checked against
      the study area when the bridge is made, before Bluetooth is touched.
    * Threads: the simulation thread and the event loop share nothing but the hand-off
      (:mod:`experiments.ble.handoff`, which lists every crossing): injections carry the
      device's address in, rows and downlinks are handed back to the loop, and the rows kept
      for the results sit behind one lock that both sides take. One writer task on the loop
      writes downlinks to the board, one message after the other, in the order they arrived.
    * Ends when the scenario's duration has passed, on Ctrl-C (the coroutine is cancelled), or
      on a fatal link error (the board has no NUS, the adapter went away for good): each stops
      the simulation through the hand-off and closes the link, even when cancelled again while
      doing so; the simulation thread is waited for a bounded time. :meth:`Bridge.files` then
      gives the results gathered so far (uplinks, downlinks, outages, devices, a JSON summary,
      with the error that ended the run) for ``experiments.runner.write_folder``.

Sources: ``mesh.external`` (engine side), bleak 3.x, SimPy 4 ``simpy.rt``.

Leaves out: the spec's simulated endpoints' summary (the run may be cut short; run the spec with
``sidemesh run`` for it), devices that change address (privacy addresses rotate: each new
address is a new device), and more than one board.
"""

from __future__ import annotations

import asyncio
import dataclasses
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
from experiments.runner import rows_csv
from experiments.spec import Spec
from mesh.config import EndpointConfig
from mesh.context import make_streams
from mesh.external import (
    EXTERNAL_CLASS,
    DownlinkRow,
    ExternalError,
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
    joined_s: dict[str, float] = field(default_factory=dict)  # address -> when it joined

    def node_of(self, adv: Advertisement, cfg: BleConfig) -> int | None:
        """The node of ``adv``'s device, giving it a free slot if ``join`` admits it."""
        node = self.by_address.get(adv.address)
        if node is not None:
            self.joined_s.setdefault(adv.address, adv.time_s)
            return None if node == self.nus else node
        if cfg.join == "listed" or not self.free:
            return None
        if cfg.join == SIDEWALK and SIDEWALK not in adv.kinds:
            return None
        node = self.free.pop(0)
        self.by_address[adv.address] = node
        self.joined_s[adv.address] = adv.time_s
        return node

    def address_of(self, node: int) -> str:
        """The device holding ``node`` ("" for a slot nobody took)."""
        for address, k in self.by_address.items():
            if k == node:
                return address
        return ""


def check_placements(cfg: BleConfig, topo: Topology) -> None:
    """Every position of ``[ble]`` inside the study area; :class:`ExternalError` naming the key."""
    places: list[tuple[str, float | None, float | None]] = [
        (f"[[ble.devices]] entry {k + 1} ({d.address}) x_m, y_m", d.x_m, d.y_m)
        for k, d in enumerate(cfg.devices)
    ]
    if cfg.nus.enabled:
        places.append(("[ble.nus] x_m, y_m", cfg.nus.x_m, cfg.nus.y_m))
    places.append(("[ble] default_x_m, default_y_m", cfg.default_x_m, cfg.default_y_m))
    for key, x, y in places:
        x_m = topo.width_m / 2 if x is None else x
        y_m = topo.height_m / 2 if y is None else y
        if not (0 <= x_m <= topo.width_m and 0 <= y_m <= topo.height_m):
            raise ExternalError(
                f"{key}: ({x_m:g}, {y_m:g}) m is outside the study area "
                f"[0, {topo.width_m:g}] x [0, {topo.height_m:g}]"
            )


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
    """``mesh.external.ExternalHooks`` of the bridge, called on the simulation thread.

    It reads nothing the event loop writes except through the hand-off (an injection carries
    its device's address as its ``name``); ``on_row`` and ``deliver`` are expected to hand
    their argument over to the loop (:meth:`Handoff.to_loop`); the rows are kept behind a lock
    that readers on any thread take too (:attr:`uplinks`, :attr:`downlinks` are copies)."""

    def __init__(
        self,
        handoff: Handoff,
        nus: int | None,
        route_to_nus: bool,
        deliver: Callable[[bytes], None],
        on_row: Callable[[UplinkRow | DownlinkRow], None],
    ) -> None:
        self.handoff = handoff
        self.nus = nus
        self.route_to_nus = route_to_nus and nus is not None
        self.deliver = deliver
        self.on_row = on_row
        self._lock = threading.Lock()
        self._uplinks: list[UplinkRow] = []
        self._downlinks: list[DownlinkRow] = []

    @property
    def uplinks(self) -> list[UplinkRow]:
        """The uplink rows so far (a copy, taken under the lock)."""
        with self._lock:
            return list(self._uplinks)

    @property
    def downlinks(self) -> list[DownlinkRow]:
        """The downlink rows so far (a copy, taken under the lock)."""
        with self._lock:
            return list(self._downlinks)

    @property
    def names(self) -> dict[int, str]:
        """Node -> the device address its uplinks came from."""
        return {row.node: row.name for row in self.uplinks}

    def pending(self) -> Sequence[Injection] | None:
        return self.handoff.pending()

    def uplink(self, row: UplinkRow) -> Sequence[tuple[int, bytes]]:
        with self._lock:
            self._uplinks.append(row)
        self.on_row(row)
        if not self.route_to_nus or row.node == self.nus or row.fate != "delivered":
            return ()
        assert self.nus is not None
        line = f"{row.name} {row.payload.hex()} {row.tag}".strip()
        return [(self.nus, (line + "\n").encode("utf-8"))]

    def downlink(self, row: DownlinkRow) -> None:
        with self._lock:
            self._downlinks.append(row)
        self.on_row(row)
        if row.fate == "delivered" and row.node == self.nus:
            self.deliver(row.payload)


class Bridge:
    """One bridge session. ``await bridge.run()``; then :meth:`files` (also after a cancel or a
    fatal error)."""

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
        check_placements(self.cfg, self.topology)  # fail before touching Bluetooth
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
        check_plan(config, self.plan)
        #: how long the end of a run waits for the simulation thread (it stops at its next
        #: poll, ``poll_s * realtime_factor`` wall seconds away)
        self.join_timeout_s = 5.0 + 2.0 * self.cfg.poll_s * self.cfg.realtime_factor
        self.handoff = Handoff(clock)
        self.link: UartLink | None = None
        self.outages: list[Outage] = []
        self.writes = 0
        self.unsent = 0
        self.adverts = 0
        self.ignored = 0
        self.interrupted = False
        self.started = False  # the simulation thread was started: there are results to keep
        self.failure = ""  # what ended the run early (a fatal link error), for the results
        self.worker_stuck = False  # the simulation thread did not stop in time
        self.error: BaseException | None = None
        self.started_wall_s = 0.0
        self.wall_s = 0.0
        self._last_put: dict[str, float] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._on_row = on_row
        self._to_write: asyncio.Queue[bytes] | None = None
        self._in_flight: asyncio.Future[bool] | None = None  # the message being written
        #: how long the end of a run waits for the message being written to the board
        self.write_timeout_s = 2.0
        self.hooks = BridgeHooks(
            self.handoff,
            self.slots.nus,
            self.cfg.nus.route == "uplinks",
            self._deliver,
            self._row,
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
        self.handoff.put(node, adv.payload, tag=f"rssi={adv.rssi_dbm}", name=adv.address)

    def _on_board_message(self, message: bytes) -> None:
        if self.slots.nus is not None:
            self.handoff.put(self.slots.nus, message, tag="nus")

    def _row(self, row: UplinkRow | DownlinkRow) -> None:
        """(simulation thread) a finished row: shown on the event loop's thread."""
        if self._on_row is not None and self._loop is not None:
            Handoff.to_loop(self._loop, self._on_row, row)

    def _deliver(self, payload: bytes) -> None:
        """(simulation thread) a downlink reached the board's node: write it (event loop)."""
        if self._loop is not None:
            Handoff.to_loop(self._loop, self._start_write, payload)

    def _start_write(self, payload: bytes) -> None:
        if self._to_write is None:
            self.unsent += 1
            return
        self._to_write.put_nowait(payload)

    async def _writer(self, queue: asyncio.Queue[bytes]) -> None:
        """The one writer to the board: one message at a time, in arrival order. A message
        being written when the writer is stopped is finished (shielded), not cut."""
        while True:
            payload = await queue.get()
            link = self.link
            if link is None:
                self.unsent += 1
                continue
            send = asyncio.ensure_future(link.send(payload))
            send.add_done_callback(self._count_write)
            self._in_flight = send
            await asyncio.shield(send)

    def _count_write(self, send: asyncio.Future[bool]) -> None:
        if not send.cancelled() and send.result():
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
        """Scan, bridge and simulate until the scenario ends, the task is cancelled, or the
        link fails for good (its error is raised, after the clean-up)."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        self.started_wall_s = self.clock()
        done = asyncio.Event()
        worker: threading.Thread | None = None
        link_task: asyncio.Task[None] | None = None
        writer: asyncio.Task[None] | None = None
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
                    self._to_write = asyncio.Queue()
                    writer = loop.create_task(self._writer(self._to_write))
                worker = threading.Thread(
                    target=self._simulate, args=(done, loop), name="sidemesh-rt", daemon=True
                )
                worker.start()
                self.started = True
                waiters: list[asyncio.Task[Any]] = [loop.create_task(done.wait())]
                if link_task is not None:
                    waiters.append(link_task)
                try:
                    finished, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    waiters[0].cancel()
                if link_task in finished:
                    link_task.result()  # a fatal link error (no NUS service, no adapter)
        except asyncio.CancelledError:
            self.interrupted = True
            raise
        except Exception as err:
            self.failure = f"{type(err).__name__}: {err}"
            raise
        finally:
            cleanup = loop.create_task(self._shutdown(worker, link_task, writer))
            while not cleanup.done():
                try:
                    await asyncio.shield(cleanup)
                except asyncio.CancelledError:
                    self.interrupted = True  # cancelled again (Ctrl-C twice): finish first
            if not cleanup.cancelled():
                cleanup.result()
        if self.error is not None:
            raise self.error

    async def _shutdown(
        self,
        worker: threading.Thread | None,
        link_task: asyncio.Task[None] | None,
        writer: asyncio.Task[None] | None,
    ) -> None:
        """Stop the simulation, close the link, stop the writer; bounded in time."""
        self.handoff.stop()
        if worker is not None:
            await asyncio.to_thread(worker.join, self.join_timeout_s)
            self.worker_stuck = worker.is_alive()
        if writer is not None:  # no new messages; the one being written goes out whole
            if self._to_write is not None:
                self.unsent += self._to_write.qsize()  # routed to the board, never written
                self._to_write = None
            writer.cancel()
            await asyncio.wait([writer])
            send = self._in_flight
            if send is not None and not send.done():
                await asyncio.wait([send], timeout=self.write_timeout_s)
                if not send.done():
                    send.cancel()
                    await asyncio.wait([send])
        if self.link is not None:
            self.outages = await self.link.close()
        if link_task is not None and not link_task.done():
            link_task.cancel()
            await asyncio.wait([link_task])
        self.wall_s = self.clock() - self.started_wall_s

    # -- results -------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        ups = self.hooks.uplinks
        downs = self.hooks.downlinks
        fates: dict[str, int] = {}
        for row in ups:
            fates[row.fate] = fates.get(row.fate, 0) + 1
        delivered = [r for r in ups if r.fate == "delivered"]
        latency = [r.delivered_s - r.start_s for r in delivered]
        return {
            "spec": self.spec.source,
            "interrupted": self.interrupted,
            "error": self.failure or None,
            "simulation_stopped": not self.worker_stuck,
            "wall_s": round(self.wall_s, 3),
            "realtime_factor": self.cfg.realtime_factor,
            "advertisements_seen": self.adverts,
            "advertisements_ignored": self.ignored,
            "devices_joined": len(self.slots.joined_s),
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
        uplinks, downlinks = self.hooks.uplinks, self.hooks.downlinks
        up = rows_csv(
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
                    r.name,
                    r.size_bytes,
                    r.fate,
                    " ".join(map(str, r.bridges)),
                    _num(r.best_rssi_dbm),
                    _num(r.delivered_s),
                    _num(r.delivered_s - r.start_s),
                    r.tag,
                    r.payload.hex(),
                )
                for r in uplinks
            ],
        )
        down = rows_csv(
            ("sent_s", "node", "device", "size_bytes", "fate", "bridge", "delivered_s"),
            [
                (
                    f"{r.sent_s:.6f}",
                    r.node,
                    r.name,
                    r.size_bytes,
                    r.fate,
                    r.bridge,
                    _num(r.delivered_s),
                )
                for r in downlinks
            ],
        )
        outages = rows_csv(
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
        devices = rows_csv(
            ("node", "address", "x_m", "y_m", "indoor", "joined_s"),
            [
                (
                    k,
                    self.slots.address_of(k),
                    f"{n.x_m:g}",
                    f"{n.y_m:g}",
                    str(n.indoor).lower(),
                    _num(self.slots.joined_s.get(self.slots.address_of(k), math.nan)),
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
