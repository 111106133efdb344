"""The runner: one spec in, one result out, and writing it to a folder.

``run(spec) -> RunResult`` is a pure function of the spec (its seed included): the engine's raw
records plus the summary. ``RunResult.write(out_dir)`` writes ``summary.json`` (metrics only, so it
is byte-identical for the same spec and seed), ``run.json`` (versions, wall time, command, spec),
``endpoints.csv``, ``packets.csv``, ``downlinks.csv`` and ``bridges.csv``. Every file is written to
a temporary name and renamed into place, and a new folder is assembled aside and renamed as a
whole, so an interrupted write leaves no partial file behind.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from experiments.spec import Spec
from experiments.summary import bridge_table, endpoint_table, summarize
from mesh.config import LINKS
from mesh.downlink import DOWNLINK_FATES
from mesh.records import DELIVERED, FATE_NAMES
from mesh.simulation import SimResult, simulate


def downlinks_csv(sim: SimResult) -> str:
    d = sim.downlinks
    classes = sim.config.endpoint_classes
    names = np.array([c.name for c in classes], dtype=object)
    links = np.array(LINKS, dtype=object)
    class_index = sim.class_of_node[d.endpoint]
    empty = np.zeros(0, dtype=object)
    columns = {
        "downlink": np.arange(len(d)),
        "endpoint": d.endpoint,
        "class": names[class_index] if len(d) else empty,
        "link": links[d.link] if len(d) else empty,
        "generated_s": d.generated_s,
        "delivered_s": d.delivered_s,
        "latency_s": d.delivered_s - d.generated_s,
        "fate": np.array(DOWNLINK_FATES, dtype=object)[d.fate] if len(d) else empty,
        "transmissions": d.transmissions,
        "bridge": d.bridge,
    }
    header = list(columns)
    return rows_csv(header, zip(*(_fmt(np.asarray(columns[k])) for k in header), strict=True))


@dataclass(frozen=True)
class RunResult:
    spec: Spec
    sim: SimResult
    summary: Mapping[str, Any]
    wall_time_s: float
    command: tuple[str, ...] = field(default=())

    def run_info(self) -> dict[str, Any]:
        return {
            "command": list(self.command),
            "spec_source": self.spec.source,
            "spec": self.spec.data,
            "seed": self.spec.config.scenario.seed,
            "wall_time_s": round(self.wall_time_s, 3),
            "versions": versions(),
            "platform": platform.platform(),
            "neighbour_pairs": self.sim.neighbour_pairs,
            "transmissions": self.sim.transmissions,
        }

    def write(self, out_dir: str | Path) -> Path:
        """Write the six result files into ``out_dir`` atomically; return the folder."""
        files = {
            "summary.json": summary_json(self.summary),
            "run.json": json.dumps(self.run_info(), indent=2, sort_keys=True, default=str) + "\n",
            "endpoints.csv": endpoints_csv(self.sim),
            "packets.csv": packets_csv(self.sim),
            "downlinks.csv": downlinks_csv(self.sim),
            "bridges.csv": table_csv(bridge_table(self.sim)),
        }
        return write_folder(Path(out_dir), files)


def run(
    spec: Spec,
    progress: Callable[[float, float], None] | None = None,
    command: Sequence[str] = (),
) -> RunResult:
    """Simulate ``spec`` and summarise it."""
    started = time.perf_counter()
    sim = simulate(spec.config, topology=spec.topology, progress=progress)
    summary = summarize(sim)
    return RunResult(spec, sim, summary, time.perf_counter() - started, tuple(command))


def versions() -> dict[str, str]:
    """Versions of Python and the packages that decide results."""
    return dict(_installed_versions())


@functools.cache
def _installed_versions() -> tuple[tuple[str, str], ...]:
    # read once per process: package metadata lookups take ~10 ms, as long as a small run, and
    # a sweep or a regression check records them for every run
    names = ("sidemesh", "simpy", "numpy", "scipy", "click")
    found = {"python": sys.version.split()[0]}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return tuple(found.items())


def summary_json(summary: Mapping[str, Any]) -> str:
    return json.dumps(summary, indent=2, sort_keys=True, allow_nan=False) + "\n"


def rows_csv(header: Sequence[str], rows: Any) -> str:
    """A header and rows (sequences of cells) as CSV text, ``\\n`` line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _fmt(column: np.ndarray) -> list[str]:
    if column.dtype == bool:
        return ["true" if v else "false" for v in column.tolist()]
    if np.issubdtype(column.dtype, np.floating):
        return ["" if not np.isfinite(v) else f"{v:.10g}" for v in column.tolist()]
    return [str(v) for v in column.tolist()]


