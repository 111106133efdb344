"""Figures of ``experiments.plots``: each function writes a PNG and an SVG of non-trivial size,
byte-identical when drawn twice, with its labels and legend entries in the SVG text; the figures
of a real run; NaN battery life and a categorical sweep axis; no matplotlib on import, no pyplot."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from experiments import plots
from experiments.runner import RunResult, run
from experiments.spec import load_spec
from mesh.config import LINKS

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MIN_BYTES = 5_000
REPO = Path(__file__).resolve().parents[2]

Draw = Callable[[Path], list[Path]]


def svg_text(path: Path) -> str:
    """All text of the SVG (it must parse as XML), joined by newlines."""
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    return "\n".join(t for t in root.itertext() if t.strip())


def check_files(paths: list[Path], stem: Path) -> None:
    assert paths == [stem.parent / f"{stem.name}.png", stem.parent / f"{stem.name}.svg"]
    png, svg = paths
    assert png.read_bytes().startswith(PNG_SIGNATURE)
    assert png.stat().st_size > MIN_BYTES
    assert svg.stat().st_size > MIN_BYTES
    svg_text(svg)


def topology(stem: Path) -> list[Path]:
    rng = np.random.default_rng(1)
    n_bridges, n_endpoints = 4, 40
    pos = rng.uniform(0, [300, 200], size=(n_bridges + n_endpoints, 2))
    links = ["ble", "fsk", "lora", "ble+lora"]
    classes = ["sensor", "tag"]
    is_bridge = np.arange(len(pos)) < n_bridges
    link_of = [""] * n_bridges + [links[i % 4] for i in range(n_endpoints)]
    class_of = [""] * n_bridges + [classes[i % 2] for i in range(n_endpoints)]
    pairs = [(n_bridges + i, i % n_bridges) for i in range(0, n_endpoints, 2)]
    streets = np.array([[0, 100, 300, 100], [150, 0, 150, 200]], dtype=float)
    return plots.topology_map(
        stem, pos, is_bridge, link_of, class_of, pairs, 300.0, 200.0, streets, title="map"
    )


def heatmap(stem: Path) -> list[Path]:
    x_edges = np.linspace(0, 300, 31)
    y_edges = np.linspace(0, 200, 21)
    xc, yc = np.meshgrid((x_edges[1:] + x_edges[:-1]) / 2, (y_edges[1:] + y_edges[:-1]) / 2)
    share = np.clip(1.2 - np.hypot(xc - 150, yc - 100) / 120, 0, 1)
    return plots.coverage_heatmap(stem, x_edges, y_edges, share, np.array([[150.0, 100.0]]))


def cdf(stem: Path) -> list[Path]:
    rng = np.random.default_rng(2)
    groups = {
        "ble": rng.lognormal(-3, 0.5, 300),
        "lora": rng.lognormal(-1, 0.8, 200),
        "empty": np.zeros(0),
    }
    return plots.latency_cdf(stem, groups)


def histogram(stem: Path) -> list[Path]:
    rng = np.random.default_rng(3)
    life = {
        "leak_sensor": rng.lognormal(8, 0.3, 100),
        "plug": np.full(5, np.nan),
        "tracker": np.r_[rng.lognormal(6.5, 0.4, 80), np.nan],
    }
    return plots.battery_histogram(stem, life)


def battery_map(stem: Path) -> list[Path]:
    rng = np.random.default_rng(4)
    pos = rng.uniform(0, [300, 200], size=(60, 2))
    life = rng.lognormal(7, 1.0, 60)
    life[::7] = np.nan  # mains-powered
    life[5] = np.inf
    return plots.battery_map(stem, pos, life, 300.0, 200.0, np.array([[10.0, 10.0]]))


def sweep(stem: Path) -> list[Path]:
    x = np.array([0.05, 0.2, 0.1, 0.4])  # unsorted: drawn in increasing order
    series = {
        "ble": (x * 2, x * 2 - 0.05, x * 2 + 0.05),
        "lora": (np.sqrt(x), np.sqrt(x) - 0.1, np.r_[np.sqrt(x[:3]) + 0.1, np.nan]),
    }
    return plots.sweep_curves(stem, "bridge fraction", x, series, "area coverage")


def sweep_categorical(stem: Path) -> list[Path]:
    mean = np.array([0.9, 0.8, 0.95])
    series = {"pdr": (mean, mean - 0.05, np.minimum(mean + 0.05, 1.0))}
    return plots.sweep_curves(stem, "strategy", ["direct", "flood", "gradient"], series, "PDR")


CASES: dict[str, tuple[Draw, list[str]]] = {
    "topology": (
        topology,
        [
            "x (m)",
            "y (m)",
            "bridge",
            "street",
            "link in use",
            "sensor",
            "tag",
            "ble",
            "lora",
            "map",
        ],
    ),
    "heatmap": (heatmap, ["x (m)", "y (m)", "covered share", "bridge"]),
    "cdf": (cdf, ["latency (s)", "share of packets", "ble (n=300", "p50", "empty (no values)"]),
    "histogram": (
        histogram,
        [
            "projected battery life (days)",
            "endpoints",
            "leak_sensor (n=100",
            "plug (no battery life, 5 mains-powered)",
            "tracker (n=80",
        ],
    ),
    "battery_map": (battery_map, ["battery life (days)", "mains-powered", "bridge", "x (m)"]),
    "sweep": (sweep, ["bridge fraction", "area coverage", "ble", "lora"]),
    "sweep_categorical": (sweep_categorical, ["strategy", "PDR", "direct", "flood", "gradient"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_figure_files_are_nontrivial_deterministic_and_labelled(case: str, tmp_path: Path) -> None:
    draw, expected = CASES[case]
    first = draw(tmp_path / "a" / case)  # folder created on demand
    second = draw(tmp_path / "b" / case)
    check_files(first, tmp_path / "a" / case)
    for one, two in zip(first, second, strict=True):
        assert one.read_bytes() == two.read_bytes(), f"{one.name} differs between renderings"
    text = svg_text(first[1])
    for label in expected:
        assert label in text, f"{label!r} not in the SVG of {case}"
    assert sorted(p.name for p in first[0].parent.iterdir()) == [f"{case}.png", f"{case}.svg"]


def test_redrawing_replaces_the_files_and_leaves_no_temporary(tmp_path: Path) -> None:
    stem = tmp_path / "fig.v1"  # a dot in the stem is kept, not taken as a suffix
    cdf(stem)
    paths = sweep(stem)
    assert [p.name for p in paths] == ["fig.v1.png", "fig.v1.svg"]
    assert "bridge fraction" in svg_text(paths[1])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.v1.png", "fig.v1.svg"]


def test_categorical_sweep_keeps_the_given_order(tmp_path: Path) -> None:
    paths = sweep_categorical(tmp_path / "s")
    text = svg_text(paths[1])
    assert text.index("direct") < text.index("flood") < text.index("gradient")


def test_battery_map_all_mains_powered(tmp_path: Path) -> None:
    pos = np.array([[10.0, 10.0], [50.0, 80.0], [90.0, 30.0]])
    paths = plots.battery_map(tmp_path / "m", pos, np.full(3, np.nan), 100.0, 100.0)
    check_files(paths, tmp_path / "m")
    assert "mains-powered" in svg_text(paths[1])


def test_mismatched_inputs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="covered_share"):
        plots.coverage_heatmap(
            tmp_path / "c", np.arange(4.0), np.arange(3.0), np.zeros((3, 2)), np.zeros((0, 2))
        )
    with pytest.raises(ValueError, match="series 'a'"):
        plots.sweep_curves(tmp_path / "s", "x", [1, 2], {"a": (np.ones(3),) * 3}, "y")
    assert not list(tmp_path.iterdir())


@pytest.fixture(scope="module")
def result() -> RunResult:
    return run(load_spec(None, duration="20m", overrides=["topology.homes=60"]))


def test_run_figures_of_a_real_run(result: RunResult, tmp_path: Path) -> None:
    paths = plots.run_figures(result.sim, tmp_path)
    names = ["topology", "coverage", "latency_cdf", "battery_hist", "battery_map"]
    folder = tmp_path / "figures"
    assert paths == [folder / f"{n}.{ext}" for n in names for ext in ("png", "svg")]
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in paths)
    for png, svg in zip(paths[::2], paths[1::2], strict=True):
        check_files([png, svg], png.with_suffix(""))
    cdf_text = svg_text(folder / "latency_cdf.svg")
    sent = {LINKS[k] for k in np.unique(result.sim.records.link)}
    assert sent and all(f"{link} (n=" in cdf_text for link in sent)
    hist_text = svg_text(folder / "battery_hist.svg")
    assert all(c.name in hist_text for c in result.sim.config.endpoint_classes)
    assert "bridge" in svg_text(folder / "topology.svg")


def test_coverage_grid_matches_the_engine(result: RunResult) -> None:
    sim = result.sim
    for link in sim.area_coverage:
        grid = plots.coverage_grid(sim, link)
        assert grid is not None and grid.link == link
        ny, nx = grid.covered_share.shape
        assert grid.x_edges_m.shape == (nx + 1,) and grid.y_edges_m.shape == (ny + 1,)
        assert grid.x_edges_m[-1] == pytest.approx(sim.topology.width_m)
        assert grid.y_edges_m[-1] == pytest.approx(sim.topology.height_m)
        assert float(grid.covered_share.mean()) == sim.area_coverage[link]


def test_nearest_bridge_links_join_delivering_endpoints_to_bridges(result: RunResult) -> None:
    sim = result.sim
    pairs = plots.nearest_bridge_links(sim)
    bridges = set(sim.topology.bridge_ids.tolist())
    assert len(pairs) > 0
    assert all(int(b) in bridges for b in pairs[:, 1])
    delivering = np.unique(sim.records.endpoint[sim.records.fate == 0])
    assert set(pairs[:, 0].tolist()) <= set(delivering.tolist())
    pos = sim.topology.positions_m
    bridge_pos = pos[sim.topology.bridge_ids]
    for endpoint, bridge in pairs[:5]:
        nearest = np.min(np.hypot(*(bridge_pos - pos[endpoint]).T))
        assert np.hypot(*(pos[bridge] - pos[endpoint])) == pytest.approx(nearest)


def test_import_does_not_load_matplotlib_and_drawing_never_loads_pyplot(tmp_path: Path) -> None:
    code = (
        "import sys, numpy as np\n"
        "from pathlib import Path\n"
        "from experiments import plots\n"
        "assert 'matplotlib' not in sys.modules\n"
        f"plots.latency_cdf(Path({str(tmp_path)!r}) / 'c', {{'a': np.arange(1.0, 50.0)}})\n"
        "assert 'matplotlib' in sys.modules and 'matplotlib.pyplot' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=60)
