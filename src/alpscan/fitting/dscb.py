"""Double-sided Crystal Ball (DSCB) line shape on numba-stats: density, cdf, sampling and
the unbinned fit (masses and widths in GeV).

Design notes: docs/scan.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numba as nb
import numpy as np
from iminuit import Minuit
from iminuit.cost import UnbinnedNLL
from numba_stats import crystalball_ex as _cbx

__all__ = [
    "PARAM_NAMES",
    "ALPHA_LIMITS",
    "N_LIMITS",
    "DSCBParams",
    "DSCBFit",
    "as_dscb_params",
    "dscb_pdf",
    "dscb_logpdf",
    "dscb_cdf",
    "dscb_window_fraction",
    "dscb_sample",
    "dscb_start_values",
    "fit_dscb",
]

#: Parameter names, in the order used by every positional interface of this module.
PARAM_NAMES: tuple[str, ...] = ("mu", "sigma_l", "sigma_r", "alpha_l", "n_l", "alpha_r", "n_r")

#: Fit limits on the tail starts ``alpha_l``, ``alpha_r`` (in units of the core width).
ALPHA_LIMITS: tuple[float, float] = (0.3, 10.0)

#: Fit limits on the tail powers ``n_l``, ``n_r`` (must exceed 1 for normalisability).
N_LIMITS: tuple[float, float] = (1.01, 50.0)


# ---------------------------------------------------------------------------------------
# Parameter container
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DSCBParams:
    """Parameters of a double-sided Crystal Ball.

    Attributes
    ----------
    mu : float
        Mode of the distribution (GeV).
    sigma_l, sigma_r : float
        Gaussian core widths left and right of the mode (GeV, > 0).
    alpha_l, alpha_r : float
        Distance from the mode, in units of ``sigma_l`` / ``sigma_r``, where the
        power-law tail starts (dimensionless, > 0).
    n_l, n_r : float
        Power of the left / right power-law tail (dimensionless, > 1).
    """

    mu: float
    sigma_l: float
    sigma_r: float
    alpha_l: float
    n_l: float
    alpha_r: float
    n_r: float

    def as_tuple(self) -> tuple[float, ...]:
        """Parameters as a tuple in :data:`PARAM_NAMES` order."""
        return tuple(float(getattr(self, k)) for k in PARAM_NAMES)

    def to_dict(self) -> dict[str, float]:
        """Parameters as a ``{name: value}`` dictionary (GeV for ``mu`` and widths)."""
        return {k: float(getattr(self, k)) for k in PARAM_NAMES}

    def is_valid(self) -> bool:
        """True if all parameters are finite and inside their mathematical domain
        (``sigma > 0``, ``alpha > 0``, ``n > 1``)."""
        v = self.as_tuple()
        return bool(
            np.all(np.isfinite(v))
            and self.sigma_l > 0
            and self.sigma_r > 0
            and self.alpha_l > 0
            and self.alpha_r > 0
            and self.n_l > 1
            and self.n_r > 1
        )


def as_dscb_params(obj: Any) -> DSCBParams:
    """Coerce ``obj`` into :class:`DSCBParams`.

    Parameters
    ----------
    obj : DSCBParams, Mapping or sequence of 7 floats
        A :class:`DSCBParams`; a mapping with the keys of :data:`PARAM_NAMES` (extra
        keys are ignored); or a sequence in :data:`PARAM_NAMES` order.  Objects with a
        ``shape`` attribute (e.g. a peaking component) are unwrapped.

    Returns
    -------
    DSCBParams

    Raises
    ------
    TypeError, KeyError, ValueError
        If ``obj`` cannot be interpreted.
    """
    if isinstance(obj, DSCBParams):
        return obj
    if hasattr(obj, "shape") and isinstance(obj.shape, DSCBParams):
        return obj.shape
    if isinstance(obj, Mapping):
        return DSCBParams(**{k: float(obj[k]) for k in PARAM_NAMES})
    if isinstance(obj, Sequence | np.ndarray) and not isinstance(obj, str):
        vals = [float(v) for v in obj]
        if len(vals) != len(PARAM_NAMES):
            raise ValueError(f"expected {len(PARAM_NAMES)} DSCB parameters, got {len(vals)}")
        return DSCBParams(*vals)
    raise TypeError(f"cannot interpret {type(obj).__name__} as DSCB parameters")


def _shape_args(p: DSCBParams) -> tuple[float, ...]:
    """numba-stats argument order (beta_l, m_l, scale_l, beta_r, m_r, scale_r, loc)."""
    return (
        float(p.alpha_l),
        float(p.n_l),
        float(p.sigma_l),
        float(p.alpha_r),
        float(p.n_r),
        float(p.sigma_r),
        float(p.mu),
    )


def _args_from_values(mu, sigma_l, sigma_r, alpha_l, n_l, alpha_r, n_r) -> tuple[float, ...]:
    return (
        float(alpha_l),
        float(n_l),
        float(sigma_l),
        float(alpha_r),
        float(n_r),
        float(sigma_r),
        float(mu),
    )


def _check_domain(args: tuple[float, ...]) -> None:
    a_l, n_l, s_l, a_r, n_r, s_r, mu = args
    if not np.all(np.isfinite(args)):
        raise ValueError("DSCB parameters must be finite")
    if s_l <= 0 or s_r <= 0:
        raise ValueError("DSCB widths sigma_l, sigma_r must be > 0")
    if a_l <= 0 or a_r <= 0:
        raise ValueError("DSCB alpha_l, alpha_r must be > 0")
    if n_l <= 1 or n_r <= 1:
        raise ValueError("DSCB n_l, n_r must be > 1")


def _flat(x) -> tuple[np.ndarray, tuple[int, ...]]:
    a = np.asarray(x, dtype=np.float64)
    return np.ascontiguousarray(a.ravel()), a.shape


def _window_mass(args: tuple[float, ...], lo: float | None, hi: float | None) -> float:
    """Probability content of [lo, hi] (None = open end) for numba-stats args."""
    c_lo = 0.0 if lo is None else float(_cbx.cdf(np.array([float(lo)]), *args)[0])
    c_hi = 1.0 if hi is None else float(_cbx.cdf(np.array([float(hi)]), *args)[0])
    return c_hi - c_lo


# ---------------------------------------------------------------------------------------
# Density, cdf, sampling
# ---------------------------------------------------------------------------------------
def _shape_constants(args: tuple[float, ...]) -> np.ndarray:
    """Constants of :func:`_dscb_shape` from numba-stats arguments: ``mu, 1/sigma_l,
    1/sigma_r, alpha_l, alpha_r, n_l, n_r, c_l, b_l, c_r, b_r``; the tail is
    ``exp(c - n·ln(b + z))`` with numba-stats' power-law constants ``c = n ln(n/α) - α²/2``,
    ``b = n/α - α`` and ``z`` the distance from the mode in core widths."""
    al, nl, sl, ar, nr, sr, mu = args
    return np.array([mu, 1.0 / sl, 1.0 / sr, al, ar, nl, nr,
                     nl * np.log(nl / al) - 0.5 * al * al, nl / al - al,
                     nr * np.log(nr / ar) - 0.5 * ar * ar, nr / ar - ar])  # fmt: skip


@nb.njit(cache=True, error_model="numpy")
def _dscb_shape(x, c, scale, out):
    """``out = scale·shape(x)``, the DSCB shape with value 1 at the mode (the formula of
    numba-stats' crystalball_ex), ``c`` from :func:`_shape_constants`.  Branch-free
    (the core and the tail exponent are both computed, one exp): the density kernel of
    every window fit, fast for randomly ordered masses."""
    for i in range(x.size):
        left = x[i] < c[0]
        z = (c[0] - x[i]) * c[1] if left else (x[i] - c[0]) * c[2]
        alpha = c[3] if left else c[4]
        n = c[5] if left else c[6]
        cc = c[7] if left else c[9]
        b = c[8] if left else c[10]
        tail = cc - n * math.log(b + z)
        out[i] = scale * math.exp(-0.5 * z * z if z <= alpha else tail)


def dscb_pdf(
    x,
    mu: float,
    sigma_l: float,
    sigma_r: float,
    alpha_l: float,
    n_l: float,
    alpha_r: float,
    n_r: float,
    lo: float | None = None,
    hi: float | None = None,
) -> np.ndarray:
    """Probability density of the double-sided Crystal Ball.

    Parameters
    ----------
    x : array_like
        Points (GeV).
    mu : float
        Mode (GeV).
    sigma_l, sigma_r : float
        Left / right core widths (GeV, > 0).
    alpha_l, n_l, alpha_r, n_r : float
        Tail starts (in core widths, > 0) and tail powers (> 1).
    lo, hi : float or None, optional
        If given, the density is truncated to ``[lo, hi]`` (GeV) and renormalised to
        unit integral there (via the cdf); it is 0 outside.  ``None`` means an open
        end (normalised over the real line).

    Returns
    -------
    numpy.ndarray
        Density in GeV⁻¹, same shape as ``x``.

    Raises
    ------
    ValueError
        If a parameter is outside its domain or the window has zero probability.
    """
    args = _args_from_values(mu, sigma_l, sigma_r, alpha_l, n_l, alpha_r, n_r)
    _check_domain(args)
    xf, shape = _flat(x)
    scale = float(_cbx.pdf(np.array([float(mu)]), *args)[0])  # 1/∫ shape (shape = 1 at mu)
    if lo is not None or hi is not None:
        norm = _window_mass(args, lo, hi)
        if not norm > 0:
            raise ValueError("DSCB has zero probability in the requested window")
        scale /= norm
    f = np.empty_like(xf)
    _dscb_shape(xf, _shape_constants(args), scale, f)
    if lo is not None or hi is not None:
        outside = np.zeros(xf.shape, dtype=bool)
        if lo is not None:
            outside |= xf < lo
        if hi is not None:
            outside |= xf > hi
        f[outside] = 0.0
    return f.reshape(shape)


def dscb_logpdf(
    x,
    mu: float,
    sigma_l: float,
    sigma_r: float,
    alpha_l: float,
    n_l: float,
    alpha_r: float,
    n_r: float,
    lo: float | None = None,
    hi: float | None = None,
) -> np.ndarray:
    """Logarithm of :func:`dscb_pdf` (log GeV⁻¹); ``-inf`` outside ``[lo, hi]``.

    Parameters and exceptions as for :func:`dscb_pdf`.
    """
    args = _args_from_values(mu, sigma_l, sigma_r, alpha_l, n_l, alpha_r, n_r)
    _check_domain(args)
    xf, shape = _flat(x)
    lf = _cbx.logpdf(xf, *args)
    if lo is not None or hi is not None:
        norm = _window_mass(args, lo, hi)
        if not norm > 0:
            raise ValueError("DSCB has zero probability in the requested window")
        lf = lf - np.log(norm)
        outside = np.zeros(xf.shape, dtype=bool)
        if lo is not None:
            outside |= xf < lo
        if hi is not None:
            outside |= xf > hi
        lf[outside] = -np.inf
    return lf.reshape(shape)


def dscb_cdf(
    x,
    mu: float,
    sigma_l: float,
    sigma_r: float,
    alpha_l: float,
    n_l: float,
    alpha_r: float,
    n_r: float,
    lo: float | None = None,
    hi: float | None = None,
) -> np.ndarray:
    """Cumulative distribution function of the double-sided Crystal Ball.

    Parameters
    ----------
    x : array_like
        Points (GeV).
    mu, sigma_l, sigma_r, alpha_l, n_l, alpha_r, n_r : float
        Shape parameters, see :func:`dscb_pdf`.
    lo, hi : float or None, optional
        Truncation window (GeV); if given, the cdf of the truncated distribution is
        returned (0 below ``lo``, 1 above ``hi``).

    Returns
    -------
    numpy.ndarray
        Dimensionless probabilities in [0, 1], same shape as ``x``.
    """
    args = _args_from_values(mu, sigma_l, sigma_r, alpha_l, n_l, alpha_r, n_r)
    _check_domain(args)
    xf, shape = _flat(x)
    c = _cbx.cdf(xf, *args)
    if lo is not None or hi is not None:
        c_lo = 0.0 if lo is None else float(_cbx.cdf(np.array([float(lo)]), *args)[0])
        c_hi = 1.0 if hi is None else float(_cbx.cdf(np.array([float(hi)]), *args)[0])
        if not c_hi > c_lo:
            raise ValueError("DSCB has zero probability in the requested window")
        c = np.clip((c - c_lo) / (c_hi - c_lo), 0.0, 1.0)
    return c.reshape(shape)


def dscb_window_fraction(params, lo: float | None, hi: float | None) -> float:
    """Fraction of the (untruncated) DSCB probability inside ``[lo, hi]``.

    Parameters
    ----------
    params : DSCBParams, Mapping or sequence
        Shape, see :func:`as_dscb_params`.
    lo, hi : float or None
        Window edges (GeV); ``None`` is an open end.

    Returns
    -------
    float
        Dimensionless fraction in [0, 1].  Useful to convert a total expected yield
        into the in-window yield used by :func:`alpscan.fitting.window_fit.fit_window`.
    """
    p = as_dscb_params(params)
    args = _shape_args(p)
    _check_domain(args)
    return float(np.clip(_window_mass(args, lo, hi), 0.0, 1.0))


def dscb_sample(
    rng: np.random.Generator,
    size: int,
    params,
    lo: float | None = None,
    hi: float | None = None,
) -> np.ndarray:
    """Draw DSCB-distributed masses by inverse-cdf sampling (vectorised).

    Parameters
    ----------
    rng : numpy.random.Generator
        Random generator (the only source of randomness).
    size : int
        Number of values to draw.
    params : DSCBParams, Mapping or sequence
        Shape, see :func:`as_dscb_params`.
    lo, hi : float or None, optional
        Truncation window (GeV); values are drawn from the truncated distribution.

    Returns
    -------
    numpy.ndarray
        Array of shape ``(size,)`` in GeV.
    """
    p = as_dscb_params(params)
    args = _shape_args(p)
    _check_domain(args)
    size = int(size)
    if size < 0:
        raise ValueError("size must be >= 0")
    if size == 0:
        return np.empty(0)
    c_lo = 0.0 if lo is None else float(_cbx.cdf(np.array([float(lo)]), *args)[0])
    c_hi = 1.0 if hi is None else float(_cbx.cdf(np.array([float(hi)]), *args)[0])
    if not c_hi > c_lo:
        raise ValueError("DSCB has zero probability in the requested window")
    tiny = 1e-15
    u = rng.uniform(max(c_lo, tiny), min(c_hi, 1.0 - tiny), size)
    x = _cbx.ppf(u, *args)
    if lo is not None or hi is not None:
        x = np.clip(
            x,
            -np.inf if lo is None else float(lo),
            np.inf if hi is None else float(hi),
        )
    return x


# ---------------------------------------------------------------------------------------
# Fit
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DSCBFit:
    """Result of :func:`fit_dscb`.

    Attributes
    ----------
    values : dict[str, float]
        Best-fit parameters keyed by :data:`PARAM_NAMES` (GeV for ``mu`` and widths).
    errors : dict[str, float]
        Parabolic (Hesse) uncertainties; for weighted fits corrected with the
        sum-of-weights-squared sandwich (see :func:`fit_dscb`).
    covariance : numpy.ndarray
        7×7 covariance matrix in :data:`PARAM_NAMES` order (NaN if unavailable).
    valid : bool
        True only if Migrad converged (``FunctionMinimum.is_valid``), Hesse produced a
        covariance and all values/errors are finite.  A fit with ``valid=False`` must
        not be used.
    nll : float
        Minimum of the (weighted) negative log-likelihood ``-Σ w_i ln f(x_i)``.
    n_attempts : int
        Number of Migrad attempts (starting points / strategies) that were run.
    n_events : int
        Number of events used (inside ``[lo, hi]``).
    sum_weights : float
        Sum of the weights of the events used (``n_events`` if unweighted).
    weighted : bool
        Whether weights were used.
    lo, hi : float or None
        Fit window (GeV).
    edm : float
        Estimated distance to minimum of the accepted attempt.
    accurate_covariance : bool
        Whether Minuit reports the covariance as accurate.
    at_limit : tuple[str, ...]
        Parameters within 0.1 % of one of their limits at the minimum.  Typical for
        ``n`` or ``alpha`` when a tail is Gaussian-like and then not an error; if
        ``mu``, ``sigma_l`` or ``sigma_r`` is at a limit the fit is flagged invalid.
    message : str
        Short diagnostic.
    """

    values: dict[str, float]
    errors: dict[str, float]
    covariance: np.ndarray
    valid: bool
    nll: float
    n_attempts: int
    n_events: int
    sum_weights: float
    weighted: bool
    lo: float | None
    hi: float | None
    edm: float = float("nan")
    accurate_covariance: bool = False
    at_limit: tuple[str, ...] = field(default_factory=tuple)
    message: str = ""

    @property
    def params(self) -> DSCBParams:
        """Best-fit values as :class:`DSCBParams`."""
        return DSCBParams(**self.values)


def _weighted_quantiles(x: np.ndarray, w: np.ndarray | None, q) -> np.ndarray:
    """Quantiles ``q`` (in [0, 1]) of a (weighted) sample."""
    q = np.asarray(q, dtype=float)
    if w is None:
        return np.quantile(x, q)
    order = np.argsort(x)
    xs = x[order]
    ws = np.clip(w[order], 0.0, None)
    cw = np.cumsum(ws)
    if cw[-1] <= 0:
        return np.quantile(x, q)
    cw = (cw - 0.5 * ws) / cw[-1]
    return np.interp(q, cw, xs)


def dscb_start_values(
    m: np.ndarray,
    weights: np.ndarray | None = None,
    lo: float | None = None,
    hi: float | None = None,
) -> DSCBParams:
    """Data-driven starting values for a DSCB fit.

    The mode is the maximum of a lightly smoothed histogram of the central part of the
    sample; ``sigma_l`` / ``sigma_r`` are the half-width-at-half-maximum on each side
    divided by ``sqrt(2 ln 2)`` (falling back to the 15.9/50/84.1 % quantile spacing).
    Tails start at ``alpha = 1.5`` with ``n = 3``.

    Parameters
    ----------
    m : numpy.ndarray
        Masses (GeV), already restricted to the fit window.
    weights : numpy.ndarray or None, optional
        Event weights.
    lo, hi : float or None, optional
        Fit window (GeV), used to keep the mode inside.

    Returns
    -------
    DSCBParams
    """
    m = np.asarray(m, dtype=float)
    w = None if weights is None else np.asarray(weights, dtype=float)
    q02, q16, q50, q84, q98 = _weighted_quantiles(m, w, [0.02, 0.1587, 0.5, 0.8413, 0.98])
    s_l_q = max(q50 - q16, 1e-6)
    s_r_q = max(q84 - q50, 1e-6)
    width = 0.5 * (s_l_q + s_r_q)
    # Histogram of the central region, bin width ~ width/8.
    a, b = q02, q98
    nb = int(np.clip((b - a) / (width / 8.0), 20, 400))
    h, e = np.histogram(m, bins=nb, range=(a, b), weights=w)
    h = np.convolve(h, np.array([1.0, 2.0, 3.0, 2.0, 1.0]) / 9.0, mode="same")
    c = 0.5 * (e[1:] + e[:-1])
    imax = int(np.argmax(h))
    mode = float(c[imax])
    half = 0.5 * h[imax]
    k = 1.0 / np.sqrt(2.0 * np.log(2.0))
    left = np.nonzero(h[:imax] < half)[0]
    right = np.nonzero(h[imax:] < half)[0]
    s_l = k * (mode - c[left[-1]]) if left.size else s_l_q
    s_r = k * (c[imax + right[0]] - mode) if right.size else s_r_q
    # Guard against pathological histograms.
    s_l = float(np.clip(s_l, 0.2 * s_l_q, 3.0 * s_l_q))
    s_r = float(np.clip(s_r, 0.2 * s_r_q, 3.0 * s_r_q))
    if lo is not None:
        mode = max(mode, float(lo))
    if hi is not None:
        mode = min(mode, float(hi))
    return DSCBParams(mode, s_l, s_r, 1.5, 3.0, 1.5, 3.0)


def _weighted_cost(m: np.ndarray, w: np.ndarray, lo, hi):
    """Return f(*par) = -2 Σ w_i ln f(m_i; par) (errordef 1), the weighted NLL × 2."""

    def cost(mu, sigma_l, sigma_r, alpha_l, n_l, alpha_r, n_r):
        args = (alpha_l, n_l, sigma_l, alpha_r, n_r, sigma_r, mu)
        lf = _cbx.logpdf(m, *args)
        if lo is not None or hi is not None:
            lf = lf - np.log(max(_window_mass(args, lo, hi), 1e-300))
        return -2.0 * float(np.dot(w, lf))

    cost.errordef = Minuit.LEAST_SQUARES  # type: ignore[attr-defined]
    return cost


def _window_logpdf(lo, hi):
    """Model for UnbinnedNLL(log=True): log-density normalised over [lo, hi]."""

    def logpdf(x, mu, sigma_l, sigma_r, alpha_l, n_l, alpha_r, n_r):
        args = (alpha_l, n_l, sigma_l, alpha_r, n_r, sigma_r, mu)
        lf = _cbx.logpdf(x, *args)
        if lo is not None or hi is not None:
            lf = lf - np.log(max(_window_mass(args, lo, hi), 1e-300))
        return lf

    return logpdf


def _start_candidates(base: DSCBParams, m, w) -> list[DSCBParams]:
    """Ordered list of starting points: data-driven, then variations."""
    q16, q50, q84 = _weighted_quantiles(m, w, [0.1587, 0.5, 0.8413])
    s_l_q = max(q50 - q16, 1e-6)
    s_r_q = max(q84 - q50, 1e-6)
    b = base
    return [
        b,
        DSCBParams(b.mu, b.sigma_l, b.sigma_r, 1.0, 5.0, 1.0, 5.0),
        DSCBParams(float(q50), s_l_q, s_r_q, 2.0, 2.0, 2.0, 2.0),
        DSCBParams(b.mu, 0.8 * b.sigma_l, 0.8 * b.sigma_r, 0.8, 10.0, 2.5, 10.0),
        DSCBParams(b.mu, 1.2 * b.sigma_l, 1.2 * b.sigma_r, 2.5, 10.0, 0.8, 10.0),
    ]


def minuit_converged(mi) -> bool:
    """True if Migrad converged, Hesse gave a covariance and all values and errors are
    finite (shared acceptance test of every alpscan fit)."""
    return bool(
        mi.fmin.is_valid
        and mi.covariance is not None
        and not mi.fmin.hesse_failed
        and np.all(np.isfinite(mi.values))
        and np.all(np.isfinite(mi.errors))
    )


def migrad_attempts(attempts, make_minuit, accept=minuit_converged, ncall=None, hesse_strategy=None):
    """Run Migrad from one start after another until a minimum is accepted (the retry
    loop of every alpscan fit).

    Parameters
    ----------
    attempts : iterable
        Attempt descriptions (start values, strategy, ...), each passed to ``make_minuit``.
    make_minuit : callable
        ``attempt -> Minuit`` set up for the attempt (limits, steps, strategy,
        tolerance), or ``None`` to skip it (e.g. no feasible start); an exception
        skips it too.
    accept : callable, optional
        ``Minuit -> bool``: whether a minimum is accepted (default
        :func:`minuit_converged`).
    ncall : int or None, optional
        Call limit of each Migrad run (``None``: iminuit's default).
    hesse_strategy : int or None, optional
        Strategy set before Hesse runs on a valid minimum (``None``: keep the attempt's).

    Returns
    -------
    mi : Minuit or None
        The first accepted minimum, else the one with the lowest finite function value,
        ``None`` if every attempt was skipped or raised.
    accepted : bool
        Whether ``mi`` was accepted.
    n_attempts : int
        Attempts made (including skipped ones).
    """
    best = None  # (fval, minuit)
    n_att = 0
    for attempt in attempts:
        n_att += 1
        try:
            mi = make_minuit(attempt)
            if mi is None:
                continue
            mi.migrad(ncall=ncall)
            if mi.fmin.is_valid:
                if hesse_strategy is not None:
                    mi.strategy = hesse_strategy
                mi.hesse()
        except Exception:  # noqa: BLE001 - numerical failure in this attempt
            continue
        fval = float(mi.fval) if np.isfinite(mi.fval) else np.inf
        if best is None or fval < best[0]:
            best = (fval, mi)
        if accept(mi):
            return mi, True, n_att
    return (None if best is None else best[1]), False, n_att


def fit_dscb(
    m,
    weights=None,
    lo: float | None = None,
    hi: float | None = None,
    start=None,
    max_attempts: int = 6,
) -> DSCBFit:
    """Unbinned maximum-likelihood DSCB fit with iminuit.

    Unweighted data use :class:`iminuit.cost.UnbinnedNLL` with the (log-)density
    normalised over ``[lo, hi]``.  Weighted data minimise the weighted NLL
    ``-Σ w_i ln f(x_i)``; its Hesse covariance ``C_w`` is then corrected with the
    sandwich ("SumW2") formula ``V = C_w · C_{w²}⁻¹ · C_w`` where ``C_{w²}`` is the
    Hesse covariance of the same NLL with weights ``w²`` at the minimum (as RooFit's
    ``SumW2Error``); this reduces to the ordinary covariance for unit weights.

    Limits: ``mu`` within ten quantile widths of the median (and inside the window),
    ``sigma`` in ``(1e-3, 5)×`` the quantile-based width, ``alpha`` in
    :data:`ALPHA_LIMITS`, ``n`` in :data:`N_LIMITS`.  The first attempt starts from
    :func:`dscb_start_values` (or ``start``); if Migrad fails, further attempts use other
    tail starting values and Migrad strategy 2.  The first valid attempt is returned; if
    none is valid the lowest-NLL attempt is returned with ``valid=False``.  Hesse is run
    with strategy 2 for accurate errors.

    Parameters
    ----------
    m : array_like
        Masses (GeV).  Non-finite values and values outside ``[lo, hi]`` are dropped.
    weights : array_like or None, optional
        Per-event weights (same length as ``m``).
    lo, hi : float or None, optional
        Fit window (GeV); the model is normalised over it.  ``None`` = open end.
    start : DSCBParams, Mapping, sequence or None, optional
        Starting values for the first attempt (overrides the data-driven start).
    max_attempts : int, optional
        Maximum number of Migrad attempts.

    Returns
    -------
    DSCBFit
        Never raises on fit failure; check ``valid``.
    """
    m = np.asarray(m, dtype=np.float64).ravel()
    w = None if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if w is not None and w.shape != m.shape:
        raise ValueError("weights must have the same length as m")
    sel = np.isfinite(m)
    if lo is not None:
        sel &= m >= lo
    if hi is not None:
        sel &= m <= hi
    if w is not None:
        sel &= np.isfinite(w)
    m = np.ascontiguousarray(m[sel])
    w = None if w is None else np.ascontiguousarray(w[sel])
    n_ev = int(m.size)
    sumw = float(n_ev if w is None else w.sum())
    nan_vals = {k: float("nan") for k in PARAM_NAMES}
    nan_cov = np.full((7, 7), np.nan)

    def failed(msg: str, n_att: int = 0) -> DSCBFit:
        return DSCBFit(
            dict(nan_vals),
            dict(nan_vals),
            nan_cov,
            False,
            float("nan"),
            n_att,
            n_ev,
            sumw,
            w is not None,
            lo,
            hi,
            message=msg,
        )

    if n_ev < 10 or not sumw > 0:
        return failed(f"too few events ({n_ev}) or non-positive sum of weights")

    try:
        base = dscb_start_values(m, w, lo, hi)
    except Exception as exc:  # noqa: BLE001 - degenerate sample
        return failed(f"start values failed: {exc}")

    q16, q50, q84 = _weighted_quantiles(m, w, [0.1587, 0.5, 0.8413])
    if not q84 > q16:
        return failed("sample has no spread")
    wq = 0.5 * (q84 - q16)
    # The mode lies within a few widths of the median for any sensible peak.
    mu_lo = max(float(q50) - 10.0 * wq, -np.inf if lo is None else float(lo))
    mu_hi = min(float(q50) + 10.0 * wq, np.inf if hi is None else float(hi))
    limits = {
        "mu": (mu_lo, mu_hi),
        "sigma_l": (1e-3 * wq, 5.0 * wq),
        "sigma_r": (1e-3 * wq, 5.0 * wq),
        "alpha_l": ALPHA_LIMITS,
        "n_l": N_LIMITS,
        "alpha_r": ALPHA_LIMITS,
        "n_r": N_LIMITS,
    }

    candidates = _start_candidates(base, m, w)
    if start is not None:
        candidates.insert(0, as_dscb_params(start))

    if w is None:
        cost = UnbinnedNLL(m, _window_logpdf(lo, hi), log=True, name=list(PARAM_NAMES))
    else:
        cost = _weighted_cost(m, w, lo, hi)

    def clip_start(p: DSCBParams) -> list[float]:
        out = []
        for k, v in zip(PARAM_NAMES, p.as_tuple()):
            a, b = limits[k]
            span = b - a
            out.append(float(np.clip(v, a + 1e-3 * span, b - 1e-3 * span)))
        return out

    def make_minuit(attempt: tuple[DSCBParams, int]) -> Minuit:
        cand, strategy = attempt
        mi = Minuit(cost, *clip_start(cand), name=list(PARAM_NAMES))
        for k in PARAM_NAMES:
            mi.limits[k] = limits[k]
        mi.errors["mu"] = 0.1 * wq
        mi.errors["sigma_l"] = 0.1 * wq
        mi.errors["sigma_r"] = 0.1 * wq
        mi.strategy = strategy
        return mi

    # Every candidate with strategy 1 first, then the first two with strategy 2; an
    # accurate numerical Hessian (strategy 2) for the errors.
    attempts = [(c, 1) for c in candidates] + [(c, 2) for c in candidates[:2]]
    mi, valid, n_att = migrad_attempts(
        attempts[: max(1, int(max_attempts))], make_minuit, hesse_strategy=2
    )
    if mi is None:
        return failed("all Migrad attempts raised", n_att)

    cov = np.array(mi.covariance, dtype=float) if mi.covariance is not None else nan_cov
    if valid and w is not None:
        try:
            cost2 = _weighted_cost(m, w * w, lo, hi)
            m2 = Minuit(cost2, *mi.values, name=list(PARAM_NAMES))
            for k in PARAM_NAMES:
                m2.limits[k] = limits[k]
            # Step sizes from the weighted fit rescaled to w², accurate numerical Hessian.
            scale2 = np.sqrt(float(np.sum(w) / np.sum(w * w)))
            for k in PARAM_NAMES:
                m2.errors[k] = max(float(mi.errors[k]) * scale2, 1e-12)
            m2.strategy = 2
            m2.hesse()
            m2.hesse()
            c2 = np.array(m2.covariance, dtype=float)
            cov_corr = cov @ np.linalg.inv(c2) @ cov
            if not np.all(np.isfinite(cov_corr)) or np.any(np.diag(cov_corr) <= 0):
                raise FloatingPointError
            cov = cov_corr
        except Exception:  # noqa: BLE001 - fall back to the effective-sample scaling
            cov = cov * float(np.sum(w * w) / np.sum(w))
    errs = (
        np.sqrt(np.clip(np.diag(cov), 0.0, None))
        if np.all(np.isfinite(cov))
        else (np.full(7, np.nan))
    )
    vals = np.array(mi.values, dtype=float)
    at_limit = []
    for k, v in zip(PARAM_NAMES, vals):
        a, b = limits[k]
        if min(v - a, b - v) < 1e-3 * (b - a):
            at_limit.append(k)
    message = "ok"
    if valid and not np.all(np.isfinite(errs)):
        valid, message = False, "non-finite errors"
    core_at_limit = [k for k in ("mu", "sigma_l", "sigma_r") if k in at_limit]
    if valid and core_at_limit:
        valid, message = False, f"core parameter(s) at a limit: {', '.join(core_at_limit)}"
    if not valid and message == "ok":
        message = "no valid Migrad minimum after all attempts"
    return DSCBFit(
        values=dict(zip(PARAM_NAMES, vals.tolist())),
        errors=dict(zip(PARAM_NAMES, errs.tolist())),
        covariance=cov,
        valid=bool(valid),
        nll=0.5 * float(mi.fval),
        n_attempts=n_att,
        n_events=n_ev,
        sum_weights=sumw,
        weighted=w is not None,
        lo=lo,
        hi=hi,
        edm=float(mi.fmin.edm),
        accurate_covariance=bool(mi.fmin.has_accurate_covar),
        at_limit=tuple(at_limit),
        message=message,
    )
