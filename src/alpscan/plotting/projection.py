"""Figure of the luminosity projection (issue 16): expected g_aW limits of this run and
scaled to another luminosity (alpscan.stats.projection), with BaBar's limit."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from alpscan.plotting.paper import break_at_gaps, break_at_vetoes, numeric_column, positive_masked, require_columns, finish_gaw_axes
from alpscan.plotting.style import use_style

EXPECTED = ("gaw_ul_exp_m1", "gaw_ul_exp", "gaw_ul_exp_p1")


def plot_gaw_projection(curves: list[tuple[pd.DataFrame, str, str]], babar_gaw: pd.DataFrame, *, vetoes=()):
    """Expected g_aW limits (median line, ±1σ band) of each ``(table, label, colour)`` in
    ``curves`` (``limit_gaw`` tables, GeV⁻¹) and BaBar's prompt limit (``babar_gaw``:
    ``m_a``, ``gaw_ul``, from :func:`alpscan.plotting.paper.babar_gaw_curve`)."""
    use_style()
    fig, ax = plt.subplots(figsize=(10, 6.5))
    drawn = 0
    require_columns(babar_gaw, ("m_a", "gaw_ul"), "BaBar g_aW curve")
    x = numeric_column(babar_gaw, "m_a")
    keep = np.isfinite(x)
    bx, by = break_at_gaps(x[keep], numeric_column(babar_gaw, "gaw_ul")[keep])
    ax.plot(bx, positive_masked(by), "-", color="C0", lw=1.5,
            label="BaBar (PRL 128, 131802): $K^+a$, prompt, observed")
    for table, label, colour in curves:
        require_columns(table, ("m_a", *EXPECTED), f"g_aW limits ({label})")
        x = numeric_column(table, "m_a")
        keep = np.isfinite(x)
        x, ys = break_at_vetoes(x[keep], [numeric_column(table, c)[keep] for c in EXPECTED], vetoes)
        m1, exp, p1 = (positive_masked(y) for y in ys)
        ax.fill_between(x, m1, p1, color=colour, alpha=0.25, lw=0)
        ax.plot(x, exp, "-", color=colour, lw=1.5, label=f"{label} (median, $\\pm1\\sigma$)")
        drawn += int(np.sum(~np.ma.getmaskarray(exp)))
    return finish_gaw_axes(fig, ax, drawn, vetoes, "expected limits, modes combined", legend_size="x-small",
                           top=0.35)
