"""The catalog of reproductions: sweeps whose results have a published or closed-form
reference, run and compared by ``sidemesh catalog``.

Each entry names its sweep file (``experiments/catalog/``), the swept axis, the metric, the
reference value per sweep point and the tolerance (absolute, on the mean over replications). A
run writes ``comparison.csv`` (per point: x, simulated mean and 95 % CI, reference, difference,
within tolerance) and a figure of the simulated curve, its band and the reference.

Entries:
1. ``pure-aloha``: PDR against ``exp(-2G)`` (Abramson 1970).
2. ``poisson-coverage``: area coverage of a Poisson field of bridges with the disk model against
   ``1 - exp(-lambda pi r^2)`` (Haenggi 2012, ch. 2).
3. ``shadowed-coverage``: the share of endpoints some bridge can decode under log-normal
   shadowing (truncated at 3 sigma) against ``1 - exp(-lambda * int P(X <= B - PL(d)) 2 pi d dd)``
   (thinned Poisson process; integrated numerically).

Leaves out (planned in issue 6, not yet here): the Bor et al. 2016 LoRa scalability experiment
and Sidewalk coverage against bridge density per link.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from experiments.aggregate import aggregate
from experiments.plots import sweep_curves
from experiments.results import csv_text
from experiments.runner import write_atomic
from experiments.store import Store
from experiments.sweep import Run, Sweep, load_sweep
from experiments.sweeprun import execute


@dataclass(frozen=True)
class Reproduction:
    name: str
    title: str
    sweep_file: str
    axis: str
    metric: str
    reference: Callable[[Sweep, tuple[tuple[str, Any], ...]], float]
    tolerance: float
    source: str


def _aloha(sweep: Sweep, values: tuple[tuple[str, Any], ...]) -> float:
    cfg = sweep.spec_of(Run(0, 0, sweep.seeds[0], values)).config
    cls = cfg.endpoint_classes[0]
    n = cfg.topology.endpoints
    offered = n * cls.lora.airtime_s(cls.payload_bytes) / cls.interval_s
    return math.exp(-2.0 * offered)


def _poisson_coverage(sweep: Sweep, values: tuple[tuple[str, Any], ...]) -> float:
    cfg = sweep.spec_of(Run(0, 0, sweep.seeds[0], values)).config
    density_m2 = cfg.topology.bridge_density_per_km2 / 1e6
    range_m = cfg.propagation.range_m
    return 1.0 - math.exp(-density_m2 * math.pi * range_m**2)


def _shadowed_coverage(sweep: Sweep, values: tuple[tuple[str, Any], ...]) -> float:
    from scipy.integrate import quad
    from scipy.special import ndtr

    from mesh.links import FREQUENCY_HZ, class_phy

    cfg = sweep.spec_of(Run(0, 0, sweep.seeds[0], values)).config
    cls = cfg.endpoint_classes[0]
    phy = class_phy(cls, cfg.privacy.encryption_overhead_bytes)
    budget_db = phy.tx_power_dbm - phy.sensitivity_dbm
    model = cfg.propagation
    sigma, clip = model.shadowing_sigma_db, model.shadowing_clip_sigma
    loss = model.loss_function(FREQUENCY_HZ[cls.link])
    low, high = float(ndtr(-clip)), float(ndtr(clip))

    def p_link(d_m: float) -> float:  # P(X <= B - PL(d)), X normal truncated at +-clip sigma
        u = (budget_db - float(np.asarray(loss(np.array([d_m * d_m])))[0])) / sigma
        return min(max((float(ndtr(u)) - low) / (high - low), 0.0), 1.0)

    reach_m = model.max_range_m(budget_db, FREQUENCY_HZ[cls.link])
    area_m2, _ = quad(lambda d: p_link(d) * 2.0 * math.pi * d, 0.0, reach_m, limit=200)
    density_m2 = cfg.topology.bridge_density_per_km2 / 1e6
    return 1.0 - math.exp(-density_m2 * area_m2)


REPRODUCTIONS: dict[str, Reproduction] = {
    r.name: r
    for r in (
        Reproduction(
            "pure-aloha",
            "Pure ALOHA: PDR against exp(-2G)",
            "pure-aloha.toml",
            "endpoint.interval_s",
            "pdr",
            _aloha,
            0.02,
            "Abramson, AFIPS 1970",
        ),
        Reproduction(
            "poisson-coverage",
            "Poisson field of bridges: area coverage against 1 - exp(-lambda pi r^2)",
            "poisson-coverage.toml",
            "topology.bridge_density_per_km2",
            "area_coverage",
            _poisson_coverage,
            0.02,
            "Haenggi, Stochastic Geometry for Wireless Networks, 2012, ch. 2",
        ),
        Reproduction(
            "shadowed-coverage",
            "Poisson field of bridges with log-normal shadowing: endpoints reached against "
            "the thinned-Poisson closed form",
            "shadowed-coverage.toml",
            "topology.bridge_density_per_km2",
            "endpoint_reach_interior",
            _shadowed_coverage,
            0.02,
            "Haenggi 2012, ch. 2 and 5.1; Baccelli & Blaszczyszyn 2009",
        ),
    )
}


def sweep_path(entry: Reproduction) -> Path:
    return Path(str(resources.files("experiments") / "catalog" / entry.sweep_file))


def reproduce(
    entry: Reproduction,
    out_dir: Path,
    workers: int | None = None,
    quick: bool = False,
) -> list[dict[str, Any]]:
    """Run ``entry``'s sweep into ``out_dir`` (``quick``: two replications) and compare it
    with the reference; returns the comparison rows (also in ``comparison.csv``)."""
    sweep = load_sweep(sweep_path(entry))
    if quick:
        sweep = replace(sweep, seeds=sweep.seeds[:2])
    execute(sweep, out_dir, workers)
    store = Store(out_dir)
    try:
        records = aggregate(store.rows(), sweep.metrics)
    finally:
        store.close()
    rows: list[dict[str, Any]] = []
    for record, values in zip(records, sweep.points, strict=True):
        mean = record[f"{entry.metric}.mean"]
        reference = entry.reference(sweep, values)
        diff = None if mean is None else mean - reference
        rows.append(
            {
                "x": dict(values)[entry.axis],
                "mean": mean,
                "ci_low": record[f"{entry.metric}.ci_low"],
                "ci_high": record[f"{entry.metric}.ci_high"],
                "reference": round(reference, 10),
                "difference": None if diff is None else round(diff, 10),
                "within_tolerance": diff is not None and abs(diff) <= entry.tolerance,
            }
        )
    write_atomic(out_dir / "comparison.csv", csv_text(rows))
    x = [r["x"] for r in rows]
    ref = np.array([r["reference"] for r in rows])
    sweep_curves(
        out_dir / "figures" / entry.name,
        entry.axis,
        x,
        {
            "simulated (95 % CI)": (
                np.array([_f(r["mean"]) for r in rows]),
                np.array([_f(r["ci_low"]) for r in rows]),
                np.array([_f(r["ci_high"]) for r in rows]),
            ),
            "reference": (ref, ref, ref),
        },
        entry.metric,
        title=entry.title,
    )
    return rows


def _f(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else math.nan


def names() -> Sequence[str]:
    return tuple(REPRODUCTIONS)
