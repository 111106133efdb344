"""Tests of the CSV topology loader (topologies.csv_loader)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from topologies.base import (
    PLACE_HOUSE,
    PLACE_OPEN,
    PLACE_STREET,
    PLACE_YARD,
    ROLE_BRIDGE,
    ROLE_ENDPOINT,
    TopologyError,
)
from topologies.csv_loader import CsvParams, load


def _write(tmp_path: Path, text: str, name: str = "nodes.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


HAPPY = """\
x_m, y_m, Role, indoor, place, label, power_dbm
10, 20, endpoint, , yard, e-a, 3
30.5, 40, BRIDGE, , , b-a, 20
0, 0, Endpoint, yes, , e-b, 0
100, 5, bridge, no, street, b-b, 14.5

70, 80, endpoint, false, house, e-c, -1e1
"""


def test_happy_path(tmp_path: Path) -> None:
    t = load(CsvParams(path=_write(tmp_path, HAPPY)))
    assert (t.n_bridges, t.n_endpoints) == (2, 3)
    # stable reorder: bridges in file order, then endpoints in file order
    np.testing.assert_array_equal(t.fields["csv_row"], [1, 3, 0, 2, 4])
    assert t.fields["csv_row"].dtype == np.int64
    np.testing.assert_array_equal(t.positions_m, [[30.5, 40], [100, 5], [10, 20], [0, 0], [70, 80]])
    np.testing.assert_array_equal(t.roles, [ROLE_BRIDGE] * 2 + [ROLE_ENDPOINT] * 3)
    # indoor: default for bridge (bridges_indoor), explicit no, place yard -> outdoor,
    # explicit yes, explicit false overrides place house
    np.testing.assert_array_equal(t.indoor, [True, False, False, True, False])
    np.testing.assert_array_equal(
        t.places, [PLACE_HOUSE, PLACE_STREET, PLACE_YARD, PLACE_HOUSE, PLACE_HOUSE]
    )
    assert (t.width_m, t.height_m) == (100.0, 80.0)
    assert t.fields["label"].tolist() == ["b-a", "b-b", "e-a", "e-b", "e-c"]
    assert t.fields["label"].dtype.kind == "U"
    assert t.fields["power_dbm"].dtype == np.float64
    np.testing.assert_array_equal(t.fields["power_dbm"], [20, 14.5, 3, 0, -10])
    assert set(t.fields) == {"label", "power_dbm", "csv_row"}
    assert not t.fields["label"].flags.writeable
    assert t.streets_m.shape == (0, 4)


def test_minimal_columns_defaults_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffX_M,y_m,role\n1,2,bridge\n3,4,endpoint\n".encode())
    t = load(CsvParams(path=str(path), bridges_indoor=False), np.random.default_rng(0))
    assert not t.indoor.any()
    assert (t.places == PLACE_OPEN).all()
    assert t.fields.keys() == {"csv_row"}
    t = load(CsvParams(path=str(path)))
    np.testing.assert_array_equal(t.indoor, [True, False])
    np.testing.assert_array_equal(t.places, [PLACE_HOUSE, PLACE_OPEN])


def test_mixed_numeric_column_kept_as_strings(tmp_path: Path) -> None:
    path = _write(tmp_path, "x_m,y_m,role,note\n1,1,bridge,5\n2,2,endpoint,\n")
    t = load(CsvParams(path=path))
    assert t.fields["note"].tolist() == ["5", ""]


def test_explicit_area_size(tmp_path: Path) -> None:
    path = _write(tmp_path, "x_m,y_m,role\n0,0,bridge\n50,0,endpoint\n")
    t = load(CsvParams(path=path, width_m=100.0, height_m=20.0))
    assert (t.width_m, t.height_m) == (100.0, 20.0)
    with pytest.raises(TopologyError, match=r"every y_m is 0.*set height_m"):
        load(CsvParams(path=path))
    with pytest.raises(
        TopologyError, match=r"nodes\.csv:3: column 'x_m': 50\.0 exceeds width_m=40"
    ):
        load(CsvParams(path=path, width_m=40.0))


def test_path_like_accepted(tmp_path: Path) -> None:
    path = Path(_write(tmp_path, "x_m,y_m,role\n1,1,bridge\n"))
    assert load(CsvParams(path=path)).n_bridges == 1  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"nodes\.csv: file is empty; expected a header line with columns x_m, y_m, role"),
        ("\n\n", r"nodes\.csv: file is empty"),
        ("x_m,y_m,role\n", r"nodes\.csv: no data rows after the header \(line 1\)"),
        (
            "x_m,role\n1,bridge\n",
            r"nodes\.csv:1: missing required column 'y_m' \(required: x_m, y_m, role; "
            r"header has: x_m, role\)",
        ),
        (
            "x_m,y_m,role\n1,2,bridge\n1,abc,endpoint\n",
            r"nodes\.csv:3: column 'y_m': 'abc' is not a number; expected a finite number >= 0",
        ),
        ("x_m,y_m,role\n1,2,bridge\n1,,endpoint\n", r"nodes\.csv:3: column 'y_m': '' is not"),
        ("x_m,y_m,role\nnan,2,bridge\n", r"nodes\.csv:2: column 'x_m': 'nan' is not finite"),
        ("x_m,y_m,role\n1,-inf,bridge\n", r"nodes\.csv:2: column 'y_m': '-inf' is not finite"),
        ("x_m,y_m,role\n-1,2,bridge\n", r"nodes\.csv:2: column 'x_m': '-1' is negative; expected"),
        (
            "x_m,y_m,role\n\n1,2,gateway\n",
            r"nodes\.csv:3: column 'role': unknown value 'gateway'; allowed: bridge, endpoint",
        ),
        (
            "x_m,y_m,role,indoor\n1,2,bridge,maybe\n",
            r"nodes\.csv:2: column 'indoor': 'maybe' is not a boolean; allowed: true, false",
        ),
        (
            "x_m,y_m,role,place\n1,2,bridge,garage\n",
            r"nodes\.csv:2: column 'place': unknown value 'garage'; allowed: house, yard, street, "
            "open",
        ),
        (
            "x_m,y_m,role\n1,2,bridge,extra\n",
            r"nodes\.csv:2: expected 3 fields as in the header, got 4",
        ),
        ("x_m,y_m,role,X_M\n1,2,bridge,3\n", r"nodes\.csv:1: duplicate column 'X_M'"),
        ("x_m,y_m,role,a,a\n1,2,bridge,3,4\n", r"nodes\.csv:1: duplicate column 'a'"),
        ("x_m,y_m,role,\n1,2,bridge,3\n", r"nodes\.csv:1: column 4 of the header has no name"),
        (
            "x_m,y_m,role,csv_row\n1,2,bridge,0\n",
            r"nodes\.csv:1: column name 'csv_row' is reserved",
        ),
    ],
)
def test_file_errors(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(TopologyError, match=message):
        load(CsvParams(path=path))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TopologyError, match=r"missing\.csv: file not found"):
        load(CsvParams(path=str(tmp_path / "missing.csv")))


def test_unreadable_path(tmp_path: Path) -> None:
    with pytest.raises(TopologyError, match="cannot read file"):
        load(CsvParams(path=str(tmp_path)))  # a directory


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(b"x_m,y_m,role,name\n1,2,bridge,caf\xe9\n")
    with pytest.raises(TopologyError, match=r"latin\.csv: cannot read file"):
        load(CsvParams(path=str(path)))


def test_empty_path() -> None:
    with pytest.raises(TopologyError, match="path is empty; set path to a CSV file"):
        load(CsvParams())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"path": 3}, "path must be a file path string, got 3"),
        ({"bridges_indoor": "true"}, "bridges_indoor must be true or false"),
        ({"width_m": 0.0}, "width_m must be a finite number > 0, got 0.0"),
        ({"height_m": -2}, "height_m must be a finite number > 0, got -2"),
    ],
)
def test_params_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(TopologyError, match=message):
        CsvParams(**kwargs)  # type: ignore[arg-type]


def test_class_column_stays_text_even_when_numeric(tmp_path) -> None:
    from topologies.csv_loader import CsvParams, load

    path = tmp_path / "t.csv"
    path.write_text("x_m,y_m,role,class\n0,0,bridge,\n1,1,endpoint,1\n2,2,endpoint,2\n")
    topo = load(CsvParams(path=str(path)))
    assert list(topo.fields["class"][topo.endpoint_ids]) == ["1", "2"]
