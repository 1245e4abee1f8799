"""Limits on B(B → K(*)a)·B(a → γγ) over the ALP mass and proper decay length (m_a, cτ).

The per-mode limit of a scan point is a CLs limit on the expected in-window signal yield
s₀ = k·B (events, k = 2 N_BB̄ f ε, :func:`alpscan.stats.limits.yield_limits`).  A long-lived
ALP of proper decay length cτ is selected with the efficiency ε·r(m_a, cτ), r the fitted
long-lived to prompt efficiency ratio (:func:`alpscan.fitting.signal_model.longlived_ratio`),
so its yield is k·r·B: the likelihood in terms of s₀ is unchanged and the limit on B at cτ is
exactly the prompt limit divided by r(m_a, cτ).  The expected bands scale the same way.

r is measured at the simulated cτ values (``generation.signal.long_lived.ctau_mm``, up to
400 mm in the default run); beyond the largest one the fitted form [1 + (cτ/c₀)^p]^(−q)
extrapolates, and the rows say so (``extrapolated``).

Masses in GeV, cτ in mm, limits dimensionless.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from alpscan.stats.limit_tables import longlived_ratio_function

__all__ = ["PAPER_CTAU_MM", "LIMIT_COLUMNS", "ctau_grid_mm", "ctau_limit_table", "ratio_grid_table"]

#: cτ values (mm) of the paper's long-lived limit curves.
PAPER_CTAU_MM = (10.0, 50.0, 100.0, 200.0, 300.0, 400.0)
#: Limit columns of the per-mode scan table that are scaled by 1/r.
LIMIT_COLUMNS = ("br_ul_obs", "br_ul_exp", "br_ul_exp_m2", "br_ul_exp_m1", "br_ul_exp_p1",
                 "br_ul_exp_p2")  # fmt: skip


def ctau_grid_mm(ctau_min_mm: float = 0.1, ctau_max_mm: float = 3000.0,
                 per_decade: int = 4) -> np.ndarray:  # fmt: skip
    """cτ grid (mm): 0 (prompt), a log grid from ``ctau_min_mm`` to ``ctau_max_mm`` with
    ``per_decade`` points per decade, and the paper's values :data:`PAPER_CTAU_MM`."""
    if not (0 < ctau_min_mm < ctau_max_mm) or per_decade < 1:
        raise ValueError("cτ grid needs 0 < ctau_min_mm < ctau_max_mm and per_decade >= 1")
    n = int(np.ceil(per_decade * np.log10(ctau_max_mm / ctau_min_mm))) + 1
    grid = np.geomspace(ctau_min_mm, ctau_max_mm, n)
    return np.unique(np.concatenate([[0.0], grid, PAPER_CTAU_MM]))


def ctau_limit_table(scan: pd.DataFrame, longlived: pd.DataFrame, ctau_mm,
                     max_simulated_ctau_mm: float) -> pd.DataFrame:  # fmt: skip
    """Limits of every valid scan point of one mode at every cτ of ``ctau_mm``.

    Parameters
    ----------
    scan : pandas.DataFrame
        The mode's scan table (``results/scan/{mode}.parquet``): ``m_a``, ``fit_ok`` and
        :data:`LIMIT_COLUMNS` (prompt limits).
    longlived : pandas.DataFrame
        The mode's fitted ratio curves (``results/signal_model/{mode}_longlived.parquet``).
    ctau_mm : array_like
        Proper decay lengths (mm, ≥ 0; 0 = prompt).
    max_simulated_ctau_mm : float
        Largest simulated cτ (mm): rows above it are flagged ``extrapolated``.

    Returns
    -------
    pandas.DataFrame
        Long format: ``m_a``, ``ctau_mm``, ``ratio`` (r), the six limit columns, and
        ``extrapolated``; points with ``fit_ok`` False are left out.
    """
    missing = [c for c in ("m_a", "fit_ok", *LIMIT_COLUMNS) if c not in scan.columns]
    if missing:
        raise ValueError(f"scan table lacks column(s) {missing}")
    ctau = np.asarray(ctau_mm, dtype=float)
    if ctau.ndim != 1 or ctau.size == 0 or np.any(~np.isfinite(ctau)) or np.any(ctau < 0):
        raise ValueError("ctau_mm must be a non-empty 1-D array of finite values >= 0")
    good = scan[scan["fit_ok"].astype(bool)]
    masses = good["m_a"].to_numpy(dtype=float)
    ratio = np.array([longlived_ratio_function(m, longlived)(ctau) for m in masses])
    ratio = ratio.reshape(masses.size, ctau.size)
    out = {"m_a": np.repeat(masses, ctau.size), "ctau_mm": np.tile(ctau, masses.size),
           "ratio": ratio.ravel()}  # fmt: skip
    for col in LIMIT_COLUMNS:
        prompt = good[col].to_numpy(dtype=float)[:, None]
        with np.errstate(divide="ignore"):
            out[col] = (prompt / ratio).ravel()
    out["extrapolated"] = out["ctau_mm"] > float(max_simulated_ctau_mm)
    return pd.DataFrame(out)


def ratio_grid_table(longlived: pd.DataFrame, masses, ctau_mm) -> pd.DataFrame:
    """r(m_a, cτ) of one mode on a grid (long format ``m_a``, ``ctau_mm``, ``ratio``)."""
    m = np.asarray(masses, dtype=float)
    c = np.asarray(ctau_mm, dtype=float)
    r = np.array([longlived_ratio_function(x, longlived)(c) for x in m]).reshape(m.size, c.size)
    return pd.DataFrame({"m_a": np.repeat(m, c.size), "ctau_mm": np.tile(c, m.size),
                         "ratio": r.ravel()})  # fmt: skip
