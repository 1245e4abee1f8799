"""Counting-experiment CLs oracles for the tests: exact profiling, toys and exact Poisson.

Moved out of the library (``alpscan.stats.cls``) because only tests use them: they check
the asymptotic formulae and the toy machinery against cases with known answers.

* :class:`CountingModel` — one-bin counting experiment with efficiency and background
  nuisance parameters, profiled exactly; :func:`cls_toys` / :func:`upper_limit_toys` give
  toy-based CLs for any model with ``qmu_tilde`` and ``sample``.
* :func:`counting_cls_exact` / :func:`counting_upper_limit_exact` — exact Poisson CLs
  without uncertainties (Read 2002).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np
from scipy import special, stats

from alpscan.stats.cls import N_SIGMA, LimitResult, asymptotic_limits, tail_fraction, upper_limit


# ---------------------------------------------------------------------------------------
# Counting model with exact profiling
# ---------------------------------------------------------------------------------------
def _poisson_nll(n, nu):
    """ν − n + n ln(n/ν): Poisson −ln L offset so that it is 0 at ν = n (n may be real)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return nu - n + special.xlogy(n, n) - special.xlogy(n, nu)


def _quadratic_root(nu0, var, n):
    """Positive root of ν² − (ν₀ − V) ν − V n = 0 (cancellation-free)."""
    a = nu0 - var
    disc = np.sqrt(a * a + 4.0 * var * n)
    with np.errstate(divide="ignore", invalid="ignore"):
        small = np.where(disc - a > 0.0, 2.0 * var * n / (disc - a), 0.0)
    return np.where(a >= 0.0, 0.5 * (a + disc), small)


def _profile_linear_gauss(n, coefs, globs, sig2s, offset):
    """Minimise ν − n ln ν + Σ(θᵢ − gᵢ)²/(2σᵢ²), ν = Σ cᵢθᵢ + offset, θᵢ ≥ 0, exactly.

    Stationarity gives θᵢ = gᵢ − σᵢ² cᵢ r with r = 1 − n/ν, hence ν solves
    ν² − (ν₀ − V)ν − Vn = 0 with ν₀ = Σcᵢgᵢ + offset, V = Σσᵢ²cᵢ².  The problem is convex,
    so the bounds θᵢ ≥ 0 are handled by evaluating every active set (each subset of
    parameters pinned at 0) and keeping the feasible candidate with the lowest NLL.
    Parameters with σᵢ = 0 are fixed at gᵢ.

    Returns
    -------
    (list of numpy.ndarray, numpy.ndarray, numpy.ndarray)
        Profiled θᵢ, ν and the NLL (Poisson part + constraints).
    """
    k = len(coefs)
    shape = np.broadcast_shapes(
        np.shape(n), np.shape(offset), *(np.shape(c) for c in coefs), *(np.shape(g) for g in globs)
    )
    best_nll = np.full(shape, np.inf)
    best_theta = [np.broadcast_to(np.asarray(g, dtype=float), shape).copy() for g in globs]
    best_nu = np.zeros(shape)
    for mask in range(1 << k):
        pinned = [(mask >> i) & 1 == 1 for i in range(k)]
        if any(p and s2 == 0.0 for p, s2 in zip(pinned, sig2s)):
            continue
        nu0 = np.asarray(offset, dtype=float) + sum(
            (0.0 if p else c * g) for p, c, g in zip(pinned, coefs, globs)
        )
        var = sum((0.0 if p else s2 * c * c) for p, c, s2 in zip(pinned, coefs, sig2s))
        nu_root = _quadratic_root(nu0 + np.zeros(shape), var + np.zeros(shape), n + np.zeros(shape))
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(n > 0, 1.0 - n / nu_root, 1.0)
        thetas = []
        feasible = np.isfinite(r)
        for p, c, g, s2 in zip(pinned, coefs, globs, sig2s):
            th = np.zeros(shape) if p else g - s2 * c * np.where(feasible, r, 0.0)
            if not p:
                feasible &= th >= -1e-12 * np.maximum(np.abs(g), 1.0)
                th = np.clip(th, 0.0, None)
            thetas.append(np.broadcast_to(th, shape))
        nu = offset + sum(c * th for c, th in zip(coefs, thetas))
        nu = np.broadcast_to(nu, shape)
        feasible &= (nu > 0) | (n == 0)
        nll = _poisson_nll(n, nu)
        for th, g, s2 in zip(thetas, globs, sig2s):
            if s2 > 0.0:
                nll = nll + (th - g) ** 2 / (2.0 * s2)
        nll = np.where(feasible, nll, np.inf)
        better = nll < best_nll
        best_nll = np.where(better, nll, best_nll)
        best_nu = np.where(better, nu, best_nu)
        best_theta = [np.where(better, th, bt) for th, bt in zip(thetas, best_theta)]
    return best_theta, best_nu, best_nll


