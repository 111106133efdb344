"""Faults: bridge power and internet outages, permanent node failures and jammers.

Model:
- Random outages per bridge: an alternating renewal process (exponential up times of mean
  ``*_mtbf_s``, exponential down times of mean ``*_mttr_s``), started in its stationary regime
  (down at t = 0 with probability MTTR / (MTBF + MTTR)); power and internet outages are drawn
  independently. Scheduled outages (``[[faults.outages]]``) add fixed windows.
- A bridge without power neither listens, transmits, relays nor forwards; a bridge without
  internet listens (and relays, when bridges relay) but forwards nothing.
- Permanent failures: ``failure_fraction`` of the bridges and relays, each at a uniform time in
  the run, plus scheduled ones (``[[faults.failures]]``, any node). A failed node is off for the
  rest of the run; a failed endpoint generates no more traffic (its later packets end as
  ``node_failed``).
- Jammers: bursts of ``burst_s`` repeating every ``burst_s / duty_cycle`` from a random phase,
  between ``start_s`` and ``end_s``, on every channel of one link's band. Every frame of that band
  that overlaps a burst has the jammer's power added to its interference at each receiver
  (median path loss of the scenario's model from the jammer's position, plus the receiver's wall;
  no shadowing), weighted like a co-channel frame of the same modulation; listen-before-talk hears
  it.
- All draws come from the run's ``faults`` stream.

Recovery: for every outage window of a bridge that ends within the run, the time from its end to
the next copy that bridge forwards to the network server.

Source: alternating renewal availability, A = MTBF / (MTBF + MTTR) (Trivedi, "Probability and
Statistics with Reliability, Queuing and Computer Science Applications", ch. 8). The figures are
the user's; no defaults are published for home internet or power.

Leaves out: correlated outages (a neighbourhood-wide power cut is a scheduled window naming every
bridge), FSK beacon sync and BLE downlink routes reacting to power outages, jammers with
frequency hopping or partial band coverage.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from mesh.config import FaultsConfig, JammerConfig

if TYPE_CHECKING:
    from mesh.backhaul import Backhaul
    from mesh.medium import Medium

POWER, BACKHAUL, FAILURE = 0, 1, 2
KIND_NAMES: tuple[str, ...] = ("power", "backhaul", "failure")
#: ``Backhaul`` down-reason bits set by faults (bit 0 is the backhaul's own availability model).
REASON_BIT = {POWER: 2, BACKHAUL: 4, FAILURE: 8}


class FaultError(ValueError):
    """A fault names a node that is not there (or not a bridge)."""


@dataclass(frozen=True)
class FaultPlan:
    """Every fault window of one run: ``node`` is down for ``kind`` from ``start_s`` to
    ``end_s`` (inf: for good)."""

    node: np.ndarray
    kind: np.ndarray
    start_s: np.ndarray
    end_s: np.ndarray

    @property
    def size(self) -> int:
        return int(self.node.size)

    def union(self) -> tuple[np.ndarray, np.ndarray]:
        """The windows during which at least one bridge or node is down, merged and sorted."""
        if self.size == 0:
            return np.zeros(0), np.zeros(0)
        order = np.argsort(self.start_s, kind="stable")
        starts, ends = self.start_s[order], self.end_s[order]
        merged_s: list[float] = []
        merged_e: list[float] = []
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
            if merged_e and a <= merged_e[-1]:
                merged_e[-1] = max(merged_e[-1], b)
            else:
                merged_s.append(a)
                merged_e.append(b)
        return np.asarray(merged_s), np.asarray(merged_e)


def alternating_windows(
    rng: np.random.Generator, mtbf_s: float, mttr_s: float, horizon_s: float
) -> tuple[list[float], list[float]]:
    """Down windows of one alternating renewal process up to ``horizon_s``, stationary start."""
    starts: list[float] = []
    ends: list[float] = []
    t = 0.0
    if rng.random() < mttr_s / (mtbf_s + mttr_s):
        t = float(rng.exponential(mttr_s))
        starts.append(0.0)
        ends.append(t)
    while True:
        t += float(rng.exponential(mtbf_s))
        if t >= horizon_s:
            break
        down_s = float(rng.exponential(mttr_s))
        starts.append(t)
        ends.append(t + down_s)
        t += down_s
    return starts, ends


def plan_faults(
    cfg: FaultsConfig,
    n_nodes: int,
    is_bridge: np.ndarray,
    is_relay: np.ndarray,
    duration_s: float,
    horizon_s: float,
    rng: np.random.Generator,
) -> FaultPlan:
    """Draw and collect every fault window. Raises :class:`FaultError` for bad node ids."""
    node: list[int] = []
    kind: list[int] = []
    start: list[float] = []
    end: list[float] = []

    def add(n: int, k: int, a: float, b: float) -> None:
        node.append(n)
        kind.append(k)
        start.append(a)
        end.append(b)

    bridges = np.flatnonzero(is_bridge).tolist()
    for k, mtbf_s, mttr_s in (
        (POWER, cfg.power_mtbf_s, cfg.power_mttr_s),
        (BACKHAUL, cfg.backhaul_mtbf_s, cfg.backhaul_mttr_s),
    ):
        if mtbf_s > 0:
            for b in bridges:
                starts, ends = alternating_windows(rng, mtbf_s, mttr_s, horizon_s)
                for a, e in zip(starts, ends, strict=True):
                    add(b, k, a, e)
    if cfg.failure_fraction > 0:
        candidates = np.flatnonzero(is_bridge | is_relay)
        count = round(cfg.failure_fraction * candidates.size)
        chosen = np.sort(rng.choice(candidates, size=count, replace=False))
        times = rng.uniform(0.0, duration_s, size=count)
        for n, t in zip(chosen.tolist(), times.tolist(), strict=True):
            add(n, FAILURE, t, math.inf)
    check_nodes(cfg, is_bridge)
    for window in cfg.outages:
        for b in window.bridges:
            add(b, POWER if window.kind == "power" else BACKHAUL, window.start_s, window.end_s)
    for failure in cfg.failures:
        add(failure.node, FAILURE, failure.at_s, math.inf)
    return FaultPlan(
        np.asarray(node, dtype=np.int64),
        np.asarray(kind, dtype=np.int8),
        np.asarray(start, dtype=np.float64),
        np.asarray(end, dtype=np.float64),
    )


def check_nodes(cfg: FaultsConfig, is_bridge: np.ndarray) -> None:
    """Raise :class:`FaultError` when a scheduled outage names a node that is not a bridge, or
    a scheduled failure a node that does not exist."""
    n_nodes = int(is_bridge.size)
    bridges = np.flatnonzero(is_bridge).tolist()
    for k, window in enumerate(cfg.outages):
        for b in window.bridges:
            if not (0 <= b < n_nodes and is_bridge[b]):
                raise FaultError(
                    f"[[faults.outages]] entry {k + 1}: node {b} is not a bridge of this "
                    f"topology (bridges are node ids {_ids(bridges)})"
                )
    for k, failure in enumerate(cfg.failures):
        if not 0 <= failure.node < n_nodes:
            raise FaultError(
                f"[[faults.failures]] entry {k + 1}: node {failure.node} is not in the topology "
                f"(node ids 0..{n_nodes - 1})"
            )


def _ids(ids: list[int]) -> str:
    text = ", ".join(map(str, ids[:8]))
    return text + (", ..." if len(ids) > 8 else "")


@dataclass(frozen=True)
class Jammer:
    """One jammer: bursts of ``burst_s`` every ``period_s`` (``burst_s / duty_cycle``) from
    ``phase_s``, within ``[start_s, end_s)``, and its received power at every node. Burst ``k``
    starts at ``start_s + phase_s + k * period_s`` (k >= -1, clipped to the window); queries are
    arithmetic, so no list of bursts is ever built."""

    config: JammerConfig
    phase_s: float
    power_mw: np.ndarray  # per node

    @property
    def period_s(self) -> float:
        return self.config.burst_s / self.config.duty_cycle

    def overlaps(self, t0_s: float, t1_s: float) -> bool:
        """Is a burst on during part of ``[t0, t1]`` (an instant when ``t0 == t1``)?"""
        cfg = self.config
        a, b = max(t0_s, cfg.start_s), min(t1_s, cfg.end_s)
        if a > b or (a == b and (a >= cfg.end_s or t0_s != t1_s)):
            return False
        if cfg.duty_cycle >= 1.0:
            return True
        period_s = self.period_s
        base_s = cfg.start_s + self.phase_s - period_s
        k = math.floor((a - base_s) / period_s)
        burst_start_s = base_s + k * period_s
        if a < burst_start_s + cfg.burst_s:  # inside burst k (it started at or before a)
            return True
        return burst_start_s + period_s < b or (a == b and burst_start_s + period_s == a)

    def on_at(self, t_s: float) -> bool:
        return self.overlaps(t_s, t_s)

    def bursts_between(self, t0_s: float, t1_s: float) -> tuple[np.ndarray, np.ndarray]:
        """The burst windows clipped to ``[t0, t1]`` (for reports and tests)."""
        cfg = self.config
        a, b = max(t0_s, cfg.start_s), min(t1_s, cfg.end_s)
        if a >= b:
            return np.zeros(0), np.zeros(0)
        if cfg.duty_cycle >= 1.0:
            return np.array([a]), np.array([b])
        period_s = self.period_s
        base_s = cfg.start_s + self.phase_s - period_s
        k0 = math.floor((a - base_s) / period_s)
        k1 = math.ceil((b - base_s) / period_s)
        starts = base_s + period_s * np.arange(k0, k1 + 1)
        ends = np.minimum(starts + cfg.burst_s, b)
        starts = np.maximum(starts, a)
        keep = ends > starts
        return starts[keep], ends[keep]


def jammer_phase_s(cfg: JammerConfig, rng: np.random.Generator) -> float:
    """The random phase of a jammer's bursts (one draw, also for a continuous jammer)."""
    return float(rng.uniform(0.0, cfg.burst_s / cfg.duty_cycle))


