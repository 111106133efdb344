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

4. ``bor2016-simple``: the single-gateway LoRa experiment of Bor, Roedig, Voigt, Alonso, "Do LoRa
   Low-Power Wide-Area Networks Scale?" (ACM MSWiM 2016), setting SN1, with their simple channel
   model (capture off): data extraction rate against the paper's Eq. 12, ``exp(-2 N T lambda)``.
5. ``bor2016-capture``: the same with capture, against LoRaSim's pairwise rule (a frame is lost
   to every overlapping frame received less than 6 dB below it) in closed form for nodes uniform
   in the disk: ``DER = int_0^1 (1 - p min(1, k u))^(N-1) du``, ``u`` the node's squared distance
   over the squared radius, ``p = 1 - exp(-2 T lambda)`` the chance another node starts a frame
   within the tagged frame's vulnerable window, ``k = 10^(2 * 6 / (10 n))``.

6. ``sidewalk-density``: the share of a Sidewalk suburb's BLE, FSK and LoRa endpoints that some
   bridge can decode, against the share of homes hosting a bridge, one curve per link, against
   the same share computed from the houses and the link budget alone (``experiments.suburbreach``).

Published values quoted from a source (``Reproduction.published``) are printed and written beside
the reference, not compared: for Bor et al. they are the corrected version's DER at N = 200.
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
from mesh.config import SimConfig

Values = tuple[tuple[str, Any], ...]
"""One sweep point: (axis, value) pairs in axis order."""


@dataclass(frozen=True)
class Reproduction:
    """A catalog entry: ``curves`` maps a label to the metric it plots; ``reference(sweep,
    values, metric)`` gives that metric's reference at one sweep point; ``published`` holds
    values quoted from the source, keyed by (metric, x), reported beside the comparison."""

    name: str
    title: str
    sweep_file: str
    axis: str
    curves: tuple[tuple[str, str], ...]
    reference: Callable[[Sweep, Values, str], float]
    tolerance: float
    source: str
    published: tuple[tuple[tuple[str, Any], float], ...] = ()
    log_x: bool = False


def _lora_load(sweep: Sweep, values: Values) -> tuple[SimConfig, int, float]:
    """The point's config, its endpoints N and each one's share of time on air ``T lambda``
    (one LoRa class): the offered load is ``G = N T lambda``."""
    cfg = sweep.spec_of(Run(0, 0, sweep.seeds[0], values)).config
    cls = cfg.endpoint_classes[0]
    return cfg, int(cfg.topology.endpoints), cls.lora.airtime_s(cls.payload_bytes) / cls.interval_s


def _aloha(sweep: Sweep, values: Values, metric: str) -> float:
    """exp(-2G) (Abramson 1970), which is also Bor et al. 2016's Eq. 12, exp(-2 N T lambda)."""
    _, n, duty = _lora_load(sweep, values)
    return math.exp(-2.0 * n * duty)


def _poisson_coverage(sweep: Sweep, values: Values, metric: str) -> float:
    cfg = sweep.spec_of(Run(0, 0, sweep.seeds[0], values)).config
    density_m2 = cfg.topology.bridge_density_per_km2 / 1e6
    range_m = cfg.propagation.range_m
    return 1.0 - math.exp(-density_m2 * math.pi * range_m**2)


def _shadowed_coverage(sweep: Sweep, values: Values, metric: str) -> float:
    from scipy.integrate import quad

    from mesh.links import FREQUENCY_HZ, class_phy
    from radios.propagation import shadowing_below

    cfg = sweep.spec_of(Run(0, 0, sweep.seeds[0], values)).config
    cls = cfg.endpoint_classes[0]
    phy = class_phy(cls, cfg.privacy.encryption_overhead_bytes)
    budget_db = phy.tx_power_dbm - phy.sensitivity_dbm
    model = cfg.propagation
    sigma, clip = model.shadowing_sigma_db, model.shadowing_clip_sigma
    loss = model.loss_function(FREQUENCY_HZ[cls.link])

    def p_link(d_m: float) -> float:  # P(X <= B - PL(d))
        margin_db = budget_db - float(np.asarray(loss(np.array([d_m * d_m])))[0])
        return float(shadowing_below(margin_db, sigma, clip))

    reach_m = model.max_range_m(budget_db, FREQUENCY_HZ[cls.link])
    area_m2, _ = quad(lambda d: p_link(d) * 2.0 * math.pi * d, 0.0, reach_m, limit=200)
    density_m2 = cfg.topology.bridge_density_per_km2 / 1e6
    return 1.0 - math.exp(-density_m2 * area_m2)


def _bor_capture(sweep: Sweep, values: Values, metric: str) -> float:
    cfg, n, duty = _lora_load(sweep, values)
    p = -math.expm1(-2.0 * duty)  # another node starts a frame within the vulnerable window
    # u = (d / R)^2 is uniform for nodes uniform in the disk; a node at u' < k u is received
    # less than 6 dB below (or above) the tagged node and destroys it (LoRaSim's power rule)
    k = 10.0 ** (2.0 * 6.0 / (10.0 * cfg.propagation.exponent))
    near = -math.expm1(n * math.log1p(-p)) / (k * p * n)  # int_0^{1/k} (1 - p k u)^(N-1) du
    return near + (1.0 - 1.0 / k) * (1.0 - p) ** (n - 1)


