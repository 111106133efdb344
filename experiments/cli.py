"""The ``sidemesh`` command line: a thin edge that parses arguments and calls the API.

Bad input of any kind (spec file, override, CSV topology, output folder) prints one message naming
the file, the key and what is allowed, exits with status 2 and writes nothing. ``baseline`` and
``check`` exit with status 3 when the machinery fails rather than the input (a worker died, a run
crashed, an output could not be written after the runs), so that 1 always means "regressed".
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import click

import topologies
from experiments import reference
from experiments import regression_report as check_output
from experiments.catalog import REPRODUCTIONS, reproduce
from experiments.compare import compare, table_text
from experiments.compare import write as write_comparison
from experiments.regression import (
    DEFAULT_ALPHA,
    DEFAULT_RUNS,
    MAX_SEED,
    MIN_RUNS,
    Measurement,
    RegressionError,
    baseline_rules,
    check_rules,
    load_baseline,
    make_baseline,
    measure,
    seeds_of,
    updated,
    zero_mean_relative,
)
from experiments.regression import report as check_report
from experiments.report import ReportError, write_report
from experiments.report import figures as report_figures
from experiments.results import FORMATS, ExportError, export
from experiments.runner import (
    RunResult,
    run,
    summary_json,
    write_atomic,
    write_atomic_all,
    write_folder,
)
from experiments.signflip import min_pairs
from experiments.spec import Spec, SpecError, load_spec, parse_duration
from experiments.store import Row, Store, StoreError
from experiments.sweep import load_sweep
from experiments.sweeprun import EXECUTORS, ExecutorError, execute
from mesh.config import STRATEGIES
from mesh.context import make_streams
from mesh.faults import FaultError
from mesh.faults import check_nodes as check_fault_nodes
from mesh.simulation import SimulationError
from topologies.base import ROLE_BRIDGE, TopologyError


class UsageFailure(click.ClickException):
    """Bad input: message on stderr, exit status 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class _Main(click.Group):
    """The command group; remembers the arguments it was given (for ``run.json``)."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        argv = list(args)
        ctx = super().make_context(info_name, args, parent, **extra)
        ctx.meta[_ARGV] = argv
        return ctx


_ARGV = "sidemesh.argv"


def _command_line() -> list[str]:
    ctx = click.get_current_context(silent=True)
    argv = ctx.meta.get(_ARGV, sys.argv[1:]) if ctx is not None else sys.argv[1:]
    return ["sidemesh", *argv]


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sidemesh")
def main() -> None:
    """sidemesh: emulate Sidewalk-style neighbourhood networks of BLE/FSK/LoRa bridges and
    battery endpoints, and report coverage, latency and energy."""


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[float, float], None] | None]:
    if not enabled:
        yield None
        return
    started = time.perf_counter()
    with click.progressbar(length=1000, label="simulating", file=sys.stderr, show_eta=False) as bar:
        last = [0]

        def update(sim_s: float, duration_s: float) -> None:
            done = min(1000, int(1000 * sim_s / duration_s))
            elapsed = time.perf_counter() - started
            eta = elapsed * (1000 - done) / done if done else 0.0
            bar.label = (
                f"simulated {sim_s / 3600:6.2f} h of {duration_s / 3600:.2f} h, ETA {eta:5.1f} s"
            )
            bar.update(done - last[0])
            last[0] = done

        yield update


def _load(
    spec: Path | None,
    overrides: tuple[str, ...],
    seed: int | None = None,
    duration: str | None = None,
) -> Spec:
    try:
        return load_spec(spec, overrides, seed=seed, duration=duration)
    except SpecError as err:
        raise UsageFailure(str(err)) from None


def _check_out_dir(out_dir: Path) -> None:
    """Refuse an output folder that cannot be created, before spending time on the run."""
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageFailure(
            f"--out {out_dir}: exists and is not a folder; give a new or existing folder"
        )
    _check_writable(out_dir, f"--out {out_dir}")


def _check_out_file(path: Path, option: str) -> None:
    """Refuse an output file that cannot be written, before spending time on the runs."""
    if path.is_dir():
        raise UsageFailure(f"{option} {path}: is a folder; give a file name")
    _check_writable(path, f"{option} {path}")


def _check_writable(target: Path, label: str) -> None:
    """``target`` (a file or folder) can be made: its nearest existing ancestor is a folder we
    may write in."""
    ancestor = target.absolute().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UsageFailure(f"{label}: {ancestor} is not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise UsageFailure(f"{label}: no permission to write in {ancestor}")


def spec_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options that change a spec, shared by ``run`` and ``validate``."""
    return click.option(
        "--seed", type=int, help="Seed of every random stream (overrides [scenario] seed)."
    )(scenario_options(command))


def scenario_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--duration`` and ``--set``: the spec options of ``check``, whose seeds are the
    baseline's."""
    for option in reversed(
        (
            click.option(
                "--duration", help="Simulated time, e.g. 6h, 90m, 3600s (overrides duration_s)."
            ),
            click.option(
                "--set",
                "overrides",
                multiple=True,
                metavar="SECTION.KEY=VALUE",
                help="Override one spec key; VALUE in TOML syntax. Repeatable.",
            ),
        )
    ):
        command = option(command)
    return command