class FaultEngine:
    """Applies a :class:`FaultPlan` as the run goes: one SimPy process walking the windows'
    edges in time order."""

    def __init__(
        self,
        env: simpy.Environment,
        plan: FaultPlan,
        medium: Medium,
        backhaul: Backhaul,
        off: np.ndarray,
        failed: np.ndarray,
    ) -> None:
        """``off`` (powered off or failed) and ``failed`` are per-node flags the engine keeps up
        to date for the relaying strategy and the MAC."""
        self.plan = plan
        self._medium = medium
        self._backhaul = backhaul
        self.off = off
        self.failed = failed
        self._open = np.zeros((off.size, len(KIND_NAMES)), dtype=np.int64)  # windows open
        self.failed_at_s = np.full(off.size, math.inf)
        self.awaiting: dict[int, float] = {}  # bridge -> end of its last outage, not recovered
        self.recovery_s: list[float] = []
        edges: list[tuple[float, int, int, int, int]] = []
        for i in range(plan.size):
            node, kind = int(plan.node[i]), int(plan.kind[i])
            edges.append((float(plan.start_s[i]), 1, i, node, kind))
            if math.isfinite(plan.end_s[i]):
                edges.append((float(plan.end_s[i]), 0, i, node, kind))
        edges.sort()
        if edges:
            env.process(self._run(env, edges))

    def _run(
        self, env: simpy.Environment, edges: list[tuple[float, int, int, int, int]]
    ) -> Generator[Any, Any, None]:
        for t, goes_down, _, node, kind in edges:
            if t > env.now:
                yield env.timeout(t - env.now)
            self._apply(node, kind, bool(goes_down), env.now)

    def _apply(self, node: int, kind: int, down: bool, t: float) -> None:
        """One window edge. Windows of one kind may overlap on a node: it stays down for that
        kind until the last of them ends."""
        open_ = self._open[node]
        open_[kind] += 1 if down else -1
        if open_[kind] == (1 if down else 0):  # the kind switched on or off
            self._backhaul.set_reason(node, REASON_BIT[kind], down)
        if kind == FAILURE and down:
            self.failed[node] = True
            self.failed_at_s[node] = min(self.failed_at_s[node], t)
        if kind in (POWER, FAILURE):
            off = bool(open_[POWER] or open_[FAILURE])
            self.off[node] = off
            for lm in self._medium.links.values():
                base = lm.always_on is not None and bool(lm.always_on[node])
                lm.listening[node] = base and not off
        if down:
            self.awaiting.pop(node, None)
        elif not open_.any() and not self._backhaul.down[node]:
            self.awaiting[node] = t

    def forwarded(self, bridges: np.ndarray, t: float) -> None:
        """``bridges`` forwarded a copy at ``t``: close their pending recoveries."""
        for b in bridges.tolist():
            end_s = self.awaiting.pop(b, None)
            if end_s is not None:
                self.recovery_s.append(t - end_s)
