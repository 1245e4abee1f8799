"""Tests of the signal model: grid DSCB fits, interpolation in m_a, long-lived ratio."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alpscan.fitting.dscb import PARAM_NAMES, DSCBParams, dscb_sample
from alpscan.fitting.signal_model import (
    MODEL_PARAMS,
    SignalModel,
    fit_longlived_ratio,
    fit_signal_grid,
    interpolate_signal_model,
    longlived_ratio,
)

from .oracles.window import ratio_table


def truth_shape(m: float) -> DSCBParams:
    """Injected trends: σ's linear in m, a small peak shift, slowly varying tails."""
    return DSCBParams(
        mu=m - 0.002 * m,
        sigma_l=0.006 + 0.004 * m,
        sigma_r=0.005 + 0.003 * m,
        alpha_l=1.2,
        n_l=3.0 + 0.2 * m,
        alpha_r=1.8,
        n_r=6.0,
    )


# ---------------------------------------------------------------------------------------
# Grid fits
# ---------------------------------------------------------------------------------------
def test_grid_fit_recovers_injected_shapes():
    rng = np.random.default_rng(11)
    masses = [0.2, 1.0, 2.5, 4.4]
    n_sel = {0.2: 6000, 1.0: 8000, 2.5: 7000, 4.4: 5000}
    data = {}
    for m in masses:
        x = dscb_sample(rng, n_sel[m], truth_shape(m))
        # A few mis-reconstructed candidates far from the peak: outside the fit window,
        # counted in the efficiency but not in the shape.
        data[m] = np.concatenate([x, rng.uniform(m + 0.5, m + 1.0, 20)])
    n_gen = {m: 100_000 for m in masses}
    tab = fit_signal_grid(data, n_gen, subdecay_factor=0.5)

    assert list(tab["m_a"]) == masses
    assert tab["fit_valid"].all(), tab["message"].tolist()
    for _, row in tab.iterrows():
        t = truth_shape(row["m_a"]).to_dict()
        for k in ("mu", "sigma_l", "sigma_r"):
            pull = (row[k] - t[k]) / row[f"{k}_err"]
            assert abs(pull) < 3.5, (row["m_a"], k, pull)
            assert 0 < row[f"{k}_err"] < 0.1 * t["sigma_r"]  # sensible, not inflated
        for k in ("alpha_l", "n_l", "alpha_r", "n_r"):
            assert abs(row[k] - t[k]) < 4.0 * row[f"{k}_err"] + 1e-9, (row["m_a"], k)
        # Window around the peak, excluding the far-away junk.
        assert row["window_lo"] < t["mu"] - 5 * t["sigma_l"]
        assert t["mu"] + 5 * t["sigma_r"] < row["window_hi"] < row["m_a"] + 0.5
        assert row["n_window"] <= n_sel[row["m_a"]]
        # Efficiency: all selected candidates / generated × sub-decay factor.
        n = n_sel[row["m_a"]] + 20
        eps0 = n / 100_000
        assert row["n_selected"] == n
        assert row["efficiency"] == pytest.approx(0.5 * eps0, rel=1e-12)
        assert row["efficiency_err"] == pytest.approx(
            0.5 * np.sqrt(eps0 * (1 - eps0) / 100_000), rel=1e-9
        )


def test_grid_fit_flags_invalid_rows():
    rng = np.random.default_rng(3)
    data = {
        0.5: dscb_sample(rng, 5000, truth_shape(0.5)),
        1.5: dscb_sample(rng, 12, truth_shape(1.5)),  # far too few events
        2.5: np.full(3000, 2.5),  # no spread: the fit cannot work
    }
    tab = fit_signal_grid(data, {0.5: 50_000, 1.5: 50_000, 2.5: 50_000})
    valid = dict(zip(tab["m_a"], tab["fit_valid"]))
    assert valid == {0.5: True, 1.5: False, 2.5: False}
    assert all(tab.loc[~tab["fit_valid"], "message"].str.len() > 0)
    # The efficiency is still reported for the flagged rows.
    assert tab.set_index("m_a").loc[1.5, "efficiency"] == pytest.approx(12 / 50_000)
    with pytest.raises(KeyError):
        fit_signal_grid(data, {0.5: 50_000})


