"""Tests of the per-mass-point window fit (alpscan.fitting.window_fit)."""

from __future__ import annotations


import numpy as np
import pytest
from scipy import integrate

from alpscan.fitting.dscb import DSCBParams, dscb_pdf, dscb_window_fraction
from alpscan.fitting.window_fit import WindowFit, fit_window, significance_from_nll
from alpscan.fitting.window_model import PeakingComponent, YieldConstraint

from .oracles.window import chebyshev_background_pdf, local_significance, sample_window

SIG = DSCBParams(1.000, 0.012, 0.010, 1.2, 4.0, 1.8, 6.0)
HALF = 4.5 * (SIG.sigma_l + SIG.sigma_r)  # window width 9·(σ_L + σ_R)
LO, HI = SIG.mu - HALF, SIG.mu + HALF
POLY = (-0.25, 0.05)


def _window(mu_shift=0.0):
    return LO + mu_shift, HI + mu_shift


# ---------------------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("c1, c2", [(0.0, 0.0), (-0.8, 0.1), (0.5, -0.4), (0.3, 0.9)])
def test_background_pdf_normalised(c1, c2):
    val, _ = integrate.quad(lambda x: chebyshev_background_pdf(x, c1, c2, LO, HI), LO, HI)
    assert val == pytest.approx(1.0, abs=1e-10)


def test_sample_window_poisson_yields():
    rng = np.random.default_rng(1)
    counts = np.array(
        [sample_window(rng, 20.0, 100.0, POLY, SIG, (), LO, HI).size for _ in range(2000)]
    )
    assert counts.mean() == pytest.approx(120.0, abs=3 * np.sqrt(120 / 2000) + 0.2)
    assert counts.var() == pytest.approx(120.0, rel=0.12)  # Poisson: variance = mean
    x = sample_window(rng, 0.0, 50_000.0, POLY, SIG, (), LO, HI)
    assert np.all((x >= LO) & (x <= HI))
    # Background shape: binned comparison with the normalised polynomial.
    edges = np.linspace(LO, HI, 21)
    h, _ = np.histogram(x, edges)
    centres = 0.5 * (edges[1:] + edges[:-1])
    expect = x.size * chebyshev_background_pdf(centres, *POLY, LO, HI) * np.diff(edges)
    chi2 = np.sum((h - expect) ** 2 / expect)
    assert chi2 < 45  # 20 bins (curvature of the bin-centre approximation is negligible)


# ---------------------------------------------------------------------------------------
# Fits
# ---------------------------------------------------------------------------------------
def test_fit_returns_injected_yield():
    rng = np.random.default_rng(3)
    x = sample_window(rng, 400.0, 2000.0, POLY, SIG, (), LO, HI)
    fit = fit_window(x, LO, HI, SIG)
    assert fit.valid and fit.fit_ok and fit.message == "ok"
    assert fit.n_events == x.size
    assert abs(fit.n_sig - 400.0) < 3 * fit.n_sig_err
    assert 15 < fit.n_sig_err < 40
    assert abs(fit.values["n_bkg"] - 2000.0) < 3 * fit.errors["n_bkg"]
    assert abs(fit.values["c1"] - POLY[0]) < 3 * fit.errors["c1"]
    # Extended ML: the fitted yields add up to the observed number of events.
    assert fit.n_sig + fit.values["n_bkg"] == pytest.approx(x.size, rel=1e-4)
    # Minos interval brackets the Hesse one (nearly symmetric here).
    lo_err, hi_err = fit.minos_errors["n_sig"]
    assert lo_err < 0 < hi_err
    assert -lo_err == pytest.approx(fit.n_sig_err, rel=0.15)
    assert fit.parameters == ("n_sig", "n_bkg", "c1", "c2")
    assert fit.covariance.shape == (4, 4)
    assert np.sqrt(fit.covariance[0, 0]) == pytest.approx(fit.n_sig_err)


