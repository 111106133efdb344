"""Summaries: the metrics of one run, computed from the engine's raw records.

Per endpoint: packets generated and delivered, PDR, latency (generation -> first arrival at the
network server of the last fragment), charge and energy by radio state and MCU, mean current and
projected battery life (battery capacity / mean current). Aggregates: PDR, endpoint coverage (share
of endpoints with traffic whose PDR reaches the threshold), area coverage (link budget, see
``mesh.coverage``), latency mean/p50/p95/p99 and its split, energy per delivered packet, drops
by reason, downlinks, bridge load, linkability.

``by_link`` groups packets by the link they were sent on, and endpoint figures (coverage,
energy, battery life) over the endpoints that have only that link; ``by_class`` groups by class,
so a class with a link mask is where its battery life per link choice shows, with the number of
its packets sent on each link.

Mains-powered endpoints (``mains_powered``: plugs, lights) have no battery life, and the overall
energy figures (per endpoint, mean current, per delivered packet) are those of battery endpoints;
the energy of mains-powered ones is given as one total. Relaying, mobility and fault sections come
from ``experiments.meshsummary``.

Floats are rounded to 10 significant digits so that ``summary.json`` is byte-identical for the same
spec and seed on any machine (last-bit differences of libm and SIMD paths vanish).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from experiments.meshsummary import (
    faults_summary,
    mobility_summary,
    relay_columns,
    routing_summary,
)
from mesh.config import LINKS
from mesh.downlink import DL_DELIVERED, DL_PENDING, DL_UNFINISHED, DOWNLINK_FATES
from mesh.ledger import STATE_NAMES
from mesh.records import DELIVERED, DROP_REASONS, FATE_NAMES, PENDING
from mesh.simulation import SimResult

SECONDS_PER_DAY = 86_400.0
CHARGE_NAMES: tuple[str, ...] = (*STATE_NAMES, "mcu")


def rounded(value: Any) -> Any:
    """Round floats (recursively) to 10 significant digits; NaN/inf become None."""
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(v) for v in value]
    if isinstance(value, float | np.floating):
        x = float(value)
        if not np.isfinite(x):
            return None
        return float(f"{x:.10g}")
    if isinstance(value, np.integer):
        return int(value)
    return value


def endpoint_table(sim: SimResult) -> dict[str, np.ndarray]:
    """Per-endpoint columns (rows in node order of the endpoints)."""
    records = sim.records
    nodes = sim.endpoint_ids
    n_nodes = sim.topology.n_nodes
    generated = np.bincount(records.endpoint, minlength=n_nodes)[nodes]
    delivered_mask = records.fate == DELIVERED
    delivered = np.bincount(records.endpoint[delivered_mask], minlength=n_nodes)[nodes]
    latency = records.delivered_s - records.generated_s
    lat_sum = np.bincount(
        records.endpoint[delivered_mask], weights=latency[delivered_mask], minlength=n_nodes
    )[nodes]
    with np.errstate(invalid="ignore", divide="ignore"):
        pdr = np.where(generated > 0, delivered / np.maximum(generated, 1), np.nan)
        latency_mean = np.where(delivered > 0, lat_sum / np.maximum(delivered, 1), np.nan)
    charge = sim.charge_c[nodes]
    voltage = sim.battery_voltage_v[nodes]
    energy = charge * voltage[:, None]
    mean_current = charge.sum(axis=1) / sim.horizon_s
    with np.errstate(divide="ignore"):
        life_days = (
            sim.battery_capacity_c[nodes]
            / (mean_current + sim.battery_leakage_a[nodes])
            / SECONDS_PER_DAY
        )
    classes = sim.config.endpoint_classes
    class_index = sim.class_of_node[nodes]
    mains = np.array([classes[i].mains_powered for i in class_index], dtype=bool)
    life_days = np.where(mains, np.nan, life_days)  # mains-powered: no battery
    columns: dict[str, np.ndarray] = {
        "node": nodes,
        "class": np.array([classes[i].name for i in class_index], dtype=object),
        "link": np.array([classes[i].label for i in class_index], dtype=object),
        "x_m": sim.topology.positions_m[nodes, 0],
        "y_m": sim.topology.positions_m[nodes, 1],
        "indoor": sim.topology.indoor[nodes],
        "generated": generated,
        "delivered": delivered,
        "pdr": pdr,
        "latency_mean_s": latency_mean,
    }
    for k, name in enumerate(CHARGE_NAMES):
        columns[f"energy_{name}_j"] = energy[:, k]
    columns["energy_j"] = energy.sum(axis=1)
    columns["mean_current_ua"] = mean_current * 1e6
    columns["battery_life_days"] = life_days
    columns["mains_powered"] = mains
    columns.update(relay_columns(sim, nodes))
    return columns


def _latency_stats(latency_s: np.ndarray) -> dict[str, float | None]:
    if latency_s.size == 0:
        return {"mean": None, "p50": None, "p95": None, "p99": None}
    p50, p95, p99 = np.percentile(latency_s, [50, 95, 99])
    return {"mean": float(latency_s.mean()), "p50": p50, "p95": p95, "p99": p99}


def _downlinks(sim: SimResult, endpoints: np.ndarray | None) -> dict[str, Any]:
    """Downlink counts, delivery ratio (unfinished ones left out) and latency (sent by the
    application -> decoded by the endpoint) of the downlinks to ``endpoints`` (None: all)."""
    dl = sim.downlinks
    mask = np.ones(len(dl), dtype=bool) if endpoints is None else np.isin(dl.endpoint, endpoints)
    fate = dl.fate[mask]
    delivered = fate == DL_DELIVERED
    n_delivered = int(delivered.sum())
    decided = int(np.sum(fate != DL_UNFINISHED))
    latency = (dl.delivered_s[mask] - dl.generated_s[mask])[delivered]
    return {
        "generated": int(mask.sum()),
        "delivered": n_delivered,
        "delivery_ratio": n_delivered / decided if decided else None,
        "fates": {name: int(np.sum(fate == k)) for k, name in enumerate(DOWNLINK_FATES)},
        "transmissions": int(dl.transmissions[mask].sum()),
        "latency_s": _latency_stats(latency),
    }


def bridge_table(sim: SimResult) -> dict[str, np.ndarray]:
    """Per-bridge columns: position, account, forwarded copies and bytes, mean queueing delay,
    copies dropped by the queue limit and by the allowance, downlink bytes, mean load."""
    load = sim.bridge_load
    nodes = sim.topology.bridge_ids
    copies = load.copies_forwarded[nodes]
    with np.errstate(invalid="ignore", divide="ignore"):
        delay = np.where(copies > 0, load.queueing_delay_s[nodes] / np.maximum(copies, 1), np.nan)
    return {
        "node": nodes,
        "x_m": sim.topology.positions_m[nodes, 0],
        "y_m": sim.topology.positions_m[nodes, 1],
        "account": sim.account_of_node[nodes],
        "copies_forwarded": copies,
        "bytes_forwarded": load.bytes_forwarded[nodes],
        "load_bps": load.bytes_forwarded[nodes] * 8 / sim.horizon_s,
        "queueing_delay_mean_s": delay,
        "dropped_queue": load.dropped_queue[nodes],
        "dropped_allowance": load.dropped_allowance[nodes],
        "downlink_bytes": load.downlink_bytes[nodes],
        "airtime_s": relay_columns(sim, nodes)["airtime_s"],
        "relay_frames": relay_columns(sim, nodes)["relay_frames"],
    }


def _bridges(sim: SimResult) -> dict[str, Any]:
    table = bridge_table(sim)
    cfg = sim.config.bridge
    load = table["load_bps"]
    allowance = sim.bridge_load.allowance
    peak_use = None
    if allowance is not None and allowance.used_bytes:
        peak = max(int(used.max(initial=0)) for used in allowance.used_bytes.values())
        peak_use = peak / allowance.allowance_bytes
    copies = table["copies_forwarded"]
    waited = float(sim.bridge_load.queueing_delay_s.sum())
    return {
        "count": int(table["node"].size),
        "rate_cap_bps": cfg.backhaul_rate_bps or None,
        "load_bps_mean": float(load.mean()) if load.size else None,
        "load_bps_max": float(load.max()) if load.size else None,
        "copies_forwarded": int(copies.sum()),
        "bytes_forwarded": int(table["bytes_forwarded"].sum()),
        "queueing_delay_mean_s": waited / int(copies.sum()) if copies.sum() else None,
        "dropped_queue": int(table["dropped_queue"].sum()),
        "dropped_allowance": int(table["dropped_allowance"].sum()),
        "accounts": int(sim.account_of_node.max(initial=-1) + 1),
        "allowance_peak_use": peak_use,
    }


def _privacy(sim: SimResult, endpoints: np.ndarray | None) -> dict[str, Any] | None:
    """Linkability by bridge owners: mean (over observed endpoints) of each endpoint's mean
    linkable interval, and the longest interval seen."""
    result = sim.linkability
    if result is None:
        return None
    rows = sim.endpoint_ids if endpoints is None else endpoints
    observed = result.groups[rows] > 0
    longest = result.max_linkable_s[rows][observed]
    mean = result.mean_linkable_s[rows][observed]
    return {
        "endpoints_observed": int(observed.sum()),
        "mean_linkable_s": float(mean.mean()) if mean.size else None,
        "max_linkable_s": float(longest.max()) if longest.size else None,
        "observations": int(result.observations[rows].sum()),
    }


def _group(
    sim: SimResult, table: dict[str, np.ndarray], rows: np.ndarray, packets: np.ndarray
) -> dict[str, Any]:
    records = sim.records
    generated = int(packets.sum())
    delivered_mask = packets & (records.fate == DELIVERED)
    delivered = int(delivered_mask.sum())
    latency = records.delivered_s[delivered_mask] - records.generated_s[delivered_mask]
    split = {
        name: float(part[delivered_mask].mean()) if delivered else None
        for name, part in sim.latency_split.items()
    }
    with_traffic = rows & (table["generated"] > 0)
    threshold = sim.config.metrics.coverage_pdr_threshold
    covered = int(np.sum(table["pdr"][with_traffic] >= threshold))
    life = table["battery_life_days"][rows]
    life = life[~np.isnan(life)]  # mains-powered endpoints have none
    energy = table["energy_j"][rows]
    reached = None if sim.reached is None else sim.reached[table["node"][rows]]
    return {
        "endpoints": int(rows.sum()),
        "endpoint_reach": float(reached.mean()) if reached is not None and reached.size else None,
        "generated": generated,
        "delivered": delivered,
        "pdr": delivered / generated if generated else None,
        "endpoint_coverage": covered / int(with_traffic.sum()) if with_traffic.any() else None,
        "latency_s": _latency_stats(latency),
        "latency_split_mean_s": split,
        "energy_per_endpoint_mean_j": float(energy.mean()) if energy.size else None,
        "battery_life_days_median": float(np.median(life)) if life.size else None,
        "downlinks": _downlinks(sim, table["node"][rows]),
        "privacy": _privacy(sim, table["node"][rows]),
    }


def _reach(sim: SimResult) -> dict[str, float | None]:
    """Share of endpoints some bridge can decode on their primary link (link budget with the
    run's shadowing and walls, whatever their traffic did), over all endpoints and over those at
    least ``metrics.area_margin_m`` inside the area's edges."""
    if sim.reached is None or sim.endpoint_ids.size == 0:
        return {"endpoint_reach": None, "endpoint_reach_interior": None}
    nodes = sim.endpoint_ids
    reached = sim.reached[nodes]
    margin_m = sim.config.metrics.area_margin_m
    x, y = sim.topology.positions_m[nodes, 0], sim.topology.positions_m[nodes, 1]
    inside = (
        (x >= margin_m)
        & (x <= sim.topology.width_m - margin_m)
        & (y >= margin_m)
        & (y <= sim.topology.height_m - margin_m)
    )
    return {
        "endpoint_reach": float(reached.mean()),
        "endpoint_reach_interior": float(reached[inside].mean()) if inside.any() else None,
    }


def summarize(sim: SimResult) -> dict[str, Any]:
    """The ``summary.json`` document of one run (metrics only: no wall clock, no host)."""
    records = sim.records
    if np.any(records.fate == PENDING):
        raise AssertionError("a packet was left without a fate")  # engine invariant
    if np.any(sim.downlinks.fate == DL_PENDING):
        raise AssertionError("a downlink was left without a fate")  # engine invariant
    table = endpoint_table(sim)
    all_rows = np.ones(table["node"].size, dtype=bool)
    all_packets = np.ones(len(records), dtype=bool)
    overall = _group(sim, table, all_rows, all_packets)
    dropped = {
        reason: int(np.sum(records.fate == FATE_NAMES.index(reason))) for reason in DROP_REASONS
    }
    battery = ~table["mains_powered"]  # energy figures are those of battery endpoints
    energy = table["energy_j"][battery]
    delivered = overall["delivered"]
    by_state = {
        name: float(table[f"energy_{name}_j"][battery].mean()) if energy.size else None
        for name in CHARGE_NAMES
    }
    life = table["battery_life_days"]
    life = life[~np.isnan(life)]
    by_link: dict[str, Any] = {}
    packet_link = np.array(LINKS)[records.link] if len(records) else np.zeros(0, dtype=str)
    for link in LINKS:
        rows = table["link"] == link
        sent = packet_link == link
        if rows.any() or sent.any():
            entry = _group(sim, table, rows, sent)
            entry["area_coverage"] = sim.area_coverage.get(link)
            by_link[link] = entry
    by_class: dict[str, Any] = {}
    for cls in sim.config.endpoint_classes:
        rows = table["class"] == cls.name
        packets = np.isin(records.endpoint, table["node"][rows])
        entry = _group(sim, table, rows, packets)
        entry["link"] = cls.label
        used = records.link[packets]
        entry["packets_by_link"] = {link: int(np.sum(used == k)) for k, link in enumerate(LINKS)}
        by_class[cls.name] = entry
    scenario = sim.config.scenario
    summary: dict[str, Any] = {
        "scenario": scenario.name,
        "seed": scenario.seed,
        "duration_s": scenario.duration_s,
        "horizon_s": sim.horizon_s,
        "nodes": {"bridges": sim.topology.n_bridges, "endpoints": sim.topology.n_endpoints},
        "pdr": overall["pdr"],
        "endpoint_coverage": overall["endpoint_coverage"],
        "coverage_pdr_threshold": sim.config.metrics.coverage_pdr_threshold,
        "area_coverage": sim.area_coverage.get(sim.area_link),
        "area_link": sim.area_link,
        "area_coverage_by_link": dict(sim.area_coverage),
        **_reach(sim),
        "latency_s": overall["latency_s"],
        "latency_split_mean_s": overall["latency_split_mean_s"],
        "energy": {
            "per_endpoint_mean_j": float(energy.mean()) if energy.size else None,
            "per_endpoint_by_state_mean_j": by_state,
            "per_delivered_packet_j": float(energy.sum()) / delivered if delivered else None,
            "mean_current_ua": (
                float(np.mean(table["mean_current_ua"][battery])) if energy.size else None
            ),
            "mains_powered_energy_j": float(np.sum(table["energy_j"][~battery])),
            "battery_life_days": float(np.median(life)) if life.size else None,
            "battery_life_days_p10": float(np.percentile(life, 10)) if life.size else None,
        },
        "packets": {
            "generated": overall["generated"],
            "delivered": delivered,
            "dropped": dropped,
            "transmissions": int(records.transmissions.sum()),
            "server_copies": int(records.copies.sum()),
            "ack_frames": sim.ack_frames,
        },
        "downlinks": {
            **_downlinks(sim, None),
            "frames": sim.downlink_frames,
            "keepalive_frames": sim.keepalive_frames,
        },
        "bridges": _bridges(sim),
        "privacy": (
            None
            if sim.linkability is None
            else {
                "rotation_period_s": sim.config.privacy.rotation_period_s or None,
                "encryption_overhead_bytes": sim.config.privacy.encryption_overhead_bytes,
                **(_privacy(sim, None) or {}),
            }
        ),
        "routing": routing_summary(sim),
        "mobility": mobility_summary(sim),
        "faults": faults_summary(sim),
        "by_link": by_link,
        "by_class": by_class,
    }
    return rounded(summary)
