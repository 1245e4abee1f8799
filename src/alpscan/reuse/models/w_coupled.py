"""ALP coupled to the SU(2)_L gauge bosons only (g_aW), the benchmark of arXiv:2507.01249.

B → K(*)a through the loop-induced b–s–a coupling and a → γγ with g_aγγ = g_aW sin²θ_W
(B(a → γγ) = 1); the ALP lifetime follows from the same coupling, so heavy couplings decay
promptly and small ones are long-lived.  Rates: :mod:`alpscan.physics.alp` (spec §9).
Recasting this model reproduces the workflow's g_aW limit.

Template of a user model: ``NAME``, ``POI``, ``SCAN`` and the two functions below
(see :mod:`alpscan.reuse.recast`).
"""

import numpy as np

from alpscan.physics.alp import br_b_to_k_a, ctau_a_mm

NAME = "W-coupled ALP"
POI = {"name": "g_aW", "units": "GeV^-1", "label": r"$g_{aW}$ upper limit (90% CL) [GeV$^{-1}$]",
       "reference": 1e-5}  # fmt: skip
SCAN = None


def branching_fraction(mode, m_a, poi, scan=None):
    """B(B → K(*)a)·B(a → γγ) for coupling ``poi`` = g_aW (GeV⁻¹); B(a → γγ) = 1."""
    return br_b_to_k_a(m_a, poi, mode)


def ctau_mm(m_a, poi, scan=None):
    """cτ (mm) of an ALP with only the γγ decay, g_aγγ = g_aW sin²θ_W."""
    with np.errstate(divide="ignore"):
        return ctau_a_mm(m_a, np.where(np.asarray(poi) > 0, poi, 1e-300))
