"""Measured false-alarm and detection rates of ``sidemesh check`` (issue 7): every figure that
README's "Coverage regression checks in CI" quotes.

Runs: the CI scenario unchanged over ``--seeds`` seeds and under each of five degradations over
``--degraded-seeds`` seeds, and the built-in default scenario cut to 30 minutes over
``--default-seeds`` seeds (its per-run spread, for README's table of defaults). Then, for each
K in ``--runs``, many baseline/check pairs of K seeds judged by
``experiments.regression.compare`` exactly as ``sidemesh check`` does (same rules and alpha):

- false alarms: the check runs *other* seeds than the baseline but is compared as if they were
  the baseline's (pairs of two independent runs of one spec, what a change that draws the random
  numbers differently from the same distributions looks like). Counted over disjoint pairs of
  seed groups (independent checks), and estimated more precisely over ``--resamples`` pairs of
  groups drawn without replacement from all the runs;
- detection: the check runs the baseline's own seeds on a degraded spec (the real use), over
  disjoint groups and ``--resamples / 4`` resampled ones; a check detects a degradation when it
  fails, and the metrics that failed are counted.

Usage (reproduces README's figures)::

    python benchmarks/regression_rates.py --workers 2 --seeds 400

Writes ``benchmarks/results/regression-rates.json`` (every figure, for every K; paths relative
to the repository; the wall time of each set of runs) and prints a table. The per-seed values go
to ``benchmarks/results/regression-rates-values.json``, keyed by the spec hash of each spec with
its overrides (``experiments.regression.spec_hash``) and kept with their seeds and versions; a
later run reuses an entry only for the same hash, versions and seeds, so a re-analysis (other
``--runs`` or ``--alpha``) takes a minute instead of simulating again. The wall times recorded
are those of the runs when they were simulated.

Leaves out: the cache does not know the model's code (a change of it keeps the spec hash and the
version number): delete the values file after one. Wall time of a check itself (README measures
it with ``time sidemesh check``); variability across machines (runs are deterministic per seed
and versions).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from experiments.regression import (
    DEFAULT_ALPHA,
    Baseline,
    Measurement,
    MetricRecord,
    Rule,
    baseline_rules,
    compare,
    measure,
    spec_hash,
)
from experiments.runner import versions, write_atomic
from experiments.signflip import min_pairs
from experiments.spec import Spec, load_spec

REPO = Path(__file__).resolve().parent.parent
CI_SPEC = Path("experiments") / "ci" / "ci-suburb.toml"
RESULTS = Path("benchmarks") / "results"
#: The built-in default scenario, cut to this, for its per-run spread.
DEFAULT_DURATION = "30m"

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


def _relative(path: Path) -> str:
    """``path`` relative to the repository when inside it (no machine-specific prefix)."""
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def _subset(
    m: Measurement, seeds: Sequence[int], label: Sequence[int] | None = None
) -> Measurement:
    """The values of ``seeds`` from ``m``, labelled with ``label`` (default: their own)."""
    index = {s: k for k, s in enumerate(m.seeds)}
    rows = [index[s] for s in seeds]
    values = {name: tuple(v[k] for k in rows) for name, v in m.values.items()}
    return Measurement(tuple(label if label is not None else seeds), values, 0.0)


def _fails(
    rules: Sequence[Rule],
    before: Measurement,
    after: Measurement,
    base_seeds: Sequence[int],
    check_seeds: Sequence[int],
    alpha: float,
) -> list[str]:
    """Metrics that fail one check of ``check_seeds`` of ``after`` against a baseline of
    ``base_seeds`` of ``before``, compared seed by seed as if they were the same seeds."""
    values = _subset(before, base_seeds).values
    records = {r.metric: MetricRecord(r, values[r.metric]) for r in rules}
    baseline = Baseline("", "", tuple(base_seeds), records, {})
    now = _subset(after, check_seeds, base_seeds)
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
        "by_metric_rate": {k: v / n for k, v in sorted(per_metric.items())},
    }
    if labels is not None:
        out["failed_checks"] = {lab: f for lab, f in zip(labels, failures, strict=True) if f}
    return out


class Cache:
    """Per-seed values keyed by spec hash, with the seeds and versions that produced them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, Any] = {}
        if path.is_file():
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, dict) and data.get("format") == "regression-rates-values/2":
                self.entries = data["entries"]
        self.simulated: list[str] = []
        self.times: dict[str, dict[str, Any]] = {}

    def measured(
        self,
        label: str,
        spec: Spec,
        seeds: Sequence[int],
        names: Sequence[str],
        workers: int | None,
    ) -> Measurement:
        """The values of ``spec`` over ``seeds``: from the cache or simulated (and kept)."""
        key = spec_hash(spec)
        entry = self.entries.get(key)
        if (
            entry is not None
            and entry["versions"] == versions()
            and set(seeds) <= set(entry["seeds"])
        ):
            cached = Measurement(
                tuple(entry["seeds"]), {n: tuple(entry["values"][n]) for n in names}, 0.0
            )
            self.times[label] = {
                "runs": len(seeds),
                "wall_time_s": entry["wall_time_s"],
                "simulated_in_this_run": False,
            }
            return _subset(cached, seeds)
        m = measure(spec, seeds, names, workers)
        print(f"{label}: {len(seeds)} runs in {m.wall_time_s:.0f} s", flush=True)
        self.entries[key] = {
            "label": label,
            "spec": spec.source,
            "seeds": list(seeds),
            "values": {n: list(v) for n, v in m.values.items()},
            "versions": versions(),
            "wall_time_s": round(m.wall_time_s, 1),
        }
        self.simulated.append(label)
        self.times[label] = {
            "runs": len(seeds),
            "wall_time_s": round(m.wall_time_s, 1),
            "simulated_in_this_run": True,
        }
        return m

    def save(self) -> None:
        data = {"format": "regression-rates-values/2", "entries": self.entries}
        write_atomic(self.path, json.dumps(data, sort_keys=True) + "\n")