def test_grid_fit_weighted_efficiency():
    rng = np.random.default_rng(4)
    x = dscb_sample(rng, 4000, truth_shape(1.0))
    w = np.where(rng.random(x.size) < 0.25, 0.0, 1.0 / 0.75)  # training split, f = 25 %
    tab = fit_signal_grid({1.0: x}, {1.0: 40_000}, weights_by_mass={1.0: w})
    row = tab.iloc[0]
    assert row["fit_valid"]
    assert row["efficiency"] == pytest.approx(w.sum() / 40_000)
    eps = w.sum() / 40_000
    assert row["efficiency_err"] == pytest.approx(np.sqrt(np.sum(w**2) * (1 - eps)) / 40_000)
    t = truth_shape(1.0)
    assert abs(row["sigma_r"] - t.sigma_r) < 3.5 * row["sigma_r_err"]


# ---------------------------------------------------------------------------------------
# Interpolation
# ---------------------------------------------------------------------------------------
REL_ERR = {
    "mu": 0.0,
    "sigma_l": 0.02,
    "sigma_r": 0.02,
    "alpha_l": 0.05,
    "n_l": 0.10,
    "alpha_r": 0.05,
    "n_r": 0.10,
    "efficiency": 0.02,
}


def smooth_truth(m):
    """Parameter trends used for the interpolation tests (σ_R rises then falls)."""
    m = np.asarray(m, dtype=float)
    return {
        "mu": m - 0.001 * m**2,
        "sigma_l": 0.007 + 0.005 * m,
        "sigma_r": 0.006 + 0.009 * m - 0.0016 * m**2,
        "alpha_l": 1.1 + 0.05 * m,
        "n_l": 3.0 + 0.3 * m,
        "alpha_r": 1.8 - 0.05 * m,
        "n_r": 6.0 + 0 * m,
        "efficiency": 0.08 + 0.03 * np.sin(m),
    }


def make_table(m, truth, rng=None, invalid=()):
    """A grid table with the given truth, errors REL_ERR (mu: 2 % of σ_R) and, with
    ``rng``, Gaussian scatter of one error."""
    cols = {"m_a": m}
    for k in MODEL_PARAMS:
        err = 0.02 * truth["sigma_r"] if k == "mu" else REL_ERR[k] * np.abs(truth[k])
        val = truth[k] + (0 if rng is None else rng.normal(0, 1, m.size) * err)
        cols[k], cols[f"{k}_err"] = val, err
    tab = pd.DataFrame(cols)
    tab["fit_valid"] = True
    for i in invalid:
        tab.loc[i, ["sigma_r", "n_l", "efficiency"]] = [1.0, 49.0, 0.9]  # garbage
        tab.loc[i, "fit_valid"] = False
    return tab


@pytest.mark.parametrize("smoothing", ["gcv", 1e-4, "poly:3"])
def test_interpolation_exact_for_linear_trends(smoothing):
    m = np.linspace(0.16, 4.5, 25)
    truth = {k: 0.01 + 0.004 * m for k in MODEL_PARAMS}
    truth["mu"] = m - 0.003 + 0.001 * m
    truth["n_l"] = truth["n_r"] = 2.0 + 0.5 * m
    model = interpolate_signal_model(make_table(m, truth), smoothing=smoothing)
    assert model.smoothing == smoothing
    mm = np.linspace(0.16, 4.5, 301)
    p = model.params_at(mm)
    # Widths and tail powers are interpolated in log space (a cubic polynomial only
    # approximates the log of a straight line).
    rtol = 1e-2 if smoothing == "poly:3" else 2e-3
    assert np.allclose(p["sigma_r"], 0.01 + 0.004 * mm, rtol=rtol)
    assert np.allclose(p["mu"], mm - 0.003 + 0.001 * mm, atol=1e-6)
    assert np.allclose(p["n_l"], 2.0 + 0.5 * mm, rtol=rtol)
    assert np.allclose(p["efficiency"], 0.01 + 0.004 * mm, rtol=1e-6)


def _max_mean_dev(model, k_list=MODEL_PARAMS):
    mm = np.linspace(0.2, 4.45, 400)
    p, t = model.params_at(mm), smooth_truth(mm)
    out = {}
    for k in k_list:
        err = 0.02 * t["sigma_r"] if k == "mu" else REL_ERR[k] * np.abs(t[k])
        dev = np.abs(p[k] - t[k]) / err
        out[k] = (dev.max(), dev.mean())
    return out


