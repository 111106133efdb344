"""``sidemesh plot`` and ``sidemesh report`` for run and sweep folders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from experiments.cli import main
from experiments.sweep import load_sweep
from experiments.sweeprun import execute

SWEEP = """
[base.scenario]
duration_s = 300
seed = 2
[base.topology]
kind = "random"
width_m = 300
height_m = 300
bridges = 1
endpoints = 15
[base.endpoint]
link = "lora"
interval_s = 60
[sweep]
"topology.bridges" = [1, 2]
"endpoint.lora.sf" = [7, 9]
[replications]
count = 2
[metrics]
collect = ["pdr", "latency_s.p95"]
"""


def _invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run") / "out"
    result = _invoke(
        "run", "--quiet", "--duration", "10m", "--set", "topology.homes=60", "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def sweep_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sweep")
    (folder / "sweep.toml").write_text(SWEEP)
    execute(load_sweep(folder / "sweep.toml"), folder / "out", workers=1)
    return folder / "out"


def test_plot_run_folder_draws_every_run_figure(run_folder: Path) -> None:
    result = _invoke("plot", str(run_folder))
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (run_folder / "figures").iterdir())
    for stem in ("topology", "coverage", "latency_cdf", "battery_hist", "battery_map"):
        assert f"{stem}.png" in names and f"{stem}.svg" in names
        assert (run_folder / "figures" / f"{stem}.png").stat().st_size > 5000


def test_plot_sweep_folder_draws_one_curve_figure_per_metric(sweep_folder: Path) -> None:
    result = _invoke("plot", str(sweep_folder))
    assert result.exit_code == 0, result.output
    figures = sweep_folder / "figures"
    for metric in ("pdr", "latency_s_p95"):
        png = figures / f"sweep_{metric}.png"
        assert png.stat().st_size > 5000
        svg = (figures / f"sweep_{metric}.svg").read_text()
        assert "endpoint.lora.sf = 7" in svg and "endpoint.lora.sf = 9" in svg  # one per series


@pytest.mark.parametrize("which", ["run", "sweep"])
def test_report_holds_every_figure_and_opens_offline(
    which: str, run_folder: Path, sweep_folder: Path
) -> None:
    folder = run_folder if which == "run" else sweep_folder
    result = _invoke("report", str(folder))
    assert result.exit_code == 0, result.output
    text = (folder / "report.html").read_text()
    pngs = sorted((folder / "figures").glob("*.png"))
    images = re.findall(r"src='data:image/png;base64,", text)
    assert len(images) == len(pngs) > 0
    for png in pngs:
        assert f"<h2>{png.stem}</h2>" in text
    assert "http://" not in text and "https://" not in text  # nothing fetched
    assert "Versions" in text
    if which == "sweep":
        assert "pdr.ci_low" in text
    else:
        assert "endpoint_coverage" in text


def test_plot_and_report_refuse_other_folders(tmp_path: Path) -> None:
    for command in ("plot", "report"):
        result = CliRunner().invoke(main, [command, str(tmp_path)])
        assert result.exit_code == 2
        assert "neither a run folder" in result.output