def _noise(m: Measurement, names: Sequence[str]) -> dict[str, dict[str, float]]:
    out = {}
    for name in names:
        present = [v for v in m.values[name] if v is not None]
        mean = float(np.mean(present))
        sd = float(np.std(present, ddof=1))
        out[name] = {"mean": mean, "sd_per_run": sd, "sd_share_of_mean": sd / abs(mean)}
    return out


def main(argv: Sequence[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--spec", type=Path, default=REPO / CI_SPEC)
    parser.add_argument("--seeds", type=int, default=400, help="unchanged runs (seeds 1..N)")
    parser.add_argument("--degraded-seeds", type=int, default=100, help="runs per degradation")
    parser.add_argument(
        "--default-seeds", type=int, default=6, help="runs of the built-in default scenario"
    )
    parser.add_argument(
        "--runs", type=int, nargs="+", default=[5, 10, 20], help="K seeds per check (several)"
    )
    parser.add_argument("--alpha", type=float, default=DEFAULT_ALPHA)
    parser.add_argument("--resamples", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--out", type=Path, default=REPO / RESULTS / "regression-rates.json")
    parser.add_argument(
        "--values",
        type=Path,
        default=REPO / RESULTS / "regression-rates-values.json",
        help="per-seed values keyed by spec hash: reused when present, added to otherwise",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    cache = Cache(args.values)
    rng = np.random.default_rng(20261129)

    spec = load_spec(args.spec)
    rules = baseline_rules([], [])
    names = [r.metric for r in rules]
    first = spec.config.scenario.seed
    seeds = list(range(first, first + args.seeds))
    dseeds = seeds[: args.degraded_seeds]
    base = cache.measured("unchanged", spec, seeds, names, args.workers)
    degraded = {
        name: cache.measured(name, load_spec(args.spec, dict(over)), dseeds, names, args.workers)
        for name, (over, _) in CI_DEGRADATIONS.items()
    }
    default_spec = load_spec(None, duration=DEFAULT_DURATION)
    default_seeds = list(range(1, 1 + args.default_seeds))
    default_runs = cache.measured(
        f"built-in default ({DEFAULT_DURATION})", default_spec, default_seeds, names, args.workers
    )
    simulated_s = time.perf_counter() - started

    by_k: dict[str, object] = {}
    for k in args.runs:
        by_k[str(k)] = _analyse(k, rules, base, seeds, degraded, dseeds, args, rng)
        print(f"K = {k} analysed", flush=True)

    result: dict[str, object] = {
        "command": " ".join(["python", _relative(Path(sys.argv[0])), *(argv or sys.argv[1:])]),
        "spec": _relative(args.spec),
        "alpha": args.alpha,
        "metrics": names,
        "unchanged_runs": len(seeds),
        "degraded_runs": len(dseeds),
        "resamples": args.resamples,
        "noise": {
            "ci": _noise(base, names),
            "default": {
                "scenario": f"built-in default, {DEFAULT_DURATION}",
                "runs": len(default_seeds),
                "metrics": _noise(default_runs, names),
            },
        },
        "unchanged_same_seeds": "0 by construction (a run is a pure function of spec and seed)",
        "degradations": {
            name: {"overrides": over, "expected": expected}
            for name, (over, expected) in CI_DEGRADATIONS.items()
        },
        "by_k": by_k,
        "simulation": cache.times,
        "simulation_wall_time_s": round(sum(t["wall_time_s"] for t in cache.times.values()), 1),
        "simulated_in_this_run": cache.simulated,
        "wall_time_s": round(time.perf_counter() - started, 1),
        "analysis_wall_time_s": round(time.perf_counter() - started - simulated_s, 1),
        "versions": versions(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cache.save()
    write_atomic(args.out, json.dumps(result, indent=2) + "\n")
    _print_table(result)
    return result


def _analyse(
    k: int,
    rules: Sequence[Rule],
    base: Measurement,
    seeds: Sequence[int],
    degraded: Mapping[str, Measurement],
    dseeds: Sequence[int],
    args: argparse.Namespace,
    rng: np.random.Generator,
) -> dict[str, object]:
    """False alarms and detection of checks of ``k`` seeds."""
    groups = [seeds[g * k : (g + 1) * k] for g in range(len(seeds) // k)]
    pairs = [(groups[2 * j], groups[2 * j + 1]) for j in range(len(groups) // 2)]
    disjoint = [_fails(rules, base, base, a, b, args.alpha) for a, b in pairs]
    labels = [f"{a[0]}..{a[-1]} vs {b[0]}..{b[-1]}" for a, b in pairs]
    resampled = []
    for _ in range(args.resamples):
        drawn = [int(s) for s in rng.choice(seeds, size=2 * k, replace=False)]
        resampled.append(_fails(rules, base, base, drawn[:k], drawn[k:], args.alpha))
    dgroups = [dseeds[g * k : (g + 1) * k] for g in range(len(dseeds) // k)]
    detection: dict[str, object] = {}
    for name, worse in degraded.items():
        groups_failed = [_fails(rules, base, worse, g, g, args.alpha) for g in dgroups]
        drawn_failed = []
        for _ in range(args.resamples // 4):
            drawn = [int(s) for s in rng.choice(dseeds, size=k, replace=False)]
            drawn_failed.append(_fails(rules, base, worse, drawn, drawn, args.alpha))
        before = _subset(base, dseeds).values
        change = {
            n: float(
                np.mean(
                    [
                        a - b
                        for a, b in zip(worse.values[n], before[n], strict=True)
                        if a is not None and b is not None
                    ]
                )
            )
            for n in worse.values
        }
        detection[name] = {
            "mean_change": change,
            "disjoint": _rate(groups_failed),
            "resampled": _rate(drawn_failed),
        }
    alpha_metric = args.alpha / len(rules)
    return {
        "alpha_per_metric": alpha_metric,
        "smallest_p": 2.0**-k,
        "can_fail": 2.0**-k <= alpha_metric,
        "min_runs_to_fail": min_pairs(alpha_metric),
        "false_alarms": {
            "reseeded_disjoint": _rate(disjoint, labels),
            "reseeded_resampled": _rate(resampled),
        },
        "detection": detection,
    }


def _print_table(result: Mapping[str, Any]) -> None:
    print(f"\n{'K':>3}  {'case':<52}{'checks':>8}{'failed':>8}{'rate':>9}  metrics")
    for k, r in result["by_k"].items():
        for label, entry in (
            ("re-seeded, disjoint pairs", r["false_alarms"]["reseeded_disjoint"]),
            ("re-seeded, resampled pairs", r["false_alarms"]["reseeded_resampled"]),
        ):
            print(
                f"{k:>3}  {label:<52}{entry['checks']:>8}{entry['failed']:>8}"
                f"{entry['rate']:>9.5f}  {entry['by_metric']}"
            )
        for name, d in r["detection"].items():
            for how in ("disjoint", "resampled"):
                e = d[how]
                print(
                    f"{k:>3}  {name[:40] + ' (' + how + ')':<52}{e['checks']:>8}{e['failed']:>8}"
                    f"{e['rate']:>9.5f}  {e['by_metric']}"
                )
    print(
        f"\nsimulation {result['simulation_wall_time_s']} s (as recorded), this run "
        f"{result['wall_time_s']} s"
    )


if __name__ == "__main__":
    main()
