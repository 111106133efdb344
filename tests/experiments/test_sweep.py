"""Sweeps: expansion, seeds, the results store and resume after a killed worker, executors,
aggregation and export."""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from experiments.aggregate import mean_ci
from experiments.cli import main
from experiments.results import export, table
from experiments.spec import SpecError
from experiments.store import Store, StoreError
from experiments.sweep import load_sweep
from experiments.sweeprun import execute

BASE = """
[base.scenario]
duration_s = 300
seed = 5
[base.topology]
kind = "random"
width_m = 300
height_m = 300
bridges = 2
endpoints = 20
[base.endpoint]
link = "lora"
interval_s = 60
"""


def _sweep(tmp_path: Path, text: str, name: str = "sweep.toml") -> Path:
    path = tmp_path / name
    path.write_text(BASE + text)
    return path


def test_grid_is_the_product_of_the_axes(tmp_path: Path) -> None:
    sweep = load_sweep(
        _sweep(
            tmp_path,
            '[sweep]\n"topology.bridges" = [1, 2]\n"endpoint.lora.sf" = [7, 8, 9]\n'
            "[replications]\ncount = 2\n",
        )
    )
    points = sweep.points
    assert len(points) == 6 and len(sweep.runs()) == 12
    assert points[0] == (("topology.bridges", 1), ("endpoint.lora.sf", 7))
    assert points[-1] == (("topology.bridges", 2), ("endpoint.lora.sf", 9))
    assert sweep.seeds == (5, 6)  # the base seed and the next ones


def test_zip_pairs_the_axes(tmp_path: Path) -> None:
    sweep = load_sweep(
        _sweep(
            tmp_path,
            '[sweep]\nmode = "zip"\n"topology.bridges" = [1, 2, 3]\n'
            '"endpoint.lora.sf" = [7, 8, 9]\n[replications]\nseeds = [11, 3]\n',
        )
    )
    assert [dict(p)["endpoint.lora.sf"] for p in sweep.points] == [7, 8, 9]
    assert [dict(p)["topology.bridges"] for p in sweep.points] == [1, 2, 3]
    assert [r.seed for r in sweep.runs()[:2]] == [11, 3]


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        (
            '[sweep]\nmode = "zip"\n"topology.bridges" = [1, 2]\n"endpoint.interval_s" = [1]\n',
            "[sweep] mode",
            "one length",
        ),
        ('[sweep]\nmode = "cube"\n', "[sweep] mode", "grid or zip"),
        ('[sweep]\n"topology.bridges" = []\n', "[sweep] topology.bridges", "non-empty"),
        ('[sweep]\n"endpoint.lora.sf" = [7, 99]\n', "[sweep] (endpoint.lora.sf = 99)", "sf"),
        ("[replications]\ncount = 0\n", "[replications] count", "1..100000"),
        ("[replications]\nseeds = [1, 1]\n", "[replications] seeds", "distinct"),
        ("[metrics]\ncollect = 3\n", "[metrics] collect", "list"),
        ("[extra]\nx = 1\n", "[extra]", "unknown section"),
    ],
)
def test_bad_sweeps_name_the_key(tmp_path: Path, text: str, key: str, message: str) -> None:
    with pytest.raises(SpecError) as err:
        load_sweep(_sweep(tmp_path, text))
    assert err.value.key == key
    assert message in str(err.value)


def test_base_file_relative_to_the_sweep(tmp_path: Path) -> None:
    (tmp_path / "scenario.toml").write_text(BASE.replace("[base.", "["))
    path = tmp_path / "s.toml"
    path.write_text('base = "scenario.toml"\n[sweep]\n"topology.bridges" = [1, 3]\n')
    sweep = load_sweep(path)
    assert len(sweep.runs()) == 2
    path.write_text('base = "missing.toml"\n')
    with pytest.raises(SpecError, match="not found"):
        load_sweep(path)


