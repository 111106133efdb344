"""Rotating transmission IDs and bridge-owner linkability (mesh.privacy) against closed forms.

Observations every 60 s from t = 0 with rotation every 900 s: each full epoch holds the frames at
900k, 900k + 60, ..., 900k + 840, so it spans 840 s; the last, partial epoch spans
T - 900 floor(T / 900). With rotation off one bridge links the whole run, T.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mesh.privacy import (
    DEFAULT_ROTATION_PERIOD_S,
    LinkabilityResult,
    linkability,
    mean_over_observed,
    transmission_id,
)

KEY = 0x5EED_1234


def _every_60s(until_s: float) -> np.ndarray:
    return np.arange(0.0, until_s + 1.0, 60.0)


def _reference(
    endpoint: np.ndarray, bridge: np.ndarray, time_s: np.ndarray, period_s: float, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Brute force: group literally by (bridge, transmission ID) with a dict."""
    ids = transmission_id(endpoint, time_s, period_s, KEY)
    spans: dict[tuple[int, int], list[float]] = {}
    owner: dict[tuple[int, int], int] = {}
    for e, b, t, i in zip(
        endpoint.tolist(), bridge.tolist(), time_s.tolist(), ids.tolist(), strict=True
    ):
        lo_hi = spans.setdefault((b, i), [t, t])
        lo_hi[0], lo_hi[1] = min(lo_hi[0], t), max(lo_hi[1], t)
        owner[(b, i)] = e
    per_endpoint: list[list[float]] = [[] for _ in range(n)]
    for g, (lo, hi) in spans.items():
        per_endpoint[owner[g]].append(hi - lo)
    mean = np.array([np.mean(s) if s else np.nan for s in per_endpoint])
    longest = np.array([max(s) if s else np.nan for s in per_endpoint])
    groups = np.array([len(s) for s in per_endpoint])
    return mean, longest, groups


# --- transmission_id -------------------------------------------------------------------------


def test_ids_unique_over_endpoints_and_epochs() -> None:
    endpoint = np.repeat(np.arange(10_000), 100)
    time_s = np.tile(np.arange(100) * 900.0, 10_000)
    ids = transmission_id(endpoint, time_s, 900.0, KEY)
    assert ids.dtype == np.uint64
    ids.sort()
    assert (ids[1:] != ids[:-1]).all()


def test_ids_change_exactly_at_multiples_of_the_period() -> None:
    period_s = 900.0
    time_s = np.arange(0.0, 10 * period_s, 1.0)
    ids = transmission_id(np.full(time_s.size, 7), time_s, period_s, KEY)
    changes = time_s[1:][ids[1:] != ids[:-1]]
    np.testing.assert_array_equal(changes, np.arange(1, 10) * period_s)


def test_rotation_off_id_depends_on_endpoint_only() -> None:
    time_s = np.array([0.0, 899.0, 900.0, 1e6])
    for off in (0.0, math.inf):
        ids = transmission_id(3, time_s, off, KEY)
        assert np.unique(ids).size == 1
        assert ids[0] != transmission_id(4, 0.0, off, KEY)


