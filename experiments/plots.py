"""Figures for papers: each function draws one figure and writes it as PNG and as SVG.

What is drawn, from which data:

- ``topology_map``: bridges (black triangles), endpoints (dots coloured by their primary link,
  marker by class), thin lines for the links in use, streets in grey; from positions and roles.
- ``coverage_heatmap``: the share of each grid cell covered by the link budget (0..1), with the
  bridges on top; from a grid such as :func:`coverage_grid` computes with ``mesh.coverage``.
- ``latency_cdf``: empirical CDFs of latency (log x), one per group, p50/p95 in the legend.
- ``battery_histogram`` / ``battery_map``: projected battery life per class (log bins) and on
  the map (log colour scale; NaN = mains-powered, drawn grey).
- ``sweep_curves``: one line per series over a swept parameter, with a shaded confidence band;
  a categorical x (strings) is drawn at positions 0..m-1 with the strings as tick labels.

The drawing functions take plain numpy arrays and dicts, so they need nothing of the engine; the
adapters (:func:`run_figures`, :func:`coverage_grid`, :func:`nearest_bridge_links`) read a
``mesh.simulation.SimResult``.

Leaves out: the links actually used by each packet. The engine does not record which bridge
forwarded a packet, so the topology map of a run draws, for each endpoint that delivered at least
one packet (PDR > 0), a line to the nearest bridge listening on its primary link: where its
traffic most likely went, not a record of it. Mobile endpoints are drawn at their start position.
The coverage heatmap is the median-loss (no shadowing) budget of ``mesh.coverage``, for one link.

Headless and deterministic: matplotlib is imported only inside the functions (importing this
module does not import it), figures are ``matplotlib.figure.Figure`` objects rendered by the Agg
canvas (pyplot and its global figure manager are never touched), drawn under matplotlib's default
style with a fixed SVG hash salt and without dates or software versions in the files, so the same
input gives byte-identical files. Large point sets and grids are rasterised inside the SVG to keep
it small. Both files of a figure are rendered in memory first, then each is written to a temporary
name in its folder and renamed into place: a reader never sees a partial file.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np

from experiments.summary import endpoint_table
from mesh.config import LINKS
from mesh.records import DELIVERED
from mesh.simulation import SimResult, area_probes, class_phys

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.axis import Axis
    from matplotlib.figure import Figure

#: Fixed colour of each link (Okabe-Ito, readable by colour-blind readers and in greyscale).
LINK_COLOURS: Mapping[str, str] = MappingProxyType(
    {"ble": "#0072B2", "fsk": "#009E73", "lora": "#D55E00"}
)
OTHER_COLOUR = "#7f7f7f"  # a link name not in LINK_COLOURS
MAINS_COLOUR = "#b0b0b0"  # mains-powered endpoints on the battery map
STREET_COLOUR = "#c8c8c8"
BRIDGE_COLOUR = "#000000"
#: Endpoint markers by class, in order of first appearance (triangles are for bridges).
CLASS_MARKERS: tuple[str, ...] = ("o", "s", "D", "P", "X", "h", "p", "*", "d", "H")
#: Colours of groups and series that are not links (matplotlib's tab10).
SERIES_COLOURS: tuple[str, ...] = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
PNG_DPI = 200
#: Scatter plots with more points than this, and heatmaps with more cells, are rasterised in SVG.
RASTERIZE_ABOVE_POINTS = 5_000
RASTERIZE_ABOVE_CELLS = 10_000
HIST_BINS = 30
FIGURES_DIR = "figures"
PAD_IN = 0.05  # files are cropped to what is drawn plus this margin: nothing clipped


# --------------------------------------------------------------------------------------------
# Rendering and writing
# --------------------------------------------------------------------------------------------


@contextmanager
def _style() -> Iterator[None]:
    """matplotlib's default style (no user matplotlibrc) with deterministic SVG output."""
    import matplotlib
    import matplotlib.style

    with (
        matplotlib.style.context("default"),
        matplotlib.rc_context({"svg.hashsalt": "sidemesh", "svg.fonttype": "none"}),
    ):
        yield


