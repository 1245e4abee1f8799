"""Tests of the mass scan: scan points, per-point fits, chunking, control mode."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from alpscan.fitting.dscb import DSCBParams, dscb_pdf, dscb_window_fraction
from alpscan.fitting.scan import (
    DEFAULT_VETOES,
    branching_fraction,
    chunk_of,
    chunk_points,
    fit_control_eta,
    fit_point,
    fit_points,
    prepare_data,
    scan_points,
    select_peaking,
)
from alpscan.fitting.signal_model import MODEL_PARAMS, interpolate_signal_model

from .oracles.window import chebyshev_background_pdf, sample_window

POLY = (-0.2, 0.05)


def linear_table(m):
    """Grid table with smooth (linear) trends and small errors."""
    vals = {
        "mu": m - 0.001,
        "sigma_l": 0.008 + 0.004 * m,
        "sigma_r": 0.007 + 0.003 * m,
        "alpha_l": 1.2 + 0 * m,
        "n_l": 3.0 + 0 * m,
        "alpha_r": 1.8 + 0 * m,
        "n_r": 6.0 + 0 * m,
        "efficiency": 0.08 + 0.01 * m,
    }
    tab = pd.DataFrame({"m_a": m, **vals})
    for k in MODEL_PARAMS:
        tab[f"{k}_err"] = 0.01 * np.abs(tab[k]) + 1e-5
    tab["fit_valid"] = True
    return tab


@pytest.fixture(scope="module")
def model():
    return interpolate_signal_model(linear_table(np.linspace(0.16, 4.5, 40)))


def window_of(model, m_a, factor=9.0):
    s = model.shape_at(m_a)
    half = 0.5 * factor * (s.sigma_l + s.sigma_r)
    return s, m_a - half, m_a + half


# ---------------------------------------------------------------------------------------
# Scan points
# ---------------------------------------------------------------------------------------
def test_scan_points_step_vetoes_and_ends(model):
    pts = scan_points(model, m_start=0.160, m_stop=4.50)
    assert pts[0] == 0.160
    assert pts[-1] <= 4.50 < pts[-1] + model.sigma_r(pts[-1])
    assert np.all(np.diff(pts) > 0)
    for lo, hi in DEFAULT_VETOES:
        assert not np.any((pts > lo) & (pts < hi))
        assert hi in pts  # the scan resumes at the upper edge of the veto
    # Every step is σ_R of the previous point, except the jumps over the vetoes.
    steps = np.diff(pts)
    expect = model.sigma_r(pts[:-1])
    jump = np.isin(pts[1:], [hi for _, hi in DEFAULT_VETOES])
    assert np.allclose(steps[~jump], expect[~jump], rtol=1e-12)
    assert np.all(steps[jump] > expect[jump])
    assert jump.sum() == 2
    # Same with a plain callable, a different stop and no vetoes.
    pts2 = scan_points(lambda m: 0.01 + 0.0 * m, m_start=0.16, m_stop=0.2051, vetoes=())
    assert np.allclose(pts2, 0.16 + 0.01 * np.arange(5))


def test_scan_points_invalid_step():
    with pytest.raises(ValueError):
        scan_points(lambda m: 0.0)
    with pytest.raises(ValueError):
        scan_points(lambda m: np.nan)
    with pytest.raises(ValueError):
        scan_points(lambda m: 0.01, m_start=1.0, m_stop=0.5)


def test_chunking_is_deterministic_and_complete():
    pts = np.linspace(0.16, 4.5, 317)
    chunks = chunk_points(pts, 10)
    assert len(chunks) == 10
    assert np.array_equal(np.concatenate(chunks), pts)
    sizes = [c.size for c in chunks]
    assert max(sizes) - min(sizes) <= 1
    for i in range(10):
        assert np.array_equal(chunk_of(pts, i, 10), chunks[i])
        assert np.array_equal(chunk_of(pts, i, 10), chunk_points(pts, 10)[i])
    assert sum(c.size for c in chunk_points(pts[:3], 5)) == 3
    with pytest.raises(ValueError):
        chunk_of(pts, 10, 10)
    with pytest.raises(ValueError):
        chunk_points(pts, 0)


# ---------------------------------------------------------------------------------------
# Fits at one point
# ---------------------------------------------------------------------------------------
def test_fit_point_returns_injected_yield(model):
    m_a = 2.0
    shape, lo, hi = window_of(model, m_a)
    rng = np.random.default_rng(31)
    inside = sample_window(rng, 200.0, 1500.0, POLY, shape, (), lo, hi)
    outside = rng.uniform(0.5, 4.0, 5000)
    outside = outside[(outside < lo) | (outside > hi)]
    data = np.concatenate([inside, outside])
    r = fit_point(data, None, m_a, model, None, minos=True)
    assert r["fit_ok"] and r["fit_ok_free"] and r["fit_ok_null"] and r["message"] == "ok"
    assert r["n_events"] == inside.size
    assert abs(r["n_sig"] - 200.0) < 3 * r["n_sig_err"]
    assert r["n_sig_err_lo"] < 0 < r["n_sig_err_hi"]
    assert r["significance"] > 4
    # Window: width 9·(σ_L + σ_R), centred on m_a; shape and efficiency from the model.
    assert r["window_hi"] - r["window_lo"] == pytest.approx(9 * (shape.sigma_l + shape.sigma_r))
    assert 0.5 * (r["window_hi"] + r["window_lo"]) == pytest.approx(m_a)
    assert r["sigma_r"] == pytest.approx(shape.sigma_r)
    assert r["efficiency_total"] == pytest.approx(0.08 + 0.01 * m_a, rel=1e-3)
    frac = dscb_window_fraction(shape, lo, hi)
    assert r["window_fraction"] == pytest.approx(frac)
    assert r["efficiency"] == pytest.approx(r["efficiency_total"] * frac)
    assert 0.95 < frac < 1.0
    # Unit weights (and zero-weight training events) are accepted; others are not.
    w = np.ones(data.size)
    extra = np.full(50, m_a)
    r_w = fit_point(
        np.concatenate([data, extra]), np.concatenate([w, np.zeros(50)]), m_a, model, None
    )
    assert r_w["n_sig"] == pytest.approx(r["n_sig"], rel=1e-6)
    with pytest.raises(ValueError):
        fit_point(data, 0.5 * w, m_a, model, None)


def test_fit_point_pulls_and_speed(model):
    """≥ 200 pseudo-datasets, ~1500 background and 30 signal events in the window."""
    m_a, n_gen = 1.5, 30.0
    shape, lo, hi = window_of(model, m_a)
    rng = np.random.default_rng(20250701)
    fit_point(sample_window(rng, n_gen, 1500.0, POLY, shape, (), lo, hi), None, m_a, model)
    pulls = []
    for _ in range(300):
        x = sample_window(rng, n_gen, 1500.0, POLY, shape, (), lo, hi)
        r = fit_point(x, None, m_a, model)
        assert r["fit_ok"], r["message"]
        pulls.append((r["n_sig"] - n_gen) / r["n_sig_err"])
    pulls = np.asarray(pulls)
    assert abs(pulls.mean()) < 0.15, pulls.mean()
    assert abs(pulls.std(ddof=1) - 1.0) < 0.1, pulls.std(ddof=1)


def _hand_nll(x, n_sig, n_bkg, c1, c2, shape, lo, hi):
    lam = n_sig * dscb_pdf(x, *shape.as_tuple(), lo=lo, hi=hi) + n_bkg * chebyshev_background_pdf(
        x, c1, c2, lo, hi
    )
    if np.any(lam <= 0):
        return 1e30
    return n_sig + n_bkg - np.sum(np.log(lam))


def test_significance_hand_computed(model):
    """S from fit_point equals sign(N)·√(2ΔNLL) with both NLL minima recomputed by an
    independent minimisation (scipy) of the hand-written extended likelihood."""
    m_a = 3.1
    shape, lo, hi = window_of(model, m_a)
    rng = np.random.default_rng(41)
    for n_inj, keep_frac in [(60.0, 1.0), (0.0, 0.4)]:
        x = sample_window(rng, n_inj, 900.0, POLY, shape, (), lo, hi)
        if keep_frac < 1:  # carve a deficit at the peak -> negative S
            near = np.abs(x - shape.mu) < 1.5 * shape.sigma_r
            x = x[~near | (rng.random(x.size) < keep_frac)]
        r = fit_point(x, None, m_a, model)
        assert r["fit_ok"]

        def nll_free(p):
            return _hand_nll(x, p[0], p[1], p[2], p[3], shape, lo, hi)

        def nll_null(p):
            return _hand_nll(x, 0.0, p[0], p[1], p[2], shape, lo, hi)

        opt = dict(method="Nelder-Mead", options=dict(xatol=1e-6, fatol=1e-9, maxiter=20000))
        f1 = optimize.minimize(nll_free, [max(r["n_sig"], 1.0), x.size, -0.1, 0.0], **opt)
        f0 = optimize.minimize(nll_null, [x.size, -0.1, 0.0], **opt)
        s_hand = np.sign(f1.x[0]) * np.sqrt(2 * max(f0.fun - f1.fun, 0.0))
        assert r["nll_free"] == pytest.approx(f1.fun, abs=2e-3)
        assert r["nll_null"] == pytest.approx(f0.fun, abs=2e-3)
        assert r["significance"] == pytest.approx(s_hand, abs=0.02)
        assert r["significance"] == pytest.approx(
            np.sign(r["n_sig"]) * np.sqrt(2 * (r["nll_null"] - r["nll_free"])), rel=1e-12
        )
        assert np.sign(r["significance"]) == (1 if n_inj > 0 else -1)


def test_peaking_components_selection_and_constraint(model):
    m_a = 2.975
    shape, lo, hi = window_of(model, m_a)
    # η_c-like peak 9 MeV above the hypothesis, same resolution as the signal.
    etac = DSCBParams(2.984, shape.sigma_l, shape.sigma_r, 1.2, 3.0, 1.8, 6.0)
    far = DSCBParams(0.548, 0.013, 0.011, 1.1, 4.0, 1.8, 6.0)
    tiny = DSCBParams(2.90, 0.020, 0.017, 1.2, 3.0, 1.8, 6.0)
    spec = {
        "etac": (etac, 100.0, 20.0),  # constrained, inside
        "eta": (far, 1e5, None),  # far away: dropped
        "tiny": (tiny, 0.2, None),  # expected < 0.5 events: dropped
        "free": (tiny, None, None),  # unknown yield: kept
    }
    comps, cons, names = select_peaking(spec, lo, hi)
    assert names == ["etac", "free"]
    f = dscb_window_fraction(etac, lo, hi)
    assert cons[0].name == "etac"
    assert cons[0].mean == pytest.approx(100.0 * f) and cons[0].sigma == pytest.approx(20.0 * f)
    assert comps[0].start == pytest.approx(100.0 * f)

    rng = np.random.default_rng(5)
    x = sample_window(rng, 40.0, 1500.0, POLY, shape, [(etac, 100.0 * f)], lo, hi)
    spec2 = {k: v for k, v in spec.items() if k != "free"}
    r = fit_point(x, None, m_a, model, spec2)
    assert r["fit_ok"] and r["components"] == "etac"
    assert abs(r["n_sig"] - 40.0) < 3 * r["n_sig_err"]
    # Ignoring the η_c peak: it is fitted as signal.
    r0 = fit_point(x, None, m_a, model, None)
    assert r0["n_sig"] - 40.0 > 2 * r0["n_sig_err"]
    # The constraint's uncertainty propagates into n_sig.
    assert r["n_sig_err"] > r0["n_sig_err"]
    # Without the constraint the two peaks are nearly degenerate: much larger error.
    r_free = fit_point(x, None, m_a, model, {"etac": (etac, 100.0, None)})
    assert (not r_free["fit_ok"]) or r_free["n_sig_err"] > 1.5 * r["n_sig_err"]
    with pytest.raises(ValueError):
        select_peaking({"x": (etac, None, 1.0)}, lo, hi)


def test_failing_configurations_are_flagged(model):
    rng = np.random.default_rng(9)
    m_a = 1.0
    shape, lo, hi = window_of(model, m_a)
    x = sample_window(rng, 10.0, 500.0, POLY, shape, (), lo, hi)
    for empty in (x + 1.0, np.array([])):  # no event in the window: exact, valid result
        r = fit_point(empty, None, m_a, model)
        assert r["fit_ok"] is True and r["n_events"] == 0
        assert r["n_sig"] == 0.0 and r["significance"] == 0.0
    cases = [
        fit_point(x, None, m_a, model, window_width_factor=-9.0),  # inverted window
    ]
    for r in cases:
        assert r["fit_ok"] is False
        assert np.isnan(r["significance"]) and np.isnan(r["n_sig"])
        assert r["message"] != "ok"


def test_fit_points_table(model):
    rng = np.random.default_rng(12)
    pts = scan_points(model, m_start=1.2, m_stop=1.3)
    bkg = rng.uniform(1.0, 1.5, 20_000)
    df = fit_points(bkg, np.ones(bkg.size), pts, model, None)
    assert len(df) == pts.size
    assert np.allclose(df["m_a"], pts)
    need = {
        "m_a",
        "sigma_l",
        "sigma_r",
        "efficiency",
        "n_sig",
        "n_sig_err",
        "significance",
        "fit_ok",
        "n_attempts",
        "n_events",
        "window_lo",
        "window_hi",
        "nll_free",
        "nll_null",
    }
    assert need <= set(df.columns)
    assert df["fit_ok"].all()
    # Background only: significances are O(1).
    assert np.all(np.abs(df["significance"]) < 4.5)
    empty = fit_points(bkg, None, [], model, None)
    assert len(empty) == 0 and need <= set(empty.columns)
    assert prepare_data([1.0, np.nan, 2.0]).tolist() == [1.0, 2.0]


# ---------------------------------------------------------------------------------------
# Control mode
# ---------------------------------------------------------------------------------------
def test_control_eta_and_branching_fraction():
    eta = DSCBParams(0.545, 0.014, 0.012, 1.1, 4.0, 1.8, 6.0)
    pi0 = DSCBParams(0.133, 0.008, 0.006, 1.0, 3.0, 1.8, 6.0)
    lo, hi = 0.42, 0.68
    rng = np.random.default_rng(77)
    x = sample_window(rng, 300.0, 1200.0, (-0.3, 0.05), eta, (), lo, hi)
    r = fit_control_eta(x, None, eta, (lo, hi), {"pi0": (pi0, 1e4, None)})
    assert r["fit_ok"] and r["components"] == ""  # the π⁰ does not reach this window
    assert abs(r["n_eta"] - 300.0) < 3 * r["n_eta_err"]
    assert r["n_eta_err_lo"] < 0 < r["n_eta_err_hi"]
    assert r["significance"] > 10
    assert r["window_fraction"] == pytest.approx(dscb_window_fraction(eta, lo, hi))
    # B = N / (2 N_BB f ε): hand value.
    assert branching_fraction(300.0, 0.05, 772e6, 0.514) == pytest.approx(
        300.0 / (2 * 772e6 * 0.514 * 0.05)
    )
    arr = branching_fraction(np.array([10.0, 20.0]), np.array([0.1, 0.0]), 1e6, 0.5)
    assert arr[0] == pytest.approx(1e-4) and np.isnan(arr[1])
