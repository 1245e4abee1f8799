"""Tests of the double-sided Crystal Ball (alpscan.fitting.dscb)."""

from __future__ import annotations


import numpy as np
import pytest
from scipy import integrate, stats

from alpscan.fitting.dscb import (
    PARAM_NAMES,
    DSCBParams,
    as_dscb_params,
    dscb_cdf,
    dscb_logpdf,
    dscb_pdf,
    dscb_sample,
    dscb_window_fraction,
    fit_dscb,
)

# (params, window) — symmetric, asymmetric widths and tails, heavy tails (n close to 1),
# a window cutting deep into a tail, and a window not containing the mode.
CASES = [
    (DSCBParams(0.135, 0.006, 0.006, 1.5, 3.0, 1.5, 3.0), (0.10, 0.17)),
    (DSCBParams(0.550, 0.015, 0.010, 0.8, 2.0, 2.5, 10.0), (0.45, 0.65)),
    (DSCBParams(2.000, 0.030, 0.020, 1.2, 1.3, 0.6, 25.0), (1.60, 2.20)),
    (DSCBParams(4.500, 0.040, 0.035, 2.0, 5.0, 1.0, 1.5), (4.49, 5.50)),  # cuts left side
    (DSCBParams(1.000, 0.010, 0.012, 1.0, 4.0, 1.0, 4.0), (1.03, 1.30)),  # tail only
]


@pytest.mark.parametrize("p, window", CASES)
def test_normalised_over_window(p, window):
    lo, hi = window
    val, _ = integrate.quad(
        lambda x: dscb_pdf(x, *p.as_tuple(), lo=lo, hi=hi),
        lo,
        hi,
        points=[p.mu, p.mu - p.alpha_l * p.sigma_l, p.mu + p.alpha_r * p.sigma_r],
        epsabs=1e-12,
        epsrel=1e-12,
        limit=500,
    )
    assert val == pytest.approx(1.0, abs=1e-6)
    # Zero outside the window.
    assert dscb_pdf(np.array([lo - 1e-3, hi + 1e-3]), *p.as_tuple(), lo=lo, hi=hi).tolist() == [
        0.0,
        0.0,
    ]


@pytest.mark.parametrize("p, window", CASES)
def test_untruncated_normalisation_and_cdf(p, window):
    """The window fraction equals the integral of the untruncated pdf over the window,
    and the truncated cdf is the integral of the truncated pdf."""
    lo, hi = window
    brk = [p.mu, p.mu - p.alpha_l * p.sigma_l, p.mu + p.alpha_r * p.sigma_r]
    frac, _ = integrate.quad(
        lambda x: dscb_pdf(x, *p.as_tuple()), lo, hi, points=brk, epsabs=1e-13, limit=500
    )
    assert dscb_window_fraction(p, lo, hi) == pytest.approx(frac, rel=1e-6, abs=1e-10)
    x = lo + 0.37 * (hi - lo)
    part, _ = integrate.quad(
        lambda t: dscb_pdf(t, *p.as_tuple(), lo=lo, hi=hi),
        lo,
        x,
        points=[b for b in brk if lo < b < x] or None,
        epsabs=1e-12,
        limit=500,
    )
    assert float(dscb_cdf(x, *p.as_tuple(), lo=lo, hi=hi)) == pytest.approx(part, abs=1e-6)
    # Total mass of the untruncated density over a very wide range (heavy tails aside).
    if min(p.n_l, p.n_r) > 2.5:
        tot, _ = integrate.quad(
            lambda x: dscb_pdf(x, *p.as_tuple()), p.mu - 3, p.mu + 3, points=brk, limit=500
        )
        assert tot == pytest.approx(1.0, abs=2e-4)


@pytest.mark.parametrize("p, _window", CASES)
def test_continuity_at_tail_junctions(p, _window):
    """Value and slope are continuous at mu - alpha_l·sigma_l, mu, mu + alpha_r·sigma_r."""
    args = p.as_tuple()
    for x0 in (p.mu - p.alpha_l * p.sigma_l, p.mu, p.mu + p.alpha_r * p.sigma_r):
        eps = 1e-9 * max(p.sigma_l, p.sigma_r) / 1e-3
        left, right = dscb_pdf(np.array([x0 - eps, x0 + eps]), *args)
        assert left == pytest.approx(right, rel=1e-5)
        h = 1e-4 * min(p.sigma_l, p.sigma_r)
        f = dscb_pdf(np.array([x0 - 2 * h, x0 - h, x0, x0 + h, x0 + 2 * h]), *args)
        slope_left = (f[2] - f[1]) / h
        slope_right = (f[3] - f[2]) / h
        scale = f[2] / min(p.sigma_l, p.sigma_r)
        assert abs(slope_left - slope_right) < 2e-3 * scale


