"""Cut optimisation with the Punzi figure of merit ε/(a/2 + √B) on a grid of thresholds
of the four classifier outputs (spec §5), vectorised over the grid.

Design notes: docs/selection.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "MAX_GRID_CELLS",
    "PunziResult",
    "punzi_fom",
    "threshold_grid",
    "passes",
    "pass_counts",
    "grid_search",
    "grid_search_4d",
    "best_cut_1d",
]

#: Largest number of grid cells :func:`pass_counts` agrees to allocate.
MAX_GRID_CELLS: int = 50_000_000


@dataclass(frozen=True)
class PunziResult:
    """Outcome of a Punzi grid search.

    Attributes
    ----------
    thresholds : tuple of float
        Best threshold per axis.
    index : tuple of int
        Their indices in ``axes``.
    efficiency : float
        Signal efficiency at the optimum (weighted pass / ``n_sig_total``).
    background : float
        Weighted background passing at the optimum.
    fom : float
        Punzi figure of merit at the optimum.
    directions : tuple of int
        +1 (keep ``score > t``) or -1 (keep ``score < t``) per axis.
    axes : tuple of numpy.ndarray
        The thresholds scanned on each axis.
    efficiency_grid, background_grid, fom_grid : numpy.ndarray
        ε, B and FOM at every grid point, shape ``(len(axes[0]), ..., len(axes[-1]))``.
    """

    thresholds: tuple[float, ...]
    index: tuple[int, ...]
    efficiency: float
    background: float
    fom: float
    directions: tuple[int, ...]
    axes: tuple[np.ndarray, ...]
    efficiency_grid: np.ndarray
    background_grid: np.ndarray
    fom_grid: np.ndarray


def punzi_fom(eff, b, a: float = 3.0):
    """Punzi figure of merit ``eff / (a/2 + sqrt(b))``.

    Parameters
    ----------
    eff : float or array_like
        Signal efficiency.
    b : float or array_like
        Expected background yield; negative values (possible with negative weights) are
        treated as zero.
    a : float, optional
        Target significance in Gaussian sigmas (default 3).

    Returns
    -------
    float or numpy.ndarray
    """
    res = np.asarray(eff, dtype=float) / (0.5 * a + np.sqrt(np.maximum(np.asarray(b, float), 0.0)))
    return float(res) if res.ndim == 0 else res


def threshold_grid(step: float = 0.05, lo: float = 0.0, hi: float = 1.0) -> np.ndarray:
    """Regular threshold grid ``lo, lo + step, …, hi``.

    Parameters
    ----------
    step : float, optional
        Grid step (default 0.05); ``(hi - lo)/step`` must be (close to) an integer.
    lo, hi : float, optional
        Grid ends (default 0 and 1, the range of a classifier probability).

    Returns
    -------
    numpy.ndarray
        ``n + 1`` thresholds with ``n = round((hi - lo)/step)``.
    """
    if not step > 0 or not hi > lo:
        raise ValueError("need step > 0 and hi > lo")
    n = int(round((hi - lo) / step))
    if n < 1 or abs(n * step - (hi - lo)) > 1e-9 * max(1.0, hi - lo):
        raise ValueError(f"(hi - lo) = {hi - lo} is not a multiple of step = {step}")
    return np.linspace(lo, hi, n + 1)


def _check_scores(scores, directions) -> tuple[np.ndarray, tuple[int, ...]]:
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim == 1:
        s = s[:, None]
    if s.ndim != 2:
        raise ValueError("scores must have shape (N, D)")
    dirs = tuple(int(d) for d in directions)
    if len(dirs) != s.shape[1] or any(d not in (1, -1) for d in dirs):
        raise ValueError("one direction (+1 or -1) per score column is required")
    if not np.all(np.isfinite(s)):
        raise ValueError("non-finite scores")
    return s, dirs


def passes(scores, thresholds: Sequence[float], directions: Sequence[int]) -> np.ndarray:
    """Whether each candidate passes all thresholds.

    Parameters
    ----------
    scores : array_like, shape (N, D) or (N,)
        Classifier outputs.
    thresholds : sequence of float
        One threshold per column.
    directions : sequence of int
        +1: keep ``score > t``; -1: keep ``score < t``.

    Returns
    -------
    numpy.ndarray
        Boolean mask of length N.
    """
    s, dirs = _check_scores(scores, directions)
    t = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    if t.size != s.shape[1]:
        raise ValueError("one threshold per score column is required")
    keep = np.ones(len(s), dtype=bool)
    for k, d in enumerate(dirs):
        keep &= s[:, k] > t[k] if d > 0 else s[:, k] < t[k]
    return keep


def pass_counts(
    scores, weights, axes: Sequence[np.ndarray], directions: Sequence[int]
) -> np.ndarray:
    """Weighted number of events passing every point of a threshold grid.

    Parameters
    ----------
    scores : array_like, shape (N, D)
        Classifier outputs.
    weights : array_like, shape (N,) or None
        Event weights (``None``: ones).
    axes : sequence of D increasing 1-D arrays
        Thresholds scanned on each axis.
    directions : sequence of D ints
        +1: pass if ``score > t``; -1: pass if ``score < t``.

    Returns
    -------
    numpy.ndarray
        Shape ``(len(axes[0]), …, len(axes[D-1]))``; entry ``[j0, …]`` is the weighted
        count with every ``score_k`` passing ``axes[k][j_k]``.
    """
    s, dirs = _check_scores(scores, directions)
    axes = tuple(np.asarray(ax, dtype=np.float64) for ax in axes)
    if len(axes) != s.shape[1]:
        raise ValueError("one threshold axis per score column is required")
    if any(ax.ndim != 1 or ax.size == 0 or np.any(np.diff(ax) <= 0) for ax in axes):
        raise ValueError("threshold axes must be non-empty and strictly increasing")
    w = np.ones(len(s)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (len(s),):
        raise ValueError("one weight per event is required")
    shape = tuple(ax.size + 1 for ax in axes)
    if np.prod(shape, dtype=float) > MAX_GRID_CELLS:
        raise ValueError(f"grid of {np.prod(shape, dtype=float):.3g} cells is too large")
    # Per axis, k = number of thresholds the event passes "from the loose end":
    #   +1: passes t_j  <=>  t_j < s   <=>  j < k,  k = #{t_j < s}
    #   -1: passes t_j  <=>  s < t_j   <=>  j >= k, k = #{t_j <= s}
    idx = [
        np.searchsorted(ax, s[:, k], side="left" if d > 0 else "right")
        for k, (ax, d) in enumerate(zip(axes, dirs))
    ]
    flat = np.ravel_multi_index(idx, shape) if len(s) else np.zeros(0, dtype=np.intp)
    hist = np.bincount(flat, weights=w, minlength=int(np.prod(shape))).reshape(shape)
    for k, d in enumerate(dirs):
        if d > 0:
            # count_j = sum_{k > j} h_k: reverse cumulative sum, shifted by one.
            rc = np.flip(np.cumsum(np.flip(hist, axis=k), axis=k), axis=k)
            hist = np.take(rc, np.arange(1, shape[k]), axis=k)
        else:
            # count_j = sum_{k <= j} h_k: forward cumulative sum, last bin dropped.
            hist = np.take(np.cumsum(hist, axis=k), np.arange(shape[k] - 1), axis=k)
    return hist


def grid_search(
    sig_scores,
    w_sig,
    n_sig_total: float,
    bkg_scores,
    w_bkg,
    *,
    step: float = 0.05,
    a: float = 3.0,
    directions: Sequence[int],
    lo: float = 0.0,
    hi: float = 1.0,
) -> PunziResult:
    """Punzi-optimal thresholds on a D-dimensional regular grid.

    Parameters
    ----------
    sig_scores : array_like, shape (N, D)
        Classifier outputs of the signal sample.
    w_sig : array_like or None
        Signal weights.
    n_sig_total : float
        Efficiency denominator: the weighted signal total before this selection (e.g.
        the number generated, so ε includes earlier losses).
    bkg_scores : array_like, shape (M, D)
        Classifier outputs of the background sample.
    w_bkg : array_like or None
        Background weights, normalised to the data luminosity.
    step : float, optional
        Grid step (default 0.05).
    a : float, optional
        Punzi ``a`` (default 3).
    directions : sequence of int
        +1 (keep ``score > t``) or -1 (keep ``score < t``) per axis.
    lo, hi : float, optional
        Grid ends on every axis (default 0, 1).

    Returns
    -------
    PunziResult
    """
    if not n_sig_total > 0:
        raise ValueError("n_sig_total must be positive")
    s, dirs = _check_scores(sig_scores, directions)
    b, _ = _check_scores(bkg_scores, directions)
    axes = tuple(threshold_grid(step, lo, hi) for _ in dirs)
    eff = pass_counts(s, w_sig, axes, dirs) / float(n_sig_total)
    bkg = pass_counts(b, w_bkg, axes, dirs)
    fom = punzi_fom(eff, bkg, a)
    index = tuple(int(i) for i in np.unravel_index(int(np.argmax(fom)), fom.shape))
    return PunziResult(
        thresholds=tuple(float(ax[i]) for ax, i in zip(axes, index)),
        index=index,
        efficiency=float(eff[index]),
        background=float(bkg[index]),
        fom=float(fom[index]),
        directions=dirs,
        axes=axes,
        efficiency_grid=eff,
        background_grid=bkg,
        fom_grid=fom,
    )


def grid_search_4d(
    sig_scores,
    w_sig,
    n_sig_total: float,
    bkg_scores,
    w_bkg,
    *,
    directions: Sequence[int] = (+1, +1, -1, -1),
    **options,
) -> PunziResult:
    """The paper's 4-D search over (CS1, CS2, P(π⁰), P(η)) thresholds.

    Parameters
    ----------
    sig_scores, bkg_scores : array_like, shape (N, 4), (M, 4)
        Columns: CS1, CS2, π⁰-veto probability, η-veto probability (the order must
        match ``directions``).
    w_sig, n_sig_total, w_bkg
        As for :func:`grid_search`.
    directions : sequence of 4 ints, optional
        Default ``(+1, +1, -1, -1)``: keep high CS scores and low veto probabilities.
    **options
        ``step``, ``a``, ``lo``, ``hi`` of :func:`grid_search`.

    Returns
    -------
    PunziResult
    """
    if len(tuple(directions)) != 4:
        raise ValueError("grid_search_4d needs four directions")
    return grid_search(
        sig_scores, w_sig, n_sig_total, bkg_scores, w_bkg, directions=directions, **options
    )


def best_cut_1d(
    sig_score,
    w_sig,
    n_sig_total: float,
    bkg_score,
    w_bkg,
    step: float = 0.05,
    a: float = 3.0,
    direction: int = +1,
    *,
    lo: float = 0.0,
    hi: float = 1.0,
) -> PunziResult:
    """Punzi-optimal single threshold (e.g. the X_sγ BDT cut).

    Parameters
    ----------
    sig_score, bkg_score : array_like, shape (N,), (M,)
        Classifier outputs.
    w_sig, n_sig_total, w_bkg, step, a, lo, hi
        As for :func:`grid_search`.
    direction : int, optional
        +1 (default): keep ``score > t``; -1: keep ``score < t``.

    Returns
    -------
    PunziResult
        With one-element ``thresholds``.
    """
    return grid_search(
        np.asarray(sig_score, dtype=float).reshape(-1, 1),
        w_sig,
        n_sig_total,
        np.asarray(bkg_score, dtype=float).reshape(-1, 1),
        w_bkg,
        step=step,
        a=a,
        directions=(direction,),
        lo=lo,
        hi=hi,
    )