def _sidewalk_reach(sweep: Sweep, values: Values, metric: str) -> float:
    from experiments.suburbreach import expected_reach

    cfg = sweep.spec_of(Run(0, 0, sweep.seeds[0], values)).config
    name = metric.split(".")[1]  # by_class.<name>.endpoint_reach
    cls = next(c for c in cfg.endpoint_classes if c.name == name)
    return expected_reach(cfg, cls)


REPRODUCTIONS: dict[str, Reproduction] = {
    r.name: r
    for r in (
        Reproduction(
            "pure-aloha",
            "Pure ALOHA: PDR against exp(-2G)",
            "pure-aloha.toml",
            "endpoint.interval_s",
            (("pdr", "pdr"),),
            _aloha,
            0.02,
            "Abramson, AFIPS 1970",
        ),
        Reproduction(
            "poisson-coverage",
            "Poisson field of bridges: area coverage against 1 - exp(-lambda pi r^2)",
            "poisson-coverage.toml",
            "topology.bridge_density_per_km2",
            (("area_coverage", "area_coverage"),),
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
            (("endpoint_reach_interior", "endpoint_reach_interior"),),
            _shadowed_coverage,
            0.02,
            "Haenggi 2012, ch. 2 and 5.1; Baccelli & Blaszczyszyn 2009",
        ),
        Reproduction(
            "bor2016-simple",
            "Bor et al. 2016, one gateway, SN1, simple channel model: DER against their Eq. 12",
            "bor2016-simple.toml",
            "topology.endpoints",
            (("DER", "pdr"),),
            _aloha,
            0.02,
            "Bor, Roedig, Voigt, Alonso, ACM MSWiM 2016, Eq. 12 and section 6",
            published=((("pdr", 200), 0.51),),
            log_x=True,
        ),
        Reproduction(
            "bor2016-capture",
            "Bor et al. 2016, one gateway, SN1, with capture: DER against LoRaSim's 6 dB rule",
            "bor2016-capture.toml",
            "topology.endpoints",
            (("DER", "pdr"),),
            _bor_capture,
            0.02,
            "Bor et al. 2016 section 4 (capture, 6 dB power threshold) and LoRaSim",
            published=((("pdr", 200), 0.64),),
            log_x=True,
        ),
        Reproduction(
            "sidewalk-density",
            "Sidewalk suburb: endpoints some bridge can decode against bridge density, per link",
            "sidewalk-density.toml",
            "topology.bridge_fraction",
            (
                ("BLE 4 dBm", "by_class.ble_sensor.endpoint_reach"),
                ("FSK 14 dBm", "by_class.fsk_sensor.endpoint_reach"),
                ("LoRa SF8 14 dBm", "by_class.lora_sensor.endpoint_reach"),
            ),
            _sidewalk_reach,
            0.02,
            "link budget over the suburb's houses, sampling without replacement "
            "(experiments.suburbreach)",
            log_x=True,
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
    with the reference; returns the comparison rows, one per (curve, sweep point), also written
    to ``comparison.csv``, and draws the figure ``figures/<name>.png`` / ``.svg``."""
    sweep = load_sweep(sweep_path(entry))
    if quick:
        sweep = replace(sweep, seeds=sweep.seeds[:2])
    execute(sweep, out_dir, workers)
    store = Store(out_dir)
    try:
        records = aggregate(store.rows(), sweep.metrics)
    finally:
        store.close()
    published = dict(entry.published)
    rows: list[dict[str, Any]] = []
    for label, metric in entry.curves:
        for record, values in zip(records, sweep.points, strict=True):
            x = dict(values)[entry.axis]
            mean = record[f"{metric}.mean"]
            reference = entry.reference(sweep, values, metric)
            diff = None if mean is None else mean - reference
            rows.append(
                {
                    "curve": label,
                    "x": x,
                    "mean": mean,
                    "ci_low": record[f"{metric}.ci_low"],
                    "ci_high": record[f"{metric}.ci_high"],
                    "reference": round(reference, 10),
                    "difference": None if diff is None else round(diff, 10),
                    "within_tolerance": diff is not None and abs(diff) <= entry.tolerance,
                    "published": published.get((metric, x)),
                }
            )
    write_atomic(out_dir / "comparison.csv", csv_text(rows))
    series: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for label, _ in entry.curves:
        mine = [r for r in rows if r["curve"] == label]
        ref = np.array([r["reference"] for r in mine])
        several = len(entry.curves) > 1
        series[f"{label} simulated (95 % CI)" if several else "simulated (95 % CI)"] = (
            np.array([_f(r["mean"]) for r in mine]),
            np.array([_f(r["ci_low"]) for r in mine]),
            np.array([_f(r["ci_high"]) for r in mine]),
        )
        series[f"{label} reference" if several else "reference"] = (ref, ref, ref)
    sweep_curves(
        out_dir / "figures" / entry.name,
        entry.axis,
        [dict(v)[entry.axis] for v in sweep.points],
        series,
        entry.curves[0][0] if len(entry.curves) == 1 else "share",
        title=entry.title,
        log_x=entry.log_x,
    )
    return rows


def _f(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else math.nan


def names() -> Sequence[str]:
    return tuple(REPRODUCTIONS)
