"""Load a topology from a CSV file (surveyed or hand-made deployments).

What it models
    Whatever the file says: one node per data row.  The file must have a header line.

    Required columns
        ``x_m``, ``y_m``  finite numbers >= 0, metres; the study area is ``[0, width_m] x
        [0, height_m]`` with the origin at (0, 0), so coordinates are never shifted and negative
        ones are rejected (translate the data before loading).
        ``role``          ``bridge`` or ``endpoint`` (case-insensitive).
    Optional columns
        ``indoor``        true/false/1/0/yes/no (case-insensitive).
        ``place``         house/yard/street/open (case-insensitive).
        An empty cell in an optional column means "use the default" for that row: ``indoor``
        defaults to ``place == house`` when the row has a place, else to ``bridges_indoor`` for
        bridges and false for endpoints; ``place`` defaults to house when indoor, else open.
    Any other column is kept in ``Topology.fields`` under its header name: as float64 when every
    value parses as a number (``float()``, so ``nan``/``inf`` are accepted there), else as a
    numpy string array of the whitespace-stripped cells.

    Known column names (the five above) are matched case-insensitively after stripping spaces; a
    UTF-8 byte-order mark is ignored; completely blank lines are skipped.  Nodes are reordered
    bridges first with a stable sort (file order kept within each role) and
    ``fields["csv_row"]`` (int64) holds each node's 0-based data-row index in the file, so the
    column name ``csv_row`` is reserved.

    The study area is ``width_m = max(x_m)``, ``height_m = max(y_m)`` unless ``width_m`` /
    ``height_m`` are given in :class:`CsvParams` (they must then cover every node).  A zero
    extent (e.g. all nodes on the line y = 0) is an error unless the size is given.

Errors
    :class:`TopologyError` with the file name, the line number where relevant, the column and what
    is allowed: missing/unreadable file, empty file, missing or duplicate column, wrong number of
    fields, bad number, NaN/inf or negative coordinate, unknown role / indoor / place value, no
    data rows.

What it leaves out
    Geographic coordinates (project to metres first), street segments (``streets_m`` is empty),
    units other than metres, comment lines.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import ClassVar, Final

import numpy as np

from topologies.base import (
    PLACE_HOUSE,
    PLACE_NAMES,
    PLACE_OPEN,
    ROLE_BRIDGE,
    ROLE_ENDPOINT,
    Topology,
    TopologyError,
    check_bool,
    check_float,
    meta,
)

__all__ = (
    "REQUIRED_COLUMNS",
    "CsvParams",
    "load",
)

REQUIRED_COLUMNS: Final[tuple[str, ...]] = ("x_m", "y_m", "role")
_OPTIONAL_COLUMNS: Final[tuple[str, ...]] = ("indoor", "place")
_RESERVED: Final[str] = "csv_row"
_ROLES: Final[Mapping[str, int]] = MappingProxyType(
    {"bridge": ROLE_BRIDGE, "endpoint": ROLE_ENDPOINT}
)
_PLACES: Final[Mapping[str, int]] = MappingProxyType(
    {name: code for code, name in PLACE_NAMES.items()}
)
_TRUE: Final[frozenset[str]] = frozenset({"true", "1", "yes"})
_FALSE: Final[frozenset[str]] = frozenset({"false", "0", "no"})


@dataclass(frozen=True)
class CsvParams:
    """Parameters of the CSV loader."""

    name: ClassVar[str] = "csv"

    path: str = field(default="", metadata=meta("CSV file with columns x_m, y_m, role[, ...]"))
    bridges_indoor: bool = field(
        default=True,
        metadata=meta("bridges are indoor when the row gives neither indoor nor place"),
    )
    width_m: float | None = field(
        default=None, metadata=meta("study-area width; default: the largest x_m", "m")
    )
    height_m: float | None = field(
        default=None, metadata=meta("study-area height; default: the largest y_m", "m")
    )

    def __post_init__(self) -> None:
        if isinstance(self.path, os.PathLike):
            object.__setattr__(self, "path", os.fspath(self.path))
        if not isinstance(self.path, str):
            raise TopologyError(f"path must be a file path string, got {self.path!r}")
        check_bool("bridges_indoor", self.bridges_indoor)
        for name in ("width_m", "height_m"):
            if getattr(self, name) is not None:
                check_float(name, getattr(self, name), minimum=0.0, strict_minimum=True)


def _parse_coordinate(where: str, column: str, text: str) -> float:
    allowed = "expected a finite number >= 0 (metres from the origin)"
    try:
        value = float(text)
    except ValueError:
        raise TopologyError(
            f"{where}: column {column!r}: {text!r} is not a number; {allowed}"
        ) from None
    if not math.isfinite(value):
        raise TopologyError(f"{where}: column {column!r}: {text!r} is not finite; {allowed}")
    if value < 0.0:
        raise TopologyError(
            f"{where}: column {column!r}: {text!r} is negative; {allowed} "
            "(translate the data so the study area starts at (0, 0))"
        )
    return value


def _parse_choice(where: str, column: str, text: str, choices: Mapping[str, int]) -> int:
    key = text.lower()
    if key not in choices:
        allowed = ", ".join(choices)
        raise TopologyError(
            f"{where}: column {column!r}: unknown value {text!r}; allowed: {allowed}"
        )
    return choices[key]


def _parse_bool(where: str, column: str, text: str) -> bool:
    key = text.lower()
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    raise TopologyError(
        f"{where}: column {column!r}: {text!r} is not a boolean; "
        "allowed: true, false, 1, 0, yes, no"
    )


#: Columns that hold names, kept as text even when every value looks like a number.
TEXT_COLUMNS: frozenset[str] = frozenset({"class", "name", "id"})


def _extra_column(name: str, values: list[str]) -> np.ndarray:
    if name.lower() in TEXT_COLUMNS:
        return np.array([v.strip() for v in values], dtype=str)
    try:
        return np.array([float(v) for v in values], dtype=np.float64)
    except ValueError:
        return np.array(values, dtype=str)


def _read_rows(path: str) -> tuple[list[str], int, list[tuple[int, list[str]]]]:
    """Return the header, its line number and the (line number, cells) of each data row."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            header: list[str] | None = None
            header_line = 0
            rows: list[tuple[int, list[str]]] = []
            try:
                for cells in reader:
                    if not cells or (len(cells) == 1 and not cells[0].strip()):
                        continue  # blank line
                    if header is None:
                        header, header_line = [c.strip() for c in cells], reader.line_num
                    else:
                        rows.append((reader.line_num, cells))
            except csv.Error as exc:
                raise TopologyError(f"{path}:{reader.line_num}: malformed CSV: {exc}") from None
    except FileNotFoundError:
        raise TopologyError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TopologyError(f"{path}: cannot read file: {exc}") from None
    if header is None:
        raise TopologyError(
            f"{path}: file is empty; expected a header line with columns "
            + ", ".join(REQUIRED_COLUMNS)
        )
    if not rows:
        raise TopologyError(f"{path}: no data rows after the header (line {header_line})")
    return header, header_line, rows


