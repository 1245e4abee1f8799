"""Tests of the batched numba window fitter (alpscan.fitting.batched)."""

from __future__ import annotations

import numpy as np
import pytest
from iminuit.cost import ExtendedUnbinnedNLL, NormalConstraint
from scipy import integrate

from alpscan.fitting.batched import fit_batch
from alpscan.fitting.dscb import DSCBParams, dscb_pdf
from alpscan.fitting.window_fit import fit_window
from alpscan.fitting.window_model import PeakingComponent, WindowModel, YieldConstraint

from .oracles.window import chebyshev_background_pdf, sample_window
from .windows import ETA, ETAC, HI, LO, PHI, PLO, PSIG, SIG

POLY = (-0.2, 0.05)

# The η_c-like peak of the 0.5–0.7 GeV window, constrained.
ETAC_CONS = YieldConstraint("etac", 40.0, 8.0)


def _fit_one(model, x, **kw):
    """Free (row 0) and null (row 1) fit of one dataset in one batched call."""
    b = model.basis(x)
    return fit_batch(
        model, np.hstack([b, b]), [0, x.size, 2 * x.size], n_sig_fixed=[np.nan, 0.0], **kw
    )


def _datasets():
    """(name, model, masses): ≥ 5 random windows incl. peaking, constraint and sparse."""
    rng = np.random.default_rng(2024)
    base = WindowModel(LO, HI, SIG)
    out = [
        ("plain-1", base, sample_window(rng, 30.0, 1500.0, POLY, SIG, (), LO, HI)),
        ("plain-2", base, sample_window(rng, 30.0, 1500.0, (0.3, -0.1), SIG, (), LO, HI)),
        ("plain-3", base, sample_window(rng, 0.0, 1500.0, POLY, SIG, (), LO, HI)),
    ]
    pk = WindowModel(PLO, PHI, PSIG, (ETA,))
    x = sample_window(rng, 30.0, 1500.0, (-0.3, 0.05), PSIG, [(ETA, 300.0)], PLO, PHI)
    out.append(("peaking", pk, x))
    cons = WindowModel(PLO, PHI, PSIG, (ETA, ETAC), (ETAC_CONS,))
    x = sample_window(
        rng, 30.0, 1500.0, (-0.3, 0.05), PSIG, [(ETA, 300.0), (ETAC, 40.0)], PLO, PHI
    )
    out.append(("constraint", cons, x))
    sparse = sample_window(rng, 0.5, 2.5, (0.0, 0.0), SIG, (), LO, HI)  # ~3 events
    assert 2 <= sparse.size <= 6
    out.append(("sparse", base, sparse))
    return out


# ---------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------
def test_basis_rows_and_integrals():
    model = WindowModel(PLO, PHI, PSIG, (ETA, ETAC), (ETAC_CONS,))
    assert model.names == ("n_sig", "a0", "a1", "a2", "n_eta", "n_etac")
    assert model.public_names == ("n_sig", "n_bkg", "c1", "c2", "n_eta", "n_etac")
    x = np.linspace(PLO, PHI, 777)
    b = model.basis(x)
    assert b.shape == (6, 777) and b.dtype == np.float64
    w = PHI - PLO
    t = 2 * (x - PLO) / w - 1
    np.testing.assert_allclose(b[0], dscb_pdf(x, *PSIG.as_tuple(), lo=PLO, hi=PHI), rtol=1e-12)
    np.testing.assert_allclose(b[1], 1 / w, rtol=1e-14)
    np.testing.assert_allclose(b[2], t / w, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b[3], (2 * t * t - 1) / w, rtol=1e-12, atol=1e-12)
    for row, comp in ((4, ETA), (5, ETAC)):
        ref = dscb_pdf(x, *comp.shape.as_tuple(), lo=PLO, hi=PHI)
        np.testing.assert_allclose(b[row], ref, rtol=1e-12)
    # Integrals: analytic, via the cdf rows and by quadrature.
    np.testing.assert_allclose(model.cdf_basis([PHI])[:, 0], model.integrals, atol=1e-12)
    np.testing.assert_allclose(model.cdf_basis([PLO])[:, 0], 0.0, atol=1e-12)
    for k in range(6):
        val, _ = integrate.quad(
            lambda v: model.basis([v])[k, 0], PLO, PHI, points=[0.548, 0.6, 0.62], limit=200
        )
        assert val == pytest.approx(model.integrals[k], abs=1e-9)
    # Outside the window every row is 0.
    assert np.all(model.basis([PLO - 1e-3, PHI + 1e-3, np.nan]) == 0.0)


