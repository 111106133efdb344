"""Regression checks: a baseline of a scenario's metrics over K seeds, and a statistical verdict
on whether a later run of the same seeds is worse by more than a tolerance.

The model. ``sidemesh baseline`` runs a spec once per seed ``base seed + 0 .. K-1`` and keeps,
per tracked metric, its value for every seed, the mean and the sample standard deviation, the
metric's *rule* (which direction is better, and a tolerance), the spec hash and the tool
versions. ``sidemesh check`` runs the same seeds again and decides per metric:

- *worsening* ``w_k``: the change of seed ``k`` in the bad direction (baseline minus now for a
  higher-is-better metric, now minus baseline for a lower-is-better one); ``tol``: the
  tolerance in the metric's unit (absolute, or a share of the baseline mean);
- the metric *regressed* when there is credible evidence that the true worsening exceeds the
  tolerance: the one-sided sign-flip test (``experiments.signflip``) of ``w_k - tol`` gives
  p <= alpha / m, the family-wise false-alarm rate ``alpha`` split over the ``m`` tracked
  metrics (Bonferroni); *improved* likewise for ``-w_k - tol``;
- *not testable* when the mean change exceeds the tolerance but there are too few pairs for any
  p-value to reach alpha / m (the smallest one of ``n`` pairs is ``2^-n``): reported, never a
  failure.

Why false alarms stay rare: a run is a pure function of spec and seed, so an unchanged spec
gives ``w_k = 0`` exactly and never fails. A change that re-draws random numbers without
changing their distributions makes the two values of a seed exchangeable, the ``w_k``
symmetric about 0, and the sign-flip test exact: each metric is flagged with probability at
most alpha / m, the check at most alpha, for any K and any distribution of the metric (discrete
coverage counts included); a positive tolerance only removes alarms. ``check`` always runs the
baseline's seeds, so every comparison is paired; :func:`compare` refuses other seeds.

Sources: the sign-flip test as in ``experiments.signflip`` (Fisher 1935, Pitman 1937);
Bonferroni's inequality (Dunn 1961) for the family-wise rate.

Leaves out: power analysis per metric (README measures detection on the CI scenario);
correlation between metrics (Bonferroni is conservative under it). The spec hash covers the
resolved spec tables except ``[scenario] seed`` (the seeds are stored on their own), not the
contents of a CSV topology file they name.
"""

from __future__ import annotations

import hashlib
import json
import math
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from experiments.runner import versions, write_atomic
from experiments.signflip import min_pairs, sign_flip_p
from experiments.spec import Spec
from experiments.sweep import Run, replications
from experiments.sweeprun import run_rows

FORMAT = "sidemesh-baseline"
#: 2: the spec hash leaves out ``[scenario] seed``; ``updated_by`` (optional).
FORMAT_VERSION = 2
#: Seeds per baseline: the fewest with which a check at the default alpha over the default
#: five metrics can fail (2^-K <= 0.01 / 5 needs K >= 9), with one to spare.
DEFAULT_RUNS = 10
MIN_RUNS = 2
#: Seeds are those of ``[scenario] seed``: 0 .. 2**63 - 1.
MAX_SEED = 2**63 - 1
#: Family-wise false-alarm rate of one check (split over the tracked metrics).
DEFAULT_ALPHA = 0.01
DIRECTIONS = ("higher", "lower")

# verdicts
OK = "ok"
IMPROVED = "improved"
REGRESSED = "regressed"
NOT_TESTABLE = "not testable"  # beyond the tolerance, too few pairs to tell: reported, passes
MISSING = "missing"  # the baseline has a value for a seed, this run has none: a failure
NO_DATA = "no data"  # no value on either side (no deliveries, no battery endpoints): skipped
FAILING = (REGRESSED, MISSING)
TEST = "sign-flip"


class RegressionError(Exception):
    """Bad input (baseline file, metric, tolerance). ``str(err)`` is the whole message."""