def _render(
    out_stem: Path, size_in: tuple[float, float], draw: Callable[[Figure], None]
) -> list[Path]:
    """Build a figure with ``draw`` and write ``<out_stem>.png`` and ``<out_stem>.svg``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    out_stem = Path(out_stem)
    with _style():
        fig = Figure(figsize=size_in, layout="constrained")
        FigureCanvasAgg(fig)
        draw(fig)
        png = io.BytesIO()
        fig.savefig(
            png,
            format="png",
            dpi=PNG_DPI,
            metadata={"Software": None},
            bbox_inches="tight",
            pad_inches=PAD_IN,
        )
        svg = io.BytesIO()
        fig.savefig(
            svg,
            format="svg",
            metadata={"Date": None, "Creator": None},
            bbox_inches="tight",
            pad_inches=PAD_IN,
        )
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [
        out_stem.parent / f"{out_stem.name}.png",
        out_stem.parent / f"{out_stem.name}.svg",
    ]
    for path, data in zip(paths, (png.getvalue(), svg.getvalue()), strict=True):
        write_bytes_atomic(path, data)
    return paths


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` by a file holding ``data`` (written aside in its folder, then renamed)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        mask = os.umask(0o022)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _plain_log(axis: Axis) -> None:
    """Label a log axis with plain numbers (2000, 0.03) where matplotlib would write 2x10^3."""
    from matplotlib.ticker import LogFormatter

    class PlainLogFormatter(LogFormatter):
        def __call__(self, x: float, pos: int | None = None) -> str:
            return f"{x:g}" if super().__call__(x, pos) else ""

    axis.set_major_formatter(PlainLogFormatter())
    axis.set_minor_formatter(PlainLogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5)))


def _link_colour(link: str) -> str:
    """Colour of a link, or of the primary link of a mask label (``ble+lora`` -> ble)."""
    return LINK_COLOURS.get(link.split("+")[0], OTHER_COLOUR)


def _group_colour(name: str, index: int) -> str:
    return LINK_COLOURS.get(name, SERIES_COLOURS[index % len(SERIES_COLOURS)])


def _map_axes(ax: Axes, width_m: float, height_m: float) -> None:
    ax.set_xlim(0.0, width_m)
    ax.set_ylim(0.0, height_m)
    ax.set_aspect("equal")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")


def _map_size_in(width_m: float, height_m: float, extra_width_in: float) -> tuple[float, float]:
    """Figure size for a map of the area: 6 in for its larger side, plus room for a legend."""
    aspect = height_m / width_m if width_m > 0 else 1.0
    if aspect <= 1.0:
        return (6.0 + extra_width_in, max(6.0 * aspect, 2.5) + 0.8)
    return (max(6.0 / aspect, 2.5) + extra_width_in, 6.8)


def _fmt_s(value_s: float) -> str:
    return f"{value_s * 1e3:.3g} ms" if value_s < 1.0 else f"{value_s:.3g} s"


def _fmt_days(value_days: float) -> str:
    return f"{value_days / 365.25:.3g} y" if value_days >= 365.25 else f"{value_days:.3g} d"


def _points(name: str, value: object, n: int | None = None) -> np.ndarray:
    a = np.asarray(value, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 2 or (n is not None and a.shape[0] != n):
        rows = "n" if n is None else str(n)
        raise ValueError(f"{name} must have shape ({rows}, 2), got {a.shape}")
    return a


# --------------------------------------------------------------------------------------------
# Figures from plain arrays
# --------------------------------------------------------------------------------------------


def topology_map(
    out_stem: Path,
    positions_m: np.ndarray,
    is_bridge: np.ndarray,
    endpoint_link: Sequence[str],
    class_names: Sequence[str],
    links: Sequence[tuple[int, int]] | np.ndarray,
    width_m: float,
    height_m: float,
    streets_m: np.ndarray | None = None,
    *,
    title: str | None = None,
) -> list[Path]:
    """Bridges, endpoints (colour: primary link; marker: class), links in use and streets.

    ``endpoint_link`` and ``class_names`` have one entry per node ('' for bridges); a mask label
    such as ``ble+lora`` is coloured by its first link. ``links`` are (tx node, rx node) index
    pairs drawn as thin lines in the transmitter's link colour; ``streets_m`` is (k, 4) segments
    x0, y0, x1, y1. Returns the PNG and SVG paths.
    """
    pos = _points("positions_m", positions_m)
    n = pos.shape[0]
    bridge = np.asarray(is_bridge, dtype=bool)
    if bridge.shape != (n,) or len(endpoint_link) != n or len(class_names) != n:
        raise ValueError(f"is_bridge, endpoint_link and class_names need {n} entries each")
    pairs = np.asarray(links, dtype=np.int64).reshape(-1, 2)
    streets = np.zeros((0, 4)) if streets_m is None else np.asarray(streets_m, dtype=np.float64)
    if streets.ndim != 2 or streets.shape[1] != 4:
        raise ValueError(f"streets_m must have shape (k, 4), got {streets.shape}")
    endpoints = np.flatnonzero(~bridge)
    link_of = np.array([str(endpoint_link[i]) for i in endpoints.tolist()], dtype=object)
    class_of = np.array([str(class_names[i]) for i in endpoints.tolist()], dtype=object)
    class_order = list(dict.fromkeys(class_of.tolist()))
    primaries = sorted(
        {str(label).split("+")[0] for label in link_of},
        key=lambda k: (LINKS.index(k) if k in LINKS else len(LINKS), k),
    )
    raster = n > RASTERIZE_ABOVE_POINTS

    def draw(fig: Figure) -> None:
        from matplotlib.collections import LineCollection
        from matplotlib.lines import Line2D

        ax = fig.add_subplot()
        handles: list[Line2D] = []
        if len(streets):
            ax.add_collection(
                LineCollection(
                    streets.reshape(-1, 2, 2).tolist(),
                    colors=STREET_COLOUR,
                    linewidths=2.0,
                    zorder=1,
                )
            )
            handles.append(Line2D([], [], color=STREET_COLOUR, linewidth=2.0, label="street"))
        if len(pairs):
            colours = [_link_colour(str(endpoint_link[tx])) for tx in pairs[:, 0]]
            ax.add_collection(
                LineCollection(
                    pos[pairs].tolist(),
                    colors=colours,
                    linewidths=0.5,
                    alpha=0.6,
                    zorder=2,
                    rasterized=len(pairs) > RASTERIZE_ABOVE_POINTS,
                )
            )
            handles.append(Line2D([], [], color="#555555", linewidth=0.5, label="link in use"))
        for k, name in enumerate(class_order):
            rows = class_of == name
            marker = CLASS_MARKERS[k % len(CLASS_MARKERS)]
            ax.scatter(
                pos[endpoints[rows], 0],
                pos[endpoints[rows], 1],
                s=14,
                marker=marker,
                c=[_link_colour(str(label)) for label in link_of[rows]],
                edgecolors="none",
                zorder=3,
                rasterized=raster,
            )
            handles.append(
                Line2D([], [], marker=marker, linestyle="none", color="#555555", label=name)
            )
        for link in primaries:
            handles.append(
                Line2D([], [], marker="o", linestyle="none", color=_link_colour(link), label=link)
            )
        if bridge.any():
            ax.scatter(
                pos[bridge, 0],
                pos[bridge, 1],
                s=40,
                marker="^",
                c=BRIDGE_COLOUR,
                edgecolors="white",
                linewidths=0.5,
                zorder=4,
                rasterized=raster,
            )
            handles.append(
                Line2D([], [], marker="^", linestyle="none", color=BRIDGE_COLOUR, label="bridge")
            )
        _map_axes(ax, width_m, height_m)
        fig.legend(handles=handles, loc="outside right upper", fontsize=8)
        if title:
            ax.set_title(title)

    return _render(out_stem, _map_size_in(width_m, height_m, 1.8), draw)


def coverage_heatmap(
    out_stem: Path,
    x_edges_m: np.ndarray,
    y_edges_m: np.ndarray,
    covered_share: np.ndarray,
    bridges_xy: np.ndarray,
    *,
    title: str | None = None,
    label: str = "covered share",
) -> list[Path]:
    """Area coverage: ``covered_share`` (ny, nx) in 0..1 over cells bounded by ``x_edges_m``
    (nx + 1) and ``y_edges_m`` (ny + 1), colour bar 0..1, bridges (k, 2) as triangles."""
    xe = np.asarray(x_edges_m, dtype=np.float64)
    ye = np.asarray(y_edges_m, dtype=np.float64)
    share = np.asarray(covered_share, dtype=np.float64)
    if share.shape != (ye.size - 1, xe.size - 1):
        raise ValueError(
            f"covered_share must have shape (len(y_edges_m) - 1, len(x_edges_m) - 1) = "
            f"{(ye.size - 1, xe.size - 1)}, got {share.shape}"
        )
    bridges = _points("bridges_xy", bridges_xy)
    width_m = float(xe[-1] - xe[0])
    height_m = float(ye[-1] - ye[0])

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        mesh = ax.pcolormesh(
            xe,
            ye,
            share,
            vmin=0.0,
            vmax=1.0,
            cmap="viridis",
            shading="flat",
            rasterized=share.size > RASTERIZE_ABOVE_CELLS,
        )
        if len(bridges):
            ax.scatter(
                bridges[:, 0],
                bridges[:, 1],
                s=30,
                marker="^",
                c=BRIDGE_COLOUR,
                edgecolors="white",
                linewidths=0.5,
                label="bridge",
                rasterized=len(bridges) > RASTERIZE_ABOVE_POINTS,
            )
            ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.12), fontsize=8, frameon=False)
        ax.set_xlim(xe[0], xe[-1])
        ax.set_ylim(ye[0], ye[-1])
        ax.set_aspect("equal")
        ax.set_xlabel("x (m)")
        ax.set_ylabel("y (m)")
        fig.colorbar(mesh, ax=ax, label=label, shrink=0.85)
        if title:
            ax.set_title(title)

    return _render(out_stem, _map_size_in(width_m, height_m, 1.4), draw)


def latency_cdf(
    out_stem: Path,
    latency_s_by_group: Mapping[str, np.ndarray],
    *,
    title: str | None = None,
) -> list[Path]:
    """Empirical CDF of latency (seconds, log x axis), one step line per group.

    The legend gives each group's count, p50 and p95 (over its finite values); a group named
    after a link gets that link's colour. Non-positive values count in the CDF and the
    percentiles but cannot show on the log axis. A group without values is listed as such.
    """
    groups = {
        name: np.asarray(v, dtype=np.float64).ravel() for name, v in latency_s_by_group.items()
    }

    def draw(fig: Figure) -> None:
        from matplotlib.lines import Line2D

        ax = fig.add_subplot()
        ax.set_xscale("log")
        ax.axhline(0.5, color="#dddddd", linewidth=0.8, linestyle=":", zorder=0)
        ax.axhline(0.95, color="#dddddd", linewidth=0.8, linestyle=":", zorder=0)
        handles: list[Line2D] = []
        drawn = 0
        for k, (name, values) in enumerate(groups.items()):
            colour = _group_colour(name, k)
            x = np.sort(values[np.isfinite(values)])
            if x.size == 0:
                handles.append(
                    Line2D([], [], color=colour, linestyle="--", label=f"{name} (no values)")
                )
                continue
            p50, p95 = np.percentile(x, [50, 95])
            y = np.arange(1, x.size + 1) / x.size
            shown = x > 0
            (line,) = ax.step(
                np.r_[x[shown][:1], x[shown]],
                np.r_[0.0, y[shown]],
                where="post",
                color=colour,
                linewidth=1.5,
                label=f"{name} (n={x.size}, p50 {_fmt_s(p50)}, p95 {_fmt_s(p95)})",
            )
            handles.append(line)
            drawn += int(shown.any())
        if not drawn:
            ax.text(0.5, 0.5, "no latencies", transform=ax.transAxes, ha="center")
            ax.set_xlim(1e-3, 1e3)
        ax.set_ylim(0.0, 1.0)
        _plain_log(ax.xaxis)
        ax.set_xlabel("latency (s)")
        ax.set_ylabel("share of packets")
        ax.grid(True, which="major", color="#eeeeee", linewidth=0.6)
        if handles:
            ax.legend(handles=handles, loc="lower right", fontsize=8)
        if title:
            ax.set_title(title)

    return _render(out_stem, (6.4, 4.2), draw)


def battery_histogram(
    out_stem: Path,
    life_days_by_class: Mapping[str, np.ndarray],
    *,
    title: str | None = None,
) -> list[Path]:
    """Histogram of projected battery life (days, log-spaced bins shared by all classes), one
    outlined histogram per class; NaN (mains-powered) and infinite values are left out and
    counted in the legend, with each class's median."""
    groups = {
        name: np.asarray(v, dtype=np.float64).ravel() for name, v in life_days_by_class.items()
    }
    finite = [v[np.isfinite(v) & (v > 0)] for v in groups.values()]
    values = np.concatenate(finite) if finite else np.zeros(0)
    if values.size:
        lo, hi = float(values.min()), float(values.max())
        if hi <= lo * 1.01:
            lo, hi = lo / 1.5, hi * 1.5
        bins = np.geomspace(lo, hi, HIST_BINS + 1)
    else:
        bins = np.geomspace(1.0, 1e4, HIST_BINS + 1)

    bin_edges = bins.tolist()

    def draw(fig: Figure) -> None:
        from matplotlib.patches import Patch

        ax = fig.add_subplot()
        ax.set_xscale("log")
        handles: list[Patch] = []
        for k, ((name, raw), life) in enumerate(zip(groups.items(), finite, strict=True)):
            colour = SERIES_COLOURS[k % len(SERIES_COLOURS)]
            mains = int(np.isnan(raw).sum())
            note = f", {mains} mains-powered" if mains else ""
            if life.size:
                ax.hist(life, bins=bin_edges, histtype="stepfilled", color=colour, alpha=0.25)
                ax.hist(life, bins=bin_edges, histtype="step", color=colour, linewidth=1.3)
                text = f"{name} (n={life.size}, median {_fmt_days(float(np.median(life)))}{note})"
            else:
                text = f"{name} (no battery life{note})"
            handles.append(Patch(facecolor=colour, edgecolor=colour, alpha=0.5, label=text))
        if not values.size:
            ax.text(0.5, 0.5, "no battery endpoints", transform=ax.transAxes, ha="center")
        _plain_log(ax.xaxis)
        ax.set_xlabel("projected battery life (days)")
        ax.set_ylabel("endpoints")
        if handles:
            ax.legend(handles=handles, loc="upper left", fontsize=8)
        if title:
            ax.set_title(title)

    return _render(out_stem, (6.4, 4.2), draw)


