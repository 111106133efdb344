"""Regression checks (``sidemesh baseline`` / ``sidemesh check``): the verdict rules, the
baseline file, degradations caught and named, the false-alarm rate under re-seeded runs, the
JUnit/Markdown/JSON outputs and every bad-input path (exit 2, one message, nothing written)."""

from __future__ import annotations

import json
import shlex
import xml.etree.ElementTree as ET
from collections.abc import Sequence
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
    OK,
    REGRESSED,
    Baseline,
    Measurement,
    MetricRecord,
    RegressionError,
    Rule,
    Tolerance,
    baseline_from_data,
    baseline_rules,
    compare,
    judge,
    load_baseline,
    measure,
)
from experiments.spec import load_spec
from experiments.sweep import config_hash

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


def test_an_unchanged_run_reproduces_the_baseline_exactly_and_passes() -> None:
    values = [0.9, 0.85, 0.95, 0.9]
    verdict = judge(HIGHER, values, values, paired=True, alpha_metric=0.002)
    assert verdict.status == OK and verdict.delta == 0 and verdict.p_value == 1.0
    assert verdict.test == "exact"


def test_a_constant_shift_beyond_the_tolerance_is_an_exact_regression() -> None:
    before = [0.9, 0.85, 0.95, 0.9]
    verdict = judge(HIGHER, before, [v - 0.02 for v in before], True, 0.002)
    assert verdict.status == REGRESSED and verdict.test == "exact" and verdict.p_value == 0.0
    assert verdict.delta == pytest.approx(-0.02) and verdict.worsening == pytest.approx(0.02)
    within = judge(HIGHER, before, [v - 0.005 for v in before], True, 0.002)
    assert within.status == OK


def test_direction_and_relative_tolerance() -> None:
    before = [0.100, 0.102, 0.098, 0.100, 0.101]
    slower = [v * 1.10 for v in before]  # 10 % later: worse than 5 %
    assert judge(LOWER, before, slower, True, 0.002).status == REGRESSED
    assert judge(LOWER, before, [v * 1.03 for v in before], True, 0.002).status == OK
    faster = judge(LOWER, before, [v * 0.9 for v in before], True, 0.002)
    assert faster.status == IMPROVED and faster.tolerance_abs == pytest.approx(
        0.00501
    )  # 5 % of 0.1002


def test_a_change_beyond_the_tolerance_inside_the_noise_is_not_a_regression() -> None:
    before = [0.90, 0.80, 0.95, 0.85, 0.90, 0.80]
    after = [0.95, 0.70, 0.90, 0.75, 0.95, 0.70]  # 0.042 worse on average, spread 0.075
    verdict = judge(HIGHER, before, after, True, 0.002)
    assert verdict.worsening == pytest.approx(0.25 / 6) and verdict.test == "paired t"
    assert verdict.status == OK and verdict.p_value is not None and verdict.p_value > 0.002
    assert "not credibly" in verdict.message


def test_the_paired_t_test_matches_scipy() -> None:
    from scipy.stats import ttest_rel

    rng = np.random.default_rng(3)
    before = rng.normal(0.8, 0.05, 10)
    after = before - 0.02 + rng.normal(0, 0.02, 10)
    verdict = judge(HIGHER, list(before), list(after), True, 0.002)
    expected = ttest_rel(before, after, alternative="greater").pvalue
    assert verdict.p_value == pytest.approx(expected, rel=1e-9)


def test_other_seeds_are_compared_unpaired_with_welch() -> None:
    from scipy.stats import ttest_ind

    rng = np.random.default_rng(4)
    before, after = rng.normal(0.8, 0.05, 10), rng.normal(0.7, 0.05, 12)
    baseline = Baseline(
        "s", "h", tuple(range(10)), {HIGHER.metric: MetricRecord(HIGHER, tuple(before))}, {}
    )
    now = Measurement(tuple(range(100, 112)), {HIGHER.metric: tuple(after)}, 0.0)
    (verdict,) = compare(baseline, [HIGHER], now, alpha=0.01)
    assert verdict.test == "Welch t" and verdict.status == REGRESSED
    expected = ttest_ind(before, after, equal_var=False, alternative="greater").pvalue
    assert verdict.p_value == pytest.approx(expected, rel=1e-9)