@dataclass(frozen=True)
class Tolerance:
    """The largest worsening that is not a regression: ``value`` in the metric's own unit, or,
    when ``relative``, ``value`` per cent of the baseline mean's magnitude."""

    value: float
    relative: bool = False

    @classmethod
    def parse(cls, text: str | float | int, where: str) -> Tolerance:
        """``0.01`` (absolute) or ``"5%"`` (relative); ``where`` names the input in errors."""
        allowed = "a number >= 0 in the metric's unit (0.01) or a percentage of the baseline (5%)"
        if isinstance(text, bool) or not isinstance(text, str | int | float):
            raise RegressionError(f"{where}: {text!r} is not a tolerance; give {allowed}")
        raw = str(text).strip()
        relative = raw.endswith("%")
        try:
            value = float(raw[:-1] if relative else raw)
        except ValueError:
            raise RegressionError(f"{where}: {raw!r} is not a tolerance; give {allowed}") from None
        if not math.isfinite(value) or value < 0:
            raise RegressionError(f"{where}: {raw!r} is not a tolerance; give {allowed}")
        return cls(value, relative)

    def absolute(self, baseline_mean: float | None) -> float:
        """The tolerance in the metric's unit."""
        if not self.relative:
            return self.value
        return self.value / 100.0 * abs(baseline_mean or 0.0)

    def to_json(self) -> float | str:
        """A number, or a percentage text that parses back to the same value exactly."""
        return f"{_exact(self.value)}%" if self.relative else self.value

    def __str__(self) -> str:
        return f"{_exact(self.value)}%" if self.relative else _exact(self.value)


def _exact(value: float) -> str:
    """The shortest text of ``value``: ``%g`` when it reads back the same, else ``repr``."""
    short = f"{value:g}"
    return short if float(short) == value else repr(float(value))


@dataclass(frozen=True)
class Rule:
    """How one metric (a dotted path into ``summary.json``) is judged."""

    metric: str
    better: str  # "higher" or "lower"
    tolerance: Tolerance

    def worsening(self, before: float, after: float) -> float:
        """The change from ``before`` to ``after`` in the bad direction (> 0: worse)."""
        return before - after if self.better == "higher" else after - before


def _rule(metric: str, better: str, tolerance: str | float) -> Rule:
    return Rule(metric, better, Tolerance.parse(tolerance, metric))


#: Metrics with a known direction and a default tolerance (chosen from the noise of the CI
#: scenario and the built-in default one; see README "Coverage regression checks in CI").
KNOWN_RULES: Mapping[str, Rule] = {
    r.metric: r
    for r in (
        _rule("endpoint_coverage", "higher", 0.01),
        _rule("area_coverage", "higher", 0.01),
        _rule("pdr", "higher", 0.01),
        _rule("latency_s.p95", "lower", "5%"),
        _rule("energy.battery_life_days", "higher", "2%"),
        _rule("latency_s.mean", "lower", "5%"),
        _rule("latency_s.p50", "lower", "5%"),
        _rule("latency_s.p99", "lower", "5%"),
        _rule("energy.battery_life_days_p10", "higher", "2%"),
        _rule("energy.per_endpoint_mean_j", "lower", "2%"),
        _rule("energy.per_delivered_packet_j", "lower", "2%"),
        _rule("energy.mean_current_ua", "lower", "2%"),
        _rule("endpoint_reach", "higher", 0.01),
        _rule("endpoint_reach_interior", "higher", 0.01),
        _rule("downlinks.delivery_ratio", "higher", 0.01),
    )
}
#: Tracked when no ``--metric`` is given.
DEFAULT_TRACKED: tuple[str, ...] = (
    "endpoint_coverage",
    "area_coverage",
    "pdr",
    "latency_s.p95",
    "energy.battery_life_days",
)


@dataclass(frozen=True)
class MetricRecord:
    """One tracked metric of a baseline: its rule and its value per seed (None: no value)."""

    rule: Rule
    values: tuple[float | None, ...]

    @property
    def present(self) -> list[float]:
        return [v for v in self.values if v is not None]

    @property
    def mean(self) -> float | None:
        present = self.present
        return float(np.mean(present)) if present else None

    @property
    def sd(self) -> float | None:
        present = self.present
        return float(np.std(present, ddof=1)) if len(present) >= 2 else None


