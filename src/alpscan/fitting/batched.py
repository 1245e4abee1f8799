"""Batched, vectorised (numba) window fit: many datasets of one mass hypothesis at once.

This is the fast twin of :func:`alpscan.fitting.window_fit.fit_window` for toy studies,
profile likelihoods and Asimov fits.  It fits *the same model* and minimises *the same
objective*, in the same internal parametrisation, so results agree with ``fit_window``
to the convergence tolerance.

Model
-----
The model is a :class:`~alpscan.fitting.window_model.WindowModel`: the event density is
linear in its parameters θ, ``λ(x) = θ · b(x)`` with the basis ``b`` and the integrals
``I = ∫ b dx`` (``ν = θ · I``) of that model, for any polynomial order and any number
of peaking components.

Objective
---------
For a dataset with events ``x_i`` and weights ``w_i`` (1 for unbinned data; expected bin
contents for an Asimov dataset) the objective, in ``-ln L`` units, is::

    f(θ) = ν − Σ_i w_i ln λ(x_i) + ½ Σ_c (n_c − mean_c)²/sigma_c² + ½·barrier(θ)

where ``barrier`` is the model's positivity log-barrier on its grid of ``n_grid``
points (:func:`alpscan.fitting.window_model.positivity_barrier`, defined in ``-2 ln L``
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

import numba as nb
import numpy as np

from alpscan.fitting.window_model import (
    BARRIER_EVENTS,
    BARRIER_UMIN,
    BOUNDARY_U,
    FLOOR_REL,
    WindowModel,
    barrier_phi,
)

__all__ = ["BatchFit", "fit_batch"]

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
    """Fused single loop for K = 4 (order 2, no peaking component): ``lam = θ @ b`` and the data
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
    val = 0.0
    u_min = np.inf
    s_d1u = 0.0
    s_q = 0.0
    for j in range(n_g):
        u = lamg[j] * scale
        u_min = min(u_min, u)
        phi, a1, a2 = barrier_phi(u, umin, value)
        val += phi
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
    first_peak = kk - peak_start.size
    for p in range(first_peak, kk):
        theta[p] = max(peak_start[p - first_peak], 0.0)
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
        BARRIER_EVENTS,
        BARRIER_UMIN,
        FLOOR_REL,
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
        BOUNDARY_U,
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