def _poisson_inverse_cdf(u, nu: float):
    """Smallest k with P(N ≤ k | ν) ≥ u, for uniforms ``u`` (monotone in ν for fixed u)."""
    u = np.asarray(u, dtype=float)
    if nu <= 0.0:
        return np.zeros(u.shape)
    k_max = int(np.ceil(nu + 12.0 * np.sqrt(nu) + 30.0))
    cdf = stats.poisson.cdf(np.arange(k_max + 1), nu)
    cdf[-1] = 1.0
    return np.searchsorted(cdf, u, side="left").astype(float)


@dataclass(frozen=True, eq=False)
class CountingModel:
    """Single-bin counting experiment with efficiency and background nuisance parameters.

    Expected count ``ν(μ, θ_ε, θ_b) = μ · s · θ_ε + b · θ_b`` with

    * θ_ε: relative signal efficiency, Gaussian constraint N(g_ε | θ_ε, σ_ε), θ_ε ≥ 0
      (the analysis applies its 22.3 % efficiency systematic this way);
    * θ_b: relative background normalisation, either Gaussian N(g_b | θ_b, σ_b), θ_b ≥ 0, or
      log-normal: ln g_b ~ N(ln θ_b, κ) with κ = ln(1 + σ_b).

    Profiling is exact: closed form for Gaussian constraints (a quadratic equation, see
    :func:`_profile_linear_gauss`), closed form in θ_ε plus a 1-D bisection of the
    stationarity condition in ln θ_b (to machine precision) for the log-normal case.
    All data fields may be arrays (e.g. many toys); methods broadcast over them and μ.

    Notes
    -----
    * A Gaussian efficiency constraint lets θ_ε reach 0 at a finite price 1/(2σ_ε²) in
      −ln L, so q_A(μ) saturates at ≈ 1/σ_ε² for large μ s: with σ_ε = 0.223 this caps
      √q_A at 4.5 and visibly widens the +2σ band; for σ_ε ≳ 0.3 and little background the
      +2σ band can become infinite (:func:`upper_limit` then returns ``inf``).
    * Toys randomise the global observables, so even with b = 0 the b-only q̃ distribution
      is continuous when σ_ε > 0 (CLb < 1 for n = 0); the toy limit for n = 0, b = 0,
      σ_ε = 0.223 is ≈ 2.0 events rather than 2.30 — a property of the unconditional
      ensemble, not of the asymptotic formulae (which need b ≫ 1 anyway).

    Parameters
    ----------
    n : array_like
        Observed count(s); real values are allowed (Asimov data).
    b : float
        Nominal background expectation (events).
    s : float
        Signal expectation for μ = 1 at nominal efficiency (events per unit μ).
    sigma_b : float, optional
        Relative background uncertainty (0 = known background).
    sigma_eff : float, optional
        Relative efficiency uncertainty (0 = known efficiency).
    b_constraint : {"gauss", "lognormal"}, optional
        Background constraint type.
    glob_eff, glob_b : array_like, optional
        Global observables of the constraints (nominal 1; randomised in toys).
    """

    n: np.ndarray | float
    b: float
    s: float
    sigma_b: float = 0.0
    sigma_eff: float = 0.0
    b_constraint: str = "gauss"
    glob_eff: np.ndarray | float = 1.0
    glob_b: np.ndarray | float = 1.0
    _bisect_iter: int = field(default=200, repr=False)

    def __post_init__(self):
        if self.b_constraint not in ("gauss", "lognormal"):
            raise ValueError(
                f"b_constraint must be 'gauss' or 'lognormal', not {self.b_constraint!r}"
            )
        if self.sigma_b < 0 or self.sigma_eff < 0 or self.b < 0 or self.s < 0:
            raise ValueError("b, s, sigma_b and sigma_eff must be non-negative")

    # -- likelihood ----------------------------------------------------------------------
    @property
    def _kappa(self) -> float:
        return float(np.log1p(self.sigma_b))

    def expected(self, mu, theta_eff=1.0, theta_b=1.0):
        """Expected count ν = μ s θ_ε + b θ_b (events)."""
        return np.asarray(mu) * self.s * np.asarray(theta_eff) + self.b * np.asarray(theta_b)

    def nll_full(self, mu, theta_eff, theta_b):
        """Unprofiled −ln L (Poisson offset to 0 at ν = n, plus constraint terms)."""
        n = np.asarray(self.n, dtype=float)
        theta_eff = np.asarray(theta_eff, dtype=float)
        theta_b = np.asarray(theta_b, dtype=float)
        out = _poisson_nll(n, self.expected(mu, theta_eff, theta_b))
        if self.sigma_eff > 0:
            out = out + (theta_eff - self.glob_eff) ** 2 / (2.0 * self.sigma_eff**2)
        if self.sigma_b > 0:
            if self.b_constraint == "gauss":
                out = out + (theta_b - self.glob_b) ** 2 / (2.0 * self.sigma_b**2)
            else:
                with np.errstate(divide="ignore"):
                    out = out + (np.log(theta_b) - np.log(self.glob_b)) ** 2 / (
                        2.0 * self._kappa**2
                    )
        return out

    def profile(self, mu):
        """Conditional MLEs (θ̂_ε, θ̂_b) and profiled −ln L at signal strength ``mu`` (≥ 0).

        Returns
        -------
        (numpy.ndarray, numpy.ndarray, numpy.ndarray)
            θ̂_ε, θ̂_b, NLL — broadcast over ``mu`` and the data fields.
        """
        mu = np.asarray(mu, dtype=float)
        if np.any(mu < 0):
            raise ValueError("the counting model is defined for mu >= 0")
        n = np.asarray(self.n, dtype=float)
        c_eff = mu * self.s
        g_e = np.asarray(self.glob_eff, dtype=float)
        g_b = np.asarray(self.glob_b, dtype=float)
        s2e = self.sigma_eff**2
        if self.b_constraint == "gauss" or self.sigma_b == 0.0 or self.b == 0.0:
            gb = g_b if self.sigma_b > 0 else np.ones_like(g_b)
            (th_e, th_b), _, nll = _profile_linear_gauss(
                n, [c_eff, self.b + 0.0 * c_eff], [g_e, gb], [s2e, self.sigma_b**2], 0.0
            )
            if self.b_constraint == "lognormal":  # sigma_b == 0 or b == 0: θ_b fixed at g_b
                th_b = np.broadcast_to(gb, np.shape(th_b))
            return th_e, th_b, nll
        return self._profile_lognormal(n, c_eff, g_e, g_b, s2e)

    def _profile_lognormal(self, n, c_eff, g_e, g_b, s2e):
        """Exact profile with a log-normal background constraint.

        For fixed u = ln θ_b the efficiency is profiled in closed form (one bounded
        parameter); u then solves D(u) = b eᵘ (1 − n/ν) + (u − ln g_b)/κ² = 0 (envelope
        theorem), found by vectorised bisection to ~10⁻¹³.  D(lo) < 0 < D(hi) is guaranteed
        for lo = ln g_b − κ² b g_b − 1 (since b eᵘ(1 − n/ν) ≤ b g_b for u ≤ ln g_b) and
        hi = ln g_b + κ² n + 1 (since b eᵘ(1 − n/ν) ≥ −n because ν ≥ b eᵘ).
        """
        k2 = self._kappa**2
        shape = np.broadcast_shapes(np.shape(n), np.shape(c_eff), np.shape(g_e), np.shape(g_b))
        n, c_eff, g_e, g_b = (np.broadcast_to(v, shape) for v in (n, c_eff, g_e, g_b))
        ln_g = np.log(g_b)

        def inner(u):
            """θ̂_ε(u) ≥ 0 and ν at fixed u (closed form, one parameter)."""
            offset = self.b * np.exp(u)
            nu_root = _quadratic_root(c_eff * g_e + offset, s2e * c_eff * c_eff, n)
            with np.errstate(divide="ignore", invalid="ignore"):
                r = np.where(n > 0, 1.0 - n / nu_root, 1.0)
            th_e = np.clip(g_e - s2e * c_eff * r, 0.0, None)
            return th_e, offset, c_eff * th_e + offset

        lo = ln_g - k2 * self.b * g_b - 1.0
        hi = ln_g + k2 * n + 1.0
        for _ in range(self._bisect_iter):
            mid = 0.5 * (lo + hi)
            _, offset, nu = inner(mid)
            with np.errstate(divide="ignore", invalid="ignore"):
                r = np.where(n > 0, 1.0 - n / nu, 1.0)
            pos = offset * r + (mid - ln_g) / k2 > 0
            hi = np.where(pos, mid, hi)
            lo = np.where(pos, lo, mid)
            if np.all(hi - lo <= 1e-13 * (1.0 + np.abs(mid))):
                break
        u = 0.5 * (lo + hi)
        th_e, offset, nu = inner(u)
        nll = _poisson_nll(n, nu) + (u - ln_g) ** 2 / (2.0 * k2)
        if s2e > 0:
            nll = nll + (th_e - g_e) ** 2 / (2.0 * s2e)
        return th_e, offset / self.b, nll

    def nll(self, mu):
        """Profiled −ln L at signal strength ``mu`` (≥ 0), broadcast over data and μ."""
        return self.profile(mu)[2]

    def mu_hat(self):
        """Unconditional MLE μ̂ = (n − b g_b)/(s g_ε) (may be negative; ±inf if s g_ε = 0).

        At μ̂ all nuisance parameters sit at their global observables and ν = n, which is
        the global minimum of −ln L (0 with the offsets used here).
        """
        n = np.asarray(self.n, dtype=float)
        g_b = np.asarray(self.glob_b, dtype=float) if self.sigma_b > 0 else 1.0
        g_e = np.asarray(self.glob_eff, dtype=float) if self.sigma_eff > 0 else 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            return (n - self.b * g_b) / (self.s * g_e)

    def qmu_tilde(self, mu):
        """q̃_μ = 2[NLL(μ) − NLL(clip(μ̂, 0, μ))] (CCGV Eq. 16), broadcast over data and μ."""
        mu = np.asarray(mu, dtype=float)
        mu_hat = self.mu_hat()
        ref = np.clip(np.nan_to_num(mu_hat, nan=0.0), 0.0, mu)
        return np.clip(2.0 * (self.nll(mu) - self.nll(ref)), 0.0, None)

    # -- derived data sets ---------------------------------------------------------------
    def asimov(self, mu: float = 0.0) -> "CountingModel":
        """Asimov data set for signal strength ``mu`` (CCGV Sec. 3.1).

        The nuisance parameters are fixed at their conditional MLEs at ``mu`` on the
        observed data; n_A = ν(μ, θ̂_μ) and the global observables are set to θ̂_μ.
        """
        th_e, th_b, _ = self.profile(mu)
        return replace(
            self,
            n=self.expected(mu, th_e, th_b),
            glob_eff=th_e if self.sigma_eff > 0 else self.glob_eff,
            glob_b=th_b if self.sigma_b > 0 else self.glob_b,
        )

    def sample(self, mu: float, n_toys: int, rng) -> "CountingModel":
        """Toy data sets for hypothesis ``mu`` (LHC-style, unconditional ensemble).

        Nuisance parameters are fixed at their conditional MLEs θ̂_μ on the observed data;
        n ~ Poisson(ν(μ, θ̂_μ)) drawn by inverse CDF from uniforms (so that, with a fixed
        seed, n is monotone in ν: common random numbers across μ), and the global
        observables are randomised around θ̂_μ: g_ε ~ N(θ̂_ε, σ_ε) and g_b ~ N(θ̂_b, σ_b)
        (Gaussian draws below 0 — probability Φ(−1/σ) — are clipped to 10⁻⁹) or
        g_b = θ̂_b e^{κz} (log-normal).  The random stream is always (u, z_ε, z_b) ×
        n_toys regardless of which uncertainties are switched on.

        Parameters
        ----------
        mu : float
            Signal strength of the hypothesis.
        n_toys : int
            Number of toys.
        rng : numpy.random.Generator or int or None
            Random generator (or seed).

        Returns
        -------
        CountingModel
            Same model with array-valued ``n``, ``glob_eff``, ``glob_b``.
        """
        rng = np.random.default_rng(rng)
        u = rng.random(n_toys)
        z_e = rng.standard_normal(n_toys)
        z_b = rng.standard_normal(n_toys)
        th_e, th_b, _ = self.profile(mu)
        th_e, th_b = float(np.squeeze(th_e)), float(np.squeeze(th_b))
        nu = float(self.expected(mu, th_e, th_b))
        n = _poisson_inverse_cdf(u, nu)
        g_e = (
            np.clip(th_e + self.sigma_eff * z_e, 1e-9, None)
            if self.sigma_eff > 0
            else self.glob_eff
        )
        if self.sigma_b == 0:
            g_b = self.glob_b
        elif self.b_constraint == "gauss":
            g_b = np.clip(th_b + self.sigma_b * z_b, 1e-9, None)
        else:
            g_b = th_b * np.exp(self._kappa * z_b)
        return replace(self, n=n, glob_eff=g_e, glob_b=g_b)

    # -- limits --------------------------------------------------------------------------
    def _mu_scale(self) -> float:
        """Rough size of the limit on μ, used as the initial bracket."""
        return (3.0 + 2.0 * np.sqrt(self.b + float(np.max(self.n)) + 1.0)) / max(self.s, 1e-300)

    def asymptotic_limits(self, cl: float = 0.9) -> LimitResult:
        """Asymptotic CLs limits on μ (observed and expected bands) via :func:`asymptotic_limits`."""
        if np.ndim(self.n) != 0:
            raise ValueError("asymptotic_limits needs a single observed data set")
        asimov = self.asimov(0.0)
        mu_hat = float(self.mu_hat())
        return asymptotic_limits(
            lambda m: float(self.nll(m)),
            lambda m: float(asimov.nll(m)),
            mu_hat=mu_hat,
            nll_hat=float(self.nll(min(max(mu_hat, 0.0), 1e300))),
            cl=cl,
            mu_hi=self._mu_scale(),
        )