@dataclass(frozen=True)
class Baseline:
    """A scenario's metrics over its seeds, with what produced them."""

    spec_source: str
    spec_hash: str
    seeds: tuple[int, ...]
    metrics: Mapping[str, MetricRecord]
    versions: Mapping[str, str]
    command: tuple[str, ...] = ()  # the `sidemesh baseline` command line that made it
    updated_by: tuple[str, ...] = ()  # the last `sidemesh check --update-baseline`, if any

    def to_json(self) -> str:
        """The baseline file's text: stable key order, values rounded to 10 digits, so that the
        same scenario, seeds and code give the same bytes (and a readable diff otherwise)."""
        metrics = {
            name: {
                "better": rec.rule.better,
                "tolerance": rec.rule.tolerance.to_json(),
                "mean": _round(rec.mean),
                "sd": _round(rec.sd),
                "n": len(rec.present),
                "values": [_round(v) for v in rec.values],
            }
            for name, rec in self.metrics.items()
        }
        data = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "spec": {"source": self.spec_source, "hash": self.spec_hash},
            "seeds": list(self.seeds),
            "metrics": metrics,
            "versions": dict(self.versions),
            "command": list(self.command),
            "updated_by": list(self.updated_by),
        }
        return json.dumps(data, indent=2, allow_nan=False) + "\n"

    def save(self, path: Path) -> None:
        """Write atomically (creating missing parent folders)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, self.to_json())


def _round(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.10g}")


def load_baseline(path: Path) -> Baseline:
    """Read a baseline file; raise :class:`RegressionError` naming the file and the key."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RegressionError(
            f"{path}: baseline file not found; make one with `sidemesh baseline SPEC.toml -o "
            f"{path}`"
        ) from None
    except IsADirectoryError:
        raise RegressionError(f"{path}: is a directory, not a baseline file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise RegressionError(f"{path}: cannot be read ({err})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise RegressionError(f"{path}: is not JSON ({err})") from None
    return baseline_from_data(data, str(path))


def baseline_from_data(data: Any, where: str) -> Baseline:
    """A :class:`Baseline` from the parsed JSON of a baseline file (``where`` names it)."""

    def bad(key: str, message: str) -> RegressionError:
        return RegressionError(f"{where}: {key}: {message}")

    if not isinstance(data, dict):
        raise RegressionError(f"{where}: not a baseline file (expected a JSON object)")
    if data.get("format") != FORMAT:
        raise bad("format", f"expected {FORMAT!r}; this is not a sidemesh baseline file")
    if data.get("format_version") != FORMAT_VERSION:
        raise bad(
            "format_version",
            f"{data.get('format_version')!r} is not supported (this sidemesh reads version "
            f"{FORMAT_VERSION}); make the baseline again with `sidemesh baseline`",
        )
    spec = data.get("spec")
    if not (
        isinstance(spec, dict)
        and isinstance(spec.get("source"), str)
        and isinstance(spec.get("hash"), str)
    ):
        raise bad("spec", 'expected { "source": "...", "hash": "..." }')
    seeds = data.get("seeds")
    if not (
        isinstance(seeds, list)
        and len(seeds) >= MIN_RUNS
        and all(
            isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= MAX_SEED for s in seeds
        )
        and len(set(seeds)) == len(seeds)
    ):
        raise bad(
            "seeds",
            f"expected a list of at least {MIN_RUNS} distinct integers in 0..2**63-1 (the range "
            "of [scenario] seed)",
        )
    raw_metrics = data.get("metrics")
    if not isinstance(raw_metrics, dict) or not raw_metrics:
        raise bad("metrics", "expected a non-empty object of tracked metrics")
    metrics: dict[str, MetricRecord] = {}
    for name, entry in raw_metrics.items():
        key = f"metrics.{name}"
        if not isinstance(entry, dict):
            raise bad(key, "expected an object with better, tolerance and values")
        better = entry.get("better")
        if better not in DIRECTIONS:
            raise bad(f"{key}.better", f"{better!r}; allowed: {', '.join(DIRECTIONS)}")
        if "tolerance" not in entry:
            raise bad(f"{key}.tolerance", "missing")
        try:
            tolerance = Tolerance.parse(entry["tolerance"], "")
        except RegressionError:
            raise bad(
                f"{key}.tolerance",
                f'{entry["tolerance"]!r}; expected a number >= 0 or a percentage like "5%"',
            ) from None
        values = entry.get("values")
        if not (
            isinstance(values, list)
            and len(values) == len(seeds)
            and all(
                v is None
                or (isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v))
                for v in values
            )
        ):
            raise bad(
                f"{key}.values", f"expected a list of {len(seeds)} numbers or nulls, one per seed"
            )
        metrics[name] = MetricRecord(
            Rule(name, better, tolerance),
            tuple(None if v is None else float(v) for v in values),
        )
    raw_versions = data.get("versions", {})
    if not isinstance(raw_versions, dict):
        raise bad("versions", "expected an object")
    command = data.get("command", [])
    if not isinstance(command, list):
        raise bad("command", "expected a list")
    updated_by = data.get("updated_by", [])
    if not isinstance(updated_by, list):
        raise bad("updated_by", "expected a list")
    return Baseline(
        spec_source=spec["source"],
        spec_hash=spec["hash"],
        seeds=tuple(seeds),
        metrics=metrics,
        versions={str(k): str(v) for k, v in raw_versions.items()},
        command=tuple(str(c) for c in command),
        updated_by=tuple(str(c) for c in updated_by),
    )


