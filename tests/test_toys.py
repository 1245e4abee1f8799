"""Tests of toy generation, toy studies, profile likelihoods and Asimov data
(alpscan.fitting.toys)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from alpscan.fitting.batched import fit_batch
from alpscan.fitting.toys import (
    asimov_data,
    fit_dataset,
    generation_theta,
    profile_nll,
    sample_toys,
    sampling_table,
    toy_study,
)
from alpscan.fitting.window_fit import fit_window
from alpscan.fitting.window_model import WindowModel, YieldConstraint

from .oracles.window import sample_window
from .windows import ETA, ETAC, HI, LO, PHI, PLO, PSIG, SIG

MODEL = WindowModel(LO, HI, SIG)
THETA = MODEL.from_public([30.0, 1500.0, -0.2, 0.05])

PMODEL = WindowModel(PLO, PHI, PSIG, (ETA, ETAC), (YieldConstraint("etac", 40.0, 8.0),))
PTHETA = PMODEL.from_public([30.0, 1500.0, -0.3, 0.05, 300.0, 40.0])


# ---------------------------------------------------------------------------------------
# Sampling
# ---------------------------------------------------------------------------------------
def test_same_seed_same_toys():
    a = sample_toys(np.random.default_rng(7), MODEL, THETA, 50)
    b = sample_toys(np.random.default_rng(7), MODEL, THETA, 50)
    c = sample_toys(np.random.default_rng(8), MODEL, THETA, 50)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])
    s1 = toy_study(np.random.default_rng(3), MODEL, THETA, 30, batch_size=7)
    s2 = toy_study(np.random.default_rng(3), MODEL, THETA, 30, batch_size=7)
    assert np.array_equal(s1.n_fit, s2.n_fit)


def test_toy_sizes_are_poisson():
    theta = THETA * (50.0 / MODEL.expected(THETA))
    x, off = sample_toys(np.random.default_rng(11), MODEL, theta, 20000)
    sizes = np.diff(off)
    assert off[0] == 0 and off[-1] == x.size and sizes.size == 20000
    assert sizes.mean() == pytest.approx(50.0, abs=4 * np.sqrt(50.0 / 20000))
    assert sizes.var(ddof=1) == pytest.approx(50.0, rel=0.05)  # Poisson: variance = mean
    assert np.all((x >= LO) & (x <= HI))


@pytest.mark.parametrize(
    "model, theta",
    [
        (MODEL, THETA),
        (MODEL, MODEL.from_public([-40.0, 1500.0, -0.2, 0.05])),  # dip: negative n_sig
        (PMODEL, PTHETA),
    ],
)
def test_sampled_masses_follow_the_density(model, theta):
    """KS test against the model cdf and a binned χ² fine enough to resolve the peaks."""
    theta = theta * (4e5 / model.expected(theta))
    x, _ = sample_toys(np.random.default_rng(12), model, theta, 1)
    assert x.size == pytest.approx(4e5, abs=5 * np.sqrt(4e5))
    ks = stats.kstest(x, lambda v: model.cdf(theta, v))
    assert ks.pvalue > 1e-3
    edges = np.linspace(model.lo, model.hi, 201)  # bins ~ σ/10 wide
    counts, _ = np.histogram(x, edges)
    expect = x.size * np.diff(model.cdf(theta, edges))
    chi2 = float(np.sum((counts - expect) ** 2 / expect))
    assert chi2 < 200 + 5 * np.sqrt(400)


def test_sampling_rejects_negative_density():
    with pytest.raises(ValueError):
        sample_toys(np.random.default_rng(1), MODEL, MODEL.from_public([-2000.0, 100.0, 0, 0]), 3)
    with pytest.raises(ValueError):
        sampling_table(MODEL, THETA[:3])


def test_sampling_table_is_exact_cell_probability():
    table = sampling_table(MODEL, THETA, n_cells=64)
    exact = np.diff(MODEL.cdf(THETA, table.edges))
    np.testing.assert_allclose(np.diff(table.cum), exact, atol=1e-14)
    assert table.nu == pytest.approx(MODEL.expected(THETA))


# ---------------------------------------------------------------------------------------
# Toy study
# ---------------------------------------------------------------------------------------
def test_toy_study_bias_and_pulls():
    """≥ 1000 toys of a well-populated window (1500 background + 30 signal events)."""
    study = toy_study(np.random.default_rng(20250701), MODEL, THETA, 3000, batch_size=1000)
    assert study.n_toys == 3000 and study.n_failed == 0 and study.converged.all()
    assert study.n_gen == pytest.approx(30.0)
    assert abs(study.bias) < 0.1
    assert abs(study.pull_mean) < 0.1
    assert abs(study.pull_width - 1.0) < 0.1
    # σ_Sig agrees with the typical parabolic error.
    assert study.sigma_sig == pytest.approx(np.median(study.n_fit_err), rel=0.06)
    # The definitions, recomputed by hand.
    dev = study.n_fit - 30.0
    assert study.sigma_sig == pytest.approx(np.std(study.n_fit, ddof=1))
    assert study.bias == pytest.approx(dev.mean() / study.sigma_sig)
    assert study.pull_width == pytest.approx(np.std(dev / study.n_fit_err, ddof=1))
    assert study.corrected_yield(10.0) == pytest.approx(10.0 - study.bias * study.sigma_sig)
    assert study.n_events.mean() == pytest.approx(1530.0, abs=5.0)


def test_toy_study_fits_match_fit_window():
    """The toy fits are fit_window's fits (a few toys refitted with iminuit)."""
    rng = np.random.default_rng(4)
    x, off = sample_toys(rng, PMODEL, PTHETA, 4)
    res = fit_batch(PMODEL, PMODEL.basis(x), off)
    for b in range(4):
        xb = x[off[b] : off[b + 1]]
        ref = fit_window(
            xb, PLO, PHI, PSIG, peaking=(ETA, ETAC), constraints=PMODEL.constraints,
            minos=False, migrad_tol=1e-7,
        )
        assert ref.valid and res.converged[b]
        tol = 1e-4 * max(abs(ref.n_sig), ref.n_sig_err)
        assert res.n_sig[b] == pytest.approx(ref.n_sig, abs=tol)
        assert res.nll[b] == pytest.approx(ref.nll, abs=1e-5)


