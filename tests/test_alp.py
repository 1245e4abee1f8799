"""Tests of the Izaguirre–Lin–Shuve ALP rates (alpscan.physics.alp)."""

from __future__ import annotations

import numpy as np
import pytest

from alpscan.physics import alp
from alpscan.physics.constants import mass_gev

MODES = ["Kp", "K0S", "Kst0", "Kstp"]
G_REF = 1e-5  # GeV^-1


def test_kallen_lambda_hand_value():
    # λ(1, 0.25, 0.16) = 1 + 0.0625 + 0.0256 - 0.5 - 0.32 - 0.08 = 0.1881
    assert alp.kallen_lambda(1.0, 0.25, 0.16) == pytest.approx(0.1881, abs=1e-14)
    # symmetric in its arguments, zero at threshold (√x = √y + √z)
    assert alp.kallen_lambda(0.16, 1.0, 0.25) == pytest.approx(0.1881, abs=1e-14)
    assert alp.kallen_lambda(0.9**2, 0.5**2, 0.4**2) == pytest.approx(0.0, abs=1e-14)


def test_kallen_lambda_gives_two_body_momentum():
    m_b, m_k, m_a = 5.27941, 0.493677, 1.0
    e_k = (m_b**2 + m_k**2 - m_a**2) / (2 * m_b)
    p_hand = np.sqrt(e_k**2 - m_k**2)
    p_lam = np.sqrt(alp.kallen_lambda(m_b**2, m_k**2, m_a**2)) / (2 * m_b)
    assert p_lam == pytest.approx(p_hand, rel=1e-12)


def test_loop_function():
    # f(4) = 4 (1 + 4 (ln 4 - 1)) / 9
    assert alp.loop_function(4.0) == pytest.approx(4 * (1 + 4 * (np.log(4) - 1)) / 9, rel=1e-14)
    assert alp.loop_function(4.0) == pytest.approx(1.131190, abs=1e-6)
    # removable singularity at x = 1: f -> 1/2, continuous across the switch to the series
    x = np.array(
        [1 - 2e-4, 1 - 1e-4 - 1e-9, 1 - 0.5e-4, 1.0, 1 + 0.5e-4, 1 + 1e-4 + 1e-9, 1 + 2e-4]
    )
    f = alp.loop_function(x)
    assert f[3] == pytest.approx(0.5, abs=1e-15)
    assert np.all(np.diff(f) > 0)
    assert np.allclose(f, 0.5 + (x - 1) / 3, atol=1e-7)
    # small x (charm): f ≈ x
    assert alp.loop_function(1e-4) == pytest.approx(1e-4, rel=2e-3)


def test_g_abs_dominated_by_top():
    m_w, m_t = mass_gev("W"), 172.6
    top_only = (
        3
        * np.sqrt(2)
        * alp.G_FERMI
        * m_w**2
        * G_REF
        / (16 * np.pi**2)
        * abs(alp.VTB_VTS_STAR)
        * alp.loop_function(m_t**2 / m_w**2)
    )
    g = alp.g_abs(G_REF, m_t=m_t)
    assert abs(g) == pytest.approx(top_only, rel=2e-3)  # charm loop ~ 2e-4 relative
    assert abs(g) == pytest.approx(1.0e-9, rel=0.03)
    # linear in g_aW and vectorised
    gs = alp.g_abs(np.array([1e-6, 2e-6, 4e-6]))
    assert np.allclose(gs / gs[0], [1, 2, 4])


@pytest.mark.parametrize("mode", MODES)
def test_width_scales_as_g_squared(mode):
    m = np.linspace(0.2, 3.5, 12)
    b1 = alp.br_b_to_k_a(m, G_REF, mode)
    b3 = alp.br_b_to_k_a(m, 3 * G_REF, mode)
    assert np.all(b1 > 0)
    assert np.allclose(b3 / b1, 9.0, rtol=1e-12)