@main.command("run")
@click.argument("spec", required=False, type=click.Path(path_type=Path))
@spec_options
@click.option("--out", "out_dir", type=click.Path(path_type=Path), help="Write results here.")
@click.option("--json", "as_json", is_flag=True, help="Print summary.json instead of the table.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def run_command(
    spec: Path | None,
    seed: int | None,
    duration: str | None,
    overrides: tuple[str, ...],
    out_dir: Path | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Run SPEC (default: the built-in suburb scenario) and print a summary."""
    loaded = _load(spec, overrides, seed, duration)
    if out_dir is not None:
        _check_out_dir(out_dir)
    show_progress = not quiet and sys.stderr.isatty()
    try:
        with _progress(show_progress) as progress:
            result = run(loaded, progress=progress, command=_command_line())
    except TopologyError as err:
        raise UsageFailure(f"{loaded.source}: [topology]: {err}") from None
    except SimulationError as err:
        raise UsageFailure(f"{loaded.source}: {err}") from None
    if out_dir is not None:
        try:
            result.write(out_dir)
        except OSError as err:
            raise UsageFailure(f"--out {out_dir}: cannot write ({err.strerror or err})") from None
    if as_json:
        click.echo(summary_json(result.summary), nl=False)
    else:
        click.echo(format_summary(result))
        if out_dir is not None:
            click.echo(f"\nresults written to {out_dir}/")


RELAY_SPEC = "relay-suburb.toml"


@main.command("compare")
@click.argument("spec", required=False, type=click.Path(path_type=Path))
@spec_options
@click.option(
    "--strategies",
    default=",".join(STRATEGIES),
    show_default=True,
    help="Comma-separated [routing] strategies to run.",
)
@click.option("--out", "out_dir", type=click.Path(path_type=Path), help="Write results here.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress lines.")
def compare_command(
    spec: Path | None,
    seed: int | None,
    duration: str | None,
    overrides: tuple[str, ...],
    strategies: str,
    out_dir: Path | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Run SPEC (default: the built-in relay-suburb scenario) once per relaying strategy, on
    the same topology and seed, and print coverage, latency and energy side by side."""
    names = [s.strip() for s in strategies.split(",") if s.strip()]
    unknown = [s for s in names if s not in STRATEGIES]
    if not names or unknown:
        raise UsageFailure(
            f"--strategies: unknown {', '.join(unknown) or '(none given)'}; "
            f"allowed: {', '.join(STRATEGIES)}"
        )
    path = spec if spec is not None else Path(str(resources.files("experiments") / RELAY_SPEC))
    _load(path, overrides, seed, duration)  # report a bad spec before running anything
    if out_dir is not None:
        _check_out_dir(out_dir)

    def done(strategy: str, result: RunResult) -> None:
        if not quiet:
            click.echo(f"{strategy}: done in {result.wall_time_s:.1f} s", err=True)

    try:
        comparison = compare(path, names, overrides, seed, duration, on_done=done)
    except SpecError as err:
        raise UsageFailure(str(err)) from None
    except (TopologyError, SimulationError) as err:
        raise UsageFailure(f"{path}: {err}") from None
    if out_dir is not None:
        try:
            write_comparison(comparison, out_dir)
        except OSError as err:
            raise UsageFailure(f"--out {out_dir}: cannot write ({err.strerror or err})") from None
    if as_json:
        click.echo(json.dumps(comparison.rows, indent=2, sort_keys=True))
    else:
        click.echo(table_text(comparison.rows))
        if out_dir is not None:
            click.echo(f"\nresults written to {out_dir}/")


@main.command("sweep")
@click.argument("spec", type=click.Path(path_type=Path))
@click.option(
    "--out", "out_dir", type=click.Path(path_type=Path), required=True, help="Output folder."
)
@click.option("--workers", type=click.IntRange(min=1), help="Processes (default: all cores).")
@click.option(
    "--executor",
    type=click.Choice(EXECUTORS),
    default="process",
    show_default=True,
    help="Local process pool, or a Dask cluster (a local one unless --scheduler).",
)
@click.option("--scheduler", metavar="tcp://HOST:PORT", help="Run on this Dask scheduler.")
@click.option(
    "--resume/--no-resume",
    default=True,
    show_default=True,
    help="Skip the runs already in the folder's store (--no-resume reruns them all).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def sweep_command(
    spec: Path,
    out_dir: Path,
    workers: int | None,
    executor: str,
    scheduler: str | None,
    resume: bool,
    quiet: bool,
) -> None:
    """Run the sweep SPEC (a base scenario, axes, replications) into OUT: results.sqlite (one
    row per run), aggregate.csv and aggregate.json (mean and 95 % CI per point)."""
    try:
        sweep = load_sweep(spec)
    except SpecError as err:
        raise UsageFailure(str(err)) from None
    if scheduler is not None:
        executor = "dask"
    _check_out_dir(out_dir)
    show = not quiet and sys.stderr.isatty()
    bar: Any = None

    def started(total: int, done: int) -> None:
        nonlocal bar
        if done:
            click.echo(f"resuming: {done} of {total} runs already stored", err=True)
        if show:
            from tqdm import tqdm

            bar = tqdm(total=total, initial=done, unit="run", file=sys.stderr)

    def finished(row: Row) -> None:
        if bar is not None:
            bar.update(1)

    try:
        outcome = execute(
            sweep, out_dir, workers, executor, scheduler, resume, on_row=finished, on_start=started
        )
    except (StoreError, ExecutorError) as err:
        raise UsageFailure(str(err)) from None
    except BrokenProcessPool:
        stored = len(Store(out_dir).done())
        raise click.ClickException(
            f"a worker process died: {stored} runs are stored in {out_dir}; run the same "
            "command again to resume"
        ) from None
    except KeyboardInterrupt:
        stored = len(Store(out_dir).done())
        click.echo(
            f"\ninterrupted: {stored} runs are stored in {out_dir}; run the same command again "
            "to resume",
            err=True,
        )
        sys.exit(130)
    finally:
        if bar is not None:
            bar.close()
    click.echo(
        f"{outcome.ran} runs done, {outcome.skipped} already stored, {outcome.total} in all; "
        f"results in {out_dir}/ (results.sqlite, aggregate.csv, aggregate.json)"
    )


@main.group("results")
def results_group() -> None:
    """Read a sweep's results store."""


@results_group.command("export")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True)
def results_export_command(folder: Path, fmt: str, output: Path) -> None:
    """Write one row per run of the sweep in FOLDER (axis values and metrics) to a file."""
    try:
        n = export(folder, fmt, output)
    except (StoreError, ExportError) as err:
        raise UsageFailure(str(err)) from None
    except OSError as err:
        raise UsageFailure(f"-o {output}: cannot write ({err.strerror or err})") from None
    click.echo(f"{n} runs written to {output}")


