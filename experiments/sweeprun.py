"""Running a sweep: every (point, replication) not yet in the store, on a local process pool
or a Dask cluster, each finished run committed to the store as it arrives.

Executors:
- ``process`` (default): ``concurrent.futures.ProcessPoolExecutor`` with ``workers`` processes
  (default: all cores).
- ``dask``: a ``dask.distributed`` cluster, ``scheduler`` = ``tcp://host:8786`` for an existing
  one, or a ``LocalCluster`` of ``workers`` single-threaded worker processes. Needs the ``dask``
  extra (``pip install 'sidemesh[dask]'``).

A run's result depends only on the sweep spec (its seed is the spec's, see
``experiments.sweep``), so both executors store identical rows. The results of finished runs
are written by this (the client) process, one transaction each; when a worker dies or the sweep
is interrupted, every run already stored stays, and ``--resume`` (the default) runs only the
others.

After the runs, ``aggregate.csv`` and ``aggregate.json`` (mean and 95 % CI per point,
``experiments.aggregate``) are written atomically.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from experiments.aggregate import aggregate
from experiments.results import csv_text
from experiments.runner import versions, write_atomic
from experiments.store import Row, Store
from experiments.summary import summarize
from experiments.sweep import Run, Sweep, config_hash, metric
from mesh.simulation import simulate

EXECUTORS = ("process", "dask")


class ExecutorError(Exception):
    """The executor cannot be used (extra missing, scheduler unreachable)."""


@dataclass(frozen=True)
class Outcome:
    total: int
    skipped: int  # already in the store
    ran: int


def run_one(sweep: Sweep, run: Run) -> Row:
    """Simulate one run of ``sweep`` (in a worker) and return its row."""
    started = time.perf_counter()
    spec = sweep.spec_of(run)
    summary = summarize(simulate(spec.config, topology=spec.topology))
    return Row(
        point=run.point,
        replication=run.replication,
        seed=run.seed,
        axis_values=dict(run.values),
        config_hash=config_hash(spec),
        config=dict(spec.data),
        metrics={name: metric(summary, name) for name in sweep.metrics},
        summary=dict(summary),
        versions=versions(),
        wall_time_s=round(time.perf_counter() - started, 3),
        status="done",
    )


def execute(
    sweep: Sweep,
    out_dir: Path,
    workers: int | None = None,
    executor: str = "process",
    scheduler: str | None = None,
    resume: bool = True,
    on_row: Callable[[Row], None] | None = None,
    on_start: Callable[[int, int], None] | None = None,
) -> Outcome:
    """Run the sweep's missing runs and store them; ``on_start(total, already_done)`` and
    ``on_row(row)`` report progress."""
    store = Store(out_dir, sweep.digest)
    try:
        done = store.done() if resume else set()
        todo = [r for r in sweep.runs() if (r.point, r.replication) not in done]
        total = len(sweep.runs())
        if on_start is not None:
            on_start(total, total - len(todo))
        ran = 0
        for row in run_rows(sweep, todo, workers, executor, scheduler):
            store.put(row)
            ran += 1
            if on_row is not None:
                on_row(row)
        write_aggregate(store, sweep, out_dir)
        return Outcome(total, total - len(todo), ran)
    finally:
        store.close()


def run_rows(
    sweep: Sweep,
    runs: list[Run],
    workers: int | None = None,
    executor: str = "process",
    scheduler: str | None = None,
) -> Generator[Row, None, None]:
    """Simulate ``runs`` of ``sweep`` on the executor and yield their rows as they finish (no
    store: ``execute`` keeps them, a regression check compares them). Close the generator to
    stop early: the pool's runs not yet started are cancelled."""
    submit = _dask if executor == "dask" else _pool
    yield from submit(sweep, runs, workers or os.cpu_count() or 1, scheduler)


def _pool(sweep: Sweep, todo: list[Run], workers: int, scheduler: str | None) -> Iterator[Row]:
    if not todo:
        return
    pool = ProcessPoolExecutor(max_workers=min(workers, len(todo)))
    try:
        pending: set[Future[Row]] = {pool.submit(run_one, sweep, run) for run in todo}
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            # a worker's failure raises here; rows of one batch go in (point, replication) order
            rows = sorted((f.result() for f in finished), key=lambda r: (r.point, r.replication))
            yield from rows
    except BaseException:  # a failed run, Ctrl-C, or the caller stopped early: do not wait
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    # every run is done: join the workers, so that no half-closed pool is left for the
    # interpreter's exit handler (several pools in one process, as a regression check has)
    pool.shutdown(wait=True)


def _dask(sweep: Sweep, todo: list[Run], workers: int, scheduler: str | None) -> Iterator[Row]:
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ExecutorError(
            "--executor dask needs the dask extra: pip install 'sidemesh[dask]'"
        ) from None
    if not todo:
        return
    cluster = None
    try:
        if scheduler is not None:
            client = Client(scheduler, timeout="10s")
        else:
            cluster = LocalCluster(
                n_workers=min(workers, len(todo)),
                threads_per_worker=1,
                processes=True,
                # a free port: None means the default 8787, which a second sweep (or any
                # other Dask cluster on the machine) already holds
                dashboard_address=":0",
            )
            client = Client(cluster)
    except OSError as err:
        raise ExecutorError(f"--scheduler {scheduler}: cannot connect ({err})") from None
    try:
        futures = [client.submit(run_one, sweep, run, pure=False) for run in todo]
        for future in as_completed(futures):
            yield future.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def write_aggregate(store: Store, sweep: Sweep, out_dir: Path) -> list[dict[str, Any]]:
    """Write ``aggregate.json`` and ``aggregate.csv`` from the stored runs."""
    records = aggregate(store.rows(), sweep.metrics)
    write_atomic(out_dir / "aggregate.json", json.dumps(records, indent=2, sort_keys=True) + "\n")
    write_atomic(out_dir / "aggregate.csv", csv_text(records))
    return records
