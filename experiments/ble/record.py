"""Recording RSSI per device to CSV (``sidemesh ble record``): the input of a calibration.

What it does
    Subscribes to the shared :class:`experiments.ble.scanner.Scanner` and keeps one row per
    advertisement: ``time_s`` (seconds since scanning started), ``epoch_s`` (Unix time of the
    report, UTC seconds: tells appended runs apart), ``address``, ``name``,
    ``rssi_dbm``, ``tx_power_dbm`` (the advertised TX Power Level, empty when not advertised)
    and ``distance_m`` (given per device with ``--distance ADDR=12.5``, empty otherwise). A
    walk-away test records the same device at several distances, one ``--append`` run per
    distance, into one file that ``sidemesh ble calibrate`` fits.

Sources: bleak ``AdvertisementData.rssi`` / ``tx_power`` (through ``experiments.ble.adverts``).

Leaves out: RSSI of connections and channel of each report (bleak does not give it).
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from experiments.ble.adverts import Advertisement

COLUMNS = ("time_s", "epoch_s", "address", "name", "rssi_dbm", "tx_power_dbm", "distance_m")


@dataclass(frozen=True)
class RssiRow:
    time_s: float
    address: str
    name: str
    rssi_dbm: int
    tx_power_dbm: int | None
    distance_m: float | None
    epoch_s: float = math.nan  # Unix time of the report (NaN: unknown)


def parse_distances(items: tuple[str, ...] | list[str]) -> dict[str, float]:
    """``["AA:BB:..=12.5", ...]`` -> ``{"AA:BB:..": 12.5}``; ValueError names the bad item."""
    out: dict[str, float] = {}
    for item in items:
        address, sep, value = item.rpartition("=")
        try:
            distance = float(value)
        except ValueError:
            distance = math.nan
        if not sep or not address.strip() or not (math.isfinite(distance) and distance > 0):
            raise ValueError(
                f"--distance {item}: expected ADDRESS=METRES with METRES > 0, e.g. "
                "AA:BB:CC:DD:EE:FF=12.5"
            )
        out[address.strip().upper()] = distance
    return out


class Recorder:
    """Rows of the advertisements of ``only`` (every device when None)."""

    def __init__(
        self,
        distances: Mapping[str, float] | None = None,
        only: set[str] | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.distances = {k.upper(): v for k, v in (distances or {}).items()}
        self.only = {a.upper() for a in only} if only is not None else None
        self.wall_clock = wall_clock
        self.rows: list[RssiRow] = []

    def __call__(self, adv: Advertisement) -> None:
        if self.only is not None and adv.address not in self.only:
            return
        self.rows.append(
            RssiRow(
                time_s=adv.time_s,
                address=adv.address,
                name=adv.name or "",
                rssi_dbm=adv.rssi_dbm,
                tx_power_dbm=adv.tx_power_dbm,
                distance_m=self.distances.get(adv.address),
                epoch_s=self.wall_clock(),
            )
        )


def csv_text(rows: list[RssiRow], header: bool = True) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header:
        writer.writerow(COLUMNS)
    for r in rows:
        writer.writerow(
            (
                f"{r.time_s:.3f}",
                f"{r.epoch_s:.3f}" if math.isfinite(r.epoch_s) else "",
                r.address,
                r.name,
                r.rssi_dbm,
                "" if r.tx_power_dbm is None else r.tx_power_dbm,
                "" if r.distance_m is None else f"{r.distance_m:g}",
            )
        )
    return buffer.getvalue()


def merged_text(path: Path, rows: list[RssiRow], append: bool) -> str:
    """The file's new content: ``rows`` alone, or after the existing rows (``append``; the
    existing header must be this module's)."""
    if not append or not path.exists():
        return csv_text(rows)
    old = path.read_text(encoding="utf-8")
    first = old.splitlines()[0] if old.strip() else ""
    if tuple(first.split(",")) != COLUMNS:
        raise ValueError(
            f"{path}: --append needs a file written by `sidemesh ble record` (header "
            f"{','.join(COLUMNS)}), got {first!r}"
        )
    if not old.endswith("\n"):
        old += "\n"
    return old + csv_text(rows, header=False)