def test_gaussian_core_shape():
    """Inside the core the shape is a Gaussian with the side-dependent width."""
    p = DSCBParams(1.0, 0.01, 0.02, 2.0, 3.0, 2.0, 3.0)
    x = np.array([1.0 - 0.01, 1.0, 1.0 + 0.02])
    f = dscb_pdf(x, *p.as_tuple())
    assert f[0] / f[1] == pytest.approx(np.exp(-0.5), rel=1e-12)
    assert f[2] / f[1] == pytest.approx(np.exp(-0.5), rel=1e-12)
    assert np.allclose(np.log(f), dscb_logpdf(x, *p.as_tuple()))


def test_invalid_parameters_raise():
    with pytest.raises(ValueError):
        dscb_pdf(1.0, 1.0, -0.01, 0.01, 1.0, 3.0, 1.0, 3.0)
    with pytest.raises(ValueError):
        dscb_pdf(1.0, 1.0, 0.01, 0.01, 1.0, 1.0, 1.0, 3.0)  # n must exceed 1
    assert not DSCBParams(1.0, 0.01, 0.01, 1.0, 0.9, 1.0, 3.0).is_valid()


def test_as_dscb_params_roundtrip():
    p = DSCBParams(0.5, 0.01, 0.012, 1.1, 3.0, 2.0, 5.0)
    assert as_dscb_params(p.to_dict()) == p
    assert as_dscb_params(list(p.as_tuple())) == p
    assert as_dscb_params({**p.to_dict(), "extra": 1.0}) == p
    with pytest.raises(ValueError):
        as_dscb_params([1.0, 2.0])


@pytest.mark.parametrize("p, window", [CASES[1], CASES[3]])
def test_sample_matches_pdf(p, window):
    lo, hi = window
    rng = np.random.default_rng(12345)
    x = dscb_sample(rng, 50_000, p, lo, hi)
    assert x.shape == (50_000,)
    assert np.all((x >= lo) & (x <= hi))
    ks = stats.kstest(x, lambda t: dscb_cdf(t, *p.as_tuple(), lo=lo, hi=hi))
    assert ks.pvalue > 1e-3
    # Binned chi2 against the pdf integrated via the cdf.
    edges = np.linspace(lo, hi, 41)
    counts, _ = np.histogram(x, edges)
    expected = x.size * np.diff(dscb_cdf(edges, *p.as_tuple(), lo=lo, hi=hi))
    ok = expected > 5
    chi2 = np.sum((counts[ok] - expected[ok]) ** 2 / expected[ok])
    assert stats.chi2.sf(chi2, ok.sum() - 1) > 1e-3


def test_sample_detects_wrong_shape():
    """Sanity check of the statistical test itself: a different shape is rejected."""
    p, (lo, hi) = CASES[1]
    rng = np.random.default_rng(7)
    x = dscb_sample(rng, 50_000, p, lo, hi)
    q = DSCBParams(p.mu, p.sigma_l * 1.05, p.sigma_r, p.alpha_l, p.n_l, p.alpha_r, p.n_r)
    ks = stats.kstest(x, lambda t: dscb_cdf(t, *q.as_tuple(), lo=lo, hi=hi))
    assert ks.pvalue < 1e-3


def test_fit_recovers_parameters():
    truth = DSCBParams(0.550, 0.015, 0.011, 1.1, 3.0, 1.8, 6.0)
    rng = np.random.default_rng(2024)
    x = dscb_sample(rng, 10_000, truth)
    fit = fit_dscb(x)
    assert fit.valid
    assert fit.n_attempts >= 1
    assert fit.n_events == 10_000
    for k in ("mu", "sigma_l", "sigma_r"):
        pull = (fit.values[k] - getattr(truth, k)) / fit.errors[k]
        assert abs(pull) < 3.0, (k, pull)
        # Errors are sensible (not tiny, not huge): within 0.1–2 % of the width scale.
        assert 1e-5 < fit.errors[k] < 2e-3
    assert fit.params == DSCBParams(**fit.values)
    assert np.isfinite(fit.nll)
    # The fit NLL is at least as good as the NLL at the true parameters.
    nll_truth = -np.sum(dscb_logpdf(x, *truth.as_tuple()))
    assert fit.nll <= nll_truth + 1e-6


def test_fit_in_window_recovers_parameters():
    truth = DSCBParams(2.0, 0.030, 0.022, 1.0, 3.0, 1.5, 5.0)
    lo, hi = 1.75, 2.25
    rng = np.random.default_rng(99)
    x = dscb_sample(rng, 10_000, truth, lo, hi)
    fit = fit_dscb(np.concatenate([x, [1.0, 3.0]]), lo=lo, hi=hi)  # outside: ignored
    assert fit.valid and fit.n_events == 10_000
    for k in ("mu", "sigma_l", "sigma_r"):
        assert abs(fit.values[k] - getattr(truth, k)) < 3.0 * fit.errors[k], k


