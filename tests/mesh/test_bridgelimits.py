"""Bridge uplink limits against closed forms and scalar reference loops.

- ``BackhaulQueue``: Lindley's recursion ``D_k = max(A_k, D_{k-1}) + S_k`` per bridge; the uplink
  never carries more than ``rate_bps`` bits in any 1-second window; tail drop by the byte limit in
  a hand-worked example; bridges do not interact.
- ``DataAllowance``: greedy charging in call order against a scalar reference; the allowance is
  never exceeded in any period; reset at the period boundary; bridges of one account share it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mesh.bridgelimits import (
    MONTH_S,
    SIDEWALK_ALLOWANCE_BYTES,
    SIDEWALK_RATE_BPS,
    BackhaulQueue,
    BridgeLimits,
    DataAllowance,
    accounts,
)


def lindley(arrivals_s: np.ndarray, sizes: np.ndarray, rate_bps: float) -> np.ndarray:
    departures = np.empty(arrivals_s.size)
    previous = -math.inf
    for k, (a, size) in enumerate(zip(arrivals_s.tolist(), sizes.tolist(), strict=True)):
        previous = max(a, previous) + size * 8 / rate_bps
        departures[k] = previous
    return departures


def random_calls(
    rng: np.random.Generator, n_calls: int, n_nodes: int, mean_gap_s: float
) -> list[tuple[np.ndarray, float, int]]:
    """Calls in nondecreasing time order, each with a random set of distinct bridges."""
    times = np.cumsum(rng.exponential(mean_gap_s, n_calls))
    times[rng.random(n_calls) < 0.2] = 0.0  # some calls at the same time as the one before
    times = np.maximum.accumulate(times)
    calls = []
    for t in times.tolist():
        k = int(rng.integers(1, n_nodes + 1))
        calls.append((rng.choice(n_nodes, size=k, replace=False), t, int(rng.integers(1, 256))))
    return calls


# --- BackhaulQueue --------------------------------------------------------------------------


def test_defaults_are_the_published_sidewalk_figures() -> None:
    assert SIDEWALK_RATE_BPS == 80_000
    assert SIDEWALK_ALLOWANCE_BYTES == 500_000_000
    assert MONTH_S == 30 * 24 * 3600
    assert BackhaulQueue(3).rate_bps == 80_000
    allowance = DataAllowance(np.array([0, -1, 1]))
    assert (allowance.allowance_bytes, allowance.period_s) == (500e6, MONTH_S)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), load=st.floats(0.1, 3.0))
def test_single_bridge_follows_lindley_recursion(seed: int, load: float) -> None:
    rng = np.random.default_rng(seed)
    rate_bps = 80_000.0
    sizes = rng.integers(1, 256, 300)
    mean_service_s = float(sizes.mean()) * 8 / rate_bps
    arrivals = np.cumsum(rng.exponential(mean_service_s / load, sizes.size))
    queue = BackhaulQueue(4, rate_bps)
    bridge = np.array([2])
    got = np.array(
        [queue.admit(bridge, a, int(s))[0] for a, s in zip(arrivals, sizes, strict=True)]
    )
    expected = lindley(arrivals, sizes, rate_bps)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
    services = sizes * 8 / rate_bps
    assert queue.queueing_delay_s[2] == pytest.approx(float(np.sum(expected - services - arrivals)))
    assert queue.bytes_forwarded.tolist() == [0, 0, int(sizes.sum()), 0]
    assert queue.copies_forwarded.tolist() == [0, 0, sizes.size, 0]
    assert queue.copies_dropped.sum() == 0


def test_uplink_never_carries_more_than_the_rate_in_any_one_second_window() -> None:
    rng = np.random.default_rng(7)
    rate_bps = 80_000.0
    sizes = rng.integers(1, 256, 600)
    # bursts well above the rate: ~2x overload on average, with idle gaps between bursts
    arrivals = np.sort(rng.uniform(0.0, 6.0, sizes.size))
    queue = BackhaulQueue(1, rate_bps)
    departures = np.array(
        [queue.admit(np.array([0]), a, int(s))[0] for a, s in zip(arrivals, sizes, strict=True)]
    )
    service = sizes * 8 / rate_bps
    starts = departures - service
    assert np.all(starts[1:] >= departures[:-1] - 1e-9)  # one copy in service at a time
    assert np.all(starts >= arrivals - 1e-12)
    # the bits in a window are largest for a window starting at a service start or ending at
    # a departure; each copy's bits are spread evenly over its service interval
    windows = np.concatenate([starts, departures - 1.0])
    overlap = np.clip(
        np.minimum(departures[None, :], windows[:, None] + 1.0)
        - np.maximum(starts[None, :], windows[:, None]),
        0.0,
        None,
    )
    bits = overlap.sum(axis=1) * rate_bps
    assert bits.max() <= rate_bps * (1 + 1e-9)
    assert bits.max() > 0.99 * rate_bps  # the test does load the uplink to its rate
    assert queue.bytes_forwarded[0] * 8 == pytest.approx(rate_bps * float(service.sum()))


def test_queue_limit_drops_exactly_what_overflows_hand_worked() -> None:
    # 8000 bit/s = 1000 B/s: a 100-byte copy takes 0.1 s; at most 250 bytes queued
    queue = BackhaulQueue(2, rate_bps=8000.0, queue_limit_bytes=250)
    b = np.array([1])
    assert queue.admit(b, 0.0, 100)[0] == pytest.approx(0.1)  # backlog 0 + 100 <= 250
    assert queue.admit(b, 0.0, 100)[0] == pytest.approx(0.2)  # backlog 100 + 100 <= 250
    assert math.isnan(queue.admit(b, 0.0, 100)[0])  # backlog 200 + 100 > 250: dropped
    assert queue.backlog_bytes(b, 0.05)[0] == pytest.approx(150.0)
    assert queue.admit(b, 0.05, 100)[0] == pytest.approx(0.3)  # 150 + 100 = 250: fits exactly
    assert math.isnan(queue.admit(b, 0.1, 60)[0])  # 200 + 60 > 250
    assert queue.admit(b, 0.1, 50)[0] == pytest.approx(0.35)  # 200 + 50 = 250
    assert queue.admit(b, 0.5, 100)[0] == pytest.approx(0.6)  # idle again: no wait
    assert queue.copies_forwarded.tolist() == [0, 5]
    assert queue.copies_dropped.tolist() == [0, 2]
    assert queue.bytes_forwarded.tolist() == [0, 450]
    # waits: 0 + 0.1 + 0.15 + 0.2 + 0
    assert queue.queueing_delay_s[1] == pytest.approx(0.45)


def test_a_copy_larger_than_the_limit_is_always_dropped() -> None:
    queue = BackhaulQueue(3, queue_limit_bytes=10)
    out = queue.admit(np.array([0, 2]), 1.0, 11)
    assert np.isnan(out).all()
    assert queue.copies_dropped.tolist() == [1, 0, 1]
    assert queue.busy_until_s.tolist() == [0.0, 0.0, 0.0]


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), limit=st.sampled_from([math.inf, 300.0, 1000.0]))
def test_bridges_are_independent(seed: int, limit: float) -> None:
    rng = np.random.default_rng(seed)
    n_nodes = 6
    calls = random_calls(rng, 120, n_nodes, mean_gap_s=0.01)
    together = BackhaulQueue(n_nodes, queue_limit_bytes=limit)
    got: dict[int, list[float]] = {b: [] for b in range(n_nodes)}
    for bridges, t, size in calls:
        for b, d in zip(bridges.tolist(), together.admit(bridges, t, size).tolist(), strict=True):
            got[b].append(d)
    for b in range(n_nodes):
        alone = BackhaulQueue(n_nodes, queue_limit_bytes=limit)
        expected = [
            alone.admit(np.array([b]), t, size)[0] for bridges, t, size in calls if b in bridges
        ]
        np.testing.assert_array_equal(got[b], expected)
        assert together.copies_dropped[b] == alone.copies_dropped[b]
        assert together.queueing_delay_s[b] == pytest.approx(alone.queueing_delay_s[b])
    assert together.copies_forwarded.sum() + together.copies_dropped.sum() == sum(
        c[0].size for c in calls
    )


def test_any_queued_tells_when_no_copy_waits() -> None:
    queue = BackhaulQueue(4, rate_bps=8000.0)
    both = np.array([0, 3])
    assert not queue.any_queued(both, 0.0)
    out = queue.admit(both, 0.0, 100)
    np.testing.assert_allclose(out, [0.1, 0.1])
    assert queue.any_queued(both, 0.05)
    assert queue.any_queued(np.array([3, 1]), 0.05)
    assert not queue.any_queued(np.array([1, 2]), 0.05)
    assert not queue.any_queued(both, 0.1)  # finished exactly at 0.1: no wait
    queue.admit(both, 0.1, 100)
    assert queue.queueing_delay_s.tolist() == [0.0, 0.0, 0.0, 0.0]


def test_backhaul_queue_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="rate_bps"):
        BackhaulQueue(3, rate_bps=0.0)
    with pytest.raises(ValueError, match="rate_bps"):
        BackhaulQueue(3, rate_bps=math.inf)
    with pytest.raises(ValueError, match="queue_limit_bytes"):
        BackhaulQueue(3, queue_limit_bytes=-1)
    with pytest.raises(ValueError, match="n_nodes"):
        BackhaulQueue(-1)
    queue = BackhaulQueue(3)
    with pytest.raises(ValueError, match="size_bytes"):
        queue.admit(np.array([0]), 0.0, 0)
    queue.admit(np.array([0]), 2.0, 10)
    with pytest.raises(ValueError, match="nondecreasing"):
        queue.admit(np.array([1]), 1.0, 10)


# --- DataAllowance --------------------------------------------------------------------------


def reference_charge(
    calls: list[tuple[np.ndarray, float, int]],
    account_of: np.ndarray,
    allowance: float,
    period_s: float,
) -> tuple[list[list[bool]], dict[tuple[int, int], int]]:
    used: dict[tuple[int, int], int] = {}
    masks = []
    for bridges, t, size in calls:
        k = math.floor(t / period_s)
        mask = []
        for b in bridges.tolist():
            key = (k, int(account_of[b]))
            ok = used.get(key, 0) + size <= allowance
            if ok:
                used[key] = used.get(key, 0) + size
            mask.append(ok)
        masks.append(mask)
    return masks, used


def test_allowance_hand_worked() -> None:
    # nodes 1, 2 are bridges of account 0, node 3 of account 1; 250 bytes per 10-second period
    allowance = DataAllowance(np.array([-1, 0, 0, 1, -1]), allowance_bytes=250, period_s=10.0)
    assert allowance.charge(np.array([1, 3]), 0.0, 100).tolist() == [True, True]
    # account 0: bridge 2 first (100 + 100 = 200), then bridge 1 (300 > 250); account 1: 200
    assert allowance.charge(np.array([2, 1, 3]), 1.0, 100).tolist() == [True, False, True]
    assert allowance.charge(np.array([3, 2]), 2.0, 50).tolist() == [True, True]  # 250, 250
    assert allowance.charge(np.array([1, 3]), 9.999, 1).tolist() == [False, False]
    # next period: both counters back at zero
    assert allowance.charge(np.array([1, 2, 3]), 10.0, 200).tolist() == [True, False, True]
    assert sorted(allowance.used_bytes) == [0, 1]
    assert allowance.used_bytes[0].tolist() == [250, 250]
    assert allowance.used_bytes[1].tolist() == [200, 200]
    assert allowance.copies_charged.tolist() == [0, 2, 2, 4, 0]
    assert allowance.copies_dropped.tolist() == [0, 2, 1, 1, 0]


def test_allowance_resets_at_the_period_boundary() -> None:
    period_s = 30 * 86_400.0
    allowance = DataAllowance(np.array([0]), allowance_bytes=1000, period_s=period_s)
    b = np.array([0])
    assert allowance.charge(b, 0.0, 1000).tolist() == [True]
    assert allowance.charge(b, period_s * 0.5, 1).tolist() == [False]
    assert allowance.charge(b, np.nextafter(period_s, 0.0), 1).tolist() == [False]
    assert allowance.charge(b, period_s, 1000).tolist() == [True]
    assert allowance.charge(b, 2 * period_s + 5, 600).tolist() == [True]
    assert allowance.charge(b, 2 * period_s + 6, 600).tolist() == [False]
    assert {k: v.tolist() for k, v in allowance.used_bytes.items()} == {
        0: [1000],
        1: [1000],
        2: [600],
    }


def test_bridges_of_one_account_share_its_allowance() -> None:
    shared = DataAllowance(np.array([0, 0]), allowance_bytes=500, period_s=100.0)
    separate = DataAllowance(np.array([0, 1]), allowance_bytes=500, period_s=100.0)
    both = np.array([0, 1])
    n_shared = n_separate = 0
    for t in range(10):
        n_shared += int(shared.charge(both, float(t), 100).sum())
        n_separate += int(separate.charge(both, float(t), 100).sum())
    assert (n_shared, n_separate) == (5, 10)
    assert shared.used_bytes[0].tolist() == [500]
    assert separate.used_bytes[0].tolist() == [500, 500]


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    per_account=st.integers(1, 5),
    allowance_bytes=st.sampled_from([0, 255, 1000, 5000]),
)
def test_allowance_matches_the_scalar_reference_and_is_never_exceeded(
    seed: int, per_account: int, allowance_bytes: int
) -> None:
    rng = np.random.default_rng(seed)
    n_nodes = 12
    account_of = accounts(n_nodes, np.arange(1, n_nodes), per_account, rng)
    calls = random_calls(rng, 80, n_nodes - 1, mean_gap_s=0.3)
    calls = [(bridges + 1, t, size) for bridges, t, size in calls]  # node 0 is not a bridge
    period_s = 5.0
    allowance = DataAllowance(account_of, allowance_bytes, period_s)
    masks = [allowance.charge(bridges, t, size).tolist() for bridges, t, size in calls]
    expected_masks, expected_used = reference_charge(calls, account_of, allowance_bytes, period_s)
    assert masks == expected_masks
    got_used = {
        (k, a): int(used[a])
        for k, used in allowance.used_bytes.items()
        for a in range(used.size)
        if used[a]
    }
    assert got_used == {key: v for key, v in expected_used.items() if v}
    for used in allowance.used_bytes.values():
        assert np.all(used <= allowance_bytes)
    n_copies = sum(c[0].size for c in calls)
    assert allowance.copies_charged.sum() + allowance.copies_dropped.sum() == n_copies
    assert allowance.copies_charged[0] == allowance.copies_dropped[0] == 0


def test_unlimited_allowance_allows_everything() -> None:
    allowance = DataAllowance(np.array([0, 0, 1]), allowance_bytes=math.inf)
    assert allowance.charge(np.array([0, 1, 2]), 0.0, 10**9).all()
    assert allowance.used_bytes[0].tolist() == [2 * 10**9, 10**9]


def test_data_allowance_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="1-D integer"):
        DataAllowance(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="-1"):
        DataAllowance(np.array([0, -2]))
    with pytest.raises(ValueError, match="allowance_bytes"):
        DataAllowance(np.array([0]), allowance_bytes=-1)
    with pytest.raises(ValueError, match="period_s"):
        DataAllowance(np.array([0]), period_s=0.0)
    allowance = DataAllowance(np.array([-1, 0]))
    with pytest.raises(ValueError, match="not bridges"):
        allowance.charge(np.array([0, 1]), 0.0, 10)
    allowance.charge(np.array([1]), 5.0, 10)
    with pytest.raises(ValueError, match="nondecreasing"):
        allowance.charge(np.array([1]), 4.0, 10)
    with pytest.raises(ValueError, match="size_bytes"):
        allowance.charge(np.array([1]), 6.0, -3)


# --- accounts -------------------------------------------------------------------------------


def test_accounts_default_gives_each_bridge_its_own_account() -> None:
    bridges = np.array([4, 1, 7])
    account_of = accounts(9, bridges, rng=np.random.default_rng(0))
    assert account_of[[0, 2, 3, 5, 6, 8]].tolist() == [-1] * 6
    assert sorted(account_of[bridges].tolist()) == [0, 1, 2]
    np.testing.assert_array_equal(
        accounts(9, bridges, 1, np.random.default_rng(0)), account_of
    )  # deterministic for a seed
    assert accounts(9, bridges).tolist() == [-1, 1, -1, -1, 0, -1, -1, 2, -1]


def test_accounts_groups_bridges_the_last_account_smaller() -> None:
    bridges = np.arange(2, 9)  # 7 bridges
    account_of = accounts(10, bridges, 3, np.random.default_rng(3))
    assert account_of[:2].tolist() == [-1, -1]
    assert account_of[9] == -1
    assert np.bincount(account_of[bridges]).tolist() == [3, 3, 1]
    assert accounts(10, bridges, 3).tolist() == [-1, -1, 0, 0, 0, 1, 1, 1, 2, -1]
    groupings = {
        tuple(accounts(10, bridges, 3, np.random.default_rng(seed)).tolist()) for seed in range(5)
    }
    assert len(groupings) > 1  # the order is drawn from the generator
    assert accounts(5, np.array([], dtype=np.int64), 2).tolist() == [-1] * 5


def test_accounts_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="bridges_per_account"):
        accounts(5, np.array([0, 1]), 0)
    with pytest.raises(ValueError, match="bridges_per_account"):
        accounts(5, np.array([0, 1]), True)
    with pytest.raises(ValueError, match="n_nodes"):
        accounts(-1, np.array([0]))
    with pytest.raises(ValueError, match=r"\[0, 5\)"):
        accounts(5, np.array([0, 5]))
    with pytest.raises(ValueError, match="distinct"):
        accounts(5, np.array([1, 1]))
    with pytest.raises(ValueError, match="1-D integer"):
        accounts(5, np.array([0.5]))


def _frames(seed: int, n_nodes: int, count: int, mean_gap_s: float):
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.exponential(mean_gap_s, count))
    for k in range(count):
        bridges = np.flatnonzero(rng.random(n_nodes) < 0.4)
        if bridges.size:
            yield float(t[k]), rng.permutation(bridges), int(rng.integers(20, 60))


@pytest.mark.parametrize(
    ("queue_limit", "allowance"), [(math.inf, 5_000), (150.0, 0), (150.0, 5_000)]
)
def test_engine_limits_match_the_reference_queue_and_allowance(queue_limit, allowance) -> None:
    """BridgeLimits (fast path + booked-later counts) gives exactly what the plain per-copy
    BackhaulQueue and DataAllowance give, frame by frame: a copy the queue cannot take is not
    charged, and the allowance charges the others in order."""
    n = 12
    account = np.arange(n) // 3
    engine = BridgeLimits(n, account, 2_000.0, queue_limit, allowance, 60.0)
    queue = BackhaulQueue(n, 2_000.0, queue_limit)
    reference = DataAllowance(account, allowance, 60.0) if allowance else None
    slow = fast = 0
    dropped_queue = np.zeros(n, dtype=np.int64)
    for t, bridges, size in _frames(3, n, 1500, 0.15):
        got = engine.forward(bridges, t, size)
        kept = queue.backlog_bytes(bridges, t) + size <= queue_limit + 1e-6
        dropped_queue[bridges[~kept]] += 1
        if reference is not None:
            fits = np.flatnonzero(kept)
            kept[fits[~reference.charge(bridges[fits], t, size)]] = False
        expected = np.full(bridges.size, np.nan)
        expected[kept] = queue.admit(bridges[kept], t, size)
        if got is None:
            fast += 1
            np.testing.assert_allclose(expected, t + size * 8 / 2_000.0, rtol=0, atol=1e-9)
        else:
            slow += 1
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
    engine.flush()
    assert fast > 100 and slow > 100  # both paths were exercised
    sent = queue.copies_forwarded
    np.testing.assert_array_equal(engine.copies_forwarded, sent)
    np.testing.assert_array_equal(engine.bytes_forwarded, queue.bytes_forwarded)
    np.testing.assert_allclose(engine.queueing_delay_s, queue.queueing_delay_s, atol=1e-9)
    np.testing.assert_array_equal(engine.dropped_queue, dropped_queue)
    if queue_limit < math.inf:
        assert dropped_queue.sum() > 0
    if reference is not None:
        np.testing.assert_array_equal(engine.dropped_allowance, reference.copies_dropped)
        assert engine.allowance is not None
        for period, used in reference.used_bytes.items():
            np.testing.assert_array_equal(engine.allowance.used_bytes[period], used)
