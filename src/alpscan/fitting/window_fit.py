"""Per-mass-point extended unbinned maximum-likelihood fit of M_γγ (spec §7).

Model in a window ``[lo, hi]`` (GeV), as an event density (events / GeV)::

    λ(x) = n_sig · S(x) + n_bkg · B(x; c1, c2) + Σ_k n_k · P_k(x)

* ``S``: signal DSCB with fixed shape, normalised to 1 over the window.  ``n_sig`` floats
  and may be negative.
* ``B``: second-order Chebyshev polynomial in ``t = 2 (x - lo)/(hi - lo) - 1``,
  ``B ∝ 1 + c1·t + c2·(2t² - 1)``, normalised to 1 over the window
  (``∫ B dx = 1`` ⇔ divide by ``(hi - lo)(1 - c2/3)``).  ``n_bkg``, ``c1``, ``c2`` float.
* ``P_k``: peaking backgrounds (π⁰, η, η′, η_c, ...) with fixed DSCB shapes normalised
  over the window, floating yields ``n_<name>``; optionally Gaussian-constrained
  (:class:`YieldConstraint`).

All yields are **numbers of events inside the window**.  Use
:func:`alpscan.fitting.dscb.dscb_window_fraction` to convert a total expected yield
(e.g. the η_c world-average prediction) into an in-window one.

The cost is ``iminuit.cost.ExtendedUnbinnedNLL`` (+ ``iminuit.cost.NormalConstraint``
for constrained yields, summed into a ``CostSum``).  Since every shape except the
polynomial is fixed, the fixed-shape densities are evaluated once: the data handed to
``ExtendedUnbinnedNLL`` is the ``(K, N)`` array ``[1, T1(t), T2(t), S(x), P_1(x), ...]``
and the density is a coefficient vector times it, so one cost evaluation costs a few µs.

Internally Minuit works with the *linear* background coefficients
``(a0, a1, a2) = n_bkg·(1, c1, c2)/(1 - c2/3)`` (density ``(a0 + a1·T1 + a2·T2)/(hi - lo)``),
in which the negative log-likelihood is convex (every term is linear or ``-ln`` of a
linear function of the parameters), so there is a single minimum and Migrad converges
reliably even for windows with ~15 events.  Results (values, Hesse covariance) are
reported in the public parametrisation ``n_sig, n_bkg, c1, c2, n_<name>...`` via the
Jacobian; ``n_sig`` and its errors (Hesse and Minos) are unaffected by this change of
nuisance parameters.

Positivity: because ``n_sig`` (and peaking yields) may be negative, the total density
must stay positive.  At the data points a non-positive density is replaced by a tiny
floor (finite but very poor likelihood).  On a uniform grid of ``n_grid`` points across
the window a smooth log-barrier (:func:`_positivity_barrier`, worth 0.3 "phantom"
events spread uniformly) makes the cost diverge smoothly as the density approaches
zero and stay large and steep for negative densities.  Away from the boundary the
barrier is negligible (it shifts ``n_sig`` by ≪ 0.01σ), and when the unconstrained
optimum would make the density negative (a strongly negative ``n_sig`` in a
low-background window) Migrad converges just inside the allowed region; such fits are
flagged ``at_positivity_boundary=True``.  A minimum with a non-positive density at any
data or grid point is flagged ``valid=False``.

Cost values follow iminuit's convention ``fval = -2 ln L`` (up to constants); the
``nll`` stored in :class:`WindowFit` is ``-ln L`` of the likelihood proper (Gaussian
constraints included, barrier excluded) at the minimum.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from iminuit import Minuit
from iminuit.cost import ExtendedUnbinnedNLL, NormalConstraint
from iminuit.util import describe

from alpscan.fitting.dscb import (
    DSCBParams,
    as_dscb_params,
    dscb_cdf,
    dscb_pdf,
    dscb_sample,
    dscb_window_fraction,
    minuit_converged,
)

__all__ = [
    "PeakingComponent",
    "YieldConstraint",
    "WindowFit",
    "SIGNAL",
    "BACKGROUND",
    "POLY_NAMES",
    "fit_window",
    "local_significance",
    "significance_from_nll",
    "chebyshev_background_pdf",
    "sample_window",
]

#: Parameter name of the signal yield.
SIGNAL = "n_sig"
#: Parameter name of the polynomial-background yield.
BACKGROUND = "n_bkg"
#: Names of the two Chebyshev shape coefficients.
POLY_NAMES: tuple[str, str] = ("c1", "c2")

#: Components whose in-window probability is below this are dropped (yield undefined).
_MIN_WINDOW_FRACTION = 1e-6
#: Weight of the positivity log-barrier, in "phantom events" spread over the grid.
_BARRIER_EVENTS = 0.3
#: Below this relative density the barrier is continued linearly (finite for u <= 0).
_BARRIER_UMIN = 1e-9
#: A fit whose minimum density is below this fraction of the mean density is flagged
#: ``at_positivity_boundary``.
_BOUNDARY_U = 1e-3


# ---------------------------------------------------------------------------------------
# Configuration objects
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PeakingComponent:
    """A peaking background with a fixed DSCB shape and a floating in-window yield.

    Attributes
    ----------
    name : str
        Component name (e.g. ``"eta"``); the yield parameter is ``"n_<name>"``.
    shape : DSCBParams
        Fixed shape (GeV).
    start : float or None
        Optional starting value of the in-window yield (events).
    """

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
    """Gaussian constraint on the in-window yield of a named peaking component.

    Attributes
    ----------
    name : str
        Component name (as in :class:`PeakingComponent`), e.g. ``"etac"``.
    mean : float
        Expected in-window yield (events).
    sigma : float
        Its uncertainty (events, > 0).
    """

    name: str
    mean: float
    sigma: float


@dataclass(frozen=True)
class WindowFit:
    """Result of :func:`fit_window`.

    Attributes
    ----------
    values : dict[str, float]
        Best-fit values: ``n_sig``, ``n_bkg`` (events in window), ``c1``, ``c2``
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


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------
def _positivity_barrier(u: np.ndarray) -> float:
    """Log-barrier keeping the total density positive on the grid (units of ``-2 ln L``).

    ``-2 (ε/G) Σ_g ln u_g`` with ``u_g = λ(x_g) / (ν/(hi - lo))`` the density at the
    ``G`` grid points relative to its window average (ν = expected events) and
    ``ε`` = ``_BARRIER_EVENTS`` (0.3).  For the shape it acts like 0.3 "phantom" events
    spread uniformly over the window (it does not change the total yield, being scale
    invariant), which is negligible for any real window but makes the cost diverge
    smoothly as the density approaches zero.
    Below ``u = 1e-9`` (including ``u <= 0``) it continues linearly with the same value and
    slope, so it stays finite and very steep.
    """
    w = 2.0 * _BARRIER_EVENTS / u.size
    inner = np.maximum(u, _BARRIER_UMIN)
    phi = -np.log(inner) + np.where(u < _BARRIER_UMIN, (_BARRIER_UMIN - u) / _BARRIER_UMIN, 0.0)
    return float(w * np.sum(phi))


