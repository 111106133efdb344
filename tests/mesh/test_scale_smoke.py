"""A reduced version of the scale scenario (2,000 endpoints, 400 bridges, 1 h): catches functional
breakage of the large-scale paths (dense neighbour-table build, interference cache, many
overlapping frames). Timing is measured by benchmarks/bench.py, never asserted here."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import experiments
from mesh.records import PENDING

REPO = Path(__file__).resolve().parents[2]


def test_reduced_scale_scenario_runs_and_is_consistent() -> None:
    spec = experiments.load_spec(
        REPO / "experiments" / "scale-10k.toml",
        {"topology.homes": 2000, "topology.endpoints": 2000},
        duration="1h",
    )
    result = experiments.run(spec)
    s = result.summary
    assert s["nodes"] == {"bridges": 400, "endpoints": 2000}
    # one uplink every 15 minutes: 4 per endpoint in an hour, give or take the random phase
    assert 7000 <= s["packets"]["generated"] <= 9000
    assert (
        s["packets"]["delivered"] + sum(s["packets"]["dropped"].values())
        == (s["packets"]["generated"])
    )
    assert not np.any(result.sim.records.fate == PENDING)
    # a dense suburb: nearly every endpoint reaches many bridges, every copy is counted
    assert s["pdr"] > 0.99
    assert s["packets"]["server_copies"] > 50 * s["packets"]["delivered"]
    assert set(s["by_link"]) == {"fsk", "lora"}
    assert result.sim.neighbour_pairs["lora"] > result.sim.neighbour_pairs["fsk"] > 0
