"""Asymptotic CLs upper limits (CCGV q̃_μ) from profiled likelihoods, and the toy tail
fraction P(q ≥ q_obs).

Design notes: docs/limits.md.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
from scipy import optimize, special

__all__ = [
    "N_SIGMA",
    "LimitResult",
    "qmu_tilde",
    "cls_asymptotic",
    "expected_cls_band",
    "upper_limit",
    "asymptotic_cls_function",
    "asymptotic_limits",
    "tail_fraction",
]

#: Band labels, in the order in which expected limits are stored.
N_SIGMA = (-2, -1, 0, 1, 2)


# ---------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LimitResult:
    """Observed and expected upper limits on μ.

    Attributes
    ----------
    observed : float
        Observed upper limit on μ.
    expected : tuple of float
        Expected (background-only) limits for n_σ = −2, −1, 0, +1, +2 (:data:`N_SIGMA`).
    cl : float
        Confidence level (e.g. 0.9).
    """

    observed: float
    expected: tuple[float, float, float, float, float]
    cl: float = 0.9

    @property
    def median(self) -> float:
        """Median expected limit."""
        return self.expected[2]

    @property
    def m2(self) -> float:
        """Expected limit at −2σ."""
        return self.expected[0]

    @property
    def m1(self) -> float:
        """Expected limit at −1σ."""
        return self.expected[1]

    @property
    def p1(self) -> float:
        """Expected limit at +1σ."""
        return self.expected[3]

    @property
    def p2(self) -> float:
        """Expected limit at +2σ."""
        return self.expected[4]

    def scaled(self, factor: float) -> "LimitResult":
        """Limits multiplied by ``factor`` (e.g. μ → branching fraction)."""
        return replace(
            self,
            observed=self.observed * factor,
            expected=tuple(float(e * factor) for e in self.expected),
        )

    def as_dict(self, prefix: str = "ul") -> dict[str, float]:
        """Flat dict with the output-contract column names (spec §11).

        ``prefix="br_ul"`` gives ``br_ul_obs, br_ul_exp, br_ul_exp_m2, br_ul_exp_m1,
        br_ul_exp_p1, br_ul_exp_p2``.
        """
        return {
            f"{prefix}_obs": float(self.observed),
            f"{prefix}_exp": float(self.median),
            f"{prefix}_exp_m2": float(self.m2),
            f"{prefix}_exp_m1": float(self.m1),
            f"{prefix}_exp_p1": float(self.p1),
            f"{prefix}_exp_p2": float(self.p2),
        }


# ---------------------------------------------------------------------------------------
# Asymptotic formulae
# ---------------------------------------------------------------------------------------
def qmu_tilde(nll_mu, nll_hat, nll_zero, mu, mu_hat):
    """Test statistic q̃_μ of CCGV Eq. (16) from profiled NLL values.

    Parameters
    ----------
    nll_mu : array_like
        Profiled −ln L at the tested μ.
    nll_hat : array_like
        −ln L at the unconditional minimum (μ̂, θ̂); only used where 0 ≤ μ̂ ≤ μ.
    nll_zero : array_like
        Profiled −ln L at μ = 0; only used where μ̂ < 0.
    mu : array_like
        Tested signal strength (≥ 0).
    mu_hat : array_like
        Unconditional best-fit signal strength (may be negative).

    Returns
    -------
    numpy.ndarray
        q̃_μ ≥ 0 (small negative values from imperfect minimisation are clipped to 0).
    """
    nll_mu, nll_hat, nll_zero, mu, mu_hat = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (nll_mu, nll_hat, nll_zero, mu, mu_hat))
    )
    q = np.where(mu_hat < 0.0, 2.0 * (nll_mu - nll_zero), 2.0 * (nll_mu - nll_hat))
    q = np.where(mu_hat > mu, 0.0, q)
    return np.clip(q, 0.0, None)


def _cls_from_t(t, sqrt_qa):
    """CLs, CLs+b, CLb for the shifted statistic t (pyhf), computed in log space."""
    log_clsb = special.log_ndtr(-(t + sqrt_qa))
    log_clb = special.log_ndtr(-t)
    return np.exp(log_clsb - log_clb), np.exp(log_clsb), np.exp(log_clb)


def cls_asymptotic(q_obs, q_asimov):
    """Asymptotic CLs for q̃_μ (CCGV Eq. 66; identical to pyhf's ``AsymptoticCalculator``).

    With s = √q̃_obs and a = √q_A (q_A = q̃_μ of the background-only Asimov data set)::

        t = s − a                 if s ≤ a
            (q̃_obs − q_A)/(2a)    otherwise
        CLs+b = 1 − Φ(t + a),  CLb = 1 − Φ(t),  CLs = CLs+b / CLb.

    Parameters
    ----------
    q_obs : array_like
        Observed q̃_μ.
    q_asimov : array_like
        q̃_μ evaluated on the background-only Asimov data set.

    Returns
    -------
    tuple of numpy.ndarray
        (CLs, CLs+b, CLb).  Where q_A = 0 (μ = 0 or no sensitivity) CLs = 1.
    """
    q = np.clip(np.asarray(q_obs, dtype=float), 0.0, None)
    qa = np.clip(np.asarray(q_asimov, dtype=float), 0.0, None)
    q, qa = np.broadcast_arrays(q, qa)
    sq, sqa = np.sqrt(q), np.sqrt(qa)
    safe = np.where(sqa > 0.0, sqa, 1.0)
    t = np.where(sq <= sqa, sq - sqa, (q - qa) / (2.0 * safe))
    cls, clsb, clb = _cls_from_t(t, sqa)
    nosens = sqa <= 0.0
    cls = np.where(nosens, 1.0, cls)
    clsb = np.where(nosens, 0.5, clsb)
    clb = np.where(nosens, 0.5, clb)
    return cls, clsb, clb


def expected_cls_band(q_asimov, n_sigma=N_SIGMA, *, clipped: bool = False):
    """Expected CLs under the background-only hypothesis (pyhf's ``expected_pvalues``).

    Under μ = 0 the shifted statistic of :func:`cls_asymptotic` is t = −μ̂/σ ~ N(0, 1); band
    n_σ takes t = −n_σ, so that CLs_exp = Φ(n_σ − √q_A)/Φ(n_σ) (pyhf's default "normal"
    base distribution).  Solving CLs_exp = α for a Gaussian μ̂ reproduces CCGV Eq. (89) in
    CLs form: μ_up(n_σ) = σ [Φ⁻¹(1 − αΦ(n_σ)) + n_σ].

    Parameters
    ----------
    q_asimov : array_like
        q_A(μ) of the background-only Asimov data set.
    n_sigma : array_like, optional
        Band labels (default −2, −1, 0, 1, 2); +n is the weaker (upper) band.
    clipped : bool, optional
        Clip t at −√q_A (q̃ = 0, i.e. μ̂ = μ), pyhf's ``calc_base_dist="clipped_normal"``.
        This only changes CLs where n_σ > √q_A, i.e. far from CLs = α, so the limits are the
        same either way.

    Returns
    -------
    numpy.ndarray
        Expected CLs with shape ``np.shape(n_sigma) + np.shape(q_asimov)``.
    """
    qa = np.clip(np.asarray(q_asimov, dtype=float), 0.0, None)
    ns = np.asarray(n_sigma, dtype=float)
    sqa = np.sqrt(qa)
    t = -ns.reshape(ns.shape + (1,) * qa.ndim) + np.zeros_like(sqa)
    if clipped:
        t = np.maximum(t, -sqa)
    cls, _, _ = _cls_from_t(t, sqa)
    return np.where(sqa > 0.0, cls, 1.0)


def upper_limit(
    cls_of_mu: Callable[[float], float],
    *,
    cl: float = 0.9,
    mu_lo: float = 0.0,
    mu_hi: float = 1.0,
    rtol: float = 1e-8,
    max_doublings: int = 100,
) -> float:
    """μ at which ``cls_of_mu(μ) = 1 − cl`` (Brent's method after bracketing).

    Parameters
    ----------
    cls_of_mu : callable
        CLs as a function of a scalar μ; expected to fall from ≥ 1 − cl at ``mu_lo``.
    cl : float, optional
        Confidence level (0.9 → CLs = 0.10).
    mu_lo : float, optional
        Lower end of the search (default 0).  If CLs(mu_lo) ≤ 1 − cl, ``mu_lo`` is returned.
    mu_hi : float, optional
        Initial guess for the upper end; it is doubled until CLs(mu_hi) < 1 − cl.
    rtol : float, optional
        Relative tolerance on μ.
    max_doublings : int, optional
        Safety limit on the bracket expansion.

    Returns
    -------
    float
        The upper limit on μ;
        ``inf`` (with a :class:`RuntimeWarning`) if CLs never falls below 1 − cl, e.g. when
        the efficiency constraint lets the signal vanish (q_A saturates).
    """
    alpha = 1.0 - cl

    def f(mu: float) -> float:
        return float(cls_of_mu(mu)) - alpha

    f_lo = f(mu_lo)
    if f_lo <= 0.0:
        return float(mu_lo)
    lo, hi = mu_lo, max(mu_hi, mu_lo + 1e-12)
    for _ in range(max_doublings):
        f_hi = f(hi)
        if f_hi <= 0.0:
            break
        lo, hi = hi, mu_lo + 2.0 * (hi - mu_lo)
    else:
        warnings.warn(
            f"CLs never fell below {alpha:g} up to mu = {hi:.3g}: no sensitivity, limit = inf",
            RuntimeWarning,
            stacklevel=2,
        )
        return float("inf")
    if f_hi == 0.0:
        return float(hi)
    return float(optimize.brentq(f, lo, hi, rtol=rtol, xtol=1e-14 * max(abs(hi), 1.0)))


def asymptotic_cls_function(
    nll: Callable[[float], float],
    nll_asimov: Callable[[float], float],
    *,
    mu_hat: float,
    nll_hat: float,
):
    """Build CLs(μ) and expected-CLs(μ) closures from profiled NLL callables.

    Parameters
    ----------
    nll : callable
        Profiled −ln L of the observed data as a function of μ (the caller profiles the
        nuisance parameters).
    nll_asimov : callable
        Profiled −ln L of the background-only Asimov data set (generated with the nuisance
        parameters at their conditional μ = 0 fit to the observed data, CCGV Sec. 3.1).
        Its minimum is at μ = 0, so q_A(μ) = 2[nll_asimov(μ) − nll_asimov(0)].
    mu_hat, nll_hat : float
        Unconditional best fit and its −ln L (μ̂ may be negative).

    Returns
    -------
    (callable, callable)
        ``cls_obs(mu) -> (CLs, CLs+b, CLb)`` and ``cls_exp(mu) -> array of expected CLs for
        n_σ = −2..2``.
    """
    nll_zero = float(nll(0.0))
    nll_a0 = float(nll_asimov(0.0))

    def q_asimov(mu: float) -> float:
        return max(2.0 * (float(nll_asimov(mu)) - nll_a0), 0.0)

    def cls_obs(mu: float):
        q = qmu_tilde(float(nll(mu)), nll_hat, nll_zero, mu, mu_hat)
        return tuple(float(v) for v in cls_asymptotic(q, q_asimov(mu)))

    def cls_exp(mu: float) -> np.ndarray:
        return expected_cls_band(q_asimov(mu))

    return cls_obs, cls_exp


def _memoize(func: Callable[[float], float]) -> Callable[[float], float]:
    """Per-call cache of a scalar function of μ (local to one limit computation)."""
    cache: dict[float, float] = {}

    def wrapped(mu: float) -> float:
        key = float(mu)
        if key not in cache:
            cache[key] = float(func(key))
        return cache[key]

    return wrapped


def asymptotic_limits(
    nll: Callable[[float], float],
    nll_asimov: Callable[[float], float],
    *,
    mu_hat: float | None = None,
    nll_hat: float | None = None,
    cl: float = 0.9,
    mu_hi: float = 1.0,
    mu_max: float | None = None,
) -> LimitResult:
    """Observed and expected CLs upper limits on μ from profiled NLL callables (asymptotic).

    Parameters
    ----------
    nll : callable
        μ ↦ profiled −ln L of the observed data.
    nll_asimov : callable
        μ ↦ profiled −ln L of the background-only Asimov data set (see
        :func:`asymptotic_cls_function`).
    mu_hat, nll_hat : float, optional
        Unconditional best fit (may be negative) and its −ln L.  If omitted, ``nll`` is
        minimised over [0, mu_max] (bounded Brent).  This is exact for q̃_μ, which only
        needs NLL(max(μ̂, 0)) — but the caller's free fit is preferable when available.
    cl : float, optional
        Confidence level (default 0.9).
    mu_hi : float, optional
        Initial guess for the bracket of the limit (doubled as needed).
    mu_max : float, optional
        Upper end of the μ̂ search (default 1000 × mu_hi).

    Returns
    -------
    LimitResult
    """
    nll, nll_asimov = _memoize(nll), _memoize(nll_asimov)  # the 6 solves share bracket points
    if mu_hat is None:
        hi = 1e3 * mu_hi if mu_max is None else mu_max
        res = optimize.minimize_scalar(
            lambda m: float(nll(m)),
            bounds=(0.0, hi),
            method="bounded",
            options={"xatol": 1e-10 * hi},
        )
        mu_hat = float(res.x)
        nll_hat = min(float(res.fun), float(nll(0.0)))
    elif nll_hat is None:
        nll_hat = float(nll(max(mu_hat, 0.0)))
    cls_obs, cls_exp = asymptotic_cls_function(nll, nll_asimov, mu_hat=mu_hat, nll_hat=nll_hat)
    observed = upper_limit(lambda m: cls_obs(m)[0], cl=cl, mu_hi=mu_hi)
    expected = tuple(
        upper_limit(lambda m, i=i: cls_exp(m)[i], cl=cl, mu_hi=mu_hi) for i in range(len(N_SIGMA))
    )
    return LimitResult(observed=observed, expected=expected, cl=cl)


def tail_fraction(q_toys, q_ref) -> np.ndarray:
    """P(q ≥ q_ref) over toy values ``q_toys``, ties within a relative 10⁻⁹ counting as ≥.

    ``q_ref`` may be a scalar or an array; the result has one entry per reference value.
    """
    q_ref = np.atleast_1d(np.asarray(q_ref, dtype=float))
    tol = 1e-9 * np.maximum(1.0, np.abs(q_ref))
    return np.mean(np.asarray(q_toys)[None, :] >= (q_ref - tol)[:, None], axis=1)
