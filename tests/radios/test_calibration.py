"""Log-distance fitting (radios.calibration): known parameters recovered from synthetic RSSI."""

from __future__ import annotations

import math

import numpy as np
import pytest

from radios.calibration import fit_log_distance, position_means
from radios.propagation import LogDistance

TRUE = LogDistance(exponent=2.7, reference_loss_db=41.0, shadowing_sigma_db=4.0)
FREQ_HZ = 2.44e9


def synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.Generator(np.random.PCG64(seed))
    d = rng.uniform(1.0, 40.0, size=n)
    loss = TRUE.median_loss_db(d, FREQ_HZ) + rng.normal(0.0, TRUE.shadowing_sigma_db, size=n)
    return loss, d


def test_exact_data_gives_the_parameters_and_zero_sigma() -> None:
    d = np.array([1.0, 2.0, 5.0, 10.0, 20.0])
    fit = fit_log_distance(TRUE.median_loss_db(d, FREQ_HZ), d)
    assert fit.reference_loss_db == pytest.approx(41.0, abs=1e-9)
    assert fit.exponent == pytest.approx(2.7, abs=1e-12)
    assert fit.shadowing_sigma_db == pytest.approx(0.0, abs=1e-9)
    assert (fit.samples, fit.distance_min_m, fit.distance_max_m) == (5, 1.0, 20.0)


def test_recovers_known_parameters_within_their_standard_errors() -> None:
    loss, d = synthetic(2000, seed=3)
    fit = fit_log_distance(loss, d)
    # within 3 standard errors (a 99.7 % statement for this fixed seed)
    assert abs(fit.exponent - 2.7) < 3 * fit.exponent_se
    assert abs(fit.reference_loss_db - 41.0) < 3 * fit.reference_loss_se_db
    assert fit.shadowing_sigma_db == pytest.approx(4.0, rel=0.05)
    assert fit.exponent_se < 0.1 and fit.reference_loss_se_db < 0.5
    assert -1.0 < fit.correlation < 0.0  # intercept and slope trade off


def test_standard_errors_match_the_spread_over_replications() -> None:
    fits = [fit_log_distance(*synthetic(200, seed=s)) for s in range(200)]
    spread = np.std([f.exponent for f in fits], ddof=1)
    mean_se = np.mean([f.exponent_se for f in fits])
    assert mean_se == pytest.approx(spread, rel=0.15)
    assert np.mean([f.shadowing_sigma_db for f in fits]) == pytest.approx(4.0, rel=0.02)


def test_bootstrap_interval_covers_the_truth_and_is_reproducible() -> None:
    loss, d = synthetic(300, seed=5)
    a = fit_log_distance(loss, d, bootstrap=200, rng=np.random.Generator(np.random.PCG64(1)))
    b = fit_log_distance(loss, d, bootstrap=200, rng=np.random.Generator(np.random.PCG64(1)))
    assert a == b and a.bootstrap_samples == 200
    assert a.exponent_ci95 is not None and a.exponent_ci95[0] < 2.7 < a.exponent_ci95[1]
    width = a.exponent_ci95[1] - a.exponent_ci95[0]
    assert width == pytest.approx(2 * 1.96 * a.exponent_se, rel=0.3)


def test_reference_distance_shifts_the_reference_loss() -> None:
    loss, d = synthetic(100, seed=2)
    at1 = fit_log_distance(loss, d)
    at10 = fit_log_distance(loss, d, reference_distance_m=10.0)
    assert at10.exponent == pytest.approx(at1.exponent)
    assert at10.reference_loss_db == pytest.approx(at1.reference_loss_db + 10 * at1.exponent)
    assert at10.median_loss_db(25.0) == pytest.approx(at1.median_loss_db(25.0))


def test_position_means_average_each_position() -> None:
    loss, d = position_means(["a", "a", "a", "b"], [50.0, 52.0, 54.0, 60.0], [2.0, 2.0, 2.0, 2.0])
    assert sorted(loss.tolist()) == [52.0, 60.0] and d.tolist() == [2.0, 2.0]


@pytest.mark.parametrize(
    ("loss", "distance", "message"),
    [
        ([50.0, 60.0], [1.0, 2.0], "at least 3 samples"),
        ([50.0, 60.0, 70.0], [2.0, 2.0, 2.0], "two distances"),
        ([50.0, 60.0, 70.0], [1.0, 0.0, 2.0], "> 0"),
        ([50.0, math.nan, 70.0], [1.0, 3.0, 2.0], "finite"),
        ([50.0, 60.0], [1.0, 3.0, 2.0], "has 2 values"),
    ],
)
def test_bad_input_is_refused(loss: list[float], distance: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fit_log_distance(loss, distance)


def test_bootstrap_without_a_generator_is_refused() -> None:
    with pytest.raises(ValueError, match="rng"):
        fit_log_distance(*synthetic(10, seed=1), bootstrap=10)
