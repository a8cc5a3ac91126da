"""The statistics of codepeft.stats.tests against values computed by hand and by R 4.2 (printed with digits=17)."""

import math

import numpy as np
import pytest

from codepeft.stats.tests import (
    adjust_pvalues,
    average_ranks,
    cliffs_delta,
    cliffs_delta_interval,
    cliffs_magnitude,
    mcnemar,
    wilcoxon_signed_rank,
)


def test_wilcoxon_by_hand_no_ties():
    # differences 1..5, all positive: V = 15, mean 7.5, variance 5*6*11/24 = 13.75
    result = wilcoxon_signed_rank([1, 2, 3, 4, 5], [0, 0, 0, 0, 0])
    assert result.statistic == 15
    assert result.z == pytest.approx(7.5 / math.sqrt(13.75), rel=1e-15)
    assert result.p_value == pytest.approx(math.erfc(7.5 / math.sqrt(13.75) / math.sqrt(2)), rel=1e-14)
    # R: wilcox.test(c(1,2,3,4,5), c(0,0,0,0,0), paired=TRUE, exact=FALSE, correct=FALSE)
    assert result.p_value == pytest.approx(0.043114446783075362, rel=1e-12)


def test_wilcoxon_ties_and_zeros_match_r():
    x = [3, 5, 5, 2, 8, 1, 0, 4, 4, 7]
    y = [1, 5, 3, 3, 6, 1, 2, 2, 1, 4]
    result = wilcoxon_signed_rank(x, y)
    assert result.n_nonzero == 8  # two zero differences dropped
    assert result.statistic == 31
    assert result.p_value == pytest.approx(0.061608707987030657, rel=1e-12)


def test_wilcoxon_fractional_values_match_r():
    result = wilcoxon_signed_rank([1.5, 2.25, 3, 0.5, 7, 7, 2], [2.5, 1.25, 3, 1.5, 5, 4, 2])
    assert result.statistic == 11
    assert result.p_value == pytest.approx(0.33628879040286902, rel=1e-12)


def test_wilcoxon_all_differences_zero_is_nan_like_r():
    assert math.isnan(wilcoxon_signed_rank([1, 1, 1], [1, 1, 1]).p_value)  # both constant
    assert math.isnan(wilcoxon_signed_rank([1, 2, 3], [1, 2, 3]).p_value)  # identical, not constant


def test_wilcoxon_study_rule_na_when_both_samples_are_constant():
    ones, zeros = [1] * 10, [0] * 10
    # base R: ten differences of 1, all tied: V = 55, sigma^2 = 10*11*21/24 - (10^3 - 10)/48 = 75.625
    default = wilcoxon_signed_rank(ones, zeros)
    assert default.p_value == pytest.approx(math.erfc(27.5 / math.sqrt(75.625) / math.sqrt(2)), rel=1e-14)
    assert default.p_value == pytest.approx(0.001565402258002551, rel=1e-12)  # R 4.2, sprintf("%.17g")
    assert math.isnan(wilcoxon_signed_rank(ones, zeros, na_when_constant=True).p_value)
    # only one side constant: the study's wrapper runs the test (R: 0.52708925686553809)
    varied = [0, 1, 2, 0, 1, 2, 0, 1, 2, 3]
    assert wilcoxon_signed_rank(ones, varied, na_when_constant=True).p_value == pytest.approx(0.52708925686553809,
                                                                                             rel=1e-12)


def test_wilcoxon_is_antisymmetric_and_rejects_bad_input():
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 6, 40), rng.integers(0, 6, 40)
    assert wilcoxon_signed_rank(x, y).p_value == pytest.approx(wilcoxon_signed_rank(y, x).p_value, rel=1e-12)
    with pytest.raises(ValueError):
        wilcoxon_signed_rank([1, 2], [1])
    with pytest.raises(ValueError):
        wilcoxon_signed_rank([1, math.nan], [1, 2])


def test_average_ranks_like_r_rank():
    assert average_ranks(np.array([3.0, 1.0, 3.0, 2.0, 3.0])).tolist() == [4.0, 1.0, 4.0, 2.0, 4.0]


def test_cliffs_delta_by_hand_and_brute_force():
    # 1 vs (2,2,4): -3; 2 vs: -1; 3 vs: +1  => -3 / 9
    assert cliffs_delta([1, 2, 3], [2, 2, 4]) == pytest.approx(-1 / 3)
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, 10, 57).astype(float), rng.integers(0, 10, 43).astype(float)
    brute = np.sign(x[:, None] - y[None, :]).mean()
    assert cliffs_delta(x, y) == pytest.approx(brute, abs=1e-15)
    assert cliffs_delta(y, x) == pytest.approx(-brute, abs=1e-15)
    assert cliffs_delta([5, 5], [5, 5]) == 0.0