# ---------------------------------------------------------------------------------------
# Toys
# ---------------------------------------------------------------------------------------
class ToyModel(Protocol):
    """What :func:`cls_toys` needs from a model (e.g. :class:`CountingModel`)."""

    def qmu_tilde(self, mu):  # pragma: no cover - protocol
        """q̃_μ of the model's data (array over toys for sampled models)."""

    def sample(self, mu: float, n_toys: int, rng):  # pragma: no cover - protocol
        """Model holding ``n_toys`` toy data sets generated under ``mu``."""


@dataclass(frozen=True)
class ToyCLs:
    """Toy-based CLs at one μ.

    Attributes
    ----------
    cls, clsb, clb : float
        CLs, CLs+b = P(q̃ ≥ q̃_obs | μ), CLb = P(q̃ ≥ q̃_obs | 0).
    cls_err : float
        Binomial MC uncertainty on CLs (error propagation of the two fractions).
    q_obs : float
        Observed q̃_μ.
    q_sb, q_b : numpy.ndarray
        q̃_μ of the s+b and b-only toys.
    """

    cls: float
    clsb: float
    clb: float
    cls_err: float
    q_obs: float
    q_sb: np.ndarray = field(repr=False)
    q_b: np.ndarray = field(repr=False)


def _ratio(clsb, clb):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(clb > 0, clsb / np.where(clb > 0, clb, 1.0), 0.0)


