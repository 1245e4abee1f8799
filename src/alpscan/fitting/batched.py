"""Batched, vectorised (numba) window fit: many datasets of one mass hypothesis at once.

This is the fast twin of :func:`alpscan.fitting.window_fit.fit_window` for toy studies,
profile likelihoods and Asimov fits.  It fits *the same model* and minimises *the same
objective*, in the same internal parametrisation, so results agree with ``fit_window``
to the convergence tolerance.

Model
-----
In a window ``[lo, hi]`` (GeV) the event density (events / GeV) is linear in the internal
parameters ``θ = (n_sig, a0, a1, a2, n_1, ..., n_P)`` (events)::

    λ(x) = θ · b(x),   b(x) = (S(x), 1/W, T1(t)/W, T2(t)/W, P_1(x), ..., P_P(x))

with ``W = hi - lo``, ``t = 2(x - lo)/W - 1``, ``T1 = t``, ``T2 = 2t² - 1``, ``S`` the
signal DSCB and ``P_k`` the peaking DSCBs, each normalised to unit integral over the
window.  The expected number of events is ``ν = θ · I`` with ``I = ∫ b dx =
(1, 1, 0, -1/3, 1, ..., 1)``.  The public parameters of ``fit_window`` follow from
``n_bkg = a0 - a2/3``, ``c1 = a1/a0``, ``c2 = a2/a0`` (:meth:`WindowModel.to_public`).

Objective
---------
For a dataset with events ``x_i`` and weights ``w_i`` (1 for unbinned data; expected bin
contents for an Asimov dataset) the objective, in ``-ln L`` units, is::

    f(θ) = ν − Σ_i w_i ln λ(x_i) + ½ Σ_c (n_c − mean_c)²/sigma_c² + ½·barrier(θ)

where ``barrier`` is ``fit_window``'s positivity log-barrier on its grid of ``n_grid``
points (:func:`alpscan.fitting.window_fit._positivity_barrier`, defined in ``-2 ln L``
units, hence the ½).  ``f`` is ``fit_window``'s Minuit function divided by 2, so both
fitters have the same minimum.  The reported ``nll`` is ``f`` without the barrier (the
extended likelihood with the Gaussian constraint terms), i.e. ``WindowFit.nll``; like
``fit_window``, a non-positive density at an event is replaced by a floor of
``1e-12·Σw/W`` in the value (such a point is never accepted as a minimum).

Minimisation
------------
``f`` is convex in θ up to the tiny scale-invariant barrier, so a damped Newton method
converges in a few iterations: exact gradient and Hessian (one vectorised pass over the
events), Cholesky solve (Levenberg-regularised if the Hessian is not positive definite),
backtracking line search that keeps the density positive at every event and grid point.
Far from the minimum the step must satisfy the Armijo condition on ``f``; close to it
(where ``f`` is nearly quadratic along the step) the log-free approximate-Wolfe form of
the same condition on the directional derivative is used, which is immune to rounding
of ``f`` and saves the logarithms.  The fit stops when the estimated distance to the
minimum ``edm = ½ gᵀH⁻¹g`` (in ``-ln L``) is below ``tol``.  The signal-yield error is
``√(H⁻¹)₀₀`` with ``H`` the Hessian of ``f``, the quantity Minuit's Hesse computes for
``fit_window`` (errordef 1 on ``2f``).

All datasets are processed in one compiled call (``numba.njit``, single-threaded, no
Python loop per dataset).  Masses in GeV, yields in events.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numba as nb
import numpy as np

from alpscan.fitting.dscb import (
    DSCBParams,
    as_dscb_params,
    dscb_cdf,
    dscb_pdf,
    dscb_window_fraction,
)
from alpscan.fitting.window_fit import (
    _BARRIER_EVENTS,
    _BARRIER_UMIN,
    _BOUNDARY_U,
    _MIN_WINDOW_FRACTION,
    BACKGROUND,
    POLY_NAMES,
    SIGNAL,
    PeakingComponent,
    YieldConstraint,
    _normalise_constraints,
    _normalise_peaking,
)

__all__ = [
    "INTERNAL_BACKGROUND_NAMES",
    "WindowModel",
    "BatchFit",
    "fit_batch",
]

#: Internal names of the linear background coefficients (events).
INTERNAL_BACKGROUND_NAMES: tuple[str, str, str] = ("a0", "a1", "a2")

# Shared with fit_window (imported above): _BARRIER_EVENTS (barrier weight, phantom
# events), _BARRIER_UMIN (linear continuation below this relative density), _BOUNDARY_U
# (at-boundary flag), _MIN_WINDOW_FRACTION (negligible component).
#: Relative floor of the density at the events, as in fit_window.
_FLOOR_REL = 1e-12
#: Armijo sufficient-decrease constant of the line search on f (far from the minimum).
_ARMIJO = 1e-4
#: Near the minimum: accept a step if φ'(t) <= _WOLFE·|φ'(0)| (approximate Wolfe
#: condition 1 - 2c with c = 0.1, i.e. a trapezoidal estimate of the decrease).
_WOLFE = 0.8
#: The log-free line search is used once edm = ½gᵀH⁻¹g (-ln L) is below
#: clip(_EDM_SWITCH_PER_EVENT·Σw, *_EDM_SWITCH_RANGE): along a Newton step of decrement
#: δ = √(2 edm) each -ln λ term changes its curvature by ~δ/√N, so the objective is
#: nearly quadratic along the step once 2·edm/N ≲ 0.01.
_EDM_SWITCH_PER_EVENT = 0.005
_EDM_SWITCH_RANGE = (0.1, 10.0)
#: Relative rounding allowance of the objective in the line search.
_F_ROUND = 1e-12
#: Maximum number of step halvings in one line search.
_MAX_HALVINGS = 60
#: Levenberg shifts (relative to the Hessian diagonal) tried when Cholesky fails.
_LM_SHIFTS = (0.0, 1e-10, 1e-8, 1e-6, 1e-4, 1e-2, 1.0, 1e2)

#: Fast-math flags of the event loops: contraction (fused multiply-add) and no signed
#: zeros only, so the NaN / infinity / positivity tests keep their meaning.  No
#: reassociation ("reassoc") and no reciprocal approximation ("arcp"): with them the
#: summation order of the vectorised reductions depends on how numba compiled the
#: kernel in that process (freshly, or loaded from the numba cache), and results
#: differed in the last bits between a cold and a warm cache (issue 20; tested by
#: tests/test_determinism.py).  All kernels use numpy's error model (a division by
#: zero gives inf/NaN instead of raising), which lets LLVM vectorise the event loops;
#: the callers test feasibility (λ > 0) explicitly.
_FASTMATH = {"contract", "nsz"}


# ---------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------
def _shape_norm(p: DSCBParams, lo: float, hi: float) -> float:
    """Factor turning the unnormalised DSCB (1 at the mode) into its window density."""
    frac = dscb_window_fraction(p, lo, hi)
    if not frac >= _MIN_WINDOW_FRACTION:
        raise ValueError(
            f"DSCB with mu={p.mu} has negligible probability ({frac:.2e}) in [{lo}, {hi}]"
        )
    peak = float(dscb_pdf(np.array([p.mu]), *p.as_tuple())[0])  # = 1/∫ unnormalised
    return peak / frac


@dataclass(frozen=True)
class WindowModel:
    """Fixed-shape model of one fit window (the per-mass-point model of ``fit_window``).

    Attributes
    ----------
    lo, hi : float
        Window edges (GeV), ``lo < hi``.
    signal : DSCBParams
        Signal shape (GeV); coerced with :func:`~alpscan.fitting.dscb.as_dscb_params`.
    peaking : tuple of PeakingComponent
        Peaking backgrounds with fixed shapes and floating yields; each must have at
        least 1e-6 of its probability in the window (``fit_window`` would drop it).
    constraints : tuple of YieldConstraint
        Gaussian constraints on peaking yields (in-window events).
    n_grid : int
        Number of points of the positivity grid (as ``fit_window``'s ``n_grid``).

    Notes
    -----
    The internal parameter vector is ``θ = (n_sig, a0, a1, a2, n_<peak>...)`` (events),
    see the module docstring.  Shape-dependent arrays are computed lazily and cached
    on the instance.
    """

    lo: float
    hi: float
    signal: DSCBParams
    peaking: tuple[PeakingComponent, ...] = ()
    constraints: tuple[YieldConstraint, ...] = ()
    n_grid: int = 201

    def __post_init__(self) -> None:
        lo, hi = float(self.lo), float(self.hi)
        if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
            raise ValueError(f"invalid window [{lo}, {hi}]")
        object.__setattr__(self, "lo", lo)
        object.__setattr__(self, "hi", hi)
        object.__setattr__(self, "signal", as_dscb_params(self.signal))
        object.__setattr__(self, "peaking", tuple(_normalise_peaking(self.peaking)))
        object.__setattr__(self, "constraints", tuple(_normalise_constraints(self.constraints)))
        object.__setattr__(self, "n_grid", max(int(self.n_grid), 3))
        if not self.signal.is_valid() or not all(p.shape.is_valid() for p in self.peaking):
            raise ValueError("a DSCB shape is outside its domain")
        names = [p.name for p in self.peaking]
        if len(set(names)) != len(names):
            raise ValueError("duplicate peaking component names")
        for c in self.constraints:
            if c.name not in names:
                raise ValueError(f"constraint on unknown component {c.name!r}")
            if not (np.isfinite(c.mean) and np.isfinite(c.sigma) and c.sigma > 0):
                raise ValueError(f"constraint on {c.name!r} has invalid mean/sigma")
        _ = self.shape_scales  # validates the window fractions

    @classmethod
    def from_point_window(cls, pw: Any, n_grid: int = 201) -> WindowModel:
        """Model of a :class:`alpscan.fitting.scan.PointWindow` (window, signal shape,
        peaking components and constraints of one mass hypothesis)."""
        return cls(
            pw.lo, pw.hi, pw.shape, tuple(pw.components), tuple(pw.constraints), n_grid
        )

    # --- parameter bookkeeping --------------------------------------------------------
    @property
    def width(self) -> float:
        """Window width ``hi - lo`` (GeV)."""
        return self.hi - self.lo

    @property
    def n_par(self) -> int:
        """Number of internal parameters ``K = 4 + P``."""
        return 4 + len(self.peaking)

    @property
    def names(self) -> tuple[str, ...]:
        """Internal parameter names ``("n_sig", "a0", "a1", "a2", "n_<peak>"...)``."""
        return (SIGNAL, *INTERNAL_BACKGROUND_NAMES, *(p.par_name for p in self.peaking))

    @property
    def public_names(self) -> tuple[str, ...]:
        """Public names as in ``WindowFit.parameters``: ``n_sig, n_bkg, c1, c2, n_<peak>``."""
        return (SIGNAL, BACKGROUND, *POLY_NAMES, *(p.par_name for p in self.peaking))

    @cached_property
    def constraint_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(index into θ, mean, sigma)`` of the Gaussian yield constraints."""
        pos = {p.name: 4 + i for i, p in enumerate(self.peaking)}
        idx = np.array([pos[c.name] for c in self.constraints], dtype=np.int64)
        mean = np.array([c.mean for c in self.constraints], dtype=np.float64)
        sigma = np.array([c.sigma for c in self.constraints], dtype=np.float64)
        return idx, mean, sigma

    # --- fixed densities ----------------------------------------------------------------
    @cached_property
    def shape_params(self) -> np.ndarray:
        """``(1 + P, 7)`` DSCB parameters (signal first) in ``PARAM_NAMES`` order."""
        shapes = [self.signal, *(p.shape for p in self.peaking)]
        return np.array([s.as_tuple() for s in shapes], dtype=np.float64)

    @cached_property
    def shape_constants(self) -> np.ndarray:
        """``(1 + P, 11)`` constants of the compiled DSCB evaluation."""
        return _shape_constants(self.shape_params)

    @cached_property
    def shape_scales(self) -> np.ndarray:
        """``(1 + P,)`` factors from the unnormalised DSCB to its window density (GeV⁻¹)."""
        shapes = [self.signal, *(p.shape for p in self.peaking)]
        return np.array([_shape_norm(s, self.lo, self.hi) for s in shapes], dtype=np.float64)

    def basis(self, x) -> np.ndarray:
        """Fixed densities at the masses ``x``, such that ``λ(x) = θ @ basis(x)``.

        Parameters
        ----------
        x : array_like
            Masses (GeV), shape ``(N,)``.

        Returns
        -------
        numpy.ndarray
            ``(K, N)`` float64 array in GeV⁻¹, rows ``S, 1/W, T1/W, T2/W, P_1, ...``; all
            rows are 0 for masses outside ``[lo, hi]`` (or non-finite).
        """
        xf = np.ascontiguousarray(np.asarray(x, dtype=np.float64).ravel())
        out = np.empty((self.n_par, xf.size))
        _basis_kernel(xf, self.lo, self.hi, self.shape_constants, self.shape_scales, out)
        return out

    def cdf_basis(self, x) -> np.ndarray:
        """Integrals ``∫_lo^x b(x') dx'`` of the basis rows (dimensionless), ``(K, N)``.

        Exact (DSCB cdf and polynomial antiderivatives); ``x`` is clipped to the window.
        """
        xf = np.clip(np.asarray(x, dtype=np.float64).ravel(), self.lo, self.hi)
        t = 2.0 * (xf - self.lo) / self.width - 1.0
        rows = [
            dscb_cdf(xf, *self.signal.as_tuple(), lo=self.lo, hi=self.hi),
            0.5 * (t + 1.0),
            0.25 * (t * t - 1.0),
            0.5 * ((2.0 / 3.0) * (t**3 + 1.0) - (t + 1.0)),
        ]
        rows.extend(dscb_cdf(xf, *p.shape.as_tuple(), lo=self.lo, hi=self.hi) for p in self.peaking)
        return np.vstack(rows)

    @cached_property
    def integrals(self) -> np.ndarray:
        """``(K,)`` integrals of the basis rows over the window: ``ν = θ @ integrals``."""
        out = np.ones(self.n_par)
        out[2] = 0.0
        out[3] = -1.0 / 3.0
        return out

    @cached_property
    def grid_x(self) -> np.ndarray:
        """Positivity grid: ``n_grid`` equidistant masses from ``lo`` to ``hi`` (GeV)."""
        return np.linspace(self.lo, self.hi, self.n_grid)

    @cached_property
    def grid_basis(self) -> np.ndarray:
        """:meth:`basis` on :attr:`grid_x`, ``(K, n_grid)``."""
        return self.basis(self.grid_x)

    # --- functions of θ -------------------------------------------------------------
    def expected(self, theta) -> np.ndarray | float:
        """Expected number of events ``ν = θ @ integrals`` for ``θ`` of shape (K,) or (B, K)."""
        nu = np.asarray(theta, dtype=float) @ self.integrals
        return float(nu) if np.ndim(nu) == 0 else nu

    def density(self, theta, x) -> np.ndarray:
        """Event density ``λ(x)`` (events / GeV) at masses ``x`` for one ``θ`` (K,)."""
        return np.asarray(theta, dtype=float) @ self.basis(x)

    def cdf(self, theta, x) -> np.ndarray:
        """Cumulative distribution ``∫_lo^x λ / ν`` (dimensionless) for one ``θ`` (K,)."""
        th = np.asarray(theta, dtype=float)
        return th @ self.cdf_basis(x) / float(th @ self.integrals)

    def to_public(self, theta) -> np.ndarray:
        """Internal ``θ`` (K,) or (B, K) → public ``(n_sig, n_bkg, c1, c2, n_<peak>...)``.

        ``n_bkg = a0 - a2/3`` (events), ``c1 = a1/a0``, ``c2 = a2/a0`` (NaN if
        ``a0 <= 0``), exactly as :func:`~alpscan.fitting.window_fit.fit_window` reports.
        """
        th = np.asarray(theta, dtype=float)
        out = th.copy()
        a0, a1, a2 = th[..., 1], th[..., 2], th[..., 3]
        pos = a0 > 0
        safe = np.where(pos, a0, 1.0)
        out[..., 1] = a0 - a2 / 3.0
        out[..., 2] = np.where(pos, a1 / safe, np.nan)
        out[..., 3] = np.where(pos, a2 / safe, np.nan)
        return out

    def from_public(self, values) -> np.ndarray:
        """Public parameters → internal ``θ``.

        Parameters
        ----------
        values : mapping or array_like
            ``{public name: value}`` (e.g. ``WindowFit.values``; missing peaking yields
            are 0) or an array ``(K,)`` / ``(B, K)`` in :attr:`public_names` order.

        Returns
        -------
        numpy.ndarray
            ``θ`` with ``(a0, a1, a2) = n_bkg·(1, c1, c2)/(1 - c2/3)``.
        """
        if isinstance(values, dict):
            values = [float(values.get(k, 0.0)) for k in self.public_names]
        v = np.asarray(values, dtype=float)
        out = v.copy()
        b0 = v[..., 1] / (1.0 - v[..., 3] / 3.0)
        out[..., 1] = b0
        out[..., 2] = b0 * v[..., 2]
        out[..., 3] = b0 * v[..., 3]
        return out

    def select(self, x, weights=None) -> tuple[np.ndarray, np.ndarray | None]:
        """Finite masses inside ``[lo, hi]`` (and their weights), as ``fit_window`` keeps."""
        xf = np.asarray(x, dtype=np.float64).ravel()
        keep = np.isfinite(xf) & (xf >= self.lo) & (xf <= self.hi)
        if weights is None:
            return xf[keep], None
        w = np.asarray(weights, dtype=np.float64).ravel()
        if w.shape != xf.shape:
            raise ValueError("weights must have the same length as x")
        return xf[keep], w[keep]


# ---------------------------------------------------------------------------------------
# Result
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BatchFit:
    """Results of :func:`fit_batch` for ``B`` datasets (arrays indexed by dataset).

    Attributes
    ----------
    theta : numpy.ndarray
        ``(B, K)`` best-fit internal parameters (events), see :attr:`WindowModel.names`.
    n_sig : numpy.ndarray
        ``(B,)`` fitted (or fixed) signal yield in the window (events).
    n_sig_err : numpy.ndarray
        ``(B,)`` parabolic error of ``n_sig`` from the inverse Hessian (as Hesse); 0 where
        ``n_sig`` was fixed; NaN where undefined (empty window, failed fit).
    nll : numpy.ndarray
        ``(B,)`` ``-ln L`` at the minimum (constraints included, barrier excluded), the
        convention of ``WindowFit.nll``.
    converged : numpy.ndarray
        ``(B,)`` bool: ``edm < tol``, finite values and Hessian, density above the
        floor at every event and positive on the grid.  Never use a fit with False.
    n_iter : numpy.ndarray
        ``(B,)`` Newton iterations (0 for the exact empty-window result).
    at_boundary : numpy.ndarray
        ``(B,)`` bool: the density falls below 10⁻³ of its window average somewhere on
        the grid (``fit_window``'s ``at_positivity_boundary``).
    edm : numpy.ndarray
        ``(B,)`` final ``½ gᵀH⁻¹g`` (``-ln L`` units).
    covariance : numpy.ndarray
        ``(B, K, K)`` inverse Hessian in the internal parameters (row/column of a fixed
        ``n_sig`` is 0; NaN where undefined).
    n_sig_fixed : numpy.ndarray
        ``(B,)`` bool, whether ``n_sig`` was fixed.
    """

    theta: np.ndarray
    n_sig: np.ndarray
    n_sig_err: np.ndarray
    nll: np.ndarray
    converged: np.ndarray
    n_iter: np.ndarray
    at_boundary: np.ndarray
    edm: np.ndarray
    covariance: np.ndarray
    n_sig_fixed: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def __len__(self) -> int:
        return int(self.theta.shape[0])

    @property
    def n_failed(self) -> int:
        """Number of datasets whose fit did not converge."""
        return int(np.count_nonzero(~self.converged))

    def public(self, model: WindowModel) -> np.ndarray:
        """``(B, K)`` values in ``model.public_names`` order (see ``to_public``)."""
        return model.to_public(self.theta)


# ---------------------------------------------------------------------------------------
# Compiled kernels
# ---------------------------------------------------------------------------------------
def _shape_constants(shapes: np.ndarray) -> np.ndarray:
    """Per-shape constants of :func:`_dscb_unnorm` from ``(S, 7)`` DSCB parameters.

    Columns: ``mu, 1/sigma_l, 1/sigma_r, alpha_l, alpha_r, n_l, n_r, c_l, b_l, c_r, b_r``;
    the tail is ``exp(c - n·ln(b + z))`` with ``c = n ln(n/α) - α²/2``, ``b = n/α - α``
    (numba-stats' power-law constants) and ``z`` the distance from the mode in core widths.
    """
    mu, sl, sr, al, nl, ar, nr = (shapes[:, j] for j in range(7))
    cols = [mu, 1.0 / sl, 1.0 / sr, al, ar, nl, nr]
    cols += [nl * np.log(nl / al) - 0.5 * al * al, nl / al - al]
    cols += [nr * np.log(nr / ar) - 0.5 * ar * ar, nr / ar - ar]
    return np.ascontiguousarray(np.column_stack(cols))


@nb.njit(cache=True, error_model="numpy")
def _dscb_unnorm(x, c):
    """DSCB shape with value 1 at the mode (numba-stats crystalball_ex formula); ``c`` is
    one row of :func:`_shape_constants`.  Written without unpredictable branches (both
    the core and the tail exponent are computed, one exp), which is faster for randomly
    ordered masses."""
    left = x < c[0]
    z = (c[0] - x) * c[1] if left else (x - c[0]) * c[2]
    alpha = c[3] if left else c[4]
    n = c[5] if left else c[6]
    cc = c[7] if left else c[9]
    b = c[8] if left else c[10]
    tail = cc - n * math.log(b + z)
    return math.exp(-0.5 * z * z if z <= alpha else tail)


@nb.njit(cache=True, error_model="numpy")
def _basis_kernel(x, lo, hi, consts, scales, out):
    """Fill ``out`` (K, N) with the basis rows at ``x`` (0 outside the window)."""
    n_shapes = consts.shape[0]
    iw = 1.0 / (hi - lo)
    r1 = out[1]
    r2 = out[2]
    r3 = out[3]
    n_out = 0
    for i in range(x.size):  # polynomial rows (vectorised)
        t = 2.0 * (x[i] - lo) * iw - 1.0
        r1[i] = iw
        r2[i] = t * iw
        r3[i] = (2.0 * t * t - 1.0) * iw
        n_out += not (x[i] >= lo and x[i] <= hi)
    for s in range(n_shapes):  # DSCB rows
        row = out[0 if s == 0 else 3 + s]
        c = consts[s]
        sc = scales[s]
        for i in range(x.size):
            row[i] = sc * _dscb_unnorm(x[i], c)
    if n_out:
        for i in range(x.size):
            if not (x[i] >= lo and x[i] <= hi):
                for k in range(out.shape[0]):
                    out[k, i] = 0.0


@nb.njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def _linear_density(theta, basis, i0, i1, lam):
    """``lam[:n] = θ @ basis[:, i0:i1]``; returns the number of entries ``<= 0``."""
    n = i1 - i0
    b0 = basis[0, i0:i1]
    t0 = theta[0]
    for i in range(n):
        lam[i] = t0 * b0[i]
    for k in range(1, theta.size):
        bk = basis[k, i0:i1]
        tk = theta[k]
        for i in range(n):
            lam[i] += tk * bk[i]
    bad = 0
    for i in range(n):
        if lam[i] <= 0.0:
            bad += 1
    return bad


@nb.njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def _data_derivatives(basis, i0, i1, ww, lam, r, r2, q, g, h):
    """Add ``-Σ w b/λ`` to ``g`` and ``Σ w b bᵀ/λ²`` to the lower triangle of ``h``
    (any K; ``lam`` from :func:`_linear_density`, ``ww`` the dataset's weights,
    ``r, r2, q`` work arrays)."""
    n = i1 - i0
    for i in range(n):
        ri = ww[i] / lam[i]
        r[i] = ri
        r2[i] = ri / lam[i]
    for k in range(g.size):
        bk = basis[k, i0:i1]
        acc = 0.0
        for i in range(n):
            acc += r[i] * bk[i]
        g[k] -= acc
        for i in range(n):
            q[i] = r2[i] * bk[i]
        for m in range(k + 1):
            bm = basis[m, i0:i1]
            acc = 0.0
            for i in range(n):
                acc += q[i] * bm[i]
            h[k, m] += acc


@nb.njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def _data_pass4(theta, basis, i0, i1, ww, lam, g, h):
    """Fused single loop for K = 4 (no peaking component): ``lam = θ @ b`` and the data
    terms of :func:`_data_derivatives`.  Returns the number of events with ``λ <= 0``
    (the derivatives are then meaningless)."""
    n = i1 - i0
    b0 = basis[0, i0:i1]
    b1 = basis[1, i0:i1]
    b2 = basis[2, i0:i1]
    b3 = basis[3, i0:i1]
    t0, t1, t2, t3 = theta[0], theta[1], theta[2], theta[3]
    g0 = g1 = g2 = g3 = 0.0
    h00 = h10 = h11 = h20 = h21 = h22 = h30 = h31 = h32 = h33 = 0.0
    bad = 0
    for i in range(n):
        x0, x1, x2, x3 = b0[i], b1[i], b2[i], b3[i]
        li = t0 * x0 + t1 * x1 + t2 * x2 + t3 * x3
        lam[i] = li
        if li <= 0.0:
            bad += 1
        r = ww[i] / li
        g0 += r * x0
        g1 += r * x1
        g2 += r * x2
        g3 += r * x3
        r2 = r / li
        q0 = r2 * x0
        q1 = r2 * x1
        q2 = r2 * x2
        q3 = r2 * x3
        h00 += q0 * x0
        h10 += q1 * x0
        h11 += q1 * x1
        h20 += q2 * x0
        h21 += q2 * x1
        h22 += q2 * x2
        h30 += q3 * x0
        h31 += q3 * x1
        h32 += q3 * x2
        h33 += q3 * x3
    g[0] -= g0
    g[1] -= g1
    g[2] -= g2
    g[3] -= g3
    h[0, 0] += h00
    h[1, 0] += h10
    h[1, 1] += h11
    h[2, 0] += h20
    h[2, 1] += h21
    h[2, 2] += h22
    h[3, 0] += h30
    h[3, 1] += h31
    h[3, 2] += h32
    h[3, 3] += h33
    return bad


@nb.njit(cache=True, error_model="numpy")
def _data_log_sum(lam, ww, floor):
    """``Σ w ln max(λ, floor)`` over the dataset (``lam`` and ``ww`` of equal length)."""
    s = 0.0
    for i in range(ww.size):
        s += ww[i] * math.log(max(lam[i], floor))
    return s


@nb.njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def _grid_terms(theta, grid, nu, width, eps, umin, integ, lamg, d1, d2, e, kwork, g, h,
                derivs, value):
    """Positivity barrier ``(ε/G) Σ_g φ(u_g)``, ``u_g = λ_g W/ν`` (½ of fit_window's).

    ``φ(u) = -ln u`` for ``u >= umin``, continued linearly below.  The value is only
    complete with ``value`` (the logarithms are skipped otherwise).  With ``derivs`` its
    gradient and Hessian are added to ``g`` / the lower triangle of ``h``, using
    ``∂u = (W b - u I)/ν`` and ``∂²u = (-W (b Iᵀ + I bᵀ) + 2u I Iᵀ)/ν²``.
    ``lamg, d1, d2, e`` (n_grid,) and ``kwork`` (2, K) are scratch (``lamg`` ends as u).
    Returns ``(feasible, value, min u)``; infeasible if some ``λ_g <= 0``.
    """
    n_g = grid.shape[1]
    if _linear_density(theta, grid, 0, n_g, lamg) > 0:
        return False, np.inf, 0.0
    c = eps / n_g
    scale = width / nu
    log_umin = math.log(umin)
    val = 0.0
    u_min = np.inf
    s_d1u = 0.0
    s_q = 0.0
    for j in range(n_g):
        u = lamg[j] * scale
        u_min = min(u_min, u)
        if u >= umin:
            if value:
                val -= math.log(u)
            a1 = -1.0 / u
            a2 = 1.0 / (u * u)
        else:
            val += -log_umin + (umin - u) / umin
            a1 = -1.0 / umin
            a2 = 0.0
        d1[j] = a1
        d2[j] = a2
        e[j] = a2 * u + a1
        s_d1u += a1 * u
        s_q += a2 * u * u + 2.0 * a1 * u
        lamg[j] = u
    if derivs:
        kk = theta.size
        cg = c / nu
        ch = c / (nu * nu)
        a_vec = kwork[0]
        v_vec = kwork[1]
        for k in range(kk):
            bk = grid[k]
            a_k = 0.0
            v_k = 0.0
            for j in range(n_g):
                a_k += d1[j] * bk[j]
                v_k += e[j] * bk[j]
            a_vec[k] = a_k
            v_vec[k] = v_k
            g[k] += cg * (width * a_k - s_d1u * integ[k])
        for k in range(kk):
            bk = grid[k]
            for j in range(n_g):
                e[j] = d2[j] * bk[j]
            for m in range(k + 1):
                bm = grid[m]
                b_km = 0.0
                for j in range(n_g):
                    b_km += e[j] * bm[j]
                h[k, m] += ch * (
                    width * width * b_km
                    - width * (v_vec[k] * integ[m] + integ[k] * v_vec[m])
                    + s_q * integ[k] * integ[m]
                )
    return True, c * val, u_min


@nb.njit(cache=True, error_model="numpy")
def _evaluate(theta, basis, i0, i1, ww, floor, grid, integ, width, eps, umin,
              con_idx, con_mean, con_sigma, work, gwork, kwork, g, h, derivs, value):
    """Objective at ``θ``: with ``derivs`` the gradient ``g`` and (full, symmetric)
    Hessian ``h``; with ``value`` the objective ``f`` and ``nll`` (else NaN).

    ``ww`` are the dataset's weights; ``work`` (4, n_max), ``gwork`` (4, n_grid) and
    ``kwork`` (2, K) are scratch.  Returns ``(feasible, f, nll, min u on the grid)``.
    """
    kk = theta.size
    nu = 0.0
    for k in range(kk):
        nu += theta[k] * integ[k]
    if not nu > 0.0:
        return False, np.inf, np.inf, 0.0
    lam = work[0]
    if derivs:
        for k in range(kk):
            g[k] = integ[k]
            for m in range(kk):
                h[k, m] = 0.0
        if kk == 4:
            if _data_pass4(theta, basis, i0, i1, ww, lam, g, h) > 0:
                return False, np.inf, np.inf, 0.0
        else:
            if _linear_density(theta, basis, i0, i1, lam) > 0:
                return False, np.inf, np.inf, 0.0
            _data_derivatives(basis, i0, i1, ww, lam, work[1], work[2], work[3], g, h)
    elif _linear_density(theta, basis, i0, i1, lam) > 0:
        return False, np.inf, np.inf, 0.0
    s = np.nan
    if value:
        s = _data_log_sum(lam, ww, floor)
    ok, bar, u_min = _grid_terms(theta, grid, nu, width, eps, umin, integ, gwork[0], gwork[1],
                                 gwork[2], gwork[3], kwork, g, h, derivs, value)
    if not ok:
        return False, np.inf, np.inf, u_min
    cons = 0.0
    for c in range(con_idx.size):
        k = con_idx[c]
        z = (theta[k] - con_mean[c]) / con_sigma[c]
        cons += 0.5 * z * z
        if derivs:
            g[k] += z / con_sigma[c]
            h[k, k] += 1.0 / (con_sigma[c] * con_sigma[c])
    if derivs:
        for k in range(kk):
            for m in range(k):
                h[m, k] = h[k, m]
    if not value:
        return True, np.nan, np.nan, u_min
    nll = nu - s + cons
    return True, nll + bar, nll, u_min


@nb.njit(cache=True, error_model="numpy")
def _cholesky(a, lo_mat, shift):
    """Cholesky factor of ``a + shift·diag(a)`` into ``lo_mat``; False if not PD."""
    kk = a.shape[0]
    for j in range(kk):
        s = a[j, j] * (1.0 + shift)
        for m in range(j):
            s -= lo_mat[j, m] * lo_mat[j, m]
        if not s > 0.0:
            return False
        d = math.sqrt(s)
        lo_mat[j, j] = d
        for i in range(j + 1, kk):
            t = a[i, j]
            for m in range(j):
                t -= lo_mat[i, m] * lo_mat[j, m]
            lo_mat[i, j] = t / d
        for i in range(j):
            lo_mat[i, j] = 0.0
    return True


@nb.njit(cache=True, error_model="numpy")
def _chol_solve(lo_mat, rhs, out):
    """Solve ``L Lᵀ out = rhs`` (``out`` may not alias ``rhs``)."""
    kk = rhs.size
    for i in range(kk):
        t = rhs[i]
        for m in range(i):
            t -= lo_mat[i, m] * out[m]
        out[i] = t / lo_mat[i, i]
    for i in range(kk - 1, -1, -1):
        t = out[i]
        for m in range(i + 1, kk):
            t -= lo_mat[m, i] * out[m]
        out[i] = t / lo_mat[i, i]


@nb.njit(cache=True, error_model="numpy")
def _fix_signal(g, h):
    """Take ``n_sig`` out of the Newton system (it stays at its fixed value)."""
    g[0] = 0.0
    for k in range(g.size):
        h[0, k] = 0.0
        h[k, 0] = 0.0
    h[0, 0] = 1.0


@nb.njit(cache=True, error_model="numpy")
def _newton_direction(g, h, lo_mat, d, shifts):
    """``d = -(H + s·diag H)⁻¹ g`` for the first shift ``s`` in ``shifts`` that makes the
    matrix positive definite; returns ``s`` (-1 if none does)."""
    for s in shifts:
        if _cholesky(h, lo_mat, s):
            _chol_solve(lo_mat, g, d)
            for k in range(d.size):
                d[k] = -d[k]
            return s
    return -1.0


@nb.njit(cache=True, error_model="numpy")
def _default_start(theta, basis, i0, i1, grid, sumw, fixed, fixed_val, con_idx, con_mean,
                   peak_start, width, lam):
    """Flat background with ``ν ≈ Σw``; ``n_sig`` at its fixed value or 0; peaking yields
    at their constraint mean or start value (clipped at 0); ``a0`` raised until the
    density is positive at every event and grid point."""
    kk = theta.size
    for k in range(kk):
        theta[k] = 0.0
    theta[0] = fixed_val if fixed else 0.0
    for p in range(4, kk):
        theta[p] = max(peak_start[p - 4], 0.0)
    for c in range(con_idx.size):
        theta[con_idx[c]] = max(con_mean[c], 0.0)
    others = 0.0
    for k in range(kk):
        others += theta[k]
    a0 = max(sumw - others, 0.5 * sumw, 1.0)
    lam_min = 0.0
    _linear_density(theta, basis, i0, i1, lam)
    for i in range(i1 - i0):
        lam_min = min(lam_min, lam[i])
    _linear_density(theta, grid, 0, grid.shape[1], lam)
    for j in range(grid.shape[1]):
        lam_min = min(lam_min, lam[j])
    theta[1] = max(a0, -2.0 * lam_min * width + 1.0)


@nb.njit(cache=True, error_model="numpy")
def _fit_all(basis, offsets, weights, weighted, grid, integ, width, eps, umin, floor_rel,
             con_idx, con_mean, con_sigma, peak_start, fixed_vals, start, tol, max_iter,
             shifts, armijo, wolfe, switch_per_event, switch_min, switch_max, f_round,
             max_halvings, boundary_u, need_nll,
             out_theta, out_cov, out_nll, out_edm, out_conv, out_iter, out_bound):
    """Fit every dataset ``b`` (columns ``offsets[b]:offsets[b+1]``); fill the outputs.

    Damped Newton.  While ``edm > edm_switch`` (``switch_per_event·Σw`` clipped to
    ``[switch_min, switch_max]``) the step length is chosen by backtracking
    with the Armijo condition on ``f`` (with a rounding allowance ``f_round·|f|``); closer
    to the minimum, where the objective is nearly quadratic along the step, the
    (log-free) approximate-Wolfe form of the same condition is used,
    ``φ'(t) <= wolfe·|φ'(0)|`` with ``φ(t) = f(θ + t d)`` (the trapezoidal estimate of
    ``φ(t) - φ(0)``, exact for a quadratic).  Every trial point must keep the density
    positive at all events and grid points.
    """
    n_b = offsets.size - 1
    kk = integ.size
    n_max = 1
    for ib in range(n_b):
        n_max = max(n_max, offsets[ib + 1] - offsets[ib])
    n_max = max(n_max, grid.shape[1])
    work = np.empty((4, n_max))
    gwork = np.empty((4, grid.shape[1]))
    kwork = np.empty((2, kk))
    g = np.empty(kk)
    h = np.empty((kk, kk))
    g_t = np.empty(kk)
    h_t = np.empty((kk, kk))
    lo_mat = np.zeros((kk, kk))
    d = np.empty(kk)
    th = np.empty(kk)
    th_t = np.empty(kk)
    e_k = np.empty(kk)
    col = np.empty(kk)
    ones = np.ones(n_max)
    for ib in range(n_b):
        i0 = offsets[ib]
        i1 = offsets[ib + 1]
        fixed = not np.isnan(fixed_vals[ib])
        fixed_val = fixed_vals[ib] if fixed else 0.0
        ww = weights[i0:i1] if weighted else ones[: i1 - i0]
        sumw = 0.0
        for i in range(ww.size):
            sumw += ww[i]
        for k in range(kk):
            out_theta[ib, k] = np.nan
            for m in range(kk):
                out_cov[ib, k, m] = np.nan
        out_nll[ib] = np.nan
        out_edm[ib] = np.nan
        out_conv[ib] = False
        out_iter[ib] = 0
        out_bound[ib] = False

        # Exact result for a window without events and without constraints.
        if sumw == 0.0 and con_idx.size == 0 and (not fixed or fixed_val == 0.0):
            for k in range(kk):
                out_theta[ib, k] = 0.0
            if fixed:
                for k in range(kk):
                    out_cov[ib, 0, k] = 0.0
                    out_cov[ib, k, 0] = 0.0
            out_nll[ib] = 0.0
            out_edm[ib] = 0.0
            out_conv[ib] = True
            out_bound[ib] = True
            continue

        floor = floor_rel * max(sumw, 1e-300) / width
        edm_switch = min(max(switch_per_event * sumw, switch_min), switch_max)
        ok = False
        if not np.isnan(start[ib, 0]):
            for k in range(kk):
                th[k] = start[ib, k]
            if fixed:
                th[0] = fixed_val
            ok, f, nll, u_min = _evaluate(th, basis, i0, i1, ww, floor, grid,
                                          integ, width, eps, umin, con_idx, con_mean,
                                          con_sigma, work, gwork, kwork, g, h, True, False)
        if not ok:
            _default_start(th, basis, i0, i1, grid, sumw, fixed, fixed_val, con_idx, con_mean,
                           peak_start, width, work[0])
            ok, f, nll, u_min = _evaluate(th, basis, i0, i1, ww, floor, grid,
                                          integ, width, eps, umin, con_idx, con_mean,
                                          con_sigma, work, gwork, kwork, g, h, True, False)
            if not ok:
                continue
        f_known = False

        converged = False
        edm = np.inf
        n_it = 0
        while True:
            if fixed:
                _fix_signal(g, h)
            shift = _newton_direction(g, h, lo_mat, d, shifts)
            if shift < 0.0:
                break
            gd = 0.0
            for k in range(kk):
                gd += g[k] * d[k]
            edm = -0.5 * gd
            if not np.isfinite(edm):
                break
            if edm < tol and shift == 0.0:
                converged = True
                break
            if n_it >= max_iter:
                break
            n_it += 1
            use_f = edm > edm_switch
            if use_f and not f_known:
                ok, f, nll, u_min = _evaluate(th, basis, i0, i1, ww, floor,
                                              grid, integ, width, eps, umin, con_idx,
                                              con_mean, con_sigma, work, gwork, kwork, g_t,
                                              h_t, False, True)
            t = 1.0
            accepted = False
            for _ in range(max_halvings):
                for k in range(kk):
                    th_t[k] = th[k] + t * d[k]
                ok_t, f_t, nll_t, u_t = _evaluate(th_t, basis, i0, i1, ww,
                                                  floor, grid, integ, width, eps, umin,
                                                  con_idx, con_mean, con_sigma, work, gwork,
                                                  kwork, g_t, h_t, True, use_f)
                if ok_t:
                    if use_f:
                        accepted = f_t - f <= armijo * t * gd + f_round * (1.0 + abs(f))
                    else:
                        gd_t = 0.0  # d[0] = 0 when n_sig is fixed
                        for k in range(kk):
                            gd_t += g_t[k] * d[k]
                        accepted = gd_t <= -wolfe * gd
                    if accepted:
                        break
                t *= 0.5
            if not accepted:
                break
            for k in range(kk):
                th[k] = th_t[k]
                g[k] = g_t[k]
                for m in range(kk):
                    h[k, m] = h_t[k, m]
            f = f_t
            nll = nll_t
            f_known = use_f
            u_min = u_t

        # Results at th (g, h and lo_mat belong to th).
        finite = True
        for k in range(kk):
            out_theta[ib, k] = th[k]
            finite = finite and np.isfinite(th[k])
        if need_nll and not f_known:
            ok, f, nll, u_min = _evaluate(th, basis, i0, i1, ww, floor, grid,
                                          integ, width, eps, umin, con_idx, con_mean,
                                          con_sigma, work, gwork, kwork, g_t, h_t, False, True)
        out_nll[ib] = nll
        out_edm[ib] = edm
        out_iter[ib] = n_it
        out_bound[ib] = u_min < boundary_u
        if converged:
            # Covariance = H⁻¹ (free block); lo_mat is the unshifted factor of h.
            for k in range(kk):
                for m in range(kk):
                    e_k[m] = 1.0 if m == k else 0.0
                _chol_solve(lo_mat, e_k, col)
                for m in range(kk):
                    out_cov[ib, m, k] = col[m]
            if fixed:
                for k in range(kk):
                    out_cov[ib, 0, k] = 0.0
                    out_cov[ib, k, 0] = 0.0
        # fit_window's acceptance: density above the floor at every event.
        lam = work[0]
        _linear_density(th, basis, i0, i1, lam)
        above = True
        for i in range(i1 - i0):
            if not lam[i] > floor:
                above = False
        out_conv[ib] = converged and finite and above and (np.isfinite(nll) or not need_nll)


# ---------------------------------------------------------------------------------------
# Public driver
# ---------------------------------------------------------------------------------------
def _as_offsets(offsets, n_tot: int) -> np.ndarray:
    off = np.ascontiguousarray(np.asarray(offsets, dtype=np.int64).ravel())
    if off.size < 1:
        raise ValueError("offsets needs at least one entry (B + 1 entries for B datasets)")
    if np.any(np.diff(off) < 0) or off[0] < 0 or off[-1] > n_tot:
        raise ValueError("offsets must be non-decreasing within [0, number of columns]")
    return off


def fit_batch(
    model: WindowModel,
    basis_data,
    offsets,
    weights=None,
    n_sig_fixed=None,
    start=None,
    tol: float = 1e-10,
    max_iter: int = 50,
    with_nll: bool = True,
) -> BatchFit:
    """Fit ``B`` independent datasets of one window in a single compiled call.

    Parameters
    ----------
    model : WindowModel
        The window model (shapes, peaking components, constraints).
    basis_data : array_like
        ``(K, Ntot)`` basis columns of all events of all datasets
        (``model.basis(x)`` of the concatenated masses, every mass inside the window).
    offsets : array_like of int
        ``(B + 1,)`` non-decreasing; dataset ``b`` is ``basis_data[:, offsets[b]:offsets[b+1]]``.
    weights : array_like or None, optional
        ``(Ntot,)`` non-negative event weights (e.g. expected bin contents of an Asimov
        dataset; the likelihood is then ``ν − Σ w_i ln λ_i``).  ``None`` = unit weights.
    n_sig_fixed : array_like or None, optional
        ``(B,)``: NaN = ``n_sig`` free; a number = ``n_sig`` fixed to it (events), for
        null fits and profile likelihoods.  ``None`` = all free.
    start : array_like or None, optional
        ``(B, K)`` internal starting values (rows with NaN, or with a non-positive density
        at an event or grid point, use the default start: flat background with
        ``ν ≈ Σw``, peaking yields from their constraint mean / component start).
    tol : float, optional
        Convergence when ``edm = ½ gᵀH⁻¹g < tol`` (``-ln L`` units).  The default 1e-10
        puts every parameter within ~1.4e-5 of its error of the minimum.
    max_iter : int, optional
        Maximum number of Newton iterations per dataset.
    with_nll : bool, optional
        Compute ``nll`` at the minimum (one extra pass with a logarithm per event).
        ``False`` (e.g. toy studies that only need the yields) leaves ``nll`` NaN
        unless it was computed anyway by the line search.

    Returns
    -------
    BatchFit
        Never raises for a fit that fails numerically: such datasets have
        ``converged=False``.  A dataset without events (zero total weight), without
        constraints and with ``n_sig`` free or fixed to 0 gets ``fit_window``'s exact
        empty-window result (every yield 0, nll 0, converged, at the boundary).

    Raises
    ------
    ValueError
        On inconsistent array shapes, negative or non-finite weights.
    """
    kk = model.n_par
    basis_data = np.ascontiguousarray(np.asarray(basis_data, dtype=np.float64))
    if basis_data.ndim != 2 or basis_data.shape[0] != kk:
        raise ValueError(f"basis_data must have shape ({kk}, Ntot)")
    n_tot = basis_data.shape[1]
    off = _as_offsets(offsets, n_tot)
    n_b = off.size - 1
    if weights is None:
        w = np.zeros(1)
        weighted = False
    else:
        w = np.ascontiguousarray(np.asarray(weights, dtype=np.float64).ravel())
        if w.size != n_tot:
            raise ValueError("weights must have one entry per basis column")
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError("weights must be finite and non-negative")
        weighted = True
        if np.any(w == 0):  # events of zero weight do not enter the likelihood
            keep = w > 0
            kept_before = np.concatenate([[0], np.cumsum(keep)]).astype(np.int64)
            basis_data = np.ascontiguousarray(basis_data[:, keep])
            w = np.ascontiguousarray(w[keep])
            off = np.ascontiguousarray(kept_before[off])
    if n_sig_fixed is None:
        fixed = np.full(n_b, np.nan)
    else:
        fixed = np.ascontiguousarray(np.broadcast_to(np.asarray(n_sig_fixed, float), (n_b,)))
    if start is None:
        st = np.full((n_b, kk), np.nan)
    else:
        st = np.ascontiguousarray(np.broadcast_to(np.asarray(start, float), (n_b, kk)))
    con_idx, con_mean, con_sigma = model.constraint_arrays
    peak_start = np.array(
        [0.0 if p.start is None else float(p.start) for p in model.peaking], dtype=np.float64
    )

    theta = np.empty((n_b, kk))
    cov = np.empty((n_b, kk, kk))
    nll = np.empty(n_b)
    edm = np.empty(n_b)
    conv = np.empty(n_b, dtype=np.bool_)
    n_iter = np.empty(n_b, dtype=np.int64)
    bound = np.empty(n_b, dtype=np.bool_)
    _fit_all(
        basis_data,
        off,
        w,
        weighted,
        model.grid_basis,
        model.integrals,
        model.width,
        _BARRIER_EVENTS,
        _BARRIER_UMIN,
        _FLOOR_REL,
        con_idx,
        con_mean,
        con_sigma,
        peak_start,
        fixed,
        st,
        float(tol),
        int(max_iter),
        np.array(_LM_SHIFTS),
        _ARMIJO,
        _WOLFE,
        _EDM_SWITCH_PER_EVENT,
        _EDM_SWITCH_RANGE[0],
        _EDM_SWITCH_RANGE[1],
        _F_ROUND,
        _MAX_HALVINGS,
        _BOUNDARY_U,
        bool(with_nll),
        theta,
        cov,
        nll,
        edm,
        conv,
        n_iter,
        bound,
    )
    var = cov[:, 0, 0]
    err = np.where(np.isfinite(var), np.sqrt(np.clip(var, 0.0, None)), np.nan)
    is_fixed = ~np.isnan(fixed)
    err = np.where(is_fixed & conv, 0.0, err)
    return BatchFit(
        theta=theta,
        n_sig=theta[:, 0].copy(),
        n_sig_err=err,
        nll=nll,
        converged=conv,
        n_iter=n_iter,
        at_boundary=bound,
        edm=edm,
        covariance=cov,
        n_sig_fixed=is_fixed,
    )
