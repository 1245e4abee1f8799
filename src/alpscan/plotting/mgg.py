"""Fig. 2 of the paper (spec §10): the M_γγ distribution of the selected data against the
stacked simulation, per mode, with the veto regions and the simulation's uncertainty.

Pure functions in the conventions of :mod:`alpscan.plotting.paper` (DataFrames and arrays in,
one matplotlib Figure out; masses in GeV).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import chi2

from alpscan.plotting.paper import (
    CHARGED_MODES,
    CONTINUUM_SAMPLES,
    GROUPS,
    OTHER_B_SAMPLES,
    axes_label,
    axes_note,
    legend_if_labelled,
    pad_y,
)
from alpscan.plotting.style import MODE_LABELS, use_style

__all__ = ["group_sim", "plot_mgg_stack", "smoothed_exponential"]


def group_sim(sim: dict, mode: str, separate_other_b: bool = False) -> dict:
    """Merge selection-stage samples into the stack groups of Fig. 2.

    Parameters
    ----------
    sim : dict
        ``{sample: (m_gg, weight)}`` with M_γγ in GeV and per-candidate weights; sample names as
        in the selection stage (``continuum_uu/dd/ss/cc``, ``bb_charged``, ``bb_neutral``,
        ``peaking_pi0/eta/etap/etac``, ``xsgamma``).
    mode : {"Kp", "K0S", "Kst0", "Kstp"}
        Decides whether peaking and X_sγ samples count as B⁺B⁻ (Kp, Kstp) or B⁰B̄⁰ (K0S, Kst0).
    separate_other_b : bool
        Keep peaking and X_sγ samples in their own ``"other_B"`` group instead.

    Returns
    -------
    dict
        ``{group: (m_gg, weight)}`` for the groups of :data:`GROUPS` (empty arrays where no
        sample contributes), non-finite entries dropped.

    Raises
    ------
    ValueError
        For an unknown sample name or mismatched array lengths.
    """
    charged = "BpBm" if mode in CHARGED_MODES else "B0B0bar"
    parts: dict = {g: ([], []) for g in GROUPS}
    for name, (m, w) in sim.items():
        if name in CONTINUUM_SAMPLES:
            group = "qqbar"
        elif name == "bb_charged":
            group = "BpBm"
        elif name == "bb_neutral":
            group = "B0B0bar"
        elif name in OTHER_B_SAMPLES:
            group = "other_B" if separate_other_b else charged
        else:
            raise ValueError(f"unknown simulation sample {name!r}; known: "
                             f"{list(CONTINUUM_SAMPLES) + ['bb_charged', 'bb_neutral']} "
                             f"+ {list(OTHER_B_SAMPLES)}")
        m = np.asarray(m, dtype=float).ravel()
        w = np.asarray(w, dtype=float).ravel()
        if m.shape != w.shape:
            raise ValueError(f"sample {name!r}: {m.size} masses but {w.size} weights")
        ok = np.isfinite(m) & np.isfinite(w)
        parts[group][0].append(m[ok])
        parts[group][1].append(w[ok])
    out = {}
    for group, (ms, ws) in parts.items():
        if group == "other_B" and not separate_other_b:
            continue
        out[group] = (np.concatenate(ms) if ms else np.empty(0),
                      np.concatenate(ws) if ws else np.empty(0))
    return out


def _poisson_interval(n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Garwood 68.27 % central interval (lower, upper) for Poisson counts ``n``."""
    n = np.asarray(n, dtype=float)
    alpha = 1.0 - 0.682689492
    with np.errstate(invalid="ignore"):
        lo = np.where(n > 0, chi2.ppf(alpha / 2, 2 * n) / 2, 0.0)
    hi = chi2.ppf(1 - alpha / 2, 2 * (n + 1)) / 2
    return lo, hi


#: Simulation samples with few, heavily weighted selected candidates above 1 GeV (qq̄
#: continuum, generic BB̄, X_sγ), drawn as a fitted shape there (:func:`smoothed_exponential`).
SMOOTHED_SAMPLES = CONTINUUM_SAMPLES + ("bb_charged", "bb_neutral", "xsgamma")


def _truncexp_cdf(lam: float, x: np.ndarray, lo: float, width: float) -> np.ndarray:
    """cdf on ``[lo, lo + width]`` of the density ∝ exp(−λ(x − lo)) (uniform for λ → 0)."""
    t = np.clip((np.asarray(x, dtype=float) - lo) / width, 0.0, 1.0)
    a = lam * width
    if abs(a) < 1e-8:
        return t
    return np.expm1(-a * t) / np.expm1(-a)