def cls_toys(model: ToyModel, mu: float, n_toys: int, rng=None) -> ToyCLs:
    """Toy-based CLs for q̃_μ at one signal strength (vectorised over toys).

    ``n_toys`` toys are generated under μ and ``n_toys`` under μ = 0 with
    ``model.sample`` (nuisances at their conditional fits to the observed data, global
    observables randomised), q̃_μ is computed for all of them at once, and
    CLs+b = P(q̃ ≥ q̃_obs | μ), CLb = P(q̃ ≥ q̃_obs | 0) (ties count as ≥, as for discrete
    counts).  If CLb = 0 (no b-only toy as extreme) CLs is reported as 0.

    Parameters
    ----------
    model : ToyModel
        The model with the observed data (e.g. :class:`CountingModel`).
    mu : float
        Tested signal strength.
    n_toys : int
        Toys per hypothesis.
    rng : numpy.random.Generator or int or None
        Random generator or seed.

    Returns
    -------
    ToyCLs
    """
    rng = np.random.default_rng(rng)
    q_obs = float(np.squeeze(model.qmu_tilde(mu)))
    q_sb = np.asarray(model.sample(mu, n_toys, rng).qmu_tilde(mu), dtype=float)
    q_b = np.asarray(model.sample(0.0, n_toys, rng).qmu_tilde(mu), dtype=float)
    clsb = float(tail_fraction(q_sb, q_obs)[0])
    clb = float(tail_fraction(q_b, q_obs)[0])
    cls = float(_ratio(clsb, clb))
    if clb > 0:
        err = cls * np.sqrt(
            (clsb * (1 - clsb) / n_toys) / max(clsb, 1.0 / n_toys) ** 2
            + (clb * (1 - clb) / n_toys) / clb**2
        )
    else:
        err = np.nan
    return ToyCLs(cls=cls, clsb=clsb, clb=clb, cls_err=float(err), q_obs=q_obs, q_sb=q_sb, q_b=q_b)