def test_width_functions_broadcast():
    m = np.array([[0.5], [1.0]])
    g = np.array([1e-6, 1e-5, 1e-4])
    assert alp.width_b_to_k_a(m, g).shape == (2, 3)
    assert alp.width_b_to_kstar_a(m, g, b="B+").shape == (2, 3)
    assert alp.ctau_a_mm(m, g).shape == (2, 3)
    assert alp.br_b_to_k_a(m, g, "Kst0").shape == (2, 3)


def test_a_to_gg_scaling():
    m = np.array([0.1, 0.2, 0.5, 1.0, 3.0])
    w = alp.width_a_to_gg(m, G_REF)
    assert np.allclose(w / w[3], m**3, rtol=1e-12)
    assert alp.width_a_to_gg(1.0, 2 * G_REF) == pytest.approx(4 * w[3], rel=1e-12)
    # hand value: (g sin²θ_W)² m³ / 64π
    assert w[3] == pytest.approx((G_REF * alp.SIN2_THETA_W) ** 2 / (64 * np.pi), rel=1e-12)
    # cτ ∝ 1/(g² m³); Γ ∝ (sin²θ_W)²
    assert alp.ctau_a_mm(0.5, 2 * G_REF) == pytest.approx(alp.ctau_a_mm(0.5, G_REF) / 4, rel=1e-12)
    assert alp.ctau_a_mm(1.0, G_REF, sin2_theta_w=0.5 * alp.SIN2_THETA_W) == pytest.approx(
        4 * alp.ctau_a_mm(1.0, G_REF), rel=1e-12
    )


def test_sanity_values_spec():
    """Spec §9 / brief: B(B+→K+a) ≈ 1.9–2e-7, cτ ≈ 7.4 mm (1 GeV), 0.93 m (0.2 GeV)."""
    br = float(alp.br_b_to_k_a(1.0, G_REF, "Kp"))
    assert 1.85e-7 < br < 2.05e-7
    assert float(alp.ctau_a_mm(1.0, G_REF)) == pytest.approx(7.4, abs=0.1)
    assert float(alp.ctau_a_mm(0.2, G_REF)) == pytest.approx(930.0, rel=0.01)
    # both cτ values are the same statement (cτ ∝ m⁻³): 7.4 mm × 5³ = 0.93 m
    assert alp.ctau_a_mm(0.2, G_REF) / alp.ctau_a_mm(1.0, G_REF) == pytest.approx(125.0, rel=1e-12)


def test_neutral_vs_charged_k_ratio_is_lifetime_ratio():
    # B0 -> K0 a vs B+ -> K+ a differ by the lifetimes and tiny mass differences only
    from alpscan.physics.constants import ctau_mm

    ratio = alp.br_b_to_k_a(1.0, G_REF, "K0S") / alp.br_b_to_k_a(1.0, G_REF, "Kp")
    assert ratio == pytest.approx(ctau_mm("B0") / ctau_mm("B+"), rel=0.01)


@pytest.mark.parametrize("mode,power", [("Kp", 0.5), ("K0S", 0.5), ("Kst0", 1.5), ("Kstp", 1.5)])
def test_kinematic_endpoint(mode, power):
    end = alp.kinematic_endpoint(mode)
    b, k, _ = alp.MODES[mode]
    assert end == pytest.approx(mass_gev(b) - mass_gev(k), rel=1e-12)
    assert alp.br_b_to_k_a(end, G_REF, mode) == 0.0
    assert alp.br_b_to_k_a(end + 0.1, G_REF, mode) == 0.0
    # rate -> 0 as m_a -> endpoint, with the threshold power λ^{1/2} (K) or λ^{3/2} (K*)
    d = np.array([1e-2, 1e-3, 1e-4, 1e-5])
    br = alp.br_b_to_k_a(end - d, G_REF, mode)
    assert np.all(np.diff(br) < 0)
    assert br[-1] / alp.br_b_to_k_a(1.0, G_REF, mode) < 0.02
    assert br[2] / br[3] == pytest.approx(10**power, rel=2e-3)


