"""Tests of the Gross–Vitells look-elsewhere correction."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.ndimage import gaussian_filter1d

from alpscan.stats.look_elsewhere import (
    count_upcrossings,
    global_p_value,
    global_significance,
    local_p_value,
    scan_global_significance,
)


def test_count_upcrossings_hand_made_curve():
    z = np.array([0.0, 1.0, 2.0, 1.0, 0.0, 3.0, 3.0, -1.0, 2.0, 1.6])
    assert count_upcrossings(z, 1.5) == 3  # 1→2, 0→3, −1→2 (not 2→1.6: no crossing)
    assert count_upcrossings(z, 0.5) == 3  # 0→1, 0→3, −1→2
    assert count_upcrossings(z, 5.0) == 0
    assert count_upcrossings(z, -0.5) == 1  # only −1 → 2
    assert count_upcrossings([1.0, 1.5], 1.5) == 1  # reaching the level counts
    assert count_upcrossings([1.5, 1.0], 1.5) == 0  # downcrossing only
    assert count_upcrossings([2.0, 3.0], 1.5) == 0  # starts above: no upcrossing
    # NaN (failed fit) is skipped: the curve is joined across it.
    assert count_upcrossings([0.0, np.nan, 2.0], 1.0) == 1
    assert count_upcrossings([np.nan, 2.0, 0.0, np.nan, np.nan, 2.0], 1.0) == 1
    # Stack of curves: counted per row.
    stack = np.vstack([z, z - 1.0, np.zeros_like(z)])
    assert count_upcrossings(stack, 1.5).tolist() == [3, 1, 0]
    assert isinstance(count_upcrossings(z, 1.5), int)


def test_formula_hand_computed():
    # p_local(3) = 1 − Φ(3) = ½ P(χ²₁ > 9).
    assert local_p_value(3.0) == pytest.approx(0.5 * stats.chi2.sf(9.0, 1), rel=1e-12)
    # z = 3, N(0) = 10:  p = Φ̄(3) + 10·e^{−4.5}.
    assert global_p_value(3.0, 10.0, 0.0) == pytest.approx(
        stats.norm.sf(3.0) + 10 * np.exp(-4.5), rel=1e-12
    )
    # Reference level 1: p = Φ̄(4) + 4·e^{−(16−1)/2}.
    assert global_p_value(4.0, 4.0, 1.0) == pytest.approx(
        stats.norm.sf(4.0) + 4 * np.exp(-7.5), rel=1e-12
    )
    zg = global_significance(4.0, 4.0, 1.0)
    assert zg == pytest.approx(stats.norm.isf(stats.norm.sf(4.0) + 4 * np.exp(-7.5)))
    assert global_p_value(1.0, 50.0) == 1.0  # clipped


def test_global_p_not_below_local_and_monotone():
    z = np.linspace(0.0, 6.0, 61)
    for n_ref in [0.0, 0.5, 3.0, 30.0]:
        pg = global_p_value(z, n_ref, 0.5)
        pl = local_p_value(z)
        assert np.all(pg >= pl) and np.all(pg <= 1.0)
        assert np.all(np.diff(pg) <= 0)
        assert np.all(global_significance(z, n_ref, 0.5) <= z + 1e-12)
    assert global_p_value(3.0, 0.0) == pytest.approx(local_p_value(3.0))
    assert global_p_value(3.0, 20.0) > global_p_value(3.0, 10.0)
    with pytest.raises(ValueError):
        global_p_value(3.0, 1.0, -1.0)


def test_gv_matches_gaussian_process_toys():
    """Smoothed white noise (a stationary Gaussian process, unit variance) scanned
    over 1500 points in 5000 toys: the GV estimate with N(Z_ref) from the toys agrees
    with the fraction of toys whose maximum exceeds the threshold."""
    rng = np.random.default_rng(7)
    n_toys, n_pts, width = 5000, 1500, 8.0
    z = gaussian_filter1d(rng.standard_normal((n_toys, n_pts + 200)), width, axis=1)
    z = z[:, 100:-100]
    z /= z.std()
    z_max = z.max(axis=1)
    for z_ref in (0.0, 1.0):
        n_ref = count_upcrossings(z, z_ref).mean()
        # Rice: mean upcrossings of 0 = L·√(−ρ''(0))/2π with ρ(d) = exp(−d²/4s²).
        if z_ref == 0.0:
            assert n_ref == pytest.approx(n_pts / (2 * np.pi * np.sqrt(2) * width), rel=0.08)
        # High threshold: GV is accurate.
        thr = 3.5
        p_emp = np.mean(z_max > thr)
        err = np.sqrt(p_emp * (1 - p_emp) / n_toys)
        p_gv = global_p_value(thr, n_ref, z_ref)
        assert abs(p_gv - p_emp) < 3 * err + 0.05 * p_emp, (z_ref, p_gv, p_emp)
        assert p_gv > 20 * local_p_value(thr)  # a large trial factor is visible
        # Lower threshold: GV is an upper bound (E[N] ≥ P(N ≥ 1)).
        p_emp3 = np.mean(z_max > 3.0)
        assert global_p_value(3.0, n_ref, z_ref) > p_emp3 - 3 * np.sqrt(p_emp3 / n_toys)


def test_scan_global_significance():
    x = np.linspace(0, 20 * np.pi, 2001)
    curve = 1.2 * np.sin(x)  # 10 periods, 9 upcrossings of 0 (it starts at 0)
    curve[1000] = 4.0  # at x = 10π, where the curve crosses 0 anyway
    res = scan_global_significance(curve, z_ref=0.0)
    assert res["n_upcross_ref"] == count_upcrossings(curve, 0.0) == 9
    assert res["z_local_max"] == 4.0
    assert res["p_global"] == pytest.approx(global_p_value(4.0, res["n_upcross_ref"], 0.0))
    assert res["z_global"] < res["z_local_max"]
    two = scan_global_significance([curve, np.array([0.0, 1.0, np.nan, -1.0, 0.5])], 0.0)
    assert two["n_upcross_ref"] == res["n_upcross_ref"] + 1  # −1 → 0.5
    assert two["z_global"] < res["z_global"]


def test_scan_global_significance_is_zero_without_excess():
    curve = 0.9 * np.sin(np.linspace(0, 200 * np.pi, 20001))  # many upcrossings, Z < 1
    res = scan_global_significance(curve, z_ref=0.5)
    assert res["p_global"] == 1.0
    assert res["z_global"] == 0.0
