"""Tests of the B-mass-constrained kinematic fit (alpscan.physics.kinfit)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from alpscan.physics import kinematics as kin
from alpscan.physics.constants import mass_gev
from alpscan.physics.kinfit import (
    N_PAR,
    PARAM_NAMES,
    STATUS_CONVERGED,
    STATUS_NEGATIVE_ENERGY,
    PhotonMeasurement,
    constraint_and_jacobian,
    fit_b_mass_constraint,
    m_gg_after_fit,
    m_gg_before_fit,
    photon_four_vector,
    unpack_parameters,
)
from alpscan.validation.fidelity import m_a_from_b_mass

M_B = mass_gev("B+")
M_K = mass_gev("K+")
M_Y4S = mass_gev("Y4S")
BETA_GAMMA_CM = 0.287  # Belle 8 GeV e- x 3.5 GeV e+, along z (crossing angle ignored)

SIG_E_REL = 0.02  # photon σ_E / E
SIG_ANG = 0.005  # photon σ_θ = σ_φ (rad)
SIG_P_REL = 0.003  # track σ_p / p along the momentum
SIG_P_ANG = 0.001  # track direction error (rad)


def _truth(rng, n, m_a, m_parent=M_B):
    """True K, γ1, γ2 four-vectors (lab) of Υ(4S) → B B̄, B → K a, a → γγ.

    ``m_parent`` is the mass of the decaying "B" (m(K γ γ) equals it exactly).
    """
    m_a = np.broadcast_to(np.asarray(m_a, dtype=float), (n,))
    y4s = np.zeros((n, 4))
    y4s[:, 0] = M_Y4S
    beta = np.array([0.0, 0.0, BETA_GAMMA_CM / np.sqrt(1.0 + BETA_GAMMA_CM**2)])
    y4s = kin.boost(y4s, beta)
    # B with the c.m. momentum of Υ(4S) → B B̄ (even for a shifted parent mass)
    p_star = kin.two_body_momentum(M_Y4S, M_B, M_B)
    b_cm = kin.four_vector(m_parent, p_star * kin.random_unit_vectors(rng, (n,)))
    b = kin.boost(b_cm, beta)
    k, a = kin.two_body_decay(b, M_K, m_a, kin.random_unit_vectors(rng, (n,)))
    g1, g2 = kin.two_body_decay(a, 0.0, 0.0, kin.random_unit_vectors(rng, (n,)))
    return k, g1, g2


def _angles(p4):
    p3 = p4[:, 1:4]
    e = kin.p_abs(p4)
    theta = np.arccos(np.clip(p3[:, 2] / e, -1.0, 1.0))
    phi = np.arctan2(p3[:, 1], p3[:, 0])
    return e, theta, phi


def _k_cov(p3):
    """Track covariance: σ_p/p along p, SIG_P_ANG·p transverse (correlated in x, y, z)."""
    p = np.linalg.norm(p3, axis=1)
    u = p3 / p[:, None]
    uu = u[:, :, None] * u[:, None, :]
    eye = np.eye(3)[None]
    return (SIG_P_REL * p)[:, None, None] ** 2 * uu + (SIG_P_ANG * p)[:, None, None] ** 2 * (eye - uu)


def _measure(rng, k, g1, g2, smear=True):
    """Smeared measurement (resolutions evaluated at truth) → fit inputs."""
    n = k.shape[0]
    k_p3 = k[:, 1:4].copy()
    cov = _k_cov(k_p3)
    if smear:
        chol = np.linalg.cholesky(cov)
        k_p3 = k_p3 + np.einsum("nij,nj->ni", chol, rng.standard_normal((n, 3)))
    photons = []
    for g in (g1, g2):
        e, th, ph = _angles(g)
        s_e = SIG_E_REL * e
        s_a = np.full(n, SIG_ANG)
        if smear:
            e = e + s_e * rng.standard_normal(n)
            th = th + s_a * rng.standard_normal(n)
            ph = ph + s_a * rng.standard_normal(n)
        photons.append(PhotonMeasurement(e, th, ph, s_e, s_a, s_a.copy()))
    return k_p3, cov, photons[0], photons[1]


@pytest.fixture(scope="module")
def smeared_fit():
    rng = np.random.default_rng(20250701)
    n = 20_000
    m_a = rng.uniform(0.5, 4.0, n)
    k, g1, g2 = _truth(rng, n, m_a)
    k_p3, cov, p1, p2 = _measure(rng, k, g1, g2)
    res = fit_b_mass_constraint(k_p3, M_K, cov, p1, p2, M_B)
    return res


def test_photon_four_vector():
    p = photon_four_vector(np.array([2.0]), np.array([np.pi / 2]), np.array([np.pi / 2]))
    np.testing.assert_allclose(p, [[2.0, 0.0, 2.0, 0.0]], atol=1e-15)
    p = photon_four_vector(1.5, 0.3, -1.2)
    assert p.shape == (4,)
    assert kin.mass2(p) == pytest.approx(0.0, abs=1e-14)


def test_truth_is_consistent():
    rng = np.random.default_rng(1)
    k, g1, g2 = _truth(rng, 1000, 2.0)
    np.testing.assert_allclose(kin.mass(k + g1 + g2), M_B, atol=1e-10)
    np.testing.assert_allclose(kin.mass(g1 + g2), 2.0, atol=1e-9)


def test_jacobian_matches_finite_differences():
    rng = np.random.default_rng(2)
    k, g1, g2 = _truth(rng, 50, rng.uniform(0.2, 4.0, 50))
    k_p3, _, p1, p2 = _measure(rng, k, g1, g2)
    alpha = np.column_stack([k_p3, p1.e, p1.theta, p1.phi, p2.e, p2.theta, p2.phi])
    h, d = constraint_and_jacobian(alpha, M_K, M_B)
    eps = 1e-6
    for i in range(N_PAR):
        da = np.zeros_like(alpha)
        da[:, i] = eps
        hp, _ = constraint_and_jacobian(alpha + da, M_K, M_B)
        hm, _ = constraint_and_jacobian(alpha - da, M_K, M_B)
        np.testing.assert_allclose(d[:, i], (hp - hm) / (2 * eps), rtol=1e-6, atol=1e-8, err_msg=PARAM_NAMES[i])
    # h is (M² − m_B²)/(2 m_B)
    k4, q1, q2 = unpack_parameters(alpha, M_K)
    np.testing.assert_allclose(h, (kin.mass2(k4 + q1 + q2) - M_B**2) / (2 * M_B), rtol=1e-12)


def test_converges_and_satisfies_constraint(smeared_fit):
    res = smeared_fit
    assert res.converged.mean() > 0.999
    assert res.max_iter_used <= 10
    ok = res.converged
    np.testing.assert_allclose(kin.mass(res.b_p4[ok]), M_B, atol=1e-6)
    # fitted photons stay massless and the K keeps its mass
    np.testing.assert_allclose(kin.mass2(res.gamma1_p4[ok]), 0.0, atol=1e-12)
    np.testing.assert_allclose(kin.mass(res.k_p4[ok]), M_K, atol=1e-9)
    assert res.ndf == 1


@pytest.mark.parametrize("i", range(N_PAR), ids=PARAM_NAMES)
def test_pulls_are_unit_normal(smeared_fit, i):
    pulls = smeared_fit.pulls[smeared_fit.converged, i]
    assert abs(np.mean(pulls)) < 0.05
    assert abs(np.std(pulls) - 1.0) < 0.05


def test_chi2_distribution(smeared_fit):
    chi2 = smeared_fit.chi2[smeared_fit.converged]
    assert abs(chi2.mean() - 1.0) < 0.05
    pvals = stats.chi2.sf(chi2, smeared_fit.ndf)
    assert stats.kstest(pvals, "uniform").pvalue > 1e-3


def test_chi2_equals_quadratic_form(smeared_fit):
    """χ² from λ equals (α − α0)ᵀ V0⁻¹ (α − α0) with V0 rebuilt from the fit output."""
    res = smeared_fit
    sel = np.flatnonzero(res.converged)[:200]
    shift = (res.alpha - res.alpha0)[sel]
    # V0 = V_fit + (V0 Dᵀ)(V0 Dᵀ)ᵀ/s is not stored; rebuild it from the inputs instead.
    rng = np.random.default_rng(20250701)
    n = 20_000
    m_a = rng.uniform(0.5, 4.0, n)
    k, g1, g2 = _truth(rng, n, m_a)
    _, cov, p1, p2 = _measure(rng, k, g1, g2)
    v0 = np.zeros((sel.size, N_PAR, N_PAR))
    v0[:, 0:3, 0:3] = cov[sel]
    for j, s in enumerate((p1.sigma_e, p1.sigma_theta, p1.sigma_phi, p2.sigma_e, p2.sigma_theta, p2.sigma_phi)):
        v0[:, 3 + j, 3 + j] = s[sel] ** 2
    q = np.einsum("ni,ni->n", shift, np.linalg.solve(v0, shift[..., None])[..., 0])
    np.testing.assert_allclose(q, res.chi2[sel], rtol=1e-5, atol=1e-9)
    # fitted covariance is symmetric, its diagonal matches var_fit and shrinks
    np.testing.assert_allclose(res.cov_fit, np.swapaxes(res.cov_fit, 1, 2), atol=1e-15)
    np.testing.assert_allclose(np.einsum("nii->ni", res.cov_fit), res.var_fit)
    assert np.all(res.var_fit[sel] <= np.einsum("nii->ni", v0) + 1e-15)
    # the fitted covariance has no component along the constraint gradient: V Dᵀ = 0
    _, d = constraint_and_jacobian(res.alpha[sel], M_K, M_B)
    vd = np.einsum("nij,nj->ni", res.cov_fit[sel], d)
    scale = np.sqrt(np.einsum("nii->ni", v0)) * np.abs(d)
    assert np.all(np.abs(vd) <= 1e-8 * scale.sum(axis=1, keepdims=True))


def _fit_fixed_mass(seed, n, m_a):
    """Smeared B⁺ → K⁺a (a → γγ) events at one m_a, fitted: (result, K p3, γ1, γ2)."""
    rng = np.random.default_rng(seed)
    k, g1, g2 = _truth(rng, n, m_a)
    k_p3, cov, p1, p2 = _measure(rng, k, g1, g2)
    return fit_b_mass_constraint(k_p3, M_K, cov, p1, p2, M_B), k_p3, p1, p2


def test_mgg_resolution_improves_for_heavy_alp():
    m_a = 4.0
    res, *_ = _fit_fixed_mass(4, 10_000, m_a)
    ok = res.converged
    before = m_gg_before_fit(res)[ok] - m_a
    after = m_gg_after_fit(res)[ok] - m_a
    assert np.std(after) < 0.6 * np.std(before)
    assert abs(np.mean(after)) < 3 * np.std(after) / np.sqrt(ok.sum()) + 1e-3


def _half_width_68(x):
    lo, hi = np.percentile(x, [15.865, 84.135])
    return 0.5 * (hi - lo)


def test_heavy_alp_resolution_at_least_as_good_as_b_mass_recoil():
    """Near the end point an exact M(Kγγ) = m_B fixes m_a through the kaon energy in the
    B frame: m_a² = m_B² + m_K² − 2 K·B.  The estimator with B = (√(|p_B|²+m_B²), p_B)
    from the measured momenta shares no code with the fit.  The fit uses the same
    information optimally, so its M_γγ must be at least as sharp (and far sharper than
    the raw M_γγ)."""
    m_a = 4.5
    res, k_p3, p1, p2 = _fit_fixed_mass(11, 20_000, m_a)
    ok = res.converged
    assert ok.mean() > 0.99
    p_b = k_p3 + p1.four_vector()[:, 1:] + p2.four_vector()[:, 1:]
    recoil = m_a_from_b_mass(kin.four_vector(M_K, k_p3), p_b, M_B)
    w_fit = _half_width_68(m_gg_after_fit(res)[ok] - m_a)
    w_recoil = _half_width_68(recoil[ok] - m_a)
    w_raw = _half_width_68(m_gg_before_fit(res)[ok] - m_a)
    assert w_fit <= 1.05 * w_recoil
    assert w_recoil < 0.3 * w_raw


def test_b_mass_recoil_is_exact_for_true_momenta():
    rng = np.random.default_rng(12)
    m_a = rng.uniform(0.2, 4.6, 1000)
    k, g1, g2 = _truth(rng, 1000, m_a)
    p_b = (k + g1 + g2)[:, 1:]
    np.testing.assert_allclose(m_a_from_b_mass(k, p_b, M_B), m_a, rtol=0, atol=1e-9)
    # a wrong B mass hypothesis shifts it
    assert np.all(np.abs(m_a_from_b_mass(k, p_b, M_B + 0.01) - m_a) > 1e-3)


def test_measurement_at_truth_returns_itself():
    rng = np.random.default_rng(5)
    n = 500
    k, g1, g2 = _truth(rng, n, rng.uniform(0.1, 4.5, n))
    k_p3, cov, p1, p2 = _measure(rng, k, g1, g2, smear=False)
    res = fit_b_mass_constraint(k_p3, M_K, cov, p1, p2, M_B)
    assert res.converged.all()
    assert np.all(res.chi2 < 1e-12)
    np.testing.assert_allclose(res.alpha, res.alpha0, rtol=0, atol=1e-9)
    np.testing.assert_allclose(res.k_p4, k, atol=1e-9)
    np.testing.assert_allclose(res.gamma1_p4, g1, atol=1e-9)
    np.testing.assert_allclose(res.gamma2_p4, g2, atol=1e-9)


def test_wrong_mass_hypothesis_gives_large_chi2(smeared_fit):
    rng = np.random.default_rng(6)
    n = 5_000
    k, g1, g2 = _truth(rng, n, rng.uniform(0.5, 4.0, n), m_parent=M_B + 0.2)
    k_p3, cov, p1, p2 = _measure(rng, k, g1, g2)
    wrong = fit_b_mass_constraint(k_p3, M_K, cov, p1, p2, M_B)
    right = fit_b_mass_constraint(k_p3, M_K, cov, p1, p2, M_B + 0.2)
    assert np.median(wrong.chi2) > 10.0
    assert np.median(wrong.chi2) > 20 * np.median(smeared_fit.chi2)
    assert abs(right.chi2[right.converged].mean() - 1.0) < 0.1


def test_mapping_input_and_per_candidate_masses():
    rng = np.random.default_rng(7)
    n = 300
    k, g1, g2 = _truth(rng, n, 1.0)
    k_p3, cov, p1, p2 = _measure(rng, k, g1, g2)
    as_dict = {f: getattr(p1, f) for f in ("e", "theta", "phi", "sigma_e", "sigma_theta", "sigma_phi")}
    r1 = fit_b_mass_constraint(k_p3, M_K, cov, p1, p2, M_B, full_cov=False)
    r2 = fit_b_mass_constraint(k_p3, np.full(n, M_K), cov, as_dict, p2, np.full(n, M_B))
    np.testing.assert_array_equal(r1.chi2, r2.chi2)
    np.testing.assert_array_equal(r1.alpha, r2.alpha)
    assert r1.cov_fit is None and r2.cov_fit.shape == (n, N_PAR, N_PAR)
    # B0 hypothesis on the same inputs: each candidate fitted to its own mass
    m_b = np.where(np.arange(n) % 2 == 0, M_B, mass_gev("B0"))
    r3 = fit_b_mass_constraint(k_p3, M_K, cov, p1, p2, m_b)
    np.testing.assert_allclose(kin.mass(r3.b_p4[r3.converged]), m_b[r3.converged], atol=1e-6)


def test_negative_photon_energy_is_flagged():
    """A constraint that can only be met by a negative photon energy fails cleanly."""
    rng = np.random.default_rng(8)
    n = 4
    k, g1, g2 = _truth(rng, n, 0.5)
    k_p3, cov, p1_true, p2 = _measure(rng, k, g1, g2, smear=False)
    fields = ("e", "theta", "phi", "sigma_e", "sigma_theta", "sigma_phi")
    # photon 1 nearly unmeasured in energy and a B mass far below m(K γ γ)
    p1 = PhotonMeasurement(p1_true.e, p1_true.theta, p1_true.phi, np.full(n, 100.0), p1_true.sigma_theta,
                           p1_true.sigma_phi)
    res = fit_b_mass_constraint(k_p3, M_K, cov, p1, p2, 0.7)
    assert not res.converged.any()
    assert np.all(res.status == STATUS_NEGATIVE_ENERGY)
    assert np.all(np.isinf(res.chi2))
    assert np.all(np.isnan(res.pulls))
    assert np.all(res.alpha[:, 3] > 0) and np.all(res.alpha[:, 6] > 0)
    # mixed with good candidates in one call, those are unaffected
    good = fit_b_mass_constraint(k_p3, M_K, cov, p1_true, p2, M_B)
    assert good.converged.all()
    cat = lambda a, b: PhotonMeasurement(*(np.concatenate([getattr(a, f), getattr(b, f)]) for f in fields))  # noqa: E731
    mixed = fit_b_mass_constraint(np.concatenate([k_p3, k_p3]), M_K, np.concatenate([cov, cov]),
                                  cat(p1, p1_true), cat(p2, p2), np.r_[np.full(n, 0.7), np.full(n, M_B)])
    assert np.all(mixed.status[:n] == STATUS_NEGATIVE_ENERGY)
    np.testing.assert_array_equal(mixed.status[n:], good.status)
    np.testing.assert_allclose(mixed.chi2[n:], good.chi2)
    assert np.all(mixed.status[n:] == STATUS_CONVERGED)


def test_pulls_with_different_theta_and_phi_errors():
    """σ_θ ≠ σ_φ (issue 20: every other test has σ_θ = σ_φ, so swapping them in the fit
    went unnoticed): the θ and φ pulls of both photons and χ² keep their distributions."""
    rng = np.random.default_rng(7)
    n = 20_000
    k, g1, g2 = _truth(rng, n, rng.uniform(0.5, 4.0, n))
    k_p3, cov, _, _ = _measure(rng, k, g1, g2, smear=True)
    photons = []
    for g in (g1, g2):
        e, th, ph = _angles(g)
        s_e, s_th, s_ph = SIG_E_REL * e, np.full(n, 0.002), np.full(n, 0.015)
        photons.append(PhotonMeasurement(e + s_e * rng.standard_normal(n), th + s_th * rng.standard_normal(n),
                                         ph + s_ph * rng.standard_normal(n), s_e, s_th, s_ph))
    res = fit_b_mass_constraint(k_p3, M_K, cov, photons[0], photons[1], M_B)
    ok = res.converged
    assert ok.mean() > 0.999
    for i, name in enumerate(PARAM_NAMES):
        pulls = res.pulls[ok, i]
        assert abs(np.mean(pulls)) < 0.05, name
        assert abs(np.std(pulls) - 1.0) < 0.05, name
    assert abs(res.chi2[ok].mean() - 1.0) < 0.05
    # fitted minus true angle in units of the fitted error: unit normal for θ and φ of
    # both photons (with σ_θ and σ_φ swapped the fit would claim σ_φ-sized errors on θ)
    for g, i_th in ((g1, 4), (g2, 7)):
        _, th_true, ph_true = _angles(g)
        for i, true in ((i_th, th_true), (i_th + 1, ph_true)):
            resid = np.angle(np.exp(1j * (res.alpha[ok, i] - true[ok])))
            z = resid / np.sqrt(res.var_fit[ok, i])
            assert abs(np.std(z) - 1.0) < 0.05, PARAM_NAMES[i]
    assert np.all(res.var_fit[ok, 4] <= 0.002**2 * (1 + 1e-9))  # the fit never loses precision