def smoothed_exponential(m, w, lo: float, hi: float, edges, shape_from=None
                         ) -> tuple[np.ndarray, np.ndarray, int]:  # fmt: skip
    """Bin contents of an exponential fitted to weighted candidates, and their uncertainty.

    The density ∝ exp(−λ(x − lo)) on ``[lo, hi]`` (λ of either sign) is fitted by
    weighted maximum likelihood (the mean of x − lo fixes λ) to the candidates in the
    range, or to ``shape_from = (m, w)`` when given (a pooled sample that fixes the shape),
    and normalised to the Σw of ``(m, w)`` in the range.  The uncertainty per bin combines
    the normalisation (√Σw²) and λ's (Fisher information of n_eff = (Σw)²/Σw² events of
    the fitted sample) in quadrature.

    Returns
    -------
    contents, errors : numpy.ndarray
        Per bin of ``edges`` (candidates).
    n_raw : int
        Simulated candidates in ``[lo, hi]`` behind the shape.
    """
    from scipy.optimize import brentq

    m = np.asarray(m, dtype=float)
    w = np.asarray(w, dtype=float)
    inside = (m >= lo) & (m <= hi) & (w > 0)
    m, w = m[inside], w[inside]
    edges = np.asarray(edges, dtype=float)
    zeros = np.zeros(edges.size - 1)
    if m.size == 0:
        return zeros, zeros.copy(), 0
    width = hi - lo
    total, sumw2 = float(w.sum()), float(np.sum(w * w))
    ms, ws = (m, w) if shape_from is None else (np.asarray(a, dtype=float) for a in shape_from)
    keep = (ms >= lo) & (ms <= hi) & (ws > 0)
    ms, ws = ms[keep], ws[keep]
    mean = float(np.sum(ws * (ms - lo)) / ws.sum()) / width  # in units of the range, (0, 1)

    def mean_of(a):  # mean of t = (x − lo)/width under exp(−a t) on [0, 1]
        return 0.5 if abs(a) < 1e-6 else 1.0 / a - 1.0 / np.expm1(a)

    bound = 60.0
    target = float(np.clip(mean, mean_of(bound) + 1e-9, mean_of(-bound) - 1e-9))
    a = brentq(lambda v: mean_of(v) - target, -bound, bound) if ms.size > 1 else 0.0
    lam = a / width
    frac = np.diff(_truncexp_cdf(lam, edges, lo, width))
    contents = total * frac
    # Fisher information per event for λ is the variance of x under the fitted density
    grid = np.linspace(lo, hi, 2001)
    dens = np.exp(-lam * (grid - lo))
    dens /= dens.sum()
    var_x = float(np.sum(dens * grid**2) - np.sum(dens * grid) ** 2)
    n_eff = float(ws.sum()) ** 2 / float(np.sum(ws * ws))
    sigma_lam = 1.0 / np.sqrt(max(n_eff * var_x, 1e-300))
    step = 1e-3 * max(abs(lam), 1.0 / width)
    dfrac = (np.diff(_truncexp_cdf(lam + step, edges, lo, width))
             - np.diff(_truncexp_cdf(lam - step, edges, lo, width))) / (2 * step)
    errors = np.sqrt((contents * np.sqrt(sumw2) / total) ** 2 + (total * dfrac * sigma_lam) ** 2)
    return contents, errors, int(m.size)


