"""A limit at every scan point (issue 14): the failure cases of the per-point limits,
their fixes and fallbacks, and the hybrid (toy-based) CLs of low-count points."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import alpscan.stats.limits as limits
from alpscan.fitting.batched import fit_batch
from alpscan.fitting.dscb import DSCBParams
from alpscan.fitting.toys import asimov_data, fit_dataset
from alpscan.fitting.window_model import WindowModel
from alpscan.stats import limit_tables
from alpscan.stats.limit_tables import limit_failures, wants_toys
from alpscan.stats.limits import null_fit, profile_curve_status, single_fit, yield_limits
from alpscan.stats.toy_cls import toy_limits
from alpscan.summary import point_methods

from .oracles.window import sample_window

SIG = DSCBParams(1.500, 0.0105, 0.0090, 1.2, 4.0, 1.6, 6.0)
HALF = 4.5 * (SIG.sigma_l + SIG.sigma_r)
LO, HI = SIG.mu - HALF, SIG.mu + HALF
MODEL = WindowModel(LO, HI, SIG)
POLY = (-0.2, 0.05)
POINT = dict(bias_events=0.0, sigma_eff=0.223, cl=0.9, n_profile_points=48)

#: Ten events crowded at the lower edge of the window and under the left signal tail:
#: the background-only fit sits at the positivity edge and needs 63 Newton iterations,
#: more than fit_batch's default 50, so the null fit behind the Asimov data set failed
#: and the point got no limit ("null fit failed").
EDGE_WINDOW = np.array([1.412251, 1.412257, 1.412328, 1.413066, 1.42264, 1.430876, 1.436835,
                        1.459827, 1.469471, 1.470015])  # fmt: skip


# ---------------------------------------------------------------------------------------
# Failure cases and their fixes
# ---------------------------------------------------------------------------------------
def test_null_fit_at_the_positivity_edge_converges_with_more_iterations():
    xs = MODEL.select(EDGE_WINDOW)[0]
    default = fit_batch(MODEL, MODEL.basis(xs), [0, xs.size], n_sig_fixed=[0.0])
    assert not bool(default.converged[0]) and default.n_iter[0] == 50  # the failure
    assert not bool(fit_dataset(MODEL, EDGE_WINDOW)[1].converged[0])
    null = null_fit(MODEL, EDGE_WINDOW)
    assert bool(null.converged[0]) and 50 < null.n_iter[0] <= limits.FIT_MAX_ITER
    res, obs, asi, status = limit_tables._asymptotic_point(MODEL, EDGE_WINDOW, **POINT)
    assert status == "ok" and obs is not None and asi is not None
    assert np.all(np.isfinite([res.observed, *res.expected]))
    assert 0 < res.expected[0] < res.expected[2] < res.expected[4]


def test_failed_free_fit_falls_back_to_the_profile_minimum(monkeypatch):
    x = sample_window(np.random.default_rng(4), 6.0, 40.0, POLY, SIG, (), LO, HI)
    ref, st = profile_curve_status(MODEL, x)
    assert st.free_fit == "ok" and st.n_dropped == 0

    def failing(model, x, weights=None, n_fixed=None, start=None):
        out = single_fit_orig(model, x, weights, n_fixed, start)
        if n_fixed is None:
            out.converged[:] = False
        return out

    single_fit_orig = limits.single_fit
    monkeypatch.setattr(limits, "single_fit", failing)
    curve, st = profile_curve_status(MODEL, x)
    assert st.free_fit == "profile_minimum" and st.cause == ""
    # The profile's minimum is the free fit's (up to the positivity barrier, which the
    # fits minimise with −ln L but which −ln L excludes: ~1e-5 in −ln L here).
    err = float(single_fit_orig(MODEL, x).n_sig_err[0])
    assert curve.n_hat == pytest.approx(ref.n_hat, abs=0.02 * err)
    assert curve.nll_hat == pytest.approx(ref.nll_hat, abs=1e-4)
    lim = yield_limits(curve, curve, bias_events=0.0, sigma_eff=0.0)
    lim_ref = yield_limits(ref, ref, bias_events=0.0, sigma_eff=0.0)
    assert lim.observed == pytest.approx(lim_ref.observed, rel=0.02)


def test_failed_profile_points_are_dropped_not_fatal(monkeypatch):
    x = sample_window(np.random.default_rng(5), 4.0, 30.0, POLY, SIG, (), LO, HI)
    ref, _ = profile_curve_status(MODEL, x)
    orig = limits.profile_nll

    def holes(model, x, values, weights=None, max_iter=500):
        out = orig(model, x, values, weights=weights, max_iter=max_iter)
        if np.size(values) > 1:
            out[3::4] = np.nan  # a quarter of the grid fails
        return out

    monkeypatch.setattr(limits, "profile_nll", holes)
    curve, st = profile_curve_status(MODEL, x)
    assert st.n_dropped == 12 and curve.n_sig.size == 36
    probe = np.linspace(ref.n_sig[0], ref.n_sig[-1], 50)
    assert np.allclose(curve(probe), ref(probe), atol=0.1)  # PCHIP across the gaps
    lim, lim_ref = (yield_limits(c, c, bias_events=0.0, sigma_eff=0.223) for c in (curve, ref))
    assert lim.observed == pytest.approx(lim_ref.observed, rel=0.01)

    def mostly_failing(model, x, values, weights=None, max_iter=500):
        out = orig(model, x, values, weights=weights, max_iter=max_iter)
        out[: 3 * out.size // 4] = np.nan
        return out

    monkeypatch.setattr(limits, "profile_nll", mostly_failing)
    curve, st = profile_curve_status(MODEL, x)
    assert curve is None and st.cause == "profile fits failed"


def test_asymptotic_failure_gets_toy_limits(monkeypatch):
    """A point whose asymptotic limit cannot be computed is given toy-based limits, and
    a point whose toys fail as well keeps NaN limits with its cause counted."""
    x = sample_window(np.random.default_rng(8), 1.0, 25.0, POLY, SIG, (), LO, HI)
    monkeypatch.setattr(limit_tables, "_asymptotic_point",
                        lambda *a, **k: (None, None, None, "null fit failed"))  # fmt: skip
    scan, prof = _table(x, hybrid={"max_events": 0, "masses_gev": [], "n_toys": 100,
                                   "n_points": 4})  # fmt: skip
    row = scan.iloc[0]
    assert row["fit_ok"] and row["cls_method"] == "toys"
    assert row["limit_status"] == "toys after asymptotic failure (null fit failed)"
    assert not bool(prof.iloc[0]["ok"])  # no curves for the g_aW combination
    assert limit_failures(scan) == {}

    def broken(*a, **k):
        raise RuntimeError("the free fit of the observed data did not converge")

    monkeypatch.setattr(limit_tables, "_toy_point", broken)
    scan, _ = _table(x, hybrid={"max_events": 0, "masses_gev": [], "n_toys": 100,
                                "n_points": 4})  # fmt: skip
    assert not scan.iloc[0]["fit_ok"] and np.isnan(scan.iloc[0]["br_ul_obs"])
    assert limit_failures(scan) == {
        "null fit failed; toys failed: the free fit of the observed data did not converge": 1}
    pm = point_methods(scan)
    assert pm["n_with_limits"] == 0 and sum(pm["failures_by_cause"].values()) == 1


def test_zero_efficiency_is_a_counted_cause():
    x = sample_window(np.random.default_rng(9), 1.0, 25.0, POLY, SIG, (), LO, HI)
    scan, _ = _table(x, efficiency=0.0)
    assert limit_failures(scan) == {limit_tables.ZERO_EFFICIENCY: 1}


def test_failed_scan_fit_no_longer_costs_the_limit():
    x = sample_window(np.random.default_rng(10), 2.0, 60.0, POLY, SIG, (), LO, HI)
    scan, prof = _table(x, scan_fit_ok=False, toy_ok=False)
    row = scan.iloc[0]
    assert row["fit_ok"] and not row["scan_fit_ok"] and row["cls_method"] == "asymptotic"
    assert row["limit_status"] == "no toy bias" and bool(prof.iloc[0]["ok"])


# ---------------------------------------------------------------------------------------
# Hybrid CLs
# ---------------------------------------------------------------------------------------
def test_toy_limits_of_an_empty_background_free_window_are_2p30():
    n_toys = 2000
    res = toy_limits(MODEL, np.empty(0), s_range=(1.0, 4.0), sigma_eff=0.0, n_toys=n_toys,
                     rng=3, n_points=10)  # fmt: skip
    # Exact counting limit for n = 0, b = 0 (the conditional fit leaves ~0.06 events of
    # negative background under the peak, so the toy limit is slightly above ln 10).
    tol = 3 * np.sqrt(0.9 / (0.1 * n_toys))
    assert res.result.observed == pytest.approx(np.log(10.0), abs=tol + 0.07)
    # b = 0: every b-only toy is empty, so all bands are the observed limit.
    assert np.allclose(res.result.expected, res.result.observed)
    assert res.n_failed_toys == 0


def test_toy_limits_agree_with_asymptotic_ones_at_large_counts():
    x = sample_window(np.random.default_rng(77), 20.0, 600.0, POLY, SIG, (), LO, HI)
    null = fit_dataset(MODEL, x)[1]
    xa, wa = asimov_data(MODEL, null.theta[0])
    obs, _ = profile_curve_status(MODEL, x)
    asi, _ = profile_curve_status(MODEL, xa, wa)
    asym = yield_limits(obs, asi, bias_events=0.0, sigma_eff=0.0)
    res = toy_limits(MODEL, x, s_range=(0.5 * asym.expected[0], 1.5 * asym.expected[4]),
                     sigma_eff=0.0, n_toys=600, rng=12, n_points=6).result  # fmt: skip
    assert res.observed == pytest.approx(asym.observed, rel=0.12)
    for i in (1, 2, 3):  # the ±1σ bands and the median (±2σ need more toys)
        assert res.expected[i] == pytest.approx(asym.expected[i], rel=0.15)
    assert np.all(np.diff(res.expected) >= 0)


def test_which_points_get_toys():
    hyb = {"max_events": 10, "masses_gev": [2.0], "n_toys": 100, "n_points": 4}
    assert wants_toys(9, 1.0, 0.01, hyb) and not wants_toys(10, 1.0, 0.01, hyb)
    assert wants_toys(500, 2.004, 0.01, hyb) and not wants_toys(500, 2.006, 0.01, hyb)
    assert not wants_toys(0, 1.0, 0.01, None)


def test_low_count_points_use_toys_in_the_table():
    x = sample_window(np.random.default_rng(11), 0.5, 3.0, POLY, SIG, (), LO, HI)
    assert x.size < 10
    hyb = {"max_events": 10, "masses_gev": [], "n_toys": 150, "n_points": 5}
    a, _ = _table(x, hybrid=hyb)
    b, _ = _table(x, hybrid=hyb)
    row = a.iloc[0]
    assert row["cls_method"] == "toys" and row["fit_ok"] and row["limit_status"] == "ok"
    assert a.equals(b)  # seeded by (seed, mode, m_a)
    lims = row[["br_ul_exp_m2", "br_ul_exp_m1", "br_ul_exp", "br_ul_exp_p1", "br_ul_exp_p2"]]
    assert np.all(np.diff(lims.to_numpy(dtype=float)) >= 0)
    asym, _ = _table(x, hybrid=None)
    assert asym.iloc[0]["cls_method"] == "asymptotic"
    # Few events: the toys give a weaker (covering) limit than the asymptotic formulae.
    assert row["br_ul_obs"] > asym.iloc[0]["br_ul_obs"]


# ---------------------------------------------------------------------------------------
# Helpers: a one-point limits table for the window model above
# ---------------------------------------------------------------------------------------
def _table(x, *, hybrid=None, efficiency=0.01, scan_fit_ok=True, toy_ok=True):
    m_a = SIG.mu
    fits = pd.DataFrame([{"m_a": m_a, "sigma_l": SIG.sigma_l, "sigma_r": SIG.sigma_r,
                          "efficiency": efficiency, "n_sig": 0.0, "n_sig_err": 1.0,
                          "significance": 0.0, "fit_ok": scan_fit_ok}])  # fmt: skip
    toys = pd.DataFrame([{"m_a": m_a, "bias": 0.0 if toy_ok else np.nan, "sigma_sig": 1.0,
                          "fit_ok": toy_ok}])  # fmt: skip

    class _Windows:
        def __call__(self, points, model, peaking, width):
            for p in np.atleast_1d(points):
                yield float(p), MODEL

    orig = limit_tables._windows
    limit_tables._windows = _Windows()
    try:
        return limit_tables.limits_table(
            x, fits, toys, None, None, mode="Kp", window_width_factor=9.0, n_bb=1e6,
            f_b=0.5, sigma_eff=0.223, cl=0.9, n_profile_points=48, hybrid=hybrid, seed=7,
        )
    finally:
        limit_tables._windows = orig