def battery_map(
    out_stem: Path,
    positions_m: np.ndarray,
    life_days: np.ndarray,
    width_m: float,
    height_m: float,
    bridges_xy: np.ndarray | None = None,
    *,
    title: str | None = None,
) -> list[Path]:
    """Endpoints at ``positions_m`` (n, 2) coloured by battery life (days, log colour scale);
    NaN (mains-powered) drawn grey, infinite life at the top of the scale; optional bridges."""
    life = np.asarray(life_days, dtype=np.float64)
    pos = _points("positions_m", positions_m, life.size)
    bridges = np.zeros((0, 2)) if bridges_xy is None else _points("bridges_xy", bridges_xy)
    mains = np.isnan(life)
    good = life[np.isfinite(life) & (life > 0)]
    if good.size:
        lo, hi = float(good.min()), float(good.max())
        if hi <= lo * 1.01:
            lo, hi = lo / 1.5, hi * 1.5
    else:
        lo, hi = 1.0, 1e4
    shown = np.clip(np.where(mains, lo, life), lo, hi)  # inf -> top of the scale
    raster = life.size > RASTERIZE_ABOVE_POINTS

    def draw(fig: Figure) -> None:
        from matplotlib.colors import LogNorm

        ax = fig.add_subplot()
        norm = LogNorm(vmin=lo, vmax=hi)
        points = ax.scatter(
            pos[~mains, 0],
            pos[~mains, 1],
            c=shown[~mains],
            cmap="viridis",
            norm=norm,
            s=16,
            edgecolors="none",
            zorder=3,
            rasterized=raster,
            label="battery endpoint",
        )
        if mains.any():
            ax.scatter(
                pos[mains, 0],
                pos[mains, 1],
                c=MAINS_COLOUR,
                s=16,
                marker="s",
                edgecolors="none",
                zorder=2,
                rasterized=raster,
                label="mains-powered",
            )
        if len(bridges):
            ax.scatter(
                bridges[:, 0],
                bridges[:, 1],
                s=30,
                marker="^",
                c=BRIDGE_COLOUR,
                edgecolors="white",
                linewidths=0.5,
                zorder=4,
                rasterized=len(bridges) > RASTERIZE_ABOVE_POINTS,
                label="bridge",
            )
        _map_axes(ax, width_m, height_m)
        bar = fig.colorbar(points, ax=ax, label="battery life (days)", shrink=0.85)
        _plain_log(bar.ax.yaxis)
        ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.12), ncols=3, fontsize=8, frameon=False)
        if title:
            ax.set_title(title)

    return _render(out_stem, _map_size_in(width_m, height_m, 1.4), draw)


