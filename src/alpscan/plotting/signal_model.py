"""Figures of the signal model: DSCB parameters and efficiency vs m_a, and the
long-lived efficiency ratio vs cτ."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from alpscan.fitting.signal_model import interpolate_signal_model, longlived_ratio
from alpscan.plotting.style import label, save, use_style

PARAMS = (("sigma_l", r"$\sigma_L$ [MeV]", 1e3), ("sigma_r", r"$\sigma_R$ [MeV]", 1e3), ("alpha_l", r"$\alpha_L$", 1),
          ("alpha_r", r"$\alpha_R$", 1), ("n_l", r"$n_L$", 1), ("n_r", r"$n_R$", 1),
          ("efficiency", "efficiency [%]", 100))


def signal_model_figure(tables: dict, path) -> None:
    """Fitted DSCB parameters (points) and their interpolation (lines) per mode."""
    use_style()
    fig, axes = plt.subplots(2, 4, figsize=(18, 8))
    for mode, table in tables.items():
        model = interpolate_signal_model(table)
        valid = table[table["fit_valid"]]
        m = np.linspace(table["m_a"].min(), table["m_a"].max(), 200)
        curve = model.to_frame(m)
        for ax, (col, name, scale) in zip(axes.flat, PARAMS):
            line = ax.plot(m, scale * curve[col], lw=1.5)[0]
            err = valid.get(f"{col}_err", 0 * valid[col])
            ax.errorbar(valid["m_a"], scale * valid[col], scale * err, fmt="o", ms=3, color=line.get_color(),
                        label=mode)
            ax.set_xlabel(r"$m_a$ [GeV]", fontsize="small")
            ax.set_ylabel(name, fontsize="small")
    for ax, (col, _, scale) in zip(axes.flat, PARAMS):
        # axis range from the fitted values, not from the (sometimes huge) errors of
        # tail parameters that the data do not constrain
        vals = np.concatenate([scale * t[col].to_numpy() for t in tables.values()])
        lo, hi = np.nanpercentile(vals, [1, 99])
        ax.set_ylim(lo - 0.2 * (hi - lo), hi + 0.2 * (hi - lo))
    axes.flat[-1].axis("off")
    axes.flat[0].legend(fontsize="x-small")
    label(axes.flat[0])
    fig.tight_layout()
    save(fig, path)


def longlived_figure(points: dict, fits: dict, path) -> None:
    """ε_LL/ε_prompt vs cτ with the fitted three-parameter curves, per mode."""
    use_style()
    modes = list(points)
    fig, axes = plt.subplots(1, len(modes), figsize=(4.5 * len(modes), 4.2), squeeze=False)
    for ax, mode in zip(axes[0], modes):
        pts, fit = points[mode], fits[mode]
        for m_a, grp in pts.groupby("m_a"):
            e = ax.errorbar(grp["ctau_mm"], grp["ratio"], grp["ratio_err"], fmt="o", ms=3, label=f"{m_a:.2f} GeV")
            row = fit[fit["m_a"] == m_a].iloc[0]
            if row["fit_ok"]:
                c = np.linspace(0, grp["ctau_mm"].max() * 1.1, 100)
                ax.plot(c, longlived_ratio(c, [row["c0_mm"], row["p"], row["q"]]), color=e[0].get_color())
        ax.set_xlabel(r"$c\tau$ [mm]", fontsize="small")
        ax.set_ylabel(r"$\epsilon_{LL}/\epsilon_{prompt}$", fontsize="small")
        ax.set_title(mode, fontsize="small")
        ax.legend(fontsize="xx-small")
    label(axes[0, 0])
    fig.tight_layout()
    save(fig, path)
