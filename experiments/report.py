"""Figures and a self-contained HTML report for a run folder or a sweep folder.

- Run folder (``sidemesh run --out DIR``): the figures of :func:`experiments.plots.run_figures`.
  The folder keeps summaries, not the engine's raw state, so the run is simulated again from
  ``run.json`` (its resolved spec and seed: the same run, byte for byte) and drawn.
- Sweep folder (``sidemesh sweep --out DIR``): one figure per collected metric, the mean and its
  95 % confidence band against the first axis, one curve per combination of the other axes
  (:func:`experiments.plots.sweep_curves`), from ``aggregate.json``.
- ``report.html``: every figure inline (PNG as data URIs), the summary or aggregate table, the
  spec and the versions; it opens offline, nothing is fetched. Written atomically.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

import numpy as np

from experiments.plots import run_figures, sweep_curves
from experiments.runner import run, write_atomic
from experiments.spec import spec_from_data
from experiments.store import Store


class ReportError(Exception):
    """The folder is neither a run nor a sweep output folder."""


def kind_of(folder: Path) -> str:
    if (folder / "results.sqlite").is_file():
        return "sweep"
    if (folder / "run.json").is_file() and (folder / "summary.json").is_file():
        return "run"
    raise ReportError(
        f"{folder}: neither a run folder (summary.json, run.json) nor a sweep folder "
        "(results.sqlite)"
    )


def figures(folder: Path) -> list[Path]:
    """Draw the figures of ``folder`` into ``folder/figures``; return the files."""
    if kind_of(folder) == "run":
        info = json.loads((folder / "run.json").read_text())
        source = Path(info["spec_source"])
        base_dir = source.resolve().parent if source.is_file() else folder  # CSV paths
        spec = spec_from_data(info["spec"], info["spec_source"], base_dir)
        return run_figures(run(spec).sim, folder)
    return sweep_figures(folder)


def sweep_figures(folder: Path) -> list[Path]:
    records = json.loads((folder / "aggregate.json").read_text())
    if not records:
        return []
    axes = axis_names(folder)
    metrics = sorted({k[: -len(".mean")] for k in records[0] if k.endswith(".mean")})
    out: list[Path] = []
    x_axis = axes[0] if axes else "point"
    others = axes[1:]
    for name in metrics:
        series: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        groups: dict[str, list[dict[str, Any]]] = {}
        for record in records:
            label = ", ".join(f"{k} = {record[k]}" for k in others) or name
            groups.setdefault(label, []).append(record)
        x_values: list[Any] = []
        for record in records:
            if record.get(x_axis, record["point"]) not in x_values:
                x_values.append(record.get(x_axis, record["point"]))
        for label, group in groups.items():
            by_x = {r.get(x_axis, r["point"]): r for r in group}
            arrays = [
                np.array([_num(by_x.get(x, {}).get(f"{name}.{part}")) for x in x_values])
                for part in ("mean", "ci_low", "ci_high")
            ]
            series[label] = (arrays[0], arrays[1], arrays[2])
        stem = folder / "figures" / f"sweep_{name.replace('.', '_')}"
        out.extend(sweep_curves(stem, x_axis, x_values, series, name))
    return out


def axis_names(folder: Path) -> list[str]:
    """The sweep's axes, in order (from the stored runs' axis values)."""
    store = Store(folder)
    try:
        first = next(store.rows(), None)
    finally:
        store.close()
    return list(first.axis_values) if first is not None else []


def _num(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else float("nan")


def write_report(folder: Path) -> Path:
    """Draw the figures and write ``folder/report.html``."""
    kind = kind_of(folder)
    paths = [p for p in figures(folder) if p.suffix == ".png"]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>sidemesh {kind} report: {html.escape(folder.name)}</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
        "img{max-width:100%}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}</style></head><body>",
        f"<h1>sidemesh {kind} report: {html.escape(folder.name)}</h1>",
    ]
    for path in paths:
        data = base64.b64encode(path.read_bytes()).decode()
        parts.append(f"<h2>{html.escape(path.stem)}</h2>")
        parts.append(f"<img alt='{html.escape(path.stem)}' src='data:image/png;base64,{data}'>")
    if kind == "run":
        summary = json.loads((folder / "summary.json").read_text())
        info = json.loads((folder / "run.json").read_text())
        parts.append("<h2>Summary</h2>" + _flat_table(summary))
        parts.append(
            "<h2>Spec</h2><pre>" + html.escape(json.dumps(info["spec"], indent=2)) + "</pre>"
        )
        parts.append("<h2>Versions</h2>" + _flat_table(info.get("versions", {})))
    else:
        records = json.loads((folder / "aggregate.json").read_text())
        parts.append("<h2>Aggregate (mean and 95 % CI per point)</h2>" + _records_table(records))
        store = Store(folder)
        try:
            first = next(store.rows(), None)
        finally:
            store.close()
        if first is not None:
            parts.append(
                "<h2>Base spec (point 0)</h2><pre>"
                + html.escape(json.dumps(first.config, indent=2))
                + "</pre>"
            )
            parts.append("<h2>Versions</h2>" + _flat_table(first.versions))
    parts.append("</body></html>")
    path = folder / "report.html"
    write_atomic(path, "\n".join(parts) + "\n")
    return path


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        out: list[tuple[str, Any]] = []
        for key in sorted(value):
            out.extend(_flatten(value[key], f"{prefix}{key}."))
        return out
    return [(prefix.rstrip("."), value)]


def _flat_table(value: Any) -> str:
    rows = "".join(
        f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in _flatten(value)
    )
    return f"<table>{rows}</table>"


def _records_table(records: list[dict[str, Any]]) -> str:
    if not records:
        return "<p>no finished runs</p>"
    keys: list[str] = []
    for record in records:
        keys.extend(k for k in record if k not in keys)
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(r.get(k, '')))}</td>" for k in keys) + "</tr>"
        for r in records
    )
    return f"<table><tr>{head}</tr>{body}</table>"