def sweep_curves(
    out_stem: Path,
    x_name: str,
    x_values: Sequence[object] | np.ndarray,
    series: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    y_label: str,
    *,
    title: str | None = None,
    log_x: bool = False,
) -> list[Path]:
    """One line per series (mean at each x) with its confidence band (ci_low..ci_high) shaded.

    ``x_values`` (m,) numeric are drawn in increasing order; any other values (strings, mixed)
    are categories drawn at positions 0..m-1 in the given order with their text as tick labels
    (``log_x`` is then ignored). NaN means leave a gap.
    """
    raw = np.asarray(x_values, dtype=object).ravel()
    m = raw.size
    numeric = all(
        isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool | np.bool_)
        for v in raw.tolist()
    )
    curves: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for name, triple in series.items():
        if len(triple) != 3:
            raise ValueError(f"series {name!r} must be (mean, ci_low, ci_high)")
        arrays = tuple(np.asarray(a, dtype=np.float64).ravel() for a in triple)
        if any(a.size != m for a in arrays):
            raise ValueError(f"series {name!r}: mean, ci_low and ci_high need {m} values each")
        curves[name] = (arrays[0], arrays[1], arrays[2])
    if numeric:
        x = raw.astype(np.float64)
        order = np.argsort(x, kind="stable")
    else:
        x = np.arange(m, dtype=np.float64)
        order = np.arange(m)

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        for k, (name, (mean, low, high)) in enumerate(curves.items()):
            colour = _group_colour(name, k)
            ax.fill_between(x[order], low[order], high[order], color=colour, alpha=0.2, linewidth=0)
            ax.plot(x[order], mean[order], color=colour, marker="o", markersize=4, label=name)
        if numeric:
            if log_x:
                ax.set_xscale("log")
        else:
            ax.set_xticks(x, [str(v) for v in raw.tolist()])
            if m:
                ax.set_xlim(-0.5, m - 0.5)
        ax.set_xlabel(x_name)
        ax.set_ylabel(y_label)
        ax.grid(True, color="#eeeeee", linewidth=0.6)
        if curves:
            ax.legend(title="shaded: confidence interval", title_fontsize=8, fontsize=8)
        if title:
            ax.set_title(title)

    return _render(out_stem, (6.4, 4.2), draw)