def test_interpolation_follows_noisy_trends_within_errors():
    """60 grid points scattered by their errors around smooth trends (σ_R(m) rising then
    falling, efficiency ∝ sin): the GCV smoothing spline follows the truth to better
    than one point's error on average and within 1.6 errors everywhere, while plain
    interpolation (λ = 0) follows the noise."""
    rng = np.random.default_rng(5)
    m = np.linspace(0.16, 4.5, 60)
    tab = make_table(m, smooth_truth(m), rng, invalid=(7, 31))
    model = interpolate_signal_model(tab)
    assert isinstance(model, SignalModel)
    assert len(model.table) == 58  # invalid rows not used
    for k, (dmax, dmean) in _max_mean_dev(model).items():
        assert dmax < 1.6, (k, dmax)
        assert dmean < 0.5, (k, dmean)
    rough = _max_mean_dev(interpolate_signal_model(tab, smoothing=0.0))
    assert np.mean([v[1] for v in rough.values()]) > 0.6


def test_interpolation_ignores_invalid_rows_and_rejects_empty():
    m = np.linspace(0.16, 4.5, 30)
    truth = smooth_truth(m)
    clean = interpolate_signal_model(make_table(m, truth))
    dirty = interpolate_signal_model(make_table(m, truth, invalid=(3, 20)))
    mm = np.linspace(0.2, 4.4, 50)
    assert np.allclose(dirty.params_at(mm)["sigma_r"], clean.params_at(mm)["sigma_r"], rtol=0.02)
    tab = make_table(m, truth)
    tab["fit_valid"] = False
    with pytest.raises(ValueError):
        interpolate_signal_model(tab)


def test_params_at_is_vectorised_and_in_domain():
    m = np.linspace(0.16, 4.5, 40)
    model = interpolate_signal_model(make_table(m, smooth_truth(m), np.random.default_rng(2)))
    grid = np.linspace(0.0, 5.0, 12).reshape(3, 4)
    p = model.params_at(grid)
    assert set(p) == set(MODEL_PARAMS)
    for k in MODEL_PARAMS:
        assert p[k].shape == (3, 4)
    for i, mi in enumerate(grid.ravel()):
        s = model.params_at(float(mi))
        assert isinstance(s["sigma_r"], float)
        for k in MODEL_PARAMS:
            assert s[k] == pytest.approx(p[k].ravel()[i], rel=1e-12)
    assert np.all(p["sigma_l"] > 0) and np.all(p["sigma_r"] > 0)
    assert np.all(p["alpha_l"] > 0) and np.all(p["alpha_r"] > 0)
    assert np.all(p["n_l"] > 1) and np.all(p["n_r"] > 1)
    assert np.all(p["efficiency"] >= 0)
    # Held at the edge values outside the grid; mu keeps following m_a.
    out = model.params_at(np.array([0.0, 0.16, 4.5, 5.0]))
    assert out["sigma_r"][0] == pytest.approx(out["sigma_r"][1])
    assert out["sigma_r"][3] == pytest.approx(out["sigma_r"][2])
    assert out["mu"][3] - 5.0 == pytest.approx(out["mu"][2] - 4.5)
    shape = model.shape_at(1.3)
    assert isinstance(shape, DSCBParams) and shape.is_valid()
    assert model.sigma_r(1.3) == pytest.approx(shape.sigma_r)
    frame = model.to_frame([0.5, 1.0, 2.0])
    assert list(frame.columns) == ["m_a", *MODEL_PARAMS] and len(frame) == 3


def test_grid_fit_to_model_end_to_end():
    """Real DSCB fits on samples with a linear σ_R(m): the model follows it."""
    rng = np.random.default_rng(21)
    masses = np.round(np.linspace(0.2, 4.4, 8), 3)
    data = {m: dscb_sample(rng, 4000, truth_shape(m)) for m in masses}
    tab = fit_signal_grid(data, {m: 40_000 for m in masses})
    assert tab["fit_valid"].all()
    model = interpolate_signal_model(tab)
    mm = np.linspace(0.2, 4.4, 50)
    sr = model.params_at(mm)["sigma_r"]
    truth = np.array([truth_shape(x).sigma_r for x in mm])
    typical_err = tab["sigma_r_err"].median()
    assert np.max(np.abs(sr - truth)) < 3 * typical_err
    assert np.all(np.diff(sr) > 0)  # a rising trend stays rising
    assert set(PARAM_NAMES) <= set(model.params_at(1.0))


# ---------------------------------------------------------------------------------------
# Long-lived efficiency ratio
# ---------------------------------------------------------------------------------------
CTAU = np.array([10.0, 50.0, 100.0, 200.0, 300.0, 400.0])


