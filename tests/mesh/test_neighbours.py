"""Neighbour tables against a brute-force computation over every pair."""

from __future__ import annotations

import numpy as np
import pytest

import mesh.neighbours as neighbours
from mesh.pathgain import PathGain
from radios.propagation import LogDistance


def brute_force(pg: PathGain, tx: np.ndarray, rx: np.ndarray, power, threshold, f):
    pairs = [(a, b) for a in tx for b in rx if a != b]
    a = np.array([p[0] for p in pairs])
    b = np.array([p[1] for p in pairs])
    rssi = power[a] + pg.gain_db(a, b, f)
    keep = rssi >= threshold[a]
    return sorted(zip(a[keep].tolist(), b[keep].tolist(), rssi[keep].tolist(), strict=True))


@pytest.mark.parametrize("dense", [True, False])
def test_table_equals_brute_force(monkeypatch, dense: bool) -> None:
    rng = np.random.default_rng(4)
    n = 300
    pos = rng.uniform(0, 3000, size=(n, 2))
    indoor = rng.random(n) < 0.5
    pg = PathGain(pos, indoor, LogDistance(), 10.0, 99)
    tx = np.arange(60, n)
    rx = np.arange(0, 80)  # overlaps tx: self pairs must be left out
    power = np.full(n, 14.0)
    threshold = np.where(np.arange(n) % 2 == 0, -110.0, -120.0)
    monkeypatch.setattr(neighbours, "_mostly_in_range", lambda *_: dense)
    monkeypatch.setattr(neighbours, "CHUNK", 37)
    monkeypatch.setattr(neighbours, "DENSE_PAIRS", 1000)
    table = neighbours.build_table(pg, tx, rx, power, threshold, 915e6)
    got = []
    for node in range(n):
        r, s = table.row(node)
        assert np.all(np.diff(r) > 0)  # sorted by listener id
        got.extend(zip([node] * r.size, r.tolist(), s.tolist(), strict=True))
    expected = brute_force(pg, tx, rx, power, threshold, 915e6)
    assert [g[:2] for g in got] == [e[:2] for e in expected]
    np.testing.assert_allclose([g[2] for g in got], [e[2] for e in expected], atol=1e-9)
    assert 0 < len(got) < len(tx) * len(rx)
