"""Fitting the log-distance path-loss model to measured RSSI (a walk-away test).

What it models
    Measured path loss ``L_i = P_tx,i - RSSI_i`` (dB) at distances ``d_i`` follows the
    log-distance model with log-normal shadowing,

        L_i = PL(d0) + 10 n log10(d_i / d0) + X_i,   X_i ~ N(0, sigma^2),

    the model of :class:`radios.propagation.LogDistance` (whose parameter names the fit returns:
    ``reference_loss_db`` = PL(d0), ``exponent`` = n, ``shadowing_sigma_db`` = sigma,
    ``reference_distance_m`` = d0). The fit is ordinary least squares on the design matrix
    ``[1, 10 log10(d / d0)]``; standard errors come from the covariance ``s^2 (X^T X)^-1`` with
    ``s^2 = RSS / (N - 2)`` (the unbiased, degrees-of-freedom corrected residual variance), and
    ``sigma`` is ``s``. Optionally a nonparametric bootstrap (rows resampled with replacement,
    from a generator the caller passes) gives percentile intervals that do not lean on
    normal residuals.

Sources
    * Rappaport, "Wireless Communications: Principles and Practice", 2nd ed., section 4.9
      (eqs. 4.68-4.69a) and its worked example 4.9: PL(d0) and n chosen to minimise the mean
      square error between measured and predicted loss; sigma from the residuals.
    * Least squares with covariance ``s^2 (X^T X)^-1``: any regression text, e.g. Seber & Lee,
      "Linear Regression Analysis", 2nd ed., ch. 3.
    * Bootstrap percentile intervals: Efron & Tibshirani, "An Introduction to the Bootstrap",
      1993, ch. 13.

What it leaves out
    * Samples at one position share one shadowing realisation: the residual spread mixes
      fast fading (which averaging removes) with shadowing, and treating samples as
      independent understates the standard errors. :func:`position_means` averages the samples
      of each position first (one row per position: sigma is then shadowing only).
    * Antenna patterns and gains, body loss, the channel the receiver measured on (37, 38 or
      39: their frequencies differ by 3 %, under 0.3 dB of free-space loss), RSSI quantisation
      and receiver calibration offsets, which end up in PL(d0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["PathLossFit", "fit_log_distance", "position_means"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class PathLossFit:
    """Fitted log-distance parameters, their standard errors and the data's extent."""

    reference_loss_db: float
    exponent: float
    shadowing_sigma_db: float
    reference_loss_se_db: float
    exponent_se: float
    correlation: float  # between the PL(d0) and n estimates
    reference_distance_m: float
    samples: int
    distance_min_m: float
    distance_max_m: float
    #: bootstrap 95 % percentile intervals (None without a bootstrap)
    reference_loss_ci95_db: tuple[float, float] | None = None
    exponent_ci95: tuple[float, float] | None = None
    shadowing_sigma_ci95_db: tuple[float, float] | None = None
    bootstrap_samples: int = 0

    def median_loss_db(self, distance_m: npt.ArrayLike) -> FloatArray:
        """The fitted median loss ``PL(d0) + 10 n log10(d / d0)``."""
        d = np.asarray(distance_m, dtype=np.float64)
        return np.asarray(
            self.reference_loss_db + 10.0 * self.exponent * np.log10(d / self.reference_distance_m)
        )