def upper_limit_toys(
    model: ToyModel,
    n_toys: int,
    rng=None,
    *,
    cl: float = 0.9,
    mu_hi: float | None = None,
    expected: bool = True,
    rtol: float = 1e-4,
) -> LimitResult:
    """Toy-based CLs upper limit (observed and, optionally, expected bands).

    The same random stream (one seed drawn from ``rng``) is reused at every μ (common random
    numbers), so the toy CLs(μ) is a deterministic, nearly monotone step function that
    Brent's method can solve.  Expected limits follow pyhf's ``ToyCalculator``: at each μ
    the observed q̃ is replaced by the quantile of the b-only toy distribution for band n_σ
    (the Φ(−n_σ) quantile, since an upward fluctuation gives a smaller q̃).

    Parameters
    ----------
    model : ToyModel
        Model with the observed data; ``model.sample`` must be reproducible for a seed.
    n_toys : int
        Toys per hypothesis and μ point.
    rng : numpy.random.Generator or int or None
        Random generator or seed.
    cl : float, optional
        Confidence level (default 0.9).
    mu_hi : float, optional
        Initial bracket guess; default: the model's ``_mu_scale()`` if it has one, else 1.
    expected : bool, optional
        Also compute the expected bands (otherwise they are NaN).
    rtol : float, optional
        Relative tolerance on μ.

    Returns
    -------
    LimitResult
    """
    seed = int(np.random.default_rng(rng).integers(2**63 - 1))
    if mu_hi is None:
        mu_hi = model._mu_scale() if hasattr(model, "_mu_scale") else 1.0
    probs = stats.norm.cdf(-np.asarray(N_SIGMA, dtype=float))

    cache: dict[float, tuple] = {}  # local memo: bracket points recur across the 6 solves

    def evaluate(mu: float):
        if mu not in cache:
            res = cls_toys(model, mu, n_toys, np.random.default_rng(seed))
            cls_exp = None
            if expected:
                q_exp = np.quantile(res.q_b, probs, method="inverted_cdf")
                cls_exp = _ratio(tail_fraction(res.q_sb, q_exp), tail_fraction(res.q_b, q_exp))
            cache[mu] = (res.cls, cls_exp)
        return cache[mu]

    observed = upper_limit(lambda m: evaluate(m)[0], cl=cl, mu_hi=mu_hi, rtol=rtol)
    if expected:
        exp = tuple(
            upper_limit(lambda m, i=i: evaluate(m)[1][i], cl=cl, mu_hi=mu_hi, rtol=rtol)
            for i in range(len(N_SIGMA))
        )
    else:
        exp = (np.nan,) * len(N_SIGMA)
    return LimitResult(observed=observed, expected=exp, cl=cl)


