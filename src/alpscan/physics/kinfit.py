"""Vectorised kinematic fit of B → K(*)γγ candidates with a B-mass constraint
(iterated Lagrange multipliers; statuses 0 ok, 1 not converged, 2/3 failed with χ² = inf).

Design notes: docs/generation.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from alpscan.physics.kinematics import mass

#: Names of the 9 fitted parameters, in the order of the ``alpha`` axes.
PARAM_NAMES = (
    "k_px",
    "k_py",
    "k_pz",
    "g1_e",
    "g1_theta",
    "g1_phi",
    "g2_e",
    "g2_theta",
    "g2_phi",
)
N_PAR = len(PARAM_NAMES)

STATUS_CONVERGED = 0
STATUS_MAX_ITER = 1
STATUS_NEGATIVE_ENERGY = 2
STATUS_NONFINITE = 3

_PHOTON_FIELDS = ("e", "theta", "phi", "sigma_e", "sigma_theta", "sigma_phi")


@dataclass(frozen=True)
class PhotonMeasurement:
    """Measured photons: energy ``e`` [GeV], polar angle ``theta`` and azimuth ``phi``
    [rad] as seen from the IP, and their independent Gaussian errors (same units).

    All fields are arrays of shape ``(N,)`` (scalars broadcast).  A plain mapping with
    the same keys is accepted wherever a :class:`PhotonMeasurement` is expected.
    """

    e: np.ndarray
    theta: np.ndarray
    phi: np.ndarray
    sigma_e: np.ndarray
    sigma_theta: np.ndarray
    sigma_phi: np.ndarray

    @classmethod
    def coerce(cls, obj) -> PhotonMeasurement:
        """Return ``obj`` as a :class:`PhotonMeasurement` (from itself or a mapping)."""
        if isinstance(obj, cls):
            return obj
        if isinstance(obj, Mapping):
            missing = [k for k in _PHOTON_FIELDS if k not in obj]
            if missing:
                raise KeyError(f"photon mapping lacks keys {missing}")
            return cls(**{k: obj[k] for k in _PHOTON_FIELDS})
        raise TypeError(f"cannot interpret {type(obj).__name__} as a photon measurement")

    def four_vector(self) -> np.ndarray:
        """Measured photon four-vectors ``(N, 4)``."""
        return photon_four_vector(self.e, self.theta, self.phi)


@dataclass(frozen=True)
class KinFitResult:
    """Output of :func:`fit_b_mass_constraint` (N candidates).

    Attributes
    ----------
    k_p4, gamma1_p4, gamma2_p4 : (N, 4) fitted four-vectors (GeV).
    alpha, alpha0 : (N, 9) fitted and measured parameters (order :data:`PARAM_NAMES`).
    chi2 : (N,) fit χ² (``+inf`` for failed fits, status 2/3).
    ndf : number of degrees of freedom (1).
    converged : (N,) bool, ``status == 0``.
    status : (N,) int8, see docs/generation.md.
    n_iter : (N,) int, linearised updates performed per candidate.
    lam : (N,) Lagrange multiplier of the last update.
    var_fit : (N, 9) diagonal of the fitted covariance.
    cov_fit : (N, 9, 9) full fitted covariance, or ``None`` if ``full_cov=False``.
    pulls : (N, 9) ``(α − α0) / sqrt(V0_ii − V_ii)`` (0 where the denominator vanishes,
        NaN for failed fits).
    """

    k_p4: np.ndarray
    gamma1_p4: np.ndarray
    gamma2_p4: np.ndarray
    alpha: np.ndarray
    alpha0: np.ndarray
    chi2: np.ndarray
    ndf: int
    converged: np.ndarray
    status: np.ndarray
    n_iter: np.ndarray
    lam: np.ndarray
    var_fit: np.ndarray
    cov_fit: np.ndarray | None
    pulls: np.ndarray

    @property
    def b_p4(self) -> np.ndarray:
        """Fitted B four-vector ``(N, 4)`` (its mass is ``m_B`` for converged fits)."""
        return self.k_p4 + self.gamma1_p4 + self.gamma2_p4

    @property
    def max_iter_used(self) -> int:
        """Largest number of iterations used by any candidate."""
        return int(self.n_iter.max(initial=0))


def photon_four_vector(e, theta, phi) -> np.ndarray:
    """Massless four-vectors ``(..., 4)`` from energy [GeV], polar angle and azimuth [rad]."""
    e, theta, phi = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (e, theta, phi)))
    st = np.sin(theta)
    return np.stack([e, e * st * np.cos(phi), e * st * np.sin(phi), e * np.cos(theta)], axis=-1)


def m_gg_after_fit(result: KinFitResult) -> np.ndarray:
    """Di-photon invariant mass (GeV) from the fitted photons, shape ``(N,)``."""
    return mass(result.gamma1_p4 + result.gamma2_p4)


def m_gg_before_fit(result: KinFitResult) -> np.ndarray:
    """Di-photon invariant mass (GeV) from the measured photons, shape ``(N,)``."""
    a = result.alpha0
    return mass(photon_four_vector(a[:, 3], a[:, 4], a[:, 5]) + photon_four_vector(a[:, 6], a[:, 7], a[:, 8]))


def unpack_parameters(alpha: np.ndarray, k_mass) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """K, γ1, γ2 four-vectors ``(N, 4)`` from parameters ``alpha`` ``(N, 9)``."""
    k_mass = np.asarray(k_mass, dtype=float)
    pk = alpha[:, 0:3]
    ek = np.sqrt(np.sum(pk * pk, axis=-1) + k_mass**2)
    k4 = np.concatenate([ek[:, None], pk], axis=-1)
    g1 = photon_four_vector(alpha[:, 3], alpha[:, 4], alpha[:, 5])
    g2 = photon_four_vector(alpha[:, 6], alpha[:, 7], alpha[:, 8])
    return k4, g1, g2


def constraint_and_jacobian(alpha: np.ndarray, k_mass, m_b) -> tuple[np.ndarray, np.ndarray]:
    """Constraint ``h = (M² − m_B²)/(2 m_B)`` ``(N,)`` and its analytic gradient ``(N, 9)``.

    With ``E``/``P`` the total energy/momentum and ``n`` the photon unit vector,
    ``∂M²/∂p_K = 2 (E p_K/E_K − P)``, ``∂M²/∂E_γ = 2 (E − P·n)``,
    ``∂M²/∂θ_γ = −2 E_γ P·∂n/∂θ`` and ``∂M²/∂φ_γ = −2 E_γ P·∂n/∂φ``.
    """
    k_mass = np.asarray(k_mass, dtype=float)
    m_b = np.asarray(m_b, dtype=float)
    pk = alpha[:, 0:3]
    ek = np.sqrt(np.sum(pk * pk, axis=-1) + k_mass**2)

    e_tot = ek.copy()
    p_tot = pk.copy()
    geo = []
    for off in (3, 6):
        e, th, ph = alpha[:, off], alpha[:, off + 1], alpha[:, off + 2]
        st, ct, sp, cp = np.sin(th), np.cos(th), np.sin(ph), np.cos(ph)
        n = np.stack([st * cp, st * sp, ct], axis=-1)
        dn_dth = np.stack([ct * cp, ct * sp, -st], axis=-1)
        dn_dph = np.stack([-st * sp, st * cp, np.zeros_like(st)], axis=-1)
        e_tot = e_tot + e
        p_tot = p_tot + e[:, None] * n
        geo.append((e, n, dn_dth, dn_dph))

    m2 = e_tot * e_tot - np.sum(p_tot * p_tot, axis=-1)
    inv2m = 1.0 / (2.0 * m_b)
    h = (m2 - m_b * m_b) * inv2m

    d = np.empty_like(alpha)
    d[:, 0:3] = 2.0 * ((e_tot / ek)[:, None] * pk - p_tot)
    for off, (e, n, dn_dth, dn_dph) in zip((3, 6), geo):
        d[:, off] = 2.0 * (e_tot - np.sum(p_tot * n, axis=-1))
        d[:, off + 1] = -2.0 * e * np.sum(p_tot * dn_dth, axis=-1)
        d[:, off + 2] = -2.0 * e * np.sum(p_tot * dn_dph, axis=-1)
    d *= np.broadcast_to(inv2m, h.shape)[:, None]
    return h, d


def _v0_times(k_cov: np.ndarray, g_var: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``V0 · d`` for the block-diagonal V0 = diag(k_cov, g_var) without forming V0."""
    out = np.empty_like(d)
    out[:, 0:3] = np.einsum("nij,nj->ni", k_cov, d[:, 0:3])
    out[:, 3:] = g_var * d[:, 3:]
    return out


