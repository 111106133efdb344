"""Wall-clock benchmark of sidemesh: phase timings, throughput, SimPy events and peak memory.

Usage::

    python benchmarks/bench.py [--scenario default|scale-10k|relay-flood|...|all|PATH.toml]
        [--json OUT]
                               [--repeat N] [--no-bare] [--profile DIR]

For every scenario and every repeat, a fresh Python subprocess (so that peak RSS figures do not
mix) loads the spec, runs ``mesh.simulation.simulate`` and ``experiments.summary.summarize``, and
reports wall times (``time.perf_counter``) of the phases

* ``import``     - importing ``experiments`` and the engine (numpy, scipy, simpy, click)
* ``load``       - ``experiments.load_spec``
* ``topology``   - ``topologies.generate`` (inside simulate)
* ``tables``     - ``mesh.neighbours.build_table`` for every link (inside simulate)
* ``setup``      - the rest of simulate before the event loop (classes, medium, traffic schedule,
                   backhaul outages, one SimPy process per endpoint)
* ``event_loop`` - ``env.run()``
* ``post``       - the rest of simulate after the loop (ledger close, charge, area coverage)
* ``summarize``  - ``experiments.summary.summarize``

plus frames sent (``sim.transmissions``, ACK frames separately), uplinks (generated packets),
SimPy events and peak RSS (``resource.getrusage(RUSAGE_SELF).ru_maxrss``).

SimPy events are counted exactly and (nearly) for free: ``env.run()`` is replaced, for this
benchmark only, by the same ``while True: env.step()`` loop that SimPy runs, with one integer
increment per step; the count is cross-checked against the environment's event-id counter
(every scheduled event gets one id, and the loop runs until the queue is empty).

A "bare SimPy" baseline runs in its own subprocess: the scenario's own traffic schedule (same
endpoints, same generation times) with one process per endpoint doing nothing but two timeouts
per uplink (wait for the generation time, then the frame's airtime). The ratio ours/bare of the
event loop tells how much the model costs on top of SimPy's own scheduling.

Results go to ``--json`` (default ``benchmarks/results/<scenario>.json``), written atomically
(temporary file + ``os.replace``); a table is printed. ``--profile DIR`` instead runs each scenario
once under pyinstrument and writes ``DIR/<scenario>.{txt,html}`` (no timings recorded).
pyinstrument hooks every Python call, so it inflates call-heavy code (the 10k run took 3x longer
under it); for shares of wall time prefer py-spy (see ``benchmarks/pyspy_top.py``).

Nothing in ``mesh/`` is modified: the hooks below wrap module attributes in the worker process.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SCENARIOS: dict[str, Path | None] = {
    "default": None,  # the built-in default spec (experiments/default.toml)
    "scale-10k": REPO / "experiments" / "scale-10k.toml",
    "scale-100k": REPO / "experiments" / "scale-100k.toml",
    # the relay suburb (1 h) under each relaying strategy (``sidemesh compare``)
    "relay-flood": REPO / "experiments" / "relay-suburb.toml",
    "relay-contention_flood": REPO / "experiments" / "relay-suburb.toml",
    "relay-gradient": REPO / "experiments" / "relay-suburb.toml",
}
#: What ``--scenario all`` runs (scale-100k is asked for by name: it takes long).
ALL_SCENARIOS: tuple[str, ...] = ("default", "scale-10k")
PHASES: tuple[str, ...] = (
    "import",
    "load",
    "topology",
    "tables",
    "setup",
    "event_loop",
    "post",
    "summarize",
)


# --------------------------------------------------------------------------------------------
# machine and environment


def machine_info() -> dict[str, Any]:
    cpu_model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    cpu_model = value.strip()
                    break
    except OSError:
        pass
    mem_total_gib = None
    try:
        with open("/proc/meminfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    mem_total_gib = round(int(line.split()[1]) / 1024**2, 1)
                    break
    except OSError:
        pass
    versions = {"python": platform.python_version()}
    for name in ("numpy", "simpy", "scipy", "sidemesh"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    return {
        "cpu_model": cpu_model,
        "cpu_count": os.cpu_count(),
        "cpu_affinity": affinity,
        "mem_total_gib": mem_total_gib,
        "platform": platform.platform(),
        "python_implementation": platform.python_implementation(),
        "versions": versions,
        "git": git_info(),
    }


def git_info() -> dict[str, Any]:
    def git(*args: str) -> str:
        out = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=False, timeout=10
        )
        return out.stdout.strip()

    try:
        dirty = git("status", "--porcelain", "--untracked-files=no")
        return {"commit": git("rev-parse", "HEAD"), "dirty_files": dirty.splitlines()}
    except (OSError, subprocess.SubprocessError):
        return {}


def peak_rss_mib() -> float:
    """Peak resident set size of this process (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024**2 if sys.platform == "darwin" else peak / 1024


# --------------------------------------------------------------------------------------------
# worker: one scenario in this (fresh) process


def _load(scenario: str) -> Any:
    import experiments

    path = SCENARIOS[scenario] if scenario in SCENARIOS else Path(scenario)
    overrides = []
    if scenario.startswith("relay-"):
        overrides.append(f'routing.strategy="{scenario.removeprefix("relay-")}"')
    return experiments.load_spec(path, overrides)


class _Hooks:
    """Times sub-phases of ``simulate`` and counts SimPy steps by wrapping module attributes."""

    def __init__(self) -> None:
        self.topology_s = 0.0
        self.tables_s = 0.0
        self.loop_start: float | None = None
        self.loop_end = 0.0
        self.steps = 0
        self.envs: list[Any] = []

    def install(self) -> Callable[[], None]:
        import topologies
        from mesh import context, simulation

        original_generate = topologies.generate
        original_build = simulation.build_table
        original_post_init = context.SimContext.__post_init__
        hooks = self

        def generate(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return original_generate(*args, **kwargs)
            finally:
                hooks.topology_s += time.perf_counter() - t
                _log(f"topology {time.perf_counter() - t:.2f} s")

        def build_table(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return original_build(*args, **kwargs)
            finally:
                hooks.tables_s += time.perf_counter() - t

        def post_init(ctx: Any) -> None:
            original_post_init(ctx)
            env = ctx.env
            hooks.envs.append(env)

            def run(until: Any = None) -> Any:
                import simpy

                if until is not None and not isinstance(until, simpy.Event):
                    # what simpy.Environment.run does with a number: an urgent stop event
                    at = float(until)
                    stop = simpy.Event(env)
                    stop._ok = True
                    stop._value = None
                    env.schedule(stop, simpy.core.URGENT, at - env.now)
                    until = stop
                if hooks.loop_start is None:
                    _log(f"event loop starts ({len(env._queue)} events queued)")
                    hooks.loop_start = time.perf_counter()
                step = env.step
                n = 0
                try:
                    # the loop of simpy.Environment.run(until=event | None)
                    while until is None or not until.processed:
                        step()
                        n += 1
                except simpy.core.EmptySchedule:
                    pass
                finally:
                    hooks.loop_end = time.perf_counter()
                    hooks.steps += n
                return None

            env.run = run

        setattr(topologies, "generate", generate)  # noqa: B010
        setattr(simulation, "build_table", build_table)  # noqa: B010
        setattr(context.SimContext, "__post_init__", post_init)  # noqa: B010

        def uninstall() -> None:
            setattr(topologies, "generate", original_generate)  # noqa: B010
            setattr(simulation, "build_table", original_build)  # noqa: B010
            setattr(context.SimContext, "__post_init__", original_post_init)  # noqa: B010

        return uninstall


def _log(message: str) -> None:
    print(f"  [{os.getpid()}] {message}", file=sys.stderr, flush=True)


def worker_sim(scenario: str) -> dict[str, Any]:
    t_import = time.perf_counter()
    import numpy as np

    import experiments  # noqa: F401  (timed as its own phase: numpy, scipy, simpy, click)
    from experiments.summary import summarize
    from mesh.simulation import simulate

    t0 = time.perf_counter()
    spec = _load(scenario)
    t1 = time.perf_counter()

    hooks = _Hooks()
    uninstall = hooks.install()
    t_sim = time.perf_counter()
    try:
        sim = simulate(spec.config)
    finally:
        uninstall()
    t2 = time.perf_counter()
    _log(f"simulate {t2 - t_sim:.2f} s")
    summary = summarize(sim)
    t3 = time.perf_counter()

    env = hooks.envs[-1]
    scheduled = next(env._eid)  # ids handed out so far = events ever scheduled
    pending = len(env._queue)
    phases = {
        "import": t0 - t_import,
        "load": t1 - t0,
        "topology": hooks.topology_s,
        "tables": hooks.tables_s,
        "setup": (hooks.loop_start - t_sim) - hooks.topology_s - hooks.tables_s,
        "event_loop": hooks.loop_end - hooks.loop_start,
        "post": t2 - hooks.loop_end,
        "summarize": t3 - t2,
    }
    phases["simulate"] = t2 - t_sim
    phases["total"] = t3 - t_import
    records = sim.records
    loop = phases["event_loop"]
    uplinks = len(records)
    topo = sim.topology
    return {
        "kind": "sim",
        "scenario": scenario,
        "spec_source": spec.source,
        "duration_s": spec.config.scenario.duration_s,
        "nodes": int(topo.n_nodes),
        "bridges": int(topo.bridge_ids.size),
        "endpoints": int(topo.endpoint_ids.size),
        "neighbour_pairs": sim.neighbour_pairs,
        "uplinks": uplinks,
        "frames": int(sim.transmissions),
        "ack_frames": int(sim.ack_frames),
        "delivered": int(np.sum(records.fate == 0)),
        "pdr": summary["pdr"],
        "events": hooks.steps,
        "events_scheduled": scheduled,
        "events_pending_at_end": pending,
        "phases_s": phases,
        "frames_per_s_loop": sim.transmissions / loop if loop > 0 else None,
        "frames_per_s_simulate": sim.transmissions / phases["simulate"],
        "uplinks_per_s_loop": uplinks / loop if loop > 0 else None,
        "uplinks_per_s_simulate": uplinks / phases["simulate"],
        "events_per_s_loop": hooks.steps / loop if loop > 0 else None,
        "us_per_event": 1e6 * loop / hooks.steps if hooks.steps else None,
        "sim_seconds_per_wall_second": spec.config.scenario.duration_s / phases["simulate"],
        "peak_rss_mib": peak_rss_mib(),
    }


def worker_bare(scenario: str) -> dict[str, Any]:
    """SimPy alone: the scenario's schedule, two timeouts per uplink, one process per endpoint."""
    spec = _load(scenario)
    import simpy

    import topologies
    from mesh.context import SimContext
    from mesh.links import class_phy
    from mesh.simulation import assign_classes
    from mesh.traffic import build_schedule

    config = spec.config
    # The same streams as simulate(), so the schedule is the scenario's own.
    ctx = SimContext(config.scenario.seed)
    topo = topologies.generate(config.topology, ctx.rng("topology"))
    classes = config.endpoint_classes
    class_of_node = assign_classes(topo, classes, ctx.rng("classes"))
    schedule = build_schedule(
        classes, class_of_node, config.scenario.duration_s, ctx.rng("traffic")
    )
    airtime = [class_phy(c).airtime_s(c.payload_bytes) for c in classes]
    times = schedule.times_s.tolist()
    indptr = schedule.indptr.tolist()

    def endpoint(env: simpy.Environment, times_s: list[float], airtime_s: float) -> Any:
        for t_gen in times_s:
            if env.now < t_gen:
                yield env.timeout(t_gen - env.now)
            yield env.timeout(airtime_s)

    t0 = time.perf_counter()
    env = simpy.Environment()
    processes = 0
    for node in topo.endpoint_ids.tolist():
        a, b = indptr[node], indptr[node + 1]
        if a == b:
            continue
        env.process(endpoint(env, times[a:b], airtime[int(class_of_node[node])]))
        processes += 1
    t1 = time.perf_counter()
    step = env.step
    n = 0
    try:
        while True:
            step()
            n += 1
    except simpy.core.EmptySchedule:
        pass
    t2 = time.perf_counter()
    return {
        "kind": "bare",
        "scenario": scenario,
        "processes": processes,
        "uplinks": schedule.n_packets,
        "events": n,
        "phases_s": {"create": t1 - t0, "run": t2 - t1, "total": t2 - t0},
        "events_per_s": n / (t2 - t1) if t2 > t1 else None,
        "us_per_event": 1e6 * (t2 - t1) / n if n else None,
        "peak_rss_mib": peak_rss_mib(),
    }


def worker_profile(scenario: str, out_dir: Path) -> dict[str, Any]:
    """Run load + simulate + summarize under pyinstrument; write the call tree and HTML."""
    from pyinstrument import Profiler
    from pyinstrument.renderers import ConsoleRenderer

    profiler = Profiler(interval=0.001)
    profiler.start()
    spec = _load(scenario)
    from experiments.summary import summarize
    from mesh.simulation import simulate

    sim = simulate(spec.config)
    summarize(sim)
    profiler.stop()
    out_dir.mkdir(parents=True, exist_ok=True)
    name = Path(scenario).stem if scenario not in SCENARIOS else scenario
    session = profiler.last_session
    assert session is not None
    tree = ConsoleRenderer(show_all=False, time="percent_of_total", unicode=False).render(session)
    write_atomic(out_dir / f"{name}.txt", tree)
    write_atomic(out_dir / f"{name}.html", profiler.output_html())
    return {"kind": "profile", "scenario": scenario, "files": str(out_dir / name) + ".*"}


# --------------------------------------------------------------------------------------------
# parent: fresh subprocess per measurement, aggregation, output


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run_worker(kind: str, scenario: str, extra: list[str] | None = None) -> dict[str, Any]:
    fd, out = tempfile.mkstemp(prefix="sidemesh-bench-", suffix=".json")
    os.close(fd)
    try:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, scenario, out]
        started = time.perf_counter()
        subprocess.run([*cmd, *(extra or [])], check=True, cwd=REPO)
        result = json.loads(Path(out).read_text(encoding="utf-8"))
        result["process_wall_s"] = time.perf_counter() - started
        return result
    finally:
        Path(out).unlink(missing_ok=True)


def _median(runs: list[dict[str, Any]], *keys: str) -> float | None:
    values = []
    for r in runs:
        v: Any = r
        for k in keys:
            v = v.get(k) if isinstance(v, dict) else None
        if v is not None:
            values.append(float(v))
    return statistics.median(values) if values else None


def aggregate(sim_runs: list[dict[str, Any]], bare_runs: list[dict[str, Any]]) -> dict[str, Any]:
    first = sim_runs[0]
    agg: dict[str, Any] = {
        k: first[k]
        for k in (
            "scenario",
            "spec_source",
            "duration_s",
            "nodes",
            "bridges",
            "endpoints",
            "neighbour_pairs",
            "uplinks",
            "frames",
            "ack_frames",
            "delivered",
            "pdr",
            "events",
            "events_scheduled",
        )
    }
    agg["repeats"] = len(sim_runs)
    agg["phases_s_median"] = {
        p: _median(sim_runs, "phases_s", p) for p in (*PHASES, "simulate", "total")
    }
    agg["phases_s_min"] = {
        p: min(r["phases_s"][p] for r in sim_runs) for p in (*PHASES, "simulate", "total")
    }
    for key in (
        "frames_per_s_loop",
        "frames_per_s_simulate",
        "uplinks_per_s_loop",
        "uplinks_per_s_simulate",
        "events_per_s_loop",
        "us_per_event",
        "sim_seconds_per_wall_second",
    ):
        agg[key] = _median(sim_runs, key)
    agg["peak_rss_mib"] = max(r["peak_rss_mib"] for r in sim_runs)
    if bare_runs:
        bare = {
            "processes": bare_runs[0]["processes"],
            "uplinks": bare_runs[0]["uplinks"],
            "events": bare_runs[0]["events"],
            "create_s": _median(bare_runs, "phases_s", "create"),
            "run_s": _median(bare_runs, "phases_s", "run"),
            "total_s": _median(bare_runs, "phases_s", "total"),
            "events_per_s": _median(bare_runs, "events_per_s"),
            "us_per_event": _median(bare_runs, "us_per_event"),
            "peak_rss_mib": max(r["peak_rss_mib"] for r in bare_runs),
        }
        agg["bare_simpy"] = bare
        loop = agg["phases_s_median"]["event_loop"]
        agg["ratio_event_loop_vs_bare_run"] = loop / bare["run_s"] if bare["run_s"] else None
        agg["ratio_simulate_vs_bare_total"] = (
            agg["phases_s_median"]["simulate"] / bare["total_s"] if bare["total_s"] else None
        )
        agg["ratio_us_per_event_vs_bare"] = (
            agg["us_per_event"] / bare["us_per_event"] if bare["us_per_event"] else None
        )
    return agg


def _fmt(value: Any, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def table(results: dict[str, dict[str, Any]]) -> str:
    names = list(results)
    width = max(12, *(len(n) + 2 for n in names))
    lines = [f"{'':<30}" + "".join(f"{n:>{width}}" for n in names)]
    lines.append("-" * (30 + width * len(names)))

    def row(label: str, get: Callable[[dict[str, Any]], Any], spec: str = ".2f") -> None:
        lines.append(
            f"{label:<30}" + "".join(f"{_fmt(get(results[n]), spec):>{width}}" for n in names)
        )

    row("nodes (bridges+endpoints)", lambda r: r["nodes"], "d")
    row("bridges", lambda r: r["bridges"], "d")
    row("simulated hours", lambda r: r["duration_s"] / 3600, ".1f")
    row("uplinks (packets)", lambda r: r["uplinks"], ",d")
    row("frames sent", lambda r: r["frames"], ",d")
    row("PDR", lambda r: r["pdr"], ".4f")
    row("SimPy events", lambda r: r["events"], ",d")
    lines.append(f"wall time, s (median of {results[names[0]]['repeats']})")
    for phase in (*PHASES, "simulate", "total"):

        def get(r: dict[str, Any], phase: str = phase) -> Any:
            return r["phases_s_median"][phase]

        row(f"  {phase}", get, ".3f")
    row("frames/s (event loop)", lambda r: r["frames_per_s_loop"], ",.0f")
    row("frames/s (simulate)", lambda r: r["frames_per_s_simulate"], ",.0f")
    row("uplinks/s (simulate)", lambda r: r["uplinks_per_s_simulate"], ",.0f")
    row("events/s (event loop)", lambda r: r["events_per_s_loop"], ",.0f")
    row("us per event", lambda r: r["us_per_event"], ".2f")
    row("sim s per wall s", lambda r: r["sim_seconds_per_wall_second"], ",.0f")
    row("peak RSS, MiB", lambda r: r["peak_rss_mib"], ".0f")
    if all("bare_simpy" in r for r in results.values()):
        lines.append("bare SimPy (2 timeouts per uplink)")
        row("  events", lambda r: r["bare_simpy"]["events"], ",d")
        row("  run, s", lambda r: r["bare_simpy"]["run_s"], ".3f")
        row("  events/s", lambda r: r["bare_simpy"]["events_per_s"], ",.0f")
        row("  peak RSS, MiB", lambda r: r["bare_simpy"]["peak_rss_mib"], ".0f")
        row("ratio loop ours/bare", lambda r: r["ratio_event_loop_vs_bare_run"], ".1f")
        row("ratio simulate/bare total", lambda r: r["ratio_simulate_vs_bare_total"], ".1f")
        row("ratio us/event ours/bare", lambda r: r["ratio_us_per_event_vs_bare"], ".1f")
    return "\n".join(lines)


def scaling_curve(sizes_text: str, duration: str, out: Path | None) -> int:
    """Run the scale-10k spec at several sizes (same density: homes = endpoints, one home in
    five a bridge), each in a fresh process, and print the wall time per uplink."""
    import experiments

    sizes = [int(x) for x in sizes_text.split(",") if x.strip()]
    base = (REPO / "experiments" / "scale-10k.toml").read_text(encoding="utf-8")
    duration_s = experiments.parse_duration(duration)
    points = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            spec = (
                base.replace("homes = 10000", f"homes = {n}")
                .replace("endpoints = 10000", f"endpoints = {n}")
                .replace("duration_s = 86400", f"duration_s = {duration_s:g}")
            )
            path = Path(tmp) / f"scale-{n}.toml"
            path.write_text(spec, encoding="utf-8")
            print(f"scaling: {n} endpoints ...", file=sys.stderr, flush=True)
            r = run_worker("sim", str(path))
            phases = r["phases_s"]
            points.append(
                {
                    "endpoints": n,
                    "bridges": r["bridges"],
                    "uplinks": r["uplinks"],
                    "neighbour_pairs": r["neighbour_pairs"],
                    "tables_s": phases["tables"],
                    "event_loop_s": phases["event_loop"],
                    "simulate_s": phases["simulate"],
                    "us_per_uplink_loop": 1e6 * phases["event_loop"] / r["uplinks"],
                    "us_per_uplink_simulate": 1e6 * phases["simulate"] / r["uplinks"],
                    "peak_rss_mib": r["peak_rss_mib"],
                }
            )
    print(f"scaling curve (scale-10k density, {duration} simulated)")
    print(f"{'endpoints':>10} {'uplinks':>10} {'loop us/up':>11} {'sim us/up':>10} {'RSS MiB':>8}")
    for p in points:
        print(
            f"{p['endpoints']:>10,} {p['uplinks']:>10,} {p['us_per_uplink_loop']:>11.1f} "
            f"{p['us_per_uplink_simulate']:>10.1f} {p['peak_rss_mib']:>8.0f}"
        )
    per_uplink = [p["us_per_uplink_simulate"] for p in points]
    spread = max(per_uplink) / min(per_uplink)
    print(f"max/min simulate time per uplink: {spread:.2f} (target <= 1.25)")
    target = out or REPO / "benchmarks" / "results" / "scaling.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "machine": machine_info(),
        "duration": duration,
        "points": points,
        "max_over_min_per_uplink": spread,
    }
    write_atomic(target, json.dumps(document, indent=2) + "\n")
    print(f"results written to {target}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scenario",
        default="all",
        help="default, scale-10k, scale-100k, relay-flood, relay-contention_flood, relay-gradient, "
        "all or a .toml path",
    )
    parser.add_argument("--json", type=Path, help="output file (default benchmarks/results/...)")
    parser.add_argument("--repeat", type=int, default=1, help="fresh-process runs per scenario")
    parser.add_argument("--no-bare", action="store_true", help="skip the bare-SimPy baseline")
    parser.add_argument("--profile", type=Path, metavar="DIR", help="pyinstrument reports only")
    parser.add_argument(
        "--scaling",
        metavar="N,N,...",
        help="wall time per uplink of the scale-10k suburb grown to N endpoints (N/5 bridges)",
    )
    parser.add_argument(
        "--scaling-duration", default="6h", help="simulated time per --scaling point (6h)"
    )
    parser.add_argument(
        "--worker", nargs=3, metavar=("KIND", "SCENARIO", "OUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)

    if args.worker:
        kind, scenario, out = args.worker
        if kind == "sim":
            result = worker_sim(scenario)
        elif kind == "bare":
            result = worker_bare(scenario)
        elif kind == "profile":
            result = worker_profile(scenario, args.profile or REPO / "benchmarks" / "profiles")
        else:
            parser.error(f"unknown worker kind {kind}")
        write_atomic(Path(out), json.dumps(result))
        return 0

    if args.scaling:
        return scaling_curve(args.scaling, args.scaling_duration, args.json)
    scenarios = list(ALL_SCENARIOS) if args.scenario == "all" else [args.scenario]
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")

    if args.profile:
        for scenario in scenarios:
            print(f"profiling {scenario} ...", file=sys.stderr)
            run_worker("profile", scenario, ["--profile", str(args.profile.resolve())])
            print(f"  wrote {args.profile}/{Path(scenario).stem}.{{txt,html}}")
        return 0

    started = dt.datetime.now(dt.UTC)
    machine = machine_info()  # git state before the runs (other sessions may commit meanwhile)
    results: dict[str, dict[str, Any]] = {}
    raw: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for scenario in scenarios:
        sim_runs, bare_runs = [], []
        for k in range(args.repeat):
            print(f"{scenario}: run {k + 1}/{args.repeat} ...", file=sys.stderr, flush=True)
            sim_runs.append(run_worker("sim", scenario))
            if not args.no_bare:
                print(
                    f"{scenario}: bare SimPy {k + 1}/{args.repeat} ...", file=sys.stderr, flush=True
                )
                bare_runs.append(run_worker("bare", scenario))
        name = Path(scenario).stem if scenario not in SCENARIOS else scenario
        results[name] = aggregate(sim_runs, bare_runs)
        raw[name] = {"sim": sim_runs, "bare": bare_runs}

    document: dict[str, Any] = {
        "started_utc": started.isoformat(timespec="seconds"),
        "command": [Path(sys.executable).name, *sys.argv],
        "machine": machine,
        "git_after_runs": git_info(),
        "results": results,
        "runs": raw,
    }
    out = args.json or REPO / "benchmarks" / "results" / f"{Path(args.scenario).stem}.json"
    write_atomic(out, json.dumps(document, indent=2, sort_keys=False) + "\n")

    m = document["machine"]
    v = m["versions"]
    print(
        f"\nmachine: {m['cpu_model']}, {m['cpu_count']} cores, Python {v['python']}, "
        f"numpy {v['numpy']}, simpy {v['simpy']}, scipy {v['scipy']}"
    )
    print(table(results))
    print(f"\nresults written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