def _to_t(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return 2.0 * (x - lo) / (hi - lo) - 1.0


def _cheb_unnorm(t: np.ndarray, c1: float, c2: float) -> np.ndarray:
    return 1.0 + c1 * t + c2 * (2.0 * t * t - 1.0)


def chebyshev_background_pdf(x, c1: float, c2: float, lo: float, hi: float) -> np.ndarray:
    """Second-order Chebyshev background density normalised over ``[lo, hi]``.

    Parameters
    ----------
    x : array_like
        Masses (GeV).
    c1, c2 : float
        Coefficients of ``T1(t) = t`` and ``T2(t) = 2t² - 1`` with
        ``t = 2(x - lo)/(hi - lo) - 1`` (dimensionless, ``c2 < 3``).
    lo, hi : float
        Window (GeV).

    Returns
    -------
    numpy.ndarray
        Density in GeV⁻¹ (0 outside the window); may be negative for coefficients
        outside the region where the polynomial is non-negative.
    """
    x = np.asarray(x, dtype=float)
    t = _to_t(x, lo, hi)
    f = _cheb_unnorm(t, c1, c2) / ((hi - lo) * (1.0 - c2 / 3.0))
    return np.where((x >= lo) & (x <= hi), f, 0.0)


def _normalise_constraints(constraints: Any) -> list[YieldConstraint]:
    if constraints is None:
        return []
    if isinstance(constraints, YieldConstraint):
        return [constraints]
    if isinstance(constraints, Mapping):
        return [YieldConstraint(str(k), float(v[0]), float(v[1])) for k, v in constraints.items()]
    return [c if isinstance(c, YieldConstraint) else YieldConstraint(*c) for c in constraints]


def _normalise_peaking(peaking: Any) -> list[PeakingComponent]:
    if peaking is None:
        return []
    out = []
    for p in peaking:
        if isinstance(p, PeakingComponent):
            out.append(p)
        elif isinstance(p, Mapping):
            out.append(
                PeakingComponent(str(p["name"]), as_dscb_params(p["shape"]), p.get("start"))
            )
        else:
            out.append(PeakingComponent(str(p[0]), as_dscb_params(p[1])))
    return out


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


def _empty_window_fit(lo, hi, pk: list[PeakingComponent], fixed, dropped) -> WindowFit:
    """Exact maximum-likelihood solution for a window without events (and no constraint).

    The extended likelihood of an empty window is ``exp(-ν)``; its supremum over the
    allowed region (total density ≥ 0, ν ≥ 0) is reached at ν = 0, i.e. every yield 0,
    with ``-ln L = 0``.  The minimum sits on the boundary, so there is no parabolic
    error (NaN) and the fit is flagged ``at_positivity_boundary``.  It is a valid,
    exact result (the yields are pinned by the data), not a failed fit: the signal
    yield is 0 and the local significance 0.
    """
    names = [SIGNAL, BACKGROUND, *POLY_NAMES, *(p.par_name for p in pk)]
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
        lo=float(lo),
        hi=float(hi),
        signal_fixed_zero=bool(fixed),
        at_positivity_boundary=True,
        dropped_components=tuple(dropped),
        message="empty window: every yield 0 (exact)",
    )


