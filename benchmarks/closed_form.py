"""Print the engine's closed-form comparisons: pure ALOHA PDR and disk area coverage.

Usage: ``python benchmarks/closed_form.py`` (about 20 s). The same comparisons are asserted, with
stated tolerances, by ``tests/mesh/test_closed_form.py``; this script prints the figures.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

import experiments
from mesh.coverage import covered, probe_grid
from radios.lora import time_on_air
from radios.propagation import Disk
from topologies import TOPOLOGY_KINDS

REPO = Path(__file__).resolve().parent.parent


def aloha() -> None:
    print("pure ALOHA: 200 LoRa SF7 endpoints, one channel, capture off, disk model, 1 h")
    print(f"  {'G':>5} {'exp(-2G(N-1)/N)':>16} {'measured PDR':>13} {'packets':>8}")
    n = 200
    airtime_s = time_on_air(19, 7)
    for load in (0.1, 0.25, 0.5, 1.0):
        spec = experiments.load_spec(
            REPO / "experiments" / "pure-aloha.toml",
            {"topology.endpoints": n, "endpoint.interval_s": n * airtime_s / load},
            duration="3600s",
        )
        s = experiments.run(spec).summary
        expected = math.exp(-2 * load * (n - 1) / n)
        print(f"  {load:5.2f} {expected:16.4f} {s['pdr']:13.4f} {s['packets']['generated']:8d}")


def disk_coverage() -> None:
    print("disk area coverage of Poisson bridges (r = 100 m, 30 fields of 1 km^2, edges excluded)")
    print(f"  {'lambda*pi*r^2':>14} {'1-exp(-.)':>10} {'measured':>9}")
    kind = TOPOLOGY_KINDS["poisson"]
    for mean in (0.5, 1.0, 2.0):
        density = mean / (math.pi * 100.0**2) * 1e6
        shares = []
        for seed in range(30):
            params = kind.params_type(bridge_density_per_km2=density, endpoints=0.0)
            topo = kind.generate(params, np.random.default_rng(seed))
            probes = probe_grid(topo.width_m, topo.height_m, 20.0, margin_m=100.0)
            b = topo.bridge_ids
            ok = covered(probes, topo.positions_m[b], topo.indoor[b], Disk(100.0), 915e6, 0.0, 0.0)
            shares.append(ok.mean())
        print(f"  {mean:14.2f} {1 - math.exp(-mean):10.4f} {np.mean(shares):9.4f}")


if __name__ == "__main__":
    aloha()
    disk_coverage()