def plot_mgg_stack(data_m, sim: dict, mode: str, ranges=((0.1, 1.0), (1.0, 4.5)), n_bins=(90, 70),
                   *, separate_other_b: bool = False, log_y=True,
                   smooth_above: float | None = 1.0):
    """Fig. 2: M_γγ of the selected candidates, pseudo-data over the stacked simulation.

    The top of the stack carries a hatched band of its statistical uncertainty
    (√Σw² per bin), and the legend states how many simulated candidates the panel holds,
    so that a stack built from few, heavily weighted events is visible as such.

    Parameters
    ----------
    data_m : array_like or None
        M_γγ (GeV) of the pseudo-data candidates (unweighted); drawn as points with Garwood
        (Poisson 68 %) error bars.  ``None`` draws the simulation only.
    sim : dict
        ``{sample: (m_gg [GeV], weight)}``, see :func:`group_sim`.
    mode : {"Kp", "K0S", "Kst0", "Kstp"}
    ranges : sequence of (float, float)
        M_γγ ranges (GeV) of the panels, one panel each.
    n_bins : int or sequence of int
        Bins per panel (one value for all panels or one per panel).
    separate_other_b : bool
        Stack peaking and X_sγ samples separately instead of inside B⁺B⁻/B⁰B̄⁰.
    log_y : bool or sequence of bool
        Logarithmic count axis (one value for all panels or one per panel).  The default
        (log) keeps the continuum visible beside the π⁰ peak, which exceeds it by two
        orders of magnitude.
    smooth_above : float or None
        In panels starting at or above this mass (GeV) the samples of
        :data:`SMOOTHED_SAMPLES` (qq̄, generic BB̄, X_sγ), a few heavily weighted candidates
        there, are drawn as one exponential shape fitted to all of them, normalised to each
        sample's Σw (:func:`smoothed_exponential`), with its uncertainty in the band,
        instead of their histograms; ``None`` draws histograms everywhere.

    Returns
    -------
    matplotlib.figure.Figure
    """
    use_style()
    ranges = list(ranges)
    bins = [int(n_bins)] * len(ranges) if np.ndim(n_bins) == 0 else [int(b) for b in n_bins]
    if len(bins) != len(ranges):
        raise ValueError(f"n_bins has {len(bins)} entries for {len(ranges)} ranges")
    logs = [bool(log_y)] * len(ranges) if np.ndim(log_y) == 0 else [bool(v) for v in log_y]
    if len(logs) != len(ranges):
        raise ValueError(f"log_y has {len(logs)} entries for {len(ranges)} ranges")
    sim = sim or {}
    groups = group_sim(sim, mode, separate_other_b)
    rest = group_sim({k: v for k, v in sim.items() if k not in SMOOTHED_SAMPLES}, mode,
                     separate_other_b)
    smoothed = {k: v for k, v in sim.items() if k in SMOOTHED_SAMPLES}
    pooled = (np.concatenate([np.asarray(v[0], float).ravel() for v in smoothed.values()] or [[]]),
              np.concatenate([np.asarray(v[1], float).ravel() for v in smoothed.values()] or [[]]))
    # the stack group of each smoothed sample (group_sim's assignment)
    sample_group = {k: next(g for g, (_, w) in group_sim({k: ([1.0], [1.0])}, mode,
                                                          separate_other_b).items() if w.sum())
                    for k in smoothed}
    data = None if data_m is None else np.asarray(data_m, dtype=float).ravel()
    if data is not None:
        data = data[np.isfinite(data)]
    fig, axes = plt.subplots(1, len(ranges), figsize=(7.5 * len(ranges), 6), squeeze=False)
    for i, (ax, (lo, hi), nb, log) in enumerate(zip(axes[0], ranges, bins, logs)):
        edges = np.linspace(lo, hi, nb + 1)
        bottom = np.zeros(nb)
        sumw2 = np.zeros(nb)
        n_raw = 0
        smooth = smooth_above is not None and lo >= smooth_above
        for group, (m, w) in (rest if smooth else groups).items():
            h, _ = np.histogram(m, edges, weights=w)
            sumw2 += np.histogram(m, edges, weights=w * w)[0]
            n_raw += int(np.sum((m >= lo) & (m <= hi)))
            if smooth:
                for name, (ms, ws) in smoothed.items():
                    if sample_group[name] == group:
                        c, e, n = smoothed_exponential(ms, ws, lo, hi, edges, shape_from=pooled)
                        h, sumw2, n_raw = h + c, sumw2 + e**2, n_raw + n
            name, colour = GROUPS[group]
            ax.stairs(bottom + h, edges, baseline=bottom.copy(), fill=True, color=colour,
                      label=name)
            bottom = bottom + h
        err = np.sqrt(sumw2)
        if np.any(bottom > 0):
            ax.stairs(bottom + err, edges, baseline=np.clip(bottom - err, 0.0, None), fill=False,
                      hatch="////", lw=0, color="0.35",
                      label=f"sim. unc. ({n_raw} cand.)"
                      + ("\n" + r"$q\bar{q}$, $B\bar{B}$, $X_s\gamma$: exp. fit" if smooth else ""))
        n_data = 0
        top = bottom + err
        if data is not None:
            n, _ = np.histogram(data, edges)
            n_data = int(n.sum())
            err_lo, err_hi = _poisson_interval(n)
            centres = 0.5 * (edges[1:] + edges[:-1])
            shown = n > 0 if log else np.ones(nb, dtype=bool)
            ax.errorbar(centres[shown], n[shown], yerr=[(n - err_lo)[shown], (err_hi - n)[shown]],
                        fmt="ko", ms=3, lw=1, label="pseudo-data")
            top = np.maximum(top, err_hi * (n > 0))
        if n_data == 0 and not np.any(bottom > 0):
            axes_note(ax, "no candidates in range")
        ax.set_xlim(lo, hi)
        positive = np.concatenate([bottom[bottom > 0], n[n > 0] if n_data else []])
        if log and positive.size:
            ax.set_yscale("log")
            # a fitted shape falls smoothly towards 0: the axis stops at 0.1 candidates
            ax.set_ylim(max(0.5 * min(1.0, positive.min()), 0.1), max(top.max(), 1.0))
            # room for the legend (3 rows) above the highest bin
            pad_y(ax, top=0.75, bottom=0.0)
        else:
            ax.set_ylim(0, max(top.max(), 1.0) if top.size else 1.0)
            pad_y(ax, top=0.75, bottom=0.0)
        ax.set_xlabel(r"$M_{\gamma\gamma}$ [GeV]")
        ax.set_ylabel(f"candidates / ({1e3 * (hi - lo) / nb:.0f} MeV)")
        axes_label(ax, MODE_LABELS.get(mode, mode), experiment=i == 0)
        legend_if_labelled(ax, fontsize="x-small", loc="upper right", ncol=2)
    fig.tight_layout()
    return fig