# --------------------------------------------------------------------------------------------
# Adapters: figures of one run
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CoverageGrid:
    """The probe grid of ``mesh.coverage`` as cells: ``covered_share`` is (ny, nx), 0 or 1 per
    probe (a cell holds one probe at its centre); its mean is ``SimResult.area_coverage[link]``."""

    link: str
    x_edges_m: np.ndarray
    y_edges_m: np.ndarray
    covered_share: np.ndarray


def coverage_grid(sim: SimResult, link: str | None = None) -> CoverageGrid | None:
    """Area coverage of ``link`` (default: ``sim.area_link``) per probe, computed as the engine
    does (same probes, budget of the first class sending on the link, median loss, wall loss of
    indoor bridges). None when the area less its margin holds no probe."""
    config = sim.config
    topo = sim.topology
    link = sim.area_link if link is None else link
    margin_m = config.metrics.area_margin_m
    probes, ok = area_probes(config, topo, link, class_phys(config))
    if len(probes) == 0:
        return None
    nx = int(np.unique(probes[:, 0]).size)
    ny = int(np.unique(probes[:, 1]).size)
    w = max(topo.width_m - 2 * margin_m, 0.0)
    h = max(topo.height_m - 2 * margin_m, 0.0)
    return CoverageGrid(
        link=link,
        x_edges_m=margin_m + np.arange(nx + 1) * (w / nx),
        y_edges_m=margin_m + np.arange(ny + 1) * (h / ny),
        covered_share=ok.reshape(ny, nx).astype(np.float64),  # probe_grid is row-major in y
    )