def _cli_sweep(spec: Path, out: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "experiments",
            "sweep",
            str(spec),
            "--out",
            str(out),
            "--quiet",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def _stored(out: Path) -> int:
    db = out / "results.sqlite"
    if not db.is_file():
        return 0
    try:
        with sqlite3.connect(db) as con:
            return int(con.execute("SELECT COUNT(*) FROM runs").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def test_killed_worker_loses_no_finished_run_and_resume_matches(tmp_path: Path) -> None:
    spec = _sweep(
        tmp_path,
        '[sweep]\n"topology.bridges" = [1, 2, 3, 4]\n[replications]\ncount = 3\n'
        "[base.metrics]\ncoverage_pdr_threshold = 0.9\n",
    )
    # a reference, uninterrupted
    reference = tmp_path / "ref"
    assert execute(load_sweep(spec), reference, workers=1).ran == 12
    # the same sweep in a real process; one of its workers is killed mid-sweep
    out = tmp_path / "out"
    proc = _cli_sweep(spec, out, "--workers", "2")
    deadline = time.monotonic() + 120
    while _stored(out) < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    children = subprocess.run(
        ["pgrep", "-P", str(proc.pid)], capture_output=True, text=True
    ).stdout.split()
    assert children, "the sweep finished before a worker could be killed"
    os.kill(int(children[0]), signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    stored = _stored(out)
    assert proc.returncode == 1, err
    assert b"worker process died" in err and b"Traceback" not in err
    assert 3 <= stored < 12
    # resume: only the missing runs, and every row equals the uninterrupted one
    outcome = execute(load_sweep(spec), out, workers=2)
    assert outcome.skipped == stored and outcome.ran == 12 - stored
    ref_rows = {(r["point"], r["replication"]): r for r in table(reference)}
    rows = {(r["point"], r["replication"]): r for r in table(out)}
    assert rows.keys() == ref_rows.keys()
    for key, row in rows.items():
        for name in ("seed", "config_hash", "pdr", "latency_s.p95", "topology.bridges"):
            assert row[name] == ref_rows[key][name], (key, name)


def test_dask_local_cluster_and_process_pool_store_identical_rows(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    spec = _sweep(tmp_path, '[sweep]\n"topology.bridges" = [1, 3]\n[replications]\ncount = 2\n')
    sweep = load_sweep(spec)
    execute(sweep, tmp_path / "pool", workers=2)
    execute(sweep, tmp_path / "dask", workers=2, executor="dask")
    pool, dask = table(tmp_path / "pool"), table(tmp_path / "dask")
    for a, b in zip(pool, dask, strict=True):
        a.pop("wall_time_s")
        b.pop("wall_time_s")
        assert a == b


def test_another_sweep_into_the_same_folder_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    execute(load_sweep(_sweep(tmp_path, '[sweep]\n"topology.bridges" = [1]\n')), out, workers=1)
    other = load_sweep(_sweep(tmp_path, '[sweep]\n"topology.bridges" = [2]\n', "b.toml"))
    with pytest.raises(StoreError, match="another sweep"):
        execute(other, out, workers=1)
    result = CliRunner().invoke(main, ["sweep", str(tmp_path / "b.toml"), "--out", str(out)])
    assert result.exit_code == 2 and "another sweep" in result.output


def test_export_round_trips(tmp_path: Path) -> None:
    spec = _sweep(tmp_path, '[sweep]\n"topology.bridges" = [1, 2]\n[replications]\ncount = 2\n')
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["sweep", str(spec), "--out", str(out), "--workers", "1"])
    assert result.exit_code == 0, result.output
    rows = table(out)
    assert len(rows) == 4
    result = CliRunner().invoke(
        main, ["results", "export", str(out), "-o", str(tmp_path / "r.csv")]
    )
    assert result.exit_code == 0 and "4 runs" in result.output
    with open(tmp_path / "r.csv", newline="") as fh:
        back = list(csv.DictReader(fh))
    assert [float(r["pdr"]) for r in back] == [r["pdr"] for r in rows]
    assert [int(r["seed"]) for r in back] == [r["seed"] for r in rows]
    pq = pytest.importorskip("pyarrow.parquet")
    export(out, "parquet", tmp_path / "r.parquet")
    columns = pq.read_table(tmp_path / "r.parquet").to_pydict()
    assert columns["pdr"] == [r["pdr"] for r in rows]
    assert columns["topology.bridges"] == [1, 1, 2, 2]
    pd = pytest.importorskip("pandas")
    from experiments.results import dataframe

    frame = dataframe(out)
    assert isinstance(frame, pd.DataFrame) and list(frame["pdr"]) == [r["pdr"] for r in rows]
    aggregate = (out / "aggregate.csv").read_text().splitlines()
    assert len(aggregate) == 3 and "pdr.ci_low" in aggregate[0]


def test_export_errors_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["results", "export", str(tmp_path), "-o", "x.csv"])
    assert result.exit_code == 2 and "not a sweep output folder" in result.output


def test_confidence_interval_covers_the_mean_at_its_rate() -> None:
    rng = np.random.default_rng(12)
    trials, hits = 4000, 0
    for _ in range(trials):
        _, low, high = mean_ci(rng.normal(3.0, 2.0, size=5))
        hits += low <= 3.0 <= high
    # 95 % nominal; the binomial standard error over 4000 trials is 0.35 %
    assert hits / trials == pytest.approx(0.95, abs=0.012)
    assert np.isnan(mean_ci([1.0])[1])


def test_store_keeps_rows_across_reopening(tmp_path: Path) -> None:
    spec = _sweep(tmp_path, '[sweep]\n"topology.bridges" = [1, 2]\n')
    sweep = load_sweep(spec)
    execute(sweep, tmp_path / "out", workers=1)
    store = Store(tmp_path / "out", sweep.digest)
    try:
        assert store.done() == {(0, 0), (1, 0)}
    finally:
        store.close()


def test_sweep_runs_on_an_existing_dask_scheduler(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    spec = _sweep(tmp_path, '[sweep]\n"topology.bridges" = [1, 2]\n')
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster:
        result = CliRunner().invoke(
            main,
            [
                "sweep",
                str(spec),
                "--out",
                str(tmp_path / "out"),
                "--scheduler",
                cluster.scheduler_address,
                "--quiet",
            ],
        )
    assert result.exit_code == 0, result.output
    assert len(table(tmp_path / "out")) == 2


def test_unreachable_scheduler_exits_2(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    spec = _sweep(tmp_path, '[sweep]\n"topology.bridges" = [1]\n')
    result = CliRunner().invoke(
        main,
        [
            "sweep",
            str(spec),
            "--out",
            str(tmp_path / "out"),
            "--scheduler",
            "tcp://127.0.0.1:9",
            "--quiet",
        ],
    )
    assert result.exit_code == 2 and "cannot connect" in result.output
