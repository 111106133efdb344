"""End-to-end checks of the engine against closed forms.

- Pure ALOHA (Abramson 1970): one channel, capture off, Poisson traffic, every endpoint in range of
  the single bridge (ideal disk): a frame survives when no other frame starts within one airtime
  before or after it, so PDR = exp(-2G), G = offered load in frames per airtime. With N sources
  a frame is only hit by the other N - 1, so G is scaled by (N - 1) / N.
- Area coverage of a Poisson field of bridges under the disk model: 1 - exp(-lambda pi r^2)
  (Poisson void probability).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import experiments
from mesh.coverage import covered, probe_grid
from radios.lora import time_on_air
from radios.propagation import Disk
from topologies import TOPOLOGY_KINDS


@pytest.mark.parametrize("offered_load", [0.1, 0.5, 1.0])
def test_pure_aloha_pdr_matches_exp_minus_2g(repo, offered_load: float) -> None:
    n_endpoints = 200
    airtime_s = time_on_air(19, 7)
    interval_s = n_endpoints * airtime_s / offered_load
    spec = experiments.load_spec(
        repo / "experiments" / "pure-aloha.toml",
        {"topology.endpoints": n_endpoints, "endpoint.interval_s": interval_s},
        duration="1800s",
    )
    summary = experiments.run(spec).summary
    g = offered_load * (n_endpoints - 1) / n_endpoints
    expected = math.exp(-2 * g)
    generated = summary["packets"]["generated"]
    # Tolerance: binomial standard error inflated x2 for the pairwise correlation of collisions,
    # 4 standard errors wide, plus 0.005 for the queueing of an endpoint's own packets.
    tolerance = 4 * 2 * math.sqrt(expected * (1 - expected) / generated) + 0.005
    assert summary["pdr"] == pytest.approx(expected, abs=tolerance)
    dropped = summary["packets"]["dropped"]
    assert dropped["collision"] == generated - summary["packets"]["delivered"]


def test_pure_aloha_with_capture_on_and_equal_powers_is_still_aloha(repo) -> None:
    """Under the disk model every signal arrives equally strong, so no frame can capture."""
    spec = experiments.load_spec(
        repo / "experiments" / "pure-aloha.toml", ["medium.capture=true"], duration="900s"
    )
    summary = experiments.run(spec).summary
    g = 100 * time_on_air(19, 7) / 10 * 99 / 100
    generated = summary["packets"]["generated"]
    expected = math.exp(-2 * g)
    assert summary["pdr"] == pytest.approx(
        expected, abs=8 * math.sqrt(expected * (1 - expected) / generated) + 0.005
    )


@pytest.mark.parametrize("mean_bridges_in_disk", [0.5, 1.0, 2.0])
def test_disk_area_coverage_of_poisson_bridges(mean_bridges_in_disk: float) -> None:
    """Averaged over 30 independent fields, each probed away from the edges."""
    range_m = 100.0
    density_per_m2 = mean_bridges_in_disk / (math.pi * range_m**2)
    kind = TOPOLOGY_KINDS["poisson"]
    shares = []
    for seed in range(30):
        params = kind.params_type(
            width_m=1000.0,
            height_m=1000.0,
            bridge_density_per_km2=density_per_m2 * 1e6,
            endpoints=0.0,
        )
        topo = kind.generate(params, np.random.default_rng(seed))
        probes = probe_grid(topo.width_m, topo.height_m, 20.0, margin_m=range_m)
        bridges = topo.bridge_ids
        ok = covered(
            probes,
            topo.positions_m[bridges],
            topo.indoor[bridges],
            Disk(range_m=range_m),
            915e6,
            budget_db=0.0,
            wall_loss_db=0.0,
        )
        shares.append(ok.mean())
    expected = 1 - math.exp(-mean_bridges_in_disk)
    assert np.mean(shares) == pytest.approx(expected, abs=0.02)


def test_disk_area_coverage_end_to_end(tmp_path) -> None:
    """The same closed form through a spec: one bridge in the centre of a square."""
    path = tmp_path / "one-bridge.toml"
    path.write_text(
        """
[scenario]
duration_s = 60
[topology]
kind = "grid"
width_m = 1000
height_m = 1000
bridge_spacing_m = 1000
endpoint_spacing_m = 250
[propagation]
model = "disk"
range_m = 300
[metrics]
area_probe_spacing_m = 2
"""
    )
    summary = experiments.run(experiments.load_spec(path)).summary
    assert summary["area_coverage"] == pytest.approx(math.pi * 300.0**2 / 1000.0**2, abs=0.002)
    # every endpoint within 300 m of the bridge at (500, 500) delivers, the others never do
    assert summary["nodes"] == {"bridges": 1, "endpoints": 16}