def endpoints_csv(sim: SimResult) -> str:
    return table_csv(endpoint_table(sim))


def table_csv(table: Mapping[str, np.ndarray]) -> str:
    header = list(table)
    return rows_csv(header, zip(*(_fmt(np.asarray(table[k])) for k in header), strict=True))


def packets_csv(sim: SimResult) -> str:
    r = sim.records
    classes = sim.config.endpoint_classes
    class_index = sim.class_of_node[r.endpoint]
    names = np.array([c.name for c in classes], dtype=object)
    links = np.array(LINKS, dtype=object)
    fates = np.array(FATE_NAMES, dtype=object)
    columns = {
        "packet": np.arange(len(r)),
        "endpoint": r.endpoint,
        "class": names[class_index] if len(r) else np.zeros(0, dtype=object),
        "link": links[r.link] if len(r) else np.zeros(0, dtype=object),
        "generated_s": r.generated_s,
        "delivered_s": r.delivered_s,
        "latency_s": r.delivered_s - r.generated_s,
        **{f"{name}_s": part for name, part in r.latency_split().items()},
        "fate": fates[r.fate] if len(r) else np.zeros(0, dtype=object),
        "transmissions": r.transmissions,
        "fragments": r.fragments,
        "server_copies": r.copies,
        # radio hops of the first copy a bridge forwarded (direct: 1); 0 when none was
        "hops": np.where(r.fate == DELIVERED, np.maximum(r.hops, 1), r.hops),
    }
    header = list(columns)
    return rows_csv(header, zip(*(_fmt(np.asarray(columns[k])) for k in header), strict=True))


def write_folder(out_dir: Path, files: Mapping[str, str]) -> Path:
    """Write ``files`` into ``out_dir`` so that no reader ever sees a partial file.

    A new folder is assembled next to its final place and renamed into it; into an existing
    folder each file is written to a temporary name and renamed over the old one. Files and a new
    folder get the usual permissions (0666 / 0777 less the umask), like ``open`` and ``mkdir``.
    On failure nothing new is left behind (not even parent folders created for it).
    """
    out_dir = Path(os.path.abspath(out_dir))
    if out_dir.is_dir():
        for name, text in files.items():
            write_atomic(out_dir / name, text)
        return out_dir
    parent = out_dir.parent
    created = [p for p in (parent, *parent.parents) if not p.exists()]
    staging: Path | None = None
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=parent))
        for name, text in files.items():
            (staging / name).write_text(text, encoding="utf-8")
        os.chmod(staging, 0o777 & ~_umask())
        os.replace(staging, out_dir)
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        for folder in created:  # innermost first
            try:
                folder.rmdir()
            except OSError:
                break
        raise
    return out_dir


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` by a file holding ``text`` (written aside, then renamed)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic_all(files: Sequence[tuple[Path, str]]) -> None:
    """Write several files, all or none: each is written aside first (creating missing parent
    folders), and only when all of them are, each is renamed into place. An ``OSError`` names
    the file that could not be written (``err.filename``)."""
    aside: list[tuple[str, Path]] = []
    try:
        for path, text in files:
            try:
                path.absolute().parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.absolute().parent)
                aside.append((tmp, path))
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(text)
                os.chmod(tmp, 0o666 & ~_umask())
            except OSError as err:
                raise OSError(err.errno, err.strerror or str(err), str(path)) from err
        for tmp, path in aside:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in aside:
            Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
