"""Bad input of every kind: one ``error:`` line naming the file, the key and what is allowed;
exit status 2; no traceback; nothing written (the ``--out`` folder, or a temporary one, never
appears). Checked through ``click.testing.CliRunner``, a real ``sidemesh`` process and the API."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import experiments
from experiments.cli import main
from experiments.spec import SpecError

# A valid, tiny spec; every case below breaks it in one place.
BASE = """\
[scenario]
name = "tiny"
duration_s = 60
seed = 1
[topology]
kind = "random"
width_m = 200
height_m = 200
bridges = 1
endpoints = 5
[propagation]
model = "disk"
range_m = 1000
[medium]
capture = true
[endpoint]
link = "lora"
interval_s = 30
[bridge]
links = ["lora"]
[metrics]
coverage_pdr_threshold = 0.9
"""

CLASSES = """\
[[endpoint_class]]
name = "a"
share = 0.5
link = "lora"
[[endpoint_class]]
name = "b"
share = 0.5
link = "fsk"
"""


def write(folder: Path, text: str, name: str = "spec.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def replace(old: str, new: str, text: str = BASE) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def invoke(args: Sequence[str]) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def assert_usage_error(result: Result, *needles: str) -> str:
    """Exit 2, stdout empty, exactly one ``error:`` line on stderr holding every needle."""
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def assert_nothing_written(out: Path, parent: Path, before: set[str]) -> None:
    assert not out.exists()
    assert {p.name for p in parent.iterdir()} == before  # no stray temporary folder either


# (id, spec text, message fragments besides the spec path)
SPEC_CASES: list[tuple[str, str, tuple[str, ...]]] = [
    (
        "unknown-section",
        BASE + "[radio]\nsf = 7\n",
        ("[radio]", "unknown section", "allowed: scenario, topology, propagation, medium"),
    ),
    (
        "unknown-key-scenario",
        replace("seed = 1", "seed = 1\nsede = 2"),
        ("[scenario] sede", "unknown key", "allowed: duration_s, name, seed"),
    ),
    (
        "unknown-key-topology",
        replace("endpoints = 5", "endpoints = 5\nhomes = 3"),
        ('[topology] (kind = "random") homes', "unknown key", "bridges", "endpoints", "kind"),
    ),
    (
        "unknown-key-propagation",
        replace("range_m = 1000", "range_m = 1000\nexponent = 3"),
        ('[propagation] (model = "disk") exponent', "unknown key", "range_m", "wall_loss_db"),
    ),
    (
        "unknown-key-medium",
        replace("capture = true", "capture = true\ncapturee = 1"),
        ("[medium] capturee", "unknown key", "capture, interference_margin_db"),
    ),
    (
        "unknown-key-endpoint",
        replace("interval_s = 30", "interval_s = 30\nperiod_s = 30"),
        ("[endpoint] period_s", "unknown key", "interval_s", "tx_power_dbm"),
    ),
    (
        "unknown-key-endpoint-class",
        BASE + replace('name = "b"', 'name = "b"\ncolour = 3', CLASSES),
        ('[[endpoint_class]] (name = "b") colour', "unknown key", "interval_s", "share"),
    ),
    (
        "unknown-key-bridge",
        replace('links = ["lora"]', 'links = ["lora"]\nantennas = 2'),
        ("[bridge] antennas", "unknown key", "backhaul_availability", "links"),
    ),
    (
        "unknown-key-metrics",
        replace("coverage_pdr_threshold = 0.9", "coverage_pdr_threshold = 0.9\npdr = 1"),
        ("[metrics] pdr", "unknown key", "area_link", "coverage_pdr_threshold"),
    ),
    (
        "unknown-key-nested-table",
        replace("interval_s = 30", "interval_s = 30\nlora = { sff = 7 }"),
        ("[endpoint] lora.sff", "unknown key", "bw_hz", "coding_rate", "sf"),
    ),
    (
        "unknown-key-nested-in-class",
        BASE + replace('link = "fsk"', 'link = "fsk"\nfsk = { bitrate = 1 }', CLASSES),
        ('[[endpoint_class]] (name = "b") fsk.bitrate', "unknown key", "bitrate_bps"),
    ),
    (
        "string-for-number",
        replace("duration_s = 60", 'duration_s = "60"'),
        ("[scenario] duration_s", 'must be a number, got "60"'),
    ),
    (
        "float-for-int",
        replace("seed = 1", "seed = 1.5"),
        ("[scenario] seed", "must be an integer, got 1.5"),
    ),
    (
        "bool-for-number",
        replace("interval_s = 30", "interval_s = true"),
        ("[endpoint] interval_s", "must be a number, got true"),
    ),
    (
        "bool-for-int",
        replace("bridges = 1", "bridges = false"),
        ('[topology] (kind = "random") bridges', "must be an integer", "false"),
    ),
    (
        "list-for-table",
        replace("interval_s = 30", "interval_s = 30\nlora = [7, 125000]"),
        ("[endpoint] lora", "must be a table like { key = value }, got [7, 125000]"),
    ),
    (
        "string-for-list",
        replace('links = ["lora"]', 'links = "lora"'),
        ("[bridge] links", 'must be a list like [...], got "lora"'),
    ),
    (
        "table-for-number",
        replace("seed = 1", "seed = { value = 1 }"),
        ("[scenario] seed", "must be an integer"),
    ),
    (
        "section-not-a-table",
        "scenario = 3\n",
        ("[scenario]", "must be a table"),
    ),
    (
        "negative-duration",
        replace("duration_s = 60", "duration_s = -60"),
        ("[scenario] duration_s", "must be a finite number > 0", "-60"),
    ),
    (
        "zero-duration",
        replace("duration_s = 60", "duration_s = 0"),
        ("[scenario] duration_s", "must be a finite number > 0", "got 0"),
    ),
    (
        "infinite-duration",
        replace("duration_s = 60", "duration_s = inf"),
        ("[scenario] duration_s", "must be a finite number, got inf"),
    ),
    (
        "negative-seed",
        replace("seed = 1", "seed = -1"),
        ("[scenario] seed", "0..2**63-1", "-1"),
    ),
    (
        "unknown-topology-kind",
        replace('kind = "random"', 'kind = "hexagonal"'),
        (
            "[topology] kind",
            'unknown kind "hexagonal"',
            "allowed: grid, random, disk, poisson, suburb, csv",
        ),
    ),
    (
        "unknown-propagation-model",
        replace('model = "disk"', 'model = "raytrace"'),
        (
            "[propagation] model",
            'unknown model "raytrace"',
            "allowed: disk, free_space, log_distance, lorasim",
        ),
    ),
    (
        "unknown-link",
        replace('link = "lora"', 'link = "wifi"'),
        ("[endpoint] link", "must be one of ble, fsk, lora", "'wifi'"),
    ),
    (
        "unknown-bridge-link",
        replace('links = ["lora"]', 'links = ["lora", "zigbee"]'),
        ("[bridge] links", "unknown link 'zigbee'", "allowed: ble, fsk, lora"),
    ),
    (
        "unknown-battery",
        replace('link = "lora"', 'link = "lora"\nbattery = "9V"'),
        ("[endpoint] battery", "must be one of 2xAA, CR2032, Li-SOCl2-AA", "'9V'"),
    ),
    (
        "tx-power-above-radio-maximum",
        replace('link = "lora"', 'link = "ble"\ntx_power_dbm = 14'),
        ("[endpoint] tx_power_dbm", "above the nrf52840 maximum of 8 dBm"),
    ),
    (
        "lora-sf-out-of-range",
        replace("interval_s = 30", "interval_s = 30\nlora = { sf = 13 }"),
        ("[endpoint] lora.sf", "5..12", "13"),
    ),
    (
        "shares-do-not-sum-to-one",
        BASE + CLASSES.replace('share = 0.5\nlink = "fsk"', 'share = 0.4\nlink = "fsk"'),
        ("[[endpoint_class]] share", "must sum to 1", "0.9", "a 0.5", "b 0.4"),
    ),
    (
        "duplicate-class-names",
        BASE + CLASSES.replace('name = "b"', 'name = "a"'),
        ("[[endpoint_class]] name", 'two classes are named "a"'),
    ),
    (
        "class-name-in-endpoint",
        replace("interval_s = 30", 'interval_s = 30\nname = "x"'),
        ("[endpoint] name", "belongs in [[endpoint_class]]"),
    ),
    (
        "endpoint-class-not-an-array",
        "endpoint_class = 3\n" + BASE,
        ("[[endpoint_class]]", "must be an array of tables"),
    ),
    (
        "invalid-toml",
        BASE + "[scenario\n",
        ("is not valid TOML", "line"),
    ),
    (
        "duplicate-toml-key",
        replace("seed = 1", "seed = 1\nseed = 2"),
        ("is not valid TOML",),
    ),
]


@pytest.mark.parametrize(
    ("text", "needles"), [c[1:] for c in SPEC_CASES], ids=[c[0] for c in SPEC_CASES]
)
def test_bad_spec_is_one_message_exit_2_and_nothing_written(
    tmp_path: Path, text: str, needles: tuple[str, ...]
) -> None:
    spec = write(tmp_path, text)
    out = tmp_path / "out"
    before = {p.name for p in tmp_path.iterdir()}
    result = invoke(["run", str(spec), "--quiet", "--out", str(out)])
    line = assert_usage_error(result, *needles)
    assert line.startswith(f"error: {spec}: ")
    assert_nothing_written(out, tmp_path, before)
    # validate reports the same message, and the API raises it as a SpecError
    assert assert_usage_error(invoke(["validate", str(spec)])) == line
    with pytest.raises(SpecError) as info:
        experiments.load_spec(spec)
    assert f"error: {info.value}" == line
    assert info.value.source == str(spec)


def test_the_base_spec_of_these_cases_is_valid(tmp_path: Path) -> None:
    spec = write(tmp_path, BASE)
    assert invoke(["validate", str(spec)]).exit_code == 0
    assert invoke(["validate", str(write(tmp_path, BASE + CLASSES, "c.toml"))]).exit_code == 0


# (id, extra arguments, message fragments); the spec is BASE (+ CLASSES for endpoint_class)
OPTION_CASES: list[tuple[str, list[str], tuple[str, ...]]] = [
    ("duration-garbage", ["--duration", "soon"], ("--duration", "'soon' is not a duration", "6h")),
    ("duration-zero", ["--duration", "0"], ("--duration", "finite duration > 0")),
    ("duration-negative", ["--duration", "-5m"], ("--duration", "finite duration > 0")),
    ("duration-overflow", ["--duration", "1e400"], ("--duration", "finite duration > 0")),
    (
        "duration-bad-unit",
        ["--duration", "6y"],
        ("--duration", "is not a duration", "s, m, h or d"),
    ),
    ("seed-negative", ["--seed", "-3"], ("--seed", "must be an integer in 0..2**63-1, got -3")),
    (
        "set-without-equals",
        ["--set", "scenario.seed"],
        ("--set scenario.seed", "section.key=value"),
    ),
    ("set-no-key", ["--set", "scenario=3"], ("--set scenario=3", "section.key=value")),
    (
        "set-unknown-section",
        ["--set", "radio.sf=7"],
        ("--set radio.sf=7", "unknown section 'radio'", "allowed: scenario, topology"),
    ),
    (
        "set-unknown-class",
        ["--set", "endpoint_class.NOPE.x=1"],
        ("--set endpoint_class.NOPE.x=1", "no endpoint class named 'NOPE'", "NAME one of a, b"),
    ),
    (
        "set-unknown-key",
        ["--set", "scenario.sede=2"],
        ("[scenario] sede (from --set scenario.sede=2)", "unknown key", "duration_s, name, seed"),
    ),
    (
        "set-unknown-nested-key",
        ["--set", "endpoint.lora.sff=9"],
        ("[endpoint] lora.sff (from --set endpoint.lora.sff=9)", "unknown key", "sf"),
    ),
    (
        "set-wrong-type",
        ["--set", "scenario.seed=abc"],
        ("[scenario] seed (from --set scenario.seed=abc)", 'must be an integer, got "abc"'),
    ),
    (
        "set-class-key-out-of-range",
        ["--set", "endpoint_class.a.lora.sf=4"],
        (
            '[[endpoint_class]] (name = "a") lora.sf (from --set endpoint_class.a.lora.sf=4)',
            "5..12",
        ),
    ),
    (
        "set-below-a-value",
        ["--set", "scenario.seed.x=1"],
        ("--set scenario.seed.x=1", "'seed' is 1, not a table"),
    ),
]


@pytest.mark.parametrize(
    ("args", "needles"), [c[1:] for c in OPTION_CASES], ids=[c[0] for c in OPTION_CASES]
)
def test_bad_option_is_one_message_exit_2_and_nothing_written(
    tmp_path: Path, args: list[str], needles: tuple[str, ...]
) -> None:
    spec = write(tmp_path, BASE + CLASSES)
    out = tmp_path / "results" / "out"
    before = {p.name for p in tmp_path.iterdir()}
    result = invoke(["run", str(spec), "--quiet", *args, "--out", str(out)])
    assert_usage_error(result, str(spec), *needles)
    assert_nothing_written(out, tmp_path, before)
    assert not out.parent.exists()


def test_an_override_that_repairs_the_file_is_not_blamed(tmp_path: Path) -> None:
    spec = write(tmp_path, replace("duration_s = 60", "duration_s = 0"))
    assert invoke(["validate", str(spec), "--set", "scenario.duration_s=30"]).exit_code == 0
    assert invoke(["validate", str(spec), "--duration", "30s"]).exit_code == 0
    # ... but a file error stays the file's even when overrides are given
    result = invoke(["validate", str(spec), "--set", "scenario.seed=4"])
    line = assert_usage_error(result, "[scenario] duration_s:")
    assert "--set" not in line


def test_missing_spec_file(tmp_path: Path) -> None:
    spec = tmp_path / "nope.toml"
    out = tmp_path / "out"
    result = invoke(["run", str(spec), "--out", str(out)])
    assert_usage_error(result, f"{spec}: file not found")
    assert list(tmp_path.iterdir()) == []


def test_spec_path_is_a_directory(tmp_path: Path) -> None:
    folder = tmp_path / "specs.toml"
    folder.mkdir()
    assert_usage_error(invoke(["run", str(folder)]), f"{folder}: is a directory, not a spec file")
    assert_usage_error(invoke(["validate", str(folder)]), f"{folder}: is a directory")
    assert [p.name for p in tmp_path.iterdir()] == ["specs.toml"]


def test_unreadable_spec_file(tmp_path: Path) -> None:
    spec = write(tmp_path, BASE)
    spec.chmod(0)
    try:
        try:
            spec.read_bytes()
        except PermissionError:
            pass
        else:
            pytest.skip("this user (root?) can read a chmod 000 file")
        assert_usage_error(invoke(["run", str(spec)]), f"{spec}: cannot be read", "ermission")
    finally:
        spec.chmod(0o644)


def test_spec_that_is_not_utf8(tmp_path: Path) -> None:
    spec = tmp_path / "latin1.toml"
    spec.write_bytes(b'[scenario]\nname = "caf\xe9"\n')
    assert_usage_error(invoke(["validate", str(spec)]), f"{spec}: cannot be read", "utf-8")


def csv_spec(folder: Path, csv_text: str | None, extra: str = "") -> tuple[Path, Path]:
    csv_path = folder / "nodes.csv"
    if csv_text is not None:
        csv_path.write_text(csv_text, encoding="utf-8")
    text = replace(
        'kind = "random"\nwidth_m = 200\nheight_m = 200\nbridges = 1\nendpoints = 5',
        'kind = "csv"\npath = "nodes.csv"',
    )
    return write(folder, text + extra), csv_path


def test_csv_topology_missing_file(tmp_path: Path) -> None:
    spec, csv_path = csv_spec(tmp_path, None)
    out = tmp_path / "out"
    before = {p.name for p in tmp_path.iterdir()}
    result = invoke(["run", str(spec), "--out", str(out)])
    assert_usage_error(result, f"{spec}: [topology] path: {csv_path}: file not found")
    assert_nothing_written(out, tmp_path, before)
    assert_usage_error(invoke(["validate", str(spec)]), f"{csv_path}: file not found")


@pytest.mark.parametrize(
    ("rows", "line", "needles"),
    [
        ("0,0,bridge\n10,abc,endpoint\n", 3, ("column 'y_m'", "'abc' is not a number")),
        ("0,0,bridge\n\n10,10,router\n", 4, ("column 'role'", "allowed: bridge, endpoint")),
        ("0,0,bridge\n10,10\n", 3, ("expected 3 fields",)),
        ("0,0,bridge\n-1,10,endpoint\n", 3, ("column 'x_m'", "negative")),
    ],
    ids=["not-a-number", "unknown-role-after-blank-line", "short-row", "negative"],
)
def test_csv_topology_bad_row_names_file_and_line(
    tmp_path: Path, rows: str, line: int, needles: tuple[str, ...]
) -> None:
    spec, csv_path = csv_spec(tmp_path, "x_m,y_m,role\n" + rows)
    out = tmp_path / "out"
    before = {p.name for p in tmp_path.iterdir()}
    result = invoke(["run", str(spec), "--out", str(out)])
    assert_usage_error(result, str(spec), "[topology] path", f"{csv_path}:{line}:", *needles)
    assert_nothing_written(out, tmp_path, before)


def test_csv_topology_unknown_class_names_file_and_line(tmp_path: Path) -> None:
    rows = "x_m,y_m,role,class\n0,0,bridge,\n\n5,5,endpoint,a\n10,10,endpoint,zz\n"
    spec, csv_path = csv_spec(tmp_path, rows, CLASSES)
    result = invoke(["validate", str(spec)])
    assert_usage_error(result, f"{csv_path}:5: column 'class': 'zz'", "allowed: a, b")


def test_csv_topology_relative_to_the_spec_file(tmp_path: Path) -> None:
    spec, _ = csv_spec(tmp_path, "x_m,y_m,role\n0,0,bridge\n10,10,endpoint\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run(
        [*SIDEMESH, "validate", str(spec)], cwd=elsewhere, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_out_is_an_existing_file(tmp_path: Path) -> None:
    spec = write(tmp_path, BASE)
    target = write(tmp_path, "keep me", "results")
    result = invoke(["run", str(spec), "--out", str(target)])
    assert_usage_error(result, f"--out {target}: exists and is not a folder")
    assert target.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results", "spec.toml"]


def test_out_below_an_existing_file(tmp_path: Path) -> None:
    spec = write(tmp_path, BASE)
    target = write(tmp_path, "keep me", "results")
    result = invoke(["run", str(spec), "--out", str(target / "a" / "b")])
    assert_usage_error(result, f"--out {target / 'a' / 'b'}: {target} is not a folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results", "spec.toml"]


def test_unknown_option_is_a_usage_error_without_traceback(tmp_path: Path) -> None:
    spec = write(tmp_path, BASE)
    result = invoke(["run", str(spec), "--sede", "3"])
    assert result.exit_code == 2
    assert "No such option" in result.stderr and "Traceback" not in result.stderr
    result = invoke(["run", str(spec), "--seed", "three"])
    assert result.exit_code == 2
    assert "'three' is not a valid integer" in result.stderr


# --- a real process: the console script (or python -m experiments) -----------------------------

_SCRIPT = shutil.which("sidemesh")
SIDEMESH = [_SCRIPT] if _SCRIPT else [sys.executable, "-m", "experiments"]


def run_process(args: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    return subprocess.run(
        [*SIDEMESH, *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=60
    )


def test_process_bad_spec_exit_2_one_line_no_traceback(tmp_path: Path) -> None:
    spec = write(tmp_path, replace("interval_s = 30", "interval_s = 30\nlora = { sff = 7 }"))
    out = tmp_path / "out"
    before = {p.name for p in tmp_path.iterdir()}
    result = run_process(["run", str(spec), "--out", str(out)], tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"error: {spec}: [endpoint] lora.sff: unknown key; allowed:")
    assert "Traceback" not in result.stderr
    assert_nothing_written(out, tmp_path, before)


def test_process_bad_csv_and_bad_duration(tmp_path: Path) -> None:
    _, csv_path = csv_spec(tmp_path, "x_m,y_m,role\n0,0,bridge\n1,2,3,4\n")
    result = run_process(["run", "spec.toml", "--quiet"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: spec.toml: [topology] path: {csv_path}:3: ")
    assert result.stderr.count("\n") == 1
    result = run_process(["run", "spec.toml", "--duration", "6 hours"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: spec.toml: --duration: '6 hours' is not a duration")
    assert "Traceback" not in result.stderr


def test_python_dash_m_experiments(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "experiments", "validate", "missing.toml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == "error: missing.toml: file not found\n"


# --- the Python API raises the same errors ------------------------------------------------------


def test_api_errors_name_source_and_key(tmp_path: Path) -> None:
    spec = write(tmp_path, BASE)
    with pytest.raises(SpecError) as info:
        experiments.load_spec(spec, ["endpoint.lora.sf=99"])
    assert info.value.source == str(spec)
    assert info.value.key == "[endpoint] lora.sf (from --set endpoint.lora.sf=99)"
    with pytest.raises(SpecError) as info:
        experiments.load_spec(spec, {"medium.capture": "yes"})
    assert info.value.key == '[medium] capture (from --set medium.capture="yes")'
    assert info.value.message == 'must be true or false, got "yes"'
    with pytest.raises(SpecError, match="--duration"):
        experiments.load_spec(spec, duration="forever")
    with pytest.raises(SpecError, match="--seed"):
        experiments.load_spec(spec, seed=2**63)
    with pytest.raises(SpecError, match="file not found"):
        experiments.load_spec(tmp_path / "missing.toml")


@pytest.mark.parametrize("text", ["", "h", "6 h s", "1e", "nan", "inf", "-1", "0", "0s", "--1"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        experiments.parse_duration(text)