def test_nll_is_the_extended_likelihood():
    """The reported NLL equals ν − Σ ln λ(x_i) computed by hand from the public
    parameters (checks the normalisation of every component and the parametrisation)."""
    rng = np.random.default_rng(4)
    x = sample_window(rng, 60.0, 800.0, POLY, SIG, (), LO, HI)
    fit = fit_window(x, LO, HI, SIG)
    v = fit.values
    lam = v["n_sig"] * dscb_pdf(x, *SIG.as_tuple(), lo=LO, hi=HI) + v[
        "n_bkg"
    ] * chebyshev_background_pdf(x, v["c1"], v["c2"], LO, HI)
    nll = (v["n_sig"] + v["n_bkg"]) - np.sum(np.log(lam))
    assert fit.nll == pytest.approx(nll, abs=1e-6)


def test_public_covariance_is_the_inverse_hessian():
    """The reported covariance of (n_sig, n_bkg, c1, c2) is the inverse Hessian of
    ν − Σ ln λ in the public parameters, off-diagonal terms included (issue 20: it is
    obtained from Minuit's internal covariance through the Jacobian; dropping the
    off-diagonal terms went unnoticed).  Hessian by central finite differences."""
    rng = np.random.default_rng(9)
    x = sample_window(rng, 80.0, 900.0, POLY, SIG, (), LO, HI)
    fit = fit_window(x, LO, HI, SIG)
    assert fit.valid
    names = ["n_sig", "n_bkg", "c1", "c2"]
    assert list(fit.parameters[:4]) == names

    def nll(p):
        lam = p[0] * dscb_pdf(x, *SIG.as_tuple(), lo=LO, hi=HI) + p[1] * chebyshev_background_pdf(
            x, p[2], p[3], LO, HI)
        return (p[0] + p[1]) - np.sum(np.log(lam))

    p0 = np.array([fit.values[k] for k in names])
    h = 1e-3 * np.array([fit.errors[k] for k in names])
    hess = np.empty((4, 4))
    for i in range(4):
        for j in range(4):
            ei, ej = np.eye(4)[i] * h[i], np.eye(4)[j] * h[j]
            hess[i, j] = (nll(p0 + ei + ej) - nll(p0 + ei - ej) - nll(p0 - ei + ej) + nll(p0 - ei - ej)) / (
                4 * h[i] * h[j])
    cov = np.linalg.inv(hess)
    rep = np.asarray(fit.covariance)[:4, :4]
    sd = np.sqrt(np.diag(cov))
    # correlations (the off-diagonal terms) and variances
    np.testing.assert_allclose(rep / np.outer(sd, sd), cov / np.outer(sd, sd), atol=0.03)
    np.testing.assert_allclose(np.diag(rep), np.diag(cov), rtol=0.05)
    assert abs(cov[1, 2] / np.sqrt(cov[1, 1] * cov[2, 2])) > 0.1 or abs(cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1])) > 0.1


def test_pull_distribution():
    """≥ 200 pseudo-experiments with ~1500 background and 30 signal events."""
    rng = np.random.default_rng(20250701)
    n_gen, pulls = 30.0, []
    for _ in range(300):
        x = sample_window(rng, n_gen, 1500.0, POLY, SIG, (), LO, HI)
        fit = fit_window(x, LO, HI, SIG, minos=False)
        assert fit.valid
        pulls.append((fit.n_sig - n_gen) / fit.n_sig_err)
    pulls = np.asarray(pulls)
    assert abs(pulls.mean()) < 0.15
    assert abs(pulls.std(ddof=1) - 1.0) < 0.1


def test_null_fit_and_significance_sign():
    rng = np.random.default_rng(8)
    x = sample_window(rng, 150.0, 1500.0, POLY, SIG, (), LO, HI)
    free = fit_window(x, LO, HI, SIG)
    null = fit_window(x, LO, HI, SIG, fix_signal_zero=True)
    assert free.valid and null.valid and null.signal_fixed_zero
    assert null.n_sig == 0.0 and null.errors["n_sig"] == 0.0
    assert null.nll >= free.nll - 1e-6
    s = local_significance(free, null)
    assert s == pytest.approx(np.sqrt(2 * (null.nll - free.nll)))
    assert s > 3  # 150 events on ~1500 background is a clear signal
    # Wald approximation: S ≈ N_sig / σ(N_sig) for a Gaussian likelihood.
    assert s == pytest.approx(free.n_sig / free.n_sig_err, rel=0.15)