def interval_by_hand(x, y, level=0.95):
    """The textbook computation (Cliff 1996) from the full dominance matrix, column means taken directly."""
    from scipy.stats import t

    x, y = np.asarray(x, float), np.asarray(y, float)
    n1, n2 = len(x), len(y)
    dominance = np.sign(x[:, None] - y[None, :])
    d = dominance.mean()
    shrunk = d * (n1 * n2 - 1) / (n1 * n2) if abs(d) == 1 else d
    s = (n2 ** 2 * ((dominance.mean(axis=1) - shrunk) ** 2).sum() + n1 ** 2 * ((dominance.mean(axis=0) - shrunk) ** 2)
         .sum() - ((dominance - shrunk) ** 2).sum()) / (n1 * n2 * (n1 - 1) * (n2 - 1))
    z = t.ppf(1 - (1 - level) / 2, n1 + n2 - 2)
    root = z * math.sqrt(s) * math.sqrt((1 - shrunk ** 2) ** 2 + z ** 2 * s)
    low, high = ((shrunk - shrunk ** 3 + sign * root) / (1 - shrunk ** 2 + z ** 2 * s) for sign in (-1, 1))
    return d, (-1.0 if d == -1 else low), (1.0 if d == 1 else high), s


@pytest.mark.parametrize(("x", "y"), [
    ([1, 2, 3], [2, 2, 4]),  # ties, and a y above every x
    ([5, 5, 5, 5], [5, 5, 5, 5]),  # all equal
    ([3, 4], [1, 2]),  # n = 2, d = 1
    ([0, 1, 2], [5, 6, 7]),  # d = -1
    ([1, 1, 2, 3, 3, 3, 7], [0, 1, 3, 3, 4, 8, 9]),
    ([0.5, 2.25, 2.25, 9.0, 1.0, 4.5], [2.25, 0.0, 3.0, 9.5, 1.0, 1.0]),
])
def test_cliffs_delta_interval_default_equals_the_computation_by_hand(x, y):
    d, low, high, s = interval_by_hand(x, y)
    result = cliffs_delta_interval(x, y)
    assert result.estimate == pytest.approx(d, abs=1e-15)
    assert result.variance == pytest.approx(s, abs=1e-15)
    assert result.low == pytest.approx(low, abs=1e-12) and result.high == pytest.approx(high, abs=1e-12)


def test_cliffs_delta_interval_worked_by_hand():
    # x = (1, 2, 3), y = (2, 2, 4): D = [[-1,-1,-1], [0,0,-1], [1,1,-1]], d = -1/3; row means (-1, -1/3, 1/3),
    # column means (0, 0, -1); sum (r - d)^2 = 8/9, sum (c - d)^2 = 6/9, sum (D - d)^2 = 6:
    # S = (9 * 8/9 + 9 * 6/9 - 6) / (3 * 3 * 2 * 2) = 8/36. effsize counts the column of y = 4 (above every x)
    # as -1/3: sum (c - d)^2 = 2/9 and S = 4/36, effsize's printed var of 0.1111111.
    assert cliffs_delta_interval([1, 2, 3], [2, 2, 4]).variance == pytest.approx(8 / 36, abs=1e-15)
    assert cliffs_delta_interval([1, 2, 3], [2, 2, 4], column_means="effsize").variance == pytest.approx(4 / 36)
    # all equal: d = 0, S = 0, the interval collapses to [0, 0] (effsize prints 0 [0, 0])
    tied = cliffs_delta_interval([2, 2, 2], [2, 2, 2], column_means="effsize")
    assert (tied.estimate, tied.low, tied.high, tied.variance) == (0.0, 0.0, 0.0, 0.0)


# effsize 0.8.1's cliff.delta(x, y) (R 4.2, sprintf("%.17g")): estimate, lower, upper. The first three have a
# y above every x that effsize's search misplaces, so the direct column means give other bounds.
EFFSIZE = [
    ([1, 2, 3], [2, 2, 4], -0.33333333333333331, -0.85016815301902793, 0.51065239523303518),
    ([0, 1, 2], [5, 6, 7, 8, 9, 10, 11, 12, 13], -1, -1, -0.81642183131627677),
    ([0, 0], [1, 1], -1, -1, 0.82827693410766257),
    ([1, 1], [0, 0], 1, -0.82827693410766257, 1),
    ([1] * 10, [0] * 10, 1, 0.97350683906516977, 1),
    ([1, 2, 3, 4, 5, 6, 7], [8, 9, 1, 2, 10, 11, 0], -0.22448979591836735, -0.66913773354962558, 0.33852150888717514),
]


