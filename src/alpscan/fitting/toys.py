"""Toy Monte Carlo, profile likelihoods and Asimov data for one fit window.

Built on the batched fitter (:mod:`alpscan.fitting.batched`), which fits the same model
and objective as :func:`alpscan.fitting.window_fit.fit_window`.

* :func:`sample_toys` draws pseudo-datasets from the total fitted density λ(x) of a
  :class:`~alpscan.fitting.window_model.WindowModel` at parameters θ (Poisson(ν) events each).
* :func:`generation_theta` chooses the generator of a point's toys from the data: the
  fitted pdf with a non-negative signal yield (the paper's Poisson signal yield).
* :func:`toy_study` generates and fits toys in batches and summarises the fitted signal
  yields: its width σ_Sig, the bias and the pulls (the paper's toy study).
* :func:`profile_nll` tabulates the profiled ``-ln L`` versus a fixed signal yield in one
  batched call; :func:`fit_dataset` gives the free and the null fit of one dataset.
* :func:`asimov_data` returns the binned expectation of the model (an Asimov dataset),
  fitted as weighted events.

Masses are in GeV, yields and counts in events.  θ is the internal parameter vector
``(n_sig, a0, ..., a<d>, n_<peak>...)`` of :class:`~alpscan.fitting.window_model.WindowModel`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np

from alpscan.fitting.batched import BatchFit, fit_batch
from alpscan.fitting.window_model import WindowModel

__all__ = [
    "DEFAULT_CELLS",
    "SamplingTable",
    "sampling_table",
    "sample_toys",
    "ToyGenerator",
    "generation_theta",
    "ToyStudy",
    "toy_study",
    "profile_nll",
    "fit_dataset",
    "asimov_data",
]

#: Number of equal-width cells of the inverse-cdf table used for sampling.
DEFAULT_CELLS = 16384
#: Guide-table entries per cell (more entries: fewer unpredictable search steps).
_GUIDE_FACTOR = 4
#: Negative cell contents are clipped to 0 while their sum is within this fraction of
#: the positive content: a fitted density is only kept positive at fit_window's grid
#: points and events, and may dip marginally below 0 in between (and rounding); beyond
#: that λ counts as negative and cannot be sampled.
_NEG_TOL = 1e-3


# ---------------------------------------------------------------------------------------
# Sampling
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SamplingTable:
    """Inverse-cdf table of the total density λ(x) of a window (see :func:`sampling_table`).

    Attributes
    ----------
    edges : numpy.ndarray
        ``(M + 1,)`` equidistant cell edges from ``lo`` to ``hi`` (GeV).
    cum : numpy.ndarray
        ``(M + 1,)`` normalised cumulative probability at the edges (0 … 1, exact).
    guide : numpy.ndarray
        ``(G,)`` int32 guide table (``G = 4M``): ``guide[k]`` is the last cell whose lower
        edge has cumulative probability ``<= k/G``, where the search for
        ``u ∈ [k/G, (k+1)/G)`` starts (a few comparisons at most).
    nu : float
        Expected number of events in the window (events): the sum of the cell contents.
    """

    edges: np.ndarray
    cum: np.ndarray
    guide: np.ndarray
    nu: float

    def sample(self, rng: np.random.Generator, n_toys: int) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n_toys`` datasets with Poisson(ν) events each (see :func:`sample_toys`)."""
        n_toys = int(n_toys)
        if n_toys < 0:
            raise ValueError("n_toys must be >= 0")
        sizes = rng.poisson(self.nu, n_toys) if self.nu > 0 else np.zeros(n_toys, np.int64)
        offsets = np.zeros(n_toys + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        return self.masses(rng.random(int(offsets[-1]))), offsets

    def masses(self, u: np.ndarray) -> np.ndarray:
        """Masses (GeV) for uniform numbers ``u`` in [0, 1) by the inverse of the cdf table."""
        u = np.ascontiguousarray(u, dtype=float)
        x = np.empty(u.size)
        if u.size:
            step = (self.edges[-1] - self.edges[0]) / (self.edges.size - 1)
            _inverse_cdf(u, float(self.edges[0]), step, self.cum, self.guide, x)
            np.clip(x, self.edges[0], self.edges[-1], out=x)
        return x


def sampling_table(
    model: WindowModel, theta, n_cells: int = DEFAULT_CELLS
) -> SamplingTable:
    """Tabulate the cumulative distribution of λ(x) = θ · b(x) for inverse-cdf sampling.

    The window is cut into ``n_cells`` equal cells; the content of each cell is the
    *exact* integral of λ over it (DSCB cdfs and polynomial antiderivatives,
    :meth:`WindowModel.cdf_basis`).  Sampling then picks a cell with exactly the right
    probability and places the event uniformly inside it, i.e. it replaces λ by its
    cell average within each cell.  With the default 16384 cells a cell is ~1e-3 of
    the signal width (for a window of 9·(σ_L + σ_R)), so the cdf of the sampled
    distribution differs from the true one by at most (cell probability) × (relative
    change of λ across a cell) ≲ 1e-6, far below the statistical resolution of any toy
    study (1/√(events) ≳ 1e-4 for 10⁸ events).

    Parameters
    ----------
    model : WindowModel
        Window model.
    theta : array_like
        ``(K,)`` internal parameters (events).  ``n_sig`` (or a peaking yield) may be
        negative as long as λ >= 0 across the window.
    n_cells : int, optional
        Number of cells.

    Returns
    -------
    SamplingTable

    Raises
    ------
    ValueError
        If λ is negative in the window (negative cell contents adding up to more than
        1e-3 of the positive ones; smaller ones, e.g. a fitted density dipping
        marginally below 0 between fit_window's positivity-grid points, are set to 0),
        or θ is not finite or has the wrong shape.
    """
    th = np.asarray(theta, dtype=float)
    if th.shape != (model.n_par,):
        raise ValueError(f"theta must have {model.n_par} entries")
    n_cells = max(int(n_cells), 1)
    edges = np.linspace(model.lo, model.hi, n_cells + 1)
    cells = _cell_contents(model, th, edges)
    cum = np.zeros(n_cells + 1)
    np.cumsum(cells, out=cum[1:])
    total = cum[-1]
    if total > 0:
        cum /= total
    cum[-1] = 1.0
    n_guide = _GUIDE_FACTOR * n_cells
    guide = np.searchsorted(cum, np.arange(n_guide) / n_guide, side="right") - 1
    guide = np.clip(guide, 0, n_cells - 1).astype(np.int32)
    return SamplingTable(edges, cum, guide, float(total))


def _cell_contents(model: WindowModel, theta: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Exact integrals of λ = θ · b over the cells (events), negative ones clipped to 0.

    Raises ValueError if the negative contents exceed ``_NEG_TOL`` of the positive ones
    (λ really negative) or if θ is not finite.
    """
    if not np.all(np.isfinite(theta)):
        raise ValueError("theta must be finite")
    cells = np.diff(theta @ model.cdf_basis(edges))
    neg = -float(np.sum(cells[cells < 0]))
    pos = float(np.sum(cells[cells > 0]))
    if neg > _NEG_TOL * pos + 1e-12:
        raise ValueError("the density λ(x) is negative in the window; cannot use it")
    return np.clip(cells, 0.0, None)


@nb.njit(cache=True, error_model="numpy")
def _inverse_cdf(u, lo, step, cum, guide, out):
    """Masses for uniform numbers ``u`` in [0, 1) from the piecewise-linear cdf table
    (cells of width ``step`` from ``lo``)."""
    n_guide = guide.size
    for i in range(u.size):
        ui = u[i]
        j = guide[min(int(ui * n_guide), n_guide - 1)]
        while cum[j + 1] <= ui:
            j += 1
        out[i] = lo + (j + (ui - cum[j]) / (cum[j + 1] - cum[j])) * step


def sample_toys(
    rng: np.random.Generator,
    model: WindowModel,
    theta,
    n_toys: int,
    n_cells: int = DEFAULT_CELLS,
) -> tuple[np.ndarray, np.ndarray]:
    """Generate pseudo-datasets from the total density λ(x) of the model at θ.

    Every toy has Poisson(ν) events (ν = θ · integrals, the expected number in the
    window), drawn independently from λ/ν by inverse-cdf sampling on the table of
    :func:`sampling_table` (see there for the grid and why its discretisation is
    negligible).  Vectorised over all toys: one Poisson draw per toy, one uniform per
    event, one compiled loop.

    Parameters
    ----------
    rng : numpy.random.Generator
        The only source of randomness (same seed → identical toys).
    model : WindowModel
        Window model.
    theta : array_like
        ``(K,)`` internal parameters (events); λ must be >= 0 in the window.
    n_toys : int
        Number of toys.
    n_cells : int, optional
        Cells of the sampling table.

    Returns
    -------
    x : numpy.ndarray
        Concatenated masses of all toys (GeV), each inside ``[lo, hi]``.
    offsets : numpy.ndarray
        ``(n_toys + 1,)`` int64; toy ``b`` is ``x[offsets[b]:offsets[b+1]]``.
    """
    return sampling_table(model, theta, n_cells).sample(rng, n_toys)


# ---------------------------------------------------------------------------------------
# Toy study
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ToyStudy:
    """Fitted signal yields of toys generated at θ_gen (see :func:`toy_study`).

    Attributes
    ----------
    n_gen : float
        Expected signal yield the toys were generated with (θ_gen's ``n_sig``, events).
    n_fit : numpy.ndarray
        ``(n_toys,)`` fitted signal yield per toy (events); where ``converged`` is False
        it is the point where the fit stopped, excluded from every statistic.
    n_fit_err : numpy.ndarray
        ``(n_toys,)`` its parabolic (Hesse-like) error (events; NaN for empty toys).
    converged : numpy.ndarray
        ``(n_toys,)`` bool; statistics use converged toys only.
    n_events : numpy.ndarray
        ``(n_toys,)`` number of events per toy.
    at_boundary : numpy.ndarray
        ``(n_toys,)`` bool, fit at the density-positivity boundary.
    n_failed : int
        Number of toys whose fit did not converge (excluded).
    sigma_sig : float
        σ_Sig: standard deviation (ddof = 1) of ``n_fit`` over converged toys (events;
        NaN with fewer than 2 converged toys).
    bias : float
        ``mean(n_fit − n_gen)/σ_Sig`` over converged toys (0 when σ_Sig = 0, NaN when
        σ_Sig is NaN).
    pull_mean, pull_width : float
        Mean and standard deviation (ddof = 1) of ``(n_fit − n_gen)/n_fit_err`` over
        converged toys with a finite positive error (NaN if fewer than 2).
    """

    n_gen: float
    n_fit: np.ndarray
    n_fit_err: np.ndarray
    converged: np.ndarray
    n_events: np.ndarray
    at_boundary: np.ndarray
    n_failed: int
    sigma_sig: float
    bias: float
    pull_mean: float
    pull_width: float

    @property
    def n_toys(self) -> int:
        """Number of toys generated."""
        return int(self.n_fit.size)

    @property
    def n_ok(self) -> int:
        """Number of toys whose fit converged (used in the statistics)."""
        return int(np.count_nonzero(self.converged))

    @property
    def pulls(self) -> np.ndarray:
        """Pulls ``(n_fit − n_gen)/n_fit_err`` of the converged toys with a usable error."""
        ok = self.converged & np.isfinite(self.n_fit_err) & (self.n_fit_err > 0)
        return (self.n_fit[ok] - self.n_gen) / self.n_fit_err[ok]

    def corrected_yield(self, n_sig):
        """Bias-corrected yield ``N − bias·σ_Sig`` (events), as in the paper."""
        return np.asarray(n_sig, dtype=float) - self.bias * self.sigma_sig


def _summarise(n_gen, n_fit, n_err, conv, n_events, bound) -> ToyStudy:
    ok = conv
    n_ok = int(np.count_nonzero(ok))
    sigma = float(np.std(n_fit[ok], ddof=1)) if n_ok >= 2 else float("nan")
    if n_ok == 0:
        bias = float("nan")
    elif sigma == 0.0:
        bias = 0.0
    else:
        bias = float(np.mean(n_fit[ok] - n_gen) / sigma)
    good = ok & np.isfinite(n_err) & (n_err > 0)
    pulls = (n_fit[good] - n_gen) / n_err[good]
    pm = float(np.mean(pulls)) if pulls.size >= 2 else float("nan")
    pw = float(np.std(pulls, ddof=1)) if pulls.size >= 2 else float("nan")
    return ToyStudy(
        n_gen=float(n_gen),
        n_fit=n_fit,
        n_fit_err=n_err,
        converged=conv,
        n_events=n_events,
        at_boundary=bound,
        n_failed=int(conv.size - n_ok),
        sigma_sig=sigma,
        bias=bias,
        pull_mean=pm,
        pull_width=pw,
    )


def _concat(parts: list[np.ndarray], dtype) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)


def toy_study(
    rng: np.random.Generator,
    model: WindowModel,
    theta_gen,
    n_toys: int,
    batch_size: int = 500,
    tol: float = 1e-10,
    n_cells: int = DEFAULT_CELLS,
) -> ToyStudy:
    """Generate toys at θ_gen and fit each with the signal yield free.

    Definitions (paper): with ``N_gen`` = θ_gen's ``n_sig`` (the expected signal yield the
    toys are generated with) and ``N_fit`` the fitted yields of the converged toys,

    * ``σ_Sig = std(N_fit)`` (ddof = 1),
    * ``bias = mean(N_fit − N_gen)/σ_Sig`` (0 if σ_Sig = 0, e.g. for an empty window),
    * corrected yield ``N − bias·σ_Sig`` (:meth:`ToyStudy.corrected_yield`),
    * pull ``(N_fit − N_gen)/σ(N_fit)`` with σ(N_fit) the per-toy parabolic error;
      ``pull_mean``, ``pull_width`` = mean and std of the pulls.

    Toys are produced and fitted ``batch_size`` at a time (memory ~ batch_size ×
    ν × (K + 2) × 8 bytes; the default keeps the arrays of a ~1500-event window below
    glibc's 32 MB mmap threshold, so batches reuse memory instead of page-faulting
    fresh allocations).  Each fit starts from θ_gen scaled to the toy's number of
    events.  Non-converged fits are counted in ``n_failed`` and excluded.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random generator.
    model : WindowModel
        Window model (the fit model, and the generator with θ_gen).
    theta_gen : array_like
        ``(K,)`` internal generation parameters (e.g. a background-only fit to data with
        ``n_sig`` set to the injected yield); λ must be >= 0.
    n_toys : int
        Number of toys.
    batch_size : int, optional
        Toys per batch.
    tol : float, optional
        Convergence tolerance of :func:`~alpscan.fitting.batched.fit_batch`.
    n_cells : int, optional
        Cells of the sampling table (:func:`sampling_table`).

    Returns
    -------
    ToyStudy
    """
    th = np.asarray(theta_gen, dtype=float)
    table = sampling_table(model, th, n_cells)
    n_toys = int(n_toys)
    batch_size = max(int(batch_size), 1)
    n_fit, n_err, conv, n_ev, bound = [], [], [], [], []
    done = 0
    while done < n_toys:
        nb_toys = min(batch_size, n_toys - done)
        x, off = table.sample(rng, nb_toys)
        sizes = np.diff(off)
        scale = sizes / table.nu if table.nu > 0 else np.zeros(nb_toys)
        start = scale[:, None] * th[None, :]
        fit = fit_batch(model, model.basis(x), off, start=start, tol=tol, with_nll=False)
        n_fit.append(fit.n_sig)
        n_err.append(fit.n_sig_err)
        conv.append(fit.converged)
        n_ev.append(sizes)
        bound.append(fit.at_boundary)
        done += nb_toys
    return _summarise(
        float(th[0]),
        _concat(n_fit, float),
        _concat(n_err, float),
        _concat(conv, bool),
        _concat(n_ev, np.int64),
        _concat(bound, bool),
    )


# ---------------------------------------------------------------------------------------
# The generator of a point's toys
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ToyGenerator:
    """Generation parameters of the toys of one window (see :func:`generation_theta`).

    Attributes
    ----------
    theta : numpy.ndarray or None
        ``(K,)`` internal parameters the toys are generated at (events); None when the
        data fit that defines them did not converge (no toy study for this point).
    n_fit_data : float
        Signal yield of the free fit to the data (events; NaN if it failed).
    clipped : bool
        True when the free fit's yield was negative and the toys are generated from
        the fit with ``n_sig = 0`` (the background-only fit of the same data).
    """

    theta: np.ndarray | None
    n_fit_data: float
    clipped: bool


def generation_theta(
    model: WindowModel, x, weights=None, tol: float = 1e-10, max_iter: int = 50
) -> ToyGenerator:
    """The pdf a scan point's toys are generated from: the maximum-likelihood fit of the
    data with a non-negative signal yield.

    The paper generates its pseudo-datasets "using the fitted p.d.f. and the Poisson
    distribution of signal and background yield obtained from the fit"; a Poisson
    distribution needs a non-negative mean, so the signal yield the toys are generated
    with is ``N_gen = max(N_fit, 0)``:

    * ``N_fit >= 0``: the free fit (every yield and the background shape as fitted);
    * ``N_fit < 0``: the fit with ``n_sig = 0``, i.e. the maximum of the likelihood on
      the allowed side (for a likelihood concave in ``n_sig`` it lies at the edge).
      Setting only ``n_sig`` of the free fit to 0 instead would keep the background
      that the free fit had raised under the peak to compensate the negative signal,
      and the toys would carry an excess that the data do not have.

    Generating at a negative yield (the free fit as it is) puts the toys at the fit's
    positivity edge: the density under the peak is near 0, toys fluctuating down cannot
    be fitted lower than the edge and toys fluctuating up can, so their mean comes out
    above ``N_gen`` (``benchmarks/toy_bias.py`` measures it).

    Parameters
    ----------
    model : WindowModel
        Window model.
    x : array_like
        Data masses (GeV); those outside the window are dropped.
    weights : array_like or None, optional
        Event weights.
    tol : float, optional
        Convergence tolerance of the two fits.
    max_iter : int, optional
        Newton iterations allowed to each fit.

    Returns
    -------
    ToyGenerator
    """
    free, null = fit_dataset(model, x, weights=weights, tol=tol, max_iter=max_iter)
    if not bool(free.converged[0]):
        return ToyGenerator(None, float("nan"), False)
    n_fit = float(free.n_sig[0])
    if n_fit >= 0.0:
        return ToyGenerator(np.array(free.theta[0], dtype=float), n_fit, False)
    if not bool(null.converged[0]):
        return ToyGenerator(None, n_fit, True)
    theta = np.array(null.theta[0], dtype=float)
    theta[0] = 0.0
    return ToyGenerator(theta, n_fit, True)


# ---------------------------------------------------------------------------------------
# Single datasets: profile likelihood, free and null fit
# ---------------------------------------------------------------------------------------
def _repeat_dataset(model: WindowModel, x, weights, n: int):
    xs, ws = model.select(x, weights)
    basis = model.basis(xs)
    m = xs.size
    basis_rep = np.tile(basis, (1, n))
    w_rep = None if ws is None else np.tile(ws, n)
    offsets = np.arange(n + 1, dtype=np.int64) * m
    return basis_rep, offsets, w_rep


def profile_nll(
    model: WindowModel,
    x,
    n_sig_values,
    weights=None,
    tol: float = 1e-10,
    max_iter: int = 500,
) -> np.ndarray:
    """Profiled ``-ln L`` of one dataset at fixed signal yields (nuisances minimised).

    One batched call: the dataset is repeated once per value, with ``n_sig`` fixed to it.

    Parameters
    ----------
    model : WindowModel
        Window model.
    x : array_like
        Masses (GeV); non-finite ones and those outside the window are dropped.
    n_sig_values : array_like
        Signal yields (events in the window) at which to profile.
    weights : array_like or None, optional
        Event weights (e.g. Asimov bin contents), same length as ``x``.
    tol : float, optional
        Convergence tolerance of the fits.
    max_iter : int, optional
        Newton iterations allowed per value.  Far above the best-fit yield of a window
        with few events the polynomial dips under the signal peak until the total
        density touches zero, and the barrier-limited minimum there takes ~100
        iterations, so the default is ten times ``fit_batch``'s.

    Returns
    -------
    numpy.ndarray
        ``-ln L`` (convention of ``WindowFit.nll``) at each value; NaN where the fit did
        not converge (never silently used).
    """
    vals = np.atleast_1d(np.asarray(n_sig_values, dtype=float))
    basis, offsets, w = _repeat_dataset(model, x, weights, vals.size)
    fit = fit_batch(model, basis, offsets, weights=w, n_sig_fixed=vals, tol=tol, max_iter=max_iter)
    return np.where(fit.converged, fit.nll, np.nan)


def fit_dataset(
    model: WindowModel, x, weights=None, tol: float = 1e-10, max_iter: int = 50
) -> tuple[BatchFit, BatchFit]:
    """Free fit and null fit (``n_sig = 0``) of one dataset.

    Parameters ``model``, ``x``, ``weights`` and ``tol`` as for :func:`profile_nll`;
    ``max_iter`` the Newton iterations allowed to each fit (sparse windows crowded at the
    positivity edge can need more than the default 50).

    Returns
    -------
    free, null : BatchFit
        Results of size 1 each; the local significance is
        ``sign(n_sig)·√(2·max(null.nll − free.nll, 0))``.
    """
    basis, offsets, w = _repeat_dataset(model, x, weights, 1)
    free = fit_batch(model, basis, offsets, weights=w, tol=tol, max_iter=max_iter)
    null = fit_batch(model, basis, offsets, weights=w, n_sig_fixed=[0.0], tol=tol,
                     max_iter=max_iter)  # fmt: skip
    return free, null


# ---------------------------------------------------------------------------------------
# Asimov data
# ---------------------------------------------------------------------------------------
def asimov_data(model: WindowModel, theta, n_bins: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """Asimov dataset of the model at θ: bin centres and expected counts.

    The counts are the exact integrals of λ = θ · b over ``n_bins`` equal bins of the
    window; fitted as events at the bin centres with these weights
    (``fit_batch(..., weights=counts)``, likelihood ``ν − Σ w_i ln λ(x_i)``), they
    return θ up to the midpoint-rule error ``O((bin width / signal width)²)`` (~1e-6
    relative for the default 2000 bins over 9·(σ_L + σ_R)) and the negligible positivity
    barrier.

    Parameters
    ----------
    model : WindowModel
        Window model.
    theta : array_like
        ``(K,)`` internal parameters (events), e.g. background-only with ``n_sig = 0``.
    n_bins : int, optional
        Number of bins.

    Returns
    -------
    centres : numpy.ndarray
        ``(n_bins,)`` bin centres (GeV).
    counts : numpy.ndarray
        ``(n_bins,)`` expected events per bin (>= 0; marginal negatives clipped as in
        :func:`sampling_table`).

    Raises
    ------
    ValueError
        If λ is negative in the window.
    """
    th = np.asarray(theta, dtype=float)
    if th.shape != (model.n_par,):
        raise ValueError(f"theta must have {model.n_par} entries")
    edges = np.linspace(model.lo, model.hi, int(n_bins) + 1)
    counts = _cell_contents(model, th, edges)
    return 0.5 * (edges[1:] + edges[:-1]), counts
