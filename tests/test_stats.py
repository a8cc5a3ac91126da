"""The statistics of codepeft.stats against values computed by hand and by R 4.2 (printed with digits=17)."""

import math

import numpy as np
import pytest

from codepeft.stats import (
    adjust_pvalues,
    average_ranks,
    cliffs_delta,
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