def test_longlived_ratio_shape():
    c = np.linspace(0.0, 5000.0, 2001)
    for params in [(120.0, 1.6, 0.7), (30.0, 0.5, 3.0), (800.0, 4.0, 0.2)]:
        r = longlived_ratio(c, params)
        assert r[0] == 1.0
        assert np.all(r <= 1.0) and np.all(r > 0)
        assert np.all(np.diff(r) < 0)
    # Hand value: c = c0 -> 2^(-q).
    assert longlived_ratio(120.0, (120.0, 1.6, 0.7)) == pytest.approx(2**-0.7)
    assert longlived_ratio(50.0, {"c0_mm": 100.0, "p": 1.0, "q": 1.0}) == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        longlived_ratio(1.0, (-1.0, 1.0, 1.0))


def test_ratio_table_binomial_errors():
    tab = ratio_table(CTAU[:3], [800, 400, 0], 10_000, 1000, 10_000)
    assert list(tab.columns) == [
        "ctau_mm",
        "eff_ll",
        "eff_ll_err",
        "eff_prompt",
        "eff_prompt_err",
        "ratio",
        "ratio_err",
    ]
    assert tab["ratio"].tolist() == pytest.approx([0.8, 0.4, 0.0])
    e_ll, e_p = 0.08, 0.1
    s_ll, s_p = np.sqrt(e_ll * (1 - e_ll) / 1e4), np.sqrt(e_p * (1 - e_p) / 1e4)
    expect = np.sqrt((s_ll / e_p) ** 2 + (0.8 * s_p / e_p) ** 2)
    assert tab["ratio_err"].iloc[0] == pytest.approx(expect)
    assert tab["eff_ll_err"].iloc[2] == pytest.approx(np.sqrt(1e-4 * (1 - 1e-4) / 1e4))
    assert tab["ratio_err"].iloc[2] > 0
    with pytest.raises(ValueError):
        ratio_table(CTAU[:1], [20], [10], 5, 10)


def test_longlived_fit_recovers_injected_parameters():
    truth = np.array([120.0, 1.6, 0.7])
    rng = np.random.default_rng(17)
    ctau = np.array([5.0, 10.0, 25.0, 50.0, 100.0, 200.0, 300.0, 400.0, 800.0, 1500.0])
    n_gen, eps_p = 400_000, 0.1
    k_p = rng.binomial(n_gen, eps_p)
    k = rng.binomial(n_gen, eps_p * longlived_ratio(ctau, truth))
    tab = ratio_table(ctau, k, n_gen, k_p, n_gen)
    params, cov, ok = fit_longlived_ratio(tab["ctau_mm"], tab["ratio"], tab["ratio_err"])
    assert ok
    assert params.shape == (3,) and cov.shape == (3, 3)
    err = np.sqrt(np.diag(cov))
    assert np.all(np.abs(params - truth) < 3.5 * err), (params, err)
    assert np.all(err < 0.2 * truth)  # these statistics do determine the parameters
    c = np.linspace(0, 2000, 500)
    r = longlived_ratio(c, params)
    assert np.all(r <= 1) and np.all(np.diff(r) < 0)
    assert np.max(np.abs(r - longlived_ratio(c, truth))) < 0.02


def test_longlived_fit_pulls_at_paper_ctau_points():
    """The six cτ values of the paper: pulls of the fitted curve at 150 mm."""
    truth = (120.0, 1.6, 0.7)
    rng = np.random.default_rng(23)
    devs, n_ok = [], 0
    for _ in range(40):
        k_p = rng.binomial(50_000, 0.1)
        k = rng.binomial(50_000, 0.1 * longlived_ratio(CTAU, truth))
        tab = ratio_table(CTAU, k, 50_000, k_p, 50_000)
        params, cov, ok = fit_longlived_ratio(tab["ctau_mm"], tab["ratio"], tab["ratio_err"])
        n_ok += ok
        if ok:
            devs.append(longlived_ratio(150.0, params) - longlived_ratio(150.0, truth))
            assert longlived_ratio(0.0, params) == 1.0
            assert np.all(np.diff(longlived_ratio(np.linspace(0, 1000, 100), params)) < 0)
    assert n_ok >= 36
    assert abs(np.mean(devs)) < 0.01 and np.std(devs) < 0.02


def test_longlived_fit_flags_impossible_input():
    params, cov, ok = fit_longlived_ratio([10.0, 50.0], [0.9, 0.5], [0.01, 0.01])
    assert not ok and np.all(np.isnan(params)) and np.all(np.isnan(cov))
    # Rising ratio: the monotone form cannot follow; the fit hits a limit and is flagged.
    params, cov, ok = fit_longlived_ratio(CTAU, np.linspace(0.5, 1.0, 6), np.full(6, 0.001))
    assert not ok