def test_alpha_is_split_over_the_metrics() -> None:
    # p = 0.006 for a clear but noisy worsening: a failure at alpha 0.01 for one metric,
    # not when the same alpha covers five (0.002 each)
    before = [0.90, 0.92, 0.88, 0.91, 0.89, 0.90]
    after = [0.86, 0.90, 0.80, 0.89, 0.85, 0.88]
    single = judge(HIGHER, before, after, True, 0.01)
    assert single.status == REGRESSED and 0.002 < (single.p_value or 0) < 0.01
    assert judge(HIGHER, before, after, True, 0.01 / 5).status == OK


def test_missing_values_are_explicit() -> None:
    lost = judge(LOWER, [0.1, 0.1, 0.1], [0.1, None, 0.1], True, 0.002)
    assert lost.status == MISSING and lost.failed and "no value in 1 of the runs" in lost.message
    nothing = judge(LOWER, [None, None], [None, None], True, 0.002)
    assert nothing.status == NO_DATA and not nothing.failed
    appeared = judge(LOWER, [None, None], [0.1, 0.1], True, 0.002)
    assert appeared.status == NO_DATA
    partial = judge(LOWER, [0.1, None, 0.1], [0.1, 0.2, 0.1], True, 0.002)  # the pairs only
    assert partial.status == OK and partial.n == 2
    single = judge(LOWER, [0.1, None], [0.2, None], True, 0.002)  # one pair: no test
    assert single.test == "none" and single.p_value is None and single.status == REGRESSED
    assert "too few values to test" in single.message


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


# --- the baseline file ----------------------------------------------------------------------


def test_baseline_file_round_trips(town: tuple[Path, Path]) -> None:
    spec, path = town
    baseline = load_baseline(path)
    assert baseline.seeds == tuple(range(1, 1 + DEFAULT_RUNS))
    assert tuple(baseline.metrics) == DEFAULT_TRACKED
    assert baseline.spec_hash == config_hash(load_spec(spec))
    assert baseline.versions["sidemesh"]
    data = json.loads(path.read_text())
    assert data["format"] == "sidemesh-baseline" and data["format_version"] == 1
    pdr = data["metrics"]["pdr"]
    assert pdr["better"] == "higher" and pdr["n"] == DEFAULT_RUNS and len(pdr["values"]) == 10
    assert pdr["mean"] == pytest.approx(np.mean(pdr["values"]))
    assert pdr["sd"] == pytest.approx(np.std(pdr["values"], ddof=1))
    assert baseline.to_json() == path.read_text()  # stable bytes


def _good() -> dict:
    return {
        "format": "sidemesh-baseline",
        "format_version": 1,
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
    assert data["passed"] and data["paired"] and not data["spec_changed"]
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
    assert new.spec_hash == config_hash(load_spec(spec, ["endpoint.payload_bytes=12"]))
    assert new.seeds == load_baseline(original).seeds
    again = invoke(args)
    assert again.exit_code == 0 and "warning" not in again.stdout
    assert all(word == "+0" for word in _column(again.stdout, 4))


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
    made = invoke(["baseline", spec, "-o", baseline, "--runs", "3", "-q"])
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
    1 % per check (alpha). Each pair uses its own 20 seeds; resampling checks of 10 seeds from
    the same 400 runs estimates the rate itself."""
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
    draws = [rng.choice(400, size=20, replace=False) for _ in range(2000)]
    rate = np.mean([check(list(d[:10]), list(d[10:])) for d in draws])
    assert rate <= 0.01


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
    assert not out.parent.exists()  # nothing written
    result = invoke(["baseline", spec, "-o", out, "--runs", "1"])
    assert result.exit_code == 2 and "--runs" in result.stderr  # click's own range check


# --- the project's own check ----------------------------------------------------------------


def test_the_committed_ci_baseline_matches_its_spec() -> None:
    """Cheap: no simulation. The CI job (`.ci/run`) runs the check itself."""
    spec = REPO / "experiments" / "ci" / "ci-suburb.toml"
    baseline = load_baseline(REPO / "experiments" / "ci" / "ci-suburb.baseline.json")
    assert baseline.spec_hash == config_hash(load_spec(spec)), (
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