@main.command("plot")
@click.argument("folder", type=click.Path(path_type=Path))
def plot_command(folder: Path) -> None:
    """Draw the figures of a run folder (sidemesh run --out) or a sweep folder (sidemesh sweep
    --out) into FOLDER/figures, as PNG and SVG. A run is simulated again from its run.json (same
    spec and seed, the same run)."""
    try:
        paths = report_figures(folder)
    except (ReportError, SpecError) as err:
        raise UsageFailure(str(err)) from None
    click.echo(f"{len(paths)} files written to {folder / 'figures'}/")


@main.command("report")
@click.argument("folder", type=click.Path(path_type=Path))
def report_command(folder: Path) -> None:
    """Write FOLDER/report.html: every figure inline, the summary or aggregate table, the spec
    and the versions, in one file that opens offline."""
    try:
        path = write_report(folder)
    except (ReportError, SpecError) as err:
        raise UsageFailure(str(err)) from None
    click.echo(f"report written to {path}")


@main.command("catalog")
@click.argument("names", nargs=-1)
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True)
@click.option("--workers", type=click.IntRange(min=1), help="Processes (default: all cores).")
@click.option("--quick", is_flag=True, help="Two replications per point instead of all.")
def catalog_command(
    names: tuple[str, ...], out_dir: Path, workers: int | None, quick: bool
) -> None:
    """Run the catalog's reproductions (default: all) into OUT/<name> and compare them with
    their references; exit 1 when a point is outside its tolerance."""
    unknown = [n for n in names if n not in REPRODUCTIONS]
    if unknown:
        raise UsageFailure(
            f"unknown reproduction {', '.join(unknown)}; the catalog has: "
            f"{', '.join(REPRODUCTIONS)}"
        )
    _check_out_dir(out_dir)
    failed = 0
    for name in names or tuple(REPRODUCTIONS):
        entry = REPRODUCTIONS[name]
        rows = reproduce(entry, out_dir / name, workers, quick)
        click.echo(f"{entry.title} ({entry.source}), tolerance {entry.tolerance:g}:")
        for row in rows:
            verdict = "ok" if row["within_tolerance"] else "OUT OF TOLERANCE"
            curve = f"{row['curve']}: " if len(entry.curves) > 1 else ""
            quoted = "" if row["published"] is None else f"  (published {row['published']:g})"
            click.echo(
                f"  {curve}{entry.axis} = {row['x']!s:>8}  simulated {_num(row['mean'], '.4f')} "
                f"[{_num(row['ci_low'], '.4f')}, {_num(row['ci_high'], '.4f')}]  reference "
                f"{row['reference']:.4f}  {verdict}{quoted}"
            )
            failed += not row["within_tolerance"]
    if failed:
        raise click.ClickException(f"{failed} points outside their tolerance")


