"""Tests of the fidelity report (alpscan.validation.fidelity)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alpscan.validation.fidelity import fidelity_report

SUBDECAY = {"k0_to_ks": 0.5, "ks_to_pipi": 0.692, "kstar_to_kpi": 2.0 / 3.0}


def _sample(rng, widths_after, widths_before, n_selected, n_generated):
    """Gaussian M_γγ at grid masses 1.8 and 2.0 GeV with known widths (GeV)."""
    grid = (1.8, 2.0)
    frames, comps = [], []
    for i, (m, s_after, s_before) in enumerate(zip(grid, widths_after, widths_before)):
        frames.append(pd.DataFrame({
            "component": i,
            "m_gg": rng.normal(m, s_after, n_selected),
            "m_gg_raw": rng.normal(m, s_before, n_selected),
        }))
        comps.append({"m_a": m, "n_generated": n_generated})
    return pd.concat(frames, ignore_index=True), {"components": comps}


def test_sigma_r_before_and_after_fit_interpolated_and_efficiency():
    rng = np.random.default_rng(3)
    cands, meta = _sample(rng, (0.008, 0.012), (0.020, 0.030), 6000, 10000)
    fidelity = {"masses_gev": [1.9, 4.5], "paper_sigma_r_mev": [19.4, 17.9], "fit_half_width_sigmas": 8.0}
    report = fidelity_report({"K0S": (cands, meta)}, fidelity, SUBDECAY)
    at_19, at_45 = report["sigma_r"]["K0S"]
    # halfway between the grid masses: the mean of the two Gaussian widths
    assert at_19["sigma_r_mev"] == pytest.approx(10.0, rel=0.05)
    assert at_19["sigma_r_before_fit_mev"] == pytest.approx(25.0, rel=0.05)
    assert at_19["relative_difference"] == pytest.approx(at_19["sigma_r_mev"] / 19.4 - 1.0)
    assert not at_19["within_15_percent"]
    assert at_45 == {"m_target_gev": 4.5, "available": False}
    eff = report["efficiency"]["K0S"]
    assert eff["efficiency_reco"] == [0.6, 0.6]
    assert eff["mean_efficiency"] == pytest.approx(0.6 * 0.5 * 0.692)
