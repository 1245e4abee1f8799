"""The fit windows shared by the fit, toy and limit tests: a signal DSCB at 1.5 GeV in a
window 9·(σ_L + σ_R) wide, and a 0.501–0.699 GeV window around a 0.6 GeV signal with an
η-like peak partly inside and an η_c-like peak (constrained in the tests that use it)."""

from __future__ import annotations

from alpscan.fitting.dscb import DSCBParams
from alpscan.fitting.window_model import PeakingComponent

SIG = DSCBParams(1.500, 0.0105, 0.0090, 1.2, 4.0, 1.6, 6.0)
HALF = 4.5 * (SIG.sigma_l + SIG.sigma_r)
LO, HI = SIG.mu - HALF, SIG.mu + HALF

PLO, PHI = 0.501, 0.699
PSIG = DSCBParams(0.600, 0.012, 0.010, 1.2, 4.0, 1.8, 6.0)
ETA = PeakingComponent("eta", DSCBParams(0.548, 0.013, 0.011, 1.1, 4.0, 1.8, 6.0))
ETAC = PeakingComponent("etac", DSCBParams(0.620, 0.014, 0.012, 1.1, 4.0, 1.8, 6.0))
