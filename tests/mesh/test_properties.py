"""Invariants over randomly drawn small scenarios (hypothesis)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import experiments
from experiments.spec import build_config
from mesh.records import DELIVERED, PENDING

REPO = Path(__file__).resolve().parents[2]

scenario = st.fixed_dictionaries(
    {
        "topology.endpoints": st.integers(1, 25),
        "topology.bridges": st.integers(0, 4),
        "topology.width_m": st.floats(50.0, 3000.0),
        "endpoint.link": st.sampled_from(["ble", "fsk", "lora"]),
        "endpoint.traffic": st.sampled_from(["periodic", "poisson"]),
        "endpoint.interval_s": st.floats(2.0, 120.0),
        "endpoint.payload_bytes": st.integers(0, 60),
        "endpoint.oversize": st.sampled_from(["reject", "fragment"]),
        "endpoint.acked": st.booleans(),
        "endpoint.lbt": st.booleans(),
        "endpoint.tx_power_dbm": st.sampled_from([0.0, 4.0, 8.0]),
        "endpoint.lora.sf": st.integers(7, 12),
        "endpoint.lora.channels": st.integers(1, 3),
        "medium.capture": st.booleans(),
        "propagation.model": st.sampled_from(["log_distance", "free_space", "lorasim"]),
        "bridge.backhaul_availability": st.sampled_from([1.0, 0.7]),
        "scenario.seed": st.integers(0, 2**31),
    }
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario)
def test_conservation_and_timelines_hold_for_any_small_scenario(drawn: dict) -> None:
    overrides = dict(drawn)
    overrides["topology.height_m"] = overrides["topology.width_m"]
    if overrides["endpoint.link"] == "ble":  # BLE advertising has neither ACKs nor LBT
        overrides["endpoint.acked"] = overrides["endpoint.lbt"] = False
    overrides["propagation.wall_loss_db"] = 10.0
    spec = experiments.load_spec(
        REPO / "experiments" / "pure-aloha.toml",
        {k: v for k, v in overrides.items() if not k.startswith("propagation.")},
        duration="300s",
    )
    # the disk model's range_m key does not exist in the other models: rebuild that section
    data = dict(spec.data)
    data["propagation"] = {
        "model": overrides["propagation.model"],
        "wall_loss_db": overrides["propagation.wall_loss_db"],
    }
    config = build_config(data, "hypothesis", spec.base_dir)
    result = experiments.run(experiments.Spec(config, "hypothesis", data, spec.base_dir))
    records = result.sim.records
    packets = result.summary["packets"]
    assert not np.any(records.fate == PENDING)
    assert packets["delivered"] + sum(packets["dropped"].values()) == packets["generated"]
    delivered = records.fate == DELIVERED
    assert np.all(records.delivered_s[delivered] >= records.generated_s[delivered])
    assert np.all(np.isnan(records.delivered_s[~delivered]))
    durations = result.sim.state_durations_s
    assert np.all(durations >= -1e-9)
    np.testing.assert_allclose(durations.sum(axis=1), result.sim.horizon_s, atol=1e-6)
    if result.sim.topology.n_bridges == 0:
        assert packets["delivered"] == 0
