"""Mobility (mesh.mobility): street graph, random waypoint on streets and in an area, gaps."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mesh.mobility import (
    Trajectory,
    coverage_gaps_s,
    random_waypoint_area,
    random_waypoint_streets,
    street_graph,
)
from topologies.suburb import SuburbParams, layout

# the mean distance between two uniform points of the unit square (square line picking)
MEAN_UNIT_SQUARE_DISTANCE = (2.0 + math.sqrt(2.0) + 5.0 * math.log(1.0 + math.sqrt(2.0))) / 15.0


def grid_streets(blocks_x: int, blocks_y: int, block_m: float) -> np.ndarray:
    """Centre lines of a ``blocks_x`` x ``blocks_y`` block grid, split at every intersection."""
    segs = []
    for j in range(blocks_y + 1):
        for i in range(blocks_x):
            y = j * block_m
            segs.append((i * block_m, y, (i + 1) * block_m, y))
    for i in range(blocks_x + 1):
        for j in range(blocks_y):
            x = i * block_m
            segs.append((x, j * block_m, x, (j + 1) * block_m))
    return np.array(segs, dtype=np.float64)


GRID = grid_streets(2, 2, 100.0)  # 3 x 3 intersections at 0, 100, 200 m


def distance_to_streets_m(points_m: np.ndarray, streets_m: np.ndarray) -> np.ndarray:
    """(m,) distance from each point to the nearest street segment."""
    a, b = streets_m[:, 0:2], streets_m[:, 2:4]
    d = b - a
    rel = points_m[:, None, :] - a[None, :, :]
    frac = np.clip(np.einsum("mkj,kj->mk", rel, d) / np.einsum("kj,kj->k", d, d), 0.0, 1.0)
    gap = rel - frac[..., None] * d[None, :, :]
    return np.asarray(np.hypot(gap[..., 0], gap[..., 1]).min(axis=1))


def check_speeds_and_pauses(
    traj: Trajectory, speed_range_mps: tuple[float, float], pause_range_s: tuple[float, float]
) -> None:
    """Every move runs at a speed within the range, every pause lasts within the pause range."""
    dt = np.diff(traj.times_s)
    step = np.hypot(*np.diff(traj.points_m, axis=0).T)
    moving = step > 0
    assert np.all(dt >= 0)
    # dt is a difference of accumulated times: allow its rounding (a few ulps of the clock)
    slack_s = 8 * np.finfo(float).eps * np.maximum(traj.times_s[1:], 1.0)
    lo, hi = speed_range_mps
    assert np.all(step[moving] >= lo * (dt[moving] - slack_s[moving]) * (1 - 1e-9))
    assert np.all(step[moving] <= hi * (dt[moving] + slack_s[moving]) * (1 + 1e-9))
    pauses = dt[~moving]
    assert np.all(pauses >= pause_range_s[0] - slack_s[~moving])
    assert np.all(pauses <= pause_range_s[1] + slack_s[~moving])
    assert np.all(pauses > 0)  # a pause that does not move the clock adds no waypoint


# --- street graph ------------------------------------------------------------------------------


def test_grid_graph_vertices_edges_and_all_pairs_distances() -> None:
    graph = street_graph(GRID)
    assert graph.vertices_m.shape == (9, 2)
    assert graph.edges.shape == (12, 2)
    assert np.allclose(graph.lengths_m, 100.0)
    assert graph.total_length_m == pytest.approx(1200.0)
    assert graph.distances_m is not None
    corner, opposite = graph.locate(np.array([0.0, 0.0])), graph.locate(np.array([200.0, 200.0]))
    u = int(graph.edges[corner[0], round(corner[1])])
    v = int(graph.edges[opposite[0], round(opposite[1])])
    assert graph.distances_m[u, v] == pytest.approx(400.0)  # Manhattan distance
    path = graph.vertex_path(u, v)
    assert len(path) == 5
    assert np.allclose(np.abs(np.diff(graph.vertices_m[path], axis=0)).sum(axis=1), 100.0)


@pytest.mark.parametrize("all_pairs_max_vertices", [2000, 0])
@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # different rows: up the middle avenue, |dx| + |dy| = 140 + 200
        ((30.0, 0.0), (170.0, 200.0), [(30, 0), (100, 0), (100, 100), (100, 200), (170, 200)]),
        # same segment: straight along it
        ((20.0, 0.0), (80.0, 0.0), [(20, 0), (80, 0)]),
        ((80.0, 0.0), (20.0, 0.0), [(80, 0), (20, 0)]),
        # neighbouring segments of one street: through the intersection
        ((50.0, 100.0), (150.0, 100.0), [(50, 100), (100, 100), (150, 100)]),
        # back the short way round a corner: 10 + 100 + 50 would be 260 the other way
        ((10.0, 200.0), (0.0, 150.0), [(10, 200), (0, 200), (0, 150)]),
        # from an interior vertex exactly (no zero-length step)
        ((100.0, 100.0), (200.0, 130.0), [(100, 100), (200, 100), (200, 130)]),
        # to the same point: a single waypoint
        ((60.0, 200.0), (60.0, 200.0), [(60, 200)]),
    ],
)
def test_routes_on_a_block_grid_are_the_known_shortest_paths(
    start: tuple[float, float],
    end: tuple[float, float],
    expected: list[tuple[float, float]],
    all_pairs_max_vertices: int,
) -> None:
    graph = street_graph(GRID, all_pairs_max_vertices=all_pairs_max_vertices)
    assert (graph.distances_m is None) == (all_pairs_max_vertices == 0)
    route = graph.route_m(*graph.locate(np.array(start)), *graph.locate(np.array(end)))
    assert route == pytest.approx(np.array(expected, dtype=float), abs=1e-9)
    manhattan = abs(end[0] - start[0]) + abs(end[1] - start[1])
    if expected != [(10, 200), (0, 200), (0, 150)]:
        assert np.hypot(*np.diff(route, axis=0).T).sum() == pytest.approx(manhattan)


def test_close_endpoints_merge_and_duplicate_or_degenerate_segments_drop() -> None:
    streets = np.array(
        [
            [0.0, 0.0, 10.0, 0.0],
            [10.0 + 4e-7, 3e-7, 10.0, 10.0],  # starts within 1e-6 m of (10, 0)
            [10.0, 10.0, 10.0, 10.0 + 5e-7],  # zero length once merged
            [10.0, 0.0, 0.0, 0.0],  # duplicate of the first, reversed
        ]
    )
    graph = street_graph(streets)
    assert graph.vertices_m.shape == (3, 2)
    assert graph.street_index.tolist() == [0, 1]
    assert graph.edges.tolist() == [[0, 1], [1, 2]]
    assert graph.vertices_m[1].tolist() == [10.0, 0.0]  # the first endpoint's coordinates


def test_disconnected_streets_keep_the_largest_component() -> None:
    small = np.array([[500.0, 500.0, 510.0, 500.0]])
    graph = street_graph(np.concatenate([small, GRID]))
    assert graph.vertices_m.shape == (9, 2)
    assert graph.street_index.tolist() == list(range(1, 13))
    traj = random_waypoint_streets(graph, 2000.0, (1.0, 2.0), (0.0, 5.0), np.random.default_rng(4))
    assert np.all(traj.points_m <= 200.0)


@pytest.mark.parametrize(
    ("streets", "message"),
    [
        (np.zeros((0, 4)), "empty"),
        (np.zeros((3, 3)), r"shape \(k, 4\)"),
        (np.array([[0.0, 0.0, np.nan, 1.0]]), "finite"),
        (np.array([[1.0, 1.0, 1.0, 1.0]]), "positive length"),
    ],
)
def test_street_graph_rejects_bad_streets(streets: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        street_graph(streets)


# --- trajectories --------------------------------------------------------------------------------


def test_position_at_interpolates_clamps_and_vectorises() -> None:
    traj = Trajectory(
        times_s=np.array([10.0, 20.0, 30.0, 30.0, 40.0]),
        points_m=np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 0.0], [50.0, 50.0], [50.0, 60.0]]),
    )
    assert traj.position_at(15.0).tolist() == [5.0, 0.0]
    assert traj.position_at(0.0).tolist() == [0.0, 0.0]  # before the start
    assert traj.position_at(99.0).tolist() == [50.0, 60.0]  # after the end
    assert traj.position_at(25.0).tolist() == [10.0, 0.0]  # pausing
    assert traj.position_at(30.0).tolist() == [50.0, 50.0]  # equal times: the later entry
    assert traj.position_at(35.0).tolist() == [50.0, 55.0]
    t = np.array([0.0, 15.0, 25.0, 35.0, 99.0])
    out = traj.position_at(t)
    assert out.shape == (5, 2)
    assert out.tolist() == [traj.position_at(float(x)).tolist() for x in t]
    assert traj.position_at(t.reshape(5, 1)).shape == (5, 1, 2)
    single = Trajectory(times_s=np.array([3.0]), points_m=np.array([[1.0, 2.0]]))
    assert single.position_at(0.0).tolist() == [1.0, 2.0]
    assert single.position_at(np.array([0.0, 9.0])).tolist() == [[1.0, 2.0], [1.0, 2.0]]


def test_trajectory_rejects_bad_waypoints() -> None:
    with pytest.raises(ValueError, match="non-decreasing"):
        Trajectory(times_s=np.array([1.0, 0.0]), points_m=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="shape"):
        Trajectory(times_s=np.array([0.0, 1.0]), points_m=np.zeros((3, 2)))
    with pytest.raises(ValueError, match="non-empty"):
        Trajectory(times_s=np.zeros(0), points_m=np.zeros((0, 2)))


def test_suburb_street_positions_stay_on_streets() -> None:
    streets = layout(SuburbParams(homes=120)).streets_m
    graph = street_graph(streets)
    speeds, pauses = (0.8, 1.6), (0.0, 30.0)
    traj = random_waypoint_streets(graph, 3600.0, speeds, pauses, np.random.default_rng(11))
    assert traj.times_s[0] == 0.0
    assert traj.times_s[-1] >= 3600.0
    t = np.linspace(-10.0, traj.times_s[-1] + 10.0, 4001)
    assert distance_to_streets_m(traj.position_at(t), streets).max() < 1e-6
    assert distance_to_streets_m(traj.points_m, streets).max() < 1e-6
    check_speeds_and_pauses(traj, speeds, pauses)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    speed_lo=st.floats(0.1, 20.0),
    speed_extra=st.floats(0.0, 10.0),
    pause_lo=st.floats(0.0, 60.0),
    pause_extra=st.floats(0.0, 60.0),
    per_query=st.booleans(),
)
def test_street_waypoint_invariants(
    seed: int,
    speed_lo: float,
    speed_extra: float,
    pause_lo: float,
    pause_extra: float,
    per_query: bool,
) -> None:
    graph = street_graph(GRID, all_pairs_max_vertices=0 if per_query else 2000)
    speeds, pauses = (speed_lo, speed_lo + speed_extra), (pause_lo, pause_lo + pause_extra)
    traj = random_waypoint_streets(graph, 600.0, speeds, pauses, np.random.default_rng(seed))
    assert traj.times_s[-1] >= 600.0
    assert np.all(np.diff(traj.times_s) >= 0)
    t = np.linspace(0.0, traj.times_s[-1], 500)
    assert distance_to_streets_m(traj.position_at(t), GRID).max() < 1e-6
    check_speeds_and_pauses(traj, speeds, pauses)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    speed=st.floats(0.1, 20.0),
    pause=st.floats(0.0, 60.0),
)
def test_area_waypoint_invariants(seed: int, speed: float, pause: float) -> None:
    traj = random_waypoint_area(
        300.0, 200.0, 900.0, (speed, 2 * speed), (pause, pause), np.random.default_rng(seed)
    )
    assert traj.times_s[-1] >= 900.0
    assert np.all((traj.points_m >= 0.0) & (traj.points_m <= [300.0, 200.0]))
    check_speeds_and_pauses(traj, (speed, 2 * speed), (pause, pause))


def test_constant_speed_and_pause_are_exact() -> None:
    traj = random_waypoint_area(50.0, 50.0, 500.0, (2.0, 2.0), (7.0, 7.0), np.random.default_rng(2))
    dt = np.diff(traj.times_s)
    step = np.hypot(*np.diff(traj.points_m, axis=0).T)
    assert np.allclose(step[step > 0] / dt[step > 0], 2.0, rtol=1e-9)
    assert np.allclose(dt[step == 0], 7.0, rtol=1e-9)
    # legs and pauses alternate: move, pause, move, pause, ...
    assert np.array_equal(step > 0, np.arange(len(step)) % 2 == 0)


def test_area_mean_leg_length_matches_square_line_picking() -> None:
    # no pause: every consecutive pair of waypoints is one leg between two uniform points
    traj = random_waypoint_area(
        1.0, 1.0, 10_000.0, (1.0, 1.0), (0.0, 0.0), np.random.default_rng(7)
    )
    legs = np.hypot(*np.diff(traj.points_m, axis=0).T)
    assert len(legs) > 19_000
    # sd of one leg ~0.248: 5 standard errors is ~0.009
    assert legs.mean() == pytest.approx(MEAN_UNIT_SQUARE_DISTANCE, abs=0.009)
    assert MEAN_UNIT_SQUARE_DISTANCE == pytest.approx(0.521405, abs=1e-6)


def test_same_seed_same_trajectory_other_seed_differs_and_shorter_horizon_is_a_prefix() -> None:
    graph = street_graph(GRID)

    def streets(seed: int, horizon_s: float = 1000.0) -> Trajectory:
        return random_waypoint_streets(
            graph, horizon_s, (1.0, 3.0), (0.0, 20.0), np.random.default_rng(seed)
        )

    def area(seed: int) -> Trajectory:
        return random_waypoint_area(
            100.0, 100.0, 1000.0, (1.0, 3.0), (0.0, 20.0), np.random.default_rng(seed)
        )

    for make in (streets, area):
        a, b, c = make(1), make(1), make(2)
        assert np.array_equal(a.times_s, b.times_s)
        assert np.array_equal(a.points_m, b.points_m)
        assert not np.array_equal(a.points_m[:3], c.points_m[:3])
    short, long = streets(5, 200.0), streets(5, 2000.0)
    k = len(short.times_s)
    assert np.array_equal(short.times_s, long.times_s[:k])
    assert np.array_equal(short.points_m, long.points_m[:k])


def test_zero_horizon_is_the_start_point_alone() -> None:
    traj = random_waypoint_area(10.0, 10.0, 0.0, (1.0, 1.0), (0.0, 0.0), np.random.default_rng(0))
    assert traj.times_s.tolist() == [0.0]


@pytest.mark.parametrize(
    ("speeds", "pauses", "horizon", "message"),
    [
        ((0.0, 1.0), (0.0, 1.0), 10.0, "speed_range_mps minimum must be > 0"),
        ((-1.0, 1.0), (0.0, 1.0), 10.0, "speed_range_mps minimum must be > 0"),
        ((2.0, 1.0), (0.0, 1.0), 10.0, "min <= max"),
        ((1.0, math.inf), (0.0, 1.0), 10.0, "speed_range_mps must be finite"),
        ((1.0, 2.0), (-1.0, 1.0), 10.0, "pause_range_s minimum must be >= 0"),
        ((1.0, 2.0), (5.0, 1.0), 10.0, "min <= max"),
        ((1.0, 2.0), (0.0, 1.0), -1.0, "horizon_s"),
        ((1.0, 2.0), (0.0, 1.0), math.nan, "horizon_s"),
    ],
)
def test_generators_reject_bad_ranges(
    speeds: tuple[float, float], pauses: tuple[float, float], horizon: float, message: str
) -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=message):
        random_waypoint_streets(street_graph(GRID), horizon, speeds, pauses, rng)
    with pytest.raises(ValueError, match=message):
        random_waypoint_area(10.0, 10.0, horizon, speeds, pauses, rng)


@pytest.mark.parametrize(("width", "height"), [(0.0, 1.0), (1.0, -1.0), (math.inf, 1.0)])
def test_area_rejects_bad_rectangle(width: float, height: float) -> None:
    with pytest.raises(ValueError, match="must be finite and > 0"):
        random_waypoint_area(width, height, 1.0, (1.0, 1.0), (0.0, 0.0), np.random.default_rng(0))


# --- coverage gaps -------------------------------------------------------------------------------

T = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0])


@pytest.mark.parametrize(
    ("covered", "gaps"),
    [
        ([1, 1, 1, 1, 1, 1], []),
        ([0, 0, 0, 0, 0, 0], [5.0]),  # all uncovered: first to last sample
        ([0, 0, 1, 1, 1, 1], [2.0]),  # at the start: to the first covered sample
        ([1, 1, 1, 1, 0, 0], [1.0]),  # at the end: to the last sample
        ([1, 1, 1, 1, 1, 0], [0.0]),  # a single final sample
        ([0, 1, 0, 0, 1, 0], [1.0, 2.0, 0.0]),
        ([1, 0, 1, 0, 0, 1], [1.0, 2.0]),
    ],
)
def test_coverage_gaps_on_hand_examples(covered: list[int], gaps: list[float]) -> None:
    assert coverage_gaps_s(T, np.array(covered, dtype=bool)).tolist() == gaps


def test_coverage_gaps_uneven_sampling_and_edge_cases() -> None:
    t = np.array([0.0, 0.5, 3.0, 3.25, 10.0])
    assert coverage_gaps_s(t, np.array([1, 0, 0, 1, 1], dtype=bool)).tolist() == [2.75]
    assert coverage_gaps_s(np.zeros(0), np.zeros(0, dtype=bool)).tolist() == []
    assert coverage_gaps_s(np.array([4.0]), np.array([False])).tolist() == [0.0]
    with pytest.raises(ValueError, match="same length"):
        coverage_gaps_s(T, np.ones(3, dtype=bool))
    with pytest.raises(ValueError, match="boolean"):
        coverage_gaps_s(T, np.ones(6))
    with pytest.raises(ValueError, match="sorted"):
        coverage_gaps_s(T[::-1], np.ones(6, dtype=bool))
