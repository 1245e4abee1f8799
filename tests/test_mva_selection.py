"""The selection stage wiring: sample roles, cuts, calibration weights."""

from __future__ import annotations

import numpy as np
import pandas as pd

from alpscan.mva.selection import (
    add_roles,
    fit_frame,
    optimise_cuts,
    passes_cuts,
    region_factor,
    single_cut_performance,
)


def _frame(n, rng, signal_like):
    f = pd.DataFrame({
        "uid": rng.integers(0, 2**62, n),
        "m_gg": rng.uniform(0.1, 4.5, n),
        "weight": np.full(n, 2.0),
        "cs1": rng.beta(5, 1, n) if signal_like else rng.beta(1, 5, n),
        "cs2": rng.beta(3, 1, n) if signal_like else rng.beta(1, 3, n),
        "p_pi0": rng.beta(1, 8, n) if signal_like else rng.beta(2, 2, n),
        "p_eta": rng.beta(1, 8, n) if signal_like else rng.beta(2, 3, n),
        "xsg": rng.beta(1, 3, n),
    })
    return f


def test_training_and_fit_events_are_disjoint():
    rng = np.random.default_rng(1)
    f = add_roles(_frame(20_000, rng, False), "continuum_uu", 0.4, seed=7)
    assert 0.37 < f["is_train"].mean() < 0.43
    fit = fit_frame(f, "bb_charged", {"low": (1, 0), "high": (1, 0)}, None, 1.0)
    assert not set(fit["uid"]) & set(f.loc[f["is_train"], "uid"])
    # the fit weights keep the total yield
    assert np.isclose(fit["weight_fit"].sum(), f["weight"].sum(), rtol=0.05)
    # samples that are never used for training keep every event and their weight
    g = add_roles(_frame(100, rng, False), "data", 0.4, seed=7)
    assert not g["is_train"].any() and np.all(g["weight_fit"] == g["weight"])


def test_cuts_are_applied_per_region_with_strict_inequalities():
    f = pd.DataFrame({"m_gg": [0.5, 0.5, 2.0, 2.0], "cs1": [0.6, 0.5, 0.6, 0.95], "cs2": [0.5, 0.9, 0.9, 0.9],
                      "p_pi0": [0.1, 0.1, 0.1, 0.1], "p_eta": [0.1, 0.1, 0.1, 0.1], "xsg": [0.2, 0.2, 0.2, 0.2]})
    region = {"cs1_min": 0.5, "cs2_min": 0.4, "p_pi0_max": 0.2, "p_eta_max": 0.2, "xsg_max": 0.9}
    cuts = {"low": region, "high": dict(region, cs1_min=0.9)}
    assert list(passes_cuts(f, cuts, 1.0)) == [True, False, False, True]


def test_punzi_cuts_select_signal_like_events():
    rng = np.random.default_rng(2)
    sig = _frame(5_000, rng, True)
    bkg = _frame(50_000, rng, False).assign(weight_fit=1.0)
    xsg = _frame(1_000, rng, False).assign(weight_fit=0.1)
    cuts = optimise_cuts(sig, bkg, xsg, step=0.05, a=3.0, boundary=1.0)
    perf = single_cut_performance(sig, bkg, cuts, 1.0)
    for region in ("low", "high"):
        c = cuts[region]
        assert c["cs1_min"] > 0.1 and c["p_pi0_max"] < 0.95
        assert 0.3 < c["efficiency"] <= 1.0
    assert perf["cs1"]["signal_efficiency"] > 0.5 and perf["cs1"]["background_rejection"] > 0.5
    eff = passes_cuts(sig, cuts, 1.0).mean()
    rej = 1 - passes_cuts(bkg, cuts, 1.0).mean()
    assert eff > 0.3 and rej > 0.95


def test_region_normalisation_factor():
    norms = {"low": (1.2, 0.1), "high": (0.8, 0.1)}
    np.testing.assert_allclose(region_factor(np.array([0.5, 1.0, 3.0]), norms, 1.0), [1.2, 0.8, 0.8])
