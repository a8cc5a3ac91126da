"""Paired statistical tests as the study ran them in R, written out so that every number can be checked.

- :func:`wilcoxon_signed_rank`: R's ``wilcox.test(x, y, paired=TRUE, exact=FALSE, correct=FALSE)``:
  normal approximation, zero differences dropped, ties corrected in the variance, no continuity
  correction. The p-value is NaN (R prints NA) when every difference is zero.
  Under the study's protocol (``na_when_constant``) the p-value is NaN whenever both samples are
  constant, as the study's R wrapper returned it, also when the two constants differ.
- :func:`cliffs_delta`: effsize's ``cliff.delta(x, y)`` estimate, the mean of sign(x_i - y_j) over all
  (x, y) pairs, and :func:`cliffs_magnitude` with effsize's thresholds.
- :func:`cliffs_delta_interval`: the estimate with its confidence interval (Cliff 1996; effsize 0.8's
  defaults, ``use.unbiased=TRUE``, ``use.normal=FALSE``), column means computed directly or as effsize
  computes them (``column_means="effsize"``, the study's protocol).
- :func:`mcnemar`: R's ``mcnemar.test(matrix, correct=TRUE)`` on paired pass/fail outcomes.
- :func:`adjust_pvalues`: R's ``p.adjust`` for Holm and Benjamini-Hochberg; NaN stays NaN and does
  not count towards the number of tests.

Only numpy and :mod:`math` are imported at module level, so importing this module is fast; the t quantile
of the interval comes from :func:`scipy.special.stdtrit`, imported when an interval is computed.
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


def _constant(values: np.ndarray) -> bool:
    return bool(np.all(values == values[0]))


def wilcoxon_signed_rank(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray,
                         na_when_constant: bool = False) -> WilcoxonResult:
    """Two-sided paired Wilcoxon signed-rank test, normal approximation, exactly as R computes it.

    ``na_when_constant``: the study's wrapper, ``if (is_constant(x) & is_constant(y)) NA``: no statistic
    and no p-value whenever both samples are constant, also when the constants differ (ten 1s against
    ten 0s, where R's test itself gives p = 0.0016).
    """
    x_arr, y_arr = _as_vector(x, "x"), _as_vector(y, "y")
    if len(x_arr) != len(y_arr):
        raise ValueError(f"paired samples differ in length ({len(x_arr)} vs {len(y_arr)})")
    if len(x_arr) == 0:
        raise ValueError("no pairs to test")
    diffs = x_arr - y_arr
    diffs = diffs[diffs != 0]
    n = len(diffs)
    if n == 0 or (na_when_constant and _constant(x_arr) and _constant(y_arr)):
        return WilcoxonResult(statistic=math.nan if n else 0.0, n_nonzero=n, z=math.nan, p_value=math.nan)
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


COLUMN_MEANS = ("direct", "effsize")


@dataclass(frozen=True)
class CliffsDelta:
    estimate: float  # d, in [-1, 1]
    low: float  # bounds of the confidence interval; NaN where there is none (below)
    high: float
    variance: float  # S, Cliff's unbiased estimate of var(d); NaN when a side has one value


def _effsize_beyond(values: np.ndarray, against: np.ndarray) -> np.ndarray:
    """Which of the sorted ``values`` effsize 0.8's binary search places at index len(against) + 1.

    effsize's ``.bsearch.partition`` searches all values at once (1-based, L = 1, H = n,
    M = floor((L + H) / 2); x <= a[M] sets H = M, else L = M + 1) until H <= L holds for every value.
    A value above every ``against`` settles at L = H = n, but each further round, run for values that
    have not settled yet, moves it to L = n + 1; the caller then counts it wrongly (see
    :func:`cliffs_delta_interval`). This replays those rounds.
    """
    n = len(against)
    low, high = np.ones(len(values), dtype=np.int64), np.full(len(values), n, dtype=np.int64)
    while True:
        middle = (low + high) // 2
        left = values <= against[middle - 1]
        high = np.where(left, middle, high)
        low = np.where(left, low, middle + 1)
        if np.all(high <= low):
            return low > n


def cliffs_delta_interval(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray,
                          conf_level: float = 0.95, column_means: str = "direct") -> CliffsDelta:
    """Cliff's delta of ``x`` against ``y`` with its confidence interval, as effsize 0.8's ``cliff.delta``.

    D_ij = sign(x_i - y_j), d = mean D; d' = d, shrunk to d (n1 n2 - 1) / (n1 n2) when |d| = 1; row means
    r_i and column means c_j of D; S = (n2^2 sum (r_i - d')^2 + n1^2 sum (c_j - d')^2 - sum (D_ij - d')^2)
    / (n1 n2 (n1 - 1) (n2 - 1)) (Cliff 1996, unbiased); Z = the Student t quantile at 1 - (1 - conf_level)
    / 2 with n1 + n2 - 2 degrees of freedom (Feng & Cliff 2004); bounds (d' - d'^3 -/+ Z sqrt(S)
    sqrt((1 - d'^2)^2 + Z^2 S)) / (1 - d'^2 + Z^2 S), the upper set to 1 when d = 1, the lower to -1
    when d = -1.

    ``column_means``: ``direct`` computes c_j from D; ``effsize`` as effsize does (the study's protocol):
    its binary search gives c_j = -1/n1 instead of -1 for some y_j above every x (:func:`_effsize_beyond`),
    which changes S and the bounds, never d. Bounds are NaN when a side has a single value, or when S < 0
    (possible for the unbiased estimate; R's ``sqrt`` then gives NaN too). Raises ValueError on an empty
    side, NaN, or an unknown ``column_means``.
    """
    if column_means not in COLUMN_MEANS:
        raise ValueError(f"unknown column_means {column_means!r}; valid: {', '.join(COLUMN_MEANS)}")
    if not 0 < conf_level < 1:
        raise ValueError(f"conf_level must lie between 0 and 1, got {conf_level!r}")
    x_arr, y_arr = np.sort(_as_vector(x, "x")), np.sort(_as_vector(y, "y"))
    n1, n2 = len(x_arr), len(y_arr)
    if n1 == 0 or n2 == 0:
        raise ValueError("Cliff's delta needs at least one value on each side")
    # per x_i: how many y_j lie below / above it; per y_j: how many x_i lie above / below it
    y_below = np.searchsorted(y_arr, x_arr, side="left")
    y_above = n2 - np.searchsorted(y_arr, x_arr, side="right")
    x_above = n1 - np.searchsorted(x_arr, y_arr, side="right")
    x_below = np.searchsorted(x_arr, y_arr, side="left")
    greater, less = int(y_below.sum()), int(y_above.sum())
    d = (greater - less) / (n1 * n2)
    if n1 < 2 or n2 < 2:
        return CliffsDelta(estimate=d, low=math.nan, high=math.nan, variance=math.nan)
    shrunk = d * (n1 * n2 - 1) / (n1 * n2) if abs(d) == 1 else d
    rows = (y_below - y_above) / n2
    columns = (x_above - x_below) / n1
    if column_means == "effsize":
        columns = np.where(_effsize_beyond(y_arr, x_arr), -1.0 / n1, columns)
    squares = greater * (1 - shrunk) ** 2 + (n1 * n2 - greater - less) * shrunk ** 2 + less * (1 + shrunk) ** 2
    variance = float((n2 ** 2 * np.sum((rows - shrunk) ** 2) + n1 ** 2 * np.sum((columns - shrunk) ** 2)
                      - squares) / (n1 * n2 * (n1 - 1) * (n2 - 1)))
    if variance < 0:
        return CliffsDelta(estimate=d, low=math.nan, high=math.nan, variance=variance)
    from scipy.special import stdtrit

    z = float(stdtrit(n1 + n2 - 2, 1 - (1 - conf_level) / 2))
    spread = z * math.sqrt(variance) * math.sqrt((1 - shrunk ** 2) ** 2 + z ** 2 * variance)
    scale = 1 - shrunk ** 2 + z ** 2 * variance
    low, high = (shrunk - shrunk ** 3 - spread) / scale, (shrunk - shrunk ** 3 + spread) / scale
    return CliffsDelta(estimate=d, low=-1.0 if d == -1 else low, high=1.0 if d == 1 else high, variance=variance)


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
