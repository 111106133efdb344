"""Aggregation of a sweep: per sweep point, the mean of every collected metric across its
replications and a 95 % confidence interval of that mean.

The interval is Student's t: ``mean +- t(0.975, n - 1) * s / sqrt(n)`` with ``s`` the sample
standard deviation of the ``n`` replications that have the metric (Student 1908; e.g.
Montgomery & Runger, "Applied Statistics and Probability for Engineers", 8.2). It covers the
true mean in 95 % of sweeps when replications are independent and roughly normal (the tests
check the rate on a known distribution). With one replication there is no interval.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from experiments.store import Row


def mean_ci(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high) of ``values``; the interval is NaN for fewer than two values."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if x.size < 2:
        return mean, math.nan, math.nan
    from scipy.stats import t as student_t  # here: scipy.stats costs 0.7 s to import

    half = (
        float(student_t.ppf(0.5 + level / 2, x.size - 1)) * float(x.std(ddof=1)) / math.sqrt(x.size)
    )
    return mean, mean - half, mean + half


def aggregate(rows: Iterable[Row], metrics: Sequence[str]) -> list[dict[str, Any]]:
    """One record per sweep point: its axis values, replications and, per metric, ``n``,
    ``mean``, ``ci_low``, ``ci_high``."""
    by_point: dict[int, list[Row]] = {}
    for row in rows:
        if row.status == "done":
            by_point.setdefault(row.point, []).append(row)
    out: list[dict[str, Any]] = []
    for point in sorted(by_point):
        group = by_point[point]
        record: dict[str, Any] = {
            "point": point,
            **group[0].axis_values,
            "replications": len(group),
        }
        for name in metrics:
            values = [r.metrics.get(name) for r in group]
            present = [float(v) for v in values if v is not None]
            mean, low, high = mean_ci(present)
            record[f"{name}.n"] = len(present)
            record[f"{name}.mean"] = _clean(mean)
            record[f"{name}.ci_low"] = _clean(low)
            record[f"{name}.ci_high"] = _clean(high)
        out.append(record)
    return out


def _clean(value: float) -> float | None:
    return None if math.isnan(value) else float(f"{value:.10g}")
