"""Tests for radios.propagation: closed forms, max-range inversion and shadowing statistics."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from radios import propagation as prop

C = 299_792_458.0


def test_fspl_closed_form() -> None:
    d = np.array([1.0, 10.0, 1000.0])
    f = 915e6
    expected = 20 * np.log10(4 * np.pi * d * f / C)
    np.testing.assert_allclose(prop.fspl_db(d, f), expected, atol=1e-9)
    # 20 log10(d) + 20 log10(f) - 147.55 form, and the well-known 91.68 dB at 1 km / 915 MHz.
    np.testing.assert_allclose(
        prop.fspl_db(d, f), 20 * np.log10(d) + 20 * np.log10(f) - 147.55, atol=0.01
    )
    assert float(prop.fspl_db(1000.0, 915e6)) == pytest.approx(91.68, abs=0.01)
    with pytest.raises(ValueError):
        prop.fspl_db(0.0, f)
    with pytest.raises(ValueError):
        prop.fspl_db(1.0, -1.0)


def test_free_space_clamp_and_vectorised() -> None:
    m = prop.FreeSpace()
    out = m.median_loss_db(np.array([[0.0, 0.5], [1.0, 100.0]]), 2.44e9)
    assert out.shape == (2, 2)
    assert out[0, 0] == out[0, 1] == out[1, 0] == pytest.approx(float(prop.fspl_db(1.0, 2.44e9)))
    assert m.shadowing_sigma_db == 0.0


def test_disk() -> None:
    m = prop.Disk(range_m=100.0)
    out = m.median_loss_db(np.array([0.0, 100.0, 100.0001]), 915e6)
    assert out[0] == 0.0 and out[1] == 0.0 and math.isinf(out[2])
    assert m.max_range_m(130.0, 915e6) == 100.0
    assert m.shadowing_sigma_db == 0.0 and m.shadowing_clip_sigma == 0.0
    assert prop.Disk().range_m == 1000.0


def test_log_distance_closed_form() -> None:
    m = prop.LogDistance()
    assert (m.exponent, m.reference_distance_m, m.shadowing_sigma_db) == (3.0, 1.0, 6.0)
    f = 915e6
    pl0 = float(prop.fspl_db(1.0, f))
    np.testing.assert_allclose(m.median_loss_db([1.0, 10.0, 100.0], f), [pl0, pl0 + 30, pl0 + 60])
    # Explicit reference with frequency scaling: +20 log10(f2/f1).
    m2 = prop.LogDistance(
        exponent=2.0,
        reference_distance_m=10.0,
        reference_loss_db=80.0,
        reference_frequency_hz=868e6,
    )
    assert float(m2.median_loss_db(10.0, 868e6)) == pytest.approx(80.0)
    assert float(m2.median_loss_db(100.0, 1736e6)) == pytest.approx(
        80.0 + 20.0 + 20 * math.log10(2)
    )
    # Reference loss without a reference frequency: no scaling.
    m3 = prop.LogDistance(reference_loss_db=40.0)
    assert float(m3.median_loss_db(1.0, 2.44e9)) == pytest.approx(40.0)


def test_lorasim_preset() -> None:
    m = prop.LoRaSim()
    assert m.name == "lorasim"
    assert (m.exponent, m.reference_distance_m, m.reference_loss_db) == (2.08, 40.0, 127.41)
    assert (m.shadowing_sigma_db, m.reference_frequency_hz) == (3.57, 868e6)
    # Bor et al. 2016: PL(40 m) = 127.41 dB at 868 MHz, +10*2.08 dB per decade.
    np.testing.assert_allclose(m.median_loss_db([40.0, 400.0], 868e6), [127.41, 127.41 + 20.8])
    # At 915 MHz the reference shifts by 20 log10(915/868).
    assert float(m.median_loss_db(40.0, 915e6)) == pytest.approx(
        127.41 + 20 * math.log10(915 / 868)
    )


MODELS = [
    prop.FreeSpace(),
    prop.LogDistance(),
    prop.LogDistance(exponent=3.5, reference_distance_m=10.0, reference_loss_db=70.0),
    prop.LoRaSim(),
    prop.LoRaSim(shadowing_clip_sigma=2.0),
]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: repr(m))
@pytest.mark.parametrize("frequency_hz", [915e6, 2.44e9])
@pytest.mark.parametrize("max_loss_db", [100.0, 130.0, 150.0])
def test_max_range_inverts_best_case_loss(
    model: prop.PropagationModel, frequency_hz: float, max_loss_db: float
) -> None:
    r = model.max_range_m(max_loss_db, frequency_hz)
    assert r > 0
    margin = model.shadowing_clip_sigma * model.shadowing_sigma_db
    best = float(model.median_loss_db(r, frequency_hz)) - margin
    assert best == pytest.approx(max_loss_db, abs=1e-9)
    # Conservative: just beyond the range no shadowing can close the link.
    assert float(model.median_loss_db(r * 1.0001, frequency_hz)) - margin > max_loss_db


def test_max_range_edge_cases() -> None:
    m = prop.LogDistance(shadowing_sigma_db=0.0)
    assert m.max_range_m(0.0, 915e6) == 0.0  # even 1 m has > 0 dB loss
    assert m.max_range_m(math.inf, 915e6) == math.inf
    assert prop.FreeSpace().max_range_m(math.inf, 915e6) == math.inf
    assert prop.Disk(range_m=5.0).max_range_m(-1.0, 915e6) == 0.0


@pytest.mark.parametrize(
    ("cls", "kwargs", "match"),
    [
        (prop.Disk, {"range_m": -1.0}, "range_m"),
        (prop.FreeSpace, {"min_distance_m": 0.0}, "min_distance_m"),
        (prop.LogDistance, {"exponent": 0.0}, "exponent"),
        (prop.LogDistance, {"reference_distance_m": -1.0}, "reference_distance_m"),
        (prop.LogDistance, {"reference_frequency_hz": 868e6}, "reference_loss_db"),
        (prop.LogDistance, {"shadowing_sigma_db": -1.0}, "shadowing_sigma_db"),
        (prop.LogDistance, {"shadowing_clip_sigma": 0.0}, "shadowing_clip_sigma"),
    ],
)
def test_model_validation(cls: type, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


def test_negative_distance_rejected() -> None:
    with pytest.raises(ValueError, match="distance"):
        prop.LogDistance().median_loss_db([-1.0], 915e6)


def test_registry_and_protocol() -> None:
    assert dict(prop.PROPAGATION_MODELS) == {
        "disk": prop.Disk,
        "free_space": prop.FreeSpace,
        "log_distance": prop.LogDistance,
        "lorasim": prop.LoRaSim,
    }
    for name, cls in prop.PROPAGATION_MODELS.items():
        model = cls()
        assert isinstance(model, prop.PropagationModel)
        assert model.name == name  # type: ignore[attr-defined]
        for f in dataclasses.fields(model):  # type: ignore[arg-type]
            assert f.metadata["doc"] and isinstance(f.metadata["unit"], str)
    with pytest.raises(TypeError):
        prop.PROPAGATION_MODELS["x"] = prop.Disk  # type: ignore[index]


# --- Shadowing -----------------------------------------------------------------------------

ids = st.integers(min_value=0, max_value=2**32 - 1)


@settings(max_examples=60, deadline=None)
@given(
    key=st.integers(min_value=-(2**70), max_value=2**70),
    a=st.lists(ids, min_size=1, max_size=20),
    b=st.lists(ids, min_size=1, max_size=20),
)
def test_shadowing_reciprocal(key: int, a: list[int], b: list[int]) -> None:
    n = min(len(a), len(b))
    aa = np.array(a[:n], dtype=np.int64)
    bb = np.array(b[:n], dtype=np.int64)
    s_ab = prop.shadowing_db(key, aa, bb, 6.0, 3.0)
    s_ba = prop.shadowing_db(key, bb, aa, 6.0, 3.0)
    np.testing.assert_array_equal(s_ab, s_ba)
    assert np.all(np.abs(s_ab) <= 18.0)


def test_shadowing_order_independent_and_deterministic() -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(0, 10_000, 1000)
    b = rng.integers(0, 10_000, 1000)
    full = prop.shadowing_db(42, a, b, 5.0, 3.0)
    perm = rng.permutation(1000)
    np.testing.assert_array_equal(prop.shadowing_db(42, a[perm], b[perm], 5.0, 3.0), full[perm])
    singles = np.array(
        [
            float(prop.shadowing_db(42, int(x), int(y), 5.0, 3.0))
            for x, y in zip(a[:50], b[:50], strict=True)
        ]
    )
    np.testing.assert_array_equal(singles, full[:50])
    # Broadcasting and shapes.
    grid = prop.shadowing_db(7, np.arange(4)[:, None], np.arange(4)[None, :], 6.0, 3.0)
    assert grid.shape == (4, 4)
    np.testing.assert_array_equal(grid, grid.T)


def test_shadowing_pinned_values() -> None:
    # Recorded once; guards the hash/level-table pipeline against accidental changes, which
    # would silently change every seeded scenario. Integer hashing is exact on every platform.
    got = prop.shadowing_db(12345, np.array([0, 3, 7]), np.array([1, 5, 2]), 1.0, 3.0)
    pinned = [-2.116806158706533, -0.3814403999776723, 1.0669249368184857]
    np.testing.assert_allclose(got, pinned, rtol=0, atol=1e-12)


def test_shadowing_zero_sigma_and_validation() -> None:
    z = prop.shadowing_db(1, np.arange(5), np.arange(5) + 1, 0.0, 3.0)
    np.testing.assert_array_equal(z, np.zeros(5))
    with pytest.raises(ValueError):
        prop.shadowing_db(1, [-1], [2], 6.0, 3.0)
    with pytest.raises(ValueError):
        prop.shadowing_db(1, [1.5], [2], 6.0, 3.0)
    with pytest.raises(ValueError):
        prop.shadowing_db(1, [1], [2], -6.0, 3.0)
    with pytest.raises(ValueError):
        prop.shadowing_db(1, [1], [2], 6.0, 0.0)


def test_shadowing_different_keys_differ() -> None:
    a = np.arange(1000)
    b = a + 1000
    s1 = prop.shadowing_db(1, a, b, 6.0, 3.0)
    s2 = prop.shadowing_db(2, a, b, 6.0, 3.0)
    assert np.mean(s1 == s2) < 0.01
    assert abs(np.corrcoef(s1, s2)[0, 1]) < 0.1


N_PAIRS = 200_000
SIGMA = 6.0
CLIP = 3.0


@pytest.fixture(scope="module")
def shadow_sample() -> np.ndarray:
    a = np.arange(N_PAIRS, dtype=np.int64)
    b = a + N_PAIRS
    return prop.shadowing_db(20240611, a, b, SIGMA, CLIP)


def test_shadowing_moments(shadow_sample: np.ndarray) -> None:
    s = shadow_sample
    assert np.all(np.abs(s) <= CLIP * SIGMA)
    # Truncated normal (symmetric, c = 3): mean 0,
    # variance sigma^2 * (1 - 2 c phi(c) / (2 Phi(c) - 1)).
    c = CLIP
    var_factor = 1 - 2 * c * stats.norm.pdf(c) / (2 * stats.norm.cdf(c) - 1)
    expected_std = SIGMA * math.sqrt(var_factor)
    # Tolerances: mean within 0.02 sigma (~9 standard errors at N = 200k), std within 1 %.
    assert abs(float(s.mean())) < 0.02 * SIGMA
    assert float(s.std()) == pytest.approx(expected_std, rel=0.01)


def test_shadowing_ks_against_truncnorm(shadow_sample: np.ndarray) -> None:
    result = stats.kstest(shadow_sample, stats.truncnorm(-CLIP, CLIP, loc=0.0, scale=SIGMA).cdf)
    assert result.pvalue > 1e-3


@pytest.mark.parametrize(
    "model",
    [
        prop.Disk(range_m=300.0),
        prop.FreeSpace(),
        prop.LogDistance(),
        prop.LogDistance(exponent=2.5, reference_distance_m=10.0, reference_loss_db=60.0),
        prop.LoRaSim(),
    ],
)
def test_loss_function_equals_median_loss(model) -> None:
    d = np.array([0.0, 0.5, 1.0, 12.3, 299.9, 300.0, 300.1, 4567.0])
    for f in (868e6, 915e6, 2.44e9):
        np.testing.assert_allclose(
            model.loss_function(f)(d * d), model.median_loss_db(d, f), rtol=0, atol=1e-9
        )


def test_shadowing_levels_and_id_range() -> None:
    draw = prop.PairShadowing(3, 6.0, 3.0)
    levels = draw._levels_db
    assert levels.size == 2**prop.SHADOWING_LEVEL_BITS
    assert np.all(np.diff(levels) > 0)
    assert np.max(np.diff(levels)) < 0.004 * 6.0  # finest at the centre, coarsest at the clip
    assert levels[0] >= -18.0 and levels[-1] <= 18.0
    np.testing.assert_allclose(levels, -levels[::-1], atol=1e-9)  # symmetric
    with pytest.raises(ValueError, match="below 2\\*\\*32"):
        prop.shadowing_db(1, [2**32], [0], 6.0, 3.0)


def test_shadowing_below_is_the_truncated_normal_cdf() -> None:
    from scipy.stats import truncnorm

    from radios.propagation import shadowing_below

    margin = np.linspace(-25.0, 25.0, 101)
    expected = truncnorm.cdf(margin, -3.0, 3.0, scale=6.0)
    np.testing.assert_allclose(shadowing_below(margin, 6.0, 3.0), expected, atol=1e-12)
    assert shadowing_below(-18.0, 6.0, 3.0) == 0.0 and shadowing_below(18.0, 6.0, 3.0) == 1.0
    np.testing.assert_array_equal(shadowing_below([-1e-9, 0.0, 2.0], 0.0, 3.0), [0.0, 1.0, 1.0])
    # no truncation: the normal CDF
    assert float(shadowing_below(6.0, 6.0, math.inf)) == pytest.approx(0.8413447460685429)