def parse_metric_option(text: str) -> tuple[str, str | None]:
    """``NAME`` or ``NAME:higher`` / ``NAME:lower`` from ``--metric``."""
    name, _, better = text.partition(":")
    name = name.strip()
    if not name:
        raise RegressionError(
            f"--metric {text}: give a summary.json path like pdr or latency_s.p95, optionally "
            f"with :higher or :lower"
        )
    if not better:
        return name, None
    if better.strip() not in DIRECTIONS:
        raise RegressionError(
            f"--metric {text}: direction {better!r}; allowed: {', '.join(DIRECTIONS)}"
        )
    return name, better.strip()


def parse_tolerance_option(text: str) -> tuple[str, Tolerance]:
    """``NAME=VALUE`` from ``--tolerance``."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise RegressionError(
            f"--tolerance {text}: expected METRIC=VALUE, e.g. area_coverage=0.01 or "
            f"latency_s.p95=5%"
        )
    return name.strip(), Tolerance.parse(value, f"--tolerance {text}")


def baseline_rules(metric_options: Sequence[str], tolerance_options: Sequence[str]) -> list[Rule]:
    """The rules a new baseline tracks: ``--metric`` (default :data:`DEFAULT_TRACKED`), each
    with its known direction and tolerance unless the options give them."""
    chosen = [parse_metric_option(t) for t in metric_options] or [
        (name, None) for name in DEFAULT_TRACKED
    ]
    names = [name for name, _ in chosen]
    if len(set(names)) != len(names):
        raise RegressionError(f"--metric: {_first_repeat(names)} is given twice")
    tolerances = _tolerances(tolerance_options, names)
    rules = []
    for name, better in chosen:
        known = KNOWN_RULES.get(name)
        if better is None and known is None:
            raise RegressionError(
                f"--metric {name}: no known direction; give --metric {name}:higher or "
                f"{name}:lower (known metrics: {', '.join(KNOWN_RULES)})"
            )
        tolerance = tolerances.get(name, known.tolerance if known is not None else None)
        if tolerance is None:
            raise RegressionError(
                f"--metric {name}: no default tolerance; give --tolerance {name}=VALUE"
            )
        rules.append(Rule(name, better or (known.better if known else "higher"), tolerance))
    return rules


def check_rules(
    baseline: Baseline,
    where: str,
    metric_options: Sequence[str],
    tolerance_options: Sequence[str],
) -> list[Rule]:
    """The rules a check applies: the baseline's (``--metric`` picks some of them; a direction
    given with it must be the baseline's), with ``--tolerance`` overrides."""
    chosen = [parse_metric_option(t) for t in metric_options] or [
        (name, None) for name in baseline.metrics
    ]
    names = [name for name, _ in chosen]
    if len(set(names)) != len(names):
        raise RegressionError(f"--metric: {_first_repeat(names)} is given twice")
    for name in names:
        if name not in baseline.metrics:
            raise RegressionError(
                f"--metric {name}: not in the baseline {where}; it tracks "
                f"{', '.join(baseline.metrics)} (make a new baseline to track others)"
            )
    tolerances = _tolerances(tolerance_options, names)
    rules = []
    for name, better in chosen:
        rule = baseline.metrics[name].rule
        if better is not None and better != rule.better:
            raise RegressionError(
                f"--metric {name}:{better}: the baseline {where} judges {name} with "
                f"{rule.better} is better; a check cannot turn it round (make a new baseline "
                f"with --metric {name}:{better})"
            )
        rules.append(Rule(name, rule.better, tolerances.get(name, rule.tolerance)))
    return rules


