"""Vectorised relativistic kinematics.

Convention: a four-vector is a numpy array whose last axis is ``(E, px, py, pz)`` in
GeV; any leading shape is allowed (events, particles, ...).  Three-vectors have last
axis ``(x, y, z)``.
"""

from __future__ import annotations

import numpy as np


def p_abs(p4: np.ndarray) -> np.ndarray:
    """Magnitude of the three-momentum (GeV)."""
    return np.sqrt(np.sum(p4[..., 1:4] ** 2, axis=-1))


def mass2(p4: np.ndarray) -> np.ndarray:
    """Invariant mass squared E² − |p|² (GeV²)."""
    return p4[..., 0] ** 2 - np.sum(p4[..., 1:4] ** 2, axis=-1)


def mass(p4: np.ndarray) -> np.ndarray:
    """Invariant mass (GeV); negative m² from rounding is clipped to 0."""
    return np.sqrt(np.clip(mass2(p4), 0.0, None))


def four_vector(mass_gev: np.ndarray | float, p3: np.ndarray) -> np.ndarray:
    """Four-vector from a mass (GeV) and three-momenta ``p3`` (GeV)."""
    energy = np.sqrt(np.sum(p3**2, axis=-1) + np.asarray(mass_gev) ** 2)
    return np.concatenate([energy[..., None], p3], axis=-1)


def unit_vectors(cos_theta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Unit three-vectors from polar cosine and azimuth (radians)."""
    sin_theta = np.sqrt(np.clip(1.0 - cos_theta**2, 0.0, None))
    return np.stack([sin_theta * np.cos(phi), sin_theta * np.sin(phi), cos_theta], axis=-1)


def random_unit_vectors(rng: np.random.Generator, size) -> np.ndarray:
    """Isotropic unit three-vectors of shape ``size + (3,)``."""
    cos_theta = rng.uniform(-1.0, 1.0, size)
    phi = rng.uniform(0.0, 2.0 * np.pi, size)
    return unit_vectors(cos_theta, phi)


def boost(p4: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Lorentz-boost four-vectors ``p4`` by velocity ``beta`` (three-vector, |β| < 1).

    A particle at rest in the original frame moves with velocity ``beta`` after the
    boost.  ``beta`` broadcasts against ``p4[..., 1:4]``.
    """
    beta = np.asarray(beta, dtype=float)
    b2 = np.sum(beta**2, axis=-1)
    gamma = 1.0 / np.sqrt(1.0 - b2)
    bp = np.sum(beta * p4[..., 1:4], axis=-1)
    # (gamma - 1)/b² written so that b → 0 is finite
    gamma2 = np.where(b2 > 0.0, (gamma - 1.0) / np.where(b2 > 0.0, b2, 1.0), 0.0)
    energy = gamma * (p4[..., 0] + bp)
    p3 = p4[..., 1:4] + (gamma2 * bp + gamma * p4[..., 0])[..., None] * beta
    return np.concatenate([energy[..., None], p3], axis=-1)


def beta_of(p4: np.ndarray) -> np.ndarray:
    """Velocity three-vector p/E of four-vectors ``p4``."""
    return p4[..., 1:4] / p4[..., 0:1]


def two_body_momentum(m_parent, m1, m2) -> np.ndarray:
    """Daughter momentum (GeV) in the rest frame of a two-body decay M → m1 m2.

    Returns NaN where the decay is kinematically forbidden.
    """
    m_parent, m1, m2 = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (m_parent, m1, m2)))
    lam = (m_parent**2 - (m1 + m2) ** 2) * (m_parent**2 - (m1 - m2) ** 2)
    with np.errstate(invalid="ignore"):
        return np.where(lam >= 0.0, np.sqrt(np.clip(lam, 0.0, None)) / (2.0 * m_parent), np.nan)


def two_body_decay(
    parent_p4: np.ndarray,
    m1,
    m2,
    direction_rest: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Decay ``parent_p4`` into two daughters of masses ``m1``, ``m2`` (GeV).

    ``direction_rest`` is the unit direction of daughter 1 in the parent rest frame
    (isotropic for a spin-0 parent).  Four-momentum is conserved exactly up to
    rounding: ``d1 + d2 == parent_p4``.
    """
    m_parent = mass(parent_p4)
    p_star = two_body_momentum(m_parent, m1, m2)
    p3 = p_star[..., None] * direction_rest
    d1 = four_vector(m1, p3)
    d2 = four_vector(m2, -p3)
    beta = beta_of(parent_p4)
    return boost(d1, beta), boost(d2, beta)


def cos_angle(a3: np.ndarray, b3: np.ndarray) -> np.ndarray:
    """Cosine of the angle between three-vectors ``a3`` and ``b3``."""
    num = np.sum(a3 * b3, axis=-1)
    den = np.sqrt(np.sum(a3**2, axis=-1) * np.sum(b3**2, axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.clip(np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0), -1.0, 1.0)
