"""ALP production in B → K(*)a and decay a → γγ for an ALP coupled to SU(2)_L gauge
bosons (Izaguirre, Lin, Shuve 2017): rates, branching fractions and cτ.

Design notes: docs/limits.md.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from particle import Particle
from scipy import constants as _sc

from alpscan.physics.constants import ctau_mm as _ctau_mm
from alpscan.physics.constants import mass_gev

__all__ = [
    "G_FERMI",
    "SIN2_THETA_W",
    "VTB_VTS_STAR",
    "VCB_VCS_STAR",
    "HBARC_GEV_MM",
    "MODES",
    "kallen_lambda",
    "loop_function",
    "f0_ball_zwicky",
    "a0_ball_zwicky",
    "g_abs",
    "g_agamma",
    "width_b_to_k_a",
    "width_b_to_kstar_a",
    "width_a_to_gg",
    "ctau_a_mm",
    "gaw_for_ctau_mm",
    "br_b_to_k_a",
    "gaw_for_br",
    "kinematic_endpoint",
]

#: Fermi constant G_F in GeV⁻² (PDG 2024, 1.1663788(6) × 10⁻⁵ GeV⁻²).
G_FERMI = 1.1663788e-5
#: Weak mixing angle sin²θ_W, MS-bar at m_Z (PDG 2024, 0.23129(4)).  With this value the
#: spec's sanity value cτ ≈ 0.93 m (m_a = 0.2 GeV, g_aW = 10⁻⁵ GeV⁻¹) is reproduced; the
#: on-shell value 0.2234 would give a 15 % longer cτ.
SIN2_THETA_W = 0.23129
#: V_tb V*_ts from the PDG 2024 CKM global fit (|V_tb| = 0.999118, |V_ts| = 0.04110), with
#: the sign of the standard parametrisation (V_ts < 0); the O(λ⁴) imaginary part (1.8 % of
#: |V_ts|, already inside the magnitude) is dropped.
VTB_VTS_STAR = -0.999118 * 0.04110
#: V_cb V*_cs from the PDG 2024 CKM global fit (|V_cb| = 0.04183, |V_cs| = 0.97349).  It
#: multiplies f(m_c²/m_W²) ≈ 2.5 × 10⁻⁴ and changes g_abs by 0.02 % only.
VCB_VCS_STAR = 0.04183 * 0.97349
#: ħc in GeV·mm (CODATA exact, from :mod:`scipy.constants`).
HBARC_GEV_MM = _sc.hbar * _sc.c / (_sc.e * 1e9) * 1e3

#: Ball–Zwicky form-factor parameters (spec §9): f₀ normalisation and pole (GeV²); A₀ two
#: terms, the first with a pole at m_B², the second at 36.78 GeV².
_F0_NORM, _F0_POLE = 0.330, 37.46
_A0_R1, _A0_R2, _A0_POLE2 = 1.364, -0.990, 36.78

#: mode → (B key, daughter key in :data:`alpscan.physics.constants.PDG_NAMES`, vector?).
#: The K⁰ mass is taken from the K⁰_S entry: the PDG quotes one mass for K⁰, K⁰_S and K⁰_L.
MODES = {
    "Kp": ("B+", "K+", False),
    "K0S": ("B0", "K0S", False),
    "Kst0": ("B0", "Kst0", True),
    "Kstp": ("B+", "Kstp", True),
}


@lru_cache(maxsize=None)
def _quark_mass_gev(pdgid: int) -> float:
    """PDG quark mass (GeV) from ``particle`` (t: direct-measurement average; c: MS-bar m_c(m_c))."""
    return float(Particle.from_pdgid(pdgid).mass) / 1000.0


def kallen_lambda(x, y, z):
    """Källén triangle function λ(x, y, z) = x² + y² + z² − 2xy − 2xz − 2yz.

    Parameters
    ----------
    x, y, z : array_like
        Squared masses or dimensionless mass-squared ratios (any consistent unit).

    Returns
    -------
    numpy.ndarray
        λ in the squared unit of the inputs; negative outside the physical region.
    """
    x, y, z = (np.asarray(v, dtype=float) for v in (x, y, z))
    return x * x + y * y + z * z - 2.0 * (x * y + x * z + y * z)


def loop_function(x):
    """Top/charm–W loop function f(x) = x [1 + x (ln x − 1)] / (1 − x)², x = m_q²/m_W².

    Parameters
    ----------
    x : array_like
        m_q²/m_W² (dimensionless, > 0).  The removable singularity at x = 1 is replaced by its
        limit f(1) = 1/2 (second-order expansion for |x − 1| < 10⁻⁴).

    Returns
    -------
    numpy.ndarray
        f(x), dimensionless.
    """
    x = np.asarray(x, dtype=float)
    eps = x - 1.0
    near = np.abs(eps) < 1e-4
    xs = np.where(near, 2.0, x)  # any safe value away from 1
    full = xs * (1.0 + xs * (np.log(xs) - 1.0)) / (1.0 - xs) ** 2
    # expansion around 1: f = 1/2 + eps/3 + O(eps²)
    series = 0.5 + eps / 3.0
    return np.where(near, series, full)


def f0_ball_zwicky(q2):
    """Scalar B → K form factor f₀(q²) = 0.330 / (1 − q²/37.46 GeV²) (Ball–Zwicky).

    Parameters
    ----------
    q2 : array_like
        Momentum transfer squared q² = m_a² in GeV².
    """
    q2 = np.asarray(q2, dtype=float)
    return _F0_NORM / (1.0 - q2 / _F0_POLE)


def a0_ball_zwicky(q2, m_b: float):
    """B → K* form factor A₀(q²) = 1.364/(1 − q²/m_B²) − 0.990/(1 − q²/36.78 GeV²) (Ball–Zwicky).

    Parameters
    ----------
    q2 : array_like
        Momentum transfer squared q² = m_a² in GeV².
    m_b : float
        B-meson mass in GeV (pole of the first term).
    """
    q2 = np.asarray(q2, dtype=float)
    return _A0_R1 / (1.0 - q2 / m_b**2) + _A0_R2 / (1.0 - q2 / _A0_POLE2)


def g_abs(
    g_aw,
    *,
    vtb_vts_star: complex = VTB_VTS_STAR,
    vcb_vcs_star: complex = VCB_VCS_STAR,
    g_fermi: float = G_FERMI,
    m_w: float | None = None,
    m_t: float | None = None,
    m_c: float | None = None,
):
    """Loop-induced ALP–b–s coupling g_abs for a given g_aW.

    ``g_abs = -(3√2 G_F m_W² g_aW / 16π²) Σ_{α=c,t} V_αb V*_αs f(m_α²/m_W²)``.

    Parameters
    ----------
    g_aw : array_like
        ALP–W coupling g_aW in GeV⁻¹.
    vtb_vts_star, vcb_vcs_star : complex, optional
        CKM products V_tb V*_ts and V_cb V*_cs; defaults: PDG 2024 global fit
        (:data:`VTB_VTS_STAR`, :data:`VCB_VCS_STAR`).
    g_fermi : float, optional
        Fermi constant in GeV⁻² (default PDG 2024 :data:`G_FERMI`).
    m_w, m_t, m_c : float, optional
        W, top and charm masses in GeV; default: PDG values from the ``particle`` package
        (m_t direct average, m_c = m̄_c(m̄_c)).

    Returns
    -------
    numpy.ndarray
        g_abs in GeV⁻¹; real for real CKM inputs, complex otherwise (only |g_abs| enters
        the rates).
    """
    m_w = mass_gev("W") if m_w is None else m_w
    m_t = _quark_mass_gev(6) if m_t is None else m_t
    m_c = _quark_mass_gev(4) if m_c is None else m_c
    loop = vtb_vts_star * loop_function(m_t**2 / m_w**2) + vcb_vcs_star * loop_function(
        m_c**2 / m_w**2
    )
    pref = -3.0 * np.sqrt(2.0) * g_fermi * m_w**2 / (16.0 * np.pi**2)
    return pref * np.asarray(g_aw, dtype=float) * loop


def g_agamma(g_aw, *, sin2_theta_w: float = SIN2_THETA_W):
    """ALP–photon coupling g_aγγ = g_aW sin²θ_W (GeV⁻¹).

    Parameters
    ----------
    g_aw : array_like
        g_aW in GeV⁻¹.
    sin2_theta_w : float, optional
        sin²θ_W (default PDG 2024 MS-bar :data:`SIN2_THETA_W`).
    """
    return np.asarray(g_aw, dtype=float) * sin2_theta_w


def _two_body_rate_prefactor(g_aw, m_b: float, **sm):
    """m_B³ |g_abs|² / (64π) in GeV."""
    return m_b**3 * np.abs(g_abs(g_aw, **sm)) ** 2 / (64.0 * np.pi)


def _q2_and_lambda(m_a, m_b: float, m_k: float):
    """q² = m_a² (GeV²) and λ(1, m_K²/m_B², q²/m_B²) of B → K a, zero at and above the
    endpoint m_B − m_K (``m_k`` the mass of the K or K*)."""
    m_a = np.asarray(m_a, dtype=float)
    q2 = m_a**2
    lam = np.clip(kallen_lambda(1.0, m_k**2 / m_b**2, q2 / m_b**2), 0.0, None)
    return q2, np.where(m_a < m_b - m_k, lam, 0.0)


def kinematic_endpoint(mode: str) -> float:
    """Largest ALP mass m_B − m_K(*) (GeV) for ``mode`` (one of :data:`MODES`)."""
    b, k, _ = _mode(mode)
    return mass_gev(b) - mass_gev(k)


def _mode(mode: str):
    try:
        return MODES[mode]
    except KeyError as err:
        raise KeyError(f"unknown mode {mode!r}; known: {sorted(MODES)}") from err


def width_b_to_k_a(m_a, g_aw, b: str = "B+", **sm):
    """Partial width Γ(B → K a) in GeV.

    Parameters
    ----------
    m_a : array_like
        ALP mass in GeV.  Zero is returned above the endpoint m_B − m_K.
    g_aw : array_like
        g_aW in GeV⁻¹ (broadcast with ``m_a``).
    b : {"B+", "B0"}
        Parent: ``"B+"`` → K⁺a, ``"B0"`` → K⁰a (the K⁰ mass equals the K⁰_S one).
    **sm
        Electroweak/CKM inputs forwarded to :func:`g_abs`.

    Returns
    -------
    numpy.ndarray
        Γ in GeV.
    """
    m_b, m_k = mass_gev(b), mass_gev({"B+": "K+", "B0": "K0S"}[b])
    q2, lam = _q2_and_lambda(m_a, m_b, m_k)
    return (
        _two_body_rate_prefactor(g_aw, m_b, **sm)
        * f0_ball_zwicky(q2) ** 2
        * (1.0 - m_k**2 / m_b**2) ** 2
        * np.sqrt(lam)
    )


def width_b_to_kstar_a(m_a, g_aw, b: str = "B0", **sm):
    """Partial width Γ(B → K* a) in GeV (K*(892), narrow-width, summed over K* decays).

    ``m_a`` (zero above the endpoint m_B − m_K*), ``g_aw`` and ``**sm`` as for
    :func:`width_b_to_k_a`; ``b`` is ``"B0"`` (→ K*⁰a) or ``"B+"`` (→ K*⁺a).
    """
    m_b = mass_gev(b)
    q2, lam = _q2_and_lambda(m_a, m_b, mass_gev({"B0": "Kst0", "B+": "Kstp"}[b]))
    return _two_body_rate_prefactor(g_aw, m_b, **sm) * a0_ball_zwicky(q2, m_b) ** 2 * lam**1.5


def width_a_to_gg(m_a, g_aw, *, sin2_theta_w: float = SIN2_THETA_W):
    """Γ(a → γγ) = (g_aW sin²θ_W)² m_a³ / (64π) in GeV.

    Parameters
    ----------
    m_a, g_aw : array_like
        ALP mass (GeV) and coupling g_aW (GeV⁻¹), broadcast together.
    sin2_theta_w : float, optional
        sin²θ_W (default :data:`SIN2_THETA_W`).
    """
    m_a = np.asarray(m_a, dtype=float)
    return g_agamma(g_aw, sin2_theta_w=sin2_theta_w) ** 2 * m_a**3 / (64.0 * np.pi)


def ctau_a_mm(m_a, g_aw, *, sin2_theta_w: float = SIN2_THETA_W):
    """Proper decay length cτ of the ALP in mm, assuming a → γγ is its only decay.

    For m_a < 2 m_W the W coupling opens no other tree-level channel; loop-induced hadronic
    and leptonic decays are neglected (as in the analysis, which sets B(a → γγ) = 100 %), so
    the total width is :func:`width_a_to_gg`.  cτ ∝ 1 / (g_aW² m_a³).

    Parameters as for :func:`width_a_to_gg`; returns cτ in mm (inf for zero coupling or
    mass).
    """
    with np.errstate(divide="ignore"):
        return HBARC_GEV_MM / width_a_to_gg(m_a, g_aw, sin2_theta_w=sin2_theta_w)


def gaw_for_ctau_mm(ctau, m_a, *, sin2_theta_w: float = SIN2_THETA_W):
    """Coupling g_aW (GeV⁻¹) giving proper decay length ``ctau`` (mm) at mass ``m_a`` (GeV).

    Inverse of :func:`ctau_a_mm` (cτ ∝ g_aW⁻²).
    """
    ctau = np.asarray(ctau, dtype=float)
    ref = 1e-5
    return ref * np.sqrt(ctau_a_mm(m_a, ref, sin2_theta_w=sin2_theta_w) / ctau)


def br_b_to_k_a(m_a, g_aw, mode: str, **sm):
    """Branching fraction B(B → K(*) a) for one of the analysis modes.

    ``B = Γ(B → K(*) a) · τ_B / ħ`` with the PDG B⁺ or B⁰ lifetime.  B(a → γγ) = 1 is implied.

    Parameters
    ----------
    m_a : array_like
        ALP mass in GeV.
    g_aw : array_like
        g_aW in GeV⁻¹.
    mode : {"Kp", "K0S", "Kst0", "Kstp"}
        ``Kp``: B⁺ → K⁺a; ``K0S``: **B⁰ → K⁰a** (the full K⁰, *not* K⁰_S: multiply by 1/2 and
        B(K⁰_S → π⁺π⁻) for the reconstructed channel); ``Kst0``: B⁰ → K*⁰a; ``Kstp``:
        B⁺ → K*⁺a (K* summed over its decays).
    **sm
        Electroweak/CKM inputs forwarded to :func:`g_abs`.

    Returns
    -------
    numpy.ndarray
        Branching fraction (dimensionless); zero above the kinematic endpoint.
    """
    b, _, vector = _mode(mode)
    width = (width_b_to_kstar_a if vector else width_b_to_k_a)(m_a, g_aw, b=b, **sm)
    gamma_b = HBARC_GEV_MM / _ctau_mm(b)
    return width / gamma_b


def gaw_for_br(br, m_a, mode: str, **sm):
    """Coupling g_aW (GeV⁻¹) for which B(B → K(*) a) equals ``br`` (B ∝ g_aW², analytic).

    Parameters
    ----------
    br : array_like
        Branching fraction (same convention as :func:`br_b_to_k_a`, i.e. K⁰ not K⁰_S).
    m_a : array_like
        ALP mass in GeV.
    mode : {"Kp", "K0S", "Kst0", "Kstp"}
    **sm
        Electroweak/CKM inputs forwarded to :func:`g_abs`.

    Returns
    -------
    numpy.ndarray
        g_aW ≥ 0 in GeV⁻¹; ``inf`` at or above the kinematic endpoint.
    """
    ref = 1e-5
    br_ref = br_b_to_k_a(m_a, ref, mode, **sm)
    br = np.asarray(br, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = ref * np.sqrt(br / br_ref)
    return np.where(br_ref > 0, out, np.inf)