def test_gaw_for_br_roundtrip():
    m = np.array([0.2, 1.0, 2.5, 4.0])
    for mode in MODES:
        g = alp.gaw_for_br(3e-8, m, mode)
        assert np.allclose(alp.br_b_to_k_a(m, g, mode), 3e-8, rtol=1e-12)
    # sanity: B = 1.9-2e-7 at 1e-5  <=>  g(B = 1e-7) = 1e-5 / sqrt(2)
    assert float(
        alp.gaw_for_br(float(alp.br_b_to_k_a(1.0, G_REF, "Kp")), 1.0, "Kp")
    ) == pytest.approx(G_REF)
    assert np.isinf(alp.gaw_for_br(1e-7, 5.0, "Kp"))


def test_gaw_for_ctau_roundtrip():
    m = np.array([0.2, 1.0, 3.0])
    g = alp.gaw_for_ctau_mm(100.0, m)
    assert np.allclose(alp.ctau_a_mm(m, g), 100.0, rtol=1e-12)


def test_unknown_mode():
    with pytest.raises(KeyError):
        alp.br_b_to_k_a(1.0, G_REF, "Kpi")


# ---------------------------------------------------------------------------------------
# Absolute rates of every mode from the formulas, written out by hand (issue 20)
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["Kp", "K0S", "Kst0", "Kstp"])
def test_absolute_rates_by_hand(mode):
    """Γ(B → K(*) a) at several masses from the formulas of the module docstring with the
    Ball–Zwicky numbers typed here: f₀ = 0.330/(1 − q²/37.46), A₀ = 1.364/(1 − q²/m_B²)
    − 0.990/(1 − q²/36.78).  A changed form-factor constant or pole changes the rate."""
    from alpscan.physics.alp import br_b_to_k_a, g_abs
    from alpscan.physics.constants import ctau_mm, mass_gev

    b, k = {"Kp": ("B+", "K+"), "K0S": ("B0", "K0S"), "Kst0": ("B0", "Kst0"), "Kstp": ("B+", "Kstp")}[mode]
    m_b, m_k = mass_gev(b), mass_gev(k)
    g = 1e-5
    pref = m_b**3 * abs(float(g_abs(g))) ** 2 / (64.0 * np.pi)
    hbarc_gev_mm = 1.973269804e-13
    gamma_b = hbarc_gev_mm / ctau_mm(b)
    for m_a in (0.2, 1.0, 2.0, 3.0, 4.0):
        q2 = m_a**2
        x, y, z = 1.0, (m_k / m_b) ** 2, q2 / m_b**2
        lam = x * x + y * y + z * z - 2 * x * y - 2 * x * z - 2 * y * z
        if mode in ("Kp", "K0S"):
            f0 = 0.330 / (1.0 - q2 / 37.46)
            width = pref * f0**2 * (1.0 - (m_k / m_b) ** 2) ** 2 * np.sqrt(lam)
        else:
            a0 = 1.364 / (1.0 - q2 / m_b**2) - 0.990 / (1.0 - q2 / 36.78)
            width = pref * a0**2 * lam**1.5
        assert float(br_b_to_k_a(m_a, g, mode)) == pytest.approx(width / gamma_b, rel=1e-9), m_a


def test_form_factor_values_at_reference_points():
    """f₀(0) = 0.330, A₀(0) = 0.374, and their values at q² = 4 and 16 GeV² by hand."""
    from alpscan.physics.alp import a0_ball_zwicky, f0_ball_zwicky

    m_b = 5.279
    assert float(f0_ball_zwicky(0.0)) == pytest.approx(0.330, rel=1e-12)
    assert float(f0_ball_zwicky(16.0)) == pytest.approx(0.330 / (1 - 16 / 37.46), rel=1e-12)
    assert float(a0_ball_zwicky(0.0, m_b)) == pytest.approx(1.364 - 0.990, rel=1e-12)
    assert float(a0_ball_zwicky(4.0, m_b)) == pytest.approx(1.364 / (1 - 4 / m_b**2) - 0.990 / (1 - 4 / 36.78),
                                                            rel=1e-12)
