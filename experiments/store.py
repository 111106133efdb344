"""The results store of a sweep: one SQLite database in the output folder.

One row per (sweep point, replication): the axis values, seed, the resolved scenario tables and
their hash, the collected metrics, the whole ``summary.json``, the versions, the wall time and a
status. Each finished run is committed in its own transaction (SQLite's atomic commit, with the
write-ahead log), so a sweep that is interrupted or killed loses no finished run, and a resumed
sweep skips them. The sweep's own digest is kept beside the rows: resuming a different sweep into
the same folder is refused.

Source: SQLite, "Atomic Commit In SQLite" and "Write-Ahead Logging" (sqlite.org).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DB_NAME = "results.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    point INTEGER NOT NULL,
    replication INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    axis_values TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    config TEXT NOT NULL,
    metrics TEXT NOT NULL,
    summary TEXT NOT NULL,
    versions TEXT NOT NULL,
    wall_time_s REAL NOT NULL,
    status TEXT NOT NULL,
    PRIMARY KEY (point, replication)
);
"""


class StoreError(Exception):
    """The folder holds another sweep's results, or no results at all."""


@dataclass(frozen=True)
class Row:
    point: int
    replication: int
    seed: int
    axis_values: dict[str, Any]
    config_hash: str
    config: dict[str, Any]
    metrics: dict[str, float | None]
    summary: dict[str, Any]
    versions: dict[str, str]
    wall_time_s: float
    status: str


class Store:
    def __init__(self, folder: Path, sweep_digest: str | None = None) -> None:
        """Open (creating with ``sweep_digest``) the store of ``folder``. With a digest, an
        existing store must hold the same sweep; without, the store must exist (reading)."""
        path = folder / DB_NAME
        if sweep_digest is None and not path.is_file():
            raise StoreError(f"{folder}: no {DB_NAME} here (not a sweep output folder)")
        folder.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)  # explicit transactions
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        row = self._db.execute("SELECT value FROM meta WHERE key = 'sweep_digest'").fetchone()
        if sweep_digest is not None:
            if row is None:
                self._db.execute("INSERT INTO meta VALUES ('sweep_digest', ?)", (sweep_digest,))
            elif row[0] != sweep_digest:
                self._db.close()
                raise StoreError(
                    f"{folder}: holds the results of another sweep (its base, axes or seeds "
                    "differ); use a new --out folder"
                )

    def close(self) -> None:
        self._db.close()

    def done(self) -> set[tuple[int, int]]:
        """(point, replication) of every finished run."""
        rows = self._db.execute("SELECT point, replication FROM runs WHERE status = 'done'")
        return {(int(p), int(r)) for p, r in rows}

    def put(self, row: Row) -> None:
        """Store one finished run, atomically."""
        values = (
            row.point,
            row.replication,
            row.seed,
            json.dumps(row.axis_values, default=str),  # in the sweep's axis order
            row.config_hash,
            _json(row.config),
            _json(row.metrics),
            _json(row.summary),
            _json(row.versions),
            row.wall_time_s,
            row.status,
        )
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute(
                "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", values
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def rows(self) -> Iterator[Row]:
        """Every stored run, ordered by point and replication."""
        cursor = self._db.execute("SELECT * FROM runs ORDER BY point, replication")
        for r in cursor:
            yield Row(
                point=int(r[0]),
                replication=int(r[1]),
                seed=int(r[2]),
                axis_values=json.loads(r[3]),
                config_hash=r[4],
                config=json.loads(r[5]),
                metrics=json.loads(r[6]),
                summary=json.loads(r[7]),
                versions=json.loads(r[8]),
                wall_time_s=float(r[9]),
                status=r[10],
            )


def _json(value: Mapping[str, Any] | Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
