"""Summaries of relaying, mobility and faults: the ``routing``, ``mobility`` and ``faults``
sections of ``summary.json``.

- routing: the strategy; radio hops of delivered packets (histogram, mean, max: the first copy a
  bridge forwarded); duplicates at the network server (copies beyond the first of each delivered
  packet) and at relays (receptions of frames already in their seen cache); relay transmissions
  and their airtime; airtime per node (every node's transmit time: endpoints' own frames, relays'
  frames, bridges' ACKs, downlinks and beacons); the relay energy burden of relay endpoints: the
  energy of their relay transmissions (airtime x transmit current x battery voltage) plus the
  listening that relaying costs them over sleeping ((RX - sleep current) x time x voltage).
- mobility: delivery ratio of mobile and static endpoints; coverage gaps along the tracks
  (``mesh.movers``): count, mean, median, p95 and longest, and the share of time uncovered.
- faults: windows by kind and their total length; packets generated while some node was down
  (any fault window) and their delivery ratio, against the others; recovery times after outages.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mesh.faults import KIND_NAMES
from mesh.ledger import TX
from mesh.links import FREQUENCY_HZ, class_phy
from mesh.records import DELIVERED
from mesh.simulation import SimResult
from radios.energy import BATTERIES, RADIO_PROFILES


def _stats(values: np.ndarray) -> dict[str, Any]:
    if values.size == 0:
        return {"count": 0, "mean": None, "p50": None, "p95": None, "max": None}
    return {
        "count": int(values.size),
        "mean": float(values.mean()),
        "p50": float(np.percentile(values, 50)),
        "p95": float(np.percentile(values, 95)),
        "max": float(values.max()),
    }


def airtime_per_node_s(sim: SimResult) -> np.ndarray:
    """Transmit time of every node (both chips)."""
    d = sim.chip_durations_s
    return np.asarray(d[:, TX] + d[:, TX + 3], dtype=np.float64)


def relay_energy_j(sim: SimResult) -> np.ndarray:
    """Per node: energy relay endpoints spend on others' packets (0 for the others)."""
    out = np.zeros(sim.topology.n_nodes)
    routing = sim.routing
    if routing is None or sim.relay_listen_s is None:
        return out
    for index, cls in enumerate(sim.config.endpoint_classes):
        if not cls.relay:
            continue
        nodes = np.flatnonzero(sim.class_of_node == index)
        radio = RADIO_PROFILES[cls.radio_for(cls.link)]
        voltage_v = BATTERIES[cls.battery].voltage_v
        tx_a = radio.tx_current_at(cls.tx_power_for(cls.link))
        listen_a = radio.rx_current_a - radio.sleep_current_a
        out[nodes] = voltage_v * (
            routing.relay_tx_s[nodes] * tx_a + sim.relay_listen_s[nodes] * listen_a
        )
    return out


def routing_summary(sim: SimResult) -> dict[str, Any]:
    records = sim.records
    delivered = records.fate == DELIVERED
    hops = np.maximum(records.hops[delivered].astype(np.int64), 1)  # direct: one hop
    histogram = np.bincount(hops) if hops.size else np.zeros(1, dtype=np.int64)
    airtime = airtime_per_node_s(sim)
    routing = sim.routing
    out: dict[str, Any] = {
        "strategy": sim.config.routing.strategy,
        "hops": {str(h): int(c) for h, c in enumerate(histogram.tolist()) if h and c},
        "hops_mean": float(hops.mean()) if hops.size else None,
        "hops_max": int(hops.max()) if hops.size else None,
        "duplicates_at_server": int(np.sum(records.copies[delivered] - 1)),
        "airtime_per_node_s": _stats(airtime),
        "relays": 0,
        "relay_frames": 0,
        "relay_airtime_s": 0.0,
        "duplicates_at_relays": 0,
        "relay_energy_j": _stats(np.zeros(0)),
    }
    if routing is None:
        return out
    relays = routing.is_relay
    energy = relay_energy_j(sim)
    endpoint_relays = relays & (sim.class_of_node >= 0)
    out.update(
        {
            "relays": int(relays.sum()),
            "relay_frames": int(routing.relay_frames.sum()),
            "relay_airtime_s": float(routing.relay_tx_s.sum()),
            "duplicates_at_relays": int(routing.duplicates.sum()),
            "relay_energy_j": {
                **_stats(energy[endpoint_relays]),
                "total": float(energy.sum()),
            },
        }
    )
    extra = {
        "cancelled_rebroadcasts": getattr(routing, "cancelled", None),
        "parent_changes": getattr(routing, "parent_changes", None),
    }
    for key, value in extra.items():
        if value is not None:
            out[key] = int(np.sum(value))
    if hasattr(routing, "beacons"):
        out["beacons"] = int(routing.beacons)
    return out


