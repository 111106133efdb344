"""Node mobility: random waypoint on a street graph or in a rectangle, and coverage gaps.

Model: a mobile node follows a piecewise-linear :class:`Trajectory`, a list of timed waypoints;
between two consecutive waypoints it moves in a straight line at constant speed, and two
consecutive waypoints at the same point are a pause. Two generators build one:

- :func:`random_waypoint_area`: the classic random waypoint model. The node starts at a uniform
  point of the rectangle, then repeatedly draws a uniform destination, goes there in a straight line
  at a speed drawn uniformly from ``speed_range_mps`` and pauses for a time drawn uniformly from
  ``pause_range_s``, until the trajectory covers the horizon.
- :func:`random_waypoint_streets`: the same, constrained to a :class:`StreetGraph` built from street
  centre lines. Start and destinations are uniform points of the streets (a segment chosen with
  probability proportional to its length, the position uniform along it); the node travels the
  shortest street path (Dijkstra, ``scipy.sparse.csgraph``), with a waypoint at every street vertex
  it passes, so every position lies on a street. Start and destination on the same segment: straight
  along it (no other path can be shorter).

Each leg draws, in this fixed order, its destination, its speed and then its pause (one uniform
each, the street destination from a single uniform over the total street length); the start point
comes first. The same generator state gives the same trajectory, and a shorter horizon gives a
prefix of a longer one.

:func:`coverage_gaps_s` measures the lengths of the uncovered runs in a sampled coverage flag (for
example "a bridge reaches the mobile node" evaluated on a time grid).

Source: random waypoint, Johnson & Maltz, "Dynamic Source Routing in Ad Hoc Wireless Networks",
in Mobile Computing, Kluwer, 1996 (there a node pauses before each leg, so also at the start;
here the first leg starts at time 0 and the pause follows each leg).
Street-constrained mobility, Bai, Sadagopan & Helmy, "IMPORTANT: A framework to systematically
analyze the Impact of Mobility on Performance of RouTing protocols for Adhoc NeTworks", IEEE
INFOCOM 2003 (its Manhattan model). Note the rule used here, a random street destination reached by
the shortest path, is the City Section model (Camp, Boleng & Davies, "A survey of mobility models
for ad hoc network research", WCMC 2002); IMPORTANT's Manhattan model instead turns at random at
each intersection. The mean straight leg in a unit square, (2 + sqrt 2 + 5 ln(1 + sqrt 2))
/ 15 = 0.5214, is the mean distance of two uniform points in it (e.g. Weisstein, "Square Line
Picking", MathWorld).

Graph building: endpoints closer than 1e-6 m are merged (transitively; the merged vertex takes the
first such endpoint's coordinates, so positions lie within 1e-6 m of the input lines unless a chain
of near endpoints merges); segments of zero length after merging and duplicate segments are
dropped. Segments must be split at intersections: two segments that cross without sharing an
endpoint are not connected. If the
streets form several connected components only the one with the greatest number of vertices is
kept (ties: the one holding the first endpoint); the others are dropped, so no node ever starts on
a street from which it could not reach every destination.

Leaves out: the stationary distribution of random waypoint (nodes start uniformly, not
concentrated towards the centre as in steady state, so early statistics are a transient; Navidi &
Camp, IEEE TMC 2004), zero minimum speed (refused: it makes the mean speed decay, Yoon, Liu & Noble,
INFOCOM 2003), acceleration, traffic rules and per-street speeds, lanes and sidewalks (nodes move on
the centre line), interaction between nodes and group mobility.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_array
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import KDTree

MERGE_TOLERANCE_M = 1e-6
"""Street endpoints closer than this are one vertex."""

ALL_PAIRS_MAX_VERTICES = 2000
"""Graphs up to this many vertices get all-pairs shortest paths precomputed (n x n arrays)."""

_NO_PREDECESSOR = -9999  # scipy.sparse.csgraph's marker


@dataclass(frozen=True, eq=False)
class StreetGraph:
    """Street centre lines as an undirected graph; build it with :func:`street_graph`.

    A point on the streets is a *street location* ``(edge, fraction)``: the point at ``fraction``
    (0 at ``edges[edge, 0]``, 1 at ``edges[edge, 1]``) along edge ``edge``. All arrays are
    read-only.
    """

    vertices_m: np.ndarray
    """(n, 2) vertex coordinates: the merged segment endpoints of the kept component."""
    edges: np.ndarray
    """(e, 2) int vertex indices of each street segment (first endpoint, second endpoint)."""
    lengths_m: np.ndarray
    """(e,) length of each edge (> 0)."""
    street_index: np.ndarray
    """(e,) row of the input ``streets_m`` each edge comes from."""
    adjacency: csr_array
    """(n, n) edge lengths, upper triangle (use with ``directed=False``)."""
    distances_m: np.ndarray | None
    """(n, n) all-pairs shortest path lengths, or None if the graph is too big to precompute."""
    predecessors: np.ndarray | None
    """(n, n) scipy predecessor matrix matching ``distances_m``, or None."""
    cumulative_m: np.ndarray
    """(e,) running sum of ``lengths_m`` (for drawing uniform street points)."""

    def __post_init__(self) -> None:
        for name in ("vertices_m", "edges", "lengths_m", "street_index", "cumulative_m"):
            getattr(self, name).flags.writeable = False
        for arr in (self.distances_m, self.predecessors):
            if arr is not None:
                arr.flags.writeable = False

    @property
    def total_length_m(self) -> float:
        """Sum of the edge lengths."""
        return float(self.lengths_m.sum())

    def point_m(self, edge: int, fraction: float) -> np.ndarray:
        """(2,) coordinates of the street location ``(edge, fraction)``."""
        a, b = self.vertices_m[self.edges[edge]]
        return np.asarray(a + fraction * (b - a), dtype=np.float64)

    def locate(self, point_m: np.ndarray) -> tuple[int, float]:
        """Street location nearest to ``point_m`` (2,): the closest edge (the first on ties) and
        the fraction along it of the point's projection."""
        p = np.asarray(point_m, dtype=np.float64).reshape(2)
        a = self.vertices_m[self.edges[:, 0]]
        d = self.vertices_m[self.edges[:, 1]] - a
        frac = np.clip(np.einsum("ij,ij->i", p - a, d) / self.lengths_m**2, 0.0, 1.0)
        dist = np.hypot(*(a + frac[:, None] * d - p).T)
        edge = int(np.argmin(dist))
        return edge, float(frac[edge])

    def sample_location(self, rng: np.random.Generator) -> tuple[int, float]:
        """A uniform point of the streets as a street location (exactly one uniform draw)."""
        cum = self.cumulative_m
        u = float(rng.random()) * float(cum[-1])
        edge = min(int(np.searchsorted(cum, u, side="right")), len(cum) - 1)
        start = float(cum[edge - 1]) if edge > 0 else 0.0
        return edge, min(max((u - start) / float(self.lengths_m[edge]), 0.0), 1.0)

    def vertex_path(self, source: int, target: int) -> np.ndarray:
        """Vertex indices of a shortest path from ``source`` to ``target``, both included."""
        _, pred = self._from([source])
        return _walk_back(pred[0], source, target)

    def route_m(
        self, from_edge: int, from_fraction: float, to_edge: int, to_fraction: float
    ) -> np.ndarray:
        """(m, 2) waypoints of a shortest street path between two street locations: the start, every
        vertex passed through, the end. Consecutive duplicates are removed (a single row if the two
        locations are the same point); the path length is the sum of the steps."""
        start = self.point_m(from_edge, from_fraction)
        end = self.point_m(to_edge, to_fraction)
        if from_edge == to_edge:
            return _dedupe(np.stack([start, end]))
        a, b = (int(v) for v in self.edges[from_edge])
        c, d = (int(v) for v in self.edges[to_edge])
        len0, len1 = float(self.lengths_m[from_edge]), float(self.lengths_m[to_edge])
        to_exit = ((a, from_fraction * len0), (b, (1.0 - from_fraction) * len0))
        from_entry = ((c, to_fraction * len1), (d, (1.0 - to_fraction) * len1))
        dist, pred = self._from([a, b])
        best = math.inf
        choice = (0, a, c)
        for row, (u, du) in enumerate(to_exit):
            for v, dv in from_entry:
                total = du + float(dist[row, v]) + dv
                if total < best:
                    best, choice = total, (row, u, v)
        row, u, v = choice
        path = _walk_back(pred[row], u, v)
        return _dedupe(np.vstack([start, self.vertices_m[path], end]))

    def _from(self, sources: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Shortest-path distances and predecessors from ``sources``, one row each."""
        if self.distances_m is not None and self.predecessors is not None:
            return self.distances_m[sources], self.predecessors[sources]
        dist, pred = dijkstra(
            self.adjacency, directed=False, indices=sources, return_predecessors=True
        )
        return dist, pred


def street_graph(
    streets_m: np.ndarray, *, all_pairs_max_vertices: int = ALL_PAIRS_MAX_VERTICES
) -> StreetGraph:
    """Build the street graph of ``streets_m`` (k, 4) segments ``x0, y0, x1, y1`` in metres, split
    at intersections (see the module docstring for merging and disconnected streets). All-pairs
    shortest paths are precomputed when the kept graph has at most ``all_pairs_max_vertices``
    vertices, otherwise each route runs Dijkstra from its two exit vertices."""
    streets = np.asarray(streets_m, dtype=np.float64)
    if streets.ndim != 2 or streets.shape[1] != 4:
        raise ValueError(f"streets_m must have shape (k, 4) (x0, y0, x1, y1), got {streets.shape}")
    if len(streets) == 0:
        raise ValueError("streets_m is empty: a street graph needs at least one segment")
    if not np.all(np.isfinite(streets)):
        raise ValueError("streets_m must be finite")

    ends = streets.reshape(-1, 2)  # endpoint 2i is row i's start, 2i+1 its end
    pairs = KDTree(ends).query_pairs(r=MERGE_TOLERANCE_M, output_type="ndarray")
    near = csr_array(
        (np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(ends), len(ends))
    )
    _, cluster = connected_components(near, directed=False)
    # number the merged vertices by first appearance; each takes its first endpoint's coordinates
    _, first, end_vertex = np.unique(cluster, return_index=True, return_inverse=True)
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    end_vertex = rank[end_vertex]
    vertices = ends[first[order]]

    seg = end_vertex.reshape(-1, 2)
    keep = seg[:, 0] != seg[:, 1]
    lo, hi = np.minimum(seg[:, 0], seg[:, 1]), np.maximum(seg[:, 0], seg[:, 1])
    _, unique_rows = np.unique(np.column_stack([lo, hi])[keep], axis=0, return_index=True)
    rows = np.flatnonzero(keep)[np.sort(unique_rows)]
    if len(rows) == 0:
        raise ValueError("streets_m has no segment of positive length (> 1e-6 m)")

    n = len(vertices)
    full = csr_array((np.ones(len(rows)), (lo[rows], hi[rows])), shape=(n, n))
    _, component = connected_components(full, directed=False)
    used = np.unique(seg[rows])  # vertices of positive-length segments, ascending
    sizes = np.bincount(component[used], minlength=int(component.max()) + 1)
    # the largest component; ties go to the one holding the lowest-numbered (earliest) vertex
    main = int(component[used[np.flatnonzero(sizes[component[used]] == sizes.max())[0]]])
    rows = rows[component[seg[rows, 0]] == main]
    kept = np.unique(seg[rows])
    renumber = np.full(n, -1, dtype=np.int64)
    renumber[kept] = np.arange(len(kept))
    vertices = vertices[kept]
    edges = renumber[seg[rows]]
    lengths = np.hypot(*(vertices[edges[:, 1]] - vertices[edges[:, 0]]).T)

    m = len(vertices)
    adjacency = csr_array(
        (lengths, (np.minimum(edges[:, 0], edges[:, 1]), np.maximum(edges[:, 0], edges[:, 1]))),
        shape=(m, m),
    )
    distances: np.ndarray | None = None
    predecessors: np.ndarray | None = None
    if m <= all_pairs_max_vertices:
        distances, predecessors = dijkstra(adjacency, directed=False, return_predecessors=True)
    return StreetGraph(
        vertices_m=np.ascontiguousarray(vertices),
        edges=edges,
        lengths_m=lengths,
        street_index=rows.astype(np.int64),
        adjacency=adjacency,
        distances_m=distances,
        predecessors=predecessors,
        cumulative_m=np.cumsum(lengths),
    )


def _walk_back(pred_row: np.ndarray, source: int, target: int) -> np.ndarray:
    """Vertices from ``source`` to ``target`` following a scipy predecessor row."""
    path = [target]
    v = target
    while v != source:
        v = int(pred_row[v])
        if v == _NO_PREDECESSOR:
            raise ValueError(f"vertex {target} is not reachable from vertex {source}")
        path.append(v)
    return np.array(path[::-1], dtype=np.int64)


def _dedupe(points: np.ndarray) -> np.ndarray:
    """Drop each row equal to the row before it."""
    same = np.all(points[1:] == points[:-1], axis=1)
    return points[np.concatenate([[True], ~same])]


@dataclass(frozen=True, eq=False)
class Trajectory:
    """Timed waypoints of one node; straight lines at constant speed between consecutive ones.

    Two consecutive entries at the same point are a pause. Before ``times_s[0]`` the node is at
    the first point, after ``times_s[-1]`` at the last. Equal consecutive times are allowed (a jump;
    at that instant the later entry counts). Arrays are stored as read-only float64 copies.
    """

    times_s: np.ndarray
    """(k,) non-decreasing waypoint times, k >= 1."""
    points_m: np.ndarray
    """(k, 2) waypoint coordinates."""

    def __post_init__(self) -> None:
        times = np.array(self.times_s, dtype=np.float64)
        points = np.array(self.points_m, dtype=np.float64)
        if times.ndim != 1 or len(times) == 0:
            raise ValueError(f"times_s must be a non-empty 1-D array, got shape {times.shape}")
        if points.shape != (len(times), 2):
            raise ValueError(
                f"points_m must have shape ({len(times)}, 2) to match times_s, got {points.shape}"
            )
        if not (np.all(np.isfinite(times)) and np.all(np.isfinite(points))):
            raise ValueError("times_s and points_m must be finite")
        if np.any(np.diff(times) < 0):
            raise ValueError("times_s must be non-decreasing")
        times.flags.writeable = False
        points.flags.writeable = False
        object.__setattr__(self, "times_s", times)
        object.__setattr__(self, "points_m", points)

    @property
    def start_s(self) -> float:
        return float(self.times_s[0])

    @property
    def end_s(self) -> float:
        return float(self.times_s[-1])

    def position_at(self, t_s: float | np.ndarray) -> np.ndarray:
        """Position at time(s) ``t_s``: shape (2,) for a scalar, (*shape, 2) for an array."""
        t = np.asarray(t_s, dtype=np.float64)
        times, points = self.times_s, self.points_m
        if len(times) == 1:
            return np.broadcast_to(points[0], (*t.shape, 2)).copy()
        j = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 2)
        dt = times[j + 1] - times[j]
        safe = np.where(dt > 0, dt, 1.0)
        frac = np.where(dt > 0, np.clip((t - times[j]) / safe, 0.0, 1.0), 1.0)
        frac = np.where(t < times[0], 0.0, frac)
        p0, p1 = points[j], points[j + 1]
        return np.asarray(p0 + frac[..., None] * (p1 - p0), dtype=np.float64)


def _check_ranges(
    horizon_s: float, speed_range_mps: tuple[float, float], pause_range_s: tuple[float, float]
) -> tuple[float, float, float, float]:
    if not (math.isfinite(horizon_s) and horizon_s >= 0):
        raise ValueError(f"horizon_s must be finite and >= 0, got {horizon_s!r}")
    v_lo, v_hi = (float(v) for v in speed_range_mps)
    if not (math.isfinite(v_lo) and math.isfinite(v_hi)):
        raise ValueError(f"speed_range_mps must be finite, got {speed_range_mps!r}")
    if v_lo <= 0:
        raise ValueError(
            f"speed_range_mps minimum must be > 0 (a zero speed never arrives), got {v_lo!r}"
        )
    if v_lo > v_hi:
        raise ValueError(
            f"speed_range_mps must be (min, max) with min <= max, got {v_lo!r} > {v_hi!r}"
        )
    p_lo, p_hi = (float(p) for p in pause_range_s)
    if not (math.isfinite(p_lo) and math.isfinite(p_hi)):
        raise ValueError(f"pause_range_s must be finite, got {pause_range_s!r}")
    if p_lo < 0:
        raise ValueError(f"pause_range_s minimum must be >= 0, got {p_lo!r}")
    if p_lo > p_hi:
        raise ValueError(
            f"pause_range_s must be (min, max) with min <= max, got {p_lo!r} > {p_hi!r}"
        )
    return v_lo, v_hi, p_lo, p_hi


class _Builder:
    """Appends legs and pauses to a list of waypoints, keeping the clock."""

    def __init__(self, start_m: np.ndarray) -> None:
        self.t_s = 0.0
        self.times: list[float] = [0.0]
        self.points: list[np.ndarray] = [start_m]

    def move(self, path_m: np.ndarray, speed_mps: float) -> None:
        """Travel ``path_m`` (m, 2), whose first row is the current point, at ``speed_mps``."""
        steps = np.hypot(*np.diff(path_m, axis=0).T)
        for point, step in zip(path_m[1:], steps.tolist(), strict=True):
            if step > 0:
                self.t_s += step / speed_mps
                self.times.append(self.t_s)
                self.points.append(point)

    def move_to(self, point_m: np.ndarray, speed_mps: float) -> None:
        """Travel in a straight line from the current point to ``point_m`` at ``speed_mps``."""
        last = self.points[-1]
        step = math.hypot(float(point_m[0] - last[0]), float(point_m[1] - last[1]))
        if step > 0:
            self.t_s += step / speed_mps
            self.times.append(self.t_s)
            self.points.append(point_m)

    def pause(self, pause_s: float) -> None:
        """Stay ``pause_s``; no waypoint if that does not move the clock (zero or below its ulp)."""
        if self.t_s + pause_s > self.t_s:
            self.t_s += pause_s
            self.times.append(self.t_s)
            self.points.append(self.points[-1])

    def trajectory(self) -> Trajectory:
        return Trajectory(times_s=np.array(self.times), points_m=np.array(self.points))


def random_waypoint_streets(
    graph: StreetGraph,
    horizon_s: float,
    speed_range_mps: tuple[float, float],
    pause_range_s: tuple[float, float],
    rng: np.random.Generator,
) -> Trajectory:
    """Random waypoint along the streets of ``graph`` from time 0 until at least ``horizon_s``.

    Draws: the start location, then per leg the destination location, the speed (uniform in
    ``speed_range_mps``) and the pause after arriving (uniform in ``pause_range_s``). A zero pause
    adds no waypoint.
    """
    v_lo, v_hi, p_lo, p_hi = _check_ranges(horizon_s, speed_range_mps, pause_range_s)
    edge, frac = graph.sample_location(rng)
    build = _Builder(graph.point_m(edge, frac))
    while build.t_s < horizon_s:
        to_edge, to_frac = graph.sample_location(rng)
        speed = v_lo + (v_hi - v_lo) * float(rng.random())
        pause = p_lo + (p_hi - p_lo) * float(rng.random())
        path = graph.route_m(edge, frac, to_edge, to_frac)
        path[0] = build.points[-1]  # exactly the current point, whatever the rounding
        build.move(path, speed)
        build.pause(pause)
        edge, frac = to_edge, to_frac
    return build.trajectory()


def random_waypoint_area(
    width_m: float,
    height_m: float,
    horizon_s: float,
    speed_range_mps: tuple[float, float],
    pause_range_s: tuple[float, float],
    rng: np.random.Generator,
) -> Trajectory:
    """Random waypoint in straight lines in ``[0, width_m] x [0, height_m]`` from time 0 until at
    least ``horizon_s``.

    Draws: the start point (x then y), then per leg the destination (x then y), the speed (uniform
    in ``speed_range_mps``) and the pause (uniform in ``pause_range_s``). A zero pause adds no
    waypoint.
    """
    for name, value in (("width_m", width_m), ("height_m", height_m)):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    v_lo, v_hi, p_lo, p_hi = _check_ranges(horizon_s, speed_range_mps, pause_range_s)
    size = np.array([width_m, height_m], dtype=np.float64)

    def point() -> np.ndarray:
        return np.array([float(rng.random()), float(rng.random())]) * size

    build = _Builder(point())
    while build.t_s < horizon_s:
        dest = point()
        speed = v_lo + (v_hi - v_lo) * float(rng.random())
        pause = p_lo + (p_hi - p_lo) * float(rng.random())
        build.move_to(dest, speed)
        build.pause(pause)
    return build.trajectory()


def coverage_gaps_s(times_s: np.ndarray, covered: np.ndarray) -> np.ndarray:
    """Lengths in seconds of the maximal uncovered runs of a sampled coverage flag, in time order.

    Sampling convention: ``covered[i]`` is the state at ``times_s[i]`` (sorted). A run of
    uncovered samples ``i..j`` lasts from ``times_s[i]`` to the next covered sample's time
    ``times_s[j + 1]``: the gap is taken to start exactly at its first uncovered sample and to end
    at the first covered one, so with a sampling step ``dt`` each end is off by less than ``dt``.
    A run that lasts to the end is measured to the last sample time, so a final run of a single
    sample has length 0 (and is still returned). No samples: no gaps.
    """
    times = np.asarray(times_s, dtype=np.float64)
    cov = np.asarray(covered)
    if times.ndim != 1 or cov.shape != times.shape:
        raise ValueError(
            f"times_s and covered must be 1-D of the same length, got {times.shape} and {cov.shape}"
        )
    if cov.dtype != np.bool_:
        raise ValueError(f"covered must be a boolean array, got dtype {cov.dtype}")
    if np.any(np.diff(times) < 0):
        raise ValueError("times_s must be sorted (non-decreasing)")
    if len(times) == 0:
        return np.zeros(0)
    edges = np.diff(np.concatenate([[0], (~cov).astype(np.int8), [0]]))
    first = np.flatnonzero(edges == 1)
    after = np.flatnonzero(edges == -1)  # first covered index after each run, or len(times)
    end_times = times[np.minimum(after, len(times) - 1)]
    return np.asarray(end_times - times[first], dtype=np.float64)
