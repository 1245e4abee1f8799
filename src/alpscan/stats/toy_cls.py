"""Toy-based CLs (q̃ evaluated with pseudo-experiments of the window model) at chosen scan
points, and the toy upper limit on the signal yield.

Design notes: docs/limits.md.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from alpscan.fitting.batched import fit_batch
from alpscan.fitting.toys import asimov_data, fit_dataset, sampling_table
from alpscan.fitting.window_model import WindowModel
from alpscan.stats.cls import N_SIGMA, LimitResult, qmu_tilde, tail_fraction
from alpscan.stats.limits import profile_curve, yield_limits

__all__ = [
    "TOY_CHUNK",
    "EVENT_BLOCK",
    "ToyCLsScan",
    "ToyLimit",
    "ToyLimits",
    "toy_cls_scan",
    "toy_upper_limit",
    "toy_limits",
]

#: Toys per chunk (generation and fitting); part of the random-number layout.
TOY_CHUNK = 250
#: Events per block of per-event uniforms; part of the random-number layout.
EVENT_BLOCK = 512
#: Newton iterations allowed per fit (barrier-limited fits far above n̂ need ~100).
MAX_ITER = 500
#: Maximum number of grid widenings in :func:`toy_upper_limit`.
_MAX_WIDEN = 8
#: Largest basis of all b-only toys kept in memory between the tested s (bytes).
_BASIS_CACHE_BYTES = 256 * 2**20
#: Profile-curve points of the asymptotic starting guess.
_GUESS_PROFILE_POINTS = 48

# Roles of the random streams (spawn-key entries).
_R_SB_TOY, _R_SB_MASS, _R_SB_ACCEPT, _R_SB_SIGNAL, _R_B_TOY, _R_B_MASS = range(6)


# ---------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ToyCLsScan:
    """Toy CLs at a set of tested in-window signal yields (see :func:`toy_cls_scan`).

    Attributes
    ----------
    s_values : numpy.ndarray
        ``(S,)`` tested signal yields (events), increasing.
    cls, clsb, clb : numpy.ndarray
        ``(S,)`` CLs, p_{s+b} = P(q̃ ≥ q̃_obs | s) and CLb = P(q̃ ≥ q̃_obs | 0) (NaN where
        the observed conditional fit failed or no toy converged).
    cls_err : numpy.ndarray
        ``(S,)`` binomial MC uncertainty of CLs (propagated from both fractions).
    q_obs : numpy.ndarray
        ``(S,)`` observed q̃_s.
    n_failed_toys : numpy.ndarray
        ``(S,)`` toys (s+b and b-only) excluded at each ``s`` because a needed fit did
        not converge.
    n_failed_sb, n_failed_b : numpy.ndarray
        ``(S,)`` the same, split into s+b and b-only toys.
    n_ok_sb, n_ok_b : numpy.ndarray
        ``(S,)`` toys used (converged) per hypothesis.
    theta_cond : numpy.ndarray
        ``(S, K)`` conditional fits of the observed data at ``n_sig = s`` (the s+b
        generators, internal parameters of the model; NaN where failed).
    theta_null : numpy.ndarray
        ``(K,)`` observed null fit (the b-only generator).
    n_hat : float
        Observed best-fit signal yield (events).
    n_events : int
        Observed events in the window.
    n_toys : int
        Toys per hypothesis and ``s``.
    sigma_eff : float
        Relative efficiency uncertainty of the hybrid treatment.
    q_sb, q_b : numpy.ndarray
        ``(S, n_toys)`` q̃_s of the s+b and b-only toys (NaN for failed toys).
    events_sb, events_b : numpy.ndarray
        ``(S, n_toys)`` number of events of each s+b and b-only toy (-1 where the toys
        were not generated because the observed fits failed).
    """

    s_values: np.ndarray
    cls: np.ndarray
    clsb: np.ndarray
    clb: np.ndarray
    cls_err: np.ndarray
    q_obs: np.ndarray
    n_failed_toys: np.ndarray
    n_failed_sb: np.ndarray
    n_failed_b: np.ndarray
    n_ok_sb: np.ndarray
    n_ok_b: np.ndarray
    theta_cond: np.ndarray
    theta_null: np.ndarray
    n_hat: float
    n_events: int
    n_toys: int
    sigma_eff: float
    q_sb: np.ndarray = field(repr=False)
    q_b: np.ndarray = field(repr=False)
    events_sb: np.ndarray = field(repr=False)
    events_b: np.ndarray = field(repr=False)

    @property
    def total_failed(self) -> int:
        """Failed toys summed over all tested ``s``."""
        return int(np.sum(self.n_failed_toys))

    def expected_cls(self, n_sigma=N_SIGMA) -> np.ndarray:
        """Expected CLs bands ``(S, len(n_sigma))`` from the same toys.

        As pyhf's ``ToyCalculator``: q̃_obs is replaced by the Φ(−n_σ) quantile of the
        b-only toys at each ``s`` (n_σ = +2 is the weaker band).
        """
        probs = stats.norm.cdf(-np.asarray(n_sigma, dtype=float))
        out = np.full((self.s_values.size, probs.size), np.nan)
        for i in range(self.s_values.size):
            qb = self.q_b[i][np.isfinite(self.q_b[i])]
            qsb = self.q_sb[i][np.isfinite(self.q_sb[i])]
            if qb.size == 0 or qsb.size == 0:
                continue
            q_ref = np.quantile(qb, probs, method="inverted_cdf")
            clsb = tail_fraction(qsb, q_ref)
            clb = tail_fraction(qb, q_ref)
            out[i] = np.where(clb > 0, clsb / np.where(clb > 0, clb, 1.0), 0.0)
        return out


@dataclass(frozen=True)
class ToyLimit:
    """Toy-based CLs upper limit on the in-window signal yield (:func:`toy_upper_limit`).

    Attributes
    ----------
    limit : float
        Upper limit (events): CLs(limit) = 1 − cl (ln CLs interpolated linearly);
        ``inf`` if CLs never fell below 1 − cl within the widened grid.
    limit_err : float
        MC (toy-statistics) uncertainty of ``limit`` (events): the relative CLs error at
        the crossing divided by the slope of ln CLs.
    cl : float
        Confidence level.
    bracket : tuple of float
        The two tested yields around the crossing (events).
    s_guess : float
        Centre of the initial grid (events).
    guess_source : str
        ``"user"``, ``"asymptotic"`` (the limit of
        :func:`~alpscan.stats.limits.yield_limits`) or ``"fallback"``.
    n_crossings : int
        Number of downward crossings of 1 − cl along the scan (1 for a monotone CLs).
    n_failed_toys : int
        Failed (excluded) toys over the whole scan.
    n_toys : int
        Toys per hypothesis and tested yield.
    sigma_eff : float
        Relative efficiency uncertainty (hybrid treatment).
    scan : ToyCLsScan
        All tested yields (initial grid and widenings), sorted.
    """

    limit: float
    limit_err: float
    cl: float
    bracket: tuple[float, float]
    s_guess: float
    guess_source: str
    n_crossings: int
    n_failed_toys: int
    n_toys: int
    sigma_eff: float
    scan: ToyCLsScan = field(repr=False)


# ---------------------------------------------------------------------------------------
# Random numbers
# ---------------------------------------------------------------------------------------
def _root_seed(rng) -> np.random.SeedSequence:
    """Root SeedSequence: used as is, or one 63-bit seed drawn from ``rng``/int/None."""
    if isinstance(rng, np.random.SeedSequence):
        return rng
    return np.random.SeedSequence(int(np.random.default_rng(rng).integers(2**63 - 1)))


def _child(root: np.random.SeedSequence, *key: int) -> np.random.Generator:
    return np.random.default_rng(
        np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, *key))
    )


def _toy_uniforms(root, role: int, chunk: int, n_rows: int, n_cols: int) -> np.ndarray:
    """``(n_rows, n_cols)`` per-toy uniforms of one toy chunk (always drawn for a full
    chunk, so the toys of a smaller ``n_toys`` are the first ones of a larger)."""
    return _child(root, role, chunk, 0).random((TOY_CHUNK, n_cols))[:n_rows]


def _event_uniforms(root, role: int, chunk: int, sizes: np.ndarray) -> np.ndarray:
    """Uniforms of the events of a toy chunk, toy-major (toy ``b`` gets ``sizes[b]``).

    The ``j``-th uniform of toy ``b`` is element ``(b, j % EVENT_BLOCK)`` of the block
    ``j // EVENT_BLOCK`` of this (role, chunk): independent of the other toys' sizes.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    n_max = int(sizes.max()) if sizes.size else 0
    if n_max == 0:
        return np.zeros(0)
    n_blocks = -(-n_max // EVENT_BLOCK)
    blocks = [_child(root, role, chunk, 1 + k).random((TOY_CHUNK, EVENT_BLOCK))[: sizes.size]
              for k in range(n_blocks)]  # fmt: skip
    mat = np.hstack(blocks)
    return mat[np.arange(mat.shape[1])[None, :] < sizes[:, None]]


def _poisson_quantile(u: np.ndarray, mu) -> np.ndarray:
    """Poisson(mu) numbers by inverse cdf of the uniforms ``u`` (0 where mu <= 0)."""
    mu = np.broadcast_to(np.asarray(mu, dtype=float), u.shape)
    safe = np.where(mu > 0, mu, 1.0)
    n = np.where(mu > 0, stats.poisson.ppf(u, safe), 0.0)
    return np.clip(n, 0, None).astype(np.int64)


def _efficiency_scale(u: np.ndarray, sigma_eff: float) -> np.ndarray:
    """θ ~ N(1, σ_ε) truncated to θ > 0, by inverse cdf of ``u`` (1 for σ_ε = 0)."""
    if sigma_eff <= 0:
        return np.ones(u.shape)
    theta = stats.truncnorm.ppf(u, -1.0 / sigma_eff, np.inf, loc=1.0, scale=sigma_eff)
    return np.clip(theta, np.finfo(float).tiny, None)


def _offsets(sizes: np.ndarray) -> np.ndarray:
    off = np.zeros(sizes.size + 1, dtype=np.int64)
    np.cumsum(sizes, out=off[1:])
    return off


# ---------------------------------------------------------------------------------------
# Toy generation (one chunk, vectorised over its toys)
# ---------------------------------------------------------------------------------------
def _b_toys(root, chunk, n_rows, table_null):
    """b-only toys of one chunk: masses and offsets."""
    u = _toy_uniforms(root, _R_B_TOY, chunk, n_rows, 1)
    sizes = _poisson_quantile(u[:, 0], table_null.nu)
    x = table_null.masses(_event_uniforms(root, _R_B_MASS, chunk, sizes))
    return x, _offsets(sizes)


def _cell_density(table) -> np.ndarray:
    """Cell-average density (events / GeV) of a sampling table: what it samples from."""
    step = (table.edges[-1] - table.edges[0]) / (table.edges.size - 1)
    return np.diff(table.cum) * (table.nu / step)


def _sb_toys(root, chunk, n_rows, s, sigma_eff, table_s, table_sig):
    """s+b toys of one chunk with signal yield s·θ (hybrid): masses and offsets.

    Base sample from λ_s (conditional fit, signal s); θ ≥ 1: superposed
    Poisson(s(θ − 1)) signal events (appended to each toy's events); θ < 1: thinning
    with acceptance ``1 − s(1 − θ)S/λ_s`` (clipped to [0, 1]).  Both densities enter as
    the cell averages of their sampling tables, i.e. exactly the densities the base
    and the extra events are drawn from.
    """
    u = _toy_uniforms(root, _R_SB_TOY, chunk, n_rows, 3)
    sizes = _poisson_quantile(u[:, 0], table_s.nu)
    x = table_s.masses(_event_uniforms(root, _R_SB_MASS, chunk, sizes))
    if sigma_eff <= 0:
        return x, _offsets(sizes)
    theta = _efficiency_scale(u[:, 1], sigma_eff)
    # Thinning (θ < 1).
    cut = s * np.clip(1.0 - theta, 0.0, None)
    if np.any(cut > 0):
        lam, sig = _cell_density(table_s), _cell_density(table_sig)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(lam > 0, sig / lam, np.inf)  # λ = 0: never sampled
        step = (table_s.edges[-1] - table_s.edges[0]) / (table_s.edges.size - 1)
        cell = np.minimum(((x - table_s.edges[0]) / step).astype(np.int64), lam.size - 1)
        acc = 1.0 - np.repeat(cut, sizes) * ratio[cell]
        keep = _event_uniforms(root, _R_SB_ACCEPT, chunk, sizes) < acc
        x = x[keep]
        sizes = np.bincount(np.repeat(np.arange(n_rows), sizes)[keep], minlength=n_rows)
    # Superposition (θ > 1): toy b = its kept base events, then its extra events.
    n_extra = _poisson_quantile(u[:, 2], s * np.clip(theta - 1.0, 0.0, None))
    if np.any(n_extra > 0):
        xe = table_sig.masses(_event_uniforms(root, _R_SB_SIGNAL, chunk, n_extra))
        off = _offsets(sizes + n_extra)
        off_b, off_e = _offsets(sizes), _offsets(n_extra)
        toy_b = np.repeat(np.arange(n_rows), sizes)
        toy_e = np.repeat(np.arange(n_rows), n_extra)
        out = np.empty(off[-1])
        out[off[toy_b] + np.arange(x.size) - off_b[toy_b]] = x
        out[off[toy_e] + sizes[toy_e] + np.arange(xe.size) - off_e[toy_e]] = xe
        x, sizes = out, sizes + n_extra
    return x, _offsets(sizes)


# ---------------------------------------------------------------------------------------
# Fits and q̃ (vectorised over datasets)
# ---------------------------------------------------------------------------------------
def _start(model: WindowModel, ref, sizes: np.ndarray) -> np.ndarray:
    """Start rows: ``ref`` scaled to each dataset's size; zeros for empty datasets (so
    that empty observed and toy datasets get bitwise identical fits); NaN (fit_batch's
    default start) without a usable ``ref``."""
    sizes = np.asarray(sizes, dtype=float)
    out = np.full((sizes.size, model.n_par), np.nan)
    if ref is not None:
        ref = np.asarray(ref, dtype=float)
        nu = float(model.expected(ref))
        if np.all(np.isfinite(ref)) and nu > 0:
            out = sizes[:, None] / nu * ref[None, :]
    out[sizes == 0] = 0.0
    return out


def _subset(basis, offsets, idx):
    """Columns (C-contiguous copy) and offsets of the datasets ``idx``."""
    sizes = np.diff(offsets)[idx]
    off = _offsets(sizes)
    cols = np.repeat(offsets[:-1][idx] - off[:-1], sizes) + np.arange(off[-1])
    return np.take(basis, cols, axis=1), off


def _fit(model, basis, offsets, n_fixed, ref):
    """Fits of all datasets (``n_fixed``: NaN = free), starting from ``ref`` scaled to
    each dataset; datasets whose fit fails are refitted once from fit_batch's default
    start (a fit that fails from both starts stays ``converged=False``).

    Returns ``(n_sig, nll, converged)``.
    """
    sizes = np.diff(offsets)
    fixed = np.full(sizes.size, float(n_fixed))
    fit = fit_batch(model, basis, offsets, n_sig_fixed=fixed, start=_start(model, ref, sizes),
                    max_iter=MAX_ITER)  # fmt: skip
    n_sig, nll, conv = fit.n_sig, fit.nll, fit.converged
    bad = np.flatnonzero(~conv)
    if bad.size and ref is not None:
        sub, off = _subset(basis, offsets, bad)
        retry = fit_batch(model, sub, off, n_sig_fixed=fixed[bad], max_iter=MAX_ITER)
        n_sig, nll, conv = n_sig.copy(), nll.copy(), conv.copy()
        n_sig[bad] = np.where(retry.converged, retry.n_sig, n_sig[bad])
        nll[bad] = np.where(retry.converged, retry.nll, nll[bad])
        conv[bad] = retry.converged
    return n_sig, nll, conv


def _fit_needed(model, basis, offsets, need, n_fixed, ref):
    """``-ln L`` and convergence of the fits of the datasets with ``need`` (NaN / True
    elsewhere).  Most needed: all datasets are fitted (cheaper than gathering their
    columns); few: only those."""
    nll = np.full(need.size, np.nan)
    conv = np.ones(need.size, dtype=bool)
    idx = np.flatnonzero(need)
    if idx.size == 0:
        return nll, conv
    if 2 * idx.size >= need.size:
        _, nll_all, conv_all = _fit(model, basis, offsets, n_fixed, ref)
        nll[idx], conv[idx] = nll_all[idx], conv_all[idx]
    else:
        sub, off = _subset(basis, offsets, idx)
        _, nll[idx], conv[idx] = _fit(model, sub, off, n_fixed, ref)
    return nll, conv


def _free_and_null(model, basis, offsets, ref_free, ref_null):
    """Free fits of all datasets and null fits where n̂ < 0.

    Returns ``(n_hat, nll_hat, nll_zero, ok)``; ``nll_zero`` is NaN where not needed,
    ``ok`` False where a needed fit failed.
    """
    n_sig, nll_hat, ok = _fit(model, basis, offsets, np.nan, ref_free)
    nll_zero, conv0 = _fit_needed(model, basis, offsets, ok & (n_sig < 0), 0.0, ref_null)
    ok = ok & conv0
    return np.where(ok, n_sig, np.nan), nll_hat, nll_zero, ok


def _q_at(model, basis, offsets, s, n_hat, nll_hat, nll_zero, ok, ref_s):
    """q̃_s of every dataset (NaN where a needed fit failed) and the ok mask."""
    nll_s, conv = _fit_needed(model, basis, offsets, ok & (n_hat <= s), s, ref_s)
    ok = ok & conv
    with np.errstate(invalid="ignore"):
        q = qmu_tilde(nll_s, nll_hat, nll_zero, s, np.where(ok, n_hat, 0.0))
    return np.where(ok, q, np.nan), ok


# ---------------------------------------------------------------------------------------
# CLs scan
# ---------------------------------------------------------------------------------------
def toy_cls_scan(
    model: WindowModel,
    x,
    s_values,
    *,
    sigma_eff: float = 0.223,
    n_toys: int = 1000,
    rng=None,
) -> ToyCLsScan:
    """Toy CLs of the CCGV statistic q̃_s at each tested in-window signal yield ``s``.

    See docs/limits.md for the method (conditional-MLE toys, hybrid efficiency
    nuisance, common random numbers over ``s``).

    Parameters
    ----------
    model : WindowModel
        Window model of the scan point.
    x : array_like
        Observed masses (GeV); non-finite ones and those outside the window are dropped.
    s_values : array_like
        Tested signal yields (events in the window), each finite and > 0.
    sigma_eff : float, optional
        Relative efficiency uncertainty σ_ε (0: none).
    n_toys : int, optional
        Toys per hypothesis (s+b and b-only) and tested yield.
    rng : numpy.random.Generator, int, SeedSequence or None, optional
        Randomness: a SeedSequence is used as the root directly, otherwise one seed is
        drawn from ``numpy.random.default_rng(rng)``.  Same seed → identical result.

    Returns
    -------
    ToyCLsScan
        Sorted by ``s``.

    Raises
    ------
    ValueError
        For invalid ``s_values``, ``n_toys`` or ``sigma_eff``.
    RuntimeError
        If the observed free fit does not converge.
    """
    s_arr = np.unique(np.asarray(s_values, dtype=float).ravel())
    if s_arr.size == 0 or not np.all(np.isfinite(s_arr)) or np.any(s_arr <= 0):
        raise ValueError("s_values must be finite and > 0 (events)")
    n_toys = int(n_toys)
    if n_toys < 1:
        raise ValueError("n_toys must be >= 1")
    sigma_eff = float(sigma_eff)
    if not (np.isfinite(sigma_eff) and sigma_eff >= 0):
        raise ValueError("sigma_eff must be finite and >= 0")
    root = _root_seed(rng)
    kk, n_s = model.n_par, s_arr.size

    # --- observed data: free, null and conditional fits ----------------------------------
    xs, _ = model.select(x)
    b_obs = model.basis(xs)
    off_obs = np.array([0, xs.size], dtype=np.int64)
    free_o = fit_batch(model, b_obs, off_obs, start=_start(model, None, [xs.size]),
                       max_iter=MAX_ITER)  # fmt: skip
    if not bool(free_o.converged[0]):
        raise RuntimeError("the free fit of the observed data did not converge")
    n_hat_o, nll_hat_o = float(free_o.n_sig[0]), float(free_o.nll[0])
    # Null fit (b-only generator) and conditional fits at every s (s+b generators).
    rep = np.tile(b_obs, (1, n_s + 1))
    off_rep = np.arange(n_s + 2, dtype=np.int64) * xs.size
    cond = fit_batch(model, rep, off_rep, n_sig_fixed=np.concatenate([[0.0], s_arr]),
                     start=_start(model, free_o.theta[0], np.full(n_s + 1, xs.size)),
                     max_iter=MAX_ITER)  # fmt: skip
    null_ok = bool(cond.converged[0])
    theta_null = cond.theta[0] if null_ok else np.full(kk, np.nan)
    theta_cond = np.where(cond.converged[1:, None], cond.theta[1:], np.nan)
    nll_zero_o = cond.nll[0] if n_hat_o < 0 else np.nan
    q_obs = np.full(n_s, np.nan)
    if null_ok or n_hat_o >= 0:
        ok_s = cond.converged[1:]
        q = qmu_tilde(np.where(ok_s, cond.nll[1:], 0.0), nll_hat_o, nll_zero_o, s_arr, n_hat_o)
        q_obs = np.where(ok_s, q, np.nan)

    q_sb = np.full((n_s, n_toys), np.nan)
    q_b = np.full((n_s, n_toys), np.nan)
    ev_sb = np.full((n_s, n_toys), -1, dtype=np.int64)
    ev_b = np.full((n_s, n_toys), -1, dtype=np.int64)
    chunks = [(c, min(TOY_CHUNK, n_toys - c * TOY_CHUNK))
              for c in range(-(-n_toys // TOY_CHUNK))]  # fmt: skip

    # --- b-only toys: generated and fitted (free, null) once ------------------------------
    # (their basis is kept if small, else recomputed from the masses at every s)
    b_chunks = []
    if null_ok:
        table_null = sampling_table(model, theta_null)
        keep_basis = n_toys * table_null.nu * kk * 8 <= _BASIS_CACHE_BYTES
        for c, n_rows in chunks:
            xb, offb = _b_toys(root, c, n_rows, table_null)
            basis = model.basis(xb)
            fn = _free_and_null(model, basis, offb, theta_null, theta_null)
            b_chunks.append((basis if keep_basis else xb, offb, fn))

    # --- per tested s ----------------------------------------------------------------------
    sig_theta = np.zeros(kk)
    sig_theta[0] = 1.0
    table_sig = sampling_table(model, sig_theta)
    for i, s in enumerate(s_arr):
        if not (np.isfinite(q_obs[i]) and null_ok):
            continue
        th_s = theta_cond[i]
        table_s = sampling_table(model, th_s)
        for c, n_rows in chunks:
            sl = slice(c * TOY_CHUNK, c * TOY_CHUNK + n_rows)
            xt, off = _sb_toys(root, c, n_rows, s, sigma_eff, table_s, table_sig)
            basis = model.basis(xt)
            fn = _free_and_null(model, basis, off, th_s, theta_null)
            q_sb[i, sl] = _q_at(model, basis, off, s, *fn, th_s)[0]
            basis_b, off_b, fn_b = b_chunks[c]
            if basis_b.ndim == 1:  # masses: basis not cached
                basis_b = model.basis(basis_b)
            q_b[i, sl] = _q_at(model, basis_b, off_b, s, *fn_b, th_s)[0]
            ev_sb[i, sl], ev_b[i, sl] = np.diff(off), np.diff(off_b)

    # --- CLs -------------------------------------------------------------------------------
    n_ok_sb = np.sum(np.isfinite(q_sb), axis=1)
    n_ok_b = np.sum(np.isfinite(q_b), axis=1)
    tried = np.isfinite(q_obs) & null_ok
    n_failed_sb = np.where(tried, n_toys - n_ok_sb, 0)
    n_failed_b = np.where(tried, n_toys - n_ok_b, 0)
    clsb = np.full(n_s, np.nan)
    clb = np.full(n_s, np.nan)
    for i in range(n_s):
        if tried[i] and n_ok_sb[i] and n_ok_b[i]:
            clsb[i] = tail_fraction(q_sb[i][np.isfinite(q_sb[i])], q_obs[i])[0]
            clb[i] = tail_fraction(q_b[i][np.isfinite(q_b[i])], q_obs[i])[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        cls = np.where(clb > 0, clsb / np.where(clb > 0, clb, 1.0), np.where(clb == 0, 0.0, np.nan))
        rel2 = (clsb * (1 - clsb) / np.maximum(n_ok_sb, 1)) / np.maximum(
            clsb, 1.0 / np.maximum(n_ok_sb, 1)
        ) ** 2 + (clb * (1 - clb) / np.maximum(n_ok_b, 1)) / clb**2
        cls_err = np.where(clb > 0, cls * np.sqrt(rel2), np.nan)
    return ToyCLsScan(
        s_values=s_arr,
        cls=cls,
        clsb=clsb,
        clb=clb,
        cls_err=cls_err,
        q_obs=q_obs,
        n_failed_toys=(n_failed_sb + n_failed_b).astype(np.int64),
        n_failed_sb=n_failed_sb.astype(np.int64),
        n_failed_b=n_failed_b.astype(np.int64),
        n_ok_sb=n_ok_sb.astype(np.int64),
        n_ok_b=n_ok_b.astype(np.int64),
        theta_cond=theta_cond,
        theta_null=theta_null,
        n_hat=n_hat_o,
        n_events=int(xs.size),
        n_toys=n_toys,
        sigma_eff=sigma_eff,
        q_sb=q_sb,
        q_b=q_b,
        events_sb=ev_sb,
        events_b=ev_b,
    )


def _merge(scans: list[ToyCLsScan]) -> ToyCLsScan:
    """Scans of the same data, seed and settings at different ``s``, merged and sorted."""
    first = scans[0]
    s = np.concatenate([sc.s_values for sc in scans])
    order = np.argsort(s, kind="stable")
    per_s = ("s_values", "cls", "clsb", "clb", "cls_err", "q_obs", "n_failed_toys",
             "n_failed_sb", "n_failed_b", "n_ok_sb", "n_ok_b", "theta_cond", "q_sb", "q_b",
             "events_sb", "events_b")
    kw = {k: np.concatenate([getattr(sc, k) for sc in scans])[order] for k in per_s}
    return ToyCLsScan(**kw, theta_null=first.theta_null, n_hat=first.n_hat,
                      n_events=first.n_events, n_toys=first.n_toys,
                      sigma_eff=first.sigma_eff)  # fmt: skip


# ---------------------------------------------------------------------------------------
# Upper limit
# ---------------------------------------------------------------------------------------
def _asymptotic_guess(model, xs, sigma_eff, cl) -> float | None:
    """Observed asymptotic limit of :func:`yield_limits` (no bias), or None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            obs = profile_curve(model, xs, None, _GUESS_PROFILE_POINTS)
            null = fit_dataset(model, xs)[1]
            if obs is None or not bool(null.converged[0]):
                return None
            xa, wa = asimov_data(model, null.theta[0])
            asi = profile_curve(model, xa, wa, _GUESS_PROFILE_POINTS)
            if asi is None:
                return None
            lim = float(yield_limits(obs, asi, sigma_eff=sigma_eff, cl=cl).observed)
    except (ValueError, RuntimeError, FloatingPointError, ZeroDivisionError):
        return None
    return lim if np.isfinite(lim) and lim > 0 else None


def fallback_guess(model, xs) -> float:
    free, _ = fit_dataset(model, xs)
    n_hat = float(free.n_sig[0]) if free.converged[0] else 0.0
    err = float(free.n_sig_err[0])
    if not (np.isfinite(err) and err > 0):
        err = math.sqrt(xs.size + 1.0)
    return max(n_hat, 0.0) + 1.64 * err + 2.3


def _crossing(s, cls, alpha):
    """Index ``j`` of the last downward crossing (cls[j-1] ≥ α > cls[j]) and the number
    of crossings; ``j = 0`` if cls[0] < α, ``j = len`` if never below α."""
    above = cls >= alpha
    if not above[0]:
        return 0, 0
    down = np.flatnonzero(above[:-1] & ~above[1:]) + 1
    if down.size == 0:
        return s.size, 0
    return int(down[-1]), int(down.size)


def _limit_of_curve(s, c, err, alpha):
    """Yield where the CLs curve ``c(s)`` crosses ``alpha`` (its last downward crossing).

    ln CLs is interpolated linearly between the two tested yields around the crossing
    (CLs itself where the lower one is 0).  Returns ``(limit, limit_err, bracket,
    n_crossings)``; ``limit = inf`` (with a RuntimeWarning) if CLs never fell below
    ``alpha``, ``s[0]`` if it is below already at the smallest yield.  ``err`` (the MC
    error of CLs, may be NaN) gives ``limit_err``.
    """
    nan = float("nan")
    if s.size == 0:
        return nan, nan, (nan, nan), 0
    j, n_cross = _crossing(s, c, alpha)
    if j >= s.size:
        warnings.warn(f"toy CLs never fell below {alpha:g} up to s = {s[-1]:.3g} events",
                      RuntimeWarning, stacklevel=3)  # fmt: skip
        return float("inf"), nan, (float(s[-1]), float("inf")), n_cross
    if j == 0:
        return float(s[0]), nan, (0.0, float(s[0])), n_cross
    s_a, s_b, c_a, c_b = s[j - 1], s[j], c[j - 1], c[j]
    if c_b > 0:
        slope = (math.log(c_b) - math.log(c_a)) / (s_b - s_a)
        limit = s_a + (math.log(alpha) - math.log(c_a)) / slope if slope < 0 else s_b
        t = (limit - s_a) / (s_b - s_a)
        rel = (1 - t) * err[j - 1] / c_a + t * err[j] / c_b
        limit_err = rel / abs(slope) if slope < 0 else nan
    else:
        limit = s_a + (c_a - alpha) / (c_a - c_b) * (s_b - s_a)
        limit_err = nan
    return float(limit), float(limit_err), (float(s_a), float(s_b)), n_cross


def toy_upper_limit(
    model: WindowModel,
    x,
    *,
    cl: float = 0.9,
    sigma_eff: float = 0.223,
    n_toys: int = 1000,
    rng=None,
    s_guess: float | None = None,
    n_points: int = 12,
) -> ToyLimit:
    """Toy-based CLs upper limit on the in-window signal yield (events).

    CLs(s) is evaluated by :func:`toy_cls_scan` on ``n_points`` equidistant yields from
    0.5 to 1.8 times ``s_guess`` (default: the asymptotic observed limit of
    :func:`~alpscan.stats.limits.yield_limits` with the same σ_ε and no bias, or a
    simple estimate ``max(n̂, 0) + 1.64σ + 2.3`` if that fails).  While CLs at the
    largest yield is still ≥ 1 − cl the grid is extended upwards (to twice its span),
    while CLs at the smallest is already < 1 − cl it is extended downwards (towards 0);
    thanks to the common random numbers the added points belong to the same smooth
    CLs(s).  The limit interpolates ln CLs linearly in ``s`` between the points around
    the last downward crossing of 1 − cl (linearly in CLs if CLs = 0 there).

    Parameters
    ----------
    model : WindowModel
        Window model of the scan point.
    x : array_like
        Observed masses (GeV).
    cl : float, optional
        Confidence level (0.9 → CLs = 0.1).
    sigma_eff : float, optional
        Relative efficiency uncertainty (hybrid treatment, see docs/limits.md).
    n_toys : int, optional
        Toys per hypothesis and tested yield.
    rng : numpy.random.Generator, int, SeedSequence or None, optional
        Randomness (one root seed for the whole scan; same seed → identical result).
    s_guess : float, optional
        Centre of the initial grid (events).
    n_points : int, optional
        Points of the initial grid (≥ 3).

    Returns
    -------
    ToyLimit
    """
    if not 0.0 < cl < 1.0:
        raise ValueError("cl must be in (0, 1)")
    n_points = max(int(n_points), 3)
    alpha = 1.0 - cl
    root = _root_seed(rng)
    xs, _ = model.select(x)
    if s_guess is not None:
        guess, source = float(s_guess), "user"
        if not (np.isfinite(guess) and guess > 0):
            raise ValueError("s_guess must be finite and > 0")
    else:
        g = _asymptotic_guess(model, xs, sigma_eff, cl)
        guess, source = (g, "asymptotic") if g is not None else (fallback_guess(model, xs),
                                                                 "fallback")  # fmt: skip

    def run(values):
        return toy_cls_scan(model, xs, values, sigma_eff=sigma_eff, n_toys=n_toys, rng=root)

    scans = [run(np.linspace(0.5 * guess, 1.8 * guess, n_points))]
    n_new = max(n_points // 2, 3)
    for _ in range(_MAX_WIDEN):
        scan = _merge(scans)
        good = np.isfinite(scan.cls)
        s, c = scan.s_values[good], scan.cls[good]
        if s.size == 0:
            raise RuntimeError("no tested yield gave a usable CLs (observed fits failed)")
        lo, hi = float(scan.s_values[0]), float(scan.s_values[-1])
        if c[-1] >= alpha:  # not yet excluded: extend upwards
            scans.append(run(np.linspace(hi, 2.0 * hi - lo, n_new + 1)[1:]))
        elif c[0] < alpha and lo > 1e-3 * guess:  # excluded everywhere: extend downwards
            scans.append(run(np.linspace(0.25 * lo, lo, n_new + 1)[:-1]))
        else:
            break
    scan = _merge(scans)
    good = np.isfinite(scan.cls)
    limit, limit_err, bracket, n_cross = _limit_of_curve(
        scan.s_values[good], scan.cls[good], scan.cls_err[good], alpha
    )
    return ToyLimit(
        limit=limit,
        limit_err=float(limit_err),
        cl=float(cl),
        bracket=bracket,
        s_guess=float(guess),
        guess_source=source,
        n_crossings=n_cross,
        n_failed_toys=scan.total_failed,
        n_toys=int(n_toys),
        sigma_eff=float(sigma_eff),
        scan=scan,
    )


@dataclass(frozen=True)
class ToyLimits:
    """Observed and expected toy-based CLs limits of one window (:func:`toy_limits`).

    Attributes
    ----------
    result : LimitResult
        Observed limit and expected median and ±1σ/±2σ bands (events), all from the same
        toys: the expected band n_σ replaces q̃_obs by the Φ(−n_σ) quantile of the
        b-only toys (:meth:`ToyCLsScan.expected_cls`).
    observed_err : float
        MC uncertainty of the observed limit (events; NaN where not estimable).
    n_failed_toys : int
        Failed (excluded) toys over the whole scan.
    n_toys : int
        Toys per hypothesis and tested yield.
    scan : ToyCLsScan
        All tested yields.
    """

    result: LimitResult
    observed_err: float
    n_failed_toys: int
    n_toys: int
    scan: ToyCLsScan = field(repr=False)


def toy_limits(
    model: WindowModel,
    x,
    *,
    s_range: tuple[float, float],
    cl: float = 0.9,
    sigma_eff: float = 0.223,
    n_toys: int = 500,
    rng=None,
    n_points: int = 8,
) -> ToyLimits:
    """Toy-based CLs: observed limit and expected bands on the in-window signal yield.

    CLs(s) and the five expected CLs(s) curves are evaluated by :func:`toy_cls_scan` on
    ``n_points`` equidistant yields spanning ``s_range`` (events; e.g. from half the
    smallest to twice the largest asymptotic limit of the point).  The grid is extended
    upwards while any curve is still ≥ 1 − cl at its largest yield and downwards while any
    is already below at its smallest (common random numbers: one smooth curve each).
    Each limit is the last downward crossing of 1 − cl (ln CLs interpolated linearly).

    Parameters
    ----------
    s_range : (float, float)
        First and last tested yield of the initial grid (events, 0 < lo < hi).
    model, x, cl, sigma_eff, n_toys, rng
        As for :func:`toy_upper_limit` (window model, observed masses in GeV, ...).
    n_points : int, optional
        Points of the initial grid (≥ 3).

    Returns
    -------
    ToyLimits

    Raises
    ------
    ValueError
        For an invalid ``s_range`` or ``cl``.
    RuntimeError
        If the observed fits fail at every tested yield.
    """
    if not 0.0 < cl < 1.0:
        raise ValueError("cl must be in (0, 1)")
    lo, hi = (float(v) for v in s_range)
    if not (np.isfinite(lo) and np.isfinite(hi) and 0.0 < lo < hi):
        raise ValueError("s_range must be finite with 0 < lo < hi (events)")
    n_points = max(int(n_points), 3)
    alpha = 1.0 - cl
    root = _root_seed(rng)
    xs, _ = model.select(x)

    def run(values):
        return toy_cls_scan(model, xs, values, sigma_eff=sigma_eff, n_toys=n_toys, rng=root)

    def curves(scan):
        return np.column_stack([scan.cls, scan.expected_cls()])

    scans = [run(np.linspace(lo, hi, n_points))]
    n_new = max(n_points // 2, 3)
    first = lo
    for _ in range(_MAX_WIDEN):
        scan = _merge(scans)
        cur = curves(scan)
        good = np.all(np.isfinite(cur), axis=1)
        if not np.any(good):
            raise RuntimeError("no tested yield gave a usable CLs (observed fits failed)")
        c = cur[good]
        s_lo, s_hi = float(scan.s_values[0]), float(scan.s_values[-1])
        if np.any(c[-1] >= alpha):  # a curve not yet excluded: extend upwards
            scans.append(run(np.linspace(s_hi, 2.0 * s_hi - s_lo, n_new + 1)[1:]))
        elif np.any(c[0] < alpha) and s_lo > 1e-3 * first:  # excluded at the start: downwards
            scans.append(run(np.linspace(0.25 * s_lo, s_lo, n_new + 1)[:-1]))
        else:
            break
    scan = _merge(scans)
    cur = curves(scan)
    good = np.all(np.isfinite(cur), axis=1)
    s = scan.s_values[good]
    obs, obs_err, _, _ = _limit_of_curve(s, cur[good, 0], scan.cls_err[good], alpha)
    nan_err = np.full(s.size, np.nan)
    exp = tuple(_limit_of_curve(s, cur[good, 1 + i], nan_err, alpha)[0]
                for i in range(len(N_SIGMA)))  # fmt: skip
    # Quantiles of a discrete q̃ distribution can tie; keep the bands ordered.
    exp = tuple(float(v) for v in np.maximum.accumulate(np.asarray(exp)))
    return ToyLimits(
        result=LimitResult(observed=float(obs), expected=exp, cl=float(cl)),
        observed_err=float(obs_err),
        n_failed_toys=scan.total_failed,
        n_toys=int(n_toys),
        scan=scan,
    )