def _tolerances(options: Sequence[str], names: Sequence[str]) -> dict[str, Tolerance]:
    found: dict[str, Tolerance] = {}
    for text in options:
        name, tolerance = parse_tolerance_option(text)
        if name not in names:
            raise RegressionError(
                f"--tolerance {text}: {name} is not a tracked metric; tracked: {', '.join(names)}"
            )
        if name in found:
            raise RegressionError(f"--tolerance {text}: {name} is given a tolerance twice")
        found[name] = tolerance
    return found


def _first_repeat(names: Sequence[str]) -> str:
    return next(n for k, n in enumerate(names) if n in names[:k])


@dataclass(frozen=True)
class Measurement:
    """Metric values of one spec over seeds (as a baseline or a check sees them)."""

    seeds: tuple[int, ...]
    values: Mapping[str, tuple[float | None, ...]]
    wall_time_s: float


def seeds_of(spec: Spec, runs: int) -> tuple[int, ...]:
    """Seeds of a baseline of ``runs`` runs: the spec's seed and the next ones, as in sweeps."""
    first = spec.config.scenario.seed
    return tuple(first + k for k in range(runs))


def measure(
    spec: Spec,
    seeds: Sequence[int],
    metrics: Sequence[str],
    workers: int | None = None,
    on_run: Callable[[], None] | None = None,
) -> Measurement:
    """Run ``spec`` once per seed on the sweep's process pool and read ``metrics`` from each
    summary. Raise :class:`RegressionError` when a metric is not a number in ``summary.json``
    (an unknown path, or a table such as ``latency_s``)."""
    started = time.perf_counter()
    sweep = replications(spec, seeds, metrics)
    runs = [Run(0, r, seed, ()) for r, seed in enumerate(sweep.seeds)]
    by_seed: dict[int, Mapping[str, float | None]] = {}
    # closing: a bad metric stops the pool at once (cancelling the runs not yet started)
    with closing(run_rows(sweep, runs, workers)) as rows:
        for row in rows:
            for name in metrics:
                problem = _not_a_metric(row.summary, name)
                if problem:
                    raise RegressionError(f"metric {name}: {problem}")
            by_seed[row.seed] = row.metrics
            if on_run is not None:
                on_run()
    values = {name: tuple(by_seed[s][name] for s in sweep.seeds) for name in metrics}
    return Measurement(tuple(sweep.seeds), values, time.perf_counter() - started)


def _not_a_metric(summary: Mapping[str, Any], path: str) -> str:
    """Why ``path`` is not a number of ``summary`` ('' when it is one or a null)."""
    node: Any = summary
    walked: list[str] = []
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            keys = ", ".join(sorted(node)) if isinstance(node, Mapping) else ""
            where = ".".join(walked) or "summary.json"
            return f"{path} is not in summary.json ({where} has: {keys or 'no keys'})"
        node = node[part]
        walked.append(part)
    if node is None or (isinstance(node, int | float) and not isinstance(node, bool)):
        return ""
    if isinstance(node, Mapping):
        return f"{path} is a table; name one of its numbers: " + ", ".join(
            f"{path}.{k}" for k in sorted(node)
        )
    return f"{path} is not a number in summary.json"


