"""Look-elsewhere effect with the Gross–Vitells upcrossing method: global p-value and
significance from the local significance curve.

Design notes: docs/limits.md.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = [
    "count_upcrossings",
    "local_p_value",
    "global_p_value",
    "global_significance",
    "scan_global_significance",
]


def _ffill_nan(a: np.ndarray) -> np.ndarray:
    """Forward-fill NaNs along the last axis (vectorised); leading NaNs stay NaN."""
    n = a.shape[-1]
    idx = np.where(np.isnan(a), 0, np.arange(n))
    idx = np.maximum.accumulate(idx, axis=-1)
    return np.take_along_axis(a, idx, axis=-1)


def count_upcrossings(significance_curve, level: float):
    """Number of upcrossings of ``level`` by a sampled curve.

    An upcrossing is a pair of consecutive points with ``Z[i] < level <= Z[i+1]``.
    Non-finite points (failed fits) are skipped: the curve is joined across them
    (forward fill), so a crossing that happens across a gap is counted once.

    Parameters
    ----------
    significance_curve : array_like
        Local significance Z at increasing mass (1-D), or a stack of curves (N-D,
        counted along the last axis), e.g. one row per toy scan.
    level : float
        Threshold Z_ref (Gaussian sigmas).

    Returns
    -------
    int or numpy.ndarray
        Number of upcrossings (an ``int`` for a 1-D curve, else an integer array of the
        leading shape).
    """
    z = np.asarray(significance_curve, dtype=float)
    if z.ndim == 0:
        raise ValueError("significance_curve must have at least one dimension")
    z = np.where(np.isfinite(z), z, np.nan)
    z = _ffill_nan(z)
    with np.errstate(invalid="ignore"):
        up = (z[..., :-1] < level) & (z[..., 1:] >= level)
    n = np.sum(up, axis=-1)
    return int(n) if np.ndim(n) == 0 else n.astype(int)


def local_p_value(z):
    """One-sided local p-value ``½·P(χ²₁ > Z²)`` for Z > 0, i.e. ``1 − Φ(Z)``.

    Parameters
    ----------
    z : float or array_like
        Local significance (Gaussian sigmas); ``Z ≤ 0`` gives ``p = 1 − Φ(Z) ≥ ½``.

    Returns
    -------
    float or numpy.ndarray
    """
    p = stats.norm.sf(np.asarray(z, dtype=float))
    return float(p) if np.ndim(p) == 0 else p


def global_p_value(local_z_max, n_upcross_ref, z_ref: float = 0.0):
    """Gross–Vitells global p-value of the largest local excess.

    ``p_global = p_local(Z) + N_ref·exp(−(Z² − Z_ref²)/2)``, clipped to
    ``[p_local, 1]`` (see docs/limits.md).  The approximation is meant for
    ``Z > Z_ref`` (an excess above the reference level); a negative Z is treated as
    Z = 0 in the exponential.

    Parameters
    ----------
    local_z_max : float or array_like
        Largest local significance Z of the scan (Gaussian sigmas).
    n_upcross_ref : float or array_like
        Expected (or observed) number of upcrossings of ``z_ref`` by the
        background-only significance curve (summed over independent scans).
    z_ref : float, optional
        Reference level Z_ref ≥ 0 at which the upcrossings were counted.

    Returns
    -------
    float or numpy.ndarray
        Global p-value in [p_local, 1].
    """
    z = np.asarray(local_z_max, dtype=float)
    n_ref = np.asarray(n_upcross_ref, dtype=float)
    z_ref = float(z_ref)
    if z_ref < 0:
        raise ValueError("z_ref must be >= 0 (upcrossings of the one-sided q0)")
    if np.any(n_ref < 0):
        raise ValueError("n_upcross_ref must be >= 0")
    p_loc = stats.norm.sf(z)
    zp = np.maximum(z, 0.0)
    p = p_loc + n_ref * np.exp(-0.5 * (zp**2 - z_ref**2))
    p = np.clip(p, p_loc, 1.0)
    return float(p) if np.ndim(p) == 0 else p


def global_significance(local_z_max, n_upcross_ref, z_ref: float = 0.0):
    """Global significance ``Φ⁻¹(1 − p_global)`` (Gaussian sigmas, one-sided).

    Parameters are as for :func:`global_p_value`.  The global significance is never
    larger than the local one; it can be negative when ``p_global > ½``.

    Returns
    -------
    float or numpy.ndarray
    """
    p = global_p_value(local_z_max, n_upcross_ref, z_ref)
    zg = stats.norm.isf(np.asarray(p, dtype=float))
    return float(zg) if np.ndim(zg) == 0 else zg


def scan_global_significance(curves, z_ref: float = 0.0) -> dict[str, float]:
    """Global significance of the largest excess over one or several scans.

    The upcrossings of ``z_ref`` are counted on the observed curves and added over the
    scans (e.g. the four modes); the largest local Z over all of them is converted with
    :func:`global_p_value`.  With a single observed curve ``N_ref`` has Poisson-like
    scatter, so a low ``z_ref`` (0 – 1, many crossings) is preferable.

    Parameters
    ----------
    curves : array_like or sequence of array_like
        One significance curve (1-D) or several (a sequence of 1-D arrays of possibly
        different lengths).
    z_ref : float, optional
        Reference level.

    Returns
    -------
    dict
        ``z_local_max``, ``p_local``, ``n_upcross_ref``, ``z_ref``, ``p_global``,
        ``z_global``.  ``z_global`` is reported as 0 when ``p_global >= ½`` (no excess
        after the look-elsewhere effect; Φ⁻¹ would give −∞ at p = 1).
    """
    if isinstance(curves, np.ndarray):
        curves = [curves] if curves.ndim == 1 else list(curves)
    elif len(curves) and np.ndim(curves[0]) == 0:
        curves = [curves]  # a single curve given as a list of numbers
    arrs = [np.asarray(c, dtype=float) for c in curves]
    n_ref = float(sum(count_upcrossings(a, z_ref) for a in arrs if a.size))
    finite = [a[np.isfinite(a)] for a in arrs]
    z_max = float(max((a.max() for a in finite if a.size), default=np.nan))
    return {
        "z_local_max": z_max,
        "p_local": local_p_value(z_max),
        "n_upcross_ref": n_ref,
        "z_ref": float(z_ref),
        "p_global": global_p_value(z_max, n_ref, z_ref),
        "z_global": max(global_significance(z_max, n_ref, z_ref), 0.0),
    }
