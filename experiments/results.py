"""Reading a sweep's results store: flat tables for export and analysis.

``table(folder)`` gives one row per stored run: point, replication, seed, status, config hash,
wall time, each axis value and each collected metric (metrics also keep their dotted names).
``export`` writes it as CSV or Parquet (Parquet needs ``pyarrow``); ``dataframe`` returns it as a
pandas DataFrame when pandas is installed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from experiments.runner import write_atomic
from experiments.store import Store

FORMATS = ("csv", "parquet")


class ExportError(Exception):
    """A format whose library is missing."""


def table(folder: str | Path) -> list[dict[str, Any]]:
    """One dict per stored run, in (point, replication) order."""
    store = Store(Path(folder))
    try:
        out: list[dict[str, Any]] = []
        for row in store.rows():
            record: dict[str, Any] = {
                "point": row.point,
                "replication": row.replication,
                "seed": row.seed,
                "status": row.status,
                "config_hash": row.config_hash,
                "wall_time_s": row.wall_time_s,
            }
            record.update(row.axis_values)
            record.update(row.metrics)
            out.append(record)
        return out
    finally:
        store.close()


def _columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    keys: list[str] = []
    for row in rows:
        keys.extend(k for k in row if k not in keys)
    return keys


def csv_text(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows as CSV: the union of their keys as columns, None as an empty cell."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=_columns(rows), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buffer.getvalue()


def export(folder: str | Path, fmt: str, out: str | Path) -> int:
    """Write the runs of ``folder`` to ``out`` as ``fmt``; return the number of rows."""
    rows = table(folder)
    out = Path(out)
    if fmt == "csv":
        write_atomic(out, csv_text(rows))
        return len(rows)
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ExportError("--format parquet needs pyarrow: pip install pyarrow") from None
    columns = _columns(rows)
    arrays = {k: [row.get(k) for row in rows] for k in columns}
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        pq.write_table(pa.table(arrays), tmp)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return len(rows)


def dataframe(folder: str | Path) -> Any:
    """The runs of ``folder`` as a pandas DataFrame (pandas must be installed)."""
    try:
        import pandas as pd
    except ImportError:
        raise ExportError("dataframe() needs pandas: pip install pandas") from None
    rows = table(folder)
    return pd.DataFrame(rows, columns=_columns(rows))