def mobility_summary(sim: SimResult) -> dict[str, Any] | None:
    movers = sim.movers
    if movers is None:
        return None
    records = sim.records
    delivered = records.fate == DELIVERED
    moving = movers.mobile[records.endpoint]
    gaps: list[np.ndarray] = []
    uncovered: list[float] = []
    bridges = sim.topology.bridge_ids
    classes = sim.config.endpoint_classes
    for node in sorted(movers.trajectories):
        cls = classes[int(sim.class_of_node[node])]
        phy = class_phy(cls, sim.config.privacy.encryption_overhead_bytes)
        node_gaps, share = movers.coverage_gaps(
            node,
            bridges,
            sim.config.scenario.duration_s,
            cls.mobility.gap_sample_s,
            phy.tx_power_dbm,
            phy.sensitivity_dbm,
            FREQUENCY_HZ[cls.link],
        )
        gaps.append(node_gaps)
        uncovered.append(share)
    all_gaps = np.concatenate(gaps) if gaps else np.zeros(0)
    return {
        "mobile_endpoints": len(movers.trajectories),
        "pdr_mobile": float(delivered[moving].mean()) if moving.any() else None,
        "pdr_static": float(delivered[~moving].mean()) if (~moving).any() else None,
        "coverage_gaps_s": _stats(all_gaps),
        "uncovered_share": float(np.mean(uncovered)) if uncovered else None,
    }


def faults_summary(sim: SimResult) -> dict[str, Any] | None:
    engine = sim.faults
    if engine is None:
        return None
    plan = engine.plan
    records = sim.records
    delivered = records.fate == DELIVERED
    horizon_s = sim.horizon_s
    windows: dict[str, Any] = {}
    for k, name in enumerate(KIND_NAMES):
        mask = plan.kind == k
        length = np.minimum(plan.end_s[mask], horizon_s) - np.minimum(plan.start_s[mask], horizon_s)
        windows[name] = {"count": int(mask.sum()), "total_s": float(np.sum(length))}
    starts, ends = plan.union()
    during = np.zeros(len(records), dtype=bool)
    if starts.size:
        window = np.searchsorted(starts, records.generated_s, side="right") - 1
        ok = window >= 0
        during[ok] = records.generated_s[ok] < ends[window[ok]]
    recovery = np.asarray(engine.recovery_s, dtype=np.float64)
    return {
        "windows": windows,
        "jammers": len(sim.config.faults.jammers),
        "packets_during_faults": int(during.sum()),
        "pdr_during_faults": float(delivered[during].mean()) if during.any() else None,
        "pdr_outside_faults": float(delivered[~during].mean()) if (~during).any() else None,
        "recovery_s": _stats(recovery),
        "unrecovered": len(engine.awaiting),
        "failed_nodes": int(engine.failed.sum()),
    }


def relay_columns(sim: SimResult, nodes: np.ndarray) -> dict[str, np.ndarray]:
    """Per-node columns for ``endpoints.csv`` and ``bridges.csv``."""
    routing = sim.routing
    zeros = np.zeros(nodes.size)
    return {
        "airtime_s": airtime_per_node_s(sim)[nodes],
        "relay_frames": routing.relay_frames[nodes] if routing is not None else zeros.astype(int),
        "relay_energy_j": relay_energy_j(sim)[nodes],
    }
