"""Faults: outage windows, permanent failures, jammers, recovery times."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mesh.config import FaultsConfig, JammerConfig, NodeFailure, OutageWindow
from mesh.faults import (
    FAILURE,
    POWER,
    FaultError,
    Jammer,
    alternating_windows,
    jammer_phase_s,
    plan_faults,
)
from mesh.records import DELIVERED, FATE_NAMES
from mesh.simulation import SimulationError, simulate
from tests.mesh import relaynet


def _star(seed: int = 4):  # type: ignore[no-untyped-def]
    """Three bridges 400 m apart and ten sensors, some in reach of one bridge only, some of two."""
    rng = np.random.default_rng(seed)
    bridges = [(0.0, 0.0), (400.0, 0.0), (200.0, 300.0)]
    sensors = [(float(rng.uniform(-100, 500)), float(rng.uniform(-100, 400))) for _ in range(10)]
    return relaynet.topology(bridges + sensors, 3, ["sensor"] * 10)


def test_scheduled_outage_drops_exactly_the_endpoints_only_that_bridge_reaches() -> None:
    topo = _star()
    pos = topo.positions_m
    cfg = relaynet.config("direct", duration_s=3600.0, interval_s=3600.0, range_m=260.0)
    base = simulate(cfg, topology=topo)
    d = np.hypot(*(pos[3:, None, :] - pos[None, :3, :]).transpose(2, 0, 1))
    in_reach = d <= 260.0
    unreached = ~in_reach.any(axis=1)
    assert base.collisions == 0
    assert np.array_equal(base.records.fate != DELIVERED, unreached[base.records.endpoint - 3])
    private = in_reach & (in_reach.sum(axis=1) == 1)[:, None]
    assert private.any(axis=0).sum() >= 2  # the layout gives bridges endpoints of their own
    for bridge in range(3):
        only = private[:, bridge]
        faults = FaultsConfig(outages=(OutageWindow(bridges=(bridge,), end_s=7200.0),))
        sim = simulate(
            relaynet.config(
                "direct", duration_s=3600.0, interval_s=3600.0, range_m=260.0, faults=faults
            ),
            topology=topo,
        )
        lost = sim.records.fate != DELIVERED
        assert np.array_equal(lost, (only | unreached)[sim.records.endpoint - 3])


def test_random_outages_have_the_stationary_availability() -> None:
    rng = np.random.default_rng(3)
    horizon_s = 2e6
    down_s = 0.0
    for _ in range(50):
        starts, ends = alternating_windows(rng, 900.0, 100.0, horizon_s)
        down_s += float(np.sum(np.minimum(ends, horizon_s) - np.asarray(starts)))
    assert down_s / (50 * horizon_s) == pytest.approx(0.1, rel=0.05)


def test_plan_checks_node_ids() -> None:
    is_bridge = np.array([True, False, False])
    is_relay = np.zeros(3, dtype=bool)
    rng = np.random.default_rng(0)
    bad = FaultsConfig(outages=(OutageWindow(bridges=(1,), end_s=10.0),))
    with pytest.raises(FaultError, match="node 1 is not a bridge"):
        plan_faults(bad, 3, is_bridge, is_relay, 100.0, 200.0, rng)
    bad = FaultsConfig(failures=(NodeFailure(node=7, at_s=1.0),))
    with pytest.raises(FaultError, match="node 7 is not in the topology"):
        plan_faults(bad, 3, is_bridge, is_relay, 100.0, 200.0, rng)
    topo = _star()
    cfg = relaynet.config(
        "direct", faults=FaultsConfig(outages=(OutageWindow(bridges=(5,), end_s=1.0),))
    )
    with pytest.raises(SimulationError, match="not a bridge"):
        simulate(cfg, topology=topo)


def test_failure_fraction_picks_bridges_and_relays() -> None:
    is_bridge = np.array([True] * 4 + [False] * 16)
    is_relay = np.array([False] * 4 + [True] * 6 + [False] * 10)
    plan = plan_faults(
        FaultsConfig(failure_fraction=0.5),
        20,
        is_bridge,
        is_relay,
        100.0,
        200.0,
        np.random.default_rng(1),
    )
    assert plan.size == 5 and (plan.kind == FAILURE).all()
    assert (is_bridge | is_relay)[plan.node].all()
    assert np.isinf(plan.end_s).all() and (plan.start_s < 100.0).all()


def test_failed_endpoint_stops_sending() -> None:
    topo = _star()
    cfg = relaynet.config(
        "direct",
        duration_s=3600.0,
        interval_s=300.0,
        range_m=260.0,
        faults=FaultsConfig(failures=(NodeFailure(node=3, at_s=1800.0),)),
    )
    sim = simulate(cfg, topology=topo)
    mine = sim.records.endpoint == 3
    late = sim.records.generated_s >= 1800.0
    assert (sim.records.fate[mine & late] == FATE_NAMES.index("node_failed")).all()
    assert (sim.records.transmissions[mine & late] == 0).all()


def test_power_outage_recovery_time_is_measured() -> None:
    topo = _star()
    faults = FaultsConfig(outages=(OutageWindow(bridges=(0,), start_s=100.0, end_s=1000.0),))
    cfg = relaynet.config(
        "direct", duration_s=3600.0, interval_s=60.0, range_m=260.0, faults=faults
    )
    sim = simulate(cfg, topology=topo)
    engine = sim.faults
    assert engine is not None and len(engine.recovery_s) == 1
    # the first copy bridge 0 forwards after 1000 s comes from the first packet of an endpoint
    # it hears, sent after 1000 s
    pos = topo.positions_m
    hears = np.hypot(*(pos[3:] - pos[0]).T) <= 260.0
    rec = sim.records
    after = (rec.generated_s > 1000.0) & hears[rec.endpoint - 3]
    first_end = float(np.min(rec.generated_s[after]))
    airtime = sim.config.endpoint_classes[0].lora.airtime_s(10)
    assert engine.recovery_s[0] == pytest.approx(first_end + airtime - 1000.0, abs=1e-6)
    during = (rec.generated_s > 100.0) & (rec.generated_s < 1000.0)
    only0 = (
        hears & (np.hypot(*(pos[3:] - pos[1]).T) > 260) & (np.hypot(*(pos[3:] - pos[2]).T) > 260)
    )
    assert (rec.fate[during & only0[rec.endpoint - 3]] != DELIVERED).all()


def _jammer(**kwargs: object) -> Jammer:
    cfg = JammerConfig(**kwargs)  # type: ignore[arg-type]
    return Jammer(cfg, jammer_phase_s(cfg, np.random.default_rng(2)), np.zeros(1))


def test_jammer_bursts_keep_the_duty_cycle() -> None:
    jammer = _jammer(duty_cycle=0.25, burst_s=2.0, start_s=10.0, end_s=10_010.0)
    starts, ends = jammer.bursts_between(0.0, 1e9)
    assert (starts >= 10.0).all() and (ends <= 10_010.0).all()
    assert float(np.sum(ends - starts)) / 10_000.0 == pytest.approx(0.25, abs=0.001)
    full = _jammer(duty_cycle=1.0, end_s=50.0)
    assert full.bursts_between(0.0, 1e9)[0].tolist() == [0.0]
    assert full.on_at(49.0) and not full.on_at(50.0)


def test_jammer_queries_agree_with_its_bursts() -> None:
    jammer = _jammer(duty_cycle=0.3, burst_s=1.5, start_s=7.0, end_s=500.0)
    starts, ends = jammer.bursts_between(0.0, 600.0)
    rng = np.random.default_rng(9)
    for _ in range(2000):
        t0 = float(rng.uniform(0.0, 520.0))
        t1 = t0 + float(rng.choice([0.0, 0.05, 0.5, 3.0]))
        want = (
            bool(np.any((starts <= t1) & (ends > t0)))
            if t1 > t0
            else bool(np.any((starts <= t0) & (ends > t0)))
        )
        assert jammer.overlaps(t0, t1) == want, (t0, t1)


def test_tiny_jammer_bursts_cost_nothing() -> None:
    jammer = _jammer(duty_cycle=0.5, burst_s=1e-4)  # ~10^9 bursts a day, never listed
    assert sum(jammer.overlaps(t, t + 0.01) for t in np.linspace(0.0, 86_400.0, 100)) == 100


def test_overlapping_windows_of_one_kind_keep_the_bridge_down() -> None:
    topo = _star()
    pos = topo.positions_m
    d = np.hypot(*(pos[3:, None, :] - pos[None, :3, :]).transpose(2, 0, 1))
    reach = d <= 260.0
    private = reach & (reach.sum(axis=1) == 1)[:, None]
    bridge = int(np.argmax(private.sum(axis=0)))  # the bridge with most endpoints of its own
    faults = FaultsConfig(
        outages=(
            OutageWindow(bridges=(bridge,), kind="backhaul", start_s=100.0, end_s=3000.0),
            OutageWindow(bridges=(bridge,), kind="backhaul", start_s=200.0, end_s=300.0),
        )
    )
    cfg = relaynet.config(
        "direct", duration_s=3600.0, interval_s=60.0, range_m=260.0, faults=faults
    )
    sim = simulate(cfg, topology=topo)
    only = private[:, bridge]
    rec = sim.records
    inside = (rec.generated_s > 300.0) & (rec.generated_s < 2990.0) & only[rec.endpoint - 3]
    assert inside.any() and (rec.fate[inside] != DELIVERED).all()
    assert sim.faults is not None and len(sim.faults.recovery_s) == 1


def test_failures_are_the_same_whatever_the_strategy() -> None:
    rng = np.random.default_rng(3)
    pos, classes = relaynet.random_tree(rng, 6, 6)
    topo = relaynet.topology(pos, 1, classes)
    failed = []
    for strategy in ("direct", "flood", "gradient"):
        cfg = relaynet.config(strategy, duration_s=600.0, faults=FaultsConfig(failure_fraction=0.5))
        sim = simulate(cfg, topology=topo)
        assert sim.faults is not None
        failed.append(sim.faults.plan.node.tolist())
    assert failed[0] == failed[1] == failed[2] and failed[0]


def test_a_continuous_strong_jammer_blocks_every_frame_it_reaches() -> None:
    topo = _star()
    jam = JammerConfig(x_m=10.0, y_m=10.0, link="lora", tx_power_dbm=30.0, duty_cycle=1.0)
    cfg = relaynet.config(
        "direct",
        duration_s=1800.0,
        interval_s=300.0,
        range_m=5000.0,
        faults=FaultsConfig(jammers=(jam,)),
    )
    sim = simulate(cfg, topology=topo)
    assert (sim.records.fate == FATE_NAMES.index("collision")).all()


def test_jammer_is_heard_by_listen_before_talk() -> None:
    topo = _star()
    jam = JammerConfig(x_m=10.0, y_m=10.0, link="lora", tx_power_dbm=30.0, duty_cycle=1.0)
    cfg = relaynet.config(
        "direct",
        duration_s=900.0,
        interval_s=300.0,
        range_m=5000.0,
        faults=FaultsConfig(jammers=(jam,)),
        sensor={"lbt": True},
    )
    sim = simulate(cfg, topology=topo)
    assert (sim.records.fate == FATE_NAMES.index("channel_busy")).all()
    assert sim.records.transmissions.sum() == 0


def test_faults_summary_reports_windows_and_pdr() -> None:
    from experiments.meshsummary import faults_summary

    topo = _star()
    faults = FaultsConfig(
        power_mtbf_s=1000.0,
        power_mttr_s=200.0,
        outages=(OutageWindow(bridges=(0, 1, 2), start_s=100.0, end_s=400.0),),
    )
    cfg = relaynet.config(
        "direct", duration_s=3600.0, interval_s=60.0, range_m=260.0, faults=faults
    )
    sim = simulate(cfg, topology=topo)
    summary = faults_summary(sim)
    assert summary is not None
    assert summary["windows"]["power"]["count"] >= 3
    assert summary["pdr_during_faults"] < summary["pdr_outside_faults"] or (
        summary["pdr_outside_faults"] is None
    )
    assert not math.isnan(summary["recovery_s"]["mean"])
    assert POWER == 0
