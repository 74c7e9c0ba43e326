"""The drift statistics on synthetic numbers: each must detect what it is for and stay quiet otherwise."""

from __future__ import annotations

import numpy as np
import pytest

from drift.stats import (
    bbse,
    bootstrap_quantile,
    cer,
    chi_square,
    histogram,
    joint_confusion,
    ks_binned,
    p_chart,
    psi,
)


def _confused_sample(mix: np.ndarray, confusion: np.ndarray, n: int, rng: np.random.Generator):
    """True labels drawn from `mix`, predictions from the row `confusion[true]` (P(pred | true))."""
    true = rng.choice(len(mix), size=n, p=mix)
    pred = np.array([rng.choice(len(mix), p=confusion[t]) for t in true])
    return true, pred


# P(predicted | true): a classifier that confuses label 0 with 1 and sends some of 2 to 3 (out of scope).
CONFUSION = np.array(
    [
        [0.80, 0.15, 0.00, 0.05],
        [0.10, 0.85, 0.00, 0.05],
        [0.00, 0.05, 0.75, 0.20],
        [0.05, 0.05, 0.05, 0.85],
    ]
)


def test_bbse_recovers_a_known_mix_within_two_points() -> None:
    rng = np.random.default_rng(7)
    source = np.array([0.3, 0.3, 0.2, 0.2])
    true, pred = _confused_sample(source, CONFUSION, 20000, rng)
    c = joint_confusion(true, pred, 4)
    target = np.array([0.6, 0.15, 0.1, 0.15])  # label 0 doubles
    _, live_pred = _confused_sample(target, CONFUSION, 20000, rng)
    mu = np.bincount(live_pred, minlength=4) / len(live_pred)
    estimate = bbse(c, mu).q
    assert np.abs(estimate - target).max() < 0.02
    # the naive mix (the predicted shares) is further off: BBSE corrects the confusions
    assert np.abs(mu - target).max() > 2 * np.abs(estimate - target).max()


def test_bbse_clips_negative_weights_and_renormalises() -> None:
    c = np.diag([0.5, 0.5])
    result = bbse(c, np.array([1.2, -0.2]))
    assert result.clipped
    assert result.q == pytest.approx([1.0, 0.0])


def test_psi_is_zero_for_the_same_mix_and_grows_with_the_shift() -> None:
    p = np.array([0.25, 0.25, 0.25, 0.25])
    assert psi(p, p) == pytest.approx(0.0)
    small, large = psi(p, [0.3, 0.2, 0.25, 0.25]), psi(p, [0.55, 0.15, 0.15, 0.15])
    assert 0 < small < 0.10 < 0.25 < large


def test_chi_square_separates_a_shift_from_sampling_noise() -> None:
    rng = np.random.default_rng(1)
    shares = np.array([0.5, 0.3, 0.2])
    same = rng.multinomial(1000, shares)
    moved = rng.multinomial(1000, [0.4, 0.3, 0.3])
    assert chi_square(same, shares)[1] > 0.01
    assert chi_square(moved, shares)[1] < 1e-6
    # a label the reference never predicts shows up: finite, and significant
    stat, p = chi_square(np.array([500, 300, 200, 50]), np.array([0.5, 0.3, 0.2, 0.0]))
    assert np.isfinite(stat) and p < 1e-6


def test_p_chart_limits_scale_with_the_window() -> None:
    small, large = p_chart(12, 100, 0.08), p_chart(120, 1000, 0.08)
    assert small.share == large.share == pytest.approx(0.12)
    assert not small.above  # 4 points over on 100 turns is within 3 sigma ...
    assert large.above  # ... on 1,000 it is not
    assert large.upper == pytest.approx(0.08 + 3 * np.sqrt(0.08 * 0.92 / 1000))


def test_ks_binned_matches_the_exact_test_on_fine_bins() -> None:
    from scipy.stats import ks_2samp

    rng = np.random.default_rng(3)
    a, b = rng.beta(8, 2, 3000), rng.beta(6, 3, 2000)
    d, p = ks_binned(histogram(a, 1000), histogram(b, 1000))
    exact = ks_2samp(a, b)
    assert d == pytest.approx(exact.statistic, abs=0.005)
    assert p < 1e-6
    same_d, same_p = ks_binned(histogram(a[:1500], 20), histogram(a[1500:], 20))
    assert same_p > 0.01 and same_d < 0.05


def test_histogram_puts_one_in_the_last_bin() -> None:
    assert histogram(np.array([0.0, 0.5, 1.0]), 4).tolist() == [1, 0, 1, 1]


def test_cer_between_two_readings() -> None:
    assert cer("학생 할인 되나요", "학생 할인 되나요") == 0.0
    assert cer("학생할인", "학생 활인") == pytest.approx(0.25)
    assert cer("", "") == 0.0 and cer("", "네") == 1.0


def test_bootstrap_quantile_shrinks_with_the_window_size() -> None:
    shares = np.array([0.4, 0.3, 0.2, 0.1])

    def stat(counts: np.ndarray) -> float:
        return psi(shares, counts / counts.sum())

    small = bootstrap_quantile(stat, shares, 100, 0.99)
    large = bootstrap_quantile(stat, shares, 10000, 0.99)
    assert large < small
    assert large < 0.01  # sampling alone moves a 10,000-turn window very little
    assert bootstrap_quantile(stat, shares, 100, 0.99) == small  # seeded


def test_the_vectorised_psi_quantiles_match_the_generic_bootstrap() -> None:
    from drift.stats import bbse_psi_quantiles

    rng = np.random.default_rng(5)
    true, pred = _confused_sample(np.array([0.3, 0.3, 0.2, 0.2]), CONFUSION, 5000, rng)
    c = joint_confusion(true, pred, 4)
    p = c.sum(axis=0)

    def stat(counts: np.ndarray) -> float:
        return psi(p, bbse(c, counts).q)

    generic = bootstrap_quantile(stat, c.sum(axis=1), 300, 0.99, seed=2)
    fast = bbse_psi_quantiles(c, c.sum(axis=1), 300, (0.99,), seed=2)[0]
    assert fast == pytest.approx(generic, rel=1e-6)
