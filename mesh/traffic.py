"""Traffic: when each endpoint generates its application packets.

Model: per endpoint class, either periodic traffic (a random phase uniform in one period, then one
packet per period, each moved by U(-jitter, +jitter)) or a homogeneous Poisson process of rate
1/interval (Poisson count over the run, then uniform order statistics, which is exactly a Poisson
process on [0, duration)). Packets generated outside [0, duration) are not generated. The whole
schedule is drawn at once, vectorised, from the ``traffic`` stream, so it does not depend on the
order in which the simulation later runs; it is laid out endpoint by endpoint (CSR), and a packet's
id is its position in that layout.

Source: Poisson arrivals as in the pure-ALOHA analysis (Abramson 1970); periodic sensor reporting
as in LoRaSim (Bor et al. 2016).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mesh.config import EndpointConfig


@dataclass(frozen=True)
class Schedule:
    indptr: np.ndarray  # (n_nodes + 1,): packets of node i are times[indptr[i]:indptr[i+1]]
    times_s: np.ndarray
    endpoint: np.ndarray  # node id of each packet

    @property
    def n_packets(self) -> int:
        return int(self.times_s.size)


def draw_times(
    cfg: EndpointConfig, nodes: np.ndarray, duration_s: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Generation times of one class; returns ``(node id per packet, time per packet)``."""
    n = int(nodes.size)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    if cfg.traffic == "poisson":
        counts = rng.poisson(duration_s / cfg.interval_s, size=n)
        owner = np.repeat(nodes, counts)
        times = rng.uniform(0.0, duration_s, size=owner.size)
        return owner, times
    phase = rng.uniform(0.0, cfg.interval_s, size=n)
    per_node = int(np.ceil(duration_s / cfg.interval_s)) + 1
    # k starts at -1: with jitter, the period before the phase can also land inside the run
    times = phase[:, None] + cfg.interval_s * np.arange(-1, per_node)[None, :]
    if cfg.jitter_s > 0:
        times = times + rng.uniform(-cfg.jitter_s, cfg.jitter_s, size=times.shape)
    owner = np.broadcast_to(nodes[:, None], times.shape)
    keep = (times >= 0.0) & (times < duration_s)
    return owner[keep].astype(np.int64), times[keep]


def build_schedule(
    classes: tuple[EndpointConfig, ...],
    class_of_node: np.ndarray,
    duration_s: float,
    rng: np.random.Generator,
) -> Schedule:
    """Draw every class's packets and lay them out node by node, each node's in time order."""
    owners: list[np.ndarray] = []
    times: list[np.ndarray] = []
    for index, cfg in enumerate(classes):
        nodes = np.flatnonzero(class_of_node == index)
        owner, t = draw_times(cfg, nodes, duration_s, rng)
        owners.append(owner)
        times.append(t)
    owner = np.concatenate(owners) if owners else np.zeros(0, dtype=np.int64)
    t_all = np.concatenate(times) if times else np.zeros(0)
    order = np.lexsort((t_all, owner))
    owner, t_all = owner[order], t_all[order]
    n_nodes = class_of_node.size
    indptr = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner, minlength=n_nodes), out=indptr[1:])
    return Schedule(indptr=indptr, times_s=t_all, endpoint=owner)