def load(params: CsvParams, rng: np.random.Generator | None = None) -> Topology:
    """Read ``params.path`` into a :class:`Topology` (bridges first; ``rng`` is ignored)."""
    del rng
    path = params.path
    if not path:
        raise TopologyError("path is empty; set path to a CSV file with columns x_m, y_m, role")
    header, header_line, rows = _read_rows(path)
    header_where = f"{path}:{header_line}"

    # Map column names to indices; known names are case-insensitive.
    known: dict[str, int] = {}
    extra: dict[str, int] = {}
    for i, raw in enumerate(header):
        if not raw:
            raise TopologyError(f"{header_where}: column {i + 1} of the header has no name")
        key = raw.lower()
        if key in REQUIRED_COLUMNS or key in _OPTIONAL_COLUMNS:
            if key in known:
                raise TopologyError(f"{header_where}: duplicate column {raw!r}")
            known[key] = i
        elif raw == _RESERVED:
            raise TopologyError(
                f"{header_where}: column name {_RESERVED!r} is reserved (the loader adds it)"
            )
        elif raw in extra:
            raise TopologyError(f"{header_where}: duplicate column {raw!r}")
        else:
            extra[raw] = i
    missing = [c for c in REQUIRED_COLUMNS if c not in known]
    if missing:
        raise TopologyError(
            f"{header_where}: missing required column {missing[0]!r} "
            f"(required: {', '.join(REQUIRED_COLUMNS)}; header has: {', '.join(header)})"
        )

    n = len(rows)
    xy = np.empty((n, 2), dtype=np.float64)
    roles = np.empty(n, dtype=np.int8)
    indoor = np.empty(n, dtype=bool)
    places = np.empty(n, dtype=np.int8)
    extra_values: dict[str, list[str]] = {name: [] for name in extra}
    i_place, i_indoor = known.get("place"), known.get("indoor")
    for r, (line, cells) in enumerate(rows):
        where = f"{path}:{line}"
        if len(cells) != len(header):
            raise TopologyError(
                f"{where}: expected {len(header)} fields as in the header, got {len(cells)}"
            )
        cells = [c.strip() for c in cells]
        xy[r, 0] = _parse_coordinate(where, header[known["x_m"]], cells[known["x_m"]])
        xy[r, 1] = _parse_coordinate(where, header[known["y_m"]], cells[known["y_m"]])
        roles[r] = _parse_choice(where, header[known["role"]], cells[known["role"]], _ROLES)
        place = None
        if i_place is not None and cells[i_place]:
            place = _parse_choice(where, header[i_place], cells[i_place], _PLACES)
        if i_indoor is not None and cells[i_indoor]:
            inside = _parse_bool(where, header[i_indoor], cells[i_indoor])
        elif place is not None:
            inside = place == PLACE_HOUSE
        else:
            inside = bool(params.bridges_indoor and roles[r] == ROLE_BRIDGE)
        indoor[r] = inside
        places[r] = place if place is not None else (PLACE_HOUSE if inside else PLACE_OPEN)
        for name, i in extra.items():
            extra_values[name].append(cells[i])

    size: list[float] = []
    for axis, (name, col) in enumerate((("width_m", "x_m"), ("height_m", "y_m"))):
        given = getattr(params, name)
        largest = float(xy[:, axis].max())
        if given is None:
            if largest <= 0.0:
                raise TopologyError(
                    f"{path}: every {col} is 0, so the study area has zero {name[:-2]}; "
                    f"set {name} in the parameters"
                )
            size.append(largest)
        else:
            if largest > float(given):
                r = int(np.argmax(xy[:, axis]))
                raise TopologyError(
                    f"{path}:{rows[r][0]}: column {col!r}: {largest!r} exceeds {name}={given!r}; "
                    f"every {col} must be <= {name}"
                )
            size.append(float(given))

    order = np.argsort(roles, kind="stable")
    fields = {name: _extra_column(name, values)[order] for name, values in extra_values.items()}
    fields[_RESERVED] = order.astype(np.int64)
    return Topology(
        positions_m=xy[order],
        roles=roles[order],
        indoor=indoor[order],
        places=places[order],
        width_m=size[0],
        height_m=size[1],
        fields=fields,
    )
