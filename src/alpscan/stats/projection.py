"""Luminosity projection of the expected limits (issue 16, Belle II at 50 ab⁻¹).

A *scaling*, not a new run: in the background-dominated regime the expected yields of
signal and background both grow like the luminosity L, so the width of the signal-yield
likelihood grows like √L.  :func:`scale_profiles` rescales a mode's profile curves
(signal-yield axis and fit bias by √(L'/L), ΔNLL values unchanged) and
:func:`projected_gaw` feeds them, with N_BB̄ scaled by L'/L, to the same g_aW
combination as the ``limit_gaw`` rule (:func:`alpscan.stats.limit_tables.gaw_table`),
so the long-lived efficiency at cτ(g_aW) and the efficiency systematic are treated as
in the real limit.  The expected branching-fraction limit then falls like 1/√L and
g_aW like L^(-1/4) where the ALP is prompt.  What this leaves out: mass regions with
almost no background (where limits improve faster, like 1/L), and everything Belle II
changes besides the luminosity (detector, beam background, boost).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from alpscan.stats.limit_tables import gaw_table, n_bb_pairs


def scale_profiles(profiles: pd.DataFrame, factor: float) -> pd.DataFrame:
    """Profile table of one mode (``results/limits/{mode}_profiles.parquet``) at
    ``factor`` times the luminosity, background-dominated: every signal-yield value
    (``*_grid``, ``*_n_hat``, ``bias_events``) times √factor, likelihood values kept."""
    if not factor > 0:
        raise ValueError(f"luminosity factor must be positive, got {factor}")
    missing = [c for c in ("asimov_grid", "asimov_n_hat", "obs_grid", "obs_n_hat", "bias_events")
               if c not in profiles.columns]
    if missing:
        raise ValueError(f"profile table lacks column(s) {missing}")
    root = float(np.sqrt(factor))
    out = profiles.copy()
    for prefix in ("obs", "asimov"):
        out[f"{prefix}_grid"] = [list(np.asarray(g, dtype=float) * root) for g in out[f"{prefix}_grid"]]
        out[f"{prefix}_n_hat"] = out[f"{prefix}_n_hat"].astype(float) * root
    out["bias_events"] = out["bias_events"].astype(float) * root
    return out


def projected_gaw(profiles: Mapping[str, pd.DataFrame], longlived: Mapping[str, pd.DataFrame],
                  masses: Sequence[float], *, lumi_fb: float, target_lumi_fb: float, physics: Mapping,
                  sigma_eff: float, cl: float) -> pd.DataFrame:
    """g_aW limits (the ``limit_gaw`` table) of a run at ``lumi_fb`` projected to
    ``target_lumi_fb``; with ``target_lumi_fb == lumi_fb`` this is the run's own table.
    Only the expected columns (``gaw_ul_exp*``) are a projection; the observed ones
    carry the run's observed curves along and mean nothing at another luminosity."""
    factor = target_lumi_fb / lumi_fb
    scaled = {mode: scale_profiles(table, factor) for mode, table in profiles.items()}
    return gaw_table(scaled, longlived, masses, n_bb=n_bb_pairs(physics, target_lumi_fb), physics=physics,
                     sigma_eff=sigma_eff, cl=cl)