@pytest.mark.parametrize(("x", "y", "estimate", "low", "high"), EFFSIZE)
def test_cliffs_delta_interval_effsize_equals_effsize(x, y, estimate, low, high):
    result = cliffs_delta_interval(x, y, column_means="effsize")
    assert result.estimate == pytest.approx(estimate, abs=1e-15)
    assert result.low == pytest.approx(low, abs=1e-12) and result.high == pytest.approx(high, abs=1e-12)


def test_cliffs_delta_interval_effsize_differs_only_where_its_search_misplaces():
    direct = cliffs_delta_interval([1, 2, 3], [2, 2, 4])
    assert direct.low != pytest.approx(EFFSIZE[0][3], abs=1e-6)  # the quirk is real on this input
    for x, y, *_ in EFFSIZE[3:5]:  # no y above every x: both agree
        a, b = cliffs_delta_interval(x, y), cliffs_delta_interval(x, y, column_means="effsize")
        assert (a.low, a.high) == (b.low, b.high)


def test_cliffs_delta_interval_without_an_interval_and_bad_input():
    single = cliffs_delta_interval([1], [2, 3, 4])
    assert single.estimate == -1 and math.isnan(single.low) and math.isnan(single.high)
    with pytest.raises(ValueError, match="column_means"):
        cliffs_delta_interval([1, 2], [1, 2], column_means="textbook")
    with pytest.raises(ValueError):
        cliffs_delta_interval([], [1, 2])


@pytest.mark.parametrize(("delta", "name"), [(0.0, "negligible"), (-0.1469, "negligible"), (0.147, "small"),
                                             (-0.3299, "small"), (0.33, "medium"), (0.4739, "medium"),
                                             (-0.474, "large"), (1.0, "large"), (math.nan, "NA")])
def test_cliffs_magnitude_thresholds(delta, name):
    assert cliffs_magnitude(delta) == name


def _outcomes(both_pass, a_only, b_only, both_fail):
    a = [1] * both_pass + [1] * a_only + [0] * b_only + [0] * both_fail
    b = [1] * both_pass + [0] * a_only + [1] * b_only + [0] * both_fail
    return a, b


def test_mcnemar_counts_and_r_values():
    result = mcnemar(*_outcomes(10, 12, 3, 5))
    assert (result.both_pass, result.a_only, result.b_only, result.both_fail) == (10, 12, 3, 5)
    assert result.statistic == pytest.approx((abs(12 - 3) - 1) ** 2 / 15)
    # R: mcnemar.test(matrix(c(10, 3, 12, 5), nrow=2), correct=TRUE)$p.value
    assert result.p_value == pytest.approx(0.038867103812417238, rel=1e-12)
    assert result.odds_ratio == pytest.approx(12.5 / 3.5)


def test_mcnemar_edge_cases_match_r():
    assert mcnemar(*_outcomes(10, 4, 4, 5)).p_value == 1.0  # symmetric: R does not correct, statistic 0
    assert mcnemar(*_outcomes(10, 0, 1, 5)).p_value == pytest.approx(1.0)  # |1 - 0| - 1 = 0
    no_discordant = mcnemar(*_outcomes(10, 0, 0, 5))
    assert math.isnan(no_discordant.p_value) and no_discordant.odds_ratio == 1.0


def test_adjust_pvalues_match_r_with_na():
    p = [0.01, 0.04, 0.03, 0.005, math.nan, 0.5, 0.04]
    holm = adjust_pvalues(p, "holm")
    bh = adjust_pvalues(p, "BH")
    r_holm = [0.05, 0.12, 0.12, 0.03, math.nan, 0.5, 0.12]
    r_bh = [0.03, 0.048, 0.048, 0.03, math.nan, 0.5, 0.048]
    for got, want in zip(holm + bh, r_holm + r_bh):
        assert (math.isnan(got) and math.isnan(want)) or got == pytest.approx(want, rel=1e-12)
    assert adjust_pvalues(p, "none")[:4] == p[:4]
    assert adjust_pvalues([0.2], "holm") == [0.2]
    assert adjust_pvalues([0.6, 0.9, 0.7], "holm") == [1.0, 1.0, 1.0]  # capped at 1
    with pytest.raises(ValueError):
        adjust_pvalues(p, "bonferroni")