def spec_hash(spec: Spec) -> str:
    """SHA-256 of the resolved spec tables without ``[scenario] seed``: a baseline stores its
    seeds on their own, and ``check`` runs those whatever the spec's seed is."""
    data = dict(spec.data)
    scenario = data.get("scenario")
    if isinstance(scenario, Mapping):
        rest = {k: v for k, v in scenario.items() if k != "seed"}
        if rest:
            data["scenario"] = rest
        else:
            del data["scenario"]
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def make_baseline(
    spec: Spec,
    rules: Sequence[Rule],
    measurement: Measurement,
    command: Sequence[str] = (),
    updated_by: Sequence[str] = (),
) -> Baseline:
    return Baseline(
        spec_source=spec.source,
        spec_hash=spec_hash(spec),
        seeds=measurement.seeds,
        metrics={r.metric: MetricRecord(r, measurement.values[r.metric]) for r in rules},
        versions=versions(),
        command=tuple(command),
        updated_by=tuple(updated_by),
    )


def zero_mean_relative(baseline: Baseline) -> list[str]:
    """Metrics whose tolerance is a share of a baseline mean of 0 (so it is 0 in effect)."""
    return [
        name
        for name, rec in baseline.metrics.items()
        if rec.rule.tolerance.relative and rec.rule.tolerance.value > 0 and rec.mean == 0.0
    ]


@dataclass(frozen=True)
class Verdict:
    """The judgement of one metric."""

    rule: Rule
    status: str  # OK, IMPROVED, REGRESSED, NOT_TESTABLE, MISSING or NO_DATA
    baseline_mean: float | None  # over the seeds compared (all the baseline's when MISSING)
    now_mean: float | None  # None when MISSING (the message says how many values were lost)
    delta: float | None  # now - baseline (means over the compared seeds)
    worsening: float | None  # mean change in the bad direction
    tolerance_abs: float
    p_value: float | None  # one-sided, of a worsening beyond the tolerance; None: not tested
    test: str  # TEST or "none"
    n: int  # pairs compared
    message: str
    lost: int = 0  # seeds where the baseline has a value and this run has none

    @property
    def failed(self) -> bool:
        return self.status in FAILING


@dataclass(frozen=True)
class Report:
    """A whole check: one verdict per tracked metric, and what was compared."""

    spec_source: str
    baseline_source: str
    baseline_hash: str
    spec_hash: str
    seeds: tuple[int, ...]
    alpha: float
    verdicts: tuple[Verdict, ...]
    baseline_versions: Mapping[str, str]
    versions: Mapping[str, str]
    wall_time_s: float
    warnings: tuple[str, ...] = field(default=())
    timestamp: str = ""  # when the check was judged: ISO 8601 in UTC, no offset (as JUnit)
    hostname: str = ""

    @property
    def alpha_per_metric(self) -> float:
        return self.alpha / max(1, len(self.verdicts))

    @property
    def failures(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.failed]

    @property
    def passed(self) -> bool:
        return not self.failures


def compare(
    baseline: Baseline,
    rules: Sequence[Rule],
    measurement: Measurement,
    alpha: float = DEFAULT_ALPHA,
) -> tuple[Verdict, ...]:
    """Judge every rule's metric: the measurement against the baseline, seed by seed (the
    measurement must hold the baseline's seeds, in the same order)."""
    if not 0.0 < alpha < 1.0:
        raise RegressionError(f"--alpha {alpha:g}: must be between 0 and 1 (e.g. 0.01)")
    if measurement.seeds != baseline.seeds:
        raise RegressionError(
            "the measured seeds differ from the baseline's: a check runs the baseline's seeds "
            "and compares them pair by pair"
        )
    alpha_metric = alpha / max(1, len(rules))
    return tuple(
        judge(
            rule,
            baseline.metrics[rule.metric].values,
            measurement.values[rule.metric],
            alpha_metric,
        )
        for rule in rules
    )


#: Relative resolution of a metric value (summaries and baselines keep 10 significant digits):
#: a worsening within it of the tolerance is the tolerance itself.
RESOLUTION = 1e-9