def _bin_fractions_poly(edges_t: np.ndarray) -> np.ndarray:
    """Bin integrals of the three background basis densities g0, g1, g2 (rows).

    ``g_j(x) = T_j(t)/(hi - lo)``, so ``∫_bin g_j dx = ½ ∫_bin T_j dt``.
    """
    a, b = edges_t[:-1], edges_t[1:]
    g0 = 0.5 * (b - a)
    g1 = 0.25 * (b * b - a * a)
    g2 = 0.5 * ((2.0 / 3.0) * (b**3 - a**3) - (b - a))
    return np.vstack([g0, g1, g2])


def _linear_start(
    m: np.ndarray, lo: float, hi: float, sig: DSCBParams, pk: list[PeakingComponent], fixed: bool
) -> dict[str, float] | None:
    """Binned weighted least-squares estimate of all parameters.

    With ``n_bkg·B = b0·g0 + b1·g1 + b2·g2`` the binned expectation is linear in
    ``(n_sig, b0, b1, b2, n_k)``; solve, then map to ``n_bkg = b0 - b2/3``,
    ``c1 = b1/b0``, ``c2 = b2/b0``.
    """
    n = m.size
    nb = int(np.clip(n // 25, 12, 80))
    edges = np.linspace(lo, hi, nb + 1)
    counts, _ = np.histogram(m, bins=edges)
    cols = []
    if not fixed:
        cols.append(np.diff(_cdf_window(edges, sig, lo, hi)))
    cols.extend(_bin_fractions_poly(_to_t(edges, lo, hi)))
    for p in pk:
        cols.append(np.diff(_cdf_window(edges, p.shape, lo, hi)))
    a = np.vstack(cols).T
    wgt = 1.0 / np.sqrt(np.maximum(counts, 1.0))
    try:
        sol, *_ = np.linalg.lstsq(a * wgt[:, None], counts * wgt, rcond=None)
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.isfinite(sol)):
        return None
    i = 0
    out: dict[str, float] = {}
    if not fixed:
        out[SIGNAL] = float(sol[0])
        i = 1
    else:
        out[SIGNAL] = 0.0
    b0, b1, b2 = sol[i : i + 3]
    if not b0 > 0:
        return None
    out[BACKGROUND] = float(b0 - b2 / 3.0)
    out["c1"] = float(b1 / b0)
    out["c2"] = float(b2 / b0)
    for k, p in enumerate(pk):
        out[p.par_name] = float(sol[i + 3 + k])
    return out


def _cdf_window(x: np.ndarray, p: DSCBParams, lo: float, hi: float) -> np.ndarray:
    return dscb_cdf(x, *p.as_tuple(), lo=lo, hi=hi)


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
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        return _failed(f"invalid window [{lo}, {hi}]", lo, hi, 0, fixed)

    m = np.asarray(m, dtype=np.float64).ravel()
    m = m[np.isfinite(m) & (m >= lo) & (m <= hi)]
    n_ev = int(m.size)

    try:
        sig = as_dscb_params(signal_shape)
        pk_all = _normalise_peaking(peaking)
        cons_all = _normalise_constraints(constraints)
    except (TypeError, ValueError, KeyError) as exc:
        return _failed(f"bad configuration: {exc}", lo, hi, n_ev, fixed)
    if not sig.is_valid() or not all(p.shape.is_valid() for p in pk_all):
        return _failed("a DSCB shape is outside its domain", lo, hi, n_ev, fixed)
    names_seen = [p.name for p in pk_all]
    if len(set(names_seen)) != len(names_seen):
        return _failed("duplicate peaking component names", lo, hi, n_ev, fixed)
    for c in cons_all:
        if not (np.isfinite(c.mean) and np.isfinite(c.sigma) and c.sigma > 0):
            return _failed(f"constraint on {c.name!r} has invalid mean/sigma", lo, hi, n_ev, fixed)
        if c.name not in names_seen:
            return _failed(f"constraint on unknown component {c.name!r}", lo, hi, n_ev, fixed)

    # Drop peaking components that do not reach into the window.
    pk: list[PeakingComponent] = []
    dropped: list[str] = []
    for p in pk_all:
        if dscb_window_fraction(p.shape, lo, hi) < _MIN_WINDOW_FRACTION:
            dropped.append(p.name)
        else:
            pk.append(p)
    cons = [c for c in cons_all if c.name not in dropped]
    if not fixed and dscb_window_fraction(sig, lo, hi) < _MIN_WINDOW_FRACTION:
        return _failed(
            "signal shape has negligible probability in window", lo, hi, n_ev, fixed, dropped
        )

    if n_ev == 0 and not cons:
        return _empty_window_fit(lo, hi, pk, fixed, dropped)
    if n_ev == 0:
        return _failed("no events in window (and a yield constraint)", lo, hi, 0, fixed, dropped)

    # Fixed-shape densities at the data and on the positivity grid.
    def fixed_rows(x: np.ndarray) -> np.ndarray:
        # Rows: 1, T1(t), T2(t), S(x), P_1(x), ... ; the density is coefficients @ rows.
        t = _to_t(x, lo, hi)
        rows = [np.ones_like(t), t, 2.0 * t * t - 1.0, dscb_pdf(x, *sig.as_tuple(), lo=lo, hi=hi)]
        rows.extend(dscb_pdf(x, *p.shape.as_tuple(), lo=lo, hi=hi) for p in pk)
        return np.ascontiguousarray(np.vstack(rows))

    try:
        data = fixed_rows(m)
        grid = fixed_rows(np.linspace(lo, hi, max(int(n_grid), 3)))
    except (ValueError, FloatingPointError) as exc:
        return _failed(f"cannot evaluate shapes: {exc}", lo, hi, n_ev, fixed, dropped)

    width = hi - lo
    scale = n_ev / width  # mean density, events / GeV
    floor = 1e-12 * scale
    pk_names = [p.par_name for p in pk]
    names = [SIGNAL, BACKGROUND, *POLY_NAMES, *pk_names]  # public parameters
    # Internal (linear) parameters: n_bkg·(1 + c1·T1 + c2·T2)/(1 - c2/3) = a0 + a1·T1 + a2·T2.
    inames = [SIGNAL, "a0", "a1", "a2", *pk_names]

    def coefficients(n_sig, a0, a1, a2, *yields) -> np.ndarray:
        return np.array([a0 / width, a1 / width, a2 / width, n_sig, *yields])

    def model(x, *par):
        # x: the (K, N) array of fixed rows; par: values in `inames` order (pure
        # varargs, so iminuit takes the parameter names from `name=`).
        # Returns (expected events in window, log density).
        d = coefficients(*par) @ x
        n_exp = par[0] + par[1] - par[3] / 3.0 + sum(par[4:])
        return n_exp, np.log(np.maximum(d, floor))

    cost = ExtendedUnbinnedNLL(data, model, log=True, name=inames)
    for c in cons:
        cost = cost + NormalConstraint(f"n_{c.name}", c.mean, c.sigma)
    par_order = list(describe(cost))  # CostSum keeps the order of first appearance
    idx = [par_order.index(k) for k in inames]

    def rel_grid_density(args) -> np.ndarray:
        # Grid density divided by its window average ν/(hi - lo): invariant under a
        # common scaling of all yields, so the barrier acts on the shape only and the
        # extended-ML identity Σ yields = N is preserved.
        par = [args[i] for i in idx]
        nu = par[0] + par[1] - par[3] / 3.0 + sum(par[4:])
        return (coefficients(*par) @ grid) * width / max(nu, 1e-9 * n_ev)

    def positive_everywhere(args) -> bool:
        c = coefficients(*[args[i] for i in idx])
        return bool(np.min(c @ grid) > floor and np.min(c @ data) > floor)

    def fcn(*args):
        return cost(*args) + _positivity_barrier(rel_grid_density(args))

    fcn.errordef = Minuit.LEAST_SQUARES  # type: ignore[attr-defined]

    # --- starting points (public parametrisation, converted below) ------------------
    naive = {SIGNAL: 0.0, BACKGROUND: float(n_ev), "c1": 0.0, "c2": 0.0}
    for p in pk:
        naive[p.par_name] = 0.0 if p.start is None else float(p.start)
    for c in cons:
        naive[f"n_{c.name}"] = c.mean
    naive[BACKGROUND] = max(n_ev - sum(naive[k] for k in pk_names), 1.0)

    try:
        lin = _linear_start(m, lo, hi, sig, pk, fixed)
    except Exception:  # noqa: BLE001 - the estimate is only a starting point
        lin = None
    first = dict(naive) if lin is None else dict(lin)
    first["c1"] = float(np.clip(first["c1"], -2.0, 2.0))
    first["c2"] = float(np.clip(first["c2"], -1.5, 1.5))
    first[BACKGROUND] = max(first[BACKGROUND], 1.0)
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
        b0 = c[BACKGROUND] / (1.0 - c["c2"] / 3.0)
        out = {SIGNAL: c[SIGNAL], "a0": b0, "a1": b0 * c["c1"], "a2": b0 * c["c2"]}
        out.update({k: c[k] for k in pk_names})
        return out

    def make_feasible(v: dict[str, float]) -> dict[str, float] | None:
        """Return a start with positive density, relaxing toward a flat background."""
        trials = [
            v,
            {**v, SIGNAL: max(v[SIGNAL], 0.0), **{k: max(v[k], 0.0) for k in pk_names}},
            {
                **v,
                SIGNAL: max(v[SIGNAL], 0.0),
                "a1": 0.0,
                "a2": 0.0,
                **{k: max(v[k], 0.0) for k in pk_names},
            },
        ]
        for t in trials:
            if fixed:
                t = {**t, SIGNAL: 0.0}
            if positive_everywhere([t[k] for k in par_order]):
                return t
        return None

    big = 3.0 * n_ev + 50.0
    limits = {
        SIGNAL: (-big, big),
        "a0": (0.0, 2.0 * big),
        "a1": (-2.0 * big, 2.0 * big),
        "a2": (-2.0 * big, 2.0 * big),
    }
    for k in pk_names:
        limits[k] = (-big, big)
    step = max(sqn, 1.0)

    best = None
    accepted = None
    n_att = 0
    for cand, strategy, tol in candidates[: max(1, int(max_attempts))]:
        n_att += 1
        v0 = make_feasible(to_internal(cand))
        if v0 is None:
            continue
        try:
            mi = Minuit(fcn, *[v0[k] for k in par_order], name=par_order)
            for k in par_order:
                mi.limits[k] = limits[k]
                mi.errors[k] = step
            if fixed:
                mi.fixed[SIGNAL] = True
            mi.strategy = strategy
            mi.tol = tol
            # Generous call limit: boundary fits are stiff and converge slowly, while
            # one call costs only ~20 µs.
            mi.migrad(ncall=5000)
            if mi.fmin.is_valid:
                mi.hesse()
        except Exception:  # noqa: BLE001 - numerical failure in this attempt
            continue
        fval = float(mi.fval) if np.isfinite(mi.fval) else np.inf
        if best is None or fval < best[0]:
            best = (fval, mi)
        ok = minuit_converged(mi) and positive_everywhere(mi.values)
        if ok:
            accepted = mi
            break

    if best is None:
        return _failed(
            "no feasible starting point / Migrad attempt", lo, hi, n_ev, fixed, dropped, n_att
        )
    mi = accepted if accepted is not None else best[1]
    valid = accepted is not None

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
    iv = np.array([mi.values[k] for k in inames], dtype=float)
    a0, a1, a2 = iv[1:4]
    values = {SIGNAL: float(iv[0]), BACKGROUND: float(a0 - a2 / 3.0)}
    values["c1"] = float(a1 / a0) if a0 > 0 else float("nan")
    values["c2"] = float(a2 / a0) if a0 > 0 else float("nan")
    values.update({k: float(mi.values[k]) for k in pk_names})
    # Jacobian d(public)/d(internal); n_sig and peaking yields map to themselves.
    jac = np.eye(len(names))
    if a0 > 0:
        jac[1:4, 1:4] = [
            [1.0, 0.0, -1.0 / 3.0],
            [-a1 / a0**2, 1.0 / a0, 0.0],
            [-a2 / a0**2, 0.0, 1.0 / a0],
        ]
    cov = None
    errors = {k: float("nan") for k in names}
    if mi.covariance is not None:
        icov = np.array(mi.covariance, dtype=float)[np.ix_(idx, idx)]
        cov = jac @ icov @ jac.T
        errors = {k: float(np.sqrt(max(cov[i, i], 0.0))) for i, k in enumerate(names)}
    if fixed:
        errors[SIGNAL] = 0.0
    if valid and not all(np.isfinite(list(values.values()))):
        valid = False
    u_min = float(np.min(rel_grid_density(mi.values)))
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
        at_positivity_boundary=bool(u_min < _BOUNDARY_U),
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


def local_significance(fit_free: WindowFit, fit_null: WindowFit) -> float:
    """Local significance of a mass point from the free and the null fit.

    Parameters
    ----------
    fit_free : WindowFit
        Fit with ``n_sig`` floating.
    fit_null : WindowFit
        Fit of the same data with ``n_sig`` fixed to 0.

    Returns
    -------
    float
        ``sign(N_sig)·√(2·max(NLL₀ − NLL₁, 0))``; NaN if either fit is invalid.

    Raises
    ------
    ValueError
        If the two fits are not to the same window / number of events.
    """
    if (fit_free.lo, fit_free.hi, fit_free.n_events) != (
        fit_null.lo,
        fit_null.hi,
        fit_null.n_events,
    ):
        raise ValueError("free and null fits must use the same window and data")
    if not (fit_free.valid and fit_null.valid):
        return float("nan")
    return significance_from_nll(fit_free.nll, fit_null.nll, fit_free.n_sig)


# ---------------------------------------------------------------------------------------
# Pseudo-data
# ---------------------------------------------------------------------------------------
def _sample_chebyshev(rng: np.random.Generator, n: int, c1: float, c2: float, lo, hi):
    """Accept-reject sampling of the normalised Chebyshev background (vectorised)."""
    tg = np.linspace(-1.0, 1.0, 2001)
    fg = _cheb_unnorm(tg, c1, c2)
    if np.min(fg) < 0 or not 1.0 - c2 / 3.0 > 0:
        raise ValueError("background polynomial is negative inside the window")
    fmax = float(np.max(fg)) * 1.001 + 1e-12
    out = np.empty(0)
    while out.size < n:
        need = n - out.size
        k = int(need * fmax / max(1.0 - c2 / 3.0, 1e-3) * 1.1) + 16
        t = rng.uniform(-1.0, 1.0, k)
        keep = rng.uniform(0.0, fmax, k) < _cheb_unnorm(t, c1, c2)
        out = np.concatenate([out, t[keep][:need]])
    return lo + 0.5 * (out + 1.0) * (hi - lo)


def sample_window(
    rng: np.random.Generator,
    n_sig: float,
    n_bkg: float,
    poly_coeffs: Sequence[float],
    signal_shape,
    peaking: Sequence[Any] = (),
    lo: float = 0.0,
    hi: float = 1.0,
) -> np.ndarray:
    """Generate pseudo-data for one window with Poisson-fluctuated yields.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random generator.
    n_sig : float
        Expected signal events in the window (>= 0).
    n_bkg : float
        Expected polynomial-background events in the window (>= 0).
    poly_coeffs : sequence of 2 floats
        Chebyshev coefficients ``(c1, c2)`` (as in :func:`fit_window`); the polynomial
        must be non-negative on the window.
    signal_shape : DSCBParams, Mapping or sequence
        Signal DSCB shape (GeV).
    peaking : sequence, optional
        ``(component, expected_in_window_yield)`` pairs, where ``component`` is a
        :class:`PeakingComponent` or any DSCB shape.
    lo, hi : float
        Window (GeV).

    Returns
    -------
    numpy.ndarray
        Masses (GeV) in ``[lo, hi]``, randomly ordered.
    """
    lo = float(lo)
    hi = float(hi)
    if not hi > lo:
        raise ValueError("need lo < hi")
    if n_sig < 0 or n_bkg < 0:
        raise ValueError("expected yields must be >= 0 for sampling")
    c1, c2 = (float(c) for c in poly_coeffs)
    parts = [
        dscb_sample(rng, rng.poisson(n_sig), as_dscb_params(signal_shape), lo, hi),
        _sample_chebyshev(rng, int(rng.poisson(n_bkg)), c1, c2, lo, hi),
    ]
    for comp, mu in peaking:
        if mu < 0:
            raise ValueError("expected peaking yields must be >= 0 for sampling")
        parts.append(dscb_sample(rng, rng.poisson(mu), as_dscb_params(comp), lo, hi))
    x = np.concatenate(parts)
    return rng.permutation(x)
