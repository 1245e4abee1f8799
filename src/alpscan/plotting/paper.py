"""Figures of the paper (spec §10): the mass scan (Fig. 3), the g_aW limit
(Fig. 4) and its comparison with BaBar (Fig. 5), plus per-mode branching-fraction limits and the
toy-MC bias.

Every ``plot_*`` function is pure: it takes pandas DataFrames / numpy arrays (never file paths),
builds one matplotlib Figure in the mplhep style of :mod:`alpscan.plotting.style` and returns it;
the caller saves it with :func:`alpscan.plotting.style.save`.  Rows with NaN/inf in the plotted
columns are skipped, and an empty input gives a valid figure that says so, never an exception.
Masses are in GeV, couplings g_aW in GeV⁻¹.

The BaBar comparison curve (PRL 128, 131802, arXiv:2111.01800; digitisation shipped with the
``alpaca-alps`` 1.2.0 PyPI package, see ``resources/README.md``) is read and converted to g_aW by
:func:`babar_gaw_curve`.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import mplhep
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from alpscan.physics.alp import gaw_for_br
from alpscan.physics.constants import mass_gev
from alpscan.plotting.style import MODE_LABELS, use_style
from alpscan.summary import failed_fits

__all__ = [
    "MODE_ORDER",
    "MODE_LABELS",
    "plot_scan",
    "plot_gaw_limit",
    "plot_gaw_comparison",
    "babar_gaw_curve",
    "prompt_gaw_curve",
    "plot_br_limits",
    "plot_toy_bias",
    "veto_windows",
    "incomplete_combination",
]

#: Analysis modes in the order of the paper's figures.
MODE_ORDER = ("Kp", "K0S", "Kst0", "Kstp")
#: Product of branching fractions limited per mode (the K⁰ mode: B(B⁰ → K⁰a), K_S → π⁺π⁻ in ε).
BR_LABELS = {
    "Kp": r"$\mathcal{B}(B^+\to K^+a)\,\mathcal{B}(a\to\gamma\gamma)$",
    "K0S": r"$\mathcal{B}(B^0\to K^0a)\,\mathcal{B}(a\to\gamma\gamma)$",
    "Kst0": r"$\mathcal{B}(B^0\to K^{*0}a)\,\mathcal{B}(a\to\gamma\gamma)$",
    "Kstp": r"$\mathcal{B}(B^+\to K^{*+}a)\,\mathcal{B}(a\to\gamma\gamma)$",
}
#: Modes of a charged B (their peaking and X_sγ backgrounds are B⁺B⁻ events).
CHARGED_MODES = ("Kp", "Kstp")
#: Selection-stage simulation samples of the continuum (qq̄) group.
CONTINUUM_SAMPLES = ("continuum_uu", "continuum_dd", "continuum_ss", "continuum_cc")
#: Samples from one B decay (B → K(*) π⁰/η/η′/η_c and X_sγ), grouped by the mode's B charge.
OTHER_B_SAMPLES = ("peaking_pi0", "peaking_eta", "peaking_etap", "peaking_etac", "xsgamma")
#: Stack groups, bottom to top, with their labels and colours.
GROUPS = {
    "qqbar": (r"$q\bar{q}$", "#9ecae1"),
    "BpBm": (r"$B^+B^-$", "#fdae6b"),
    "B0B0bar": (r"$B^0\bar{B}^0$", "#a1d99b"),
    "other_B": (r"other $B$ ($K^{(*)}h$, $X_s\gamma$)", "#bcbddc"),
}
#: Experiment-style label (bold) and its qualifier (italic): never "Belle".
EXPERIMENT, EXPERIMENT_TEXT = "alpscan", "toy"
#: Legend texts of the limit bands.
BAND_LABELS = ("Observed", "Expected (median)", r"Expected $\pm1\sigma$", r"Expected $\pm2\sigma$")
#: Columns of the g_aW limit table (spec §11), GeV⁻¹.
GAW_COLUMNS = ("gaw_ul_obs", "gaw_ul_exp", "gaw_ul_exp_m2", "gaw_ul_exp_m1", "gaw_ul_exp_p1",
               "gaw_ul_exp_p2")
#: Columns of the BaBar CSV: m_a (GeV) and the 90 % CL limit on B(B⁺ → K⁺a)·B(a → γγ).
BABAR_COLUMNS = ("m_a_GeV", "br_ul_90cl")
M_A_LABEL = r"$m_a$ [GeV]"
GAW_LABEL = r"$g_{aW}$ upper limit (90% CL) [GeV$^{-1}$]"


# --------------------------------------------------------------------------- helpers


def axes_label(ax, right: str | None = None, experiment: bool = True) -> None:
    """Experiment label above the top-left corner (``alpscan`` *toy*) and ``right`` on the right."""
    if experiment:
        mplhep.label.exp_label(exp=EXPERIMENT, text=EXPERIMENT_TEXT, data=True, com=None, loc=0,
                               ax=ax, rlabel=right)
    elif right:
        ax.text(1.0, 1.01, right, transform=ax.transAxes, ha="right", va="bottom")


def axes_note(ax, text: str) -> None:
    """Centred grey note in an axes (used for empty inputs)."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="grey")


