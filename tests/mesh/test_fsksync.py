"""FSK beacon sync (mesh.fsksync): runs of missed beacons, windows and listening time."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mesh.fsksync import FskSync, _miss_runs, _runs, draw_sync

LISTEN_S = 0.01


def make_sync(loss: list[tuple[float, float]], in_range: bool = True) -> FskSync:
    """One FSK endpoint (node 0) with windows at 0.063 + k * 3.15 s and the given sync losses."""
    return FskSync(
        beacon_interval_s=10.0,
        beacon_listen_s=np.array([LISTEN_S]),
        fsk_endpoint=np.array([True]),
        in_range=np.array([in_range]),
        window_offset_s=np.array([0.063]),
        window_interval_s=np.array([3.15]),
        window_s=np.array([0.005]),
        scan_interval_s=np.array([300.0]),
        scan_offset_s=np.array([12.0]),
        loss_indptr=np.array([0, len(loss)]),
        loss_start_s=np.array([a for a, _ in loss], dtype=np.float64),
        loss_end_s=np.array([b for _, b in loss], dtype=np.float64),
    )


def test_runs_of_missed_beacons() -> None:
    missed = np.array([[1, 1, 0, 1, 1, 1], [0, 0, 0, 0, 0, 0], [1, 0, 1, 0, 0, 1]], dtype=bool)
    row, start, length = _runs(missed)
    assert list(zip(row.tolist(), start.tolist(), length.tolist(), strict=True)) == [
        (0, 0, 2),
        (0, 3, 3),
        (2, 0, 1),
        (2, 2, 1),
        (2, 5, 1),
    ]


def test_windows_follow_the_slot_grid_and_skip_sync_loss() -> None:
    sync = make_sync([(30.01, 60.01)])
    assert sync.next_window_s(0, 0.0) == pytest.approx(0.063)
    assert sync.next_window_s(0, 0.064) == pytest.approx(3.213)
    assert sync.next_window_s(0, 3.213) == pytest.approx(3.213)
    # out of sync from 30.01 to 60.01: the window at 31.563 is skipped, next is 0.063 + 20 * 3.15
    assert sync.next_window_s(0, 30.5) == pytest.approx(0.063 + 20 * 3.15)
    assert sync.synced_from_s(0, 45.0) == 60.01
    assert sync.synced_from_s(0, 60.01) == 60.01
    assert math.isinf(make_sync([], in_range=False).next_window_s(0, 5.0))


def test_listening_time_in_closed_form() -> None:
    horizon = 100.0
    sync = make_sync([(30.01, 60.01)])
    rx_s, wakes = sync.listening(horizon, np.zeros(1, dtype=np.int64))
    beacons = 10 - 3  # beacons at 0..90 s; those at 40, 50, 60 fall in the resync listen
    windows = math.ceil((horizon - 0.063) / 3.15) - 10  # 10 windows between 30.01 and 60.01
    expected = beacons * LISTEN_S + windows * 0.005 + 30.0
    assert rx_s[0] == pytest.approx(expected, abs=1e-12)
    assert wakes[0] == beacons + windows


def test_scanning_when_no_beacon_reaches_the_endpoint() -> None:
    sync = make_sync([], in_range=False)
    rx_s, wakes = sync.listening(1000.0, np.zeros(1, dtype=np.int64))
    scans = 4  # at 12, 312, 612, 912 s
    assert wakes[0] == scans
    assert rx_s[0] == pytest.approx(scans * (10.0 + LISTEN_S))


def test_drawn_losses_follow_the_rule() -> None:
    """Every drawn loss starts where the m-th consecutive missed beacon's listen ends, lasts a
    whole number of beacon periods, and the intervals of one node are disjoint."""
    n = 50
    fsk = np.ones(n, dtype=bool)
    sync = draw_sync(
        fsk_endpoint=fsk,
        in_range=fsk,
        window_interval_s=np.full(n, 3.15),
        window_s=np.full(n, 0.005),
        miss_probability=np.full(n, 0.3),
        sync_loss_beacons=np.full(n, 3, dtype=np.int64),
        scan_interval_s=np.full(n, 300.0),
        beacon_interval_s=10.0,
        beacon_listen_s=np.full(n, LISTEN_S),
        slot_s=0.063,
        horizon_s=20_000.0,
        rng=np.random.default_rng(4),
    )
    start, end = sync.loss_start_s, sync.loss_end_s
    finite = np.isfinite(end)
    assert start.size > 100
    periods = (start - LISTEN_S) / 10.0
    np.testing.assert_allclose(periods, np.round(periods), atol=1e-9)
    assert np.all(periods >= 2)  # the third missed beacon at the earliest
    span = (end[finite] - start[finite]) / 10.0
    np.testing.assert_allclose(span, np.round(span), atol=1e-9)
    assert np.all(span >= 1 - 1e-9)
    for node in range(n):
        a, b = sync.loss_indptr[node], sync.loss_indptr[node + 1]
        assert np.all(start[a + 1 : b] > end[a : b - 1])
    # loss rate: P(a run of >= 3 misses starts at a beacon) ~ (1 - p) p^3 per beacon
    expected = n * 2000 * 0.7 * 0.3**3
    assert start.size == pytest.approx(expected, rel=0.15)
    offsets = sync.window_offset_s / 0.063
    np.testing.assert_allclose(offsets, np.round(offsets), atol=1e-9)
    assert np.all(sync.window_offset_s < 3.15)


def test_geometric_miss_sampler_matches_bernoulli_statistics() -> None:
    """The sampler draws only the misses; its runs must have the statistics of a Bernoulli(p)
    sequence: p * n misses per row, runs of mean length 1 / (1 - p), all inside the row."""
    rows, n, p = 400, 3000, 0.2
    row, start, length = _miss_runs(rows, n, p, np.random.default_rng(9))
    assert np.all((start >= 0) & (start + length <= n))
    misses = rows * n * p
    assert length.sum() == pytest.approx(misses, rel=4 / math.sqrt(misses))
    assert length.mean() == pytest.approx(1 / (1 - p), rel=0.02)
    # runs of one row are separated by at least one heard beacon
    same = row[1:] == row[:-1]
    assert np.all(start[1:][same] > (start + length)[:-1][same])
    reference = _runs(np.random.default_rng(9).random((rows, n)) < p)
    assert reference[2].mean() == pytest.approx(length.mean(), rel=0.03)