@pytest.mark.parametrize(
    "mu, sig_l, sig_r, n",
    [
        (0.135, 0.007, 0.005, 2_000),
        (0.135, 0.007, 0.005, 20_000),
        (1.5, 0.020, 0.015, 5_000),
        (4.5, 0.040, 0.030, 2_000),
        (4.5, 0.040, 0.030, 20_000),
    ],
)
def test_fit_range(mu, sig_l, sig_r, n):
    truth = DSCBParams(mu, sig_l, sig_r, 1.2, 3.0, 1.6, 8.0)
    rng = np.random.default_rng(int(mu * 1000) + n)
    x = dscb_sample(rng, n, truth)
    fit = fit_dscb(x)
    assert fit.valid
    assert abs(fit.values["mu"] - mu) < 5 * fit.errors["mu"]
    # within 4 statistical errors (2-13 % here with the tails free), not a fixed 25 %
    for k, truth_val in (("sigma_l", sig_l), ("sigma_r", sig_r)):
        assert abs(fit.values[k] - truth_val) < 4 * fit.errors[k], k
        assert 0 < fit.errors[k] * np.sqrt(n / 2000) < 0.15 * truth_val, k


def test_weighted_fit_sumw2_errors():
    """Constant weights w: same values, and the SumW2-corrected errors equal the
    unweighted ones (an uncorrected weighted NLL would give errors / sqrt(w))."""
    truth = DSCBParams(1.0, 0.012, 0.010, 1.3, 3.0, 1.8, 6.0)
    rng = np.random.default_rng(5)
    x = dscb_sample(rng, 8_000, truth)
    plain = fit_dscb(x)
    weighted = fit_dscb(x, weights=np.full(x.size, 4.0))
    assert plain.valid and weighted.valid and weighted.weighted
    assert weighted.sum_weights == pytest.approx(4.0 * x.size)
    for k in PARAM_NAMES[:3]:
        assert weighted.values[k] == pytest.approx(plain.values[k], abs=0.05 * plain.errors[k])
        assert weighted.errors[k] == pytest.approx(plain.errors[k], rel=0.05)


def test_weighted_fit_variable_weights():
    truth = DSCBParams(1.0, 0.012, 0.010, 1.3, 3.0, 1.8, 6.0)
    rng = np.random.default_rng(6)
    x = dscb_sample(rng, 8_000, truth)
    w = rng.uniform(0.2, 1.8, x.size)
    plain = fit_dscb(x)
    weighted = fit_dscb(x, weights=w)
    assert weighted.valid
    # Expected error inflation sqrt(<w²>/<w>²) ≈ 1.12 for U(0.2, 1.8).
    infl = np.sqrt(np.mean(w**2)) / np.mean(w)
    for k in ("mu", "sigma_l", "sigma_r"):
        assert abs(weighted.values[k] - truth.to_dict()[k]) < 3.5 * weighted.errors[k]
        assert weighted.errors[k] / plain.errors[k] == pytest.approx(infl, rel=0.15)


def test_failed_fit_is_flagged_not_raised():
    fit = fit_dscb(np.array([1.0, 1.0, 1.0]))
    assert not fit.valid
    assert np.isnan(fit.values["mu"])
    fit = fit_dscb(np.full(1000, 0.5))  # degenerate: zero width
    assert not fit.valid
    fit = fit_dscb(np.random.default_rng(1).normal(1.0, 0.01, 100), lo=2.0, hi=3.0)
    assert not fit.valid and fit.n_events == 0


@pytest.mark.parametrize("p", [CASES[1][0], CASES[2][0], CASES[3][0]])
def test_tails_by_hand(p):
    """Shape relative to the mode from the formula, written out: core exp(−z²/2), left
    tail A_l (B_l − z)^(−n_l) with z = (x − μ)/σ_l, A_l = (n_l/α_l)^n_l e^(−α_l²/2),
    B_l = n_l/α_l − α_l; the right tail the mirror image with σ_r, α_r, n_r (issue 20:
    swapping n_l and n_r was not caught here).  The cases have n_l ≠ n_r."""
    args = p.as_tuple()

    def rel(x):
        return float(dscb_pdf(x, *args)) / float(dscb_pdf(p.mu, *args))

    def tail(t, alpha, n):  # t = |z| > alpha
        a = (n / alpha) ** n * np.exp(-0.5 * alpha**2)
        return a * (n / alpha - alpha + t) ** (-n)

    for t in (0.5 * p.alpha_l, p.alpha_l + 0.5, p.alpha_l + 3.0, p.alpha_l + 10.0):
        want = np.exp(-0.5 * t * t) if t <= p.alpha_l else tail(t, p.alpha_l, p.n_l)
        assert rel(p.mu - t * p.sigma_l) == pytest.approx(want, rel=1e-9), ("left", t)
    for t in (0.5 * p.alpha_r, p.alpha_r + 0.5, p.alpha_r + 3.0, p.alpha_r + 10.0):
        want = np.exp(-0.5 * t * t) if t <= p.alpha_r else tail(t, p.alpha_r, p.n_r)
        assert rel(p.mu + t * p.sigma_r) == pytest.approx(want, rel=1e-9), ("right", t)
