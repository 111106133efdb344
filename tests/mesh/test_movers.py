"""Mobile endpoints in the engine: rows at the frame's position, cell shadowing, coverage gaps,
and the limits of mobile classes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mesh.config import ConfigError, DownlinkConfig, EndpointConfig, MobilityConfig
from mesh.mobility import Trajectory
from mesh.movers import CELL_ID_BASE, Movers, cell_ids
from mesh.pathgain import PathGain
from mesh.records import DELIVERED
from mesh.simulation import simulate
from radios.propagation import Disk, LogDistance
from tests.mesh import relaynet

MOBILE = MobilityConfig(mobile=True, speed_mps=(1.0, 1.0), pause_s=(0.0, 0.0))


def _mobile_config(**kwargs: object):  # type: ignore[no-untyped-def]
    cfg = relaynet.config("direct", **kwargs)  # type: ignore[arg-type]
    sensor = dataclasses.replace(cfg.endpoint_classes[0], mobility=MOBILE)
    return dataclasses.replace(cfg, endpoint_classes=(sensor, cfg.endpoint_classes[1]))


def test_mobile_frames_are_heard_where_the_node_is() -> None:
    # two bridges in opposite corners of a 420 m square, one walker; disk range 150 m: a frame
    # is decoded when a bridge is within 150 m of where the walker was when the frame started
    pos = [(0.0, 0.0), (400.0, 400.0), (200.0, 200.0)]
    topo = relaynet.topology(pos, 2, ["sensor"])
    cfg = _mobile_config(duration_s=4 * 3600.0, interval_s=30.0)
    sim = simulate(cfg, topology=topo)
    movers = sim.movers
    assert movers is not None and movers.is_mobile(2)
    track = movers.trajectories[2]
    rec = sim.records
    at = track.position_at(rec.first_start_s)
    near = np.minimum(
        np.hypot(*(at - topo.positions_m[0]).T), np.hypot(*(at - topo.positions_m[1]).T)
    )
    delivered = rec.fate == DELIVERED
    assert np.array_equal(delivered, near <= 150.0)
    assert 0 < delivered.mean() < 1


def test_cell_ids_are_shared_within_a_cell_and_above_node_ids() -> None:
    points = np.array([[1.0, 1.0], [49.0, 49.0], [51.0, 1.0], [-1.0, 1.0]])
    ids = cell_ids(points, 50.0)
    assert ids[0] == ids[1] and len(set(ids.tolist())) == 3
    assert (ids >= CELL_ID_BASE).all() and (ids < 2**32).all()


def test_moving_shadowing_changes_between_cells_and_is_reciprocal_with_place() -> None:
    positions = np.array([[0.0, 0.0], [100.0, 0.0]])
    gain = PathGain(positions, np.zeros(2, bool), LogDistance(), 0.0, shadow_key=7)
    track = Trajectory(np.array([0.0, 1000.0]), np.array([[200.0, 0.0], [1200.0, 0.0]]))
    movers = Movers(3, {2: track}, np.full(3, 50.0), gain)
    rx = np.array([0])
    first = movers.power_dbm(2, rx, 0.0, 0.0, 915e6)
    same_cell = movers.power_dbm(2, rx, 10.0, 0.0, 915e6)  # 10 m further, same cell
    median = LogDistance().median_loss_db(np.array([200.0, 210.0]), 915e6)
    # within a cell only the median loss changes
    assert (first - same_cell)[0] == pytest.approx(float(median[1] - median[0]))
    far = movers.power_dbm(2, rx, 500.0, 0.0, 915e6)
    median_far = LogDistance().median_loss_db(np.array([700.0]), 915e6)
    assert (far[0] + median_far[0]) != pytest.approx(first[0] + median[0])


def test_coverage_gaps_follow_the_track() -> None:
    positions = np.array([[0.0, 0.0]])
    gain = PathGain(positions, np.zeros(1, bool), Disk(range_m=100.0), 0.0, shadow_key=1)
    # out and back at 1 m/s: covered for 100 s, out of range from 100 s to 300 s, back in range
    track = Trajectory(np.array([0.0, 200.0, 400.0]), np.array([[0.0, 0], [200.0, 0], [0.0, 0]]))
    movers = Movers(2, {1: track}, np.full(2, 50.0), gain)
    gaps, share = movers.coverage_gaps(1, np.array([0]), 400.0, 1.0, 0.0, -1.0, 915e6)
    assert gaps.tolist() == pytest.approx([199.0])  # from 101 s (first sample out) to 300 s
    assert share == pytest.approx(199 / 401)


def test_mobility_summary_reports_mobile_pdr_and_gaps() -> None:
    from experiments.meshsummary import mobility_summary

    pos = [(0.0, 0.0), (400.0, 400.0), (200.0, 200.0), (10.0, 10.0)]
    topo = relaynet.topology(pos, 2, ["sensor", "relay"])
    cfg = _mobile_config(duration_s=3600.0, interval_s=60.0)
    sim = simulate(cfg, topology=topo)
    summary = mobility_summary(sim)
    assert summary is not None and summary["mobile_endpoints"] == 1
    assert summary["coverage_gaps_s"]["count"] >= 1
    assert 0 < summary["uncovered_share"] < 1
    assert summary["pdr_mobile"] == pytest.approx(
        float((sim.records.fate[sim.records.endpoint == 2] == DELIVERED).mean())
    )


def test_same_seed_same_tracks() -> None:
    pos = [(0.0, 0.0), (500.0, 0.0)]
    topo = relaynet.topology(pos, 1, ["sensor"])
    a = simulate(_mobile_config(duration_s=600.0, interval_s=60.0), topology=topo)
    b = simulate(_mobile_config(duration_s=600.0, interval_s=60.0), topology=topo)
    assert a.movers is not None and b.movers is not None
    assert np.array_equal(a.movers.trajectories[1].points_m, b.movers.trajectories[1].points_m)
    assert np.array_equal(a.records.fate, b.records.fate)


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"acked": True}, "acked"),
        ({"relay": True}, "relay"),
        ({"downlink": DownlinkConfig(interval_s=600.0)}, "downlink.interval_s"),
        ({"link": "fsk"}, "link"),
        ({"lbt": True}, "lbt"),
    ],
)
def test_mobile_classes_only_transmit(changes: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as err:
        EndpointConfig(mobility=MOBILE, **changes)  # type: ignore[arg-type]
    assert err.value.key == key


def test_mobility_ranges_are_checked() -> None:
    with pytest.raises(ConfigError, match="minimum speed"):
        MobilityConfig(speed_mps=(0.0, 1.0))
    with pytest.raises(ConfigError, match="min <= max"):
        MobilityConfig(pause_s=(5.0, 1.0))
    with pytest.raises(ConfigError, match=r"\[min, max\]"):
        MobilityConfig(speed_mps=(1.0,))


def test_scalar_positions_match_the_trajectory() -> None:
    from mesh.mobility import random_waypoint_area

    rng = np.random.default_rng(5)
    track = random_waypoint_area(300.0, 200.0, 5000.0, (0.5, 2.0), (0.0, 60.0), rng)
    positions = np.array([[0.0, 0.0]])
    gain = PathGain(positions, np.zeros(1, bool), Disk(range_m=100.0), 0.0, shadow_key=1)
    movers = Movers(2, {1: track}, np.full(2, 50.0), gain)
    times = np.concatenate([[-5.0, 0.0], rng.uniform(0, 5200.0, 500), track.times_s[:20]])
    want = track.position_at(times)
    got = np.array([movers.position(1, float(t)) for t in times])
    assert np.allclose(got, want, rtol=0, atol=1e-9)
