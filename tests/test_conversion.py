"""The conversion of yield limits into B(B → K(*)a) and g_aW limits (stats.limit_tables), on
synthetic profile-likelihood curves (issue 20: previously only 1e-7 < g_aW < 1e-2 was
checked, in the workflow test)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from alpscan.physics.alp import br_b_to_k_a, ctau_a_mm
from alpscan.stats.limits import ProfileCurve, yield_limits
from alpscan.stats.limit_tables import b_fraction, gaw_table, n_bb_pairs

PHYSICS = {"n_bb_pairs_ref": 772.0e6, "lumi_ref_fb": 711.0, "f_charged": 0.514, "f_neutral": 0.486}
SIGMA_EFF, CL = 0.223, 0.9


def _parabola(s_hat: float, sigma: float) -> ProfileCurve:
    """−ln L = ½ (s − ŝ)²/σ² on a wide grid (events)."""
    grid = np.linspace(s_hat - 8 * sigma, s_hat + 12 * sigma, 81)
    return ProfileCurve(grid, 0.5 * ((grid - s_hat) / sigma) ** 2, s_hat, 0.0)


def _profile_row(m_a, eff, obs, asi, sigma_r=0.01):
    return {"m_a": m_a, "efficiency": eff, "k_events_per_br": np.nan, "bias_events": 0.0, "sigma_r": sigma_r,
            "ok": True, "obs_grid": obs.n_sig.tolist(), "obs_nll": obs.nll.tolist(), "obs_n_hat": obs.n_hat,
            "obs_nll_hat": obs.nll_hat, "asimov_grid": asi.n_sig.tolist(), "asimov_nll": asi.nll.tolist(),
            "asimov_n_hat": asi.n_hat, "asimov_nll_hat": asi.nll_hat}


def _longlived(c0_mm: float) -> pd.DataFrame:
    """Long-lived/prompt efficiency ratio r(cτ) = [1 + (cτ/c0)]^(−1) at every mass."""
    return pd.DataFrame({"m_a": [0.5, 4.0], "c0_mm": [c0_mm, c0_mm], "p": [1.0, 1.0], "q": [1.0, 1.0],
                         "fit_ok": [True, True]})


def test_n_bb_and_b_fractions():
    assert n_bb_pairs(PHYSICS, 711.0) == pytest.approx(772.0e6, rel=1e-12)
    assert n_bb_pairs(PHYSICS, 40.0) == pytest.approx(772.0e6 * 40.0 / 711.0, rel=1e-12)
    assert b_fraction("Kp", PHYSICS) == 0.514 and b_fraction("Kstp", PHYSICS) == 0.514
    assert b_fraction("K0S", PHYSICS) == 0.486 and b_fraction("Kst0", PHYSICS) == 0.486


@pytest.mark.parametrize("mode, m_a, c0_mm", [("Kp", 1.0, 1e9), ("Kst0", 2.5, 1e9), ("K0S", 0.6, 30.0)])
def test_gaw_limit_solves_the_yield_equation(mode, m_a, c0_mm):
    """One mode: the g_aW limit g is where the expected yield 2 N_BB̄ f ε B(m_a, g) r(cτ(m_a, g))
    equals the event-yield limit of the same curves; with a short c0 the efficiency ratio
    is evaluated at the decay length of g itself (self-consistent)."""
    n_bb = n_bb_pairs(PHYSICS, 711.0)
    eff = 0.12
    obs, asi = _parabola(2.0, 6.0), _parabola(0.0, 6.0)
    events = yield_limits(obs, asi, sigma_eff=SIGMA_EFF, cl=CL)
    profiles = {mode: pd.DataFrame([_profile_row(m_a, eff, obs, asi)])}
    table = gaw_table(profiles, {mode: _longlived(c0_mm)}, [m_a], n_bb=n_bb, physics=PHYSICS,
                      sigma_eff=SIGMA_EFF, cl=CL)
    k = 2.0 * n_bb * b_fraction(mode, PHYSICS) * eff

    def expected_yield(g):
        return k * float(br_b_to_k_a(m_a, g, mode)) / (1.0 + float(ctau_a_mm(m_a, g)) / c0_mm)

    for col, target in (("gaw_ul_obs", events.observed), ("gaw_ul_exp", events.median)):
        g_hand = optimize.brentq(lambda lg: expected_yield(10.0**lg) - target, -9.0, 0.0, xtol=1e-12)
        assert float(table[col].iloc[0]) == pytest.approx(10.0**g_hand, rel=2e-3), col
    assert int(table["n_modes"].iloc[0]) == 1


def test_gaw_limit_without_modes_nearby_is_nan():
    obs, asi = _parabola(0.0, 5.0), _parabola(0.0, 5.0)
    profiles = {"Kp": pd.DataFrame([_profile_row(1.0, 0.1, obs, asi, sigma_r=0.01)])}
    table = gaw_table(profiles, {"Kp": _longlived(1e9)}, [1.5], n_bb=1e9, physics=PHYSICS,
                      sigma_eff=SIGMA_EFF, cl=CL)
    assert np.isnan(table["gaw_ul_obs"].iloc[0]) and int(table["n_modes"].iloc[0]) == 0


def test_branching_fraction_limit_is_yield_limit_over_2_nbb_f_eff():
    """limits_table: B limit = (event-yield limit of the point's own profile curves) /
    (2 N_BB̄ f ε), with ε the scan fit's in-window efficiency."""
    from alpscan.fitting.scan import fit_points
    from alpscan.fitting.signal_model import interpolate_signal_model
    from alpscan.stats.limit_tables import limits_table, _curve_from_row

    from .test_scan import linear_table

    model = interpolate_signal_model(linear_table(np.linspace(0.16, 4.5, 40)))
    rng = np.random.default_rng(4)
    m_data = 0.1 + rng.exponential(1.5, 40000)
    points = np.array([1.2, 2.7])
    fits = fit_points(m_data, None, points, model, None, window_width_factor=9.0)
    toys = pd.DataFrame({"m_a": points, "bias": [0.1, -0.2], "sigma_sig": [4.0, 3.0], "fit_ok": [True, True]})
    n_bb, f_b = 3.0e8, 0.486
    scan, prof = limits_table(m_data, fits, toys, model, None, mode="K0S", window_width_factor=9.0, n_bb=n_bb,
                              f_b=f_b, sigma_eff=SIGMA_EFF, cl=CL, n_profile_points=32)
    assert scan["fit_ok"].all()
    k = 2.0 * n_bb * f_b * fits["efficiency"].to_numpy()
    np.testing.assert_allclose(prof["k_events_per_br"], k, rtol=1e-12)
    for i in range(points.size):
        row = prof.iloc[i]
        events = yield_limits(_curve_from_row(row, "obs"), _curve_from_row(row, "asimov"),
                              bias_events=float(row["bias_events"]), sigma_eff=SIGMA_EFF, cl=CL)
        assert float(row["bias_events"]) == pytest.approx(float(toys["bias"][i] * toys["sigma_sig"][i]))
        assert float(scan["br_ul_obs"].iloc[i]) == pytest.approx(events.observed / k[i], rel=1e-9)
        assert float(scan["br_ul_exp"].iloc[i]) == pytest.approx(events.median / k[i], rel=1e-9)
