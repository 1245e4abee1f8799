"""Luminosity projection of the expected limits (alpscan.stats.projection, issue 16)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alpscan.stats.limit_tables import gaw_table, n_bb_pairs
from alpscan.stats.projection import projected_gaw, scale_profiles

from .test_conversion import CL, PHYSICS, SIGMA_EFF, _longlived, _parabola, _profile_row


def _profiles():
    rows = [_profile_row(m, 0.1, _parabola(1.5, 8.0), _parabola(0.0, 8.0)) | {"bias_events": -0.4}
            for m in (0.5, 1.0, 2.0)]
    return {"Kp": pd.DataFrame(rows), "Kst0": pd.DataFrame(rows)}


def test_scaling_stretches_the_yield_axis_only():
    prof = _profiles()["Kp"]
    big = scale_profiles(prof, 9.0)
    np.testing.assert_allclose(np.vstack(big["asimov_grid"]), 3.0 * np.vstack(prof["asimov_grid"]))
    np.testing.assert_allclose(np.vstack(big["obs_nll"]), np.vstack(prof["obs_nll"]))
    np.testing.assert_allclose(big["obs_n_hat"], 3.0 * prof["obs_n_hat"])
    np.testing.assert_allclose(big["bias_events"], -1.2)
    with pytest.raises(ValueError, match="positive"):
        scale_profiles(prof, 0.0)


def test_unit_factor_is_the_run_itself():
    profiles, masses = _profiles(), [0.5, 1.0, 2.0]
    ll = {m: _longlived(30.0) for m in profiles}
    own = gaw_table(profiles, ll, masses, n_bb=n_bb_pairs(PHYSICS, 711.0), physics=PHYSICS, sigma_eff=SIGMA_EFF, cl=CL)
    same = projected_gaw(profiles, ll, masses, lumi_fb=711.0, target_lumi_fb=711.0, physics=PHYSICS,
                         sigma_eff=SIGMA_EFF, cl=CL)
    pd.testing.assert_frame_equal(own, same)


def test_prompt_alp_limit_falls_like_the_fourth_root_of_the_luminosity():
    """Background-dominated: yield limit × √16, N_BB̄ × 16, so the B limit / 4 and, with
    B ∝ g², the g_aW limit / 2 for a prompt ALP (efficiency independent of g)."""
    profiles, masses = _profiles(), [0.5, 1.0, 2.0]
    kw = dict(physics=PHYSICS, sigma_eff=SIGMA_EFF, cl=CL)
    prompt = {m: _longlived(1e12) for m in profiles}
    now = projected_gaw(profiles, prompt, masses, lumi_fb=711.0, target_lumi_fb=711.0, **kw)
    later = projected_gaw(profiles, prompt, masses, lumi_fb=711.0, target_lumi_fb=16 * 711.0, **kw)
    for col in ("gaw_ul_exp", "gaw_ul_exp_m1", "gaw_ul_exp_p2"):
        np.testing.assert_allclose(later[col] / now[col], 0.5, rtol=2e-3)
