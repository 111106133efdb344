"""Sweep specs: a base scenario, axes over any scenario key, replications; expanded into runs.

A sweep file (TOML) has:

- ``base = "scenario.toml"`` (relative to the sweep file) or ``[base.<section>]`` tables: the
  scenario every run starts from;
- ``[sweep]``: axes, each a scenario key (``"topology.bridges" = [5, 10, 20]``, any key
  ``--set`` accepts) with its list of values, and ``mode = "grid"`` (the product of the axes, the
  default) or ``"zip"`` (the i-th values of every axis together; the lists must have one length);
- ``[replications]``: ``seeds = [1, 2, 3]`` or ``count = N`` (seeds ``base seed + 0 .. N-1``);
- ``[metrics] collect``: the summary metrics to keep per run, as dotted paths into
  ``summary.json`` (default :data:`DEFAULT_METRICS`); the whole summary is stored too.

Seeds come from the spec, never from the order in which workers finish: run ``(point p,
replication r)`` uses seed ``seeds[r]`` at every point (common random numbers across points), so
any executor gives the same rows. Every point is validated when the sweep is loaded: a bad value
names the sweep file, the axis and the value.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from experiments.spec import Spec, SpecError, read_toml, show, spec_from_data

#: Metrics kept per run when ``[metrics] collect`` is not given.
DEFAULT_METRICS: tuple[str, ...] = (
    "pdr",
    "endpoint_coverage",
    "area_coverage",
    "latency_s.mean",
    "latency_s.p95",
    "energy.battery_life_days",
    "energy.per_delivered_packet_j",
    "routing.relay_frames",
)
SWEEP_SECTIONS = ("base", "sweep", "replications", "metrics")


@dataclass(frozen=True)
class Run:
    """One run of a sweep: sweep point ``point`` (its axis values in ``values``), replication
    ``replication`` with ``seed``."""

    point: int
    replication: int
    seed: int
    values: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class Sweep:
    source: str
    base: Mapping[str, Any]  # the base scenario's tables
    base_source: str
    base_dir: Path
    axes: tuple[tuple[str, tuple[Any, ...]], ...]
    mode: str
    seeds: tuple[int, ...]
    metrics: tuple[str, ...]

    @property
    def points(self) -> list[tuple[tuple[str, Any], ...]]:
        """Axis values of every sweep point, in order."""
        if not self.axes:
            return [()]
        keys = [key for key, _ in self.axes]
        rows: Iterable[tuple[Any, ...]]
        if self.mode == "zip":
            rows = zip(*(values for _, values in self.axes), strict=True)
        else:
            rows = itertools.product(*(values for _, values in self.axes))
        return [tuple(zip(keys, row, strict=True)) for row in rows]

    def runs(self) -> list[Run]:
        return [
            Run(p, r, seed, values)
            for p, values in enumerate(self.points)
            for r, seed in enumerate(self.seeds)
        ]

    def spec_of(self, run: Run) -> Spec:
        """The validated scenario of ``run``."""
        return spec_from_data(
            self.base, self.base_source, self.base_dir, dict(run.values), seed=run.seed
        )

    @property
    def digest(self) -> str:
        """A hash of everything that decides the runs' results (to refuse resuming another
        sweep into the same folder)."""
        text = json.dumps(
            {
                "base": self.base,
                "axes": [[k, list(v)] for k, v in self.axes],
                "mode": self.mode,
                "seeds": list(self.seeds),
            },
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(text.encode()).hexdigest()


def replications(spec: Spec, seeds: Iterable[int], metrics: Iterable[str]) -> Sweep:
    """A sweep of one point: ``spec`` as it is (overrides applied), run once per seed, keeping
    ``metrics`` (for regression checks and other replications of a single scenario)."""
    return Sweep(
        source=spec.source,
        base=spec.data,
        base_source=spec.source,
        base_dir=spec.base_dir,
        axes=(),
        mode="grid",
        seeds=tuple(seeds),
        metrics=tuple(metrics),
    )


def config_hash(spec: Spec) -> str:
    """Hash of a run's resolved scenario tables."""
    text = json.dumps(spec.data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def load_sweep(path: str | Path) -> Sweep:
    """Read and validate a sweep file; raise :class:`SpecError` naming the file and key."""
    p = Path(path)
    source = str(p)
    data = read_toml(p)
    for section in data:
        if section not in SWEEP_SECTIONS:
            raise SpecError(
                source, f"[{section}]", f"unknown section; allowed: {', '.join(SWEEP_SECTIONS)}"
            )
    base_raw = data.get("base")
    base_dir = p.resolve().parent
    if isinstance(base_raw, str):
        base_path = (base_dir / base_raw).resolve()
        if not base_path.is_file():
            raise SpecError(source, "base", f"scenario file {base_raw!r} not found")
        base = read_toml(base_path)
        base_source, base_dir = str(base_path), base_path.parent
    elif isinstance(base_raw, dict):
        base, base_source = base_raw, f"{source} [base]"
    elif base_raw is None:
        raise SpecError(source, "base", 'missing: give base = "scenario.toml" or [base.*] tables')
    else:
        raise SpecError(source, "base", "must be a file name or [base.<section>] tables")
    axes, mode = _axes(data.get("sweep", {}), source)
    seeds = _seeds(data.get("replications", {}), base, source)
    metrics = _metrics(data.get("metrics", {}), source)
    sweep = Sweep(source, base, base_source, base_dir, axes, mode, seeds, metrics)
    for values in sweep.points:  # every point must be a valid scenario
        try:
            sweep.spec_of(Run(0, 0, seeds[0], values))
        except SpecError as err:
            point = ", ".join(f"{k} = {show(v)}" for k, v in values) or "the base"
            raise SpecError(source, f"[sweep] ({point})", f"{err}") from None
    return sweep


def _axes(table: Any, source: str) -> tuple[tuple[tuple[str, tuple[Any, ...]], ...], str]:
    if not isinstance(table, dict):
        raise SpecError(source, "[sweep]", "must be a table of axes")
    mode = table.get("mode", "grid")
    if mode not in ("grid", "zip"):
        raise SpecError(source, "[sweep] mode", f"must be grid or zip; got {show(mode)}")
    axes: list[tuple[str, tuple[Any, ...]]] = []
    for key, values in table.items():
        if key == "mode":
            continue
        if "." not in key:
            raise SpecError(
                source, f"[sweep] {key}", 'an axis is a scenario key like "topology.bridges"'
            )
        if not isinstance(values, list) or not values:
            raise SpecError(source, f"[sweep] {key}", "must be a non-empty list of values")
        axes.append((key, tuple(values)))
    if mode == "zip" and len({len(v) for _, v in axes}) > 1:
        lengths = ", ".join(f"{k}: {len(v)}" for k, v in axes)
        raise SpecError(source, "[sweep] mode", f"zip needs lists of one length ({lengths})")
    return tuple(axes), mode


def _seeds(table: Any, base: Mapping[str, Any], source: str) -> tuple[int, ...]:
    if not isinstance(table, dict):
        raise SpecError(source, "[replications]", "must be a table")
    unknown = set(table) - {"seeds", "count"}
    if unknown:
        raise SpecError(
            source, f"[replications] {sorted(unknown)[0]}", "unknown key; allowed: count, seeds"
        )
    if "seeds" in table and "count" in table:
        raise SpecError(source, "[replications]", "give seeds or count, not both")
    if "seeds" in table:
        seeds = table["seeds"]
        ok = (
            isinstance(seeds, list)
            and seeds
            and all(
                isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 2**63 for s in seeds
            )
        )
        if not ok or len(set(seeds)) != len(seeds):
            raise SpecError(
                source, "[replications] seeds", "must be a list of distinct integers >= 0"
            )
        return tuple(seeds)
    count = table.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 100_000:
        raise SpecError(source, "[replications] count", f"must be in 1..100000, got {show(count)}")
    scenario = base.get("scenario", {})
    first = scenario.get("seed", 1) if isinstance(scenario, dict) else 1
    first = first if isinstance(first, int) and not isinstance(first, bool) else 1
    return tuple(first + k for k in range(count))


def _metrics(table: Any, source: str) -> tuple[str, ...]:
    if not isinstance(table, dict):
        raise SpecError(source, "[metrics]", "must be a table")
    unknown = set(table) - {"collect"}
    if unknown:
        raise SpecError(source, f"[metrics] {sorted(unknown)[0]}", "unknown key; allowed: collect")
    collect = table.get("collect", list(DEFAULT_METRICS))
    if not isinstance(collect, list) or not all(isinstance(m, str) and m for m in collect):
        raise SpecError(source, "[metrics] collect", 'must be a list like ["pdr", "latency_s.p95"]')
    return tuple(collect)


def metric(summary: Mapping[str, Any], path: str) -> float | None:
    """The value at dotted ``path`` of a summary (None when absent or not a number)."""
    node: Any = summary
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    if isinstance(node, bool) or not isinstance(node, int | float):
        return None
    value = float(node)
    return value if math.isfinite(value) else None


__all__ = [
    "DEFAULT_METRICS",
    "Run",
    "Sweep",
    "config_hash",
    "load_sweep",
    "metric",
    "replications",
]