def test_deficit_gives_negative_yield_and_significance():
    """A hole at the signal position gives a negative yield, a negative S, and the total
    density stays positive everywhere."""
    rng = np.random.default_rng(9)
    x = sample_window(rng, 0.0, 3000.0, POLY, SIG, (), LO, HI)
    keep = (np.abs(x - SIG.mu) > 1.5 * SIG.sigma_r) | (rng.random(x.size) < 0.5)
    x = x[keep]
    free = fit_window(x, LO, HI, SIG)
    null = fit_window(x, LO, HI, SIG, fix_signal_zero=True)
    assert free.valid and null.valid
    assert free.n_sig < -2 * free.n_sig_err
    s = local_significance(free, null)
    assert s < -2
    grid = np.linspace(LO, HI, 2001)
    v = free.values
    dens = v["n_sig"] * dscb_pdf(grid, *SIG.as_tuple(), lo=LO, hi=HI) + v[
        "n_bkg"
    ] * chebyshev_background_pdf(grid, v["c1"], v["c2"], LO, HI)
    assert dens.min() > 0


def test_empty_peak_region_stays_positive():
    """Remove every event around the peak: the unconstrained optimum would need a
    negative density; the fit must stop at the positivity boundary, not fail or go
    negative."""
    rng = np.random.default_rng(10)
    x = sample_window(rng, 0.0, 400.0, POLY, SIG, (), LO, HI)
    x = x[np.abs(x - SIG.mu) > 2.0 * SIG.sigma_r]
    fit = fit_window(x, LO, HI, SIG)
    assert fit.valid
    assert fit.n_sig < 0
    assert fit.at_positivity_boundary
    grid = np.linspace(LO, HI, 4001)
    v = fit.values
    dens = v["n_sig"] * dscb_pdf(grid, *SIG.as_tuple(), lo=LO, hi=HI) + v[
        "n_bkg"
    ] * chebyshev_background_pdf(grid, v["c1"], v["c2"], LO, HI)
    assert dens.min() > -1e-3 * x.size / (HI - LO)


def test_low_statistics_fits_converge():
    rng = np.random.default_rng(12)
    n_valid = 0
    for _ in range(40):
        x = sample_window(rng, 0.0, 15.0, (0.0, 0.0), SIG, (), LO, HI)
        free = fit_window(x, LO, HI, SIG, minos=False)
        null = fit_window(x, LO, HI, SIG, fix_signal_zero=True, minos=False)
        n_valid += free.valid and null.valid
        if free.valid and null.valid:
            assert np.isfinite(local_significance(free, null))
    assert n_valid >= 39


