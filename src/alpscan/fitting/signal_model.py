"""Signal model of the mass scan (spec §7): DSCB fits per grid mass, their smooth
interpolation in m_a, and the long-lived efficiency ratio versus cτ.

Design notes: docs/scan.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import pandas as pd
from iminuit import Minuit
from iminuit.cost import LeastSquares
from scipy.interpolate import make_smoothing_spline

from alpscan.fitting.dscb import PARAM_NAMES, DSCBParams, dscb_start_values, fit_dscb

__all__ = [
    "MODEL_PARAMS",
    "LL_PARAM_NAMES",
    "SignalModel",
    "fit_signal_grid",
    "interpolate_signal_model",
    "fit_longlived_ratio",
    "longlived_ratio",
]

#: Quantities provided by :meth:`SignalModel.params_at` (DSCB parameters + efficiency).
MODEL_PARAMS: tuple[str, ...] = (*PARAM_NAMES, "efficiency")

#: Parameter names of :func:`longlived_ratio`, in order: c0 (mm), p, q.
LL_PARAM_NAMES: tuple[str, str, str] = ("c0_mm", "p", "q")

_LOG_PARAMS = ("sigma_l", "sigma_r", "alpha_l", "alpha_r")
_LOGM1_PARAMS = ("n_l", "n_r")


# ---------------------------------------------------------------------------------------
# 1. DSCB fits on the mass grid
# ---------------------------------------------------------------------------------------
def _row_nan(m_a: float) -> dict:
    row = {"m_a": float(m_a)}
    for k in PARAM_NAMES:
        row[k] = np.nan
        row[f"{k}_err"] = np.nan
    return row


def fit_signal_grid(
    m_gg_by_mass: Mapping[float, np.ndarray],
    n_generated: Mapping[float, int],
    subdecay_factor: float = 1.0,
    window_sigmas: tuple[float, float] | float = (10.0, 10.0),
    weights_by_mass: Mapping[float, np.ndarray] | None = None,
    min_events: int = 50,
) -> pd.DataFrame:
    """Fit a DSCB to the selected prompt-signal M_γγ at every grid mass.

    For each grid mass a robust peak position and left/right widths are estimated from
    the sample (:func:`alpscan.fitting.dscb.dscb_start_values`: mode of a smoothed
    histogram, half widths at half maximum); :func:`fit_dscb` is then run, unbinned, in
    the window ``[mode − k_L·σ̂_L, mode + k_R·σ̂_R]`` (``(k_L, k_R) = window_sigmas``, lower
    edge at least 0) with the density normalised over that window.  If the fitted widths
    move the window edges by more than 20 % of its width, the window is recomputed from
    the fitted ``mu, sigma_l, sigma_r`` and the fit repeated once.

    Parameters
    ----------
    m_gg_by_mass : mapping float -> numpy.ndarray
        Selected candidates' M_γγ (GeV, after the kinematic fit) per generated ALP mass
        m_a (GeV).
    n_generated : mapping float -> int
        Number of generated events per grid mass (same keys).
    subdecay_factor : float, optional
        Product of the sub-decay branching fractions not simulated in the sample
        (e.g. K⁰ → K_S → π⁺π⁻), multiplied into the efficiency.
    window_sigmas : float or (float, float), optional
        Fit-window half widths left / right of the mode, in units of the estimated
        ``sigma_l`` / ``sigma_r``.
    weights_by_mass : mapping float -> numpy.ndarray or None, optional
        Per-event weights (same keys and lengths); ``None`` = unit weights.  Weights must
        be normalised so that the generated sample sums to ``n_generated`` (e.g. 1 per
        event, or 1/(1 − f) for events surviving a training split of fraction f).
    min_events : int, optional
        Minimum number of events in the fit window for the fit to be declared valid.

    Returns
    -------
    pandas.DataFrame
        One row per grid mass, sorted by ``m_a``, with columns

        * ``m_a`` (GeV);
        * ``mu, sigma_l, sigma_r`` (GeV), ``alpha_l, n_l, alpha_r, n_r`` and the
          Hesse (SumW2-corrected for weights) errors ``<name>_err``;
        * ``efficiency`` = Σw(selected) / n_generated × ``subdecay_factor`` (all
          selected candidates, not only those in the fit window) and its binomial
          error ``efficiency_err`` = √(Σw²·(1 − ε₀)) / n_generated × subdecay_factor
          with ε₀ the efficiency before the sub-decay factor;
        * ``n_generated``, ``n_selected`` (Σw of selected), ``n_window`` (events in the
          fit window), ``window_lo``, ``window_hi`` (GeV), ``nll``;
        * ``fit_valid`` (bool): the DSCB fit converged with finite errors, no core
          parameter at a limit, and ``n_window >= min_events``.  Rows with
          ``fit_valid=False`` must not be used (:func:`interpolate_signal_model` skips
          them);
        * ``message``: fit diagnostic.

    Raises
    ------
    KeyError
        If a grid mass has no ``n_generated`` entry.
    ValueError
        If ``n_generated`` is not positive or the weights do not match the masses.
    """
    if np.isscalar(window_sigmas):
        k_l = k_r = float(window_sigmas)  # type: ignore[arg-type]
    else:
        k_l, k_r = (float(v) for v in window_sigmas)  # type: ignore[union-attr]
    if not (k_l > 0 and k_r > 0):
        raise ValueError("window_sigmas must be positive")
    rows = []
    for m_a in sorted(m_gg_by_mass):
        n_gen = int(n_generated[m_a])
        if n_gen <= 0:
            raise ValueError(f"n_generated must be > 0 (m_a = {m_a})")
        x = np.asarray(m_gg_by_mass[m_a], dtype=float).ravel()
        if weights_by_mass is None:
            w = None
        else:
            w = np.asarray(weights_by_mass[m_a], dtype=float).ravel()
            if w.shape != x.shape:
                raise ValueError(f"weights and masses differ in length at m_a = {m_a}")
        good = np.isfinite(x) if w is None else np.isfinite(x) & np.isfinite(w)
        x = x[good]
        w = None if w is None else w[good]
        sumw = float(x.size if w is None else w.sum())
        sumw2 = float(x.size if w is None else np.sum(w * w))
        eff0 = sumw / n_gen
        row = _row_nan(m_a)
        row.update(
            efficiency=eff0 * float(subdecay_factor),
            efficiency_err=np.sqrt(max(sumw2 * (1.0 - min(eff0, 1.0)), 0.0))
            / n_gen
            * float(subdecay_factor),
            n_generated=n_gen,
            n_selected=sumw,
            n_window=0,
            window_lo=np.nan,
            window_hi=np.nan,
            nll=np.nan,
            fit_valid=False,
            message="",
        )
        if x.size < max(int(min_events), 10):
            row["message"] = f"too few selected events ({x.size})"
            rows.append(row)
            continue
        try:
            est = dscb_start_values(x, w)
        except Exception as exc:  # noqa: BLE001 - degenerate sample
            row["message"] = f"width estimate failed: {exc}"
            rows.append(row)
            continue
        lo = max(est.mu - k_l * est.sigma_l, 0.0)
        hi = est.mu + k_r * est.sigma_r
        fit = fit_dscb(x, w, lo=lo, hi=hi, start=est)
        if fit.valid:
            p = fit.params
            lo2 = max(p.mu - k_l * p.sigma_l, 0.0)
            hi2 = p.mu + k_r * p.sigma_r
            if max(abs(lo2 - lo), abs(hi2 - hi)) > 0.2 * (hi - lo):
                refit = fit_dscb(x, w, lo=lo2, hi=hi2, start=p)
                if refit.valid:
                    fit, lo, hi = refit, lo2, hi2
        row.update({k: fit.values[k] for k in PARAM_NAMES})
        row.update({f"{k}_err": fit.errors[k] for k in PARAM_NAMES})
        row.update(
            n_window=int(fit.n_events),
            window_lo=float(lo),
            window_hi=float(hi),
            nll=float(fit.nll),
            message=fit.message,
        )
        valid = bool(fit.valid) and fit.n_events >= int(min_events)
        if fit.valid and not valid:
            row["message"] = f"too few events in window ({fit.n_events})"
        row["fit_valid"] = valid
        rows.append(row)
    cols = [
        "m_a",
        *PARAM_NAMES,
        *(f"{k}_err" for k in PARAM_NAMES),
        "efficiency",
        "efficiency_err",
        "n_generated",
        "n_selected",
        "n_window",
        "window_lo",
        "window_hi",
        "nll",
        "fit_valid",
        "message",
    ]
    return pd.DataFrame(rows, columns=cols).reset_index(drop=True)


# ---------------------------------------------------------------------------------------
# 2. Interpolation in m_a
# ---------------------------------------------------------------------------------------
def _transform(name: str, m_a: np.ndarray, val: np.ndarray, err: np.ndarray):
    """Map a parameter (and its error) to the interpolated variable."""
    if name == "mu":
        return val - m_a, err
    if name in _LOG_PARAMS:
        return np.log(val), err / val
    if name in _LOGM1_PARAMS:
        return np.log(val - 1.0), err / (val - 1.0)
    return val, err


def _inverse(name: str, m: np.ndarray, y: np.ndarray) -> np.ndarray:
    if name == "mu":
        return m + y
    if name in _LOG_PARAMS:
        return np.exp(y)
    if name in _LOGM1_PARAMS:
        return 1.0 + np.exp(y)
    if name == "efficiency":
        return np.clip(y, 0.0, None)
    return y


def _poly_curve(x: np.ndarray, y: np.ndarray, w: np.ndarray, deg: int) -> Callable:
    """Weighted least-squares polynomial (numpy.polynomial, domain-scaled)."""
    deg = int(min(deg, x.size - 1))
    poly = np.polynomial.Polynomial.fit(x, y, deg, w=np.sqrt(w))
    return poly


def _smooth_curve(x: np.ndarray, y: np.ndarray, err: np.ndarray, smoothing) -> Callable:
    """Smooth curve through (x, y ± err); see docs/scan.md."""
    good = np.isfinite(x) & np.isfinite(y) & np.isfinite(err) & (err > 0)
    x, y, err = x[good], y[good], err[good]
    if x.size == 0:
        raise ValueError("no valid rows to interpolate")
    if x.size == 1:
        c = float(y[0])
        return lambda m: np.full(np.shape(m), c)
    floor = 0.25 * float(np.median(err))
    w = 1.0 / np.maximum(err, floor) ** 2
    w = w / np.mean(w)  # only relative weights matter for GCV; keeps λ scale-free in w
    if isinstance(smoothing, str) and smoothing.startswith("poly:"):
        return _poly_curve(x, y, w, int(smoothing.split(":", 1)[1]))
    if x.size < 5:
        return _poly_curve(x, y, w, min(2, x.size - 1))
    if isinstance(smoothing, str):
        if smoothing != "gcv":
            raise ValueError(f"unknown smoothing {smoothing!r}")
        lam = None
    else:
        lam = float(smoothing)
    return make_smoothing_spline(x, y, w=w, lam=lam)


@dataclass(frozen=True, eq=False)
class SignalModel:
    """Signal line shape and efficiency as smooth functions of the ALP mass.

    Build with :func:`interpolate_signal_model`.

    Attributes
    ----------
    table : pandas.DataFrame
        The valid rows of the grid table the model was built from.
    m_min, m_max : float
        Range of valid grid masses (GeV); outside it the model is held at the edge
        values (``mu`` follows ``m_a`` with the edge peak shift).
    smoothing : str or float
        Interpolation setting used (see docs/scan.md).
    curves : Mapping[str, Callable]
        Interpolated (transformed) variable per name of :data:`MODEL_PARAMS`.
    """

    table: pd.DataFrame
    m_min: float
    m_max: float
    smoothing: str | float
    curves: Mapping[str, Callable] = field(repr=False)

    def params_at(self, m) -> dict[str, np.ndarray | float]:
        """DSCB parameters and efficiency at ALP mass(es) ``m``.

        Parameters
        ----------
        m : float or array_like
            ALP mass hypothesis m_a (GeV).

        Returns
        -------
        dict[str, numpy.ndarray or float]
            ``mu, sigma_l, sigma_r`` (GeV), ``alpha_l, n_l, alpha_r, n_r`` and
            ``efficiency`` (dimensionless, total selection efficiency including the
            sub-decay factor), each with the shape of ``m`` (a float for scalar ``m``).
        """
        m_arr = np.asarray(m, dtype=float)
        mc = np.clip(m_arr, self.m_min, self.m_max)
        out = {}
        for k in MODEL_PARAMS:
            y = np.asarray(self.curves[k](mc.ravel()), dtype=float).reshape(m_arr.shape)
            base = m_arr if k == "mu" else mc
            out[k] = _inverse(k, base, y)
        if m_arr.ndim == 0:
            return {k: float(v) for k, v in out.items()}
        return out

    def shape_at(self, m: float) -> DSCBParams:
        """DSCB shape at one mass ``m`` (GeV) as :class:`DSCBParams`."""
        p = self.params_at(float(m))
        return DSCBParams(**{k: p[k] for k in PARAM_NAMES})

    def sigma_r(self, m) -> np.ndarray | float:
        """Right-side core width σ_R(m) (GeV), the scan step."""
        return self.params_at(m)["sigma_r"]

    def to_frame(self, m_grid) -> pd.DataFrame:
        """Model evaluated on ``m_grid`` (GeV): one row per mass, columns ``m_a`` and
        :data:`MODEL_PARAMS` (for plots and checks)."""
        m_grid = np.atleast_1d(np.asarray(m_grid, dtype=float))
        p = self.params_at(m_grid)
        return pd.DataFrame({"m_a": m_grid, **{k: p[k] for k in MODEL_PARAMS}})


def interpolate_signal_model(table: pd.DataFrame, smoothing: str | float = "gcv") -> SignalModel:
    """Build a :class:`SignalModel` from the output of :func:`fit_signal_grid`.

    Parameters
    ----------
    table : pandas.DataFrame
        Must contain ``m_a``, the DSCB parameters, their ``<name>_err``,
        ``efficiency``, ``efficiency_err`` and ``fit_valid``.  Only rows with
        ``fit_valid`` true (and finite values) are used.
    smoothing : {"gcv", "poly:<k>"} or float, optional
        ``"gcv"``: cubic smoothing spline with λ from generalised cross-validation
        (default); a float: smoothing spline with that λ (for the error-weighted
        residuals, weights normalised to mean 1, m_a in GeV); ``"poly:<k>"``: weighted
        polynomial of degree k.  Fewer than five valid rows always use a polynomial of
        degree ≤ 2.

    Returns
    -------
    SignalModel

    Raises
    ------
    ValueError
        If no row is valid.
    """
    t = table[table["fit_valid"].astype(bool)].sort_values("m_a").reset_index(drop=True)
    finite = np.ones(len(t), dtype=bool)
    for k in MODEL_PARAMS:
        finite &= np.isfinite(t[k].to_numpy(dtype=float))
    t = t[finite].reset_index(drop=True)
    if len(t) == 0:
        raise ValueError("no valid grid mass to build the signal model from")
    m_a = t["m_a"].to_numpy(dtype=float)
    curves = {}
    for k in MODEL_PARAMS:
        y, e = _transform(k, m_a, t[k].to_numpy(dtype=float), t[f"{k}_err"].to_numpy(dtype=float))
        if k == "efficiency" and not np.any(e > 0):
            e = np.full_like(y, max(float(np.mean(np.abs(y))) * 1e-3, 1e-12))
        curves[k] = _smooth_curve(m_a, y, e, smoothing)
    return SignalModel(
        table=t,
        m_min=float(m_a.min()),
        m_max=float(m_a.max()),
        smoothing=smoothing,
        curves=MappingProxyType(curves),
    )


# ---------------------------------------------------------------------------------------
# 3. Long-lived efficiency ratio
# ---------------------------------------------------------------------------------------
def _as_ll_params(params) -> tuple[float, float, float]:
    if isinstance(params, Mapping):
        return tuple(float(params[k]) for k in LL_PARAM_NAMES)  # type: ignore[return-value]
    c0, p, q = (float(v) for v in params)
    return c0, p, q


def longlived_ratio(ctau, params) -> np.ndarray | float:
    """Long-lived to prompt efficiency ratio r(cτ) = [1 + (cτ/c₀)^p]^(−q).

    Parameters
    ----------
    ctau : float or array_like
        Proper decay length cτ (mm, ≥ 0).
    params : sequence (c0, p, q) or mapping with keys :data:`LL_PARAM_NAMES`
        ``c0`` in mm (> 0), ``p`` and ``q`` dimensionless (> 0).

    Returns
    -------
    numpy.ndarray or float
        Ratio in (0, 1], same shape as ``ctau``; 1 at cτ = 0, decreasing in cτ.

    Raises
    ------
    ValueError
        If a parameter is not positive.
    """
    c0, p, q = _as_ll_params(params)
    if not (c0 > 0 and p > 0 and q > 0):
        raise ValueError("long-lived ratio parameters must be positive")
    x = np.clip(np.asarray(ctau, dtype=float), 0.0, None) / c0
    # log1p for accuracy at small cτ; exp(p ln x) = x^p (x = 0 -> 0).
    with np.errstate(divide="ignore"):
        r = np.exp(-q * np.log1p(np.exp(p * np.log(x))))
    return float(r) if np.ndim(r) == 0 else r


def fit_longlived_ratio(
    ctau_mm, ratio, ratio_err, start=None
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Least-squares fit of :func:`longlived_ratio` to measured ratios at one mass.

    Minimises ``Σ ((r_i − r(cτ_i))/σ_i)²`` with :class:`iminuit.cost.LeastSquares`,
    parameters limited to ``c0 ∈ [1e-3, 1e7] mm``, ``p ∈ [0.05, 20]``,
    ``q ∈ [0.01, 50]`` (positivity makes the curve ≤ 1 and decreasing).  Several
    starting points are tried; the lowest-χ² valid minimum is kept.

    Parameters
    ----------
    ctau_mm : array_like
        cτ of the long-lived samples (mm).
    ratio, ratio_err : array_like
        ε_LL/ε_prompt and its uncertainty (binomial, from selected counts); points with
        non-finite values or non-positive errors are ignored.
    start : sequence (c0, p, q) or None, optional
        Extra starting point, tried first.

    Returns
    -------
    params : numpy.ndarray
        ``(c0 [mm], p, q)``; NaN if no fit was possible.
    cov : numpy.ndarray
        3×3 Hesse covariance (NaN if unavailable).
    fit_ok : bool
        True if Migrad converged with an accurate covariance, there are at least three
        usable points and no parameter is at a limit.  Never use a fit with
        ``fit_ok=False`` silently.
    """
    x = np.asarray(ctau_mm, dtype=float).ravel()
    y = np.asarray(ratio, dtype=float).ravel()
    e = np.asarray(ratio_err, dtype=float).ravel()
    if not (x.shape == y.shape == e.shape):
        raise ValueError("ctau_mm, ratio and ratio_err must have the same length")
    good = np.isfinite(x) & np.isfinite(y) & np.isfinite(e) & (e > 0) & (x >= 0)
    x, y, e = x[good], y[good], e[good]
    nan_p, nan_c = np.full(3, np.nan), np.full((3, 3), np.nan)
    if x.size < 3:
        return nan_p, nan_c, False

    def model(c, c0_mm, p, q):
        return longlived_ratio(c, (c0_mm, p, q))

    cost = LeastSquares(x, y, e, model)
    limits = {"c0_mm": (1e-3, 1e7), "p": (0.05, 20.0), "q": (0.01, 50.0)}
    # Data-driven c0: the cτ where the ratio crosses ~1/2 (log-interpolated).
    order = np.argsort(x)
    xs, ys = x[order], y[order]
    below = np.nonzero(ys < 0.5)[0]
    if below.size and below[0] > 0:
        i = below[0]
        c_half = float(np.exp(0.5 * (np.log(max(xs[i - 1], 1e-3)) + np.log(max(xs[i], 1e-3)))))
    elif below.size:
        c_half = float(max(xs[0], 1e-2)) * 0.5
    else:
        c_half = float(max(xs[-1], 1e-2)) * 2.0
    starts = [(c_half, 1.0, 1.0), (c_half, 2.0, 0.5), (c_half, 0.7, 2.0), (3 * c_half, 1.5, 1.5)]
    if start is not None:
        starts.insert(0, _as_ll_params(start))
    best = None
    for s in starts:
        try:
            mi = Minuit(cost, *s)
            for k, lim in limits.items():
                mi.limits[k] = lim
            mi.errors["c0_mm"] = 0.1 * s[0]
            mi.migrad()
            if mi.fmin.is_valid:
                mi.hesse()
        except Exception:  # noqa: BLE001 - numerical failure of one attempt
            continue
        ok = bool(
            mi.fmin.is_valid
            and mi.covariance is not None
            and not mi.fmin.hesse_failed
            and np.all(np.isfinite(mi.values))
        )
        if best is None or (ok and not best[1]) or (ok == best[1] and mi.fval < best[0].fval):
            best = (mi, ok)
    if best is None:
        return nan_p, nan_c, False
    mi, ok = best
    vals = np.array(mi.values, dtype=float)
    cov = np.array(mi.covariance, dtype=float) if mi.covariance is not None else nan_c
    for k, v in zip(LL_PARAM_NAMES, vals):
        a, b = limits[k]
        if min(np.log(v / a), np.log(b / v)) < 1e-3:
            ok = False
    if not np.all(np.isfinite(cov)):
        ok = False
    return vals, cov, bool(ok)
