"""Tests of the one window model (alpscan.fitting.window_model) and of its consumers
following a change of a component: a cubic instead of the quadratic background."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate

from alpscan.fitting.dscb import DSCBParams
from alpscan.fitting.toys import asimov_data, fit_dataset, sample_toys, toy_study
from alpscan.fitting.window_fit import fit_model, fit_window
from alpscan.fitting.window_model import (
    POLY_ORDER,
    PeakingComponent,
    WindowModel,
    YieldConstraint,
    positivity_barrier,
)
from alpscan.stats.limits import profile_curve, yield_limits

from .windows import HI, LO, SIG

#: Public values of the cubic truth: n_sig, n_bkg, c1, c2, c3 (background > 0 everywhere).
CUBIC_TRUTH = [40.0, 1500.0, -0.2, 0.05, 0.25]


def test_default_order_is_the_papers_quadratic():
    model = WindowModel(LO, HI, SIG)
    assert POLY_ORDER == 2 and model.poly_order == 2
    assert model.names == ("n_sig", "a0", "a1", "a2")
    assert model.public_names == ("n_sig", "n_bkg", "c1", "c2")
    np.testing.assert_array_equal(model.integrals, [1.0, 1.0, 0.0, -1.0 / 3.0])


@pytest.mark.parametrize("order", [0, 1, 3, 4])
def test_any_order_basis_integrals_and_parametrisation(order):
    eta = PeakingComponent("eta", DSCBParams(1.45, 0.012, 0.011, 1.1, 4.0, 1.8, 6.0))
    cons = (YieldConstraint("eta", 30.0, 5.0),)
    model = WindowModel(LO, HI, SIG, (eta,), cons, poly_order=order)
    k = order + 3
    assert model.n_par == k and model.first_peak == order + 2
    assert model.names[-1] == "n_eta" and len(model.public_names) == k
    assert model.constraint_arrays[0].tolist() == [order + 2]
    # Polynomial rows are T_j(t)/W; their window integrals match quadrature and the cdf rows.
    t = np.linspace(-1, 1, 9)
    b = model.basis(LO + 0.5 * (t + 1) * (HI - LO))
    np.testing.assert_allclose(b[1 + order] * (HI - LO), np.cos(order * np.arccos(t)), atol=1e-12)
    for j in range(k):
        val, _ = integrate.quad(lambda v: model.basis([v])[j, 0], LO, HI, points=[1.45, 1.5])
        assert val == pytest.approx(model.integrals[j], abs=1e-8)
    np.testing.assert_allclose(model.cdf_basis([HI])[:, 0], model.integrals, atol=1e-12)
    # Public <-> θ round trip and the Jacobian against finite differences.
    pub = np.array([12.0, 900.0, *np.linspace(-0.2, 0.2, order), 25.0])
    theta = model.from_public(pub)
    np.testing.assert_allclose(model.to_public(theta), pub, rtol=1e-12, atol=1e-12)
    assert model.expected(theta) == pytest.approx(12.0 + 900.0 + 25.0)
    jac = model.public_jacobian(theta)
    h = 1e-6 * np.maximum(np.abs(theta), 1.0)
    step = h[:, None] * np.eye(k)
    num = np.column_stack(
        [(model.to_public(theta + step[i]) - model.to_public(theta - step[i])) / (2 * h[i])
         for i in range(k)]
    )  # fmt: skip
    np.testing.assert_allclose(jac, num, rtol=1e-6, atol=1e-9)


def test_validation_messages():
    with pytest.raises(ValueError, match="invalid window"):
        WindowModel(1.0, 1.0, SIG)
    with pytest.raises(ValueError, match="poly_order"):
        WindowModel(LO, HI, SIG, poly_order=-1)
    far = PeakingComponent("far", DSCBParams(3.0, 0.01, 0.01, 2, 5, 2, 5))
    with pytest.raises(ValueError, match="negligible"):
        WindowModel(LO, HI, SIG, (far,))
    model, dropped = WindowModel.build(LO, HI, SIG, [far], {"far": (1.0, 0.5)})
    assert dropped == ("far",) and model.peaking == () and model.constraints == ()
    # fit_window reports the same validation as a failed fit instead of raising.
    fit = fit_window(np.full(10, 1.5), LO, HI, SIG, poly_order=-1)
    assert not fit.valid and "poly_order" in fit.message


def test_barrier_is_the_documented_log_barrier():
    u = np.array([2.0, 1.0, 0.5, 1e-12, -1.0])
    phi = -np.log(np.maximum(u, 1e-9)) + np.where(u < 1e-9, (1e-9 - u) / 1e-9, 0.0)
    assert positivity_barrier(u) == pytest.approx(2 * 0.3 / u.size * phi.sum(), rel=1e-14)


def test_cubic_background_reaches_fits_toys_and_limits():
    """Changing one component (the polynomial order) in the model changes every consumer:
    the iminuit fit, the batched fitter, the toys and the limits all carry c3/a3 and agree."""
    cubic = WindowModel(LO, HI, SIG, poly_order=3)
    quad = WindowModel(LO, HI, SIG)
    rng = np.random.default_rng(31)
    x, off = sample_toys(rng, cubic, cubic.from_public(CUBIC_TRUTH), 1)
    assert off[-1] == x.size > 1000

    fit = fit_model(cubic, x, minos=False, migrad_tol=1e-7)  # iminuit, tightly converged
    assert fit.valid and fit.parameters == ("n_sig", "n_bkg", "c1", "c2", "c3")
    same = fit_window(x, LO, HI, SIG, minos=False, migrad_tol=1e-7, poly_order=3)
    assert same.values == fit.values and same.nll == fit.nll
    free, null = fit_dataset(cubic, x)  # batched Newton fitter
    assert free.theta.shape == (1, 5) and bool(free.converged[0]) and bool(null.converged[0])
    pub = cubic.to_public(free.theta[0])
    for i, name in enumerate(cubic.public_names):  # agreement as in test_batched
        scale = max(abs(fit.values[name]), fit.errors[name])
        assert abs(pub[i] - fit.values[name]) <= 1e-4 * scale, name
    assert float(free.nll[0]) == pytest.approx(fit.nll, abs=1e-5)
    # The extra parameter is used: it is recovered, and the quadratic fits are worse.
    for name, true in zip(cubic.public_names, CUBIC_TRUTH):
        assert abs(fit.values[name] - true) < 3.5 * fit.errors[name], name
    assert fit.values["c3"] > 3 * fit.errors["c3"]
    free_q, _ = fit_dataset(quad, x)
    assert float(free_q.nll[0]) - float(free.nll[0]) > 4.0
    assert fit_model(quad, x, minos=False).nll - fit.nll > 4.0

    # Toys generated from and fitted with the cubic model: unbiased, unit pulls.
    study = toy_study(np.random.default_rng(5), cubic, free.theta[0], 300)
    assert study.n_ok >= 295
    assert abs(study.bias) < 0.25 and 0.85 < np.std(study.pulls) < 1.15

    # Limits: profiles of the data and of the cubic background-only Asimov set.
    obs = profile_curve(cubic, x)
    xa, wa = asimov_data(cubic, null.theta[0])
    asimov = profile_curve(cubic, xa, wa)
    assert obs is not None and asimov is not None
    assert obs.nll_hat == pytest.approx(float(free.nll[0]), abs=1e-9)
    lim = yield_limits(obs, asimov)
    assert np.isfinite(lim.observed) and lim.observed > fit.values["n_sig"]
    # The quadratic model of the same data gives a different (mis-modelled) profile.
    obs_q = profile_curve(quad, x)
    assert obs_q is not None and abs(obs_q.n_hat - obs.n_hat) > 1e-3
