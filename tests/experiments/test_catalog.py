"""The catalog of reproductions matches its references within the stated tolerances."""

from __future__ import annotations

import csv
from pathlib import Path

from click.testing import CliRunner

from experiments.catalog import REPRODUCTIONS, reproduce
from experiments.cli import main


def test_poisson_coverage_matches_the_closed_form(tmp_path: Path) -> None:
    rows = reproduce(REPRODUCTIONS["poisson-coverage"], tmp_path / "pc", workers=2)
    assert len(rows) == 5 and all(r["within_tolerance"] for r in rows)
    # and the reference lies in the 95 % interval at most points (30 replications)
    inside = sum(r["ci_low"] <= r["reference"] <= r["ci_high"] for r in rows)
    assert inside >= 4
    assert (tmp_path / "pc" / "figures" / "poisson-coverage.png").stat().st_size > 5000
    with open(tmp_path / "pc" / "comparison.csv", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == 5


def test_pure_aloha_matches_exp_minus_2g_from_the_cli(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["catalog", "pure-aloha", "--quick", "--workers", "2", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert result.output.count(" ok") == 5 and "OUT OF TOLERANCE" not in result.output


def test_catalog_rejects_unknown_names(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["catalog", "bor2016x", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "pure-aloha" in result.output


def test_shadowed_coverage_matches_the_thinned_poisson_form(tmp_path: Path) -> None:
    rows = reproduce(REPRODUCTIONS["shadowed-coverage"], tmp_path / "sc", workers=2)
    assert len(rows) == 5 and all(r["within_tolerance"] for r in rows)
    assert sum(r["ci_low"] <= r["reference"] <= r["ci_high"] for r in rows) >= 4
