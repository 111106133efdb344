"""Measured false-alarm and detection rates of ``sidemesh check`` (issue 7).

Runs a spec over many seeds, unchanged and under named degradations, then judges many
baseline/check pairs with ``experiments.regression.compare`` exactly as ``sidemesh check``
does (same rules, K seeds, alpha):

- false alarms: the check runs *other* seeds than the baseline but is compared as if they were
  the baseline's (a paired test on an unpaired realisation: what a refactor that draws random
  numbers in another order looks like), and, separately, with their true seeds (Welch). Counted
  over disjoint, independent pairs of seed groups, and estimated more precisely by resampling
  groups of K seeds (without replacement) from all the runs;
- detection: the check runs the baseline's own seeds on a degraded spec (the real use), over
  disjoint groups and by resampling; a degradation counts as detected when the check fails, and
  the metrics that failed are counted.

Usage (the figures in README, on the CI scenario; about 12 min on 2 cores)::

    python benchmarks/regression_rates.py --workers 2

Writes ``benchmarks/results/regression-rates.json`` and prints a table; the per-seed values go
to ``regression-rates-values.json`` and are reused by the next run (same seeds), so the analysis
can be redone without simulating again. Leaves out: wall time of
a check (README measures it with ``time sidemesh check``); the runs' own variability across
machines (runs are deterministic per seed).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from experiments.regression import (
    DEFAULT_ALPHA,
    DEFAULT_RUNS,
    Baseline,
    Measurement,
    MetricRecord,
    Rule,
    baseline_rules,
    compare,
    measure,
)
from experiments.runner import versions
from experiments.spec import Spec, load_spec

REPO = Path(__file__).resolve().parent.parent
CI_SPEC = REPO / "experiments" / "ci" / "ci-suburb.toml"

#: Degradations of the CI scenario: name -> (overrides, what it should move).
CI_DEGRADATIONS: dict[str, tuple[dict[str, object], str]] = {
    "fewer bridges (20 -> 16)": ({"topology.bridge_fraction": 0.04}, "coverage"),
    "lower TX power (-2 dB)": (
        {
            "endpoint_class.sensor.tx_power_dbm": -2,
            "endpoint_class.plug.tx_power_dbm": 2,
            "endpoint_class.tracker.tx_power_dbm": 12,
        },
        "coverage",
    ),
    "worse path loss (n 3.0 -> 3.1)": ({"propagation.exponent": 3.1}, "coverage"),
    "faster drain (6 advertising events a packet, not 3)": (
        {"endpoint_class.sensor.ble.adv_events": 6},
        "energy.battery_life_days",
    ),
    "slower backhaul (median 50 -> 60 ms)": (
        {"bridge.backhaul_latency_median_s": 0.06},
        "latency_s.p95",
    ),
}


def _subset(
    m: Measurement, seeds: Sequence[int], label: Sequence[int] | None = None
) -> Measurement:
    """The values of ``seeds`` from ``m``, labelled with ``label`` (default: their own)."""
    index = {s: k for k, s in enumerate(m.seeds)}
    rows = [index[s] for s in seeds]
    values = {name: tuple(v[k] for k in rows) for name, v in m.values.items()}
    return Measurement(tuple(label if label is not None else seeds), values, 0.0)


def _baseline(spec: Spec, rules: Sequence[Rule], m: Measurement, seeds: Sequence[int]) -> Baseline:
    """As ``make_baseline`` (without reading the package versions for every one of them)."""
    values = _subset(m, seeds).values
    records = {r.metric: MetricRecord(r, values[r.metric]) for r in rules}
    return Baseline(spec.source, "", tuple(seeds), records, {})


def _fails(
    spec: Spec,
    rules: Sequence[Rule],
    before: Measurement,
    after: Measurement,
    base_seeds: Sequence[int],
    check_seeds: Sequence[int],
    relabel: bool,
    alpha: float,
) -> list[str]:
    """Metrics that fail one check of ``check_seeds`` of ``after`` against a baseline of
    ``base_seeds`` of ``before`` (``relabel``: compared as if they were the same seeds)."""
    baseline = _baseline(spec, rules, before, base_seeds)
    now = _subset(after, check_seeds, base_seeds if relabel else None)
    return [v.rule.metric for v in compare(baseline, rules, now, alpha) if v.failed]


def _rate(failures: Sequence[list[str]], labels: Sequence[str] | None = None) -> dict[str, object]:
    """Counts of failed checks (``labels``: name the failed ones)."""
    n = len(failures)
    failed = sum(bool(f) for f in failures)
    per_metric = Counter(name for f in failures for name in f)
    out: dict[str, object] = {
        "checks": n,
        "failed": failed,
        "rate": failed / n if n else None,
        "by_metric": dict(sorted(per_metric.items())),
    }
    if labels is not None:
        out["failed_checks"] = {lab: f for lab, f in zip(labels, failures, strict=True) if f}
    return out


def _measured(
    cache: dict[str, dict[str, list[float | None]]],
    label: str,
    spec: Spec,
    seeds: Sequence[int],
    names: Sequence[str],
    workers: int | None,
) -> Measurement:
    """Per-seed values of ``spec``: from the cache (a values file of an earlier run of this
    script, same seeds) or simulated and added to it."""
    entry = cache.get(label)
    if entry is not None and entry.get("seeds") == list(seeds):
        values = {n: tuple(entry[n]) for n in names}
        return Measurement(tuple(seeds), values, 0.0)
    m = measure(spec, seeds, names, workers)
    print(f"{label}: {len(seeds)} runs in {m.wall_time_s:.0f} s", flush=True)
    cache[label] = {"seeds": list(seeds), **{n: list(v) for n, v in m.values.items()}}
    return m


def main(argv: Sequence[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", type=Path, default=CI_SPEC)
    parser.add_argument("--seeds", type=int, default=200, help="unchanged runs (seeds 1..N)")
    parser.add_argument("--degraded-seeds", type=int, default=100, help="runs per degradation")
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help="K seeds per check")
    parser.add_argument("--alpha", type=float, default=DEFAULT_ALPHA)
    parser.add_argument("--resamples", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument(
        "--degrade",
        action="append",
        default=[],
        metavar="NAME:KEY=VALUE[,KEY=VALUE]",
        help="a degradation (repeatable; default: the CI scenario's five)",
    )
    parser.add_argument(
        "--out", type=Path, default=REPO / "benchmarks" / "results" / "regression-rates.json"
    )
    parser.add_argument(
        "--values",
        type=Path,
        default=REPO / "benchmarks" / "results" / "regression-rates-values.json",
        help="per-seed values: reused when present (same seeds), written otherwise",
    )
    args = parser.parse_args(argv)
    cache = json.loads(args.values.read_text()) if args.values.is_file() else {}
    k = args.runs
    rng = np.random.default_rng(20261129)
    degradations: dict[str, tuple[dict[str, object], str]] = dict(CI_DEGRADATIONS)
    if args.degrade:
        degradations = {}
        for text in args.degrade:
            name, _, pairs = text.partition(":")
            over = dict(p.split("=", 1) for p in pairs.split(","))
            degradations[name] = ({key: json.loads(v) for key, v in over.items()}, "?")

    spec = load_spec(args.spec)
    rules = baseline_rules([], [])
    names = [r.metric for r in rules]
    seeds = list(range(spec.config.scenario.seed, spec.config.scenario.seed + args.seeds))
    started = time.perf_counter()
    base = _measured(cache, "unchanged", spec, seeds, names, args.workers)
    groups = [seeds[g * k : (g + 1) * k] for g in range(len(seeds) // k)]

    # false alarms: disjoint pairs of groups, the check's seeds relabelled (refactor) or not
    pairs = [(groups[2 * j], groups[2 * j + 1]) for j in range(len(groups) // 2)]
    false_paired = [_fails(spec, rules, base, base, a, b, True, args.alpha) for a, b in pairs]
    false_welch = [_fails(spec, rules, base, base, a, b, False, args.alpha) for a, b in pairs]
    pair_labels = [f"{a[0]}..{a[-1]} vs {b[0]}..{b[-1]}" for a, b in pairs]
    resampled = []
    for _ in range(args.resamples):
        drawn = [int(s) for s in rng.choice(seeds, size=2 * k, replace=False)]
        resampled.append(_fails(spec, rules, base, base, drawn[:k], drawn[k:], True, args.alpha))
    noise = {
        name: {
            "mean": float(np.mean([v for v in base.values[name] if v is not None])),
            "sd_per_run": float(np.std([v for v in base.values[name] if v is not None], ddof=1)),
        }
        for name in names
    }
    result: dict[str, object] = {
        "spec": str(args.spec),
        "runs_per_check": k,
        "alpha": args.alpha,
        "unchanged_runs": len(seeds),
        "noise": noise,
        "false_alarms": {
            "unchanged_same_seeds": "0 by construction (a run is a pure function of spec and seed)",
            "reseeded_paired_disjoint": _rate(false_paired, pair_labels),
            "reseeded_welch_disjoint": _rate(false_welch, pair_labels),
            "reseeded_paired_resampled": _rate(resampled),
        },
        "detection": {},
        "versions": versions(),
    }
    print(json.dumps(result["false_alarms"], indent=1), flush=True)

    detection: dict[str, dict[str, object]] = {}
    dseeds = seeds[: args.degraded_seeds]
    dgroups = [dseeds[g * k : (g + 1) * k] for g in range(len(dseeds) // k)]
    for name, (over, expected) in degradations.items():
        worse = _measured(
            cache, name, load_spec(args.spec, dict(over)), dseeds, names, args.workers
        )
        disjoint = [_fails(spec, rules, base, worse, g, g, False, args.alpha) for g in dgroups]
        drawn_checks = []
        for _ in range(args.resamples // 4):
            drawn = [int(s) for s in rng.choice(dseeds, size=k, replace=False)]
            drawn_checks.append(_fails(spec, rules, base, worse, drawn, drawn, False, args.alpha))
        deltas = {
            n: float(
                np.mean(
                    [
                        (a - b)
                        for a, b in zip(
                            worse.values[n], _subset(base, dseeds).values[n], strict=True
                        )
                        if a is not None and b is not None
                    ]
                )
            )
            for n in names
        }
        detection[name] = {
            "overrides": dict(over),
            "expected": expected,
            "mean_change": deltas,
            "disjoint": _rate(disjoint),
            "resampled": _rate(drawn_checks),
        }
        print(name, json.dumps(detection[name]["disjoint"]), flush=True)
    result["detection"] = detection
    result["wall_time_s"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.values.write_text(json.dumps(cache) + "\n", encoding="utf-8")
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    _print_table(result)
    return result


def _print_table(result: Mapping[str, object]) -> None:
    fa = result["false_alarms"]
    assert isinstance(fa, dict)
    print(f"\n{'case':<48}{'checks':>8}{'failed':>8}{'rate':>9}  metrics")
    for label, key in (
        ("re-seeded, paired test (disjoint groups)", "reseeded_paired_disjoint"),
        ("re-seeded, Welch test (disjoint groups)", "reseeded_welch_disjoint"),
        ("re-seeded, paired test (resampled)", "reseeded_paired_resampled"),
    ):
        r = fa[key]
        print(f"{label:<48}{r['checks']:>8}{r['failed']:>8}{r['rate']:>9.4f}  {r['by_metric']}")
    detection = result["detection"]
    assert isinstance(detection, dict)
    for name, d in detection.items():
        for how in ("disjoint", "resampled"):
            r = d[how]
            print(
                f"{name[:38] + ' (' + how + ')':<48}{r['checks']:>8}{r['failed']:>8}"
                f"{r['rate']:>9.4f}  {r['by_metric']}"
            )


if __name__ == "__main__":
    main()
