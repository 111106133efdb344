"""The ``sidemesh`` command line: the built-in default run, options and overrides taking effect,
the listings (radios, topologies, reference) and ``validate``; the Python API mirrors it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import experiments
from experiments.cli import main
from experiments.runner import summary_json

TINY = """\
[scenario]
name = "tiny"
duration_s = 600
seed = 3
[topology]
kind = "random"
width_m = 300
height_m = 300
bridges = 2
endpoints = 12
[propagation]
model = "log_distance"
[endpoint]
traffic = "poisson"
interval_s = 60
[[endpoint_class]]
name = "a"
share = 0.5
link = "lora"
lora = { sf = 7 }
[[endpoint_class]]
name = "b"
share = 0.5
link = "fsk"
"""


def invoke(args: Sequence[str]) -> Result:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result


def ok(args: Sequence[str]) -> Result:
    result = invoke(args)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY, encoding="utf-8")
    return path


def run_json(spec: Path, *args: str) -> dict[str, Any]:
    result = ok(["run", str(spec), "--quiet", "--json", *args])
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def resolved(spec: Path, *args: str) -> dict[str, Any]:
    """The tables ``sidemesh validate`` resolves (overrides applied)."""
    data: dict[str, Any] = json.loads(ok(["validate", str(spec), *args]).stdout)
    return data


# --- `sidemesh run` with no arguments: the built-in default scenario (run once, ~12 s) -----------


@pytest.fixture(scope="module")
def default_run() -> Result:
    return CliRunner().invoke(main, ["run", "--quiet"], catch_exceptions=False)


def test_run_without_arguments_runs_the_builtin_default(default_run: Result) -> None:
    assert default_run.exit_code == 0, default_run.output
    assert default_run.stderr == ""
    out = default_run.stdout
    assert out.startswith("scenario 'suburb-400'  seed 1  simulated 6 h  wall ")
    for label in (
        "packet delivery ratio",
        "endpoint coverage (PDR>=0.9)",
        "area coverage (",
        "latency mean",
        "latency p50 / p95 / p99",
        "energy per endpoint",
        "energy per delivered packet",
        "mean current",
        "battery life (median)",
    ):
        assert re.search(rf"^  {re.escape(label)}.*\d", out, re.MULTILINE), label
    assert re.search(r"^nodes: \d+ bridges, \d+ endpoints$", out, re.MULTILINE)
    assert re.search(r"^  packets: \d+ generated, \d+ delivered, \d+ frames sent$", out, re.M)
    # one row per class of the default spec, one line per link used
    for name, links in (("leak_sensor", "fsk"), ("tracker", "ble+lora"), ("lock", "lora")):
        assert re.search(rf"^  {name} +{re.escape(links)} +\d+ +[\d.]+% ", out, re.M), name
    for link in ("ble", "fsk", "lora"):
        assert re.search(rf"^  on {link} +\d+ packets, PDR [\d.]+%", out, re.MULTILINE), link
    assert re.search(r"^  downlinks: \d+ sent, \d+ delivered", out, re.MULTILINE)
    assert re.search(r"^  bridge load: mean [\d.]+ b/s", out, re.MULTILINE)
    assert re.search(r"^  privacy: IDs rotate 900 s", out, re.MULTILINE)
    assert "results written" not in out


def test_default_spec_file_equals_the_builtin(tmp_path: Path) -> None:
    builtin = experiments.load_spec(None)
    packaged = experiments.load_spec(Path(experiments.__file__).parent / "default.toml")
    assert builtin.config == packaged.config
    assert builtin.source == "<built-in default.toml>"


# --- options and overrides take effect ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("6h", 21600.0), ("90m", 5400.0), ("3600s", 3600.0), ("3600", 3600.0), ("1.5h", 5400.0)],
)
def test_duration_option_forms(tiny: Path, text: str, seconds: float) -> None:
    assert resolved(tiny, "--duration", text)["scenario"]["duration_s"] == seconds
    assert experiments.parse_duration(text) == seconds
    assert experiments.load_spec(tiny, duration=text).config.scenario.duration_s == seconds


def test_duration_and_seed_reach_the_summary(tiny: Path) -> None:
    base = run_json(tiny)
    assert (base["seed"], base["duration_s"]) == (3, 600.0)
    changed = run_json(tiny, "--duration", "1.5h", "--seed", "11")
    assert (changed["seed"], changed["duration_s"]) == (11, 5400.0)
    # about 12 endpoints x 5400 s / 60 s = 1080 packets instead of 120
    assert 900 < changed["packets"]["generated"] < 1300
    assert 80 < base["packets"]["generated"] < 170
    assert (
        run_json(tiny, "--duration", "90m", "--seed", "11")["packets"]["generated"]
        == (changed["packets"]["generated"])
    )


def test_seed_changes_the_draws(tiny: Path) -> None:
    a, b = run_json(tiny, "--seed", "1"), run_json(tiny, "--seed", "2")
    assert a["packets"] != b["packets"] or a["latency_s"] != b["latency_s"]
    assert run_json(tiny, "--seed", "1") == a


@pytest.mark.parametrize(
    ("override", "section", "key", "value"),
    [
        ("scenario.seed=7", "scenario", "seed", 7),
        ("scenario.duration_s=1.5e3", "scenario", "duration_s", 1500.0),
        ("medium.capture=false", "medium", "capture", False),
        ('scenario.name="two words"', "scenario", "name", "two words"),
        ("scenario.name=bare", "scenario", "name", "bare"),
        ('bridge.links=["lora", "fsk"]', "bridge", "links", ["lora", "fsk"]),
        ("endpoint.lora={ sf = 9, channels = 1 }", "endpoint", "lora", {"sf": 9, "channels": 1}),
        ("endpoint.lora.sf=9", "endpoint", "lora", {"sf": 9}),
        (" topology.endpoints = 4 ", "topology", "endpoints", 4),
    ],
)
def test_set_values_are_toml_typed(
    tiny: Path, override: str, section: str, key: str, value: object
) -> None:
    tables = resolved(tiny, "--set", override)
    assert tables[section][key] == value
    assert type(tables[section][key]) is type(value)


def test_set_class_key_and_nested_key(tiny: Path) -> None:
    tables = resolved(
        tiny, "--set", "endpoint_class.a.lora.sf=10", "--set", "endpoint_class.b.share=0.5"
    )
    assert tables["endpoint_class"][0]["lora"] == {"sf": 10}
    spec = experiments.load_spec(tiny, ["endpoint_class.a.lora.sf=10"])
    assert spec.config.endpoint_classes[0].lora.sf == 10
    assert spec.config.endpoint_classes[1].lora.sf == 7  # the default, untouched


def test_set_later_wins_and_options_win_over_set(tiny: Path) -> None:
    tables = resolved(tiny, "--set", "scenario.seed=5", "--set", "scenario.seed=6", "--seed", "9")
    assert tables["scenario"]["seed"] == 9
    assert (
        resolved(tiny, "--set", "scenario.seed=5", "--set", "scenario.seed=6")["scenario"]["seed"]
        == 6
    )


def test_set_takes_effect_in_the_run(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "sf9"
    ok(["run", str(tiny), "--quiet", "--set", "endpoint_class.a.lora.sf=9", "--out", str(out)])
    sf9 = json.loads((out / "summary.json").read_text())
    sf7 = run_json(tiny)
    run_info = json.loads((out / "run.json").read_text())
    assert run_info["spec"]["endpoint_class"][0]["lora"] == {"sf": 9}
    # SF9 packets stay on air ~3.6x longer: more transmit energy for the LoRa class only
    assert (
        sf9["by_class"]["a"]["energy_per_endpoint_mean_j"]
        > (sf7["by_class"]["a"]["energy_per_endpoint_mean_j"])
    )
    assert sf9["by_class"]["a"]["latency_s"]["mean"] > sf7["by_class"]["a"]["latency_s"]["mean"]
    # and a wholly different value for a scenario key
    renamed = run_json(tiny, "--set", "scenario.name=renamed", "--set", "topology.endpoints=4")
    assert renamed["scenario"] == "renamed"
    assert renamed["nodes"] == {"bridges": 2, "endpoints": 4}


def test_run_prints_where_results_went(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "r"
    result = ok(["run", str(tiny), "--quiet", "--out", str(out)])
    assert result.stdout.rstrip().endswith(f"results written to {out}/")
    assert result.stderr == ""


# --- the listings ------------------------------------------------------------------------------


def test_radios_lists_links_profiles_batteries_and_models() -> None:
    out = ok(["radios"]).stdout
    for heading in ("link lora", "link fsk", "link ble", "radio energy profiles:"):
        assert heading in out
    for key in ("lora.sf", "lora.bw_hz", "lora.coding_rate", "fsk.bitrate_bps", "ble.phy"):
        assert re.search(rf"^ +{re.escape(key)} ", out, re.MULTILINE), key
    for profile in ("nrf52840", "sx1262"):
        assert re.search(rf"^ +{profile} +[\d.]+ V; TX ", out, re.MULTILINE), profile
    assert "batteries ([endpoint] battery = NAME):" in out
    for battery in ("2xAA", "CR2032", "Li-SOCl2-AA"):
        assert re.search(rf"^ +{re.escape(battery)} +[\d.]+ mAh at ", out, re.MULTILINE)
    assert "propagation models ([propagation] model = NAME):" in out
    for model in ("disk", "free_space", "log_distance", "lorasim"):
        assert f"  {model}:\n" in out
    assert re.search(r"^ +range_m +1000 +m ", out, re.MULTILINE)


def test_topologies_lists_the_six_kinds_with_parameters() -> None:
    out = ok(["topologies"]).stdout
    kinds = re.findall(r'^\[topology\] kind = "(\w+)": \S', out, re.MULTILINE)
    assert kinds == ["grid", "random", "disk", "poisson", "suburb", "csv"]
    for key in (
        "bridge_spacing_m",
        "bridges",
        "radius_m",
        "bridge_density_per_km2",
        "homes",
        "path",
    ):
        assert re.search(rf"^ +{key} ", out, re.MULTILINE), key


def test_reference_is_markdown_covering_every_section() -> None:
    out = ok(["reference"]).stdout
    headings = re.findall(r"^#### `(.+)`$", out, re.MULTILINE)
    assert headings[0] == "[scenario]"
    for heading in (
        '[topology] kind = "csv"',
        '[propagation] model = "lorasim"',
        "[medium]",
        "[endpoint] and [[endpoint_class]]",
        "[bridge]",
        "[metrics]",
    ):
        assert heading in headings
    assert "| key | type | default | unit | meaning |" in out
    assert "| `lora.sf` | int | `7` |" in out


def test_validate_prints_resolved_tables_without_running(tiny: Path, tmp_path: Path) -> None:
    result = ok(["validate", str(tiny), "--set", "scenario.seed=4", "--duration", "2h"])
    tables = json.loads(result.stdout)
    assert tables["scenario"] == {"name": "tiny", "duration_s": 7200.0, "seed": 4}
    assert tables["topology"]["kind"] == "random"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.toml"]


def test_help_and_version() -> None:
    out = ok(["--help"]).stdout
    for command in ("run", "radios", "topologies", "reference", "validate"):
        assert re.search(rf"^  {command} ", out, re.MULTILINE), command
    run_help = ok(["run", "-h"]).stdout
    for option in ("--seed", "--duration", "--set", "--out", "--json", "--quiet"):
        assert option in run_help
    assert re.search(r"version \d+\.\d+", ok(["--version"]).stdout)


# --- the Python API mirrors the CLI -----------------------------------------------------------

_SCRIPT = shutil.which("sidemesh")
SIDEMESH = [_SCRIPT] if _SCRIPT else [sys.executable, "-m", "experiments"]


def test_api_gives_the_cli_summary(tiny: Path, tmp_path: Path) -> None:
    args = ["--seed", "5", "--duration", "15m", "--set", "endpoint_class.a.lora.sf=8"]
    cli = ok(["run", str(tiny), "--quiet", "--json", *args]).stdout
    spec = experiments.load_spec(tiny, ["endpoint_class.a.lora.sf=8"], seed=5, duration="15m")
    result = experiments.run(spec)
    assert summary_json(result.summary) == cli
    written = result.write(tmp_path / "api")
    assert (written / "summary.json").read_text() == cli
    # and a real process running the console script prints the very same bytes
    proc = subprocess.run(
        [*SIDEMESH, "run", str(tiny), "--quiet", "--json", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == cli
    assert proc.stderr == ""


def test_api_mapping_overrides_and_run_result(tiny: Path) -> None:
    spec = experiments.load_spec(tiny, {"topology.endpoints": 4, "scenario.name": "api"})
    result = experiments.run(spec)
    assert result.summary["nodes"] == {"bridges": 2, "endpoints": 4}
    assert result.summary["scenario"] == "api"
    assert result.wall_time_s >= 0
    assert result.spec is spec


def test_progress_bar_reports_simulated_time_and_eta(capsys) -> None:
    """The bar the CLI shows on a terminal: driven by the engine's progress callback."""
    from experiments.cli import _progress

    with _progress(True) as update:
        assert update is not None
        for k in range(1, 11):
            update(360.0 * k, 3600.0)
    err = capsys.readouterr().err
    assert "simulated" in err and "of 1.00 h" in err and "ETA" in err
    with _progress(False) as update:
        assert update is None