def test_toy_study_from_a_fit_at_the_positivity_boundary():
    """A data fit at the positivity boundary (strongly negative n_sig) is a valid
    generator: λ >= 0 up to marginal dips between grid points."""
    rng = np.random.default_rng(10)
    x = sample_window(rng, 0.0, 400.0, (-0.2, 0.05), SIG, (), LO, HI)
    x = x[np.abs(x - SIG.mu) > 2.0 * SIG.sigma_r]
    free, _ = fit_dataset(MODEL, x)
    assert free.converged[0] and free.at_boundary[0] and free.n_sig[0] < 0
    study = toy_study(np.random.default_rng(1), MODEL, free.theta[0], 200)
    assert study.n_ok == 200 - study.n_failed and study.n_failed <= 2
    assert study.n_gen == pytest.approx(free.n_sig[0])
    assert np.isfinite(study.bias) and np.isfinite(study.sigma_sig)


def test_generation_theta_is_the_fit_with_a_non_negative_signal_yield():
    rng = np.random.default_rng(5)
    up = sample_window(rng, 80.0, 1500.0, (-0.2, 0.05), SIG, (), LO, HI)
    free, _ = fit_dataset(MODEL, up)
    gen = generation_theta(MODEL, up)
    assert free.n_sig[0] > 0 and not gen.clipped
    np.testing.assert_array_equal(gen.theta, free.theta[0])
    assert gen.n_fit_data == free.n_sig[0]
    # A dip under the peak: negative fitted yield -> the n_sig = 0 fit of the same data.
    x = sample_window(rng, 0.0, 400.0, (-0.2, 0.05), SIG, (), LO, HI)
    x = x[np.abs(x - SIG.mu) > 2.0 * SIG.sigma_r]
    free, null = fit_dataset(MODEL, x)
    gen = generation_theta(MODEL, x)
    assert free.n_sig[0] < 0 and gen.clipped and gen.n_fit_data == free.n_sig[0]
    assert gen.theta[0] == 0.0
    np.testing.assert_allclose(gen.theta, null.theta[0], rtol=0, atol=1e-12)
    # Not the free fit with n_sig zeroed: its background was raised under the dip.
    zeroed = free.theta[0].copy()
    zeroed[0] = 0.0
    assert MODEL.expected(zeroed) > MODEL.expected(gen.theta) + 0.5 * abs(free.n_sig[0])
    # Empty window: the exact empty fit, nothing to clip.
    empty = generation_theta(MODEL, np.empty(0))
    assert not empty.clipped and np.all(empty.theta == 0.0)


def test_toys_of_a_negative_fit_are_unbiased_with_the_generation_rule():
    """A window whose fit has a strongly negative yield at the positivity edge (issue 19).

    Toys generated at that fit (the density at 0 under the peak) come back high: fits of
    downward fluctuations stop at the edge.  Generated at max(N, 0) they are unbiased
    (2000 toys: bias precision 0.022)."""
    rng = np.random.default_rng(10)
    x = sample_window(rng, 0.0, 400.0, (-0.2, 0.05), SIG, (), LO, HI)
    x = x[np.abs(x - SIG.mu) > 2.0 * SIG.sigma_r]
    free, _ = fit_dataset(MODEL, x)
    assert free.at_boundary[0] and free.n_sig[0] < -5 * free.n_sig_err[0]
    at_edge = toy_study(np.random.default_rng(1), MODEL, free.theta[0], 2000)
    assert at_edge.bias > 0.1 and at_edge.at_boundary.mean() > 0.3
    gen = generation_theta(MODEL, x)
    study = toy_study(np.random.default_rng(1), MODEL, gen.theta, 2000)
    assert study.n_gen == 0.0 and study.n_failed == 0
    assert abs(study.bias) < 0.08 and abs(study.pull_mean) < 0.12
    assert study.at_boundary.mean() < 0.01