def judge(
    rule: Rule,
    before: Sequence[float | None],
    after: Sequence[float | None],
    alpha_metric: float,
) -> Verdict:
    """The verdict on one metric: ``before`` (baseline) and ``after`` values, seed by seed."""
    kept = [(b, a) for b, a in zip(before, after, strict=True) if b is not None]
    lost = sum(a is None for _, a in kept)
    if lost:
        base_mean = float(np.mean([b for b, _ in kept]))
        tol = rule.tolerance.absolute(base_mean)
        message = (
            f"{rule.metric} has no value in {lost} of the {len(kept)} runs where the baseline "
            "had one (no deliveries, or the endpoints it is measured on are gone)"
        )
        return Verdict(
            rule, MISSING, base_mean, None, None, None, tol, None, "none", len(kept), message, lost
        )
    if not kept:
        now = [a for a in after if a is not None]
        now_mean = float(np.mean(now)) if now else None
        tol = rule.tolerance.absolute(None)
        message = f"{rule.metric} has no value in the baseline runs: nothing to compare"
        return Verdict(rule, NO_DATA, None, now_mean, None, None, tol, None, "none", 0, message)
    xs = np.array([b for b, _ in kept], dtype=float)
    ys = np.array([a for _, a in kept], dtype=float)
    x_mean, y_mean = float(xs.mean()), float(ys.mean())
    tol = rule.tolerance.absolute(x_mean)
    w = np.array([rule.worsening(b, a) for b, a in zip(xs, ys, strict=True)])
    resolution = RESOLUTION * np.maximum(np.abs(xs), np.abs(ys))
    worse = _beyond(w - tol, resolution)  # > 0: worse than the tolerance allows
    better = _beyond(-w - tol, resolution)
    p_worse, p_better = sign_flip_p(worse), sign_flip_p(better)
    n = len(kept)
    if worse.mean() > 0 and p_worse <= alpha_metric:
        status = REGRESSED
    elif better.mean() > 0 and p_better <= alpha_metric:
        status = IMPROVED
    elif worse.mean() > 0 and 2.0**-n > alpha_metric:
        status = NOT_TESTABLE
    else:
        status = OK
    worsening = rule.worsening(x_mean, y_mean)
    return Verdict(
        rule,
        status,
        x_mean,
        y_mean,
        y_mean - x_mean,
        worsening,
        tol,
        p_worse,
        TEST,
        n,
        _message(
            rule, status, x_mean, y_mean, bool(worse.mean() > 0), tol, p_worse, n, alpha_metric
        ),
    )


def _beyond(excess: np.ndarray, resolution: np.ndarray) -> np.ndarray:
    """``excess`` with the values within ``resolution`` of 0 set to 0 (rounding, not change)."""
    return np.where(np.abs(excess) <= resolution, 0.0, excess)


def _message(
    rule: Rule,
    status: str,
    before: float,
    after: float,
    beyond: bool,
    tol: float,
    p: float,
    n: int,
    alpha_metric: float,
) -> str:
    change = f"{fmt(before)} -> {fmt(after)} ({fmt_delta(after - before)})"
    worsening = rule.worsening(before, after)
    worse = f"worse by {fmt(worsening)} > tolerance {fmt(tol)}"
    if status == REGRESSED:
        return (
            f"{rule.metric} regressed: {change}, {worse} ({rule.better} is better; p = {p:.2g} "
            f"<= {alpha_metric:.2g}: credibly beyond the tolerance)"
        )
    if status == IMPROVED:
        return f"{rule.metric} improved: {change} ({rule.better} is better)"
    if status == NOT_TESTABLE:
        return (
            f"{rule.metric}: {change}, {worse}, not testable: the smallest p-value of {n} "
            f"pair{'s' if n != 1 else ''} is 2^-{n} = {2.0**-n:.2g} > {alpha_metric:.2g}; a "
            f"baseline of at least {min_pairs(alpha_metric)} seeds can tell"
        )
    if beyond:
        return (
            f"{rule.metric}: {change}, {worse}, but not credibly beyond it (p = {p:.2g} > "
            f"{alpha_metric:.2g}): it could be noise"
        )
    return f"{rule.metric}: {change}, within tolerance {fmt(tol)}"


def fmt(value: float | None) -> str:
    """A metric value for people: four significant digits."""
    return "-" if value is None else f"{value:.4g}"


def fmt_delta(value: float | None) -> str:
    return "-" if value is None else f"{value:+.3g}"