def regression_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options shared by ``baseline`` and ``check``."""
    for option in reversed(
        (
            click.option(
                "--metric",
                "metrics",
                multiple=True,
                metavar="NAME[:higher|lower]",
                help="A tracked metric (dotted path into summary.json). Repeatable.",
            ),
            click.option(
                "--tolerance",
                "tolerances",
                multiple=True,
                metavar="NAME=VALUE",
                help="Tolerance of a metric: a number in its unit (area_coverage=0.01) or a "
                "share of the baseline (latency_s.p95=5%). Repeatable.",
            ),
            click.option(
                "--workers", type=click.IntRange(min=1), help="Processes (default: all cores)."
            ),
            click.option("--quiet", "-q", is_flag=True, help="No progress bar."),
        )
    ):
        command = option(command)
    return command


class InfrastructureFailure(click.ClickException):
    """Not a verdict and not bad input: a worker died, a run crashed, an output could not be
    written after the runs. Message on stderr, exit status 3."""

    exit_code = 3

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


#: Exit statuses of ``baseline`` and ``check`` (README: Coverage regression checks in CI).
EXIT_REGRESSED = 1
EXIT_INFRASTRUCTURE = 3
EXIT_INTERRUPTED = 130


def _measure(
    spec: Spec, seeds: tuple[int, ...], names: list[str], workers: int | None, quiet: bool
) -> Measurement:
    """Run ``spec`` once per seed on the process pool (bad input: exit 2; a dead worker or a
    crashed run: exit 3; Ctrl-C: 130)."""
    bar: Any = None
    if not quiet and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=len(seeds), unit="run", file=sys.stderr)
    try:
        return measure(spec, seeds, names, workers, on_run=bar.update if bar else None)
    except RegressionError as err:
        raise UsageFailure(f"{spec.source}: {err}") from None
    except SpecError as err:
        raise UsageFailure(str(err)) from None
    except TopologyError as err:
        raise UsageFailure(f"{spec.source}: [topology]: {err}") from None
    except SimulationError as err:
        raise UsageFailure(f"{spec.source}: {err}") from None
    except BrokenProcessPool as err:
        raise InfrastructureFailure(
            f"a worker process died ({err}); nothing was compared. This is not a regression: "
            "run the same command again (fewer --workers if the machine ran out of memory)"
        ) from None
    except KeyboardInterrupt:
        click.echo("\ninterrupted: nothing was compared or written", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as err:  # a crash inside a run: sidemesh's fault, not the spec's
        raise InfrastructureFailure(
            f"a run of {spec.source} crashed ({type(err).__name__}: {err}); nothing was "
            "compared. This is not a regression but a fault of sidemesh or the machine: "
            "report it with the command line"
        ) from None
    finally:
        if bar is not None:
            bar.close()


def _write_outputs(files: list[tuple[Path, str, str]], verdict: str) -> None:
    """Write ``(path, text, option)`` files all or none, after the runs (every target was
    checked before them): a failure now is exit 3, and says what the check found."""
    try:
        write_atomic_all([(path, text) for path, text, _ in files])
    except OSError as err:
        option, path = next(
            ((o, p) for p, _, o in files if str(p) == err.filename), ("output", err.filename)
        )
        raise InfrastructureFailure(
            f"{option} {path}: cannot write ({err.strerror or err}); no output file was "
            f"written. {verdict}"
        ) from None


@main.command("baseline")
@click.argument("spec", type=click.Path(path_type=Path))
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), required=True, help="Baseline file."
)
@click.option(
    "--runs",
    type=click.IntRange(min=MIN_RUNS),
    default=DEFAULT_RUNS,
    show_default=True,
    help="Seeds: the spec's seed and the next ones. A check at the default alpha over m "
    "metrics can fail only with 2^-runs <= 0.01 / m (9 or more for the default five).",
)
@spec_options
@regression_options
def baseline_command(
    spec: Path,
    output: Path,
    runs: int,
    seed: int | None,
    duration: str | None,
    overrides: tuple[str, ...],
    metrics: tuple[str, ...],
    tolerances: tuple[str, ...],
    workers: int | None,
    quiet: bool,
) -> None:
    """Run SPEC over RUNS seeds and write OUTPUT: per tracked metric its direction, tolerance,
    mean, spread and value per seed, with the seeds, the spec hash and the tool versions.
    Default metrics: endpoint_coverage, area_coverage, pdr, latency_s.p95,
    energy.battery_life_days. Exit 0 when written, 2 on bad input (nothing written), 3 when a
    worker died, a run crashed or OUTPUT could not be written after the runs."""
    loaded = _load(spec, overrides, seed, duration)
    try:
        rules = baseline_rules(metrics, tolerances)
    except RegressionError as err:
        raise UsageFailure(str(err)) from None
    _check_out_file(output, "-o")
    seeds = seeds_of(loaded, runs)
    if seeds[-1] > MAX_SEED:
        raise UsageFailure(
            f"--runs {runs}: the seeds {seeds[0]}..{seeds[-1]} go beyond 2**63-1, the largest "
            "[scenario] seed; give a smaller --seed"
        )
    measured = _measure(loaded, seeds, [r.metric for r in rules], workers, quiet)
    baseline = make_baseline(loaded, rules, measured, _command_line())
    click.echo(check_output.baseline_text(baseline))
    _write_outputs([(output, baseline.to_json(), "-o")], "The runs finished; run again.")
    click.echo(
        f"\nbaseline of {len(seeds)} runs (seeds {seeds[0]}..{seeds[-1]}, "
        f"{measured.wall_time_s:.1f} s) written to {output}"
    )
    for name in zero_mean_relative(baseline):
        click.echo(
            f"warning: {name}: its tolerance {baseline.metrics[name].rule.tolerance} is a share "
            f"of a baseline mean of 0, so it is 0: any credible worsening fails; give an "
            f"absolute one (--tolerance {name}=VALUE)",
            err=True,
        )
    alpha_metric = DEFAULT_ALPHA / len(rules)
    if runs < min_pairs(alpha_metric):
        click.echo(
            f"warning: --runs {runs}: too few for a check at the default alpha {DEFAULT_ALPHA:g} "
            f"over {len(rules)} metric{'s' if len(rules) != 1 else ''} to fail (the smallest "
            f"p-value of {runs} pairs is "
            f"2^-{runs} = {2.0**-runs:.2g} > {alpha_metric:.2g}); give --runs "
            f"{min_pairs(alpha_metric)} or more",
            err=True,
        )


@main.command("check")
@click.argument("spec", type=click.Path(path_type=Path))
@click.option(
    "--baseline",
    "baseline_file",
    type=click.Path(path_type=Path),
    required=True,
    help="Baseline file made by sidemesh baseline.",
)
@click.option(
    "--alpha",
    type=click.FloatRange(0.0, 0.5, min_open=True),
    default=DEFAULT_ALPHA,
    show_default=True,
    help="False-alarm rate of the whole check (split over the metrics).",
)
@click.option("--junit", type=click.Path(path_type=Path), help="Write JUnit XML here.")
@click.option(
    "--markdown",
    "markdown_file",
    type=click.Path(path_type=Path),
    help="Write a Markdown summary here.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--update-baseline",
    is_flag=True,
    help="After reporting, rewrite the baseline's values, spec hash and versions from this run "
    "(accept the change; its metrics, directions, tolerances, seeds and command stay) and exit 0.",
)
@scenario_options
@regression_options
def check_command(
    spec: Path,
    baseline_file: Path,
    alpha: float,
    junit: Path | None,
    markdown_file: Path | None,
    as_json: bool,
    update_baseline: bool,
    duration: str | None,
    overrides: tuple[str, ...],
    metrics: tuple[str, ...],
    tolerances: tuple[str, ...],
    workers: int | None,
    quiet: bool,
) -> None:
    """Run SPEC on the baseline's seeds and compare, seed by seed. Exit 0 when no tracked
    metric credibly regressed beyond its tolerance, 1 when one did (or lost its values), 2 on
    bad input (nothing run or written), 3 when a worker died, a run crashed or an output could
    not be written after the runs (no verdict to act on)."""
    try:
        baseline = load_baseline(baseline_file)
        loaded = _load(spec, overrides, None, duration)
        rules = check_rules(baseline, str(baseline_file), metrics, tolerances)
    except RegressionError as err:
        raise UsageFailure(str(err)) from None
    outputs = ((junit, "--junit"), (markdown_file, "--markdown"))
    for path, option in (*outputs, (baseline_file if update_baseline else None, "--baseline")):
        if path is not None:
            _check_out_file(path, option)
    # --update-baseline rewrites every tracked metric; a check needs only the ones it judges
    names = list(baseline.metrics) if update_baseline else [r.metric for r in rules]
    measured = _measure(loaded, baseline.seeds, names, workers, quiet)
    result = check_report(baseline, str(baseline_file), loaded, rules, measured, alpha)
    if as_json:
        click.echo(check_output.report_json(result), nl=False)
        for warning in result.warnings:
            click.echo(f"warning: {warning}", err=True)
    else:
        click.echo(check_output.table_text(result))
    files = []
    if junit is not None:
        files.append((junit, check_output.junit_xml(result), "--junit"))
    if markdown_file is not None:
        files.append((markdown_file, check_output.markdown(result), "--markdown"))
    if update_baseline:
        new = updated(baseline, loaded, measured, _command_line())
        files.append((baseline_file, new.to_json(), "--baseline"))
    _write_outputs(files, f"The check itself: {check_output.conclusion(result)}")
    if update_baseline:
        click.echo(f"baseline {baseline_file} updated from this run", err=True)
        return
    if not result.passed:
        click.get_current_context().exit(EXIT_REGRESSED)


def _num(value: Any, fmt: str = ".3f", scale: float = 1.0, unit: str = "") -> str:
    if value is None:
        return "-"
    return f"{value * scale:{fmt}}{unit}"


def format_summary(result: RunResult) -> str:
    s = result.summary
    lat = s["latency_s"]
    en = s["energy"]
    pk = s["packets"]
    lines = [
        f"scenario {s['scenario']!r}  seed {s['seed']}  simulated {s['duration_s'] / 3600:g} h  "
        f"wall {result.wall_time_s:.1f} s",
        f"nodes: {s['nodes']['bridges']} bridges, {s['nodes']['endpoints']} endpoints",
        "",
        f"  {'metric':<30}{'value':>14}",
        f"  {'-' * 44}",
        f"  {'packet delivery ratio':<30}{_num(s['pdr'], '.2%'):>14}",
        f"  {'endpoint coverage (PDR>=' + format(s['coverage_pdr_threshold'], 'g') + ')':<30}"
        f"{_num(s['endpoint_coverage'], '.2%'):>14}",
        f"  {'area coverage (' + s['area_link'] + ')':<30}{_num(s['area_coverage'], '.2%'):>14}",
        f"  {'latency mean':<30}{_num(lat['mean'], '.3f', unit=' s'):>14}",
        f"  {'latency p50 / p95 / p99':<30}{_num(lat['p50'], '.2f')} / {_num(lat['p95'], '.2f')} / "
        f"{_num(lat['p99'], '.2f')} s",
        f"  {'energy per endpoint':<30}{_num(en['per_endpoint_mean_j'], '.2f', unit=' J'):>14}",
        f"  {'energy per delivered packet':<30}"
        f"{_num(en['per_delivered_packet_j'], '.2f', 1e3, ' mJ'):>14}",
        f"  {'mean current':<30}{_num(en['mean_current_ua'], '.1f', unit=' uA'):>14}",
        f"  {'battery life (median)':<30}{_num(en['battery_life_days'], '.0f', unit=' d'):>14}",
        "",
        f"  packets: {pk['generated']} generated, {pk['delivered']} delivered, "
        f"{pk['transmissions']} frames sent",
    ]
    drops = {k: v for k, v in pk["dropped"].items() if v}
    if drops:
        lines.append("  dropped: " + ", ".join(f"{k} {v}" for k, v in drops.items()))
    dl = s["downlinks"]
    if dl["generated"]:
        lines.append(
            f"  downlinks: {dl['generated']} sent, {dl['delivered']} delivered "
            f"({_num(dl['delivery_ratio'], '.1%')}), latency mean "
            f"{_num(dl['latency_s']['mean'], '.2f', unit=' s')}, p95 "
            f"{_num(dl['latency_s']['p95'], '.2f', unit=' s')}"
        )
    br = s["bridges"]
    lines.append(
        f"  bridge load: mean {_num(br['load_bps_mean'], '.1f', unit=' b/s')}, max "
        f"{_num(br['load_bps_max'], '.1f', unit=' b/s')} of "
        f"{_num(br['rate_cap_bps'], '.0f', 1e-3, ' kb/s')}; queueing mean "
        f"{_num(br['queueing_delay_mean_s'], '.2f', 1e3, ' ms')}"
    )
    if br["dropped_queue"] or br["dropped_allowance"]:
        lines.append(
            f"  bridge drops: {br['dropped_queue']} copies by queue limits, "
            f"{br['dropped_allowance']} by data allowances"
        )
    pv = s["privacy"]
    if pv is not None:
        rotation = pv["rotation_period_s"]
        lines.append(
            f"  privacy: IDs rotate {_num(rotation, '.0f', unit=' s') if rotation else 'never'}; "
            f"a bridge owner links an endpoint for "
            f"{_num(pv['mean_linkable_s'], '.0f', unit=' s')} on average "
            f"(longest {_num(pv['max_linkable_s'], '.0f', unit=' s')})"
        )
    lines.extend(_mesh_lines(s))
    lines.append("")
    lines.append(
        f"  {'class':<14}{'links':<10}{'endpoints':>9}{'PDR':>8}{'covered':>9}{'p95 lat':>9}"
        f"{'DL ratio':>10}{'DL p95':>9}{'life':>8}"
    )
    for name, entry in s["by_class"].items():
        down = entry["downlinks"]
        lines.append(
            f"  {name[:13]:<14}{entry['link']:<10}{entry['endpoints']:>9}"
            f"{_num(entry['pdr'], '.1%'):>8}{_num(entry['endpoint_coverage'], '.1%'):>9}"
            f"{_num(entry['latency_s']['p95'], '.2f', unit=' s'):>9}"
            f"{_num(down['delivery_ratio'], '.1%'):>10}"
            f"{_num(down['latency_s']['p95'], '.2f', unit=' s'):>9}"
            f"{_num(entry['battery_life_days_median'], '.0f', unit=' d'):>8}"
        )
    lines.append("")
    for link, entry in s["by_link"].items():
        lines.append(
            f"  on {link:<5} {entry['generated']:>7} packets, PDR {_num(entry['pdr'], '.1%')}, "
            f"p95 latency {_num(entry['latency_s']['p95'], '.2f', unit=' s')}, "
            f"area coverage {_num(entry['area_coverage'], '.0%')}"
        )
    return "\n".join(lines)


def _mesh_lines(s: Mapping[str, Any]) -> list[str]:
    """Relaying, mobility and fault lines of the summary table (only when in use)."""
    lines: list[str] = []
    rt = s["routing"]
    if rt["strategy"] != "direct":
        hops = ", ".join(f"{h}: {c}" for h, c in rt["hops"].items())
        lines.append(
            f"  relaying: {rt['strategy']}, {rt['relays']} relays sent {rt['relay_frames']} frames "
            f"({_num(rt['relay_airtime_s'], '.1f', unit=' s')} on air); hops of delivered "
            f"packets {hops or '-'}; duplicates {rt['duplicates_at_server']} at the server, "
            f"{rt['duplicates_at_relays']} at relays"
        )
        energy = rt["relay_energy_j"]
        lines.append(
            f"  relay energy burden: mean {_num(energy['mean'], '.2f', unit=' J')}, "
            f"max {_num(energy['max'], '.2f', unit=' J')} per relay endpoint"
        )
    mob = s["mobility"]
    if mob is not None:
        gaps = mob["coverage_gaps_s"]
        lines.append(
            f"  mobile: {mob['mobile_endpoints']} endpoints, PDR {_num(mob['pdr_mobile'], '.1%')} "
            f"(static {_num(mob['pdr_static'], '.1%')}); {gaps['count']} coverage gaps, mean "
            f"{_num(gaps['mean'], '.0f', unit=' s')}, p95 {_num(gaps['p95'], '.0f', unit=' s')}, "
            f"longest {_num(gaps['max'], '.0f', unit=' s')}; "
            f"{_num(mob['uncovered_share'], '.1%')} of the time uncovered"
        )
    ft = s["faults"]
    if ft is not None:
        windows = ", ".join(
            f"{name} {w['count']} ({_num(w['total_s'], '.0f', unit=' s')})"
            for name, w in ft["windows"].items()
            if w["count"]
        )
        rec = ft["recovery_s"]
        lines.append(
            f"  faults: {windows or 'none'}; jammers {ft['jammers']}; PDR during faults "
            f"{_num(ft['pdr_during_faults'], '.1%')}, "
            f"outside {_num(ft['pdr_outside_faults'], '.1%')}; "
            f"recovery after outages mean {_num(rec['mean'], '.1f', unit=' s')}, "
            f"p95 {_num(rec['p95'], '.1f', unit=' s')} ({rec['count']} outages)"
        )
    return lines


def _echo_rows(rows: list[reference.KeyDoc], indent: str = "    ") -> None:
    key_w = max([26, *(len(r.key) for r in rows)])
    default_w = max([14, *(len(r.default) for r in rows)])
    unit_w = max([6, *(len(r.unit) + 1 for r in rows)])
    for r in rows:
        unit = f" {r.unit}" if r.unit else ""
        click.echo(f"{indent}{r.key:<{key_w}} {r.default:<{default_w}}{unit:<{unit_w}} {r.doc}")


@main.command("radios")
def radios_command() -> None:
    """List links, PHY parameters, energy profiles, batteries and propagation models."""
    from mesh.config import EndpointConfig
    from radios.energy import BATTERIES, RADIO_PROFILES
    from radios.propagation import PROPAGATION_MODELS

    rows = reference.describe(EndpointConfig)
    for link in ("lora", "fsk", "ble"):
        click.echo(f"link {link} ([endpoint] {link} = {{ ... }}):")
        _echo_rows([r for r in rows if r.key.startswith(f"{link}.")])
        click.echo("")
    click.echo("radio energy profiles:")
    for name, p in RADIO_PROFILES.items():
        tx = ", ".join(
            f"{lvl:g} dBm {cur * 1e3:.1f} mA"
            for lvl, cur in zip(p.tx_levels_dbm, p.tx_current_a, strict=True)
        )
        click.echo(
            f"    {name:<10} {p.voltage_v:g} V; TX {tx}; RX {p.rx_current_a * 1e3:.2f} mA; "
            f"idle {p.idle_current_a * 1e3:.2f} mA; sleep {p.sleep_current_a * 1e6:.2f} uA"
        )
    click.echo("\nbatteries ([endpoint] battery = NAME):")
    for name, b in BATTERIES.items():
        leak = getattr(b, "self_discharge_per_year", 0.0)
        click.echo(
            f"    {name:<12} {b.capacity_mah:g} mAh at {b.voltage_v:g} V ({b.capacity_j:.0f} J)"
            + (f", self-discharge {leak:.1%} a year" if leak else "")
        )
    click.echo("\npropagation models ([propagation] model = NAME):")
    for name, model in PROPAGATION_MODELS.items():
        click.echo(f"  {name}:")
        _echo_rows(reference.describe(model))


@main.command("topologies")
def topologies_command() -> None:
    """List topology kinds and their parameters."""
    from topologies import TOPOLOGY_KINDS

    for name, kind in TOPOLOGY_KINDS.items():
        click.echo(f'[topology] kind = "{name}": {kind.doc}')
        _echo_rows(reference.describe(kind.params_type))
        click.echo("")


@main.command("reference")
def reference_command() -> None:
    """Print the spec-file reference (Markdown), as in README."""
    click.echo(reference.markdown())


@main.command("validate")
@click.argument("spec", type=click.Path(path_type=Path))
@spec_options
def validate_command(
    spec: Path, seed: int | None, duration: str | None, overrides: tuple[str, ...]
) -> None:
    """Check SPEC (and lay out its topology) without running it; print the resolved tables."""
    loaded = _load(spec, overrides, seed, duration)
    topo = loaded.topology
    if topo is None:
        try:
            topo = topologies.generate(
                loaded.config.topology, make_streams(loaded.config.scenario.seed)["topology"]
            )
        except TopologyError as err:
            raise UsageFailure(f"{loaded.source}: [topology]: {err}") from None
    try:  # scheduled faults name nodes of this topology
        check_fault_nodes(loaded.config.faults, topo.roles == ROLE_BRIDGE)
    except FaultError as err:
        raise UsageFailure(f"{loaded.source}: {err}") from None
    click.echo(json.dumps(loaded.data, indent=2, sort_keys=True, default=str))


# --- sidemesh ble: real BLE hardware (bleak imported lazily, in experiments.ble) -------------

BLE_BACKENDS = ("bleak", "bumble")


def ble_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--adapter`` and the hidden ``--backend`` of every ``sidemesh ble`` command."""
    command = click.option(
        "--backend",
        type=click.Choice(BLE_BACKENDS),
        default="bleak",
        hidden=True,
        help="bumble: a virtual street on the Bumble stack instead of an adapter (demo, tests).",
    )(command)
    return click.option("--adapter", help="Adapter to use, e.g. hci1 (Linux; default: the first).")(
        command
    )