def _check(loss_db: npt.ArrayLike, distance_m: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    loss = np.asarray(loss_db, dtype=np.float64).ravel()
    d = np.asarray(distance_m, dtype=np.float64).ravel()
    if loss.size != d.size:
        raise ValueError(f"loss_db has {loss.size} values and distance_m {d.size}")
    if not (np.all(np.isfinite(loss)) and np.all(np.isfinite(d))):
        raise ValueError("loss_db and distance_m must be finite")
    if np.any(d <= 0):
        raise ValueError("distance_m must be > 0")
    if loss.size < 3:
        raise ValueError(f"at least 3 samples are needed (2 parameters and sigma), got {loss.size}")
    if np.unique(d).size < 2:
        raise ValueError("samples at two distances at least are needed to fit the exponent")
    return loss, d


def _ols(loss: FloatArray, x: FloatArray) -> tuple[float, float, float, FloatArray]:
    """Intercept, slope, residual std (dof-corrected) and the 2x2 (X^T X)^-1."""
    design = np.column_stack((np.ones_like(x), x))
    coef, *_ = np.linalg.lstsq(design, loss, rcond=None)
    residual = loss - design @ coef
    s = math.sqrt(float(residual @ residual) / (loss.size - 2)) if loss.size > 2 else math.nan
    inverse = np.asarray(np.linalg.inv(design.T @ design), dtype=np.float64)
    return float(coef[0]), float(coef[1]), s, inverse


def fit_log_distance(
    loss_db: npt.ArrayLike,
    distance_m: npt.ArrayLike,
    reference_distance_m: float = 1.0,
    bootstrap: int = 0,
    rng: np.random.Generator | None = None,
) -> PathLossFit:
    """Least-squares fit of ``loss = PL(d0) + 10 n log10(d / d0) + X`` (see module docstring).

    ``bootstrap`` > 0 adds percentile intervals from that many resamples drawn with ``rng``
    (required then: pass ``np.random.default_rng(seed)`` for a reproducible fit).
    """
    if not (math.isfinite(reference_distance_m) and reference_distance_m > 0):
        raise ValueError(f"reference_distance_m must be finite and > 0, got {reference_distance_m}")
    loss, d = _check(loss_db, distance_m)
    x = 10.0 * np.log10(d / reference_distance_m)
    pl0, n, s, inverse = _ols(loss, x)
    cov = s * s * inverse
    se0, se_n = math.sqrt(cov[0, 0]), math.sqrt(cov[1, 1])
    corr = float(cov[0, 1] / (se0 * se_n)) if se0 > 0 and se_n > 0 else 0.0
    fit = PathLossFit(
        reference_loss_db=pl0,
        exponent=n,
        shadowing_sigma_db=s,
        reference_loss_se_db=se0,
        exponent_se=se_n,
        correlation=corr,
        reference_distance_m=float(reference_distance_m),
        samples=int(loss.size),
        distance_min_m=float(d.min()),
        distance_max_m=float(d.max()),
    )
    if bootstrap <= 0:
        return fit
    if rng is None:
        raise ValueError("bootstrap needs rng (a numpy Generator)")
    draws = np.empty((bootstrap, 3))
    kept = 0
    for _ in range(bootstrap):
        pick = rng.integers(0, loss.size, size=loss.size)
        if np.unique(x[pick]).size < 2:
            continue  # a resample at one distance cannot fit the exponent
        a, b, sb, _inv = _ols(loss[pick], x[pick])
        draws[kept] = (a, b, sb)
        kept += 1
    if kept == 0:
        return fit
    lo, hi = np.percentile(draws[:kept], [2.5, 97.5], axis=0)
    return PathLossFit(
        **{
            **fit.__dict__,
            "reference_loss_ci95_db": (float(lo[0]), float(hi[0])),
            "exponent_ci95": (float(lo[1]), float(hi[1])),
            "shadowing_sigma_ci95_db": (float(lo[2]), float(hi[2])),
            "bootstrap_samples": kept,
        }
    )


def position_means(
    keys: npt.ArrayLike, loss_db: npt.ArrayLike, distance_m: npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """One row per distinct (key, distance): the mean loss there (``keys`` names the device or
    the position, e.g. the address). Returns ``(loss_db, distance_m)``."""
    k = np.asarray(keys).ravel()
    loss = np.asarray(loss_db, dtype=np.float64).ravel()
    d = np.asarray(distance_m, dtype=np.float64).ravel()
    if not (k.size == loss.size == d.size):
        raise ValueError("keys, loss_db and distance_m must have the same length")
    groups: dict[tuple[object, float], list[float]] = {}
    for key, value, dist in zip(k.tolist(), loss.tolist(), d.tolist(), strict=True):
        groups.setdefault((key, dist), []).append(value)
    means = np.array([sum(v) / len(v) for v in groups.values()])
    dists = np.array([dist for _key, dist in groups])
    return means, dists
