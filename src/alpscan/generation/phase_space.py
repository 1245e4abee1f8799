"""Vectorised phase-space generators (c.m. frame, GeV).

``rambo`` is the RAMBO algorithm (Kleiss, Stirling, Ellis, CPC 40 (1986) 359) for
n-body phase space, with the standard mass-rescaling step for massive particles
(momenta scaled by a common factor ξ solved by Newton's method), so that total
four-momentum is conserved exactly (up to rounding) for every event.
"""

from __future__ import annotations

import numpy as np

from alpscan.physics.kinematics import beta_of, boost, mass


def rambo_massless(rng: np.random.Generator, n_events: int, n_particles: int, sqrt_s) -> np.ndarray:
    """Massless n-body phase space at rest, total energy ``sqrt_s`` (GeV).

    Returns four-vectors of shape (n_events, n_particles, 4); event weights are
    uniform (RAMBO's massless weight is constant).
    """
    sqrt_s = np.broadcast_to(np.asarray(sqrt_s, dtype=float), (n_events,))
    cos_t = rng.uniform(-1.0, 1.0, (n_events, n_particles))
    phi = rng.uniform(0.0, 2.0 * np.pi, (n_events, n_particles))
    e = -np.log(rng.uniform(size=(n_events, n_particles)) * rng.uniform(size=(n_events, n_particles)))
    sin_t = np.sqrt(1.0 - cos_t**2)
    q = np.stack([e, e * sin_t * np.cos(phi), e * sin_t * np.sin(phi), e * cos_t], axis=-1)
    big_q = q.sum(axis=1)
    big_m = mass(big_q)
    b = -big_q[:, 1:4] / big_m[:, None]
    x = sqrt_s / big_m
    gamma = big_q[:, 0] / big_m
    a = 1.0 / (1.0 + gamma)
    bq = np.einsum("nj,npj->np", b, q[..., 1:4])
    p0 = x[:, None] * (gamma[:, None] * q[..., 0] + bq)
    p3 = x[:, None, None] * (q[..., 1:4] + b[:, None, :] * (q[..., 0] + a[:, None] * bq)[..., None])
    return np.concatenate([p0[..., None], p3], axis=-1)


def rambo(
    rng: np.random.Generator, n_events: int, masses: np.ndarray, sqrt_s, n_newton: int = 12
) -> np.ndarray:
    """Massive n-body phase space at rest with total energy ``sqrt_s`` (GeV).

    ``masses`` has shape (n_particles,) or (n_events, n_particles) in GeV.
    Requires ``sqrt_s > sum(masses)``.
    """
    masses = np.broadcast_to(np.asarray(masses, dtype=float), (n_events, np.shape(masses)[-1]))
    n_particles = masses.shape[1]
    sqrt_s = np.broadcast_to(np.asarray(sqrt_s, dtype=float), (n_events,))
    if np.any(masses.sum(axis=1) >= sqrt_s):
        raise ValueError("rambo: total mass exceeds the available energy")
    p = rambo_massless(rng, n_events, n_particles, sqrt_s)
    if not np.any(masses > 0):
        return p
    e0 = p[..., 0]
    xi = np.sqrt(1.0 - (masses.sum(axis=1) / sqrt_s) ** 2)
    for _ in range(n_newton):
        e = np.sqrt(masses**2 + (xi[:, None] * e0) ** 2)
        f = e.sum(axis=1) - sqrt_s
        df = (xi[:, None] * e0**2 / e).sum(axis=1)
        xi = xi - f / df
    p3 = xi[:, None, None] * p[..., 1:4]
    energy = np.sqrt(masses**2 + np.sum(p3**2, axis=-1))
    return np.concatenate([energy[..., None], p3], axis=-1)


def rambo_in_frame(rng: np.random.Generator, parent_p4: np.ndarray, masses: np.ndarray) -> np.ndarray:
    """n-body phase-space decay of ``parent_p4`` (n_events, 4) into ``masses``.

    Daughters sum exactly to the parent four-momentum.
    """
    n_events = parent_p4.shape[0]
    rest = rambo(rng, n_events, masses, mass(parent_p4))
    return boost(rest, beta_of(parent_p4)[:, None, :])
