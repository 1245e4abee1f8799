"""Tests of the toy-based CLs of one scan point (alpscan.stats.toy_cls)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import integrate, stats

import alpscan.stats.toy_cls as toy_cls
from alpscan.fitting.toys import asimov_data, fit_dataset
from alpscan.fitting.window_model import WindowModel
from alpscan.stats.limits import profile_curve, yield_limits
from alpscan.stats.toy_cls import toy_cls_scan, toy_upper_limit

from .oracles.window import sample_window
from .windows import HI, LO, SIG

MODEL = WindowModel(LO, HI, SIG)
POLY = (-0.2, 0.05)
SIGMA_EFF = 0.223
N_EMPTY = 2000  # toys of the background-free window (toy stat. of the limit ≈ 0.07)


def _binomial_sigma(p, n):
    return np.sqrt(np.clip(p * (1.0 - p), 1e-4, None) / n)


def _theta_average(s, sigma_eff):
    """E[exp(−s·θ)] for θ ~ N(1, σ_ε) truncated to θ > 0 (hybrid P(no signal event))."""
    if sigma_eff == 0:
        return np.exp(-s)
    pdf = stats.truncnorm(-1.0 / sigma_eff, np.inf, loc=1.0, scale=sigma_eff).pdf
    return integrate.quad(lambda th: np.exp(-s * th) * pdf(th), 0.0, 1.0 + 12 * sigma_eff)[0]


def _exact_empty_window_cls(scan, sigma_eff):
    """CLs of the background-free window with no observed event, for this generator.

    The data have no event, so q̃_s is largest for a toy without events and CLs+b is
    P(0 events | s+b), CLb = 1 (b-only toys are empty).  The conditional fit at n_sig = s
    of the empty window has a slightly negative background integral (its quadratic dips
    under the peak within the positivity barrier), ν_s = s − ~0.06, so
    CLs(s) = exp(−(ν_s − s))·E[exp(−sθ)], which for σ_ε = 0 is exp(−ν_s).
    """
    nu = np.array([MODEL.expected(th) for th in scan.theta_cond])
    avg = np.array([_theta_average(s, sigma_eff) for s in scan.s_values])
    return np.exp(-(nu - scan.s_values)) * avg


def _crossing_of(s, cls, alpha=0.1):
    """Limit from an exact CLs tabulated at s (ln CLs interpolated, monotone)."""
    return float(np.interp(np.log(alpha), np.log(cls[::-1]), s[::-1]))


@pytest.fixture(scope="module")
def empty_limits():
    """Toy limits of a window without observed events, σ_ε = 0 and 0.223, same seed."""
    none = np.empty(0)
    l0 = toy_upper_limit(MODEL, none, sigma_eff=0.0, n_toys=N_EMPTY, rng=2024)
    l1 = toy_upper_limit(MODEL, none, sigma_eff=SIGMA_EFF, n_toys=N_EMPTY, rng=2024)
    return l0, l1


# ---------------------------------------------------------------------------------------
# Background-free window: the textbook n = 0, b = 0 limit
# ---------------------------------------------------------------------------------------
def test_background_free_limit_is_2p30(empty_limits):
    lim, _ = empty_limits
    scan = lim.scan
    assert lim.n_failed_toys == 0 and np.all(scan.n_failed_toys == 0)
    assert np.all(scan.events_b == 0)  # b-only toys of an empty null fit are empty
    assert np.all(scan.clb == 1.0)
    assert np.all(scan.n_ok_sb == N_EMPTY)
    # CLs+b = P(no event | s): the fraction of empty s+b toys, exactly.
    np.testing.assert_array_equal(scan.clsb, np.mean(scan.events_sb == 0, axis=1))
    exact = _exact_empty_window_cls(scan, 0.0)
    assert np.all(np.abs(scan.cls - exact) < 4 * _binomial_sigma(exact, N_EMPTY))
    # Limit: 2.30 events within toy statistics (σ ≈ 0.07) plus the ~0.06-event offset of
    # the conditional fit's background (see _exact_empty_window_cls).
    s_exact = _crossing_of(scan.s_values, exact)
    assert s_exact == pytest.approx(-np.log(0.1), abs=0.08)
    sigma = np.sqrt(0.9 / (0.1 * N_EMPTY))  # δCLs/CLs at CLs = 0.1, d ln CLs/ds = −1
    assert lim.limit == pytest.approx(s_exact, abs=3 * sigma)
    assert lim.limit == pytest.approx(2.303, abs=0.2)
    assert 0.5 * sigma < lim.limit_err < 2 * sigma
    assert lim.bracket[0] <= lim.limit <= lim.bracket[1] and lim.n_crossings == 1
    assert lim.cl == 0.9 and lim.n_toys == N_EMPTY and lim.sigma_eff == 0.0


def test_efficiency_nuisance_widens_the_limit(empty_limits):
    l0, l1 = empty_limits
    assert l1.n_failed_toys == 0
    assert l1.limit > l0.limit + 0.05
    # Hybrid generation (thinning / superposed signal) reproduces E[exp(−sθ)].
    scan = l1.scan
    exact = _exact_empty_window_cls(scan, SIGMA_EFF)
    assert np.all(np.abs(scan.cls - exact) < 4 * _binomial_sigma(exact, N_EMPTY))
    s_exact = _crossing_of(scan.s_values, exact)
    assert s_exact > _crossing_of(l0.scan.s_values, _exact_empty_window_cls(l0.scan, 0.0)) + 0.1
    assert l1.limit == pytest.approx(s_exact, abs=3 * np.sqrt(0.9 / (0.1 * N_EMPTY)))


# ---------------------------------------------------------------------------------------
# Large background: toys agree with the asymptotic formulae
# ---------------------------------------------------------------------------------------
def test_large_background_agrees_with_asymptotic_limit():
    x = sample_window(np.random.default_rng(77), 20.0, 1000.0, POLY, SIG, (), LO, HI)
    assert 900 < x.size < 1100
    null = fit_dataset(MODEL, x)[1]
    xa, wa = asimov_data(MODEL, null.theta[0])
    asym = yield_limits(profile_curve(MODEL, x), profile_curve(MODEL, xa, wa), bias_events=0.0,
                        sigma_eff=0.0).observed
    lim = toy_upper_limit(MODEL, x, sigma_eff=0.0, n_toys=2000, rng=11)  # σ_toy ≈ 2.5 %
    assert lim.guess_source == "asymptotic" and lim.s_guess == pytest.approx(asym, rel=1e-6)
    assert lim.limit == pytest.approx(asym, rel=0.10)
    assert lim.limit_err < 0.03 * lim.limit  # toy statistics well below the tolerance
    assert lim.n_failed_toys <= 0.005 * 2 * lim.n_toys * lim.scan.s_values.size
    assert lim.n_crossings == 1
    # Expected bands from the same toys: ordered, probabilities.
    band = lim.scan.expected_cls()
    assert band.shape == (lim.scan.s_values.size, 5)
    assert np.all((band >= 0) & (band <= 1))
    assert np.all(band[:, 4] >= band[:, 0])


# ---------------------------------------------------------------------------------------
# Reproducibility, common random numbers, monotonicity
# ---------------------------------------------------------------------------------------
def _small_window_data():
    return sample_window(np.random.default_rng(5), 8.0, 300.0, POLY, SIG, (), LO, HI)


def _same(a, b):
    for f in dataclasses.fields(a):
        va, vb = getattr(a, f.name), getattr(b, f.name)
        if isinstance(va, np.ndarray):
            assert np.array_equal(va, vb, equal_nan=True), f.name
        else:
            assert va == vb or (va != va and vb != vb), f.name


def test_same_seed_same_result_and_monotone_cls():
    x = _small_window_data()
    s = np.linspace(4.0, 60.0, 6)
    kw = dict(sigma_eff=SIGMA_EFF, n_toys=400)
    a = toy_cls_scan(MODEL, x, s, rng=5, **kw)
    b = toy_cls_scan(MODEL, x, s, rng=5, **kw)
    _same(a, b)
    c = toy_cls_scan(MODEL, x, s, rng=6, **kw)
    assert not np.array_equal(a.q_sb, c.q_sb, equal_nan=True)
    # The toys of a smaller n_toys are the first toys of a larger one.
    few = toy_cls_scan(MODEL, x, s, rng=5, sigma_eff=SIGMA_EFF, n_toys=150)
    assert np.array_equal(few.q_sb, a.q_sb[:, :150], equal_nan=True)
    assert np.array_equal(few.events_b, a.events_b[:, :150])
    # Common random numbers: the result at one s does not depend on the other s scanned.
    one = toy_cls_scan(MODEL, x, s[3:4], rng=5, **kw)
    assert one.cls[0] == a.cls[0 + 3] and np.array_equal(one.q_sb[0], a.q_sb[3], equal_nan=True)
    assert np.array_equal(one.q_b[0], a.q_b[3], equal_nan=True)
    # CLs falls with s (nearly monotone: common random numbers).
    assert a.cls[0] > 0.5 and a.cls[-1] < 0.05
    assert np.all(np.diff(a.cls) <= 0.01)
    assert a.total_failed == 0
    # Toy limits: same seed → identical.
    la = toy_upper_limit(MODEL, x, sigma_eff=SIGMA_EFF, n_toys=200, rng=9, n_points=6)
    lb = toy_upper_limit(MODEL, x, sigma_eff=SIGMA_EFF, n_toys=200, rng=9, n_points=6)
    assert la.limit == lb.limit and np.isfinite(la.limit)
    _same(la.scan, lb.scan)


# ---------------------------------------------------------------------------------------
# Failed fits, vectorisation, input checks
# ---------------------------------------------------------------------------------------
def test_failed_toy_fits_are_counted_and_excluded(monkeypatch):
    """Free fits of one-event datasets made to fail: those toys are excluded."""
    ref = toy_cls_scan(MODEL, np.empty(0), [2.0], sigma_eff=0.0, n_toys=1000, rng=3)
    real = toy_cls.fit_batch

    def failing(model, basis, offsets, *args, n_sig_fixed=None, **kw):
        fit = real(model, basis, offsets, *args, n_sig_fixed=n_sig_fixed, **kw)
        free = np.ones(len(fit), bool) if n_sig_fixed is None else np.isnan(n_sig_fixed)
        bad = (np.diff(offsets) == 1) & free
        return dataclasses.replace(fit, converged=fit.converged & ~bad)

    monkeypatch.setattr(toy_cls, "fit_batch", failing)
    scan = toy_cls_scan(MODEL, np.empty(0), [2.0], sigma_eff=0.0, n_toys=1000, rng=3)
    one = scan.events_sb[0] == 1
    assert np.array_equal(scan.events_sb, ref.events_sb)
    assert 150 < one.sum() < 400  # ≈ 2e⁻² of the toys
    assert scan.n_failed_sb[0] == one.sum() and scan.n_failed_b[0] == 0
    assert scan.n_failed_toys[0] == one.sum() == scan.total_failed
    assert np.all(np.isnan(scan.q_sb[0, one])) and np.all(np.isfinite(scan.q_sb[0, ~one]))
    np.testing.assert_array_equal(scan.q_sb[0, ~one], ref.q_sb[0, ~one])
    n0 = np.sum(scan.events_sb[0] == 0)
    assert scan.n_ok_sb[0] == 1000 - one.sum()
    assert scan.clsb[0] == pytest.approx(n0 / (1000 - one.sum()), rel=1e-12)
    assert scan.clsb[0] > ref.clsb[0]  # the failed toys are not counted as "less extreme"


def test_fits_are_batched_over_toys(monkeypatch):
    """The number of fit_batch calls does not grow with the number of toys (one chunk)."""
    x = _small_window_data()
    real = toy_cls.fit_batch
    calls = []

    def counting(*args, **kw):
        calls.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(toy_cls, "fit_batch", counting)
    counts = []
    for n in (20, 240):
        calls.clear()
        scan = toy_cls_scan(MODEL, x, [10.0, 30.0], sigma_eff=SIGMA_EFF, n_toys=n, rng=1)
        assert scan.total_failed == 0
        counts.append(len(calls))
    assert max(counts) <= 16  # (3 observed + ≤ 3 fits per hypothesis and s, + retries)


def test_invalid_arguments():
    with pytest.raises(ValueError):
        toy_cls_scan(MODEL, np.empty(0), [0.0, 1.0], n_toys=10, rng=1)
    with pytest.raises(ValueError):
        toy_cls_scan(MODEL, np.empty(0), [np.nan], n_toys=10, rng=1)
    with pytest.raises(ValueError):
        toy_cls_scan(MODEL, np.empty(0), [1.0], n_toys=0, rng=1)
    with pytest.raises(ValueError):
        toy_cls_scan(MODEL, np.empty(0), [1.0], sigma_eff=-0.1, n_toys=10, rng=1)
    with pytest.raises(ValueError):
        toy_upper_limit(MODEL, np.empty(0), cl=1.0, n_toys=10, rng=1)
