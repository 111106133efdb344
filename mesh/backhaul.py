"""Bridge internet backhaul: latency to the network server and outages.

Model: each bridge's internet link alternates between up and down periods (an alternating renewal
process with exponential up and down times). The mean down time is ``backhaul_outage_mean_s`` and
the mean up time ``outage_mean * A / (1 - A)`` so the long-run availability is ``A``. Outage windows
are drawn once per run from the ``backhaul`` stream, up to a horizon; after it the link is up. A
packet forwarded while the link is down is lost at that bridge. Latency is log-normal with the
configured median and shape, drawn per forwarded copy. Forwarding needs no simulation event: the
arrival time is computed when the bridge decodes the packet.

Source: alternating renewal availability A = MTBF / (MTBF + MTTR) (e.g. Trivedi, "Probability and
Statistics with Reliability, Queuing and Computer Science Applications", ch. 8). The latency and
outage figures are ASSUMPTIONS: Amazon publishes none for Sidewalk bridges.

Leaves out: bandwidth caps and data allowances (a later issue), correlated outages.
"""

from __future__ import annotations

import math

import numpy as np

from mesh.config import BridgeConfig


class Backhaul:
    def __init__(
        self,
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
        self._outages: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        availability = cfg.backhaul_availability
        if availability < 1.0:
            mean_down = cfg.backhaul_outage_mean_s
            mean_up = mean_down * availability / (1.0 - availability)
            for b in bridges.tolist():
                self._outages[b] = _draw_outages(rng, mean_up, mean_down, availability, horizon_s)

    def outages(self, bridge: int) -> tuple[np.ndarray, np.ndarray]:
        """Start and end times of ``bridge``'s outages (empty arrays when always up)."""
        empty = np.zeros(0)
        return self._outages.get(bridge, (empty, empty))

    def is_up(self, bridge: int, t: float) -> bool:
        windows = self._outages.get(bridge)
        if windows is None:
            return True
        starts, ends = windows
        k = int(np.searchsorted(starts, t, side="right")) - 1
        return k < 0 or t >= ends[k]

    def forward(self, bridges: np.ndarray, t: float) -> np.ndarray:
        """Arrival times at the network server of copies sent by ``bridges`` at ``t``; NaN where a
        bridge's backhaul is down."""
        up = np.fromiter(
            (self.is_up(b, t) for b in bridges.tolist()), dtype=bool, count=bridges.size
        )
        arrivals = np.full(bridges.size, np.nan)
        n_up = int(up.sum())
        if n_up:
            if self._mu is None:
                latency = np.zeros(n_up)
            else:
                latency = self._rng.lognormal(self._mu, self._sigma, size=n_up)
            arrivals[up] = t + latency
        return arrivals


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
