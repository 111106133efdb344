"""Bridge internet backhaul: latency to the network server and outages.

Model: each bridge's internet link alternates between up and down periods (an alternating renewal
process with exponential up and down times). The mean down time is ``backhaul_outage_mean_s`` and
the mean up time ``outage_mean * A / (1 - A)`` so the long-run availability is ``A``. Outage windows
are drawn once per run from the ``backhaul`` stream, up to a horizon (after it the link is up), and
a SimPy process flips each bridge's state at the window edges. A frame decoded while a bridge's
link is down is lost at that bridge. Latency is log-normal with the configured median and shape,
independent per copy; since only the first copy counts at the network server, its arrival is drawn
directly from the distribution of the minimum of the ``k`` copies sent: with ``Z`` the minimum of
``k`` standard normals, ``P(Z > z) = (1 - Phi(z))**k``, so ``Z = Phi^-1(1 - V**(1/k))`` for one
uniform ``V`` (order statistics, e.g. David & Nagaraja, "Order Statistics", 3rd ed., 2.1).

Source: alternating renewal availability A = MTBF / (MTBF + MTTR) (e.g. Trivedi, "Probability and
Statistics with Reliability, Queuing and Computer Science Applications", ch. 8). The latency and
outage figures are ASSUMPTIONS: Amazon publishes none for Sidewalk bridges.

Bandwidth caps and data allowances are ``mesh.bridgelimits``'.

Leaves out: correlated outages.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import numpy as np
import simpy
from scipy.special import ndtri

from mesh.config import BridgeConfig


class Backhaul:
    def __init__(
        self,
        env: simpy.Environment,
        n_nodes: int,
        bridges: np.ndarray,
        cfg: BridgeConfig,
        horizon_s: float,
        rng: np.random.Generator,
    ) -> None:
        self._rng = rng
        self._mu = (
            math.log(cfg.backhaul_latency_median_s) if cfg.backhaul_latency_median_s > 0 else None
        )
        self._sigma = cfg.backhaul_latency_sigma
        self._buffer = np.zeros(0)
        self._buffer_pos = 0
        self.down = np.zeros(n_nodes, dtype=bool)
        self.n_down = 0
        # why each bridge is down: bit 0 this model's outages, higher bits ``mesh.faults``
        self._reasons = np.zeros(n_nodes, dtype=np.int64)
        availability = cfg.backhaul_availability
        if availability < 1.0:
            mean_down = cfg.backhaul_outage_mean_s
            mean_up = mean_down * availability / (1.0 - availability)
            edges: list[tuple[float, int, int]] = []
            for b in bridges.tolist():
                starts, ends = _draw_outages(rng, mean_up, mean_down, availability, horizon_s)
                edges.extend((t, 1, b) for t in starts.tolist())
                edges.extend((t, 0, b) for t in ends.tolist())
            edges.sort()
            if edges:
                env.process(self._flip(env, edges))

    def _flip(self, env: simpy.Environment, edges: list[tuple[float, int, int]]) -> Generator[Any]:
        for t, goes_down, bridge in edges:
            if t > env.now:
                yield env.timeout(t - env.now)
            self.set_reason(bridge, 1, bool(goes_down))

    def set_reason(self, node: int, bit: int, down: bool) -> None:
        """Set or clear one reason for ``node``'s link being down; it is down while any is."""
        reasons = int(self._reasons[node])
        reasons = reasons | bit if down else reasons & ~bit
        self._reasons[node] = reasons
        now_down = reasons != 0
        if now_down != bool(self.down[node]):
            self.down[node] = now_down
            self.n_down += 1 if now_down else -1

    def copies_up(self, bridges: np.ndarray, n_decoded: int) -> int:
        """How many of the decoding ``bridges`` (``n_decoded`` of them) can forward now."""
        if self.n_down:
            return n_decoded - int(np.count_nonzero(self.down[bridges]))
        return n_decoded

    def draw(self) -> float:
        """The uniform draw that fixes the first copy's latency of one forwarding."""
        if self._buffer_pos == self._buffer.size:
            self._buffer = self._rng.random(4096)
            self._buffer_pos = 0
        v = float(self._buffer[self._buffer_pos])
        self._buffer_pos += 1
        return v

    def one_way_s(self, rng: np.random.Generator) -> float:
        """One copy's latency (network server -> bridge for downlinks), drawn from ``rng``."""
        if self._mu is None:
            return 0.0
        return math.exp(self._mu + self._sigma * float(rng.standard_normal()))

    def latencies_s(self, k: int, rng: np.random.Generator | None = None) -> np.ndarray:
        """``k`` independent copy latencies, drawn from ``rng`` (default: the backhaul stream;
        a caller with a stream of its own passes it, so its draws leave this one alone)."""
        if self._mu is None:
            return np.zeros(k)
        source = self._rng if rng is None else rng
        return np.exp(self._mu + self._sigma * source.standard_normal(k))

    def first_arrival_s(
        self, sent_s: np.ndarray, copies: np.ndarray, uniform: np.ndarray
    ) -> np.ndarray:
        """Arrival time of the first of ``copies`` copies sent at ``sent_s`` (vectorised). A NaN
        ``uniform`` marks an arrival already drawn: ``sent_s`` is returned as it is."""
        exact = np.isnan(uniform)
        if self._mu is None:
            return sent_s.copy()
        if self._sigma == 0.0:
            return np.where(exact, sent_s, sent_s + math.exp(self._mu))
        u = np.where(exact, 0.5, uniform)
        z_min = ndtri(-np.expm1(np.log1p(-u) / copies))
        arrival = sent_s + np.exp(self._mu + self._sigma * z_min)
        return np.asarray(np.where(exact, sent_s, arrival), dtype=np.float64)


def _draw_outages(
    rng: np.random.Generator,
    mean_up: float,
    mean_down: float,
    availability: float,
    horizon_s: float,
) -> tuple[np.ndarray, np.ndarray]:
    starts: list[float] = []
    ends: list[float] = []
    # start in the stationary regime: down at t=0 with probability 1 - A
    t = 0.0
    if rng.random() >= availability:
        t_end = rng.exponential(mean_down)
        starts.append(0.0)
        ends.append(t_end)
        t = t_end
    while t < horizon_s:
        t += rng.exponential(mean_up)
        if t >= horizon_s:
            break
        down = rng.exponential(mean_down)
        starts.append(t)
        ends.append(t + down)
        t += down
    return np.asarray(starts), np.asarray(ends)