# ---------------------------------------------------------------------------------------
# Exact Poisson CLs
# ---------------------------------------------------------------------------------------
def counting_cls_exact(n, b, s):
    """Exact CLs of a counting experiment without uncertainties (Read 2002).

    CLs(s) = P(N ≤ n | s + b) / P(N ≤ n | b), the number of events being the test statistic.

    Parameters
    ----------
    n : array_like of int
        Observed events.
    b : array_like
        Known background expectation (events).
    s : array_like
        Signal expectation (events).

    Returns
    -------
    numpy.ndarray
        CLs.
    """
    n = np.floor(np.asarray(n, dtype=float))
    return np.exp(stats.poisson.logcdf(n, np.asarray(s) + b) - stats.poisson.logcdf(n, b))


def counting_upper_limit_exact(n, b, cl: float = 0.9, *, n_iter: int = 200):
    """Exact CLs upper limit on the signal expectation s (events), no uncertainties.

    Solves CLs(s) = 1 − cl by vectorised bisection (CLs is monotone in s).  For n = 0 the
    result is −ln(1 − cl) for every b (2.303 events at 90 % CL); for b = 0 it equals the
    classical Poisson upper limit ½ χ²_{2(n+1)}(cl).

    Parameters
    ----------
    n : array_like of int
        Observed events.
    b : array_like
        Background expectation (events).
    cl : float, optional
        Confidence level (default 0.9).
    n_iter : int, optional
        Bisection steps (each halves the bracket).

    Returns
    -------
    numpy.ndarray or float
        Upper limit on s (events), broadcast over ``n`` and ``b``.
    """
    alpha = 1.0 - cl
    n, b = np.broadcast_arrays(np.asarray(n, dtype=float), np.asarray(b, dtype=float))
    lo = np.zeros(n.shape)
    hi = n + 10.0 * np.sqrt(n + 1.0) + 10.0
    for _ in range(200):
        above = counting_cls_exact(n, b, hi) > alpha
        if not np.any(above):
            break
        lo = np.where(above, hi, lo)
        hi = np.where(above, 2.0 * hi, hi)
    for _ in range(n_iter):
        mid = 0.5 * (lo + hi)
        above = counting_cls_exact(n, b, mid) > alpha
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
    out = 0.5 * (lo + hi)
    return float(out) if out.ndim == 0 else out