def _as_n(x, n: int, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=float)
    if arr.ndim == 0:
        return np.full(n, float(arr))
    if arr.shape != (n,):
        raise ValueError(f"{name} must be a scalar or have shape ({n},), got {arr.shape}")
    return arr


def fit_b_mass_constraint(
    k_p3,
    k_mass,
    k_cov,
    gamma1,
    gamma2,
    m_b,
    max_iter: int = 10,
    tol: float = 1e-6,
    *,
    chi2_tol: float = 1e-6,
    full_cov: bool = True,
) -> KinFitResult:
    """Fit K(*) + γ + γ candidates with the constraint ``M(Kγγ) = m_B``.

    Parameters
    ----------
    k_p3 : (N, 3) measured K(*) system three-momentum (GeV), at the IP.
    k_mass : scalar or (N,) K(*) system mass (GeV), kept fixed.
    k_cov : (3, 3) or (N, 3, 3) covariance of ``k_p3`` (GeV²).
    gamma1, gamma2 : :class:`PhotonMeasurement` or mapping with keys ``e, theta, phi,
        sigma_e, sigma_theta, sigma_phi`` (arrays ``(N,)`` or scalars; GeV / rad).
    m_b : scalar or (N,) B mass hypothesis (GeV), e.g. ``mass_gev("B+")``.
    max_iter : maximum number of linearised updates.
    tol : convergence tolerance on ``|h| ≈ |M − m_B|`` (GeV).
    chi2_tol : convergence also requires ``|Δχ²| < chi2_tol`` between iterations.
    full_cov : store the full (N, 9, 9) fitted covariance (else only its diagonal).

    Returns
    -------
    KinFitResult
    """
    k_p3 = np.asarray(k_p3, dtype=float)
    if k_p3.ndim != 2 or k_p3.shape[1] != 3:
        raise ValueError(f"k_p3 must have shape (N, 3), got {k_p3.shape}")
    n = k_p3.shape[0]
    k_mass = _as_n(k_mass, n, "k_mass")
    m_b = _as_n(m_b, n, "m_b")
    k_cov = np.asarray(k_cov, dtype=float)
    if k_cov.shape == (3, 3):
        k_cov = np.broadcast_to(k_cov, (n, 3, 3))
    if k_cov.shape != (n, 3, 3):
        raise ValueError(f"k_cov must have shape (3, 3) or ({n}, 3, 3), got {k_cov.shape}")
    g1 = PhotonMeasurement.coerce(gamma1)
    g2 = PhotonMeasurement.coerce(gamma2)

    alpha0 = np.empty((n, N_PAR))
    alpha0[:, 0:3] = k_p3
    g_var = np.empty((n, 6))
    for off, g in ((3, g1), (6, g2)):
        for j, (val, sig) in enumerate(((g.e, g.sigma_e), (g.theta, g.sigma_theta), (g.phi, g.sigma_phi))):
            alpha0[:, off + j] = _as_n(val, n, "photon value")
            g_var[:, off - 3 + j] = _as_n(sig, n, "photon sigma") ** 2

    alpha = alpha0.copy()
    chi2 = np.zeros(n)
    lam = np.zeros(n)
    n_iter = np.zeros(n, dtype=np.int64)
    status = np.full(n, STATUS_MAX_ITER, dtype=np.int8)
    bad0 = (alpha0[:, 3] <= 0.0) | (alpha0[:, 6] <= 0.0)
    status[bad0] = STATUS_NEGATIVE_ENERGY
    bad0 |= ~np.all(np.isfinite(alpha0), axis=1)
    status[bad0 & (status != STATUS_NEGATIVE_ENERGY)] = STATUS_NONFINITE
    active = np.flatnonzero(~bad0)

    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        for it in range(max_iter + 1):
            if active.size == 0:
                break
            a = alpha[active]
            h, d = constraint_and_jacobian(a, k_mass[active], m_b[active])
            if it > 0:
                done = (np.abs(h) < tol) & (np.abs(chi2[active] - chi2_prev) < chi2_tol)
                status[active[done]] = STATUS_CONVERGED
                keep = ~done
                active, a, h, d = active[keep], a[keep], h[keep], d[keep]
            if it == max_iter or active.size == 0:
                break
            a0 = alpha0[active]
            vd = _v0_times(k_cov[active], g_var[active], d)
            s = np.einsum("ni,ni->n", d, vd)  # D V0 Dᵀ
            r = np.einsum("ni,ni->n", d, a0 - a) + h
            lam_new = r / s
            a_new = a0 - vd * lam_new[:, None]
            chi2_new = lam_new * lam_new * s

            nonfinite = ~(np.all(np.isfinite(a_new), axis=1) & np.isfinite(chi2_new) & (s > 0.0))
            negative = ~nonfinite & ((a_new[:, 3] <= 0.0) | (a_new[:, 6] <= 0.0))
            status[active[nonfinite]] = STATUS_NONFINITE
            status[active[negative]] = STATUS_NEGATIVE_ENERGY
            ok = ~(nonfinite | negative)

            chi2_prev = chi2[active][ok]
            active = active[ok]
            alpha[active] = a_new[ok]
            chi2[active] = chi2_new[ok]
            lam[active] = lam_new[ok]
            n_iter[active] += 1

        # Fitted covariance from the derivatives at the final point.
        _, d = constraint_and_jacobian(alpha, k_mass, m_b)
        vd = _v0_times(k_cov, g_var, d)
        s = np.einsum("ni,ni->n", d, vd)
        inv_s = np.where(s > 0.0, 1.0 / s, 0.0)
        var0 = np.empty((n, N_PAR))
        var0[:, 0:3] = np.einsum("nii->ni", k_cov)
        var0[:, 3:] = g_var
        # V0_ii − V_ii = (V0 Dᵀ)_i² / (D V0 Dᵀ): evaluated directly, free of cancellation.
        dvar = vd * vd * inv_s[:, None]
        var_fit = var0 - dvar
        cov_fit = None
        if full_cov:
            cov_fit = np.zeros((n, N_PAR, N_PAR))
            cov_fit[:, 0:3, 0:3] = k_cov
            idx = np.arange(3, N_PAR)
            cov_fit[:, idx, idx] = g_var
            cov_fit -= vd[:, :, None] * vd[:, None, :] * inv_s[:, None, None]

        denom = np.sqrt(np.clip(dvar, 0.0, None))
        shift = alpha - alpha0
        tiny = 1e-12 * np.sqrt(var0)
        pulls = np.where(denom > tiny, shift / np.where(denom > tiny, denom, 1.0), 0.0)

    failed = (status == STATUS_NEGATIVE_ENERGY) | (status == STATUS_NONFINITE)
    chi2[failed] = np.inf
    pulls[failed] = np.nan

    k4, p1, p2 = unpack_parameters(alpha, k_mass)
    return KinFitResult(
        k_p4=k4,
        gamma1_p4=p1,
        gamma2_p4=p2,
        alpha=alpha,
        alpha0=alpha0,
        chi2=chi2,
        ndf=1,
        converged=status == STATUS_CONVERGED,
        status=status,
        n_iter=n_iter,
        lam=lam,
        var_fit=var_fit,
        cov_fit=cov_fit,
        pulls=pulls,
    )
