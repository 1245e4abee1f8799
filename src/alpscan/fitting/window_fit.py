"""Per-mass-point extended unbinned maximum-likelihood fit of M_γγ with iminuit (spec §7).

The model is a :class:`~alpscan.fitting.window_model.WindowModel` (signal DSCB, Chebyshev
background, peaking DSCBs, yield constraints, positivity barrier); :func:`fit_window`
builds it from the window and the shapes, :func:`fit_model` fits a given model.  The
cost is ``iminuit.cost.ExtendedUnbinnedNLL`` of the density ``θ @ basis`` (+
``NormalConstraint`` per constrained yield) plus the model's positivity barrier; Minuit
works with the model's linear parameters θ, in which ``-ln L`` is convex, and results are
reported in the public parametrisation (``n_sig, n_bkg, c1..c<d>, n_<peak>``) via the
model's Jacobian.  All yields are numbers of events inside the window; ``fval`` follows
iminuit's ``-2 ln L`` convention and ``WindowFit.nll`` is ``-ln L`` (constraints
included, barrier excluded).  A minimum with a non-positive density at an event or grid
point is ``valid=False``; one whose grid density dips below 10⁻³ of its mean is flagged
``at_positivity_boundary``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from iminuit import Minuit
from iminuit.cost import ExtendedUnbinnedNLL, NormalConstraint
from iminuit.util import describe

from alpscan.fitting.dscb import migrad_attempts, minuit_converged
from alpscan.fitting.window_model import (
    BOUNDARY_U,
    FLOOR_REL,
    POLY_ORDER,
    SIGNAL,
    PeakingComponent,
    WindowModel,
    positivity_barrier,
)

__all__ = ["WindowFit", "fit_window", "fit_model", "significance_from_nll"]


@dataclass(frozen=True)
class WindowFit:
    """Result of :func:`fit_window`.

    Attributes
    ----------
    values : dict[str, float]
        Best-fit values: ``n_sig``, ``n_bkg`` (events in window), ``c1``..``c<d>``
        (dimensionless Chebyshev coefficients) and ``n_<name>`` per peaking component.
    errors : dict[str, float]
        Hesse (parabolic) uncertainties; 0 for fixed parameters.
    minos_errors : dict[str, tuple[float, float]]
        Minos ``(lower, upper)`` errors (lower is negative) for ``n_sig`` when requested
        and successful; empty otherwise.
    covariance : numpy.ndarray or None
        Hesse covariance in ``parameters`` order.
    parameters : tuple[str, ...]
        Parameter names in covariance order.
    nll : float
        ``-ln L`` at the minimum (extended likelihood, constant terms dropped, Gaussian
        constraint terms included, positivity barrier excluded).  Comparable between
        fits to the same data.
    valid : bool
        True if an attempt converged (Migrad valid, Hesse covariance available, values
        finite, total density positive in the window).  Never use an invalid fit.
    n_attempts : int
        Number of Migrad attempts run.
    n_events : int
        Number of events inside ``[lo, hi]``.
    lo, hi : float
        Window edges (GeV).
    signal_fixed_zero : bool
        Whether ``n_sig`` was fixed to 0 (null hypothesis).
    dropped_components : tuple[str, ...]
        Peaking components not fitted because their in-window probability is
        negligible (< 1e-6).
    edm : float
        Estimated distance to minimum.
    at_positivity_boundary : bool
        True if the total density at the minimum falls below 10⁻³ of its window average
        somewhere on the grid: the fit sits on the boundary of the allowed region, and
        ``n_sig`` and its errors are those of a constrained fit (errors too small).
    message : str
        Short diagnostic.
    """

    values: dict[str, float]
    errors: dict[str, float]
    minos_errors: dict[str, tuple[float, float]]
    covariance: np.ndarray | None
    parameters: tuple[str, ...]
    nll: float
    valid: bool
    n_attempts: int
    n_events: int
    lo: float
    hi: float
    signal_fixed_zero: bool = False
    dropped_components: tuple[str, ...] = field(default_factory=tuple)
    edm: float = float("nan")
    at_positivity_boundary: bool = False
    message: str = ""

    @property
    def fit_ok(self) -> bool:
        """Alias of ``valid``."""
        return self.valid

    @property
    def n_sig(self) -> float:
        """Fitted signal yield (events in window)."""
        return self.values.get(SIGNAL, float("nan"))

    @property
    def n_sig_err(self) -> float:
        """Hesse uncertainty of the signal yield (events)."""
        return self.errors.get(SIGNAL, float("nan"))


def _failed(msg, lo, hi, n_ev, fixed, dropped=(), n_att=0) -> WindowFit:
    return WindowFit(
        values={},
        errors={},
        minos_errors={},
        covariance=None,
        parameters=(),
        nll=float("nan"),
        valid=False,
        n_attempts=n_att,
        n_events=n_ev,
        lo=float(lo),
        hi=float(hi),
        signal_fixed_zero=fixed,
        dropped_components=tuple(dropped),
        message=msg,
    )


def empty_window_fit(model: WindowModel, fixed: bool, dropped) -> WindowFit:
    """Exact maximum-likelihood solution for a window without events (and no constraint).

    The extended likelihood of an empty window is ``exp(-ν)``; its supremum over the
    allowed region (total density ≥ 0, ν ≥ 0) is reached at ν = 0, i.e. every yield 0,
    with ``-ln L = 0``.  The minimum sits on the boundary, so there is no parabolic
    error (NaN) and the fit is flagged ``at_positivity_boundary``.
    """
    names = model.public_names
    values = {k: 0.0 for k in names}
    errors = {k: float("nan") for k in names}
    if fixed:
        errors[SIGNAL] = 0.0
    return WindowFit(
        values=values,
        errors=errors,
        minos_errors={},
        covariance=None,
        parameters=tuple(names),
        nll=0.0,
        valid=True,
        n_attempts=0,
        n_events=0,
        lo=model.lo,
        hi=model.hi,
        signal_fixed_zero=bool(fixed),
        at_positivity_boundary=True,
        dropped_components=tuple(dropped),
        message="empty window: every yield 0 (exact)",
    )


def _linear_start(model: WindowModel, m: np.ndarray, fixed: bool) -> dict[str, float] | None:
    """Binned weighted least-squares estimate of θ (the binned expectation is linear in
    θ, with the bin integrals of the basis as columns), in the public parametrisation."""
    nb = int(np.clip(m.size // 25, 12, 80))
    edges = np.linspace(model.lo, model.hi, nb + 1)
    counts, _ = np.histogram(m, bins=edges)
    a = np.diff(model.cdf_basis(edges), axis=1).T
    if fixed:
        a = a[:, 1:]
    wgt = 1.0 / np.sqrt(np.maximum(counts, 1.0))
    try:
        sol, *_ = np.linalg.lstsq(a * wgt[:, None], counts * wgt, rcond=None)
    except np.linalg.LinAlgError:
        return None
    theta = np.concatenate([[0.0], sol]) if fixed else sol
    if not np.all(np.isfinite(theta)) or not theta[1] > 0:
        return None
    return dict(zip(model.public_names, (float(v) for v in model.to_public(theta))))


# ---------------------------------------------------------------------------------------
# Fit
# ---------------------------------------------------------------------------------------
def fit_window(
    m,
    lo: float,
    hi: float,
    signal_shape,
    peaking: Sequence[PeakingComponent] | None = (),
    constraints: Any = None,
    fix_signal_zero: bool = False,
    start: Mapping[str, float] | None = None,
    minos: bool = True,
    max_attempts: int = 6,
    n_grid: int = 201,
    migrad_tol: float = 0.1,
    poly_order: int = POLY_ORDER,
) -> WindowFit:
    """Extended unbinned ML fit of the diphoton mass in one window.

    Parameters
    ----------
    m : array_like
        Diphoton masses M_γγ (GeV); entries outside ``[lo, hi]`` or non-finite are
        ignored.
    lo, hi : float
        Fit window (GeV), ``lo < hi``.
    signal_shape : DSCBParams, Mapping or sequence
        Fixed signal DSCB shape (GeV), see :func:`alpscan.fitting.dscb.as_dscb_params`.
    peaking : sequence of PeakingComponent, optional
        Peaking backgrounds with fixed shapes and floating in-window yields
        ``n_<name>``.  Also accepted: ``(name, shape)`` pairs or mappings with keys
        ``name``, ``shape`` (and optional ``start``).  Components with negligible
        probability in the window are dropped (listed in ``dropped_components``).
    constraints : YieldConstraint, sequence of them, mapping or None, optional
        Gaussian constraints on peaking yields; a mapping is ``{name: (mean, sigma)}``
        with in-window yields in events.  Constraints on dropped components are ignored.
    fix_signal_zero : bool, optional
        Fix ``n_sig = 0`` (background-only / null fit).
    start : mapping or None, optional
        Starting values by public parameter name (``n_sig``, ``n_bkg``, ``c1``, ``c2``,
        ``n_<name>``) for the first attempt; missing ones are data-driven.
    minos : bool, optional
        Also run Minos on ``n_sig`` (default True; adds ~50 % to the run time, ~5 ms).
    max_attempts : int, optional
        Maximum number of Migrad attempts (different starting points / strategy 2).
    n_grid : int, optional
        Number of grid points across the window used for the positivity check.
    migrad_tol : float, optional
        Migrad tolerance of the regular attempts (EDM goal ``0.002·migrad_tol`` on
        ``-2 ln L``); lower it for reference fits that must be converged very tightly.
    poly_order : int, optional
        Order of the Chebyshev background (:data:`~alpscan.fitting.window_model.POLY_ORDER`).

    Returns
    -------
    WindowFit
        Never raises for a fit that cannot be done (no events, a shape outside its
        domain, no convergence, ...): the result then has ``valid=False`` and a
        ``message``.

    Notes
    -----
    Starting values come from a binned weighted linear least-squares fit of all yields
    and the polynomial (the model is linear in them); further attempts start from
    ``n_sig = 0`` with a flat background, from ``n_sig = ±√N`` and with Migrad
    strategy 2, the last with a 10× looser EDM goal (2·10⁻³ on -2 ln L).  The first
    valid attempt is returned; if none is valid, the lowest-cost attempt is returned
    flagged ``valid=False``.

    At the positivity boundary (``at_positivity_boundary``) the fit is stiff: ``n_sig``
    and its error remain usable, but the Hesse errors of the background parameters can
    be badly underestimated.
    """
    fixed = bool(fix_signal_zero)
    try:
        lo = float(lo)
        hi = float(hi)
    except (TypeError, ValueError):
        return _failed("window edges are not numbers", float("nan"), float("nan"), 0, fixed)
    m = np.asarray(m, dtype=np.float64).ravel()
    n_ev = int(np.count_nonzero(np.isfinite(m) & (m >= lo) & (m <= hi)))
    try:
        model, dropped = WindowModel.build(
            lo, hi, signal_shape, peaking, constraints, n_grid, poly_order
        )
    except (TypeError, ValueError, KeyError) as exc:
        return _failed(f"bad model: {exc}", lo, hi, n_ev, fixed)
    return fit_model(
        model, m, fixed, start, minos, max_attempts, migrad_tol, dropped=dropped
    )


def fit_model(
    model: WindowModel,
    m,
    fix_signal_zero: bool = False,
    start: Mapping[str, float] | None = None,
    minos: bool = True,
    max_attempts: int = 6,
    migrad_tol: float = 0.1,
    dropped: Sequence[str] = (),
) -> WindowFit:
    """:func:`fit_window` of a given :class:`WindowModel` (masses ``m`` in GeV; those
    outside the window or non-finite are ignored); ``dropped`` only annotates the result."""
    fixed = bool(fix_signal_zero)
    lo, hi = model.lo, model.hi
    m, _ = model.select(m)
    n_ev = int(m.size)
    if n_ev == 0 and not model.constraints:
        return empty_window_fit(model, fixed, dropped)
    if n_ev == 0:
        return _failed("no events in window (and a yield constraint)", lo, hi, 0, fixed, dropped)
    try:
        data = model.basis(m)
        grid = model.grid_basis
    except (ValueError, FloatingPointError) as exc:
        return _failed(f"cannot evaluate shapes: {exc}", lo, hi, n_ev, fixed, dropped)

    floor = FLOOR_REL * n_ev / model.width
    integ = model.integrals
    names = model.public_names
    inames = list(model.names)
    pk_names = [p.par_name for p in model.peaking]
    poly_i = inames[1 : model.first_peak]  # a0, a1, ...
    poly_p = list(model.poly_names)  # c1, c2, ...

    def density(x, *par):
        # x: the (K, N) basis at the events; par in `inames` order (pure varargs, so
        # iminuit takes the names from `name=`).  Returns (ν, log density).
        th = np.array(par)
        return th @ integ, np.log(np.maximum(th @ x, floor))

    cost = ExtendedUnbinnedNLL(data, density, log=True, name=inames)
    for c in model.constraints:
        cost = cost + NormalConstraint(f"n_{c.name}", c.mean, c.sigma)
    par_order = list(describe(cost))  # CostSum keeps the order of first appearance
    idx = [par_order.index(k) for k in inames]

    def theta_of(args) -> np.ndarray:
        return np.array([args[i] for i in idx], dtype=float)

    def positive_everywhere(args) -> bool:
        th = theta_of(args)
        return bool(np.min(th @ grid) > floor and np.min(th @ data) > floor)

    def fcn(*args):
        u = model.relative_grid_density(theta_of(args), nu_min=1e-9 * n_ev)
        return cost(*args) + positivity_barrier(u)

    fcn.errordef = Minuit.LEAST_SQUARES  # type: ignore[attr-defined]

    # --- starting points (public parametrisation, converted below) ------------------
    naive = {SIGNAL: 0.0, **{k: 0.0 for k in poly_p}}
    for p in model.peaking:
        naive[p.par_name] = 0.0 if p.start is None else float(p.start)
    for c in model.constraints:
        naive[f"n_{c.name}"] = c.mean
    naive[names[1]] = max(n_ev - sum(naive[k] for k in pk_names), 1.0)

    try:
        lin = _linear_start(model, m, fixed)
    except Exception:  # noqa: BLE001 - the estimate is only a starting point
        lin = None
    first = dict(naive) if lin is None else dict(lin)
    for j, k in enumerate(poly_p):
        first[k] = float(np.clip(first[k], -2.0, 2.0) if j == 0 else np.clip(first[k], -1.5, 1.5))
    first[names[1]] = max(first[names[1]], 1.0)
    if start is not None:
        first.update({k: float(v) for k, v in start.items() if k in first})
    if fixed:
        first[SIGNAL] = 0.0

    sqn = float(np.sqrt(n_ev))
    # (start, Migrad strategy, tolerance); tol 1 = EDM goal 2e-3 on -2 ln L, used last
    # for fits that are stiff because they sit on the positivity boundary.
    mt = float(migrad_tol)
    candidates: list[tuple[dict[str, float], int, float]] = [(first, 1, mt), (naive, 1, mt)]
    if not fixed:
        candidates.append(({**first, SIGNAL: sqn}, 1, mt))
        candidates.append(({**first, SIGNAL: -0.5 * sqn}, 2, mt))
    candidates.append((naive, 2, mt))
    candidates.append((first, 2, 1.0))

    def to_internal(c: Mapping[str, float]) -> dict[str, float]:
        return dict(zip(inames, (float(v) for v in model.from_public(c))))

    def make_feasible(v: dict[str, float]) -> dict[str, float] | None:
        """Return a start with positive density, relaxing toward a flat background."""
        nonneg = {SIGNAL: max(v[SIGNAL], 0.0), **{k: max(v[k], 0.0) for k in pk_names}}
        trials = [v, {**v, **nonneg}, {**v, **nonneg, **{k: 0.0 for k in poly_i[1:]}}]
        for t in trials:
            if fixed:
                t = {**t, SIGNAL: 0.0}
            if positive_everywhere([t[k] for k in par_order]):
                return t
        return None

    big = 3.0 * n_ev + 50.0
    limits = {k: (-big, big) for k in [SIGNAL, *pk_names]}
    limits.update({k: (-2.0 * big, 2.0 * big) for k in poly_i})
    limits[poly_i[0]] = (0.0, 2.0 * big)
    step = max(sqn, 1.0)

    def make_minuit(attempt: tuple[Mapping[str, float], int, float]) -> Minuit | None:
        cand, strategy, tol = attempt
        v0 = make_feasible(to_internal(cand))
        if v0 is None:
            return None
        mi = Minuit(fcn, *[v0[k] for k in par_order], name=par_order)
        for k in par_order:
            mi.limits[k] = limits[k]
            mi.errors[k] = step
        if fixed:
            mi.fixed[SIGNAL] = True
        mi.strategy = strategy
        mi.tol = tol
        return mi

    # Generous call limit: boundary fits are stiff and converge slowly, while one call
    # costs only ~20 µs.
    mi, valid, n_att = migrad_attempts(
        candidates[: max(1, int(max_attempts))],
        make_minuit,
        accept=lambda mi: minuit_converged(mi) and positive_everywhere(mi.values),
        ncall=5000,
    )
    if mi is None:
        return _failed(
            "no feasible starting point / Migrad attempt", lo, hi, n_ev, fixed, dropped, n_att
        )

    minos_errors: dict[str, tuple[float, float]] = {}
    if valid and minos and not fixed:
        try:
            mi.minos(SIGNAL)
            me = mi.merrors[SIGNAL]
            if me.is_valid:
                minos_errors[SIGNAL] = (float(me.lower), float(me.upper))
        except Exception:  # noqa: BLE001 - Minos is optional
            pass

    # --- back to the public parametrisation -----------------------------------------
    theta = theta_of(mi.values)
    values = dict(zip(names, (float(v) for v in model.to_public(theta))))
    cov = None
    errors = {k: float("nan") for k in names}
    if mi.covariance is not None:
        jac = model.public_jacobian(theta)
        cov = jac @ np.array(mi.covariance, dtype=float)[np.ix_(idx, idx)] @ jac.T
        errors = {k: float(np.sqrt(max(cov[i, i], 0.0))) for i, k in enumerate(names)}
    if fixed:
        errors[SIGNAL] = 0.0
    if valid and not all(np.isfinite(list(values.values()))):
        valid = False
    u_min = float(np.min(model.relative_grid_density(theta, nu_min=1e-9 * n_ev)))
    if valid:
        msg = "ok"
    elif not positive_everywhere(mi.values):
        msg = "minimum violates positivity of the density"
    else:
        msg = "no valid Migrad minimum after all attempts"
    return WindowFit(
        values=values,
        errors=errors,
        minos_errors=minos_errors,
        covariance=cov,
        parameters=tuple(names),
        nll=0.5 * float(cost(*mi.values)),
        valid=bool(valid),
        n_attempts=n_att,
        n_events=n_ev,
        lo=lo,
        hi=hi,
        signal_fixed_zero=fixed,
        dropped_components=tuple(dropped),
        edm=float(mi.fmin.edm),
        at_positivity_boundary=bool(u_min < BOUNDARY_U),
        message=msg,
    )


# ---------------------------------------------------------------------------------------
# Significance
# ---------------------------------------------------------------------------------------
def significance_from_nll(nll_free: float, nll_null: float, n_sig: float) -> float:
    """Local significance ``S = sign(N_sig)·√(2·max(NLL₀ − NLL₁, 0))``.

    Parameters
    ----------
    nll_free : float
        Minimum ``-ln L`` with the signal yield floating (NLL₁).
    nll_null : float
        Minimum ``-ln L`` with the signal yield fixed to 0 (NLL₀).
    n_sig : float
        Fitted signal yield of the free fit (events); only its sign is used.

    Returns
    -------
    float
        Signed significance in Gaussian standard deviations (NaN if an input is NaN).
    """
    d = float(nll_null) - float(nll_free)
    if not np.isfinite(d) or not np.isfinite(n_sig):
        return float("nan")
    return float(np.sign(n_sig) * np.sqrt(2.0 * max(d, 0.0)))
