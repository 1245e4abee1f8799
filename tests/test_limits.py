"""CLs limits from profile curves (alpscan.stats.limits) against closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from alpscan.stats.limits import ProfileCurve, combined_limits, profile_theta, yield_limits


def gaussian_curve(n_hat: float, sigma: float, lo=-30.0, hi=80.0) -> ProfileCurve:
    n = np.linspace(lo, hi, 2201)
    return ProfileCurve(n, 0.5 * ((n - n_hat) / sigma) ** 2, n_hat, 0.0)


def cls_gauss_limit(n_hat, sigma, n_band=None):
    """CCGV closed form of the 90 % CLs limit for a Gaussian estimator (n_hat >= 0)."""
    if n_band is not None:
        return sigma * (norm.ppf(1 - 0.1 * norm.cdf(n_band)) + n_band)
    return n_hat + sigma * norm.ppf(1 - 0.1 * norm.cdf(n_hat / sigma))


@pytest.mark.parametrize("n_hat", [0.0, 2.0, 7.5])
def test_gaussian_profile_matches_closed_form(n_hat):
    sigma = 4.0
    res = yield_limits(gaussian_curve(n_hat, sigma), gaussian_curve(0.0, sigma), sigma_eff=0.0)
    assert res.observed == pytest.approx(cls_gauss_limit(n_hat, sigma), rel=2e-4)
    for k, n_band in enumerate((-2, -1, 0, 1, 2)):
        assert res.expected[k] == pytest.approx(cls_gauss_limit(0, sigma, n_band), rel=2e-4)
    assert res.median == pytest.approx(1.6449 * sigma, rel=1e-3)


def test_negative_fluctuation_uses_nll_at_zero():
    # For n_hat < 0, q~ is built with NLL(0): the limit is the n_hat = 0 CLs+b / CLb form.
    sigma, n_hat = 3.0, -2.0
    res = yield_limits(gaussian_curve(n_hat, sigma), gaussian_curve(0.0, sigma), sigma_eff=0.0)
    s = res.observed
    q = ((s - n_hat) / sigma) ** 2 - (n_hat / sigma) ** 2
    qa = (s / sigma) ** 2
    t = (q - qa) / (2 * np.sqrt(qa)) if np.sqrt(q) > np.sqrt(qa) else np.sqrt(q) - np.sqrt(qa)
    cls = norm.sf(t + np.sqrt(qa)) / norm.sf(t)
    assert cls == pytest.approx(0.1, rel=1e-3)
    assert s > 0


def test_efficiency_systematic_weakens_limit_and_vanishes_when_zero():
    obs, asi = gaussian_curve(1.0, 4.0), gaussian_curve(0.0, 4.0)
    base = yield_limits(obs, asi, sigma_eff=0.0)
    tiny = yield_limits(obs, asi, sigma_eff=1e-3)
    syst = yield_limits(obs, asi, sigma_eff=0.223)
    assert tiny.observed == pytest.approx(base.observed, rel=1e-3)
    assert syst.observed > base.observed * 1.01
    assert all(e > b for e, b in zip(syst.expected, base.expected))
    # Small-signal approximation: the systematic adds s*sigma_eff in quadrature, so the
    # median limit solves s = 1.645 * sqrt(sigma^2 + (0.223 s)^2) approximately.
    z = norm.ppf(0.95)
    approx = z * 4.0 / np.sqrt(1 - (z * 0.223) ** 2)
    assert syst.median == pytest.approx(approx, rel=0.05)


def test_profile_theta_is_minimum_over_theta():
    curve = gaussian_curve(5.0, 2.0)
    s0 = np.array([1.0, 6.0, 20.0])
    got = profile_theta(curve, s0, 0.2)
    th = np.linspace(0.01, 3, 300001)
    want = [np.min(curve(s * th) + (th - 1) ** 2 / (2 * 0.04)) for s in s0]
    assert np.allclose(got, want, atol=1e-6)


def test_bias_shift_equals_shifted_estimate():
    sigma = 4.0
    biased = yield_limits(gaussian_curve(3.0, sigma), gaussian_curve(0.0, sigma), bias_events=1.0,
                          sigma_eff=0.0)
    direct = yield_limits(gaussian_curve(2.0, sigma), gaussian_curve(0.0, sigma), sigma_eff=0.0)
    assert biased.observed == pytest.approx(direct.observed, rel=1e-6)
    assert biased.expected == pytest.approx(direct.expected, rel=1e-6)


def test_combination_of_two_channels_equals_pooled_gaussian():
    # Two channels, each s_j = c_j * poi, Gaussian estimates: the combination is a single
    # Gaussian estimate of poi with 1/sigma^2 = sum c_j^2/sigma_j^2.
    c = (2.0, 3.0)
    sig = (4.0, 5.0)
    n_hat = (1.0, 2.0)
    obs = [gaussian_curve(n, s) for n, s in zip(n_hat, sig)]
    asi = [gaussian_curve(0.0, s) for s in sig]
    fns = [lambda p, cj=cj: cj * np.asarray(p) for cj in c]
    res = combined_limits(obs, asi, fns, sigma_eff=0.0, poi_guess=2.0)
    w = np.array(c) ** 2 / np.array(sig) ** 2
    sigma_p = 1 / np.sqrt(w.sum())
    p_hat = np.sum(np.array(c) * np.array(n_hat) / np.array(sig) ** 2) * sigma_p**2
    assert res.observed == pytest.approx(cls_gauss_limit(p_hat, sigma_p), rel=1e-3)
    assert res.median == pytest.approx(cls_gauss_limit(0, sigma_p, 0), rel=1e-3)


def test_combined_single_channel_matches_yield_limits_with_systematic():
    obs, asi = gaussian_curve(2.0, 3.0), gaussian_curve(0.0, 3.0)
    single = yield_limits(obs, asi, sigma_eff=0.223)
    comb = combined_limits([obs], [asi], [lambda p: 4.0 * np.asarray(p)], sigma_eff=0.223,
                           poi_guess=1.0)
    assert comb.observed * 4.0 == pytest.approx(single.observed, rel=2e-3)
    assert comb.median * 4.0 == pytest.approx(single.median, rel=2e-3)


def test_profile_curve_rejects_bad_input():
    with pytest.raises(ValueError, match="increasing"):
        ProfileCurve(np.array([0.0, 2.0, 1.0]), np.zeros(3), 0.0, 0.0)
    with pytest.raises(ValueError, match="non-finite"):
        ProfileCurve(np.arange(3.0), np.array([0.0, np.nan, 1.0]), 0.0, 0.0)
