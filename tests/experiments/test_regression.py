"""Regression checks (``sidemesh baseline`` / ``sidemesh check``): the verdict rules, the
baseline file, degradations caught and named, the false-alarm rate under re-seeded runs, the
JUnit/Markdown/JSON outputs and every bad-input path (exit 2, one message, nothing written)."""

from __future__ import annotations

import json
import multiprocessing
import os
import shlex
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from experiments.cli import main
from experiments.regression import (
    DEFAULT_RUNS,
    DEFAULT_TRACKED,
    IMPROVED,
    MISSING,
    NO_DATA,
    NOT_TESTABLE,
    OK,
    REGRESSED,
    Baseline,
    Measurement,
    MetricRecord,
    RegressionError,
    Report,
    Rule,
    Tolerance,
    Verdict,
    baseline_from_data,
    baseline_rules,
    compare,
    judge,
    load_baseline,
    measure,
    spec_hash,
    version_warnings,
)
from experiments.regression_report import conclusion, junit_xml, markdown, table_text
from experiments.signflip import min_pairs, sign_flip_p
from experiments.spec import load_spec

REPO = Path(__file__).resolve().parents[2]

# A small town on LoRa at low power: six bridges over 1.2 x 1.2 km cover about 90 % of it, so
# fewer bridges, less power or a steeper path loss show in coverage. One run takes ~0.03 s.
SPEC = """\
[scenario]
name = "check-town"
duration_s = 300
seed = 1
[topology]
kind = "random"
width_m = 1200
height_m = 1200
bridges = 6
endpoints = 40
[propagation]
model = "log_distance"
exponent = 3.0
[endpoint]
link = "lora"
interval_s = 60
tx_power_dbm = -4
[metrics]
area_probe_spacing_m = 20
"""