def report(
    baseline: Baseline,
    baseline_source: str,
    spec: Spec,
    rules: Sequence[Rule],
    measurement: Measurement,
    alpha: float = DEFAULT_ALPHA,
) -> Report:
    """Compare and collect what a reader needs: verdicts, hashes, versions, warnings."""
    now_hash = spec_hash(spec)
    now = versions()
    verdicts = compare(baseline, rules, measurement, alpha)
    warnings = [
        *spec_warnings(baseline, baseline_source, now_hash),
        *version_warnings(baseline.versions, now),
        *power_warnings(verdicts, alpha / max(1, len(rules))),
    ]
    return Report(
        spec_source=spec.source,
        baseline_source=baseline_source,
        baseline_hash=baseline.spec_hash,
        spec_hash=now_hash,
        seeds=measurement.seeds,
        alpha=alpha,
        verdicts=verdicts,
        baseline_versions=baseline.versions,
        versions=now,
        wall_time_s=measurement.wall_time_s,
        warnings=tuple(warnings),
        timestamp=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        hostname=socket.gethostname(),
    )


def spec_warnings(baseline: Baseline, baseline_source: str, now_hash: str) -> Iterable[str]:
    if baseline.spec_hash != now_hash:
        yield (
            f"the spec changed since the baseline {baseline_source} was made (spec hash "
            f"{baseline.spec_hash[:12]} there, {now_hash[:12]} now); comparing anyway. If the "
            "change is deliberate, accept it with --update-baseline"
        )


def version_warnings(before: Mapping[str, str], now: Mapping[str, str]) -> Iterable[str]:
    """One warning naming every recorded version that differs (Python and the packages that
    decide results): runs are reproducible exactly only with the same versions."""
    differ = [
        f"{name} {before.get(name, 'not recorded')} -> {now.get(name, 'not recorded')}"
        for name in sorted(set(before) | set(now))
        if before.get(name) != now.get(name)
    ]
    if differ:
        yield (
            "the baseline was made with other versions (" + ", ".join(differ) + "); runs are "
            "reproducible exactly only with the same versions, so a change may come from them"
        )


def power_warnings(verdicts: Sequence[Verdict], alpha_metric: float) -> Iterable[str]:
    """A warning naming the metrics whose pairs are too few for any p-value to reach
    ``alpha_metric``: they cannot fail, whatever happened."""
    weak = [
        v for v in verdicts if v.status not in (NO_DATA, MISSING) and v.n < min_pairs(alpha_metric)
    ]
    if weak:
        n = max(v.n for v in weak)
        yield (
            f"{', '.join(v.rule.metric for v in weak)}: {n} or fewer pairs cannot give a "
            f"p-value <= {alpha_metric:.2g} (the smallest is 2^-{n} = {2.0**-n:.2g}), so "
            f"{'this metric' if len(weak) == 1 else 'these metrics'} cannot fail; make the "
            f"baseline with --runs {min_pairs(alpha_metric)} or more"
        )


def updated(
    baseline: Baseline,
    spec: Spec,
    measurement: Measurement,
    command: Sequence[str] = (),
) -> Baseline:
    """The baseline rewritten from ``measurement`` (which must hold every metric it tracks):
    new values, spec hash, spec source and versions; the same seeds, metrics, directions and
    tolerances (a check's ``--tolerance`` is not stored) and the same ``command``;
    ``updated_by`` records the check's command line."""
    missing = [name for name in baseline.metrics if name not in measurement.values]
    if missing:
        raise RegressionError(
            f"--update-baseline: no values of {', '.join(missing)}: measure every tracked metric"
        )
    rules = [rec.rule for rec in baseline.metrics.values()]
    return make_baseline(spec, rules, measurement, baseline.command, command)


__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_RUNS",
    "DEFAULT_TRACKED",
    "KNOWN_RULES",
    "Baseline",
    "Measurement",
    "MetricRecord",
    "RegressionError",
    "Report",
    "Rule",
    "Tolerance",
    "Verdict",
    "baseline_rules",
    "check_rules",
    "compare",
    "judge",
    "load_baseline",
    "make_baseline",
    "measure",
    "report",
    "seeds_of",
    "spec_hash",
    "updated",
    "version_warnings",
    "zero_mean_relative",
]
