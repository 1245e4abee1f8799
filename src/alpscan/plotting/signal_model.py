"""Figures of the signal model: DSCB parameters and efficiency vs m_a, and the
long-lived efficiency ratio vs cτ."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from alpscan.fitting.signal_model import interpolate_signal_model, longlived_ratio
from alpscan.fitting.dscb import ALPHA_LIMITS, N_LIMITS
from alpscan.plotting.style import mode_label, mode_panels, save_panels, use_style

PARAMS = (("sigma_l", r"$\sigma_L$ [MeV]", 1e3), ("sigma_r", r"$\sigma_R$ [MeV]", 1e3), ("alpha_l", r"$\alpha_L$", 1),
          ("alpha_r", r"$\alpha_R$", 1), ("n_l", r"$n_L$", 1), ("n_r", r"$n_R$", 1),
          ("efficiency", "efficiency [%]", 100))
#: Fit limits of the DSCB tail parameters (from the fit itself).
FIT_LIMITS = {"alpha_l": ALPHA_LIMITS, "alpha_r": ALPHA_LIMITS, "n_l": N_LIMITS, "n_r": N_LIMITS}


def at_fit_limit(column: str, values, rel: float = 1e-3) -> np.ndarray:
    """Mask of ``values`` of parameter ``column`` within ``rel`` (relative) of a DSCB fit limit.

    Such a parameter is not measured: its Hesse error is meaningless, so the figure draws it
    as an open marker without error bar.
    """
    values = np.asarray(values, dtype=float)
    if column not in FIT_LIMITS:
        return np.zeros(values.shape, dtype=bool)
    lo, hi = FIT_LIMITS[column]
    return np.isclose(values, lo, rtol=rel, atol=0) | np.isclose(values, hi, rtol=rel, atol=0)


def signal_model_figure(tables: dict, path) -> None:
    """Fitted DSCB parameters (points) and their interpolation (lines) per mode.

    Parameters at a fit limit (:func:`at_fit_limit`) are open markers without error bars
    (label "at fit limit"); the y range covers every fitted value and interpolation curve
    (not the error bars of poorly constrained tail parameters), and the fit limit of a
    tail parameter is drawn as a dotted line when it is inside that range.  The legend
    takes the eighth, otherwise empty, panel.
    """
    use_style()
    fig, axes = plt.subplots(2, 4, figsize=(18, 8.5))
    ranges: dict = {col: [] for col, _, _ in PARAMS}
    for k, (mode, table) in enumerate(tables.items()):
        colour = f"C{k}"  # fixed per mode: the open markers must not shift the colour cycle
        model = interpolate_signal_model(table)
        valid = table[table["fit_valid"]]
        m = np.linspace(table["m_a"].min(), table["m_a"].max(), 200)
        curve = model.to_frame(m)
        for ax, (col, name, scale) in zip(axes.flat, PARAMS):
            ax.plot(m, scale * curve[col], lw=1.5, color=colour)
            y = scale * valid[col].to_numpy(dtype=float)
            err = scale * valid.get(f"{col}_err", 0 * valid[col]).to_numpy(dtype=float)
            pinned = at_fit_limit(col, valid[col])
            x = valid["m_a"].to_numpy(dtype=float)
            ax.errorbar(x[~pinned], y[~pinned], err[~pinned], fmt="o", ms=3, color=colour, label=mode_label(mode))
            if pinned.any():
                ax.plot(x[pinned], y[pinned], "o", ms=5, mfc="none", mec=colour, gid="at_limit",
                        label="at fit limit")
            ranges[col].append(np.concatenate([y, scale * curve[col].to_numpy(dtype=float)]))
            ax.set_xlabel(r"$m_a$ [GeV]", fontsize="small")
            ax.set_ylabel(name, fontsize="small")
    for ax, (col, _, scale) in zip(axes.flat, PARAMS):
        vals = np.concatenate(ranges[col]) if ranges[col] else np.array([0.0, 1.0])
        vals = vals[np.isfinite(vals)]
        lo, hi = (vals.min(), vals.max()) if vals.size else (0.0, 1.0)
        pad = 0.1 * (hi - lo) if hi > lo else 0.1 * max(abs(hi), 1.0)
        ax.set_ylim(lo - pad, hi + pad)
        for limit in FIT_LIMITS.get(col, ()):
            if lo - pad < scale * limit < hi + pad:
                ax.axhline(scale * limit, color="grey", ls=":", lw=1).set_gid("decoration")
    legend_ax = axes.flat[-1]
    legend_ax.axis("off")
    handles, labels = {}, {}
    for ax in axes.flat[:-1]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    if handles:
        legend_ax.legend(list(handles.values()), list(handles), loc="center", fontsize="small")
    save_panels(fig, path)


def longlived_figure(points: dict, fits: dict, path) -> None:
    """ε_LL/ε_prompt vs cτ with the fitted three-parameter curves, per mode."""
    modes = list(points)
    fig, axes = mode_panels(modes)
    for ax, mode in zip(axes, modes):
        pts, fit = points[mode], fits[mode]
        top = 1.0
        for m_a, grp in pts.groupby("m_a"):
            e = ax.errorbar(grp["ctau_mm"], grp["ratio"], grp["ratio_err"], fmt="o", ms=3, label=f"{m_a:.3g} GeV")
            top = max(top, float(np.nanmax(grp["ratio"] + grp["ratio_err"])))
            row = fit[fit["m_a"] == m_a].iloc[0]
            if row["fit_ok"]:
                c = np.linspace(0, grp["ctau_mm"].max() * 1.1, 100)
                ax.plot(c, longlived_ratio(c, [row["c0_mm"], row["p"], row["q"]]), color=e[0].get_color())
        ax.set_ylim(0.0, 1.45 * top)  # one legend row above the ratio <= 1
        ax.set_xlabel(r"$c\tau$ [mm]", fontsize="small")
        ax.set_ylabel(r"$\epsilon_{LL}/\epsilon_{prompt}$", fontsize="small")
        ax.set_title(mode_label(mode), loc="right", fontsize="small")
        ax.legend(fontsize="xx-small", loc="upper right", ncol=2, columnspacing=0.8, handlelength=1.0)
    save_panels(fig, path)