def test_public_parametrisation_round_trip():
    model = WindowModel(PLO, PHI, PSIG, (ETA,))
    pub = np.array([[12.0, 900.0, -0.3, 0.05, 70.0], [-5.0, 20.0, 0.4, -0.2, 0.0]])
    theta = model.from_public(pub)
    np.testing.assert_allclose(model.to_public(theta), pub, rtol=1e-13, atol=1e-12)
    # λ from θ equals the public density of fit_window.
    x = np.linspace(PLO, PHI, 101)
    lam = model.density(theta[0], x)
    ref = 12.0 * dscb_pdf(x, *PSIG.as_tuple(), lo=PLO, hi=PHI)
    ref += 900.0 * chebyshev_background_pdf(x, -0.3, 0.05, PLO, PHI)
    ref += 70.0 * dscb_pdf(x, *ETA.shape.as_tuple(), lo=PLO, hi=PHI)
    np.testing.assert_allclose(lam, ref, rtol=1e-12)
    assert model.expected(theta[0]) == pytest.approx(12.0 + 900.0 + 70.0)
    assert model.from_public({"n_sig": 1.0, "n_bkg": 2.0, "c1": 0.0, "c2": 0.0})[4] == 0.0


def test_model_validation_and_constraint_index():
    with pytest.raises(ValueError):
        WindowModel(1.0, 1.0, SIG)
    with pytest.raises(ValueError):
        WindowModel(LO, HI, SIG, (ETA,), (YieldConstraint("nope", 1.0, 1.0),))
    with pytest.raises(ValueError):  # no probability of the component in the window
        far = PeakingComponent("far", DSCBParams(3.0, 0.01, 0.01, 2, 5, 2, 5))
        WindowModel(LO, HI, SIG, (far,))
    model = WindowModel(PLO, PHI, PSIG, (ETA, ETAC), {"etac": (40.0, 8.0)})
    assert model == WindowModel(PLO, PHI, PSIG, (ETA, ETAC), (ETAC_CONS,))
    idx, mean, sigma = model.constraint_arrays
    assert idx.tolist() == [5] and mean.tolist() == [40.0] and sigma.tolist() == [8.0]


# ---------------------------------------------------------------------------------------
# Agreement with fit_window
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", range(6))
def test_agrees_with_fit_window(case):
    name, model, x = _datasets()[case]
    res = _fit_one(model, x)
    cons = model.constraints
    for j, fixed in enumerate((False, True)):
        ref = fit_window(
            x,
            model.lo,
            model.hi,
            model.signal,
            peaking=model.peaking,
            constraints=cons,
            fix_signal_zero=fixed,
            minos=False,
            migrad_tol=1e-7,
        )
        assert ref.valid and res.converged[j], name
        pub = model.to_public(res.theta[j])
        for i, k in enumerate(model.public_names):
            if k in ("c1", "c2"):
                continue
            scale = max(abs(ref.values[k]), ref.errors[k])
            assert abs(pub[i] - ref.values[k]) <= 1e-4 * scale, (name, fixed, k)
        assert abs(res.nll[j] - ref.nll) < 1e-5, (name, fixed)
        assert res.at_boundary[j] == ref.at_positivity_boundary
        if not fixed:
            rel = 0.02 if name == "sparse" else 2e-3  # Hesse's numerical derivatives
            assert res.n_sig_err[j] == pytest.approx(ref.n_sig_err, rel=rel)
        else:
            assert res.n_sig[j] == 0.0 and res.n_sig_err[j] == 0.0
    assert res.nll[1] >= res.nll[0] - 1e-9


def test_nll_is_half_the_iminuit_cost():
    """nll = ½ (ExtendedUnbinnedNLL + NormalConstraint) at the fitted parameters."""
    _, model, x = _datasets()[4]
    res = _fit_one(model, x)
    data = model.basis(x)

    def dens(xx, *par):
        return model.expected(np.array(par)), np.array(par) @ xx

    cost = ExtendedUnbinnedNLL(data, dens, name=list(model.names))
    cost = cost + NormalConstraint("n_etac", 40.0, 8.0)
    for j in range(2):
        assert res.nll[j] == pytest.approx(0.5 * cost(*res.theta[j]), abs=1e-8)


def test_start_values_do_not_matter():
    _, model, x = _datasets()[0]
    b = model.basis(x)
    theta_gen = model.from_public([30.0, 1500.0, *POLY])
    starts = np.array([theta_gen, 1.3 * theta_gen, [np.nan] * 4, [-20.0, 2000.0, 0.0, 0.0]])
    res = fit_batch(model, np.tile(b, 4), np.arange(5) * x.size, start=starts)
    assert res.converged.all()
    err = np.sqrt(np.diagonal(res.covariance[0]))  # parabolic errors of θ
    assert np.all(np.abs(res.theta - res.theta[0]) <= 1e-4 * err)
    np.testing.assert_allclose(res.nll, res.nll[0], atol=1e-9)


