"""The one-sided sign-flip (randomisation) test of paired differences: an exact p-value for any
number of pairs, without assuming normal differences.

Model. Under the null hypothesis the differences ``d_1 .. d_n`` are symmetric about 0: each is
as likely to be ``+|d_k|`` as ``-|d_k|``, independently of the others. That holds exactly when
the two values of a pair are exchangeable, for instance one seed run by two versions of a model
that draw some or all of their random numbers differently but from the same distributions. The
p-value of a positive shift is the share of the ``2^n`` sign assignments whose sum is at least
the observed sum. Under the null it is at most ``a`` with probability at most ``a``, for every
``n`` and every distribution of the differences, discrete ones and ties included.

Computation. Exact up to :data:`EXACT_MAX_PAIRS` pairs, by meeting in the middle: the sums of
the two halves (``2^(n/2)`` each) are listed, one half sorted, and for every sum of the other
half the sums that reach the observed total are counted by bisection. Above that, a Monte Carlo
estimate over :data:`MONTE_CARLO_DRAWS` random sign assignments from a generator with a fixed
seed (the same p-value on every call), taken as ``(1 + b) / (1 + N)``, which is itself a valid
p-value (Phipson & Smyth 2010).

Sources: R. A. Fisher, "The Design of Experiments" (1935), section 21 (Darwin's paired plants);
E. J. G. Pitman, "Significance tests which may be applied to samples from any populations"
(1937); B. Phipson and G. K. Smyth, "Permutation p-values should never be zero" (2010).

Leaves out: ties in floating point. Sums that fall short of the observed one by at most
``1e-9`` of the total absolute difference count as reaching it, so rounding never lowers a
p-value (the test is conservative by the width of those ties). The smallest p-value of ``n``
pairs is ``2^-n``: no test at a level below that can reject (:func:`min_pairs`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Up to this many pairs the p-value is exact (2 x 2^15 sums at most).
EXACT_MAX_PAIRS = 30
#: Random sign assignments of the Monte Carlo p-value, above EXACT_MAX_PAIRS pairs.
MONTE_CARLO_DRAWS = 1 << 17
#: Seed of the Monte Carlo sign draws (fixed: a check's verdict must not vary between calls).
MONTE_CARLO_SEED = 20261130
#: Relative width of a tie: sums within this share of sum(|d|) below the observed one count.
TIE_WIDTH = 1e-9


def sign_flip_p(diffs: Sequence[float] | np.ndarray) -> float:
    """One-sided p-value of "the differences are symmetric about 0" against a positive shift.

    1.0 for no differences or when every difference is 0 (no evidence either way)."""
    d = np.asarray(diffs, dtype=float)
    if d.ndim != 1 or not np.all(np.isfinite(d)):
        raise ValueError("sign_flip_p: expected a flat sequence of finite numbers")
    magnitudes = np.abs(d)
    total = float(magnitudes.sum())
    if d.size == 0 or total == 0.0:
        return 1.0
    threshold = float(d.sum()) - TIE_WIDTH * total
    if d.size <= EXACT_MAX_PAIRS:
        half = d.size // 2
        left = _all_sums(magnitudes[:half])
        right = np.sort(_all_sums(magnitudes[half:]))
        below = np.searchsorted(right, threshold - left, side="left")
        reaching = int(left.size * right.size - below.sum())
        return reaching / float(2**d.size)
    return _monte_carlo_p(magnitudes, threshold)


def _all_sums(magnitudes: np.ndarray) -> np.ndarray:
    """The sums of ``±m_1 ± ... ± m_k`` over all 2^k sign assignments."""
    sums = np.zeros(1)
    for m in magnitudes:
        sums = np.concatenate((sums + m, sums - m))
    return sums


def _monte_carlo_p(magnitudes: np.ndarray, threshold: float) -> float:
    rng = np.random.default_rng(MONTE_CARLO_SEED)
    reaching = 0
    chunk = 4096
    for start in range(0, MONTE_CARLO_DRAWS, chunk):
        size = min(chunk, MONTE_CARLO_DRAWS - start)
        signs = rng.integers(0, 2, size=(size, magnitudes.size)) * 2 - 1
        reaching += int(np.count_nonzero(signs @ magnitudes >= threshold))
    return (1 + reaching) / (1 + MONTE_CARLO_DRAWS)


def min_pairs(alpha: float) -> int:
    """The fewest pairs whose smallest p-value, ``2^-n``, is at most ``alpha``."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"min_pairs: alpha must be in (0, 1), got {alpha!r}")
    n = 1
    while 2.0**-n > alpha:
        n += 1
    return n


__all__ = ["EXACT_MAX_PAIRS", "MONTE_CARLO_DRAWS", "min_pairs", "sign_flip_p"]