def nearest_bridge_links(sim: SimResult) -> np.ndarray:
    """(k, 2) pairs (endpoint node, bridge node): each endpoint with PDR > 0 and the nearest
    bridge listening on its primary link. A proxy for the links in use (see module docstring)."""
    from scipy.spatial import cKDTree

    table = endpoint_table(sim)
    topo = sim.topology
    config = sim.config
    classes = config.endpoint_classes
    bridges = topo.bridge_ids
    active = table["node"][np.nan_to_num(table["pdr"], nan=0.0) > 0]
    primary = np.array([classes[i].link for i in sim.class_of_node[active]], dtype=object)
    pairs: list[np.ndarray] = []
    if not len(bridges):
        return np.zeros((0, 2), dtype=np.int64)
    tree = cKDTree(topo.positions_m[bridges])
    for link in LINKS:
        rows = active[primary == link]
        if not len(rows):
            continue
        # bridges listen on every link of config.bridge.links; a link they do not serve has none
        if link not in config.bridge.links:
            continue
        _, nearest = tree.query(topo.positions_m[rows], k=1)
        pairs.append(np.column_stack([rows, bridges[np.asarray(nearest)]]))
    if not pairs:
        return np.zeros((0, 2), dtype=np.int64)
    out = np.concatenate(pairs).astype(np.int64)
    return out[np.argsort(out[:, 0], kind="stable")]