def invoke(args: Sequence[str]) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def usage_error(result: Result, *needles: str) -> str:
    """Exit 2, nothing on stdout, one ``error:`` line on stderr holding every needle."""
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The spec and its baseline (10 seeds), made once for the module."""
    folder = tmp_path_factory.mktemp("town")
    spec = folder / "town.toml"
    spec.write_text(SPEC, encoding="utf-8")
    baseline = folder / "town.baseline.json"
    result = invoke(["baseline", spec, "-o", baseline, "--workers", "2", "--quiet"])
    assert result.exit_code == 0, result.output
    return spec, baseline


# --- the verdict of one metric --------------------------------------------------------------

HIGHER = Rule("endpoint_coverage", "higher", Tolerance(0.01))
LOWER = Rule("latency_s.p95", "lower", Tolerance(5.0, relative=True))
TEN = [0.90, 0.85, 0.95, 0.90, 0.88, 0.92, 0.87, 0.93, 0.91, 0.89]


def test_an_unchanged_run_reproduces_the_baseline_exactly_and_passes() -> None:
    verdict = judge(HIGHER, TEN, TEN, alpha_metric=0.002)
    assert verdict.status == OK and verdict.delta == 0 and verdict.p_value == 1.0
    assert verdict.test == "sign-flip" and verdict.n == 10


def test_a_constant_shift_beyond_the_tolerance_regresses_with_the_exact_p_value() -> None:
    verdict = judge(HIGHER, TEN, [v - 0.02 for v in TEN], 0.002)
    assert verdict.status == REGRESSED and verdict.p_value == 2.0**-10
    assert verdict.delta == pytest.approx(-0.02) and verdict.worsening == pytest.approx(0.02)
    assert judge(HIGHER, TEN, [v - 0.005 for v in TEN], 0.002).status == OK
    # worse by exactly the tolerance is not beyond it (float noise of the subtraction aside)
    at = judge(HIGHER, TEN, [v - 0.01 for v in TEN], 0.002)
    assert at.status == OK and at.p_value == 1.0


def test_constant_differences_are_not_exact_evidence_with_few_pairs() -> None:
    """Review finding 1: equal differences used to mean p = 0, so two seeds whose coverage
    counts both moved by one endpoint failed the check. Their sign-flip p-value is 2^-K."""
    before = [0.9, 0.85, 0.95]
    verdict = judge(HIGHER, before, [v - 0.025 for v in before], 0.002)
    assert verdict.p_value == pytest.approx(2.0**-3) and verdict.status == NOT_TESTABLE
    assert not verdict.failed and "not testable" in verdict.message and "2^-3" in verdict.message
    # near-equal differences (a spread of 1e-17, which gave t ~ 1e15) are no stronger evidence
    wobble = np.array([0.9, 0.85, 0.95]) + np.array([0.0, 1e-17, 2e-17])
    assert judge(HIGHER, list(wobble), [0.875, 0.825, 0.925], 0.002).p_value == 2.0**-3


@pytest.mark.parametrize("pairs", [2, 3])
def test_discrete_coverage_redrawn_with_few_seeds_never_false_alarms(pairs: int) -> None:
    """Coverage of 40 endpoints is a count: redrawn with the same distribution, both values of
    two or three pairs often differ by the same number of endpoints. The old exact-change
    shortcut failed 4.1 % of such checks at K = 2 and 0.5 % at K = 3 (alpha 0.002)."""
    rng = np.random.default_rng(11)
    draws = 2000
    before = rng.binomial(40, 0.9, size=(draws, pairs)) / 40
    after = rng.binomial(40, 0.9, size=(draws, pairs)) / 40
    verdicts = [judge(HIGHER, list(b), list(a), 0.002) for b, a in zip(before, after, strict=True)]
    assert sum(v.failed for v in verdicts) == 0
    assert any(v.status == NOT_TESTABLE for v in verdicts)  # beyond the tolerance, untestable


def test_the_tolerance_is_tested_not_only_compared() -> None:
    """Review finding 3: a mean worsening just above the tolerance, clearly > 0 but not
    credibly > the tolerance, used to fail (the test was of worsening > 0)."""
    rng = np.random.default_rng(5)
    worsening = 0.011 + rng.normal(0, 0.003, 10)
    verdict = judge(HIGHER, TEN, [b - w for b, w in zip(TEN, worsening, strict=True)], 0.002)
    assert verdict.worsening is not None and verdict.worsening > 0.01
    assert verdict.status == OK and verdict.p_value is not None and verdict.p_value > 0.002
    assert "not credibly beyond it" in verdict.message
    clear = judge(HIGHER, TEN, [b - w - 0.02 for b, w in zip(TEN, worsening, strict=True)], 0.002)
    assert clear.status == REGRESSED


def test_direction_and_relative_tolerance() -> None:
    before = [0.100, 0.102, 0.098, 0.100, 0.101, 0.099, 0.100, 0.103, 0.097, 0.100]
    slower = [v * 1.10 for v in before]  # 10 % later: worse than 5 %
    assert judge(LOWER, before, slower, 0.002).status == REGRESSED
    assert judge(LOWER, before, [v * 1.03 for v in before], 0.002).status == OK
    faster = judge(LOWER, before, [v * 0.9 for v in before], 0.002)
    assert faster.status == IMPROVED and faster.tolerance_abs == pytest.approx(0.005)


def test_a_change_beyond_the_tolerance_inside_the_noise_is_not_a_regression() -> None:
    after = [0.95, 0.70, 0.90, 0.75, 0.95, 0.80, 0.80, 0.95, 0.80, 0.85]
    verdict = judge(HIGHER, TEN, after, 0.002)
    assert verdict.worsening == pytest.approx(0.055) and verdict.test == "sign-flip"
    assert verdict.status == OK and verdict.p_value is not None and verdict.p_value > 0.002
    assert "not credibly" in verdict.message


def test_the_sign_flip_p_value_matches_scipy_and_full_enumeration() -> None:
    from itertools import product

    from scipy.stats import permutation_test

    rng = np.random.default_rng(3)
    for n in (2, 4, 7, 10):
        d = rng.normal(0.3, 1.0, n)
        exact = permutation_test(
            (d,), np.mean, permutation_type="samples", alternative="greater", n_resamples=np.inf
        ).pvalue
        listed = np.mean([np.dot(s, np.abs(d)) >= d.sum() for s in product((1, -1), repeat=n)])
        assert sign_flip_p(d) == pytest.approx(exact, rel=1e-12) == listed
    assert sign_flip_p([0.0, 0.0]) == 1.0 and sign_flip_p([]) == 1.0
    assert min_pairs(0.002) == 9 and min_pairs(0.01) == 7 and min_pairs(2.0**-9) == 9
    # beyond 30 pairs: a Monte Carlo estimate, the same on every call and close to the truth
    d = rng.normal(0.4, 1.0, 40)
    estimate = sign_flip_p(d)
    assert estimate == sign_flip_p(d)
    assert estimate == pytest.approx(
        permutation_test(
            (d,), np.mean, permutation_type="samples", alternative="greater",
            n_resamples=50_000, random_state=1,
        ).pvalue,
        abs=0.004,
    )  # fmt: skip


def test_a_check_of_other_seeds_is_refused() -> None:
    baseline = Baseline(
        "s", "h", tuple(range(10)), {HIGHER.metric: MetricRecord(HIGHER, tuple(TEN))}, {}
    )
    now = Measurement(tuple(range(100, 110)), {HIGHER.metric: tuple(TEN)}, 0.0)
    with pytest.raises(RegressionError, match="differ from the baseline's"):
        compare(baseline, [HIGHER], now)


def test_alpha_is_split_over_the_metrics() -> None:
    # two small improvements among ten worsenings: p = 4/1024 = 0.0039, a failure at alpha
    # 0.01 for one metric, not when the same alpha covers five (0.002 each)
    worsening = [0.03, 0.04, 0.03, 0.05, 0.04, 0.03, 0.04, 0.05, -0.002, -0.003]
    after = [b - w - 0.01 for b, w in zip(TEN, worsening, strict=True)]
    single = judge(HIGHER, TEN, after, 0.01)
    assert single.status == REGRESSED and single.p_value == pytest.approx(4 / 1024)
    assert judge(HIGHER, TEN, after, 0.01 / 5).status == OK


def test_missing_values_are_explicit() -> None:
    lost = judge(LOWER, [0.1, 0.1, 0.1], [0.1, None, 0.1], 0.002)
    assert lost.status == MISSING and lost.failed and "no value in 1 of the 3 runs" in lost.message
    assert lost.now_mean is None and lost.lost == 1 and lost.baseline_mean == pytest.approx(0.1)
    nothing = judge(LOWER, [None, None], [None, None], 0.002)
    assert nothing.status == NO_DATA and not nothing.failed
    appeared = judge(LOWER, [None, None], [0.1, 0.1], 0.002)
    assert appeared.status == NO_DATA
    partial = judge(LOWER, [0.1, None, 0.1], [0.1, 0.2, 0.1], 0.002)  # the pairs only
    assert partial.status == OK and partial.n == 2


def test_a_single_pair_is_not_testable_and_does_not_fail() -> None:
    """Review finding 4: one pair used to be judged on the tolerance alone."""
    single = judge(LOWER, [0.1, None], [0.2, None], 0.002)
    assert single.n == 1 and single.p_value == 0.5
    assert single.status == NOT_TESTABLE and not single.failed
    assert "the smallest p-value of 1 pair is 2^-1 = 0.5 > 0.002" in single.message
    assert "at least 9 seeds" in single.message
    assert judge(LOWER, [0.1, None], [0.1, None], 0.002).status == OK


def test_default_rules() -> None:
    rules = baseline_rules([], [])
    assert tuple(r.metric for r in rules) == DEFAULT_TRACKED
    assert {r.metric: (r.better, str(r.tolerance)) for r in rules} == {
        "endpoint_coverage": ("higher", "0.01"),
        "area_coverage": ("higher", "0.01"),
        "pdr": ("higher", "0.01"),
        "latency_s.p95": ("lower", "5%"),
        "energy.battery_life_days": ("higher", "2%"),
    }
    custom = baseline_rules(["pdr", "routing.relay_frames:lower"], ["routing.relay_frames=10%"])
    assert [(r.metric, r.better, str(r.tolerance)) for r in custom] == [
        ("pdr", "higher", "0.01"),
        ("routing.relay_frames", "lower", "10%"),
    ]


def test_a_relative_tolerance_round_trips_exactly() -> None:
    for value in (5.0, 2.5, 1 / 3, 2.123456789, 1e-7):
        tolerance = Tolerance(value, relative=True)
        again = Tolerance.parse(json.loads(json.dumps(tolerance.to_json())), "t")
        assert again == tolerance, (value, tolerance.to_json())
    assert Tolerance(5.0, relative=True).to_json() == "5%" and str(Tolerance(0.01)) == "0.01"


def test_version_differences_are_each_named() -> None:
    before = {"python": "3.11.7", "numpy": "2.4.6", "sidemesh": "0.1.0", "click": "8.1"}
    now = {"python": "3.12.1", "numpy": "2.4.6", "sidemesh": "0.1.0", "scipy": "1.17.1"}
    (warning,) = version_warnings(before, now)
    assert "click 8.1 -> not recorded, python 3.11.7 -> 3.12.1, scipy not recorded -> 1.17.1" in (
        warning
    )
    assert "numpy" not in warning and not list(version_warnings(now, dict(now)))


def _report(*verdicts: Verdict, warnings: tuple[str, ...] = ()) -> Report:
    return Report(
        "s.toml", "b.json", "h1", "h2", (1, 2, 3), 0.01, verdicts, {}, {"sidemesh": "0.1.0"},
        1.5, warnings, "2026-11-30T12:00:00", "ci-runner",
    )  # fmt: skip


def test_outputs_show_lost_values_separate_warnings_and_stamp_the_junit_suite() -> None:
    lost = judge(LOWER, [0.1, 0.1, 0.1], [0.1, None, None], 0.01)
    untested = judge(HIGHER, [0.9, 0.9, 0.9], [0.8, 0.8, 0.8], 0.01)
    report = _report(lost, untested, warnings=("first warning", "second warning"))
    row = next(line for line in table_text(report).splitlines() if line.startswith("latency"))
    assert row.split()[3:5] == ["lost", "2/3"] and row.split()[-1] == "MISSING"
    md = markdown(report)
    assert "> **Warning:** first warning\n\n> **Warning:** second warning\n\n" in md
    suite = ET.fromstring(junit_xml(report)).find("testsuite")
    assert suite is not None
    assert suite.get("timestamp") == "2026-11-30T12:00:00" and suite.get("hostname") == "ci-runner"
    assert suite.get("failures") == "1" and suite.get("skipped") == "1"
    (skipped,) = [c for c in suite.iter("testcase") if c.find("skipped") is not None]
    assert skipped.get("name") == "endpoint_coverage"
    passed = _report(untested)
    assert conclusion(passed) == "PASS: no tracked metric regressed (1 checked; 1 not testable)"


# --- the baseline file ----------------------------------------------------------------------


def test_baseline_file_round_trips(town: tuple[Path, Path]) -> None:
    spec, path = town
    baseline = load_baseline(path)
    assert baseline.seeds == tuple(range(1, 1 + DEFAULT_RUNS))
    assert tuple(baseline.metrics) == DEFAULT_TRACKED
    assert baseline.spec_hash == spec_hash(load_spec(spec))
    assert baseline.versions["sidemesh"]
    data = json.loads(path.read_text())
    assert data["format"] == "sidemesh-baseline" and data["format_version"] == 2
    pdr = data["metrics"]["pdr"]
    assert pdr["better"] == "higher" and pdr["n"] == DEFAULT_RUNS and len(pdr["values"]) == 10
    assert pdr["mean"] == pytest.approx(np.mean(pdr["values"]))
    assert pdr["sd"] == pytest.approx(np.std(pdr["values"], ddof=1))
    assert baseline.to_json() == path.read_text()  # stable bytes


def _good() -> dict:
    return {
        "format": "sidemesh-baseline",
        "format_version": 2,
        "spec": {"source": "s.toml", "hash": "abc"},
        "seeds": [1, 2],
        "metrics": {"pdr": {"better": "higher", "tolerance": 0.01, "values": [0.5, 0.6]}},
    }


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda d: d.update(format="other"), "format: expected 'sidemesh-baseline'"),
        (lambda d: d.update(format_version=9), "format_version: 9 is not supported"),
        (lambda d: d.pop("spec"), "spec: expected"),
        (lambda d: d.update(seeds=[1]), "seeds: expected a list of at least 2"),
        (lambda d: d.update(seeds=[1, 1]), "seeds: expected a list of at least 2 distinct"),
        (
            lambda d: d.update(seeds=[1, 2**63]),
            "seeds: expected a list of at least 2 distinct integers in 0..2**63-1",
        ),
        (lambda d: d.update(updated_by="x"), "updated_by: expected a list"),
        (lambda d: d.update(metrics={}), "metrics: expected a non-empty object"),
        (lambda d: d["metrics"]["pdr"].update(better="up"), "metrics.pdr.better: 'up'; allowed"),
        (lambda d: d["metrics"]["pdr"].pop("tolerance"), "metrics.pdr.tolerance: missing"),
        (lambda d: d["metrics"]["pdr"].update(tolerance="x%"), "metrics.pdr.tolerance: 'x%'"),
        (lambda d: d["metrics"]["pdr"].update(values=[1]), "metrics.pdr.values: expected a list"),
    ],
)
def test_a_bad_baseline_names_the_file_and_the_key(change: object, needle: str) -> None:
    data = _good()
    change(data)  # type: ignore[operator]
    with pytest.raises(RegressionError) as err:
        baseline_from_data(data, "b.json")
    assert str(err.value).startswith("b.json: ") and needle in str(err.value)


# --- sidemesh baseline / check --------------------------------------------------------------


def test_unchanged_spec_passes_with_zero_deltas_and_writes_every_output(
    town: tuple[Path, Path], tmp_path: Path
) -> None:
    spec, baseline = town
    junit, md = tmp_path / "ci" / "junit.xml", tmp_path / "summary.md"
    args = ["check", spec, "--baseline", baseline, "--workers", "2", "--quiet"]
    result = invoke([*args, "--junit", junit, "--markdown", md])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[-1] == "PASS: no tracked metric regressed (5 checked)"
    header = next(line for line in lines if line.startswith("metric"))
    assert header.split() == [
        "metric", "better", "baseline", "now", "delta", "tolerance", "p", "verdict",
    ]  # fmt: skip
    rows = [
        line.split() for line in lines if line.split()[:1] and line.split()[0] in DEFAULT_TRACKED
    ]
    assert [r[0] for r in rows] == list(DEFAULT_TRACKED)
    assert all(r[4] == "+0" and r[-1] == "ok" for r in rows)
    assert "warning" not in result.output

    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites" and root.get("tests") == "5" and root.get("failures") == "0"
    (suite,) = root.findall("testsuite")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == list(DEFAULT_TRACKED)
    assert {c.get("classname") for c in cases} == {"sidemesh.check.town"}
    assert not suite.findall(".//failure")
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["seeds"] == ",".join(str(s) for s in range(1, 11))

    text = md.read_text()
    assert text.startswith("### sidemesh check passed")
    assert "| metric | better | baseline | now | delta | tolerance | p | verdict |" in text
    assert "`area_coverage`" in text

    data = json.loads(invoke([*args, "--json"]).stdout)
    assert data["passed"] and not data["spec_changed"]
    assert [m["metric"] for m in data["metrics"]] == list(DEFAULT_TRACKED)
    assert all(m["delta"] == 0 and m["verdict"] == "ok" for m in data["metrics"])
    assert data["alpha"] == 0.01 and data["alpha_per_metric"] == pytest.approx(0.002)


@pytest.mark.parametrize(
    "degradation",
    [
        "topology.bridges=4",  # fewer bridges
        "endpoint.tx_power_dbm=-7",  # 3 dB less TX power
        "propagation.exponent=3.2",  # a worse path-loss exponent
    ],
)
def test_a_degraded_spec_fails_and_names_the_metric(
    town: tuple[Path, Path], tmp_path: Path, degradation: str
) -> None:
    spec, baseline = town
    junit = tmp_path / "junit.xml"
    args = ["check", spec, "--baseline", baseline, "--set", degradation, "--workers", "2"]
    result = invoke([*args, "-q", "--junit", junit])
    assert result.exit_code == 1, result.output
    assert "FAIL:" in result.stdout and "area_coverage (REGRESSED)" in result.stdout
    assert "area_coverage regressed: " in result.stdout
    assert "the spec changed since the baseline" in result.stdout  # a warning, not the failure
    failed = {
        case.get("name"): case.find("failure")
        for case in ET.parse(junit).getroot().iter("testcase")
        if case.find("failure") is not None
    }
    assert "area_coverage" in failed
    root = ET.parse(junit).getroot()
    (suite,) = root.findall("testsuite")
    fail_line = result.stdout.splitlines()[-1]  # FAIL: N of 5 metrics: ...
    assert fail_line.startswith(f"FAIL: {len(failed)} of 5 metrics")
    for element in (root, suite):
        assert element.get("tests") == "5" and element.get("failures") == str(len(failed))
    assert failed["area_coverage"].get("type") == "regressed"  # type: ignore[union-attr]
    assert "area_coverage regressed" in (failed["area_coverage"].get("message") or "")  # type: ignore[union-attr]


def test_only_the_chosen_metrics_with_their_tolerances(town: tuple[Path, Path]) -> None:
    spec, baseline = town
    args = ["check", spec, "--baseline", baseline, "--set", "topology.bridges=4", "-q"]
    battery = invoke([*args, "--metric", "energy.battery_life_days"])
    assert battery.exit_code == 0, battery.output
    assert _column(battery.stdout, 0) == ["energy.battery_life_days"]
    loose = invoke([*args, "--metric", "area_coverage", "--tolerance", "area_coverage=0.5"])
    assert loose.exit_code == 0, loose.output
    assert _column(loose.stdout, 5) == ["0.5"]
    assert loose.stdout.splitlines()[-1] == "PASS: no tracked metric regressed (1 checked)"


def test_spec_change_warns_and_update_baseline_rewrites_it(
    town: tuple[Path, Path], tmp_path: Path
) -> None:
    spec, original = town
    baseline = tmp_path / "b.json"
    baseline.write_text(original.read_text())
    change = ["--set", "endpoint.payload_bytes=12"]  # harmless: not a regression
    args = ["check", spec, "--baseline", baseline, "-q", *change]
    warned = invoke(args)
    assert warned.exit_code == 0, warned.output
    assert "warning: the spec changed since the baseline" in warned.stdout
    updated = invoke([*args, "--update-baseline"])
    assert updated.exit_code == 0 and f"baseline {baseline} updated" in updated.stderr
    new = load_baseline(baseline)
    assert new.spec_hash == spec_hash(load_spec(spec, ["endpoint.payload_bytes=12"]))
    assert new.seeds == load_baseline(original).seeds
    again = invoke(args)
    assert again.exit_code == 0 and "warning" not in again.stdout
    assert all(word == "+0" for word in _column(again.stdout, 4))


def test_update_baseline_keeps_the_rules_and_the_command(
    town: tuple[Path, Path], tmp_path: Path
) -> None:
    """A check's --tolerance is not stored, the baseline's command stays, updated_by records
    the check; a difference in any recorded version is a warning."""
    spec, original = town
    baseline = tmp_path / "b.json"
    data = json.loads(original.read_text())
    data["versions"]["numpy"] = "0.1"
    data["versions"].pop("scipy")
    baseline.write_text(json.dumps(data))
    args = ["check", spec, "--baseline", baseline, "-q", "--tolerance", "pdr=0.5"]
    result = invoke([*args, "--update-baseline"])
    assert result.exit_code == 0, result.output
    warning = next(line for line in result.stdout.splitlines() if "other versions" in line)
    assert "numpy 0.1 -> " in warning and "scipy not recorded -> " in warning
    assert "sidemesh" not in warning  # the same
    before, after = load_baseline(original), load_baseline(baseline)
    assert after.metrics["pdr"].rule == before.metrics["pdr"].rule  # tolerance 0.01, not 0.5
    assert after.command == before.command and after.command[:2] == ("sidemesh", "baseline")
    assert after.updated_by[:2] == ("sidemesh", "check") and "--update-baseline" in after.updated_by
    assert after.versions == load_baseline(original).versions  # this machine's again
    assert "other versions" not in invoke(args).stdout


def test_baseline_with_its_own_seeds_then_check_warns_of_nothing(tmp_path: Path) -> None:
    """Review finding 2: the spec hash covered [scenario] seed, so `baseline --seed N` and then
    `check` (which runs the baseline's seeds and has no --seed) warned that the spec changed.
    Independent baseline/check pairs on distinct seed sets, through the command line."""
    spec = tmp_path / "town.toml"
    spec.write_text(SPEC, encoding="utf-8")
    quick = ["--duration", "60s", "-q", "--workers", "2"]
    for seed in (5, 1000, 2**62):
        baseline = tmp_path / f"b{seed}.json"
        made = invoke(["baseline", spec, "-o", baseline, "--seed", seed, "--runs", 2, *quick])
        assert made.exit_code == 0, made.output
        assert load_baseline(baseline).seeds == (seed, seed + 1)
        checked = invoke(["check", spec, "--baseline", baseline, *quick])
        assert checked.exit_code == 0, checked.output
        assert "spec changed" not in checked.output
        assert set(_column(checked.stdout, 4)) == {"+0"}
        # the spec's own seed is not part of the hash either: the check runs the baseline's
        assert spec_hash(load_spec(spec, seed=seed)) == spec_hash(load_spec(spec))


def test_a_check_needs_only_the_metrics_it_judges(town: tuple[Path, Path], tmp_path: Path) -> None:
    spec, original = town
    baseline = tmp_path / "b.json"
    data = json.loads(original.read_text())
    data["metrics"]["mystery"] = {"better": "lower", "tolerance": 1, "values": [1.0] * 10}
    baseline.write_text(json.dumps(data))
    check = ["check", spec, "--baseline", baseline, "-q"]
    assert invoke([*check, "--metric", "pdr"]).exit_code == 0
    usage_error(invoke(check), "mystery is not in summary.json")
    usage_error(invoke([*check, "--metric", "pdr", "--update-baseline"]), "mystery")
    assert json.loads(baseline.read_text()) == data  # nothing written


def test_warnings_at_baseline_time(tmp_path: Path) -> None:
    spec = tmp_path / "town.toml"
    spec.write_text(SPEC, encoding="utf-8")
    made = invoke(
        [
            "baseline", spec, "-o", tmp_path / "b.json", "--runs", 3, "-q", "--duration", "60s",
            "--metric", "routing.relay_frames:lower", "--tolerance", "routing.relay_frames=10%",
        ]
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    assert (
        "warning: routing.relay_frames: its tolerance 10% is a share of a baseline mean of 0, "
        "so it is 0" in made.stderr
    )
    assert (
        "warning: --runs 3: too few for a check at the default alpha 0.01 over 1 metric to fail "
        "(the smallest p-value of 3 pairs is 2^-3 = 0.12 > 0.01); give --runs 7 or more"
    ) in made.stderr


def _column(table: str, k: int) -> list[str]:
    rows = [line.split() for line in table.splitlines()]
    return [r[k] for r in rows if r and r[0] in DEFAULT_TRACKED]


def test_metrics_without_a_value_are_handled(tmp_path: Path) -> None:
    # mains-powered endpoints only: no battery life in any run ("no data", skipped)
    spec = tmp_path / "mains.toml"
    spec.write_text(
        SPEC.replace("tx_power_dbm = -4\n", "tx_power_dbm = -4\nmains_powered = true\n")
    )
    baseline = tmp_path / "b.json"
    made = invoke(["baseline", spec, "-o", baseline, "--runs", "9", "-q"])
    assert made.exit_code == 0, made.output
    assert "no value in any run" in made.stdout
    junit = tmp_path / "j.xml"
    checked = invoke(["check", spec, "--baseline", baseline, "-q", "--junit", junit])
    assert checked.exit_code == 0, checked.output
    (case,) = [
        c for c in ET.parse(junit).getroot().iter("testcase")
        if c.get("name") == "energy.battery_life_days"
    ]  # fmt: skip
    assert case.find("skipped") is not None
    # nothing delivered any more: latency has no value where the baseline had one
    lost = invoke(["check", spec, "--baseline", baseline, "-q", "--set", 'bridge.links=["ble"]'])
    assert lost.exit_code == 1
    assert "latency_s.p95 (MISSING)" in lost.stdout and "pdr (REGRESSED)" in lost.stdout


# --- false alarms ---------------------------------------------------------------------------


def test_false_alarms_under_reseeded_runs_stay_within_the_stated_rate(tmp_path: Path) -> None:
    """20 independent baseline/check pairs: the check runs other seeds than its baseline but is
    judged as if they were the same ones (paired), as after a change that draws the random
    numbers in another order without changing any distribution. The stated rate is at most
    1 % per check (alpha). Each pair uses its own 20 seeds; resampling checks of 10 seeds, and
    of 2 and 3 (where equal coverage changes are common), from the same 400 runs estimates the
    rate itself."""
    (tmp_path / "town.toml").write_text(SPEC, encoding="utf-8")
    spec = load_spec(tmp_path / "town.toml")
    rules = baseline_rules([], [])
    seeds = list(range(1, 401))
    runs = measure(spec, seeds, list(DEFAULT_TRACKED), workers=2)
    values = {name: np.array(v, dtype=object) for name, v in runs.values.items()}

    def check(base_idx: Sequence[int], now_idx: Sequence[int]) -> bool:
        label = tuple(seeds[i] for i in base_idx)
        baseline = Baseline(
            "town",
            "",
            label,
            {r.metric: MetricRecord(r, tuple(values[r.metric][list(base_idx)])) for r in rules},
            {},
        )
        now = Measurement(label, {n: tuple(v[list(now_idx)]) for n, v in values.items()}, 0.0)
        return any(v.failed for v in compare(baseline, rules, now))

    pairs = [(range(20 * j, 20 * j + 10), range(20 * j + 10, 20 * j + 20)) for j in range(20)]
    false_alarms = sum(check(list(a), list(b)) for a, b in pairs)
    # none expected; one is allowed (a 1 % rate gives at most one in 20 with 98 % probability)
    assert false_alarms <= 1
    rng = np.random.default_rng(7)
    for k, draws in ((10, 1000), (3, 500), (2, 500)):
        picks = [rng.choice(400, size=2 * k, replace=False) for _ in range(draws)]
        rate = np.mean([check(list(d[:k]), list(d[k:])) for d in picks])
        assert rate <= 0.01, k


# --- bad input: exit 2, one message, nothing written ----------------------------------------


def test_every_bad_input_exits_2_with_one_message(town: tuple[Path, Path], tmp_path: Path) -> None:
    spec, baseline = town
    check = ["check", spec, "--baseline", baseline, "-q"]
    missing = tmp_path / "none.json"
    usage_error(
        invoke(["check", spec, "--baseline", missing]),
        f"{missing}: baseline file not found",
        "sidemesh baseline",
    )
    usage_error(invoke(["check", tmp_path / "no.toml", "--baseline", baseline]), "no.toml")
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{")
    usage_error(invoke(["check", spec, "--baseline", bad_json]), f"{bad_json}: is not JSON")
    usage_error(
        invoke([*check, "--metric", "energy.mean_current_ua"]),
        "--metric energy.mean_current_ua: not in the baseline",
        "it tracks endpoint_coverage, area_coverage",
    )
    usage_error(invoke([*check, "--tolerance", "pdr=-1"]), "--tolerance pdr=-1", "a number >= 0")
    usage_error(invoke([*check, "--tolerance", "pdr"]), "expected METRIC=VALUE")
    usage_error(
        invoke([*check, "--metric", "pdr", "--tolerance", "area_coverage=0.1"]),
        "area_coverage is not a tracked metric; tracked: pdr",
    )
    usage_error(invoke([*check, "--metric", "pdr:up"]), "direction 'up'; allowed: higher, lower")
    usage_error(invoke([*check, "--junit", tmp_path]), f"--junit {tmp_path}: is a folder")
    usage_error(invoke([*check, "--set", "topology.bridges=-1"]), "bridges")
    usage_error(
        invoke(["check", spec, "--baseline", tmp_path]),
        f"{tmp_path}: is a directory, not a baseline",
    )
    usage_error(invoke(["check", tmp_path, "--baseline", baseline]), f"{tmp_path}: is a directory")
    usage_error(
        invoke([*check, "--metric", "pdr:lower"]),
        "--metric pdr:lower: the baseline",
        "judges pdr with higher is better; a check cannot turn it round",
    )
    usage_error(
        invoke([*check, "--tolerance", "pdr=0.1", "--tolerance", "pdr=0.2"]),
        "--tolerance pdr=0.2: pdr is given a tolerance twice",
    )
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    usage_error(
        invoke([*check, "--junit", tmp_path / "j.xml", "--markdown", a_file / "s.md"]),
        f"--markdown {a_file / 's.md'}: {a_file} is not a folder",
    )
    assert not (tmp_path / "j.xml").exists()  # nothing written

    out = tmp_path / "new" / "b.json"
    base = ["baseline", spec, "-o", out, "--runs", "2", "-q"]
    usage_error(
        invoke([*base, "--metric", "routing.relay_frames"]),
        "no known direction; give --metric routing.relay_frames:higher",
    )
    usage_error(invoke([*base, "--metric", "mystery:lower"]), "no default tolerance")
    usage_error(
        invoke([*base, "--metric", "mystery:lower", "--tolerance", "mystery=1"]),
        "mystery is not in summary.json",
    )
    usage_error(
        invoke([*base, "--metric", "latency_s:lower", "--tolerance", "latency_s=1"]),
        "latency_s is a table; name one of its numbers: latency_s.mean",
    )
    usage_error(invoke(["baseline", tmp_path / "no.toml", "-o", out]), "no.toml")
    usage_error(invoke(["baseline", tmp_path, "-o", out]), f"{tmp_path}: is a directory")
    usage_error(invoke(["baseline", spec, "-o", tmp_path]), f"-o {tmp_path}: is a folder")
    usage_error(
        invoke([*base, "--seed", 2**63 - 1]),
        "--runs 2: the seeds 9223372036854775807..9223372036854775808 go beyond 2**63-1",
    )
    assert not out.parent.exists()  # nothing written
    result = invoke(["baseline", spec, "-o", out, "--runs", "1"])
    assert result.exit_code == 2 and "--runs" in result.stderr  # click's own range check


def test_update_baseline_needs_a_writable_baseline(
    town: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, original = town
    folder = tmp_path / "read-only"
    folder.mkdir()
    baseline = folder / "b.json"
    baseline.write_text(original.read_text())
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda path, mode: Path(path) != folder and real_access(path, mode)
    )  # (the tests may run as root, whom permissions do not stop)
    result = invoke(["check", spec, "--baseline", baseline, "-q", "--update-baseline"])
    usage_error(result, f"--baseline {baseline}: no permission to write in {folder}")
    assert baseline.read_text() == original.read_text()


# --- infrastructure failures: exit 3 --------------------------------------------------------


@pytest.mark.skipif(
    multiprocessing.get_start_method() != "fork", reason="workers must inherit the patch"
)
@pytest.mark.parametrize(
    ("fault", "needle"),
    [
        ("die", "a worker process died"),  # as when the kernel kills it for memory
        ("raise", "crashed (ZeroDivisionError: a bug in a run)"),
    ],
)
def test_a_dead_worker_or_a_crashed_run_exits_3_not_1(
    town: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fault: str,
    needle: str,
) -> None:
    """Review finding 5: a broken pool used to exit 1, as if a metric had regressed."""
    import experiments.sweeprun

    def broken(*args: object, **kwargs: object) -> None:
        if fault == "die":
            os._exit(9)
        raise ZeroDivisionError("a bug in a run")

    monkeypatch.setattr(experiments.sweeprun, "simulate", broken)  # inherited by forked workers
    spec, baseline = town
    junit = tmp_path / "junit.xml"
    result = invoke(["check", spec, "--baseline", baseline, "-q", "--junit", junit])
    assert result.exit_code == 3, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ") and needle in line and "not a regression" in line
    assert result.stdout == "" and not junit.exists()


def test_an_output_that_fails_after_the_runs_exits_3_and_says_what_the_check_found(
    town: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import experiments.cli

    def full(files: Sequence[tuple[Path, str]]) -> None:
        raise OSError(28, "No space left on device", str(files[-1][0]))

    monkeypatch.setattr(experiments.cli, "write_atomic_all", full)
    spec, baseline = town
    junit, md = tmp_path / "junit.xml", tmp_path / "summary.md"
    args = ["check", spec, "--baseline", baseline, "-q", "--junit", junit, "--markdown", md]
    result = invoke([*args, "--set", "topology.bridges=4"])
    assert result.exit_code == 3
    assert "FAIL: " in result.stdout  # the table came first
    assert (
        f"error: --markdown {md}: cannot write (No space left on device); no output file was "
        "written. The check itself: FAIL: " in result.stderr
    )


def test_a_bad_metric_stops_the_pool_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runs' generator is closed when a metric turns out not to be a number (the pool's
    runs not yet started are cancelled, instead of running on to the end)."""
    import experiments.regression
    from experiments.store import Row

    closed = []

    def rows(*args: object) -> Iterator[Row]:
        try:
            yield Row(0, 0, 1, {}, "", {}, {"pdr": None}, {"pdr": {"x": 1}}, {}, 0.0, "done")
            yield Row(0, 1, 2, {}, "", {}, {"pdr": 0.5}, {"pdr": 0.5}, {}, 0.0, "done")
        finally:
            closed.append(True)

    monkeypatch.setattr(experiments.regression, "run_rows", rows)
    spec = load_spec(None, duration="60s")
    with pytest.raises(RegressionError, match="pdr is a table"):
        measure(spec, [1, 2], ["pdr"])
    assert closed == [True]


# --- the project's own check ----------------------------------------------------------------


def test_the_committed_ci_baseline_matches_its_spec() -> None:
    """Cheap: no simulation. The CI job (`.ci/run`) runs the check itself."""
    spec = REPO / "experiments" / "ci" / "ci-suburb.toml"
    baseline = load_baseline(REPO / "experiments" / "ci" / "ci-suburb.baseline.json")
    assert baseline.spec_hash == spec_hash(load_spec(spec)), (
        "experiments/ci/ci-suburb.toml changed: rewrite its baseline with `sidemesh check "
        "experiments/ci/ci-suburb.toml --baseline experiments/ci/ci-suburb.baseline.json "
        "--update-baseline`"
    )
    assert baseline.seeds == tuple(range(1, 1 + DEFAULT_RUNS))
    assert tuple(baseline.metrics) == DEFAULT_TRACKED
    assert {m: r.rule for m, r in baseline.metrics.items()} == {
        r.metric: r for r in baseline_rules([], [])
    }
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert (
        ".venv/bin/sidemesh check experiments/ci/ci-suburb.toml --baseline "
        "experiments/ci/ci-suburb.baseline.json" in ci
    )


def test_the_ci_constraints_pin_the_versions_that_made_the_baseline() -> None:
    baseline = load_baseline(REPO / "experiments" / "ci" / "ci-suburb.baseline.json")
    lines = (REPO / "experiments" / "ci" / "constraints.txt").read_text().splitlines()
    pins = dict(line.split("==") for line in lines if line and not line.startswith("#"))
    shared = set(pins) & set(baseline.versions)
    assert shared == {"simpy", "numpy", "scipy", "click"}
    assert {name: pins[name] for name in shared} == {n: baseline.versions[n] for n in shared}


def test_readme_ci_commands_and_workflows_use_real_options() -> None:
    """Every sidemesh command in README's CI section (shell lines and the GitHub Actions and
    GitLab CI workflows) names a real command and real options."""
    import re

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Coverage regression checks in CI\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(\w*)\n(.*?)```", section, flags=re.S)
    assert {"yaml"} <= {language for language, _ in blocks}
    workflows = "\n".join(body for language, body in blocks if language == "yaml")
    assert "GITHUB_STEP_SUMMARY" in workflows and "junit: sidemesh-junit.xml" in workflows
    commands = []
    for _, body in blocks:
        for line in body.splitlines():
            text = line.strip().removeprefix("- ").removeprefix("run: ")
            if re.match(r"(\.venv/bin/)?sidemesh (baseline|check) \S+\.toml (-o|--baseline)", text):
                commands.append(shlex.split(text))
    assert len(commands) >= 4
    for words in commands:
        command = main.commands[words[1]]  # type: ignore[attr-defined]
        known = {opt for param in command.params for opt in getattr(param, "opts", [])}
        for word in words[2:]:
            if word.startswith("-"):
                assert word in known, (words[1], word)
