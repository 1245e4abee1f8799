"""CLs upper limits from the profile likelihoods of the scan fits (spec §9): branching
fraction per mode and the g_aW limit of the four modes combined.

Design notes: docs/limits.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.interpolate import PchipInterpolator
from scipy.optimize import minimize_scalar

from alpscan.fitting.batched import fit_batch
from alpscan.fitting.toys import profile_nll
from alpscan.fitting.window_model import WindowModel
from alpscan.stats.cls import LimitResult, asymptotic_limits

__all__ = [
    "ProfileCurve",
    "profile_grid",
    "profile_curve",
    "profile_curve_status",
    "CurveStatus",
    "single_fit",
    "null_fit",
    "profile_theta",
    "yield_limits",
    "combined_limits",
    "THETA_GRID",
]

#: Grid of the efficiency nuisance θ used for profiling (dimensionless).
THETA_GRID = np.linspace(0.02, 3.0, 1491)


@dataclass(frozen=True)
class ProfileCurve:
    """Profiled −ln L of one fit window versus the signal yield.

    Attributes
    ----------
    n_sig : numpy.ndarray
        Increasing grid of fitted signal yields (events in the window).
    nll : numpy.ndarray
        Profiled −ln L at each grid value (nuisances minimised).
    n_hat : float
        Unconditional best-fit yield (events; may be negative).
    nll_hat : float
        −ln L at ``n_hat``.

    Notes
    -----
    Evaluation interpolates with a monotone cubic (PCHIP) inside the grid and continues
    linearly with the end slopes outside it, which for a convex curve is a lower bound
    of the true profile (i.e. conservative-weak, never over-excluding).
    """

    n_sig: np.ndarray
    nll: np.ndarray
    n_hat: float
    nll_hat: float

    def __post_init__(self) -> None:
        n = np.asarray(self.n_sig, dtype=float)
        v = np.asarray(self.nll, dtype=float)
        if n.ndim != 1 or n.shape != v.shape or n.size < 3:
            raise ValueError("profile curve needs matching 1-D n_sig and nll with >= 3 points")
        if not np.all(np.diff(n) > 0):
            raise ValueError("profile curve n_sig grid must be strictly increasing")
        if not (np.all(np.isfinite(v)) and np.isfinite(self.n_hat) and np.isfinite(self.nll_hat)):
            raise ValueError("profile curve has non-finite values")
        object.__setattr__(self, "n_sig", n)
        object.__setattr__(self, "nll", v)
        # Built once: the limits evaluate a curve thousands of times.
        object.__setattr__(self, "_spline", PchipInterpolator(n, v, extrapolate=False))

    def __call__(self, n) -> np.ndarray:
        """Profiled −ln L at yields ``n`` (events), any shape."""
        x = np.asarray(n, dtype=float)
        out = self._spline(np.clip(x, self.n_sig[0], self.n_sig[-1]))
        lo_slope = (self.nll[1] - self.nll[0]) / (self.n_sig[1] - self.n_sig[0])
        hi_slope = (self.nll[-1] - self.nll[-2]) / (self.n_sig[-1] - self.n_sig[-2])
        out = np.where(x < self.n_sig[0], self.nll[0] + lo_slope * (x - self.n_sig[0]), out)
        out = np.where(x > self.n_sig[-1], self.nll[-1] + hi_slope * (x - self.n_sig[-1]), out)
        return out

    def shifted(self, b: float) -> "ProfileCurve":
        """Curve of the *true* yield when the fit is biased by ``b`` events: P(n + b)."""
        return ProfileCurve(self.n_sig - b, self.nll, self.n_hat - b, self.nll_hat)


def profile_grid(n_hat: float, n_err: float, n_events: float, n_points: int) -> np.ndarray:
    """Grid of signal yields (events) on which a profile likelihood is tabulated.

    From ``min(n̂, 0) − 2σ`` to ``max(n̂, 0) + 10σ + 5`` with σ the fit error (or
    √(N + 1) + 1 if unavailable, N the number or total weight of the events): wide
    enough for the 90 % CLs limit plus its +2σ band with the efficiency systematic, and
    for the bias shift.
    """
    sig = n_err if np.isfinite(n_err) and n_err > 0 else np.sqrt(n_events + 1.0) + 1.0
    lo = min(n_hat, 0.0) - 2.0 * sig
    hi = max(n_hat, 0.0) + 10.0 * sig + 5.0
    return np.linspace(lo, hi, int(n_points))


#: Newton iterations allowed for the single-dataset fits of a limit (barrier-limited
#: fits of sparse windows need ~100; fit_batch's default is 50).
FIT_MAX_ITER = 500
#: Smallest fraction of the profile grid that must converge for a usable curve.
_MIN_GRID_FRACTION = 0.5


def single_fit(model: WindowModel, x, weights=None, n_fixed: float | None = None, start=None):
    """Free (``n_fixed=None``) or conditional fit of one dataset by the batched fitter,
    with :data:`FIT_MAX_ITER` iterations; ``start`` an optional internal θ row.  Returns
    the size-1 :class:`~alpscan.fitting.batched.BatchFit`."""
    xs, ws = model.select(x, weights)
    fixed = None if n_fixed is None else [float(n_fixed)]
    st = None if start is None else np.asarray(start, dtype=float)[None, :]
    return fit_batch(model, model.basis(xs), [0, xs.size], weights=ws, n_sig_fixed=fixed,
                     start=st, max_iter=FIT_MAX_ITER)  # fmt: skip


def null_fit(model: WindowModel, x, weights=None, free=None):
    """Background-only fit (``n_sig = 0``) of one dataset: from fit_batch's default start,
    then (if that fails) from the free fit with ``n_sig`` set to 0.  Returns the size-1
    BatchFit (check ``converged``)."""
    null = single_fit(model, x, weights, 0.0)
    if not bool(null.converged[0]) and free is not None and bool(free.converged[0]):
        start = free.theta[0].copy()
        start[0] = 0.0
        null = single_fit(model, x, weights, 0.0, start=start)
    return null


@dataclass(frozen=True)
class CurveStatus:
    """How a profile curve was obtained (:func:`profile_curve_status`).

    ``free_fit``: ``"ok"`` (converged free fit) or ``"profile_minimum"`` (free fit
    failed; n̂ and −ln L(n̂) from the minimum of the profile itself); ``n_dropped``:
    grid points whose conditional fit failed and were left out; ``cause``: why no curve
    could be built (``""`` when it was).
    """

    free_fit: str
    n_dropped: int
    cause: str


def _profile_minimum(model, x, weights, n_events, n_points):
    """n̂ and −ln L(n̂) from the profile alone: a wide grid, then a bounded Brent search
    between the neighbours of its smallest converged value (each step one fit)."""
    sig = np.sqrt(n_events + 1.0) + 1.0
    grid = np.linspace(-3.0 * sig, 3.0 * sig + 3.0, int(n_points))
    nll = profile_nll(model, x, grid, weights=weights, max_iter=FIT_MAX_ITER)
    if not np.any(np.isfinite(nll)):
        return None
    j = int(np.nanargmin(nll))
    lo, hi = grid[max(j - 1, 0)], grid[min(j + 1, grid.size - 1)]

    def f(n):
        v = profile_nll(model, x, [n], weights=weights, max_iter=FIT_MAX_ITER)[0]
        return float(v) if np.isfinite(v) else float(nll[j]) + 1e3

    res = minimize_scalar(f, bounds=(lo, hi), method="bounded", options={"xatol": 1e-6 * sig})
    if res.fun <= nll[j]:
        return float(res.x), float(res.fun), sig
    return float(grid[j]), float(nll[j]), sig


def profile_curve_status(model: WindowModel, x, weights=None, n_points: int = 48):
    """:func:`profile_curve` and its :class:`CurveStatus` (curve None when it failed).

    Robust against the failures of sparse windows at the positivity edge: the fits get
    :data:`FIT_MAX_ITER` iterations; a free fit that still fails is replaced by the
    minimum of the profile; grid points whose conditional fit fails are left out
    (the PCHIP curve bridges them) as long as at least half of the grid converged.
    """
    free = single_fit(model, x, weights)
    n_events = float(np.size(x)) if weights is None else float(np.sum(weights))
    if bool(free.converged[0]):
        n_hat, nll_hat, err = float(free.n_sig[0]), float(free.nll[0]), float(free.n_sig_err[0])
        how = "ok"
    else:
        found = _profile_minimum(model, x, weights, n_events, n_points)
        if found is None:
            return None, CurveStatus("failed", 0, "free fit and profile failed")
        n_hat, nll_hat, err = found
        how = "profile_minimum"
    grid = profile_grid(n_hat, err, n_events, n_points)
    nll = profile_nll(model, x, grid, weights=weights, max_iter=FIT_MAX_ITER)
    good = np.isfinite(nll)
    n_drop = int(np.count_nonzero(~good))
    if good.sum() < max(3, _MIN_GRID_FRACTION * grid.size):
        return None, CurveStatus(how, n_drop, "profile fits failed")
    curve = ProfileCurve(grid[good], nll[good], n_hat, min(nll_hat, float(np.min(nll[good]))))
    return curve, CurveStatus(how, n_drop, "")


def profile_curve(model: WindowModel, x, weights=None, n_points: int = 48) -> ProfileCurve | None:
    """Profile curve of one dataset of a fit window, tabulated by the batched fitter.

    The free fit gives n̂ and its error, :func:`profile_grid` the grid, and
    :func:`alpscan.fitting.toys.profile_nll` the profiled −ln L on it.  ``weights`` are
    event weights (e.g. Asimov bin contents).  Returns None if no usable curve could be
    built (see :func:`profile_curve_status` for the fallbacks and the reason).
    """
    return profile_curve_status(model, x, weights, n_points)[0]


def profile_theta(nll_of_yield: Callable[[np.ndarray], np.ndarray], s0, sigma_eff: float):
    """min_θ [nll_of_yield(s0·θ) + (θ − 1)²/(2 σ_ε²)] for each expected yield in ``s0``.

    Parameters
    ----------
    nll_of_yield : callable
        Maps an array of signal yields at θ (events) to −ln L (broadcasting).
    s0 : float or array_like
        Expected yields at θ = 1 (events), any shape.
    sigma_eff : float
        Relative efficiency uncertainty σ_ε (0 → no nuisance, θ = 1).

    Returns
    -------
    numpy.ndarray
        Profiled −ln L, shape of ``s0``.

    Notes
    -----
    θ is minimised on :data:`THETA_GRID` (step 0.002) and refined by a parabola through
    the best grid point and its neighbours; vectorised over ``s0``.
    """
    s0 = np.asarray(s0, dtype=float)
    if sigma_eff <= 0:
        return np.asarray(nll_of_yield(s0), dtype=float)
    th = THETA_GRID
    vals = np.asarray(nll_of_yield(s0[..., None] * th), dtype=float)
    return _parabolic_min(vals + (th - 1.0) ** 2 / (2.0 * sigma_eff**2))


def _limits_from_nll(nll_s, nll_a, s_hat, nll_hat, s_guess, cl) -> LimitResult:
    return asymptotic_limits(
        lambda s: float(nll_s(np.array(s))),
        lambda s: float(nll_a(np.array(s))),
        mu_hat=s_hat,
        nll_hat=nll_hat,
        cl=cl,
        mu_hi=s_guess,
    )


def yield_limits(
    observed: ProfileCurve,
    asimov: ProfileCurve,
    *,
    bias_events: float = 0.0,
    sigma_eff: float = 0.223,
    cl: float = 0.9,
) -> LimitResult:
    """CLs limits on the expected in-window signal yield s₀ = k·B (events at θ = 1).

    Parameters
    ----------
    observed : ProfileCurve
        Profile of the observed data (fitted yield).
    asimov : ProfileCurve
        Profile of the background-only Asimov data set.
    bias_events : float, optional
        Toy-MC bias of the fitted yield, ``bias·σ_Sig`` (events).
    sigma_eff : float, optional
        Relative efficiency uncertainty (Gaussian nuisance).
    cl : float, optional
        Confidence level.

    Returns
    -------
    LimitResult
        Limits in events; multiply by ``1/k`` for the branching fraction.
    """
    obs = observed.shifted(bias_events)

    def nll_s(s):
        return profile_theta(obs, s, sigma_eff)

    def nll_a(s):
        return profile_theta(asimov, s, sigma_eff)

    # Unconditional minimum: θ = 1 and s₀ = n̂ (the constraint term vanishes there).
    s_hat, nll_hat = obs.n_hat, obs.nll_hat
    width = max(float(np.sqrt(max(obs.n_sig[-1], 1.0))), 1.0)
    return _limits_from_nll(nll_s, nll_a, s_hat, nll_hat, max(s_hat, 0.0) + 2.0 * width, cl)


def combined_limits(
    observed: Sequence[ProfileCurve],
    asimov: Sequence[ProfileCurve],
    yields_of_poi: Sequence[Callable[[np.ndarray], np.ndarray]],
    *,
    bias_events: Sequence[float] | None = None,
    sigma_eff: float = 0.223,
    cl: float = 0.9,
    poi_guess: float = 1.0,
    poi_max: float | None = None,
) -> LimitResult:
    """CLs limits on a POI shared by several channels (e.g. g_aW over the four modes).

    Parameters
    ----------
    observed, asimov : sequences of ProfileCurve
        Per channel: profiles of the observed and background-only Asimov data.
    yields_of_poi : sequence of callables
        Per channel: POI (array) ↦ expected in-window signal yield at θ = 1 (events);
        must be 0 at POI = 0 and increasing.  Any POI dependence of the efficiency (e.g.
        through cτ(g_aW)) belongs here, so the limit is self-consistent.
    bias_events : sequence of float, optional
        Per-channel toy-MC bias of the fitted yield (events).
    sigma_eff : float, optional
        Common (fully correlated) relative efficiency uncertainty.
    cl : float, optional
        Confidence level.
    poi_guess : float, optional
        Scale of the POI for bracketing (e.g. the POI giving ~3 signal events).
    poi_max : float, optional
        Upper end of the search for the best-fit POI (default 100 × poi_guess).

    Returns
    -------
    LimitResult
        Limits on the POI.
    """
    if not (len(observed) == len(asimov) == len(yields_of_poi)) or not observed:
        raise ValueError("need the same non-zero number of observed, asimov and yield curves")
    biases = [0.0] * len(observed) if bias_events is None else list(bias_events)
    obs = [c.shifted(b) for c, b in zip(observed, biases)]

    def joint(curves):
        def nll_of_poi(poi):
            poi = np.asarray(poi, dtype=float)
            s0 = [np.asarray(f(poi), dtype=float) for f in yields_of_poi]
            if sigma_eff <= 0:
                return sum(c(s) for c, s in zip(curves, s0))
            th = THETA_GRID
            vals = sum(c(s[..., None] * th) for c, s in zip(curves, s0))
            return _parabolic_min(vals + (th - 1.0) ** 2 / (2.0 * sigma_eff**2))

        return nll_of_poi

    nll_obs, nll_asi = joint(obs), joint(asimov)
    hi = 100.0 * poi_guess if poi_max is None else float(poi_max)
    grid = np.concatenate([[0.0], np.geomspace(1e-4 * poi_guess, hi, 400)])
    vals = nll_obs(grid)
    j = int(np.argmin(vals))
    lo_b, hi_b = grid[max(j - 1, 0)], grid[min(j + 1, grid.size - 1)]
    if hi_b > lo_b:
        res = minimize_scalar(
            lambda p: float(nll_obs(np.array(p))),
            bounds=(lo_b, hi_b),
            method="bounded",
            options={"xatol": 1e-9 * hi},
        )
        better = res.fun <= vals[j]
        poi_hat = float(res.x) if better else float(grid[j])
        nll_hat = float(res.fun) if better else float(vals[j])
    else:
        poi_hat, nll_hat = float(grid[j]), float(vals[j])
    return _limits_from_nll(nll_obs, nll_asi, poi_hat, nll_hat, poi_guess, cl)


def _parabolic_min(vals: np.ndarray) -> np.ndarray:
    """Minimum over the last axis (θ grid) refined by a parabola through 3 points."""
    i = np.clip(np.argmin(vals, axis=-1), 1, vals.shape[-1] - 2)
    take = np.take_along_axis
    y0 = take(vals, (i - 1)[..., None], -1)[..., 0]
    y1 = take(vals, i[..., None], -1)[..., 0]
    y2 = take(vals, (i + 1)[..., None], -1)[..., 0]
    denom = y0 - 2.0 * y1 + y2
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(denom > 0, 0.5 * (y0 - y2) / denom, 0.0)
    d = np.clip(d, -1.0, 1.0)
    return y1 - 0.25 * (y0 - y2) * d
