"""The fit model of one mass window (spec §7), defined once for every fitter.

In a window ``[lo, hi]`` (GeV) the event density (events / GeV) is linear in the
parameters ``θ = (n_sig, a0, ..., a_d, n_<peak>...)`` (events)::

    λ(x) = θ · b(x),   b(x) = (S(x), T0(t)/W, ..., Td(t)/W, P_1(x), ...)

with ``W = hi - lo``, ``t = 2(x - lo)/W - 1``, ``T_j`` the Chebyshev polynomials up to the
order ``d`` (:data:`POLY_ORDER`), and ``S``/``P_k`` the signal and peaking DSCBs
(:func:`alpscan.fitting.dscb.dscb_pdf`) normalised over the window.  Reported
("public") parameters are ``n_sig, n_bkg, c1..cd, n_<peak>`` with
``n_bkg = Σ_j a_j I_j`` (``I_j = ½∫T_j dt``) and ``c_j = a_j/a0``.  The iminuit fit
(:mod:`~alpscan.fitting.window_fit`), the batched fitter (:mod:`~alpscan.fitting.batched`),
toys, limits and toy CLs all take a :class:`WindowModel`; changing a component here
(e.g. ``poly_order``) changes all of them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numba as nb
import numpy as np
from numpy.polynomial import chebyshev as cheb

from alpscan.fitting.dscb import (
    DSCBParams,
    as_dscb_params,
    dscb_cdf,
    dscb_pdf,
    dscb_window_fraction,
)

__all__ = [
    "SIGNAL",
    "BACKGROUND",
    "POLY_ORDER",
    "MIN_WINDOW_FRACTION",
    "BARRIER_EVENTS",
    "BARRIER_UMIN",
    "BOUNDARY_U",
    "FLOOR_REL",
    "PeakingComponent",
    "YieldConstraint",
    "as_peaking",
    "as_constraints",
    "barrier_phi",
    "positivity_barrier",
    "WindowModel",
]

#: Parameter name of the signal yield.
SIGNAL = "n_sig"
#: Parameter name of the polynomial-background yield.
BACKGROUND = "n_bkg"
#: Order of the Chebyshev background polynomial (the paper's second order).
POLY_ORDER = 2
#: Components whose in-window probability is below this are negligible (yield undefined).
MIN_WINDOW_FRACTION = 1e-6
#: Weight of the positivity log-barrier, in "phantom events" spread over the grid.
BARRIER_EVENTS = 0.3
#: Below this relative density the barrier is continued linearly (finite for u <= 0).
BARRIER_UMIN = 1e-9
#: A fit whose minimum grid density is below this fraction of the mean density is
#: flagged ``at_positivity_boundary``.
BOUNDARY_U = 1e-3
#: Relative floor of the density at the events (a non-positive density is never a minimum).
FLOOR_REL = 1e-12


@dataclass(frozen=True)
class PeakingComponent:
    """A peaking background with a fixed DSCB shape (GeV) and a floating in-window
    yield ``n_<name>``; ``start`` is an optional starting yield (events)."""

    name: str
    shape: DSCBParams
    start: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", as_dscb_params(self.shape))

    @property
    def par_name(self) -> str:
        """Name of the yield parameter, ``"n_<name>"``."""
        return f"n_{self.name}"


@dataclass(frozen=True)
class YieldConstraint:
    """Gaussian constraint on the in-window yield of peaking component ``name``:
    ``mean`` and ``sigma`` (> 0) in events."""

    name: str
    mean: float
    sigma: float


def as_constraints(constraints: Any) -> tuple[YieldConstraint, ...]:
    """Constraints from ``None``, one :class:`YieldConstraint`, ``{name: (mean, sigma)}``
    or a sequence of constraints / ``(name, mean, sigma)`` tuples."""
    if constraints is None:
        return ()
    if isinstance(constraints, YieldConstraint):
        return (constraints,)
    if isinstance(constraints, Mapping):
        items = constraints.items()
        return tuple(YieldConstraint(str(k), float(v[0]), float(v[1])) for k, v in items)
    return tuple(c if isinstance(c, YieldConstraint) else YieldConstraint(*c) for c in constraints)


def as_peaking(peaking: Any) -> tuple[PeakingComponent, ...]:
    """Peaking components from components, ``(name, shape)`` pairs or mappings with
    ``name``, ``shape`` (and optional ``start``)."""
    out = []
    for p in peaking or ():
        if isinstance(p, PeakingComponent):
            out.append(p)
        elif isinstance(p, Mapping):
            out.append(PeakingComponent(str(p["name"]), as_dscb_params(p["shape"]), p.get("start")))
        else:
            out.append(PeakingComponent(str(p[0]), as_dscb_params(p[1])))
    return tuple(out)


@nb.njit(cache=True, error_model="numpy")
def barrier_phi(u, umin, value):
    """Barrier term of one grid point at relative density ``u``: ``(φ, φ', φ'')`` with
    ``φ = -ln u`` for ``u >= umin``, continued linearly below (φ is NaN unless ``value``)."""
    if u >= umin:
        return (-math.log(u) if value else np.nan), -1.0 / u, 1.0 / (u * u)
    return -math.log(umin) + (umin - u) / umin, -1.0 / umin, 0.0


@nb.njit(cache=True, error_model="numpy")
def positivity_barrier(u):
    """Log-barrier keeping the total density positive on the grid (``-2 ln L`` units):
    ``2 (ε/G) Σ_g φ(u_g)`` with ``u_g = λ(x_g)/(ν/W)`` the density at the ``G`` grid
    points relative to its window average and ``ε`` = :data:`BARRIER_EVENTS`.  It acts
    like 0.3 "phantom" events spread uniformly (scale invariant, so the total yield is
    unchanged) and diverges smoothly as the density approaches zero."""
    s = 0.0
    for j in range(u.size):
        s += barrier_phi(u[j], BARRIER_UMIN, True)[0]
    return 2.0 * BARRIER_EVENTS / u.size * s


def _chebyshev_rows(t: np.ndarray, order: int) -> np.ndarray:
    """``(order + 1, N)`` Chebyshev polynomials ``T_j(t)`` by the recurrence."""
    rows = [np.ones_like(t), t]
    for _ in range(2, order + 1):
        rows.append(2.0 * t * rows[-1] - rows[-2])
    return np.vstack(rows[: order + 1])


def _chebyshev_cdf_rows(t: np.ndarray, order: int) -> list[np.ndarray]:
    """``½ ∫_{-1}^t T_j dt'`` for ``j = 0..order`` (closed forms up to ``T2``)."""
    rows = [0.5 * (t + 1.0), 0.25 * (t * t - 1.0), 0.5 * ((2.0 / 3.0) * (t**3 + 1.0) - (t + 1.0))]
    eye = np.eye(order + 1)
    rows += [0.5 * cheb.chebval(t, cheb.chebint(eye[j], lbnd=-1.0)) for j in range(3, order + 1)]
    return rows[: order + 1]


def _check_constraints(constraints: tuple[YieldConstraint, ...], names: list[str]) -> None:
    for c in constraints:
        if not (np.isfinite(c.mean) and np.isfinite(c.sigma) and c.sigma > 0):
            raise ValueError(f"constraint on {c.name!r} has invalid mean/sigma")
        if c.name not in names:
            raise ValueError(f"constraint on unknown component {c.name!r}")


def _in_window_error(what: str, shape: DSCBParams, lo: float, hi: float) -> str | None:
    frac = dscb_window_fraction(shape, lo, hi)
    if frac >= MIN_WINDOW_FRACTION:
        return None
    return f"{what} (mu={shape.mu}) has negligible probability ({frac:.2e}) in [{lo}, {hi}]"


@dataclass(frozen=True)
class WindowModel:
    """Fixed-shape model of one fit window: signal DSCB, Chebyshev background of order
    ``poly_order``, peaking DSCBs with floating (optionally constrained) yields.

    Attributes
    ----------
    lo, hi : float
        Window edges (GeV), ``lo < hi``.
    signal : DSCBParams
        Signal shape (GeV).
    peaking : tuple of PeakingComponent
        Peaking backgrounds; each needs at least 1e-6 of its probability in the window
        (:meth:`build` drops the others).
    constraints : tuple of YieldConstraint
        Gaussian constraints on peaking yields (in-window events).
    n_grid : int
        Number of points of the positivity grid.
    poly_order : int
        Order ``d`` of the background polynomial (>= 0).

    Raises
    ------
    ValueError
        On an invalid window, a DSCB shape outside its domain or with negligible
        in-window probability, duplicate component names or a bad constraint.
    """

    lo: float
    hi: float
    signal: DSCBParams
    peaking: tuple[PeakingComponent, ...] = ()
    constraints: tuple[YieldConstraint, ...] = ()
    n_grid: int = 201
    poly_order: int = POLY_ORDER

    def __post_init__(self) -> None:
        lo, hi = float(self.lo), float(self.hi)
        if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
            raise ValueError(f"invalid window [{lo}, {hi}]")
        set_ = object.__setattr__
        set_(self, "lo", lo)
        set_(self, "hi", hi)
        set_(self, "signal", as_dscb_params(self.signal))
        set_(self, "peaking", as_peaking(self.peaking))
        set_(self, "constraints", as_constraints(self.constraints))
        set_(self, "n_grid", max(int(self.n_grid), 3))
        if int(self.poly_order) != self.poly_order or self.poly_order < 0:
            raise ValueError(f"poly_order must be an integer >= 0, got {self.poly_order!r}")
        set_(self, "poly_order", int(self.poly_order))
        if not self.signal.is_valid() or not all(p.shape.is_valid() for p in self.peaking):
            raise ValueError("a DSCB shape is outside its domain")
        names = [p.name for p in self.peaking]
        if len(set(names)) != len(names):
            raise ValueError("duplicate peaking component names")
        _check_constraints(self.constraints, names)
        shapes = [("signal shape", self.signal), *((p.name, p.shape) for p in self.peaking)]
        for what, shape in shapes:
            msg = _in_window_error(what, shape, lo, hi)
            if msg:
                raise ValueError(msg)

    @classmethod
    def build(cls, lo, hi, signal, peaking=(), constraints=None, n_grid=201,
              poly_order=POLY_ORDER) -> tuple[WindowModel, tuple[str, ...]]:  # fmt: skip
        """Model of a window with the peaking components (and their constraints) that
        have negligible in-window probability dropped; returns ``(model, dropped names)``.

        Raises ``ValueError`` / ``TypeError`` like the constructor."""
        lo, hi = float(lo), float(hi)
        if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
            raise ValueError(f"invalid window [{lo}, {hi}]")
        pk = as_peaking(peaking)
        if not all(p.shape.is_valid() for p in pk):
            raise ValueError("a DSCB shape is outside its domain")
        dropped = tuple(p.name for p in pk if _in_window_error(p.name, p.shape, lo, hi))
        cons = as_constraints(constraints)
        _check_constraints(cons, [p.name for p in pk])  # before dropping any
        keep = tuple(p for p in pk if p.name not in dropped)
        cons = tuple(c for c in cons if c.name not in dropped)
        return cls(lo, hi, signal, keep, cons, n_grid, poly_order), dropped

    # --- parameters -------------------------------------------------------------------
    @property
    def width(self) -> float:
        """Window width ``W = hi - lo`` (GeV)."""
        return self.hi - self.lo

    @property
    def n_poly(self) -> int:
        """Number of background coefficients ``d + 1``."""
        return self.poly_order + 1

    @property
    def first_peak(self) -> int:
        """Index in θ of the first peaking yield."""
        return 1 + self.n_poly

    @property
    def n_par(self) -> int:
        """Number of parameters ``K = 2 + d + P``."""
        return self.first_peak + len(self.peaking)

    @property
    def poly_names(self) -> tuple[str, ...]:
        """Public shape coefficients ``("c1", ..., "c<d>")``."""
        return tuple(f"c{j}" for j in range(1, self.n_poly))

    @property
    def names(self) -> tuple[str, ...]:
        """Parameter names of θ: ``("n_sig", "a0", ..., "a<d>", "n_<peak>"...)``."""
        poly = tuple(f"a{j}" for j in range(self.n_poly))
        return (SIGNAL, *poly, *(p.par_name for p in self.peaking))

    @property
    def public_names(self) -> tuple[str, ...]:
        """Reported names: ``n_sig, n_bkg, c1..c<d>, n_<peak>...``."""
        return (SIGNAL, BACKGROUND, *self.poly_names, *(p.par_name for p in self.peaking))

    @cached_property
    def constraint_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(index into θ, mean, sigma)`` of the Gaussian yield constraints."""
        pos = {p.name: self.first_peak + i for i, p in enumerate(self.peaking)}
        idx = np.array([pos[c.name] for c in self.constraints], dtype=np.int64)
        mean = np.array([c.mean for c in self.constraints], dtype=np.float64)
        sigma = np.array([c.sigma for c in self.constraints], dtype=np.float64)
        return idx, mean, sigma

    @cached_property
    def signal_fraction(self) -> float:
        """Probability of the (untruncated) signal DSCB inside the window."""
        return dscb_window_fraction(self.signal, self.lo, self.hi)

    # --- basis, integrals, grid -------------------------------------------------------
    def _shapes(self) -> list[DSCBParams]:
        return [self.signal, *(p.shape for p in self.peaking)]

    def basis(self, x) -> np.ndarray:
        """``(K, N)`` fixed densities (GeV⁻¹) at masses ``x`` (GeV) with ``λ = θ @ basis``;
        every row is 0 outside ``[lo, hi]`` (and for non-finite masses)."""
        xf = np.asarray(x, dtype=np.float64).ravel()
        inside = (xf >= self.lo) & (xf <= self.hi)
        iw = 1.0 / self.width
        t = 2.0 * (xf - self.lo) * iw - 1.0
        dscb = [dscb_pdf(xf, *s.as_tuple(), lo=self.lo, hi=self.hi) for s in self._shapes()]
        out = np.vstack([dscb[0], _chebyshev_rows(t, self.poly_order) * iw, *dscb[1:]])
        out[:, ~inside] = 0.0
        return np.ascontiguousarray(out)

    def cdf_basis(self, x) -> np.ndarray:
        """``(K, N)`` integrals ``∫_lo^x b dx'`` (dimensionless); ``x`` clipped to the window."""
        xf = np.clip(np.asarray(x, dtype=np.float64).ravel(), self.lo, self.hi)
        t = 2.0 * (xf - self.lo) / self.width - 1.0
        rows = [dscb_cdf(xf, *s.as_tuple(), lo=self.lo, hi=self.hi) for s in self._shapes()]
        return np.vstack([rows[0], *_chebyshev_cdf_rows(t, self.poly_order), *rows[1:]])

    @cached_property
    def integrals(self) -> np.ndarray:
        """``(K,)`` window integrals of the basis rows: ``ν = θ @ integrals``
        (1 for the DSCBs, ``½∫T_j dt = 1/(1 - j²)`` for even ``j``, 0 for odd)."""
        out = np.ones(self.n_par)
        for j in range(1, self.n_poly):
            out[1 + j] = 0.0 if j % 2 else 1.0 / (1.0 - j * j)
        return out

    @cached_property
    def grid_x(self) -> np.ndarray:
        """Positivity grid: ``n_grid`` equidistant masses from ``lo`` to ``hi`` (GeV)."""
        return np.linspace(self.lo, self.hi, self.n_grid)

    @cached_property
    def grid_basis(self) -> np.ndarray:
        """:meth:`basis` on :attr:`grid_x`, ``(K, n_grid)``."""
        return self.basis(self.grid_x)

    # --- functions of θ ---------------------------------------------------------------
    def expected(self, theta) -> np.ndarray | float:
        """Expected events ``ν = θ @ integrals`` for ``θ`` of shape (K,) or (B, K)."""
        nu = np.asarray(theta, dtype=float) @ self.integrals
        return float(nu) if np.ndim(nu) == 0 else nu

    def density(self, theta, x) -> np.ndarray:
        """Event density ``λ(x)`` (events / GeV) for one ``θ`` (K,)."""
        return np.asarray(theta, dtype=float) @ self.basis(x)

    def cdf(self, theta, x) -> np.ndarray:
        """Cumulative distribution ``∫_lo^x λ / ν`` (dimensionless) for one ``θ`` (K,)."""
        th = np.asarray(theta, dtype=float)
        return th @ self.cdf_basis(x) / float(th @ self.integrals)

    def relative_grid_density(self, theta, nu_min: float = 0.0) -> np.ndarray:
        """Grid density over its window average ``λ(x_g)·W/max(ν, nu_min)``, the barrier's
        ``u`` (invariant under a common scaling of all yields)."""
        th = np.asarray(theta, dtype=float)
        return (th @ self.grid_basis) * self.width / max(self.expected(th), nu_min)

    def to_public(self, theta) -> np.ndarray:
        """θ (K,) or (B, K) → public values in :attr:`public_names` order:
        ``n_bkg = Σ a_j I_j``, ``c_j = a_j/a0`` (NaN if ``a0 <= 0``)."""
        th = np.asarray(theta, dtype=float)
        out = th.copy()
        a = th[..., 1 : self.first_peak]
        a0 = a[..., 0]
        pos = a0 > 0
        out[..., 1] = a @ self.integrals[1 : self.first_peak]
        for j in range(1, self.n_poly):
            out[..., 1 + j] = np.where(pos, a[..., j] / np.where(pos, a0, 1.0), np.nan)
        return out

    def from_public(self, values) -> np.ndarray:
        """Public values (``{name: value}`` with missing yields 0, or an array in
        :attr:`public_names` order) → θ with ``a0 = n_bkg / (1 + Σ c_j I_j)``."""
        if isinstance(values, Mapping):
            values = [float(values.get(k, 0.0)) for k in self.public_names]
        v = np.asarray(values, dtype=float)
        out = v.copy()
        c = v[..., 2 : self.first_peak]
        b0 = v[..., 1] / (1.0 + c @ self.integrals[2 : self.first_peak])
        out[..., 1] = b0
        out[..., 2 : self.first_peak] = b0[..., None] * c
        return out

    def public_jacobian(self, theta) -> np.ndarray:
        """``(K, K)`` Jacobian ``∂(public)/∂θ`` at one θ (identity if ``a0 <= 0``)."""
        th = np.asarray(theta, dtype=float)
        jac = np.eye(self.n_par)
        a0 = th[1]
        if a0 > 0:
            jac[1, 1 : self.first_peak] = self.integrals[1 : self.first_peak]
            for j in range(1, self.n_poly):
                jac[1 + j, 1] = -th[1 + j] / a0**2
                jac[1 + j, 1 + j] = 1.0 / a0
        return jac

    def select(self, x, weights=None) -> tuple[np.ndarray, np.ndarray | None]:
        """Finite masses inside ``[lo, hi]`` (and their weights), the events a fit uses."""
        xf = np.asarray(x, dtype=np.float64).ravel()
        keep = np.isfinite(xf) & (xf >= self.lo) & (xf <= self.hi)
        if weights is None:
            return xf[keep], None
        w = np.asarray(weights, dtype=np.float64).ravel()
        if w.shape != xf.shape:
            raise ValueError("weights must have the same length as x")
        return xf[keep], w[keep]
