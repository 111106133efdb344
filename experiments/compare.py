"""Side-by-side comparison of relaying strategies on one scenario (``sidemesh compare``).

The same spec, topology and seed run once per ``[routing] strategy``; every run draws the same
topology, classes, shadowing and traffic (each purpose has its own random stream), so the
differences are the strategies'. The table reports, per strategy: PDR, endpoint coverage and its
gain over ``direct`` (percentage points), latency p50/p95, mean radio hops, relay frames,
duplicates at the server and at relays, mean airtime per node, mean relay energy burden and the
median battery life of battery endpoints. ``compare.json`` and ``compare.csv`` hold the same
rows; each strategy's full results go in a sub-folder.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from experiments.runner import RunResult, run, summary_json, write_folder
from experiments.spec import Spec, load_spec
from mesh.config import STRATEGIES

#: Columns of the comparison: (key, header, format).
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("strategy", "strategy", "s"),
    ("pdr", "PDR", "%"),
    ("endpoint_coverage", "coverage", "%"),
    ("coverage_gain_pp", "gain vs direct", "pp"),
    ("latency_p50_s", "p50 lat s", ".3f"),
    ("latency_p95_s", "p95 lat s", ".3f"),
    ("hops_mean", "hops", ".2f"),
    ("relay_frames", "relay frames", "d"),
    ("duplicates_at_server", "dup server", "d"),
    ("duplicates_at_relays", "dup relays", "d"),
    ("airtime_per_node_mean_s", "airtime/node s", ".2f"),
    ("relay_energy_mean_j", "relay E J", ".1f"),
    ("battery_life_days", "life d", ".0f"),
)


@dataclass(frozen=True)
class Comparison:
    rows: list[dict[str, Any]]
    runs: dict[str, RunResult]


def row_of(
    strategy: str, summary: Mapping[str, Any], base_coverage: float | None
) -> dict[str, Any]:
    routing = summary["routing"]
    coverage = summary["endpoint_coverage"]
    gain = (
        None
        if coverage is None or base_coverage is None
        else round(100.0 * (coverage - base_coverage), 6)
    )
    return {
        "strategy": strategy,
        "pdr": summary["pdr"],
        "endpoint_coverage": coverage,
        "coverage_gain_pp": gain,
        "latency_p50_s": summary["latency_s"]["p50"],
        "latency_p95_s": summary["latency_s"]["p95"],
        "hops_mean": routing["hops_mean"],
        "relay_frames": routing["relay_frames"],
        "duplicates_at_server": routing["duplicates_at_server"],
        "duplicates_at_relays": routing["duplicates_at_relays"],
        "airtime_per_node_mean_s": routing["airtime_per_node_s"]["mean"],
        "relay_energy_mean_j": routing["relay_energy_j"]["mean"],
        "battery_life_days": summary["energy"]["battery_life_days"],
    }


def compare(
    spec_path: str | Path | None,
    strategies: Sequence[str] = STRATEGIES,
    overrides: Sequence[str] = (),
    seed: int | None = None,
    duration: str | None = None,
    on_done: Callable[[str, RunResult], None] | None = None,
) -> Comparison:
    """Run the spec once per strategy (``direct`` first when listed: gains are against it)."""
    runs: dict[str, RunResult] = {}
    for strategy in strategies:
        spec: Spec = load_spec(
            spec_path, [*overrides, f'routing.strategy="{strategy}"'], seed=seed, duration=duration
        )
        result = run(spec)
        runs[strategy] = result
        if on_done is not None:
            on_done(strategy, result)
    base = runs.get("direct")
    base_coverage = base.summary["endpoint_coverage"] if base is not None else None
    rows = [row_of(s, r.summary, base_coverage) for s, r in runs.items()]
    return Comparison(rows, runs)


def _cell(value: Any, fmt: str) -> str:
    if value is None:
        return "-"
    if fmt == "%":
        return f"{100 * value:.1f}%"
    if fmt == "pp":
        return f"{value:+.1f}"
    if fmt == "s":
        return str(value)
    return format(value, fmt)


def table_text(rows: Sequence[Mapping[str, Any]]) -> str:
    cells = [[header for _, header, _ in COLUMNS]]
    cells += [[_cell(row[key], fmt) for key, _, fmt in COLUMNS] for row in rows]
    widths = [max(len(r[k]) for r in cells) for k in range(len(COLUMNS))]
    lines = []
    for r in cells:
        parts = [r[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(parts))
    return "\n".join(lines)


def csv_text(rows: Sequence[Mapping[str, Any]]) -> str:
    keys = [key for key, _, _ in COLUMNS]
    out = [",".join(keys)]
    for row in rows:
        out.append(",".join("" if row[k] is None else str(row[k]) for k in keys))
    return "\n".join(out) + "\n"


def write(comparison: Comparison, out_dir: Path) -> None:
    """Write ``compare.json``, ``compare.csv`` and one result folder per strategy, each
    atomically."""
    files = {
        "compare.json": json.dumps(comparison.rows, indent=2, sort_keys=True) + "\n",
        "compare.csv": csv_text(comparison.rows),
    }
    write_folder(out_dir, files)
    for strategy, result in comparison.runs.items():
        result.write(out_dir / strategy)


__all__ = ["COLUMNS", "Comparison", "compare", "csv_text", "summary_json", "table_text", "write"]
