"""Synthetic inputs of the figure tests (test_paper_figures, test_figure_layout): scan,
g_aW and toy-bias tables shaped like the workflow's, on a mass grid with the η vetoes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BABAR_CSV = ROOT / "resources" / "babar-2111.01800-prompt-limit.csv"
MODES = ("Kp", "K0S", "Kst0", "Kstp")
ETA_VETOES = ((0.497, 0.578), (0.938, 0.997))
M_START = 0.160
SIM_NAMES = ("continuum_uu", "continuum_dd", "continuum_ss", "continuum_cc", "bb_charged",
             "bb_neutral", "peaking_pi0", "peaking_eta", "peaking_etap", "peaking_etac", "xsgamma")


def scan_masses(n: int = 60) -> np.ndarray:
    """``n`` equally spaced masses from M_START to 4.5 GeV, those in the η vetoes dropped."""
    m = np.linspace(M_START, 4.5, n)
    return m[~np.any([(m > a) & (m < b) for a, b in ETA_VETOES], axis=0)]


def scan_frame(seed: int) -> pd.DataFrame:
    """A mass-scan table with the columns Figs. 3 and A.1 read, ~15 % failed fits."""
    rng = np.random.default_rng(seed)
    m = scan_masses()
    n = len(m)
    ul = 1e-7 * (1 + m) * np.exp(-2 * m) + 2e-8
    return pd.DataFrame({
        "m_a": m, "n_sig_corrected": rng.normal(0, 10, n), "n_sig_err": rng.uniform(5, 15, n),
        "significance": rng.normal(0, 1, n), "fit_ok": rng.uniform(size=n) > 0.15,
        "br_ul_obs": ul * rng.uniform(0.6, 1.6, n), "br_ul_exp": ul, "br_ul_exp_m2": 0.5 * ul,
        "br_ul_exp_m1": 0.7 * ul, "br_ul_exp_p1": 1.4 * ul, "br_ul_exp_p2": 2.0 * ul,
    })


def gaw_frame() -> pd.DataFrame:
    """A g_aW limit table with the columns Figs. 4 and 5 read; two modes above 4.2 GeV."""
    m = scan_masses()
    exp = 5e-6 * (1 + 0.3 * m)
    rng = np.random.default_rng(1)
    n_modes = np.where(m <= 4.2, 4, 2)
    return pd.DataFrame({"m_a": m, "gaw_ul_obs": exp * rng.uniform(0.7, 1.5, len(m)),
                         "gaw_ul_exp": exp, "gaw_ul_exp_m2": 0.5 * exp,
                         "gaw_ul_exp_m1": 0.7 * exp, "gaw_ul_exp_p1": 1.4 * exp,
                         "gaw_ul_exp_p2": 2.0 * exp, "n_modes": n_modes})


def toy_frame(seed: int) -> pd.DataFrame:
    """A toy-bias table with the columns the bias figure reads, at 20 masses."""
    rng = np.random.default_rng(seed)
    m = scan_masses(20)
    return pd.DataFrame({"m_a": m, "bias": rng.normal(-0.04, 0.2, len(m)),
                         "pull_mean": rng.normal(-0.04, 0.1, len(m)),
                         "pull_width": rng.normal(1.0, 0.05, len(m)), "n_toys_ok": 100,
                         "fit_ok": True})
