"""Figures of the reusable results: limits over (m_a, cτ) and recast ALP models.

Pure functions: DataFrames in, one matplotlib Figure out (saved by
:func:`alpscan.plotting.style.save`).  Masses in GeV, cτ in mm, couplings in GeV⁻¹.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm

from alpscan.plotting.paper import (
    M_A_LABEL,
    MODE_LABELS,
    break_at_vetoes,
    axes_label,
    legend_if_labelled,
    axes_note,
    positive_masked,
    shade_vetoes,
)
from alpscan.plotting.style import use_style

__all__ = ["plot_ctau_limits", "plot_recast"]

BR_LABEL = r"$\mathcal{B}(B\to K^{(*)}a)\,\mathcal{B}(a\to\gamma\gamma)$ UL (90% CL)"
BR_SHORT = r"$\mathcal{B}\cdot\mathcal{B}(a\to\gamma\gamma)$ UL (90% CL)"


def _grid(frame: pd.DataFrame, value: str):
    """Pivot a long (m_a, ctau_mm) table to 2-D arrays (rows: cτ, columns: m_a)."""
    wide = frame.pivot_table(index="ctau_mm", columns="m_a", values=value, aggfunc="first")
    return wide.columns.to_numpy(float), wide.index.to_numpy(float), wide.to_numpy(float)


def plot_ctau_limits(table: pd.DataFrame, mode: str, curves_ctau_mm, *, vetoes=(),
                     max_simulated_ctau_mm: float | None = None):  # fmt: skip
    """Observed limits of one mode over (m_a, cτ) (left) and at chosen cτ values (right).

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`alpscan.reuse.lifetime.ctau_limit_table` output (``m_a``, ``ctau_mm``,
        ``br_ul_obs``, ``br_ul_exp``).
    mode : str
        Mode key (title).
    curves_ctau_mm : sequence of float
        cτ values (mm) drawn as curves (observed solid, expected dashed), with prompt.
    vetoes : sequence of (float, float)
        Veto windows (GeV), shaded on the right panel.
    max_simulated_ctau_mm : float, optional
        Largest simulated cτ: a line on the map (above it r is extrapolated).
    """
    use_style()
    fig, (ax2d, ax) = plt.subplots(1, 2, figsize=(18, 7))
    if table.empty:
        for a in (ax2d, ax):
            axes_note(a, "no limits")
        axes_label(ax2d)
        fig.tight_layout()
        return fig
    x, y, z = _grid(table[table["ctau_mm"] > 0], "br_ul_obs")
    z = np.ma.masked_invalid(np.where(z > 0, z, np.nan))
    # four decades above the best limit: longer-lived corners saturate
    vmax = min(float(z.max()), 1e4 * float(z.min()))
    mesh = ax2d.pcolormesh(x, y, z, shading="nearest", cmap="viridis",
                           norm=LogNorm(vmin=z.min(), vmax=vmax))  # fmt: skip
    fig.colorbar(mesh, ax=ax2d, label="observed UL (90% CL)", extend="max")
    if max_simulated_ctau_mm is not None:
        ax2d.axhline(max_simulated_ctau_mm, color="w", ls="--", lw=1.2)
        ax2d.text(0.03, max_simulated_ctau_mm * 1.15, "largest simulated $c\\tau$", color="w",
                  fontsize="x-small", va="bottom", transform=ax2d.get_yaxis_transform())
    ax2d.set_yscale("log")
    ax2d.set_xlabel(M_A_LABEL)
    ax2d.set_ylabel(r"$c\tau_a$ [mm]")
    axes_label(ax2d)
    shade_vetoes(ax, vetoes, label=False)
    values = [0.0, *[float(c) for c in curves_ctau_mm]]
    colors = plt.cm.plasma(np.linspace(0.0, 0.85, len(values)))
    for c, color in zip(values, colors):
        rows = table[np.isclose(table["ctau_mm"], c)].sort_values("m_a")
        if rows.empty:
            continue
        xs, (obs, exp) = break_at_vetoes(rows["m_a"].to_numpy(float),
                                          [rows["br_ul_obs"].to_numpy(float),
                                           rows["br_ul_exp"].to_numpy(float)], vetoes)  # fmt: skip
        name = "prompt" if c == 0 else f"$c\\tau$ = {c:g} mm"
        ax.plot(xs, positive_masked(obs), "-", color=color, lw=1.4, label=name)
        ax.plot(xs, positive_masked(exp), "--", color=color, lw=1.0)
    ax.plot([], [], "k-", lw=1.4, label="observed")
    ax.plot([], [], "k--", lw=1.0, label="expected")
    ax.set_yscale("log")
    lo, hi = ax.get_ylim()
    ax.set_ylim(lo, min(hi, 1.0) * 100)  # a limit above B = 1 excludes nothing
    ax.set_xlabel(M_A_LABEL)
    ax.set_ylabel(BR_SHORT)
    legend_if_labelled(ax, fontsize="xx-small", loc="upper left", ncol=3)
    axes_label(ax, MODE_LABELS.get(mode, mode), experiment=False)
    fig.tight_layout()
    return fig


def plot_recast(result: pd.DataFrame, *, poi_label: str, scan_label: str | None = None,
                title: str = ""):  # fmt: skip
    """Excluded region of a recast model.

    Without a scan parameter (one coupling): the 90 % CL upper limit on the coupling versus
    m_a (observed, expected, ±1σ/±2σ), the region above excluded.  With one: a map of the
    observed limit on the coupling over (m_a, scan parameter).

    Parameters
    ----------
    result : pandas.DataFrame
        :func:`alpscan.reuse.recast.recast` output: ``m_a``, optionally ``scan``, and
        ``poi_ul_obs``, ``poi_ul_exp``, ``poi_ul_exp_m2/m1/p1/p2``.
    poi_label, scan_label : str
        Axis labels with units.
    title : str
        Model name, shown top right.
    """
    use_style()
    fig, ax = plt.subplots(figsize=(10 if scan_label is None else 12, 6.5))
    ok = result[np.isfinite(result["poi_ul_obs"]) & (result["poi_ul_obs"] > 0)]
    if ok.empty:
        axes_note(ax, "no limits")
    elif scan_label is None:
        r = ok.sort_values("m_a")
        x = r["m_a"].to_numpy(float)
        ax.fill_between(x, r["poi_ul_exp_m2"], r["poi_ul_exp_p2"], color="#fdd835", lw=0,
                        label=r"Expected $\pm2\sigma$")  # fmt: skip
        ax.fill_between(x, r["poi_ul_exp_m1"], r["poi_ul_exp_p1"], color="#43a047", lw=0,
                        label=r"Expected $\pm1\sigma$")  # fmt: skip
        ax.plot(x, r["poi_ul_exp"], "k--", lw=1.2, label="Expected (median)")
        ax.plot(x, r["poi_ul_obs"], "k-", lw=1.6, label="Observed")
        top = float(np.nanmax(r["poi_ul_exp_p2"])) * 40
        ax.fill_between(x, r["poi_ul_obs"], top, color="grey", alpha=0.15, lw=0,
                        label="excluded (90% CL)")  # fmt: skip
        ax.set_yscale("log")
        ax.set_ylim(float(np.nanmin(r["poi_ul_exp_m2"])) / 2, top)
        ax.set_ylabel(poi_label)
        legend_if_labelled(ax, fontsize="xx-small", loc="upper left", ncol=2)
    else:
        x, y, z = _grid(ok.rename(columns={"scan": "ctau_mm"}), "poi_ul_obs")
        z = np.ma.masked_invalid(z)
        vmax = min(float(z.max()), 1e3 * float(z.min()))  # the longest-lived corner saturates
        mesh = ax.pcolormesh(x, y, z, shading="nearest", cmap="viridis",
                             norm=LogNorm(vmin=z.min(), vmax=vmax))  # fmt: skip
        fig.colorbar(mesh, ax=ax, label=poi_label, extend="max")
        ax.set_yscale("log")
        ax.set_ylabel(scan_label)
    ax.set_xlabel(M_A_LABEL)
    axes_label(ax, title)
    fig.tight_layout()
    return fig
