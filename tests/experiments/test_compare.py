"""``sidemesh compare``, the relay scenario and the spec keys of issue 5."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from experiments.cli import main
from experiments.spec import SpecError, load_spec

RELAY_SPEC = Path(__file__).resolve().parents[2] / "experiments" / "relay-suburb.toml"


def _invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("cmp") / "out"
    result = _invoke(
        "compare",
        "--duration",
        "10m",
        "--quiet",
        "--out",
        str(out),
        "--set",
        "topology.homes=120",
    )
    assert result.exit_code == 0, result.output
    return out, result.output


def test_compare_prints_every_strategy_side_by_side(compared: tuple[Path, str]) -> None:
    _, output = compared
    lines = output.splitlines()
    assert lines[0].split()[:4] == ["strategy", "PDR", "coverage", "gain"]
    names = [line.split()[0] for line in lines[1:5]]
    assert names == ["direct", "flood", "contention_flood", "gradient"]
    assert lines[1].split()[3] == "+0.0"  # direct against itself


def test_compare_writes_rows_and_each_run(compared: tuple[Path, str]) -> None:
    out, _ = compared
    rows = json.loads((out / "compare.json").read_text())
    assert [r["strategy"] for r in rows] == ["direct", "flood", "contention_flood", "gradient"]
    with open(out / "compare.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [r["strategy"] for r in table] == [r["strategy"] for r in rows]
    for row in rows:
        summary = json.loads((out / row["strategy"] / "summary.json").read_text())
        assert summary["routing"]["strategy"] == row["strategy"]
        assert summary["endpoint_coverage"] == row["endpoint_coverage"]
        assert summary["mobility"]["mobile_endpoints"] > 0
    direct = rows[0]
    for row in rows[1:]:
        assert row["coverage_gain_pp"] == pytest.approx(
            100 * (row["endpoint_coverage"] - direct["endpoint_coverage"]), abs=1e-6
        )
        assert row["relay_frames"] > 0
    # the sparse suburb is where relaying pays: every strategy covers more than direct
    assert all(r["coverage_gain_pp"] > 0 for r in rows[1:])


def test_compare_rejects_unknown_strategies() -> None:
    result = CliRunner().invoke(main, ["compare", "--strategies", "direct,teleport"])
    assert result.exit_code == 2
    assert "unknown teleport" in result.output and "gradient" in result.output


def test_compare_reports_a_bad_spec_before_running(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[routing]\nstrategy = "flood"\nttl = 1\n')
    result = CliRunner().invoke(main, ["compare", str(bad)])
    assert result.exit_code == 2
    assert "[routing] ttl: must be in 2..127" in result.output


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ('[routing]\nstrategy = "mesh"\n', "[routing] strategy", "must be one of direct"),
        ('[routing]\nmetric = "rssi"\n', "[routing] metric", "hops or etx"),
        ("[routing]\nhop_limit = 9\n", "[routing] hop_limit", "1..7"),
        ("[faults]\nfailure_fraction = 2\n", "[faults] failure_fraction", "0..1"),
        (
            '[[faults.outages]]\nbridges = [0]\nkind = "flood"\nend_s = 5\n',
            "[faults] outages.kind",
            "power or backhaul",
        ),
        (
            "[[faults.outages]]\nbridges = [0]\nstart_s = 5\nend_s = 1\n",
            "[faults] outages.end_s",
            "after",
        ),
        ('[[faults.jammers]]\nlink = "wifi"\n', "[faults] jammers.link", "ble, fsk, lora"),
        ("[[faults.jammers]]\nduty_cycle = 0\n", "[faults] jammers.duty_cycle", "(0, 1]"),
        ('[endpoint]\nrelay_role = "boss"\n', "[endpoint] relay_role", "client or router"),
        (
            "[endpoint]\nacked = true\nmobility = { mobile = true }\n",
            "[endpoint] acked",
            "not available to mobile classes",
        ),
    ],
)
def test_issue5_keys_are_checked(tmp_path: Path, text: str, where: str, message: str) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text(text)
    with pytest.raises(SpecError) as err:
        load_spec(spec)
    assert err.value.key == where
    assert message in err.value.message


def test_run_reports_an_outage_of_a_missing_bridge(tmp_path: Path) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text('[topology]\nkind = "grid"\n[[faults.outages]]\nbridges = [99999]\nend_s = 5\n')
    result = CliRunner().invoke(main, ["run", str(spec), "--quiet", "--duration", "60s"])
    assert result.exit_code == 2
    assert "node 99999 is not a bridge" in result.output
    assert "Traceback" not in result.output


def test_relay_suburb_spec_loads_with_relays_and_movers() -> None:
    spec = load_spec(RELAY_SPEC)
    classes = {c.name: c for c in spec.config.endpoint_classes}
    assert classes["plug"].relay and classes["plug"].mains_powered
    assert classes["tracker"].mobility.mobile
    assert spec.config.bridge.relay


@pytest.mark.parametrize("name", ["relay-suburb", "outage-suburb", "mobile-suburb"])
def test_shipped_issue5_scenarios_run(name: str) -> None:
    spec = RELAY_SPEC.parent / f"{name}.toml"
    result = _invoke("run", str(spec), "--quiet", "--json", "--duration", "5m")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    if name == "outage-suburb":
        assert summary["faults"]["windows"]["power"]["count"] > 0
        assert summary["faults"]["jammers"] == 1
    else:
        assert summary["mobility"]["mobile_endpoints"] > 0


def test_validate_checks_fault_node_ids(tmp_path: Path) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text('[topology]\nkind = "grid"\n[[faults.failures]]\nnode = 123456\nat_s = 5\n')
    result = CliRunner().invoke(main, ["validate", str(spec)])
    assert result.exit_code == 2
    assert "[[faults.failures]] entry 1: node 123456 is not in the topology" in result.output