def _ble_duration(text: str, option: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as err:
        raise UsageFailure(f"{option}: {err}") from None


def _run_ble(backend: str, work: Callable[[type | None, type | None], Any]) -> Any:
    """Run ``work(scanner_backend, client_backend)`` (a coroutine function) on bleak's loop;
    adapter problems become one message and exit status 2. Ctrl-C cancels ``work`` and raises
    KeyboardInterrupt after its clean-up (``experiments.ble.loop``)."""
    from experiments.ble.errors import BleUnavailable, explain, require_bleak
    from experiments.ble.loop import run_interruptible

    async def main() -> Any:
        if backend == "bumble":
            try:
                from experiments.ble.sim import World, demo_world
            except ImportError:
                raise BleUnavailable(
                    "the bumble demo backend needs Bumble: pip install 'sidemesh[ble-sim]'",
                    "extra",
                ) from None
            async with World(demo_world()) as world:
                return await work(world.scanner_backend(), world.client_backend())
        return await work(None, None)

    try:
        require_bleak()
        return run_interruptible(main())
    except BleUnavailable as err:
        raise UsageFailure(str(err)) from None
    except (OSError, RuntimeError) as err:
        problem = explain(err)
        if problem is None:
            raise
        raise UsageFailure(str(problem)) from None


@main.group("ble")
def ble_group() -> None:
    """Real BLE hardware through bleak: scan, record RSSI, calibrate, bridge real devices into
    an emulation (pip install 'sidemesh[ble]')."""


@ble_group.command("scan")
@click.option("--duration", "duration", default="10s", show_default=True, help="How long to scan.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one object per device).")
@ble_options
def ble_scan_command(duration: str, as_json: bool, adapter: str | None, backend: str) -> None:
    """A live table of advertisers: address, name, RSSI, TX power, manufacturer and service
    data; Sidewalk (service 0xFE03) and Nordic UART Service devices are recognised."""
    from experiments.ble.adverts import TABLE_HEADER, table_row
    from experiments.ble.scanner import Scanner

    seconds = _ble_duration(duration, "--duration")
    live = not as_json and sys.stdout.isatty()
    seen: dict[str, Any] = {}
    counts: dict[str, int] = {}

    def table() -> str:
        rows = sorted(seen.values(), key=lambda a: (-a.rssi_dbm, a.address))
        return "\n".join([TABLE_HEADER, *(table_row(a) for a in rows)])

    async def work(scanner_backend: type | None, client_backend: type | None) -> None:
        async with Scanner(adapter, scanner_backend) as scanner:

            def keep(adv: Any) -> None:
                seen[adv.address] = adv
                counts[adv.address] = counts.get(adv.address, 0) + 1

            scanner.subscribe(keep)
            end = scanner.elapsed_s() + seconds
            while scanner.elapsed_s() < end:
                await asyncio.sleep(min(1.0, max(0.0, end - scanner.elapsed_s())))
                if live:
                    click.echo("\x1b[H\x1b[J" + table())

    def show() -> None:
        if as_json:
            devices = [
                {**a.to_json(), "advertisements": counts[a.address]}
                for a in sorted(seen.values(), key=lambda a: a.address)
            ]
            click.echo(json.dumps(devices, indent=2))
        elif not live:
            click.echo(table())

    try:
        _run_ble(backend, work)
    except KeyboardInterrupt:
        show()
        click.echo(f"interrupted: {len(seen)} devices seen", err=True)
        sys.exit(130)
    show()


@ble_group.command("record")
@click.option("--out", "out", type=click.Path(path_type=Path), required=True, help="CSV file.")
@click.option("--duration", default="30s", show_default=True, help="How long to record.")
@click.option(
    "--distance",
    "distances",
    multiple=True,
    metavar="ADDRESS=METRES",
    help="Distance of a device from the adapter (repeatable); only these devices are recorded "
    "unless --all.",
)
@click.option("--all", "record_all", is_flag=True, help="Record every device.")
@click.option("--append", is_flag=True, help="Add rows to an existing recording.")
@ble_options
def ble_record_command(
    out: Path,
    duration: str,
    distances: tuple[str, ...],
    record_all: bool,
    append: bool,
    adapter: str | None,
    backend: str,
) -> None:
    """Log timestamped RSSI per device to OUT (time_s, epoch_s, address, name, rssi_dbm,
    tx_power_dbm, distance_m): one run per distance of a walk-away test, with --append."""
    from experiments.ble.record import Recorder, merged_text, parse_distances
    from experiments.ble.scanner import Scanner

    seconds = _ble_duration(duration, "--duration")
    try:
        given = parse_distances(distances)
    except ValueError as err:
        raise UsageFailure(str(err)) from None
    if out.exists() and not append:
        raise UsageFailure(f"--out {out}: exists; use --append to add to it or another name")
    if not out.absolute().parent.is_dir():
        raise UsageFailure(f"--out {out}: folder {out.absolute().parent} does not exist")
    try:
        merged_text(out, [], append)  # refuse a foreign file before scanning
    except ValueError as err:
        raise UsageFailure(str(err)) from None
    recorder = Recorder(given, None if record_all or not given else set(given))

    async def work(scanner_backend: type | None, client_backend: type | None) -> None:
        async with Scanner(adapter, scanner_backend) as scanner:
            scanner.subscribe(recorder)
            await asyncio.sleep(seconds)

    def write() -> None:
        try:
            write_atomic(out, merged_text(out, recorder.rows, append))
        except OSError as err:
            raise UsageFailure(f"--out {out}: cannot write ({err.strerror or err})") from None

    try:
        _run_ble(backend, work)
    except KeyboardInterrupt:
        write()
        click.echo(f"interrupted: {len(recorder.rows)} rows written to {out}", err=True)
        sys.exit(130)
    write()
    devices = len({r.address for r in recorder.rows})
    click.echo(f"{len(recorder.rows)} rows of {devices} devices written to {out}")


@ble_group.command("calibrate")
@click.argument("recording", type=click.Path(path_type=Path))
@click.option(
    "--out", "out", type=click.Path(path_type=Path), required=True, help="Profile (TOML)."
)
@click.option("--plot/--no-plot", default=True, show_default=True, help="Also OUT.png.")
@click.option(
    "--tx-power-dbm", type=float, help="Transmit power of devices that do not advertise it."
)
@click.option("--reference-distance-m", type=float, default=1.0, show_default=True)
@click.option(
    "--average",
    is_flag=True,
    help="Fit one mean per position: sigma is then shadowing only, without fast fading.",
)
@click.option("--bootstrap", type=click.IntRange(min=0), default=0, help="Bootstrap resamples.")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the bootstrap.")
@click.option("--force", is_flag=True, help="Replace OUT (and OUT.png) if they exist.")
def ble_calibrate_command(
    recording: Path,
    out: Path,
    plot: bool,
    tx_power_dbm: float | None,
    reference_distance_m: float,
    average: bool,
    bootstrap: int,
    seed: int,
    force: bool,
) -> None:
    """Fit the log-distance model (PL at the reference distance, exponent, shadowing sigma, with
    standard errors) to RECORDING and write a propagation profile that a spec names with
    [propagation] profile = "OUT"."""
    from experiments.ble.calibrate import (
        CalibrationError,
        fit_samples,
        plot_png,
        positions,
        profile_toml,
        read_samples,
        sigma_note,
        summary_text,
    )
    from experiments.plots import write_bytes_atomic

    if not (math.isfinite(reference_distance_m) and reference_distance_m > 0):
        raise UsageFailure(f"--reference-distance-m: must be > 0, got {reference_distance_m}")
    if not out.absolute().parent.is_dir():
        raise UsageFailure(f"--out {out}: folder {out.absolute().parent} does not exist")
    png = out.with_suffix(".png")
    for path in (out, png) if plot else (out,):
        if path.exists() and not force:
            raise UsageFailure(f"--out {out}: {path} exists; use --force to replace it")
    try:
        samples = read_samples(recording, tx_power_dbm)
        fit = fit_samples(samples, reference_distance_m, average, bootstrap, seed)
    except CalibrationError as err:
        raise UsageFailure(str(err)) from None
    image: bytes | None = None
    if plot:
        try:
            image = plot_png(fit, samples)
        except ImportError:
            click.echo("(no plot: matplotlib is not installed)", err=True)
        except Exception as err:  # a figure is a bonus: the profile is the result
            click.echo(f"(no plot: {type(err).__name__}: {err})", err=True)
    try:
        if image is not None:
            write_bytes_atomic(png, image)
        elif plot and png.exists():  # an older figure would not show this fit
            png.unlink()
            click.echo(f"(removed {png}: it showed an earlier fit)", err=True)
        try:
            write_atomic(out, profile_toml(fit, str(recording), average, positions(samples)))
        except OSError:
            if image is not None:
                png.unlink(missing_ok=True)  # no figure without its profile
            raise
    except OSError as err:
        raise UsageFailure(f"--out {out}: cannot write ({err.strerror or err})") from None
    click.echo(summary_text(fit, samples.skipped))
    note = sigma_note(samples, average)
    if note is not None:
        click.echo(note, err=True)
    click.echo(f"profile written to {out}")
    if image is not None:
        click.echo(f"plot written to {png}")


@ble_group.command("bridge")
@click.argument("spec", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True)
@click.option("--duration", help="Run this long (overrides [scenario] duration_s).")
@click.option("--quiet", "-q", is_flag=True, help="Do not print each uplink and downlink.")
@ble_options
def ble_bridge_command(
    spec: Path,
    out_dir: Path,
    duration: str | None,
    quiet: bool,
    adapter: str | None,
    backend: str,
) -> None:
    """Hardware in the loop: run SPEC in real time; real advertisers join as endpoints
    ([ble] section), each advertisement an uplink; a Nordic UART Service board ([ble.nus]) is a
    node. Ctrl-C stops and writes the results so far to OUT."""
    from experiments.ble.bridge import Bridge
    from mesh.external import DownlinkRow, ExternalError

    loaded = _load(spec, ())
    _check_out_dir(out_dir)
    seconds = _ble_duration(duration, "--duration") if duration is not None else None

    def show(row: Any) -> None:
        if quiet:
            return
        if isinstance(row, DownlinkRow):
            click.echo(f"{row.sent_s:9.3f} s  downlink to {row.name}: {row.fate}")
        else:
            via = ",".join(map(str, row.bridges)) or "-"
            click.echo(f"{row.start_s:9.3f} s  uplink {row.node}: {row.fate} (bridges {via})")

    try:
        bridge = Bridge(loaded, adapter=adapter, duration_s=seconds, on_row=show)
    except (ExternalError, TopologyError) as err:
        raise UsageFailure(f"{loaded.source}: {err}") from None

    async def work(scanner_backend: type | None, client_backend: type | None) -> None:
        bridge.scanner_backend = scanner_backend
        bridge.client_backend = client_backend
        await bridge.run()

    def write() -> None:
        try:
            write_folder(out_dir, bridge.files())
        except OSError as err:
            raise UsageFailure(f"--out {out_dir}: cannot write ({err.strerror or err})") from None

    def failed(message: str) -> UsageFailure:
        """A fatal error: once the run has started, its results so far are written first."""
        if not bridge.started:
            return UsageFailure(message)
        bridge.failure = bridge.failure or message
        write()
        return UsageFailure(f"{message}\nresults so far written to {out_dir}/")

    try:
        _run_ble(backend, work)
    except KeyboardInterrupt:
        bridge.interrupted = True
        write()
        click.echo(f"\ninterrupted: results so far written to {out_dir}/", err=True)
        sys.exit(130)
    except ExternalError as err:
        raise failed(f"{loaded.source}: {err}") from None
    except UsageFailure as err:  # the board has no NUS, the adapter went away, ...
        raise failed(err.message) from None
    except Exception:
        if bridge.started:
            write()
        raise
    write()
    s = bridge.summary()
    click.echo(
        f"{s['uplinks']} uplinks from {s['devices_joined']} devices "
        f"({s['uplinks_by_fate'].get('delivered', 0)} delivered), {s['downlinks']} downlinks, "
        f"{s['outages']} outages; results written to {out_dir}/"
    )