def run_figures(sim: SimResult, out_dir: Path) -> list[Path]:
    """The figures of one run in ``out_dir/figures/``: ``topology``, ``coverage``,
    ``latency_cdf``, ``battery_hist`` and ``battery_map``, each ``.png`` and ``.svg``. Returns
    the paths written (no coverage figure when the area less its margin holds no probe)."""
    folder = Path(out_dir) / FIGURES_DIR
    topo = sim.topology
    config = sim.config
    classes = config.endpoint_classes
    n = topo.n_nodes
    is_bridge = np.zeros(n, dtype=bool)
    is_bridge[topo.bridge_ids] = True
    link_of = ["" if c < 0 else classes[c].link for c in sim.class_of_node.tolist()]
    class_of = ["" if c < 0 else classes[c].name for c in sim.class_of_node.tolist()]
    bridges_xy = topo.positions_m[topo.bridge_ids]
    name = config.scenario.name
    paths = topology_map(
        folder / "topology",
        topo.positions_m,
        is_bridge,
        link_of,
        class_of,
        nearest_bridge_links(sim),
        topo.width_m,
        topo.height_m,
        topo.streets_m,
        title=f"{name}: {topo.n_bridges} bridges, {topo.n_endpoints} endpoints",
    )
    grid = coverage_grid(sim)
    if grid is not None:
        share = float(grid.covered_share.mean())
        paths += coverage_heatmap(
            folder / "coverage",
            grid.x_edges_m,
            grid.y_edges_m,
            grid.covered_share,
            bridges_xy,
            title=f"area coverage, {grid.link}: {share:.3f}",
        )
    records = sim.records
    latency_s = records.delivered_s - records.generated_s
    delivered = records.fate == DELIVERED
    groups = {
        link: latency_s[delivered & (records.link == code)]
        for code, link in enumerate(LINKS)
        if np.any(records.link == code)
    }
    paths += latency_cdf(folder / "latency_cdf", groups, title=f"{name}: uplink latency")
    table = endpoint_table(sim)
    by_class = {
        c.name: table["battery_life_days"][table["class"] == c.name]
        for c in classes
        if np.any(table["class"] == c.name)
    }
    paths += battery_histogram(folder / "battery_hist", by_class, title=f"{name}: battery life")
    positions = np.column_stack([table["x_m"], table["y_m"]])
    paths += battery_map(
        folder / "battery_map",
        positions,
        table["battery_life_days"],
        topo.width_m,
        topo.height_m,
        bridges_xy,
        title=f"{name}: battery life",
    )
    return paths