def test_toy_study_of_an_empty_window():
    study = toy_study(np.random.default_rng(2), MODEL, np.zeros(4), 40)
    assert study.n_failed == 0 and np.all(study.n_events == 0)
    assert np.all(study.n_fit == 0.0)
    assert study.sigma_sig == 0.0 and study.bias == 0.0
    assert study.pulls.size == 0 and np.isnan(study.pull_width)
    x, off = sample_toys(np.random.default_rng(2), MODEL, np.zeros(4), 5)
    assert x.size == 0 and np.all(off == 0)


# ---------------------------------------------------------------------------------------
# Profile likelihood, free / null fit
# ---------------------------------------------------------------------------------------
def test_profile_nll():
    rng = np.random.default_rng(31)
    x = sample_window(rng, 60.0, 1500.0, (-0.2, 0.05), SIG, (), LO, HI)
    free, null = fit_dataset(MODEL, x)
    assert free.converged[0] and null.converged[0]
    n_hat, sig = free.n_sig[0], free.n_sig_err[0]
    grid = np.array([n_hat, 0.0, n_hat - sig, n_hat + sig, *np.linspace(-50.0, 150.0, 21)])
    prof = profile_nll(MODEL, x, grid)
    assert np.all(np.isfinite(prof))
    assert prof[0] == pytest.approx(free.nll[0], abs=1e-8)
    assert prof[1] == pytest.approx(null.nll[0], abs=1e-8)
    assert np.all(prof >= free.nll[0] - 1e-9)
    # Near-parabolic likelihood: ±1σ costs ½ unit of -ln L (Hesse error of n_sig).
    assert prof[2] - prof[0] == pytest.approx(0.5, rel=0.1)
    assert prof[3] - prof[0] == pytest.approx(0.5, rel=0.1)
    # Convex in n_sig on the grid (profile of a convex function).
    on_grid = prof[4:]
    assert np.all(np.diff(on_grid, 2) > -1e-7)
    # Against fit_window: null fit and significance.
    ref_free = fit_window(x, LO, HI, SIG, minos=False, migrad_tol=1e-7)
    ref_null = fit_window(x, LO, HI, SIG, fix_signal_zero=True, minos=False, migrad_tol=1e-7)
    assert prof[1] - prof[0] == pytest.approx(ref_null.nll - ref_free.nll, abs=2e-5)


def test_profile_and_fits_of_an_empty_dataset():
    free, null = fit_dataset(MODEL, np.empty(0))
    assert free.converged[0] and null.converged[0]
    assert np.all(free.theta == 0.0) and free.nll[0] == 0.0 and null.nll[0] == 0.0
    prof = profile_nll(MODEL, np.empty(0), [0.0, 5.0])
    assert prof[0] == 0.0 and 4.0 < prof[1] < 5.5  # ≈ the 5 expected signal events


# ---------------------------------------------------------------------------------------
# Asimov data
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "model, theta",
    [
        (MODEL, THETA),
        (MODEL, MODEL.from_public([0.0, 1500.0, -0.2, 0.05])),  # background only
        (PMODEL, PTHETA),
    ],
)
def test_asimov_fit_returns_theta(model, theta):
    centres, counts = asimov_data(model, theta, n_bins=2000)
    assert centres.size == 2000 and np.all(counts >= 0)
    assert counts.sum() == pytest.approx(model.expected(theta), rel=1e-10)
    free, null = fit_dataset(model, centres, counts)
    assert free.converged[0]
    err = np.sqrt(np.diagonal(free.covariance[0]))
    # Up to the midpoint rule and the 0.3-phantom-event positivity barrier (~1e-3 σ).
    assert np.all(np.abs(free.theta[0] - theta) < 3e-3 * err)
    if theta[0] == 0.0:  # background-only Asimov: q(0) = 0, profile minimal at 0
        assert null.nll[0] - free.nll[0] < 1e-6
        prof = profile_nll(model, centres, [-10.0, 0.0, 10.0], weights=counts)
        assert prof[1] < min(prof[0], prof[2])
        # Asimov Δ(-ln L) at n = σ is ½ (median expected sensitivity).
        p1 = profile_nll(model, centres, [free.n_sig_err[0]], weights=counts)[0]
        assert p1 - prof[1] == pytest.approx(0.5, rel=0.05)


def test_asimov_rejects_negative_density():
    with pytest.raises(ValueError):
        asimov_data(MODEL, MODEL.from_public([-2000.0, 100.0, 0.0, 0.0]))
