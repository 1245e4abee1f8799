"""Test oracles and pseudo-data generators used by the tests and benchmarks.

Independent of the library's window model on purpose: ``sample_window`` draws events
component by component (accept-reject for the polynomial, DSCB sampling for the peaks),
``chebyshev_background_pdf`` writes the second-order background in its public
parametrisation, ``local_significance`` combines two ``WindowFit`` results, and
``ratio_table`` builds long-lived/prompt efficiency ratios from counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from alpscan.fitting.dscb import as_dscb_params, dscb_sample
from alpscan.fitting.window_fit import WindowFit, significance_from_nll


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


def ratio_table(
    ctau_mm,
    n_selected_ll,
    n_generated_ll,
    n_selected_prompt,
    n_generated_prompt,
) -> pd.DataFrame:
    """Long-lived / prompt efficiency ratio with binomial errors, from counts.

    Parameters
    ----------
    ctau_mm : array_like
        cτ of each long-lived sample (mm).
    n_selected_ll, n_generated_ll : array_like
        Selected and generated events of each long-lived sample.
    n_selected_prompt, n_generated_prompt : float or array_like
        The same for the prompt sample at the same mass (broadcast).

    Returns
    -------
    pandas.DataFrame
        Columns ``ctau_mm``, ``eff_ll``, ``eff_ll_err``, ``eff_prompt``,
        ``eff_prompt_err``, ``ratio``, ``ratio_err``.  Efficiency errors are binomial,
        ``√(ε(1 − ε)/N)``, with ε replaced by ``max(k, 1)/N`` for ``k = 0`` selected
        events (so that an empty sample still carries a finite, non-zero error); the
        ratio error adds the two relative errors in quadrature (independent samples).
    """
    c = np.atleast_1d(np.asarray(ctau_mm, dtype=float))
    k_ll, n_ll, k_p, n_p = (
        np.broadcast_to(np.asarray(a, dtype=float), c.shape).astype(float)
        for a in (n_selected_ll, n_generated_ll, n_selected_prompt, n_generated_prompt)
    )
    if np.any(n_ll <= 0) or np.any(n_p <= 0):
        raise ValueError("generated counts must be positive")
    if np.any((k_ll < 0) | (k_ll > n_ll) | (k_p < 0) | (k_p > n_p)):
        raise ValueError("selected counts must be in [0, generated]")

    def binom(k, n):
        eps = k / n
        e_for_err = np.maximum(k, 1.0) / n
        return eps, np.sqrt(e_for_err * (1.0 - np.minimum(e_for_err, 1.0)) / n)

    e_ll, s_ll = binom(k_ll, n_ll)
    e_p, s_p = binom(k_p, n_p)
    # An efficiency of exactly 1 has zero binomial error; keep a 1-event floor instead.
    s_ll = np.maximum(s_ll, 1.0 / n_ll * (k_ll >= n_ll))
    s_p = np.maximum(s_p, 1.0 / n_p * (k_p >= n_p))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = e_ll / e_p
        r_err = np.sqrt((s_ll / e_p) ** 2 + (r * s_p / e_p) ** 2)
    return pd.DataFrame(
        {
            "ctau_mm": c,
            "eff_ll": e_ll,
            "eff_ll_err": s_ll,
            "eff_prompt": e_p,
            "eff_prompt_err": s_p,
            "ratio": r,
            "ratio_err": r_err,
        }
    )
