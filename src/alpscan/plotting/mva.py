"""Figures of the multivariate selection: score distributions, ROC curves, closure,
signal efficiency (paper appendix B)."""

from __future__ import annotations

import numpy as np
import matplotlib.pyplot as plt
import pandas as pd
from sklearn.metrics import roc_curve

from alpscan.plotting.style import label, save, use_style

SCORES = (("cs1", "CS1"), ("cs2", "CS2"), ("p_pi0", "P($\\pi^0$)"), ("p_eta", "P($\\eta$)"), ("xsg", "$X_s\\gamma$ BDT"))


def score_distributions(signal: dict, background: dict, path) -> None:
    """Grid of normalised score histograms: rows = modes, columns = classifiers."""
    use_style()
    modes = list(signal)
    fig, axes = plt.subplots(len(modes), len(SCORES), figsize=(4 * len(SCORES), 3.2 * len(modes)), squeeze=False)
    bins = np.linspace(0, 1, 26)
    for i, mode in enumerate(modes):
        for j, (col, name) in enumerate(SCORES):
            ax = axes[i, j]
            s, b = signal[mode], background[mode]
            ax.hist(s[col], bins, density=True, histtype="step", lw=1.5, label="signal")
            ax.hist(b[col], bins, weights=b["weight_fit"], density=True, histtype="stepfilled", alpha=0.4,
                    label="background")
            ax.set_yscale("log")
            ax.set_xlabel(name, fontsize="small")
            ax.set_title(mode, fontsize="small")
            if i == 0 and j == 0:
                ax.legend(fontsize="x-small")
    label(axes[0, 0])
    fig.tight_layout()
    save(fig, path)


def roc_curves(signal: dict, background: dict, path) -> None:
    """ROC curves (signal efficiency vs background rejection) per mode."""
    use_style()
    modes = list(signal)
    fig, axes = plt.subplots(1, len(modes), figsize=(4.5 * len(modes), 4.2), squeeze=False)
    for ax, mode in zip(axes[0], modes):
        s, b = signal[mode], background[mode]
        for col, name in SCORES:
            sign = 1 if col in ("cs1", "cs2") else -1
            y = np.concatenate([np.ones(len(s)), np.zeros(len(b))])
            x = sign * np.concatenate([s[col], b[col]])
            w = np.concatenate([np.ones(len(s)) / len(s), b["weight_fit"] / b["weight_fit"].sum()])
            fpr, tpr, _ = roc_curve(y, x, sample_weight=w)
            ax.plot(tpr, 1 - fpr, label=name)
        ax.set_xlabel("signal efficiency", fontsize="small")
        ax.set_ylabel("background rejection", fontsize="small")
        ax.set_title(mode, fontsize="small")
        ax.legend(fontsize="x-small")
    label(axes[0, 0])
    fig.tight_layout()
    save(fig, path)


def closure_figure(table: pd.DataFrame, path) -> None:
    """χ²/ndf per CS variable and mode: before/after calibration."""
    use_style()
    modes = list(dict.fromkeys(table["mode"]))
    fig, axes = plt.subplots(len(modes), 1, figsize=(14, 3.2 * len(modes)), squeeze=False)
    styles = {
        "offres_sim_vs_data_before": ("o", "off-res. sim vs data, raw"),
        "offres_sim_vs_data_after": ("s", "off-res. sim vs data, calibrated"),
        "onres_continuum_sim_vs_true_tune_before": ("v", "on-res. sim vs true tune, raw"),
        "onres_continuum_sim_vs_true_tune_after": ("^", "on-res. sim vs true tune, calibrated"),
    }
    for ax, mode in zip(axes[:, 0], modes):
        t = table[table["mode"] == mode]
        variables = list(dict.fromkeys(t["variable"]))
        x = np.arange(len(variables))
        for comp, (marker, name) in styles.items():
            c = t[t["comparison"] == comp].set_index("variable").reindex(variables)
            ax.plot(x, c["chi2_ndf"], marker, label=name)
        ax.axhline(1.0, color="grey", lw=1)
        ax.set_yscale("log")
        ax.set_xticks(x, variables, rotation=60, fontsize="x-small")
        ax.set_ylabel(r"$\chi^2$/ndf", fontsize="small")
        ax.set_title(mode, fontsize="small")
    axes[0, 0].legend(fontsize="x-small", ncol=2)
    label(axes[0, 0])
    fig.tight_layout()
    save(fig, path)


def efficiency_figure(eff: dict, path) -> None:
    """Final signal efficiency vs m_a per mode (``eff[mode] = (m_a, efficiency)``)."""
    use_style()
    fig, ax = plt.subplots(figsize=(7, 5))
    for mode, (m, e) in eff.items():
        ax.plot(m, 100 * np.asarray(e), "o-", label=mode)
    ax.set_xlabel(r"$m_a$ [GeV]")
    ax.set_ylabel("signal efficiency [%]")
    ax.legend()
    label(ax)
    save(fig, path)