def test_peaking_components_and_constraint():
    """η-like peak partly in the window plus a Gaussian-constrained η_c-like peak."""
    lo, hi = 0.501, 0.699
    sig = DSCBParams(0.600, 0.012, 0.010, 1.2, 4.0, 1.8, 6.0)
    eta = PeakingComponent("eta", DSCBParams(0.548, 0.013, 0.011, 1.1, 4.0, 1.8, 6.0))
    etac = PeakingComponent("etac", DSCBParams(0.620, 0.014, 0.012, 1.1, 4.0, 1.8, 6.0))
    far = PeakingComponent("far", DSCBParams(3.0, 0.02, 0.02, 1.5, 5.0, 1.5, 5.0))
    rng = np.random.default_rng(13)
    x = sample_window(rng, 80.0, 800.0, (-0.3, 0.05), sig, [(eta, 400.0), (etac, 40.0)], lo, hi)
    fit = fit_window(
        x, lo, hi, sig, peaking=[eta, etac, far], constraints=YieldConstraint("etac", 40.0, 8.0)
    )
    assert fit.valid
    assert fit.dropped_components == ("far",)
    assert fit.parameters == ("n_sig", "n_bkg", "c1", "c2", "n_eta", "n_etac")
    assert abs(fit.values["n_eta"] - 400.0) < 3 * fit.errors["n_eta"]
    assert abs(fit.n_sig - 80.0) < 3 * fit.n_sig_err
    assert fit.errors["n_etac"] < 8.0  # the constraint helps, the data help further
    # A very tight constraint pins the yield.
    tight = fit_window(x, lo, hi, sig, peaking=[eta, etac], constraints={"etac": (25.0, 0.01)})
    assert tight.valid
    assert tight.values["n_etac"] == pytest.approx(25.0, abs=0.05)
    assert tight.errors["n_etac"] < 0.02
    # The constraint term is part of the NLL: moving the mean away costs likelihood.
    assert tight.nll > fit.nll
    # Mapping and tuple forms of the inputs are accepted.
    alt = fit_window(
        x,
        lo,
        hi,
        sig.to_dict(),
        peaking=[("eta", eta.shape), ("etac", etac.shape)],
        constraints=[("etac", 40.0, 8.0)],
    )
    assert alt.valid and alt.values["n_eta"] == pytest.approx(fit.values["n_eta"], rel=1e-3)


def test_peaking_yield_pull():
    """Pulls of the η yield and of n_sig next to it over pseudo-experiments."""
    lo, hi = 0.501, 0.699
    sig = DSCBParams(0.600, 0.012, 0.010, 1.2, 4.0, 1.8, 6.0)
    eta = PeakingComponent("eta", DSCBParams(0.548, 0.013, 0.011, 1.1, 4.0, 1.8, 6.0))
    rng = np.random.default_rng(14)
    pulls = []
    for _ in range(120):
        x = sample_window(rng, 20.0, 800.0, (-0.3, 0.05), sig, [(eta, 200.0)], lo, hi)
        f = fit_window(x, lo, hi, sig, peaking=[eta], minos=False)
        assert f.valid
        pulls.append(
            [(f.n_sig - 20.0) / f.n_sig_err, (f.values["n_eta"] - 200) / f.errors["n_eta"]]
        )
    pulls = np.asarray(pulls)
    assert np.all(np.abs(pulls.mean(axis=0)) < 0.3)
    assert np.all(np.abs(pulls.std(axis=0, ddof=1) - 1.0) < 0.2)


# ---------------------------------------------------------------------------------------
# Significance
# ---------------------------------------------------------------------------------------
def _fake(nll, n_sig, valid=True, lo=0.9, hi=1.1, n=100):
    return WindowFit(
        values={"n_sig": n_sig},
        errors={"n_sig": 1.0},
        minos_errors={},
        covariance=None,
        parameters=("n_sig",),
        nll=nll,
        valid=valid,
        n_attempts=1,
        n_events=n,
        lo=lo,
        hi=hi,
    )


def test_significance_hand_computed():
    # NLL0 - NLL1 = 4.5  ->  S = sqrt(9) = 3
    assert significance_from_nll(100.0, 104.5, 12.0) == pytest.approx(3.0)
    assert significance_from_nll(100.0, 104.5, -12.0) == pytest.approx(-3.0)
    # 2·ΔNLL = 2·12.5 = 25 -> 5σ
    assert local_significance(_fake(-50.0, 7.0), _fake(-37.5, 0.0)) == pytest.approx(5.0)
    assert local_significance(_fake(-50.0, -7.0), _fake(-37.5, 0.0)) == pytest.approx(-5.0)
    # Null better than free (numerical noise): clipped to 0.
    assert significance_from_nll(10.0, 9.999, 3.0) == 0.0
    assert np.isnan(local_significance(_fake(1.0, 2.0, valid=False), _fake(2.0, 0.0)))
    with pytest.raises(ValueError):
        local_significance(_fake(1.0, 2.0), _fake(2.0, 0.0, hi=1.2))


