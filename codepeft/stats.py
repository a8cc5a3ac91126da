"""Paired statistical tests as the study ran them in R, written out so that every number can be checked.

- :func:`wilcoxon_signed_rank`: R's ``wilcox.test(x, y, paired=TRUE, exact=FALSE, correct=FALSE)``:
  normal approximation, zero differences dropped, ties corrected in the variance, no continuity
  correction. The p-value is NaN (R prints NA) when every difference is zero.
- :func:`cliffs_delta`: effsize's ``cliff.delta(x, y)`` estimate, the mean of sign(x_i - y_j) over all
  (x, y) pairs, and :func:`cliffs_magnitude` with effsize's thresholds.
- :func:`mcnemar`: R's ``mcnemar.test(matrix, correct=TRUE)`` on paired pass/fail outcomes.
- :func:`adjust_pvalues`: R's ``p.adjust`` for Holm and Benjamini-Hochberg; NaN stays NaN and does
  not count towards the number of tests.

Only numpy and :mod:`math` are used, so importing this module is fast.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

CORRECTIONS = ("holm", "BH", "none")

# effsize's thresholds (Romano et al. 2006): |d| below each bound gets the name beside it.
_MAGNITUDES = ((0.147, "negligible"), (0.33, "small"), (0.474, "medium"))


def _normal_upper_tail(z: float) -> float:
    """P(Z > z) for a standard normal Z, accurate in the far tail (erfc, not 1 - cdf)."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def _as_vector(values: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    if np.isnan(array).any():
        raise ValueError(f"{name} contains NaN; drop missing values before testing")
    return array


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their average rank (R's ``rank`` default)."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    ranks = np.empty(len(values), dtype=float)
    start = 0
    while start < len(values):
        end = start
        while end + 1 < len(values) and ordered[end + 1] == ordered[start]:
            end += 1
        ranks[order[start:end + 1]] = (start + end) / 2.0 + 1.0
        start = end + 1
    return ranks


@dataclass(frozen=True)
class WilcoxonResult:
    statistic: float  # V: the sum of the ranks of the positive differences x - y
    n_nonzero: int  # differences left after dropping the zeros
    z: float  # NaN when every difference is zero
    p_value: float  # two-sided; NaN when every difference is zero


def wilcoxon_signed_rank(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> WilcoxonResult:
    """Two-sided paired Wilcoxon signed-rank test, normal approximation, exactly as R computes it."""
    x_arr, y_arr = _as_vector(x, "x"), _as_vector(y, "y")
    if len(x_arr) != len(y_arr):
        raise ValueError(f"paired samples differ in length ({len(x_arr)} vs {len(y_arr)})")
    if len(x_arr) == 0:
        raise ValueError("no pairs to test")
    diffs = x_arr - y_arr
    diffs = diffs[diffs != 0]
    n = len(diffs)
    if n == 0:
        return WilcoxonResult(statistic=0.0, n_nonzero=0, z=math.nan, p_value=math.nan)
    ranks = average_ranks(np.abs(diffs))
    statistic = float(ranks[diffs > 0].sum())
    _, tie_sizes = np.unique(ranks, return_counts=True)
    tie_term = float(np.sum(tie_sizes.astype(float) ** 3 - tie_sizes)) / 48.0
    sigma = math.sqrt(n * (n + 1) * (2 * n + 1) / 24.0 - tie_term)
    z = (statistic - n * (n + 1) / 4.0) / sigma
    p_value = 2.0 * min(_normal_upper_tail(-z), _normal_upper_tail(z))
    return WilcoxonResult(statistic=statistic, n_nonzero=n, z=z, p_value=p_value)


def cliffs_delta(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """Cliff's delta: (#(x_i > y_j) - #(x_i < y_j)) / (n_x * n_y) over all pairs; positive when x tends larger."""
    x_arr, y_arr = _as_vector(x, "x"), _as_vector(y, "y")
    if len(x_arr) == 0 or len(y_arr) == 0:
        raise ValueError("Cliff's delta needs at least one value on each side")
    y_sorted = np.sort(y_arr)
    below = np.searchsorted(y_sorted, x_arr, side="left")  # y_j < x_i
    not_above = np.searchsorted(y_sorted, x_arr, side="right")  # y_j <= x_i
    greater = int(below.sum())
    less = int((len(y_sorted) - not_above).sum())
    return (greater - less) / (len(x_arr) * len(y_arr))


def cliffs_magnitude(delta: float) -> str:
    """effsize's label for |delta|: negligible < 0.147 <= small < 0.33 <= medium < 0.474 <= large."""
    if math.isnan(delta):
        return "NA"
    for bound, name in _MAGNITUDES:
        if abs(delta) < bound:
            return name
    return "large"


@dataclass(frozen=True)
class McNemarResult:
    both_pass: int
    a_only: int  # a passes, b fails
    b_only: int  # b passes, a fails
    both_fail: int
    statistic: float  # McNemar's chi-squared (continuity-corrected when a_only != b_only); NaN when both are 0
    p_value: float  # NaN when a_only == b_only == 0 (no discordant pairs), as in R
    odds_ratio: float  # (a_only + 0.5) / (b_only + 0.5)


def mcnemar(a_pass: Sequence[bool] | np.ndarray, b_pass: Sequence[bool] | np.ndarray) -> McNemarResult:
    """McNemar's test with continuity correction on paired pass/fail outcomes (R's ``mcnemar.test``)."""
    a_arr, b_arr = np.asarray(a_pass, dtype=bool), np.asarray(b_pass, dtype=bool)
    if a_arr.shape != b_arr.shape or a_arr.ndim != 1:
        raise ValueError("paired outcomes must be two one-dimensional vectors of the same length")
    if len(a_arr) == 0:
        raise ValueError("no pairs to test")
    both_pass = int(np.sum(a_arr & b_arr))
    a_only = int(np.sum(a_arr & ~b_arr))
    b_only = int(np.sum(~a_arr & b_arr))
    both_fail = int(np.sum(~a_arr & ~b_arr))
    discordant = a_only + b_only
    if discordant == 0:
        statistic = p_value = math.nan
    else:
        # R corrects only when the table is not symmetric, i.e. when a_only != b_only.
        numerator = abs(a_only - b_only) - (1 if a_only != b_only else 0)
        statistic = numerator ** 2 / discordant
        p_value = math.erfc(math.sqrt(statistic / 2.0))  # chi-squared upper tail, 1 degree of freedom
    return McNemarResult(both_pass=both_pass, a_only=a_only, b_only=b_only, both_fail=both_fail,
                         statistic=statistic, p_value=p_value, odds_ratio=(a_only + 0.5) / (b_only + 0.5))


def adjust_pvalues(p_values: Sequence[float], method: str) -> list[float]:
    """R's ``p.adjust(p, method)`` for ``holm``, ``BH`` or ``none``; NaN entries stay NaN and are not counted."""
    if method not in CORRECTIONS:
        raise ValueError(f"unknown correction {method!r}; valid: {', '.join(CORRECTIONS)}")
    p = np.asarray(p_values, dtype=float)
    adjusted = p.copy()
    present = ~np.isnan(p)
    values = p[present]
    n = len(values)
    if method == "none" or n <= 1:
        return adjusted.tolist()
    if method == "holm":
        order = np.argsort(values, kind="stable")
        scaled = np.maximum.accumulate((n - np.arange(n)) * values[order])
    else:  # BH
        order = np.argsort(-values, kind="stable")
        scaled = np.minimum.accumulate(n / np.arange(n, 0, -1) * values[order])
    result = np.empty(n)
    result[order] = np.minimum(1.0, scaled)
    adjusted[present] = result
    return adjusted.tolist()