def _is_empty(frame) -> bool:
    """True for ``None`` or a frame without rows."""
    return frame is None or len(frame) == 0


def require_columns(frame: pd.DataFrame, columns, what: str) -> None:
    """Raise ValueError naming the columns of ``columns`` missing from a non-empty ``frame``."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {missing}; has {list(frame.columns)}")


def numeric_column(frame: pd.DataFrame, column: str) -> np.ndarray:
    """Column as float array (non-numeric entries become NaN)."""
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)


def _fit_ok(frame: pd.DataFrame) -> np.ndarray:
    """Boolean ``fit_ok`` column (all True when absent; missing entries count as failed)."""
    if "fit_ok" not in frame.columns:
        return np.ones(len(frame), dtype=bool)
    return np.array([bool(v) if pd.notna(v) else False for v in frame["fit_ok"]], dtype=bool)


def _ordered_modes(modes) -> list[str]:
    """Modes in :data:`MODE_ORDER` first, then any others in their given order."""
    modes = list(modes)
    return [m for m in MODE_ORDER if m in modes] + [m for m in modes if m not in MODE_ORDER]


def veto_windows(vetoes, m_start_gev: float | None = None) -> list[tuple[float, float]]:
    """The excluded M_γγ regions the paper shades: below the first scan mass (π⁰), then ``vetoes``.

    Parameters
    ----------
    vetoes : sequence of (float, float)
        Veto windows in GeV (config ``scan.vetoes_gev``: η and η′).
    m_start_gev : float, optional
        First scan mass (config ``scan.m_start_gev``, 0.160 GeV): the π⁰ region
        ``[0, m_start_gev]`` is added in front.  ``None`` adds nothing.

    Returns
    -------
    list of (float, float)
        Windows in GeV, sorted by their lower edge.

    Raises
    ------
    ValueError
        For a window with ``lo >= hi`` or a non-positive ``m_start_gev``.
    """
    out = [(float(lo), float(hi)) for lo, hi in (vetoes or ())]
    if m_start_gev is not None:
        if not float(m_start_gev) > 0:
            raise ValueError(f"scan.m_start_gev must be > 0, got {m_start_gev}")
        out.append((0.0, float(m_start_gev)))
    bad = [w for w in out if not w[0] < w[1]]
    if bad:
        raise ValueError(f"scan.vetoes_gev: windows need lo < hi, got {bad}")
    return sorted(out)


def shade_vetoes(ax, vetoes, label: bool = True) -> None:
    """Grey bands (gid ``"veto"``) over the veto windows ``vetoes`` = [(lo, hi), ...] in GeV."""
    for i, (lo, hi) in enumerate(vetoes or ()):
        span = ax.axvspan(lo, hi, color="grey", alpha=0.25, lw=0,
                          label="vetoes" if label and i == 0 else None)
        span.set_gid("veto")


def _x_from_zero(ax, vetoes) -> None:
    """Start the mass axis at 0 when a veto band starts there (the π⁰ region), as in the paper."""
    if any(lo <= 0.0 for lo, _ in (vetoes or ())):
        ax.set_xlim(0.0, ax.get_xlim()[1])


def break_at_vetoes(x: np.ndarray, ys: list[np.ndarray], vetoes) -> tuple[np.ndarray, list]:
    """Sort by ``x`` and insert NaN between neighbours that a veto window separates.

    Parameters
    ----------
    x : numpy.ndarray
        Masses in GeV.
    ys : list of numpy.ndarray
        Curves sampled at ``x``.
    vetoes : sequence of (float, float)
        Veto windows (GeV).

    Returns
    -------
    tuple
        ``(x, ys)`` with NaN rows inserted so that lines and bands are not drawn across vetoes.
    """
    order = np.argsort(x, kind="stable")
    x = x[order]
    ys = [y[order] for y in ys]
    if len(x) < 2 or not vetoes:
        return x, ys
    cut = np.zeros(len(x) - 1, dtype=bool)
    for lo, hi in vetoes:
        cut |= (x[1:] > lo) & (x[:-1] < hi) & ~((x[:-1] >= lo) & (x[1:] <= hi))
    pos = np.flatnonzero(cut) + 1
    return np.insert(x, pos, np.nan), [np.insert(y, pos, np.nan) for y in ys]


def break_at_gaps(x: np.ndarray, y: np.ndarray, factor: float = 5.0) -> tuple:
    """Sort by ``x`` and insert NaN where the spacing exceeds ``factor`` × its median."""
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    if len(x) < 3:
        return x, y
    dx = np.diff(x)
    pos = np.flatnonzero(dx > factor * np.median(dx)) + 1
    return np.insert(x, pos, np.nan), np.insert(y, pos, np.nan)


def _log_y(ax, n_drawn: int, default=(1e-6, 1e-4)) -> None:
    """Log y axis; with nothing positive drawn, a fixed ``default`` range (log of no data fails)."""
    if n_drawn == 0:
        ax.set_ylim(*default)
    ax.set_yscale("log")


def pad_y(ax, top: float = 0.3, bottom: float = 0.08) -> None:
    """Widen the y range by fractions ``top``/``bottom`` of it (room for legends and edge points).

    On a log axis the fractions apply to log10 of the limits.
    """
    lo, hi = ax.get_ylim()
    if ax.get_yscale() == "log":
        llo, lhi = np.log10(lo), np.log10(hi)
        span = lhi - llo
        ax.set_ylim(10 ** (llo - bottom * span), 10 ** (lhi + top * span))
    else:
        span = hi - lo
        ax.set_ylim(lo - bottom * span, hi + top * span)


def legend_if_labelled(ax, **kwargs) -> None:
    """Legend only where there are labelled artists (avoids matplotlib's warning)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**kwargs)


def positive_masked(y: np.ndarray) -> np.ma.MaskedArray:
    """Mask NaN, inf and non-positive values (for log-scale lines and bands)."""
    y = np.asarray(y, dtype=float)
    return np.ma.masked_where(~np.isfinite(y) | (y <= 0), y)


def _limit_bands(ax, frame: pd.DataFrame, prefix: str, vetoes, with_labels: bool = True) -> int:
    """Observed line, expected dashed line and ±1σ (green) / ±2σ (yellow) bands on log y.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    frame : pandas.DataFrame
        Columns ``m_a`` (GeV) and ``{prefix}_obs``, ``{prefix}_exp``, ``{prefix}_exp_m2``,
        ``_m1``, ``_p1``, ``_p2``.
    prefix : str
        ``"gaw_ul"`` or ``"br_ul"``.
    vetoes : sequence of (float, float)
        Veto windows in GeV (lines and bands are broken there).

    Returns
    -------
    int
        Number of points with a finite, positive observed or expected limit.
    """
    cols = [f"{prefix}_{s}" for s in ("obs", "exp", "exp_m2", "exp_m1", "exp_p1", "exp_p2")]
    x = numeric_column(frame, "m_a")
    keep = np.isfinite(x)
    x, ys = break_at_vetoes(x[keep], [numeric_column(frame, c)[keep] for c in cols], vetoes)
    obs, exp, m2, m1, p1, p2 = (positive_masked(y) for y in ys)
    lab = BAND_LABELS if with_labels else (None,) * 4
    ax.fill_between(x, m2, p2, color="#ffdd00", lw=0, label=lab[3])
    ax.fill_between(x, m1, p1, color="#00cc00", lw=0, label=lab[2])
    ax.plot(x, exp, "k--", lw=1.2, label=lab[1])
    ax.plot(x, obs, "k-", lw=1.5, label=lab[0])
    return int(np.sum(~np.ma.getmaskarray(obs) | ~np.ma.getmaskarray(exp)))


def _mode_grid(n: int, ncols: int, width: float, height: float):
    """Figure and flat list of ``n`` axes on a grid with ``ncols`` columns (spare axes hidden)."""
    nrows = max(1, -(-n // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    flat = list(axes.flat)
    for ax in flat[max(n, 1):]:
        ax.axis("off")
    return fig, flat


# --------------------------------------------------------------------------- Fig. 3


def _scan_fit_failed(frame: pd.DataFrame, fits: pd.DataFrame | None) -> np.ndarray:
    """Per row of ``frame``: did the scan fit fail?  From ``fits`` (the scan-fit table) when given.

    The mask is :func:`alpscan.summary.failed_fits` of the scan-fit table, the same function
    that counts ``n_failed_fits`` in ``significance.json`` and ``summary.json``; rows of
    ``frame`` are matched to ``fits`` by ``m_a`` (rounded to 1 eV), and a mass missing from
    ``fits`` counts as failed.  Without ``fits`` the ``fit_ok`` column of ``frame`` is used.
    """
    if fits is None:
        return failed_fits(frame)
    require_columns(fits, ("m_a", "fit_ok"), "scan fits")
    failed = pd.Series(failed_fits(fits), index=np.round(numeric_column(fits, "m_a"), 9))
    failed = failed[~failed.index.duplicated()]
    keys = np.round(numeric_column(frame, "m_a"), 9)
    return failed.reindex(keys).fillna(True).to_numpy(dtype=bool)


def plot_scan(scans: dict, vetoes=(), fits: dict | None = None):
    """Fig. 3: fitted signal yield and local significance vs m_a, one row per mode.

    Parameters
    ----------
    scans : dict
        ``{mode: DataFrame}`` with columns ``m_a`` (GeV), ``n_sig_corrected`` and ``n_sig_err``
        (events), ``significance`` (local, in σ) and optionally ``fit_ok``; non-finite values
        are skipped.
    vetoes : sequence of (float, float)
        Veto windows in GeV, shaded (see :func:`veto_windows` for the π⁰ region).
    fits : dict, optional
        ``{mode: DataFrame}`` of the scan fits (``results/scan/{mode}_fit.parquet``: ``m_a``,
        ``fit_ok``).  Points whose scan fit failed are not drawn and are counted in the
        legend as "failed fits", with the same function (:func:`alpscan.summary.failed_fits`)
        and table as ``n_failed_fits`` of ``summary.json``.  Points with a valid fit but no
        bias-corrected yield (failed toy fit) are counted separately.  Without ``fits`` the
        ``fit_ok`` column of ``scans`` decides.

    Returns
    -------
    matplotlib.figure.Figure
    """
    use_style()
    modes = _ordered_modes(scans or {})
    fig, axes = plt.subplots(max(len(modes), 1), 2, figsize=(15, 3.8 * max(len(modes), 1)),
                             squeeze=False)
    if not modes:
        for ax in axes[0]:
            axes_note(ax, "no scan results")
        axes_label(axes[0, 0])
    for row, mode in zip(axes, modes):
        frame = scans[mode]
        ax_n, ax_s = row
        for ax in row:
            shade_vetoes(ax, vetoes)
            ax.axhline(0.0, color="grey", lw=0.8).set_gid("decoration")
            ax.set_xlabel(M_A_LABEL, fontsize="small")
        ax_n.set_ylabel(r"$N_\mathrm{sig}$ (bias-corr.)", fontsize="small")
        ax_s.set_ylabel(r"local signif. [$\sigma$]", fontsize="small")
        axes_label(ax_n, MODE_LABELS.get(mode, mode), experiment=mode == modes[0])
        axes_label(ax_s, MODE_LABELS.get(mode, mode), experiment=False)
        if _is_empty(frame):
            for ax in row:
                axes_note(ax, "no scan points")
            continue
        require_columns(frame, ("m_a", "n_sig_corrected", "n_sig_err", "significance"), f"scan {mode}")
        ok = ~_scan_fit_failed(frame, None if fits is None else fits.get(mode))
        m, n, err, s = (numeric_column(frame, c)
                        for c in ("m_a", "n_sig_corrected", "n_sig_err", "significance"))
        show_n = ok & np.isfinite(m) & np.isfinite(n)
        show_s = ok & np.isfinite(m) & np.isfinite(s)
        err = np.where(np.isfinite(err) & (err >= 0), err, 0.0)
        ax_n.errorbar(m[show_n], n[show_n], err[show_n], fmt="o", ms=2.5, lw=0.8, color="C0",
                      label="fit")
        ax_s.plot(m[show_s], s[show_s], "o", ms=2.5, color="C1", label="fit")
        extra = [Line2D([], [], ls="none", label=f"failed fits (not shown): {int(np.sum(~ok))}")]
        n_bad = int(np.sum(ok & ~(show_n & show_s)))
        if n_bad:
            extra.append(Line2D([], [], ls="none",
                                label=f"no corrected yield (not shown): {n_bad}"))
        for ax in row:
            pad_y(ax, top=0.8)
            _x_from_zero(ax, vetoes)
            handles, _ = ax.get_legend_handles_labels()
            ax.legend(handles=handles + extra, fontsize="xx-small", loc="upper right", ncol=2)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- Fig. 4 and 5


def incomplete_combination(gaw: pd.DataFrame) -> np.ndarray:
    """Masses of the g_aW table where fewer modes entered the combination than can.

    The number of modes that cover a mass never grows with m_a (every mode starts at the
    first scan mass, the K* modes stop at 4.2 GeV, the K modes at 4.5 GeV), so a point with
    ``n_modes`` below the largest ``n_modes`` at any higher mass lacks a mode (its fit or
    limit failed): its limit is weaker than its neighbours' and would draw a spike.

    Parameters
    ----------
    gaw : pandas.DataFrame
        ``m_a`` (GeV) and ``n_modes`` (modes combined); without ``n_modes`` nothing is flagged.

    Returns
    -------
    numpy.ndarray
        Boolean mask over the rows of ``gaw``.
    """
    if _is_empty(gaw) or "n_modes" not in gaw.columns:
        return np.zeros(0 if gaw is None else len(gaw), dtype=bool)
    m, n = numeric_column(gaw, "m_a"), numeric_column(gaw, "n_modes")
    order = np.argsort(np.where(np.isfinite(m), m, np.inf), kind="stable")
    n_sorted = np.where(np.isfinite(n[order]), n[order], 0.0)
    # largest n_modes at this or any higher mass (suffix maximum)
    expected = np.maximum.accumulate(n_sorted[::-1])[::-1]
    flagged = np.zeros(len(gaw), dtype=bool)
    flagged[order] = n_sorted < expected
    return flagged


def _drop_incomplete(ax, gaw: pd.DataFrame, columns) -> pd.DataFrame:
    """Copy of ``gaw`` with the :func:`incomplete_combination` rows' ``columns`` set to NaN
    (the curves break there); their observed limits are drawn as open markers instead."""
    bad = incomplete_combination(gaw)
    if not bad.any():
        return gaw
    out = gaw.copy()
    y = positive_masked(numeric_column(gaw, "gaw_ul_obs"))[bad]
    ax.plot(numeric_column(gaw, "m_a")[bad], y, "o", mfc="none", mec="C3", ms=5,
            label="mode missing")
    out.loc[bad, list(columns)] = np.nan
    return out


def plot_gaw_limit(gaw: pd.DataFrame, vetoes=(), m_etac: float | None = None):
    """Fig. 4: 90 % CL upper limit on g_aW vs m_a with the expected ±1σ/±2σ bands.

    Parameters
    ----------
    gaw : pandas.DataFrame
        Columns ``m_a`` (GeV) and ``gaw_ul_obs``, ``gaw_ul_exp``, ``gaw_ul_exp_m2/m1/p1/p2``
        (GeV⁻¹); non-finite or non-positive values are left out.
    vetoes : sequence of (float, float)
        Veto windows in GeV: shaded, and the curves are broken there.
    m_etac : float, optional
        η_c mass in GeV for the vertical line (default: PDG value from ``particle``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    use_style()
    fig, ax = plt.subplots(figsize=(10, 6.5))
    shade_vetoes(ax, vetoes)
    m_etac = mass_gev("etac") if m_etac is None else m_etac
    ax.axvline(m_etac, color="C3", ls=":", lw=1.5, label=r"$\eta_c$").set_gid("decoration")
    drawn = 0
    if _is_empty(gaw):
        axes_note(ax, "no limits")
    else:
        require_columns(gaw, ("m_a",) + GAW_COLUMNS, "g_aW limits")
        drawn = _limit_bands(ax, _drop_incomplete(ax, gaw, GAW_COLUMNS), "gaw_ul", vetoes)
        if drawn == 0:
            axes_note(ax, "no finite limits")
    _log_y(ax, drawn)
    pad_y(ax, top=0.45)
    _x_from_zero(ax, vetoes)
    ax.set_xlabel(M_A_LABEL)
    ax.set_ylabel(GAW_LABEL)
    legend_if_labelled(ax, fontsize="x-small", loc="upper left", ncol=3, columnspacing=0.8, handlelength=1.5)
    axes_label(ax, r"efficiency at $c\tau(g_{aW})$")
    fig.tight_layout()
    return fig


def babar_gaw_curve(csv_path) -> pd.DataFrame:
    """BaBar's prompt-ALP limit converted to g_aW (spec §10, Fig. 5).

    Parameters
    ----------
    csv_path : str or pathlib.Path
        CSV with columns ``m_a_GeV`` (GeV) and ``br_ul_90cl`` (90 % CL upper limit on
        B(B⁺ → K⁺a)·B(a → γγ)), e.g. ``resources/babar-2111.01800-prompt-limit.csv``.

    Returns
    -------
    pandas.DataFrame
        Columns ``m_a`` (GeV) and ``gaw_ul`` (GeV⁻¹) from :func:`~alpscan.physics.alp.gaw_for_br`
        for mode ``Kp`` (B(a → γγ) = 1 for an ALP coupled to W bosons only).  Zero limits mark
        the edges of BaBar's η/η′ vetoes in the digitisation: they become NaN (no limit);
        masses at or above the kinematic endpoint give inf.

    Raises
    ------
    ValueError
        If the file cannot be parsed, lacks a column, has no rows, or has missing,
        non-numeric, negative or non-positive-mass entries (the message names file and column).
    """
    path = Path(csv_path)
    try:
        table = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a readable CSV ({err})") from err
    missing = [c for c in BABAR_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; expected {list(BABAR_COLUMNS)}, "
                         f"found {list(table.columns)}")
    if table.empty:
        raise ValueError(f"{path}: no rows")
    values = {}
    for col in BABAR_COLUMNS:
        v = pd.to_numeric(table[col], errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(v))
        if bad.size:
            raise ValueError(f"{path}: column {col!r} has missing or non-numeric values in data "
                             f"rows {bad[:5].tolist()}")
        values[col] = v
    m, br = values["m_a_GeV"], values["br_ul_90cl"]
    if np.any(m <= 0):
        raise ValueError(f"{path}: column 'm_a_GeV' has non-positive masses")
    if np.any(br < 0):
        raise ValueError(f"{path}: column 'br_ul_90cl' has negative limits")
    gaw = np.where(br > 0, gaw_for_br(br, m, "Kp"), np.nan)
    return pd.DataFrame({"m_a": m, "gaw_ul": gaw})


def prompt_gaw_curve(scan: pd.DataFrame, mode: str = "Kp") -> pd.DataFrame:
    """A prompt-ALP branching-fraction limit of one mode converted to g_aW (no lifetime penalty).

    The conversion BaBar's curve gets (:func:`babar_gaw_curve`), applied to this run's
    prompt limit on B(B → K(*)a)·B(a → γγ) (``br_ul_obs`` of ``results/scan/{mode}.parquet``),
    so the two can be compared like for like.

    Returns
    -------
    pandas.DataFrame
        Columns ``m_a`` (GeV) and ``gaw_ul`` (GeV⁻¹); rows with ``fit_ok`` False are dropped.
    """
    require_columns(scan, ("m_a", "br_ul_obs"), f"scan {mode}")
    ok = scan[_fit_ok(scan)]
    m = numeric_column(ok, "m_a")
    return pd.DataFrame({"m_a": m, "gaw_ul": gaw_for_br(numeric_column(ok, "br_ul_obs"), m, mode)})


def plot_gaw_comparison(gaw: pd.DataFrame, babar_gaw: pd.DataFrame, *, vetoes=(),
                        prompt_gaw: pd.DataFrame | None = None):
    """Fig. 5: the observed g_aW limit against BaBar's (PRL 128, 131802), like for like.

    Each curve's legend says what it assumes: BaBar's B⁺ → K⁺a limit for a prompt ALP,
    converted to g_aW with no lifetime penalty; this run's combined limit with the efficiency
    at the ALP's own cτ(g_aW); and (``prompt_gaw``) this run's B⁺ → K⁺a prompt limit
    converted exactly as BaBar's.

    Parameters
    ----------
    gaw : pandas.DataFrame
        Columns ``m_a`` (GeV) and ``gaw_ul_obs`` (GeV⁻¹).
    babar_gaw : pandas.DataFrame
        Columns ``m_a`` (GeV) and ``gaw_ul`` (GeV⁻¹), from :func:`babar_gaw_curve`; its curve is
        broken at NaN rows and at gaps wider than five times the median spacing (BaBar's vetoes).
    vetoes : sequence of (float, float)
        This analysis' veto windows in GeV: the observed curves are broken there (not shaded).
    prompt_gaw : pandas.DataFrame, optional
        Columns ``m_a`` and ``gaw_ul`` from :func:`prompt_gaw_curve` (dashed).

    Returns
    -------
    matplotlib.figure.Figure
    """
    use_style()
    fig, ax = plt.subplots(figsize=(10, 6.5))
    drawn = 0
    if not _is_empty(babar_gaw):
        require_columns(babar_gaw, ("m_a", "gaw_ul"), "BaBar g_aW curve")
        x = numeric_column(babar_gaw, "m_a")
        keep = np.isfinite(x)
        x, y = break_at_gaps(x[keep], numeric_column(babar_gaw, "gaw_ul")[keep])
        y = positive_masked(y)
        drawn += int(np.sum(~np.ma.getmaskarray(y)))
        ax.plot(x, y, "-", color="C0", lw=1.5,
                label="BaBar, PRL 128, 131802 (2022): $K^+a$, prompt, no lifetime penalty")
    if not _is_empty(gaw):
        require_columns(gaw, ("m_a", "gaw_ul_obs"), "g_aW limits")
        gaw = _drop_incomplete(ax, gaw, ("gaw_ul_obs",))
    curves = [(gaw, "gaw_ul_obs", "-", 1.5,
               f"{EXPERIMENT} {EXPERIMENT_TEXT}: modes combined, efficiency at $c\\tau(g_{{aW}})$")]
    if not _is_empty(prompt_gaw):
        curves.append((prompt_gaw, "gaw_ul", "--", 1.2,
                       f"{EXPERIMENT} {EXPERIMENT_TEXT}: $K^+a$, prompt, no lifetime penalty"))
    for frame, col, style, lw, name in curves:
        if _is_empty(frame):
            continue
        require_columns(frame, ("m_a", col), "g_aW limits")
        x = numeric_column(frame, "m_a")
        keep = np.isfinite(x)
        x, (y,) = break_at_vetoes(x[keep], [numeric_column(frame, col)[keep]], vetoes)
        y = positive_masked(y)
        drawn += int(np.sum(~np.ma.getmaskarray(y)))
        ax.plot(x, y, style, color="k", lw=lw, label=name)
    if drawn == 0:
        axes_note(ax, "no limits")
    return finish_gaw_axes(fig, ax, drawn, vetoes, "observed limits", legend_size="xx-small")


def finish_gaw_axes(fig, ax, drawn: int, vetoes, right: str, *, legend_size: str, top: float = 0.3):
    """Log y axis padded by ``top``, mass axis from 0 when a veto starts there, g_aW axis
    labels, legend (upper left, ``legend_size``) and the experiment label with ``right``;
    returns ``fig`` laid out."""
    _log_y(ax, drawn)
    pad_y(ax, top=top)
    _x_from_zero(ax, vetoes)
    ax.set_xlabel(M_A_LABEL)
    ax.set_ylabel(GAW_LABEL)
    legend_if_labelled(ax, fontsize=legend_size, loc="upper left")
    axes_label(ax, right)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- appendix


def _mark_toy_points(ax, frame: pd.DataFrame, label: bool = True) -> int:
    """Ticks along the bottom of ``ax`` at the masses whose limits are toy-based
    (``cls_method == "toys"``); the others are asymptotic.  Returns their number."""
    if "cls_method" not in frame.columns:
        return 0
    x = numeric_column(frame, "m_a")[frame["cls_method"].to_numpy() == "toys"]
    if x.size:
        ax.plot(x, np.full(x.size, 0.03), "|", color="tab:blue", ms=6, mew=0.8,
                transform=ax.get_xaxis_transform(), clip_on=False,
                label="toy-based CLs" if label else None)  # fmt: skip
    return int(x.size)


def plot_br_limits(scans: dict, *, vetoes=()):
    """90 % CL upper limits on the branching fraction vs m_a, one panel per mode.

    Parameters
    ----------
    scans : dict
        ``{mode: DataFrame}`` with ``m_a`` (GeV), ``br_ul_obs``, ``br_ul_exp`` and
        ``br_ul_exp_m2/m1/p1/p2`` (dimensionless); rows with ``fit_ok`` False and non-finite or
        non-positive limits are left out.  With a ``cls_method`` column the points
        with toy-based CLs are marked by ticks along the bottom of the panel.
    vetoes : sequence of (float, float)
        Veto windows in GeV: shaded, and the curves are broken there.

    Returns
    -------
    matplotlib.figure.Figure
    """
    use_style()
    modes = _ordered_modes(scans or {})
    fig, axes = _mode_grid(len(modes), 2, 7.5, 5.5)
    if not modes:
        axes_note(axes[0], "no scan results")
        axes_label(axes[0])
    cols = ("m_a", "br_ul_obs", "br_ul_exp", "br_ul_exp_m2", "br_ul_exp_m1", "br_ul_exp_p1",
            "br_ul_exp_p2")
    for i, (ax, mode) in enumerate(zip(axes, modes)):
        frame = scans[mode]
        shade_vetoes(ax, vetoes)
        drawn = 0
        if _is_empty(frame):
            axes_note(ax, "no scan points")
        else:
            require_columns(frame, cols, f"scan {mode}")
            drawn = _limit_bands(ax, frame[_fit_ok(frame)], "br_ul", vetoes)
            _mark_toy_points(ax, frame[_fit_ok(frame)], label=i == 0)
            if drawn == 0:
                axes_note(ax, "no finite limits")
        _log_y(ax, drawn, default=(1e-8, 1e-5))
        pad_y(ax, top=0.45)
        ax.set_xlabel(M_A_LABEL, fontsize="small")
        ax.set_ylabel(BR_LABELS.get(mode, r"$\mathcal{B}$") + "\nupper limit (90% CL)",
                      fontsize="small")
        _x_from_zero(ax, vetoes)
        axes_label(ax, MODE_LABELS.get(mode, mode), experiment=i == 0)
        if i == 0:
            legend_if_labelled(ax, fontsize="xx-small", loc="upper right", ncol=2)
    fig.tight_layout()
    return fig


def _pull_errors(width: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Statistical errors of the pull mean (w/√n) and width (w/√(2(n−1))); 0 where undefined."""
    with np.errstate(divide="ignore", invalid="ignore"):
        e_mean = np.where(n > 0, width / np.sqrt(n), 0.0)
        e_width = np.where(n > 1, width / np.sqrt(2.0 * (n - 1.0)), 0.0)
    return (np.where(np.isfinite(e_mean), e_mean, 0.0),
            np.where(np.isfinite(e_width), e_width, 0.0))


def plot_toy_bias(toys: dict):
    """Toy-MC bias (spec §8) and pull mean and width vs m_a, one row per mode.

    Parameters
    ----------
    toys : dict
        ``{mode: DataFrame}`` with ``m_a`` (GeV), ``bias`` (mean(N_fit − N_gen)/σ_Sig),
        ``pull_mean``, ``pull_width`` and ``n_toys_ok`` (toys used; gives the error bars of the
        pull mean and width); rows with ``fit_ok`` False (when present) and non-finite values
        are skipped.

    Returns
    -------
    matplotlib.figure.Figure
    """
    use_style()
    modes = _ordered_modes(toys or {})
    nrows = max(len(modes), 1)
    fig, axes = plt.subplots(nrows, 3, figsize=(18, 3.6 * nrows), squeeze=False)
    if not modes:
        for ax in axes[0]:
            axes_note(ax, "no toy results")
        axes_label(axes[0, 0])
    specs = (("bias", r"bias [$\sigma_\mathrm{Sig}$]", 0.0), ("pull_mean", "pull mean", 0.0),
             ("pull_width", "pull width", 1.0))
    for row, mode in zip(axes, modes):
        frame = toys[mode]
        for j, (ax, (col, name, ref)) in enumerate(zip(row, specs)):
            ax.axhline(ref, color="grey", lw=0.8)
            ax.set_xlabel(M_A_LABEL, fontsize="small")
            ax.set_ylabel(name, fontsize="small")
            axes_label(ax, MODE_LABELS.get(mode, mode), experiment=j == 0 and mode == modes[0])
        if _is_empty(frame):
            for ax in row:
                axes_note(ax, "no toy points")
            continue
        require_columns(frame, ("m_a", "bias", "pull_mean", "pull_width"), f"toys {mode}")
        m, width = numeric_column(frame, "m_a"), numeric_column(frame, "pull_width")
        n = numeric_column(frame, "n_toys_ok") if "n_toys_ok" in frame.columns else np.zeros(len(frame))
        e_mean, e_width = _pull_errors(width, n)
        errors = {"bias": np.zeros(len(frame)), "pull_mean": e_mean, "pull_width": e_width}
        for ax, (col, _, _) in zip(row, specs):
            y = numeric_column(frame, col)
            ok = _fit_ok(frame) & np.isfinite(m) & np.isfinite(y)
            ax.errorbar(m[ok], y[ok], errors[col][ok], fmt="o", ms=2.5, lw=0.8, color="C0")
            if ok.any():
                mean = float(np.mean(y[ok]))
                ax.axhline(mean, color="C3", ls="--", lw=1, label=f"mean {mean:+.3f}")
                pad_y(ax, top=0.35, bottom=0.1)
                ax.legend(fontsize="xx-small", loc="upper right")
            else:
                axes_note(ax, "no finite values")
    fig.tight_layout()
    return fig