# ---------------------------------------------------------------------------------------
# Impossible configurations are flagged, not raised
# ---------------------------------------------------------------------------------------
def test_impossible_configurations_flagged():
    rng = np.random.default_rng(15)
    x = sample_window(rng, 10.0, 500.0, POLY, SIG, (), LO, HI)
    bad_sig = DSCBParams(1.0, -0.01, 0.01, 1.0, 3.0, 1.0, 3.0)
    cases = [
        fit_window(
            np.array([]), LO, HI, SIG, peaking=[("a", SIG)], constraints={"a": (5.0, 1.0)}
        ),  # no events, but a constrained yield
        fit_window(x, HI, LO, SIG),  # inverted window
        fit_window(x, LO, np.nan, SIG),  # undefined window
        fit_window(x, LO, HI, bad_sig),  # shape outside its domain
        fit_window(x, LO, HI, DSCBParams(5.0, 0.001, 0.001, 2, 50, 2, 50)),  # signal far away
        fit_window(x, LO, HI, SIG, constraints={"nope": (1.0, 1.0)}),  # unknown component
        fit_window(
            x, LO, HI, SIG, peaking=[PeakingComponent("a", SIG)], constraints={"a": (1.0, -1.0)}
        ),  # negative constraint width
        fit_window(x, LO, HI, SIG, peaking=[("a", SIG), ("a", SIG)]),  # duplicate names
        fit_window(x, LO, HI, "not a shape"),
    ]
    for fit in cases:
        assert isinstance(fit, WindowFit)
        assert not fit.valid and not fit.fit_ok
        assert fit.message
        assert np.isnan(fit.n_sig)


def test_empty_window_is_exact_and_valid():
    # exp(-nu) is maximal at nu = 0: every yield 0, -ln L = 0, for the free and null fit.
    rng = np.random.default_rng(16)
    x = sample_window(rng, 10.0, 500.0, POLY, SIG, (), LO, HI)
    for data in (np.array([]), x + 10.0):
        for fixed in (False, True):
            fit = fit_window(data, LO, HI, SIG, peaking=[("a", SIG)], fix_signal_zero=fixed)
            assert fit.valid and fit.n_events == 0 and fit.nll == 0.0
            assert fit.n_sig == 0.0 and fit.values["n_bkg"] == 0.0 and fit.values["n_a"] == 0.0
            assert fit.at_positivity_boundary
    free = fit_window(np.array([]), LO, HI, SIG)
    null = fit_window(np.array([]), LO, HI, SIG, fix_signal_zero=True)
    assert local_significance(free, null) == 0.0


def test_degenerate_components_flagged():
    """Signal and a peaking component with identical shapes cannot be separated: the
    fit must not report a valid, finite-error result for both yields."""
    rng = np.random.default_rng(16)
    x = sample_window(rng, 100.0, 500.0, POLY, SIG, (), LO, HI)
    ref = fit_window(x, LO, HI, SIG)
    fit = fit_window(x, LO, HI, SIG, peaking=[PeakingComponent("twin", SIG)])
    assert isinstance(fit, WindowFit)
    assert ref.valid
    if fit.valid:  # Minuit may still report a covariance: then it must show the degeneracy
        assert fit.n_sig_err > 10 * ref.n_sig_err
        assert fit.errors["n_twin"] > 10 * ref.n_sig_err
        # ... while the sum of the two yields stays well measured, and equals the yield
        # of the fit without the twin.
        c = fit.covariance
        i, j = fit.parameters.index("n_sig"), fit.parameters.index("n_twin")
        assert c[i, j] / np.sqrt(c[i, i] * c[j, j]) < -0.99  # the two yields anticorrelated
        err_sum = np.sqrt(c[i, i] + c[j, j] + 2 * c[i, j])
        assert err_sum == pytest.approx(ref.n_sig_err, rel=0.2)
        assert fit.values["n_sig"] + fit.values["n_twin"] == pytest.approx(ref.n_sig, abs=0.1 * ref.n_sig_err)
    else:  # flagged: then no small error may be reported for the signal yield
        assert fit.message != "ok"
        assert not fit.n_sig_err < 10 * ref.n_sig_err
