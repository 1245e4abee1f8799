"""Photophilic ALP with an independent flavour-violating b → s coupling.

Two couplings: g_bs (GeV⁻¹), the ALP–b–s coupling in the normalisation of
:func:`alpscan.physics.alp.g_abs` (Γ(B → K(*)a) ∝ |g_bs|², the same form factors and phase
space as the W-coupled model), and g_aγγ (GeV⁻¹), which alone sets the width,
Γ(a → γγ) = g_aγγ² m_a³/(64π), B(a → γγ) = 1.  Unlike the W-coupled ALP the production rate
and the lifetime are independent: the recast gives the 90 % CL upper limit on g_bs over
(m_a, g_aγγ); small g_aγγ means a long-lived ALP and a weaker limit.
"""

import numpy as np

from alpscan.physics.alp import SIN2_THETA_W, br_b_to_k_a, ctau_a_mm, g_abs

NAME = "Photophilic ALP, b-s coupling"
POI = {"name": "g_bs", "units": "GeV^-1", "label": r"$|g_{bs}|$ UL (90% CL) [GeV$^{-1}$]",
       "reference": 1e-8}  # fmt: skip
SCAN = {"name": "g_agg", "units": "GeV^-1", "label": r"$g_{a\gamma\gamma}$ [GeV$^{-1}$]",
        "values": np.geomspace(1e-7, 1e-3, 5).tolist()}  # fmt: skip

_G_AW_REF = 1e-5  # GeV⁻¹: any value; only the ratio B/|g_abs|² is used


def branching_fraction(mode, m_a, poi, scan):
    """B(B → K(*)a)·B(a → γγ) for ``poi`` = |g_bs| (GeV⁻¹); B(a → γγ) = 1."""
    per_g2 = br_b_to_k_a(m_a, _G_AW_REF, mode) / np.abs(g_abs(_G_AW_REF)) ** 2
    return per_g2 * np.asarray(poi, dtype=float) ** 2


def ctau_mm(m_a, poi, scan):
    """cτ (mm) from g_aγγ = ``scan`` alone (independent of g_bs)."""
    g_agg = float(scan)
    if g_agg <= 0:
        raise ValueError("g_agg must be positive")
    return np.broadcast_to(ctau_a_mm(m_a, g_agg / SIN2_THETA_W), np.shape(poi))