def test_weights_equal_repeated_events():
    """Weight 2 is the same likelihood as the event twice; weight 0 drops the event."""
    rng = np.random.default_rng(5)
    model = WindowModel(LO, HI, SIG)
    x = sample_window(rng, 40.0, 600.0, POLY, SIG, (), LO, HI)
    w = rng.integers(0, 3, x.size).astype(float)
    rep = np.repeat(x, w.astype(int))
    r_w = fit_batch(model, model.basis(x), [0, x.size], weights=w)
    r_rep = fit_batch(model, model.basis(rep), [0, rep.size])
    assert r_w.converged[0] and r_rep.converged[0]
    np.testing.assert_allclose(r_w.theta, r_rep.theta, rtol=1e-6, atol=1e-6)
    assert r_w.nll[0] == pytest.approx(r_rep.nll[0], abs=1e-7)
    assert r_w.n_sig_err[0] == pytest.approx(r_rep.n_sig_err[0], rel=1e-6)


def test_batch_equals_single_fits_and_empty_entries():
    """Datasets in one batch do not influence each other; empty ones are exact."""
    rng = np.random.default_rng(6)
    model = WindowModel(LO, HI, SIG)
    xs = [sample_window(rng, 30.0, n, POLY, SIG, (), LO, HI) for n in (1500.0, 300.0)]
    xs.insert(1, np.empty(0))
    xs.append(np.empty(0))
    x = np.concatenate(xs)
    off = np.concatenate([[0], np.cumsum([a.size for a in xs])])
    res = fit_batch(model, model.basis(x), off, n_sig_fixed=[np.nan, np.nan, np.nan, 0.0])
    assert res.converged.all()
    for i in (0, 2):
        one = fit_batch(model, model.basis(xs[i]), [0, xs[i].size])
        np.testing.assert_allclose(res.theta[i], one.theta[0], rtol=1e-12, atol=1e-9)
    for i in (1, 3):  # empty: every yield 0, nll 0, at the boundary, no parabolic error
        assert np.all(res.theta[i] == 0.0) and res.nll[i] == 0.0 and res.at_boundary[i]
        assert res.n_iter[i] == 0
    assert np.isnan(res.n_sig_err[1]) and res.n_sig_err[3] == 0.0
    ref = fit_window(np.empty(0), LO, HI, SIG)
    assert ref.valid and ref.nll == 0.0 and ref.n_sig == 0.0


def test_empty_window_with_constraint_is_flagged():
    """With a constraint the empty-window shortcut does not apply.  The likelihood then
    has no minimum (its infimum, ½(40/8)² = 12.5, is approached as every yield → 0), so,
    as fit_window, the fit must be flagged, not reported."""
    model = WindowModel(PLO, PHI, PSIG, (ETA, ETAC), (ETAC_CONS,))
    res = fit_batch(model, np.zeros((6, 0)), [0, 0])
    assert not res.converged[0] and np.isnan(res.n_sig_err[0])
    assert res.nll[0] == pytest.approx(12.5, abs=0.1)
    ref = fit_window(np.empty(0), PLO, PHI, PSIG, peaking=(ETA, ETAC), constraints=(ETAC_CONS,))
    assert not ref.valid


def test_non_converged_fits_are_flagged():
    _, model, x = _datasets()[0]
    res = fit_batch(model, model.basis(x), [0, x.size], max_iter=0)
    assert not res.converged[0] and res.n_failed == 1
    assert np.isnan(res.n_sig_err[0])
    # Infeasible start (negative density) falls back to the default start and converges.
    res = fit_batch(model, model.basis(x), [0, x.size], start=[[-1e4, 10.0, 0.0, 0.0]])
    assert res.converged[0]


def test_positivity_boundary_flagged_like_fit_window():
    rng = np.random.default_rng(10)
    model = WindowModel(LO, HI, SIG)
    x = sample_window(rng, 0.0, 400.0, POLY, SIG, (), LO, HI)
    x = x[np.abs(x - SIG.mu) > 2.0 * SIG.sigma_r]
    res = fit_batch(model, model.basis(x), [0, x.size])
    ref = fit_window(x, LO, HI, SIG, minos=False, migrad_tol=1e-7)
    assert res.converged[0] and res.at_boundary[0] and ref.at_positivity_boundary
    assert res.n_sig[0] < 0
    assert res.n_sig[0] == pytest.approx(ref.n_sig, abs=1e-3 * abs(ref.n_sig))
    assert res.nll[0] == pytest.approx(ref.nll, abs=1e-4)
    grid = np.linspace(LO, HI, 4001)
    assert model.density(res.theta[0], grid).min() > -1e-3 * x.size / (HI - LO)


def test_input_validation():
    model = WindowModel(LO, HI, SIG)
    b = model.basis([1.5, 1.51])
    with pytest.raises(ValueError):
        fit_batch(model, b[:3], [0, 2])
    with pytest.raises(ValueError):
        fit_batch(model, b, [0, 3])
    with pytest.raises(ValueError):
        fit_batch(model, b, [0, 2], weights=[1.0, -1.0])
    with pytest.raises(ValueError):
        fit_batch(model, b, [0, 2], weights=[1.0])
