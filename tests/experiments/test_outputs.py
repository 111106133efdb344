"""The result folder of ``sidemesh run --out DIR``: exactly six files, summary.json that is a pure
function of spec and seed, run.json records, CSV tables consistent with the summary, and writes
that are atomic (into a new folder, over an existing one, and when writing fails)."""

from __future__ import annotations

import csv
import json
import os
import stat
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import experiments
from experiments import runner
from experiments.cli import main
from mesh.records import DROP_REASONS, FATE_NAMES

SPEC = """\
[scenario]
name = "outputs"
duration_s = 900
seed = 2
[topology]
kind = "random"
width_m = 600
height_m = 600
bridges = 2
endpoints = 16
[propagation]
model = "log_distance"
[endpoint]
traffic = "poisson"
[[endpoint_class]]
name = "lora_fast"
share = 0.5
link = "lora"
interval_s = 20
lora = { sf = 7, channels = 1 }
[[endpoint_class]]
name = "ble_tag"
share = 0.5
link = "ble"
interval_s = 60
tx_power_dbm = 4
battery = "CR2032"
"""

FILES = [
    "bridges.csv",
    "downlinks.csv",
    "endpoints.csv",
    "packets.csv",
    "run.json",
    "summary.json",
]


def invoke(args: Sequence[str]) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def spec_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("spec") / "outputs.toml"
    path.write_text(SPEC, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def out(spec_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("results") / "run1"
    result = invoke(["run", str(spec_path), "--quiet", "--out", str(folder)])
    assert result.exit_code == 0, result.output
    return folder


@pytest.fixture(scope="module")
def summary(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "summary.json").read_text())
    return data


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def all_keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from all_keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from all_keys(item)


def test_out_holds_exactly_the_six_files(out: Path) -> None:
    assert sorted(p.name for p in out.iterdir()) == FILES
    assert sorted(p.name for p in out.parent.iterdir()) == ["run1"]  # no leftover temp folder


def test_summary_keys(summary: dict[str, Any]) -> None:
    for key in ("pdr", "endpoint_coverage", "area_coverage", "latency_s", "energy", "packets"):
        assert key in summary
    assert set(summary["latency_s"]) >= {"mean", "p50", "p95", "p99"}
    assert set(summary["energy"]) >= {"per_endpoint_mean_j", "battery_life_days"}
    assert set(summary["packets"]) >= {"generated", "delivered", "dropped"}
    assert set(summary["packets"]["dropped"]) == set(DROP_REASONS)
    assert 0 <= summary["pdr"] <= 1 and 0 <= summary["endpoint_coverage"] <= 1
    assert 0 <= summary["area_coverage"] <= 1
    assert summary["latency_s"]["p50"] <= summary["latency_s"]["p95"] <= summary["latency_s"]["p99"]
    assert summary["energy"]["per_endpoint_mean_j"] > 0
    assert summary["energy"]["battery_life_days"] > 0
    packets = summary["packets"]
    assert packets["generated"] == packets["delivered"] + sum(packets["dropped"].values())
    assert set(summary["by_class"]) == {"lora_fast", "ble_tag"}
    assert set(summary["by_link"]) == {"ble", "lora"}
    assert summary["nodes"] == {"bridges": 2, "endpoints": 16}


def test_summary_has_no_wall_clock_or_host_fields(out: Path, summary: dict[str, Any]) -> None:
    keys = set(all_keys(summary))
    for banned in ("wall_time_s", "command", "versions", "platform", "host", "hostname", "date"):
        assert banned not in keys
    assert not any("wall" in k or "time_utc" in k for k in keys)
    text = (out / "summary.json").read_text()
    assert os.uname().nodename not in text
    assert str(out) not in text


def test_summary_is_byte_identical_for_same_spec_and_seed(
    out: Path, spec_path: Path, tmp_path: Path
) -> None:
    again = tmp_path / "again"
    assert invoke(["run", str(spec_path), "--quiet", "--out", str(again)]).exit_code == 0
    assert (again / "summary.json").read_bytes() == (out / "summary.json").read_bytes()
    assert (again / "packets.csv").read_bytes() == (out / "packets.csv").read_bytes()
    assert (again / "endpoints.csv").read_bytes() == (out / "endpoints.csv").read_bytes()
    other = tmp_path / "other"
    assert invoke(["run", str(spec_path), "-q", "--seed", "3", "--out", str(other)]).exit_code == 0
    assert (other / "summary.json").read_bytes() != (out / "summary.json").read_bytes()
    assert json.loads((other / "summary.json").read_text())["seed"] == 3


def test_json_flag_prints_summary_json(out: Path, spec_path: Path) -> None:
    result = invoke(["run", str(spec_path), "--quiet", "--json"])
    assert result.exit_code == 0
    assert result.stdout == (out / "summary.json").read_text()
    assert result.stderr == ""


def test_run_json_records_versions_wall_time_and_command(out: Path, spec_path: Path) -> None:
    info = json.loads((out / "run.json").read_text())
    assert set(info["versions"]) >= {"python", "sidemesh", "simpy", "numpy", "scipy", "click"}
    assert isinstance(info["wall_time_s"], float) and info["wall_time_s"] >= 0
    assert info["command"] == ["sidemesh", "run", str(spec_path), "--quiet", "--out", str(out)]
    assert info["spec_source"] == str(spec_path)
    assert info["seed"] == 2
    assert info["spec"]["scenario"] == {"name": "outputs", "duration_s": 900, "seed": 2}


def test_packets_csv_one_row_per_packet_fates_match_summary(
    out: Path, summary: dict[str, Any]
) -> None:
    rows = read_csv(out / "packets.csv")
    assert list(rows[0]) == [
        "packet",
        "endpoint",
        "class",
        "link",
        "generated_s",
        "delivered_s",
        "latency_s",
        "mac_wait_s",
        "retries_s",
        "airtime_s",
        "backhaul_s",
        "fate",
        "transmissions",
        "fragments",
        "server_copies",
        "hops",
    ]
    packets = summary["packets"]
    assert len(rows) == packets["generated"] > 0
    assert [int(r["packet"]) for r in rows] == list(range(len(rows)))
    fates = Counter(r["fate"] for r in rows)
    assert set(fates) <= set(FATE_NAMES) - {"pending"}
    assert fates["delivered"] == packets["delivered"]
    for reason in DROP_REASONS:
        assert fates[reason] == packets["dropped"][reason], reason
    assert sum(int(r["transmissions"]) for r in rows) == packets["transmissions"]
    for r in rows:
        if r["fate"] == "delivered":
            assert float(r["latency_s"]) >= 0
        else:
            assert r["delivered_s"] == "" and r["latency_s"] == ""
    for name, entry in summary["by_class"].items():
        mine = [r for r in rows if r["class"] == name]
        assert len(mine) == entry["generated"]
        assert sum(r["fate"] == "delivered" for r in mine) == entry["delivered"]
        assert {r["link"] for r in mine} == {entry["link"]}


def test_endpoints_csv_one_row_per_endpoint(out: Path, summary: dict[str, Any]) -> None:
    rows = read_csv(out / "endpoints.csv")
    assert len(rows) == summary["nodes"]["endpoints"] == 16
    assert len({r["node"] for r in rows}) == 16
    for column in ("node", "class", "link", "generated", "delivered", "pdr", "energy_j"):
        assert column in rows[0]
    assert "battery_life_days" in rows[0]
    assert sum(int(r["generated"]) for r in rows) == summary["packets"]["generated"]
    assert sum(int(r["delivered"]) for r in rows) == summary["packets"]["delivered"]
    assert Counter(r["class"] for r in rows) == {"lora_fast": 8, "ble_tag": 8}
    mean_energy = sum(float(r["energy_j"]) for r in rows) / len(rows)
    assert mean_energy == pytest.approx(summary["energy"]["per_endpoint_mean_j"], rel=1e-9)


def test_files_get_ordinary_permissions(out: Path, spec_path: Path) -> None:
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~mask
    for name in FILES:
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o666 & ~mask, name


def test_writing_into_an_existing_folder_replaces_the_files(
    spec_path: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "existing"
    folder.mkdir()
    for name in FILES:
        (folder / name).write_text("stale\n")
    (folder / "notes.txt").write_text("mine\n")
    old_inode = (folder / "summary.json").stat().st_ino
    reader = (folder / "packets.csv").open()  # a reader of the old file keeps the old content
    try:
        result = invoke(["run", str(spec_path), "--quiet", "--out", str(folder)])
        assert result.exit_code == 0, result.output
        assert reader.read() == "stale\n"
    finally:
        reader.close()
    assert sorted(p.name for p in folder.iterdir()) == sorted([*FILES, "notes.txt"])
    for name in FILES:
        assert (folder / name).read_text() != "stale\n"
    assert (folder / "summary.json").stat().st_ino != old_inode  # renamed in, not rewritten
    assert (folder / "notes.txt").read_text() == "mine\n"
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE((folder / "summary.json").stat().st_mode) == 0o666 & ~mask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing"]


def test_out_folder_parents_are_created(spec_path: Path, tmp_path: Path) -> None:
    folder = tmp_path / "a" / "b" / "c"
    assert invoke(["run", str(spec_path), "-q", "--out", str(folder)]).exit_code == 0
    assert sorted(p.name for p in folder.iterdir()) == FILES
    assert [p.name for p in (tmp_path / "a" / "b").iterdir()] == ["c"]


def test_failed_write_leaves_nothing(
    spec_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace = os.replace

    def broken_replace(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(runner.os, "replace", broken_replace)
    folder = tmp_path / "new" / "deeper" / "out"
    result = invoke(["run", str(spec_path), "-q", "--out", str(folder)])
    assert result.exit_code == 2
    assert result.stderr == f"error: --out {folder}: cannot write (No space left on device)\n"
    assert list(tmp_path.iterdir()) == []  # neither the folder, its parents nor a temp folder

    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "summary.json").write_text("old\n")
    result = invoke(["run", str(spec_path), "-q", "--out", str(existing)])
    assert result.exit_code == 2
    assert [p.name for p in existing.iterdir()] == ["summary.json"]  # no temp file left
    assert (existing / "summary.json").read_text() == "old\n"
    monkeypatch.setattr(runner.os, "replace", real_replace)


def test_api_write_matches_cli(out: Path, spec_path: Path, tmp_path: Path) -> None:
    result = experiments.run(experiments.load_spec(spec_path))
    written = result.write(tmp_path / "api")
    assert written == tmp_path / "api"
    assert sorted(p.name for p in written.iterdir()) == FILES
    for name in ("summary.json", "packets.csv", "endpoints.csv"):
        assert (written / name).read_bytes() == (out / name).read_bytes(), name
    info = json.loads((written / "run.json").read_text())
    assert info["command"] == []  # the API was not given a command line