def test_ids_deterministic_keyed_and_broadcast() -> None:
    a = transmission_id(np.arange(5), 1000.0, 900.0, KEY)
    np.testing.assert_array_equal(a, transmission_id(np.arange(5), 1000.0, 900.0, KEY))
    assert not np.any(a == transmission_id(np.arange(5), 1000.0, 900.0, KEY + 1))
    assert transmission_id(np.arange(6).reshape(2, 3), np.zeros((2, 1)), 900.0, KEY).shape == (2, 3)
    assert transmission_id(1, 2.0, 900.0, KEY).shape == ()
    # Pinned value: the hash must not drift between versions or machines.
    assert int(transmission_id(3, 5.0, 900.0, 7)) == 15457851063744954189


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rotation_period_s": -1.0}, "rotation_period_s must be >= 0"),
        ({"rotation_period_s": math.nan}, "rotation_period_s must be >= 0"),
        ({"time_s": -1.0}, "time_s must be finite"),
        ({"time_s": math.inf}, "time_s must be finite"),
        ({"endpoint": -1}, "non-negative"),
        ({"endpoint": 2**32}, "below 2\\*\\*32"),
        ({"endpoint": 1.5}, "integers"),
        ({"key": 1.0}, "key must be an integer"),
        ({"time_s": 1e9, "rotation_period_s": 1e-3}, "2\\*\\*32 epochs"),
    ],
)
def test_transmission_id_rejects_bad_input(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {
        "endpoint": 1,
        "time_s": 0.0,
        "rotation_period_s": DEFAULT_ROTATION_PERIOD_S,
        "key": KEY,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        transmission_id(**args)  # type: ignore[arg-type]


# --- linkability: closed forms ---------------------------------------------------------------


def _one_endpoint(time_s: np.ndarray, period_s: float, bridges: int = 1) -> LinkabilityResult:
    t = np.tile(time_s, bridges)
    return linkability(
        np.zeros(t.size, dtype=np.int64),
        np.repeat(np.arange(bridges), time_s.size),
        t,
        period_s,
        1,
        KEY,
    )


@pytest.mark.parametrize("off", [0.0, math.inf])
def test_rotation_off_links_the_whole_run(off: float) -> None:
    r = _one_endpoint(_every_60s(7200.0), off)
    assert r.mean_linkable_s[0] == r.max_linkable_s[0] == 7200.0
    assert r.groups[0] == 1
    assert r.observations[0] == 121
    assert mean_over_observed(r) == 7200.0


@pytest.mark.parametrize("until_s", [3000.0, 3600.0, 3540.0, 840.0])
def test_rotation_every_900s_spans_840s_per_full_epoch(until_s: float) -> None:
    r = _one_endpoint(_every_60s(until_s), 900.0)
    full = math.floor(until_s / 900.0)
    partial_s = until_s - 900.0 * full  # last epoch: frames from 900 * full to until_s
    expected_mean = (full * 840.0 + partial_s) / (full + 1)
    assert r.groups[0] == full + 1
    assert r.mean_linkable_s[0] == pytest.approx(expected_mean, rel=1e-12)
    assert r.max_linkable_s[0] == 840.0


def test_partial_last_epoch_exact_values() -> None:
    # 0..3000 s: three full epochs (840 s) and 2700..3000 s (300 s) -> (3 * 840 + 300) / 4.
    assert _one_endpoint(_every_60s(3000.0), 900.0).mean_linkable_s[0] == 705.0
    # 0..3600 s: four full epochs and a lone frame at 3600 s (0 s) -> 4 * 840 / 5.
    assert _one_endpoint(_every_60s(3600.0), 900.0).mean_linkable_s[0] == 672.0


def test_two_bridges_give_two_groups_per_epoch() -> None:
    r = _one_endpoint(_every_60s(3540.0), 900.0, bridges=2)
    assert r.groups[0] == 2 * 4
    assert r.observations[0] == 2 * 60
    assert r.mean_linkable_s[0] == 840.0


def test_unobserved_endpoint_is_nan_and_counts_zero() -> None:
    r = linkability(np.array([1, 1]), np.array([0, 0]), np.array([0.0, 60.0]), 900.0, 3, KEY)
    assert np.isnan(r.mean_linkable_s[[0, 2]]).all() and np.isnan(r.max_linkable_s[[0, 2]]).all()
    np.testing.assert_array_equal(r.groups, [0, 1, 0])
    np.testing.assert_array_equal(r.observations, [0, 2, 0])
    assert r.mean_linkable_s[1] == 60.0
    assert mean_over_observed(r) == 60.0


def test_empty_input() -> None:
    empty = np.zeros(0, dtype=np.int64)
    r = linkability(empty, empty, np.zeros(0), 900.0, 4, KEY)
    assert r.mean_linkable_s.shape == r.groups.shape == (4,)
    assert np.isnan(r.mean_linkable_s).all() and np.isnan(r.max_linkable_s).all()
    assert not r.groups.any() and not r.observations.any()
    assert math.isnan(mean_over_observed(r))
    assert linkability(empty, empty, np.zeros(0), 900.0, 0, KEY).groups.shape == (0,)


def test_single_observation_links_zero_seconds() -> None:
    r = linkability(np.array([0]), np.array([5]), np.array([123.0]), 900.0, 1, KEY)
    assert r.mean_linkable_s[0] == r.max_linkable_s[0] == 0.0
    assert r.groups[0] == 1


def test_result_is_read_only_and_typed() -> None:
    r = _one_endpoint(_every_60s(600.0), 900.0)
    assert r.groups.dtype == r.observations.dtype == np.int64
    assert r.mean_linkable_s.dtype == r.max_linkable_s.dtype == np.float64
    with pytest.raises(ValueError, match="read-only"):
        r.groups[0] = 5


def test_huge_key_space_falls_back_to_lexsort() -> None:
    # bridge ids near 2**32, many endpoints and epochs: the packed int64 key would overflow.
    n = 2**20
    endpoint = np.array([n - 1, n - 1, 0, n - 1])
    bridge = np.array([2**32 - 1, 2**32 - 1, 2**32 - 1, 0])
    time_s = np.array([0.0, 50.0, 9e8, 10.0])
    r = linkability(endpoint, bridge, time_s, 1.0, n, KEY)
    np.testing.assert_array_equal(r.groups[[0, n - 1]], [1, 3])
    assert r.max_linkable_s[n - 1] == 0.0  # 0 s and 50 s are different 1 s epochs


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"endpoint": np.array([0, 3])}, "below n_endpoints=3"),
        ({"bridge": np.array([0])}, "same length"),
        ({"time_s": np.array([0.0, math.nan])}, "time_s must be finite"),
        ({"rotation_period_s": -900.0}, "rotation_period_s must be >= 0"),
        ({"n_endpoints": -1}, "n_endpoints must be >= 0"),
        ({"n_endpoints": 2.0}, "n_endpoints must be an integer"),
        ({"key": "k"}, "key must be an integer"),
    ],
)
def test_linkability_rejects_bad_input(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {
        "endpoint": np.array([0, 1]),
        "bridge": np.array([0, 0]),
        "time_s": np.array([0.0, 1.0]),
        "rotation_period_s": 900.0,
        "n_endpoints": 3,
        "key": KEY,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        linkability(**args)  # type: ignore[arg-type]


# --- linkability: order independence and agreement with brute force ------------------------


def _random_observations(
    rng: np.random.Generator, size: int, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        rng.integers(0, n, size),
        rng.integers(0, 6, size),
        np.round(rng.uniform(0.0, 5000.0, size), 1),
    )


def test_shuffle_gives_identical_results() -> None:
    rng = np.random.default_rng(1)
    e, b, t = _random_observations(rng, 20_000, 50)
    base = linkability(e, b, t, 900.0, 60, KEY)
    p = rng.permutation(e.size)
    shuffled = linkability(e[p], b[p], t[p], 900.0, 60, KEY)
    for name in ("mean_linkable_s", "max_linkable_s", "groups", "observations"):
        np.testing.assert_array_equal(getattr(base, name), getattr(shuffled, name))


def test_matches_brute_force_grouping_by_transmission_id() -> None:
    e, b, t = _random_observations(np.random.default_rng(2), 3_000, 40)
    for period_s in (0.0, 300.0, 900.0):
        r = linkability(e, b, t, period_s, 45, KEY)
        mean, longest, groups = _reference(e, b, t, period_s, 45)
        np.testing.assert_allclose(r.mean_linkable_s, mean, rtol=1e-12)
        np.testing.assert_array_equal(r.max_linkable_s, longest)
        np.testing.assert_array_equal(r.groups, groups)
        np.testing.assert_array_equal(r.observations, np.bincount(e, minlength=45))


observations = st.lists(
    st.tuples(
        st.integers(0, 4),
        st.integers(0, 3),
        st.floats(0.0, 4000.0, allow_nan=False, allow_infinity=False),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(
    obs=observations,
    period_s=st.sampled_from([0.0, 60.0, 900.0, math.inf, 123.4]),
    seed=st.integers(0, 2**32 - 1),
)
def test_property_invariants(obs: list[tuple[int, int, float]], period_s: float, seed: int) -> None:
    e = np.array([o[0] for o in obs], dtype=np.int64)
    b = np.array([o[1] for o in obs], dtype=np.int64)
    t = np.array([o[2] for o in obs], dtype=np.float64)
    r = linkability(e, b, t, period_s, 5, KEY)
    mean, longest, groups = _reference(e, b, t, period_s, 5)
    np.testing.assert_allclose(r.mean_linkable_s, mean, rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(r.max_linkable_s, longest)
    np.testing.assert_array_equal(r.groups, groups)
    seen = r.groups > 0
    assert (r.groups <= r.observations).all()
    np.testing.assert_array_equal(seen, r.observations > 0)
    assert (r.mean_linkable_s[seen] <= r.max_linkable_s[seen]).all()
    if 0.0 < period_s < math.inf:
        assert (r.max_linkable_s[seen] < period_s).all()
    p = np.random.default_rng(seed).permutation(e.size)
    again = linkability(e[p], b[p], t[p], period_s, 5, KEY)
    np.testing.assert_array_equal(again.mean_linkable_s, r.mean_linkable_s)
    np.testing.assert_array_equal(again.max_linkable_s, r.max_linkable_s)


@pytest.mark.parametrize("period_s", [0.0, 900.0, 37.5])
def test_streaming_accumulator_equals_linkability(period_s: float) -> None:
    """The run-time accumulator (groups closed when the endpoint's ID changes, buffers folded)
    gives exactly what linkability() gives on the same observations."""
    from mesh.privacy import LinkabilityAccumulator

    rng = np.random.default_rng(11)
    n_endpoints, n_bridges = 30, 12
    acc = LinkabilityAccumulator(n_endpoints, period_s)
    endpoints, bridges, times = [], [], []
    t = 0.0
    for _ in range(3000):  # frames in time order, each heard by a random set of bridges
        t += float(rng.exponential(2.0))
        e = int(rng.integers(n_endpoints))
        heard = np.flatnonzero(rng.random(n_bridges) < 0.3)
        if heard.size == 0:
            continue
        acc.observe(e, heard, t)
        endpoints.append(np.full(heard.size, e))
        bridges.append(heard)
        times.append(np.full(heard.size, t))
    got = acc.result()
    want = linkability(
        np.concatenate(endpoints),
        np.concatenate(bridges),
        np.concatenate(times),
        period_s,
        n_endpoints,
        key=1,
    )
    np.testing.assert_array_equal(got.groups, want.groups)
    np.testing.assert_array_equal(got.observations, want.observations)
    np.testing.assert_allclose(got.mean_linkable_s, want.mean_linkable_s, rtol=1e-12)
    np.testing.assert_allclose(got.max_linkable_s, want.max_linkable_s, rtol=1e-12)
