"""Figures of the multivariate selection: score distributions, ROC curves, closure,
signal efficiency (paper appendix B)."""

from __future__ import annotations

import numpy as np
import matplotlib.pyplot as plt
from matplotlib.ticker import NullFormatter
import pandas as pd
from sklearn.metrics import roc_curve

from alpscan.plotting.style import label, mode_label, mode_panels, save, save_panels, use_style

SCORES = (("cs1", "CS1"), ("cs2", "CS2"), ("p_pi0", "P($\\pi^0$)"), ("p_eta", "P($\\eta$)"),
          ("xsg", "$X_s\\gamma$ BDT"))


def score_distributions(signal: dict, background: dict, path) -> None:
    """Grid of normalised score histograms: rows = modes, columns = classifiers."""
    use_style()
    modes = list(signal)
    fig, axes = plt.subplots(len(modes), len(SCORES), figsize=(4 * len(SCORES), 3.4 * len(modes)), squeeze=False)
    bins = np.linspace(0, 1, 26)
    for i, mode in enumerate(modes):
        for j, (col, name) in enumerate(SCORES):
            ax = axes[i, j]
            s, b = signal[mode], background[mode]
            hs = ax.hist(s[col], bins, density=True, histtype="step", lw=1.5, label="signal")[0]
            hb = ax.hist(b[col], bins, weights=b["weight_fit"], density=True, histtype="stepfilled",
                         alpha=0.4, label="background")[0]
            ax.set_yscale("log")
            top = max(np.max(hs), np.max(hb), 1.0)
            positive = np.concatenate([hs[hs > 0], hb[hb > 0]])
            ax.set_ylim(0.5 * positive.min() if positive.size else 1e-2, top * 30)  # room for the title row
            ax.set_xlabel(name, fontsize="small")
            ax.set_ylabel("density" if j else f"{mode_label(mode)}\ndensity", fontsize="small")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper right", ncol=2, fontsize="small", frameon=False)
    save_panels(fig, path)


def roc_curves(signal: dict, background: dict, path) -> None:
    """ROC curves (signal efficiency vs background rejection) per mode."""
    modes = list(signal)
    fig, axes = mode_panels(modes)
    for ax, mode in zip(axes, modes):
        s, b = signal[mode], background[mode]
        for col, name in SCORES:
            sign = 1 if col in ("cs1", "cs2") else -1
            y = np.concatenate([np.ones(len(s)), np.zeros(len(b))])
            x = sign * np.concatenate([s[col], b[col]])
            w = np.concatenate([np.ones(len(s)) / len(s), b["weight_fit"] / b["weight_fit"].sum()])
            fpr, tpr, _ = roc_curve(y, x, sample_weight=w)
            ax.plot(tpr, 1 - fpr, label=name)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("signal efficiency", fontsize="small")
        ax.set_ylabel("background rejection", fontsize="small")
        ax.set_title(mode_label(mode), loc="right", fontsize="small")
    # the curves bow towards (1, 1): the lower-left corner is empty
    axes[0].legend(fontsize="xx-small", loc="lower left")
    save_panels(fig, path)


CLOSURE_STYLES = {
    "offres_sim_vs_data_before": ("o", "C0", "off-res. sim vs data, raw"),
    "offres_sim_vs_data_after": ("s", "C1", "off-res. sim vs data, calibrated"),
    "onres_continuum_sim_vs_true_tune_before": ("v", "C2", "on-res. sim vs true tune, raw"),
    "onres_continuum_sim_vs_true_tune_after": ("^", "C3", "on-res. sim vs true tune, calibrated"),
}


def closure_figure(table: pd.DataFrame, path) -> None:
    """χ²/ndf per CS variable and mode: before/after calibration.

    One panel per mode side by side; the variables run down the (shared) y axis with
    horizontal names, χ²/ndf on a log x axis, so the figure grows with the number of
    variables instead of squashing the axes under rotated tick labels.
    """
    use_style()
    modes = list(dict.fromkeys(table["mode"]))
    variables = list(dict.fromkeys(table["variable"]))
    y = np.arange(len(variables))
    fig, axes = plt.subplots(1, len(modes), figsize=(2.5 + 3.6 * len(modes), 2.8 + 0.3 * len(variables)),
                             sharey=True, squeeze=False)
    for ax, mode in zip(axes[0], modes):
        t = table[table["mode"] == mode]
        for comp, (marker, colour, name) in CLOSURE_STYLES.items():
            c = t[t["comparison"] == comp].set_index("variable").reindex(variables)
            ax.plot(c["chi2_ndf"], y, marker, color=colour, ms=5, mfc="none" if "before" in comp else colour,
                    label=name)
        ax.axvline(1.0, color="grey", lw=1).set_gid("decoration")
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels of a short decade overlap
        ax.margins(x=0.08)
        ax.set_yticks(y, variables, fontsize="x-small")
        ax.set_ylim(len(variables) - 0.5, -0.5)
        ax.set_xlabel(r"$\chi^2$/ndf", fontsize="small")
        if ax is axes[0, 0]:
            ax.set_ylabel("CS variable", fontsize="small")
        ax.set_title(mode_label(mode), loc="right", fontsize="small")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper right", ncol=2, fontsize="x-small", frameon=False)
    save_panels(fig, path, legend_rows=2)


def efficiency_figure(eff: dict, path) -> None:
    """Final signal efficiency vs m_a per mode (``eff[mode] = (m_a, efficiency)``)."""
    use_style()
    fig, ax = plt.subplots(figsize=(8, 6))
    top = 0.0
    for mode, (m, e) in eff.items():
        e = 100 * np.asarray(e, dtype=float)
        ax.plot(m, e, "o-", ms=4, label=mode_label(mode))
        top = max(top, float(np.nanmax(e)) if e.size else 0.0)
    ax.set_ylim(0, 1.45 * top if top > 0 else 1.0)  # legend rows above the curves
    ax.set_xlabel(r"$m_a$ [GeV]")
    ax.set_ylabel("signal efficiency [%]")
    ax.legend(fontsize="x-small", loc="upper left", ncol=2)
    label(ax)
    fig.tight_layout()
    save(fig, path)
