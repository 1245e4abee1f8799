"""Toy Belle detector response (spec §4).

Pure, vectorised functions.  Units: GeV for energies and momenta, mm for lengths,
radians for angles unless a name says ``_deg``.  Numbers tagged [W] are world/standard
Belle detector facts, [P] from the paper, [T] toy choices (configurable through the
``detector`` section of the config, whose defaults mirror the values here).
"""

from __future__ import annotations

import numpy as np

from alpscan.physics.kinematics import boost

# Species codes used throughout the generator.
PION, KAON, LEPTON = 1, 2, 3
# Photon categories for the cluster-shape model [T].
ISOLATED, NEARBY_PARTNER, SPLIT_OFF = 0, 1, 2


def cm_boost_vector(e_her_gev: float, e_ler_gev: float, crossing_angle_mrad: float) -> np.ndarray:
    """Velocity β of the c.m. frame in the lab for KEKB beams [W].

    The 8.0 GeV e⁻ beam runs along +z, the 3.5 GeV e⁺ beam along −z tilted by the
    full crossing angle in the x–z plane; |βγ| = 0.425 for the nominal beams.
    """
    theta = crossing_angle_mrad * 1e-3
    p_tot = np.array([e_ler_gev * np.sin(theta), 0.0, e_her_gev - e_ler_gev * np.cos(theta)])
    return p_tot / (e_her_gev + e_ler_gev)


def cm_to_lab(p4: np.ndarray, beta_cm: np.ndarray) -> np.ndarray:
    """Boost c.m.-frame four-vectors into the lab frame."""
    return boost(p4, beta_cm)


def lab_to_cm(p4: np.ndarray, beta_cm: np.ndarray) -> np.ndarray:
    """Boost lab-frame four-vectors into the c.m. frame."""
    return boost(p4, -np.asarray(beta_cm))


def polar_angle_deg(p3: np.ndarray) -> np.ndarray:
    """Polar angle of three-vectors with respect to +z, in degrees."""
    r = np.sqrt(np.sum(p3**2, axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.degrees(np.arccos(np.clip(p3[..., 2] / np.where(r > 0, r, 1.0), -1.0, 1.0)))


# ----------------------------------------------------------------------- tracks
def track_in_acceptance(p3_lab: np.ndarray, theta_min_deg=17.0, theta_max_deg=150.0, pt_min_gev=0.05):
    """CDC acceptance 17° < θ < 150° [W] and a minimum transverse momentum [T]."""
    theta = polar_angle_deg(p3_lab)
    pt = np.hypot(p3_lab[..., 0], p3_lab[..., 1])
    return (theta > theta_min_deg) & (theta < theta_max_deg) & (pt > pt_min_gev)


def track_pt_resolution(pt_gev: np.ndarray, beta: np.ndarray, a=0.0019, b=0.0030) -> np.ndarray:
    """Relative transverse-momentum resolution σ_pT/pT = a·pT ⊕ b/β [W]."""
    return np.hypot(a * pt_gev, b / beta)


def smear_tracks(rng, p4_lab, mass_gev, a=0.0019, b=0.0030, sigma_angle_rad=1.0e-3):
    """Smear lab-frame track four-vectors; returns (p4_meas, cov_p3) [GeV, GeV²].

    The momentum magnitude is smeared with the pT resolution (the polar-angle term
    is neglected: |p| and pT share the relative error) and the direction by a
    Gaussian of ``sigma_angle_rad`` [T] in both transverse directions.  ``cov_p3``
    is the matching 3×3 covariance of the measured three-momentum.
    """
    p3 = p4_lab[..., 1:4]
    p = np.sqrt(np.sum(p3**2, axis=-1))
    empty = p <= 0.0  # padding rows: give them a dummy momentum, results are masked
    p3 = np.where(empty[..., None], np.array([0.0, 0.0, 1.0]), p3)
    p = np.where(empty, 1.0, p)
    energy = np.sqrt(p**2 + mass_gev**2)
    pt = np.hypot(p3[..., 0], p3[..., 1])
    rel = track_pt_resolution(pt, p / energy, a, b)
    u = p3 / p[..., None]
    e1, e2 = _orthonormal_basis(u)
    d1 = rng.normal(0.0, sigma_angle_rad, p.shape)
    d2 = rng.normal(0.0, sigma_angle_rad, p.shape)
    u_meas = u + d1[..., None] * e1 + d2[..., None] * e2
    u_meas /= np.sqrt(np.sum(u_meas**2, axis=-1))[..., None]
    p_meas = p * (1.0 + rel * rng.normal(size=p.shape))
    p3_meas = p_meas[..., None] * u_meas
    e_meas = np.sqrt(p_meas**2 + mass_gev**2)
    cov = (rel * p)[..., None, None] ** 2 * np.einsum("...i,...j->...ij", u, u) + (
        p * sigma_angle_rad
    )[..., None, None] ** 2 * (np.einsum("...i,...j->...ij", e1, e1) + np.einsum("...i,...j->...ij", e2, e2))
    return np.concatenate([e_meas[..., None], p3_meas], axis=-1), cov


def _orthonormal_basis(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors orthogonal to unit vectors ``u`` and to each other."""
    helper = np.where(np.abs(u[..., 2:3]) < 0.9, np.array([0.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0]))
    e1 = np.cross(u, helper)
    e1 /= np.sqrt(np.sum(e1**2, axis=-1))[..., None]
    e2 = np.cross(u, e1)
    return e1, e2


def identify_as_kaon(rng, species, eff_k=0.853, misid_pi=0.103, misid_lepton=0.02):
    """Kaon-ID decision [P]: K→K 85.3 %, π→K 10.3 %, lepton→K [T]."""
    prob = np.select([species == KAON, species == PION], [eff_k, misid_pi], misid_lepton)
    return rng.uniform(size=np.shape(species)) < prob


def identify_as_pion(rng, species, eff_pi=0.969, misid_k=0.013, misid_lepton=0.05):
    """Pion-ID decision [P]: π→π 96.9 %, K→π 1.3 %, lepton→π [T]."""
    prob = np.select([species == PION, species == KAON], [eff_pi, misid_k], misid_lepton)
    return rng.uniform(size=np.shape(species)) < prob


def passes_lepton_veto(rng, species, lepton_id_eff=0.90, fake_rate=0.005):
    """Lepton veto [P]: tracks identified as e/μ are rejected (ID efficiency [T])."""
    prob_id = np.where(species == LEPTON, lepton_id_eff, fake_rate)
    return rng.uniform(size=np.shape(species)) >= prob_id


# ---------------------------------------------------------------------- photons
def ecl_intersection_mm(vertex_mm, direction, barrel_radius_mm=1250.0, z_fwd_mm=1960.0, z_bwd_mm=-1020.0):
    """Point where a photon from ``vertex_mm`` along ``direction`` hits the ECL face.

    The ECL inner surface is a cylinder of radius 125 cm closed by end-cap planes at
    z = +196 cm and −102 cm [W].  Returns (position_mm, inside) where ``inside`` is
    False for vertices already beyond the ECL face (the photon is lost).
    """
    v = np.asarray(vertex_mm, dtype=float)
    norm = np.sqrt(np.sum(direction**2, axis=-1))[..., None]
    d = np.where(norm > 0, direction / np.where(norm > 0, norm, 1.0), np.array([0.0, 0.0, 1.0]))
    r2_v = v[..., 0] ** 2 + v[..., 1] ** 2
    inside = (r2_v < barrel_radius_mm**2) & (v[..., 2] < z_fwd_mm) & (v[..., 2] > z_bwd_mm)
    a = d[..., 0] ** 2 + d[..., 1] ** 2
    b = 2.0 * (v[..., 0] * d[..., 0] + v[..., 1] * d[..., 1])
    c = r2_v - barrel_radius_mm**2
    with np.errstate(invalid="ignore", divide="ignore"):
        t_barrel = (-b + np.sqrt(np.clip(b**2 - 4 * a * c, 0.0, None))) / (2.0 * a)
        t_barrel = np.where(a > 1e-12, t_barrel, np.inf)
        t_fwd = np.where(d[..., 2] > 0, (z_fwd_mm - v[..., 2]) / d[..., 2], np.inf)
        t_bwd = np.where(d[..., 2] < 0, (z_bwd_mm - v[..., 2]) / d[..., 2], np.inf)
    t = np.minimum(t_barrel, np.minimum(t_fwd, t_bwd))
    t = np.where(inside, t, 0.0)
    return v + t[..., None] * d, inside


def ecl_region(theta_deg: np.ndarray, fwd=(12.4, 31.4), barrel=(32.2, 128.7), bwd=(130.7, 155.1)):
    """ECL region code of a cluster polar angle [W]: 0 fwd, 1 barrel, 2 bwd, −1 gap."""
    return np.select(
        [
            (theta_deg > fwd[0]) & (theta_deg < fwd[1]),
            (theta_deg > barrel[0]) & (theta_deg < barrel[1]),
            (theta_deg > bwd[0]) & (theta_deg < bwd[1]),
        ],
        [0, 1, 2],
        -1,
    )


def photon_threshold_gev(region: np.ndarray, thresholds=(0.100, 0.050, 0.150)) -> np.ndarray:
    """Energy threshold per ECL region (fwd/barrel/bwd) [W]; +inf in the gaps."""
    return np.select([region == 0, region == 1, region == 2], list(thresholds), np.inf)


def photon_energy_resolution(e_gev: np.ndarray, a=0.00066, b=0.0081, c=0.0134) -> np.ndarray:
    """Relative energy resolution σ_E/E = a/E ⊕ b/E^¼ ⊕ c (E in GeV) [W]."""
    e = np.clip(e_gev, 1e-3, None)
    return np.sqrt((a / e) ** 2 + (b / e**0.25) ** 2 + c**2)


def photon_position_resolution_mm(e_gev: np.ndarray, a=0.27, b=3.4, c=1.8) -> np.ndarray:
    """Cluster position resolution σ_x = a + b/√E + c/E^¼ mm at the crystal face [W]."""
    e = np.clip(e_gev, 1e-3, None)
    return a + b / np.sqrt(e) + c / e**0.25


def found(rng, shape, efficiency: float) -> np.ndarray:
    """Bernoulli mask of objects a reconstruction step finds with probability ``efficiency``
    (track finding, photon reconstruction, the K_S finder)."""
    if not 0.0 <= efficiency <= 1.0:
        raise ValueError(f"efficiency must lie in [0, 1], got {efficiency}")
    return rng.uniform(size=shape) < efficiency


def beam_background_photons(rng, n, mean_clusters: float, energy_scale_gev: float):
    """Beam-background clusters of ``n`` events, lab frame [T].

    The number per event is Poisson(``mean_clusters``); each cluster points back to the
    IP with a direction uniform in cos θ and φ and an exponential energy spectrum of
    mean ``energy_scale_gev`` (soft photons from beam-gas and Touschek showers; the
    regional thresholds remove most of them).  Returns (p4 (n, K, 4), mask (n, K)) with
    K the largest count drawn (at least 0).
    """
    counts = rng.poisson(mean_clusters, n)
    k = int(counts.max(initial=0))
    mask = np.arange(k)[None, :] < counts[:, None]
    e = rng.exponential(energy_scale_gev, (n, k))
    cos_t = rng.uniform(-1.0, 1.0, (n, k))
    phi = rng.uniform(0.0, 2.0 * np.pi, (n, k))
    sin_t = np.sqrt(1.0 - cos_t**2)
    p4 = np.stack([e, e * sin_t * np.cos(phi), e * sin_t * np.sin(phi), e * cos_t], axis=-1)
    return np.where(mask[..., None], p4, 0.0), mask


def smear_photons(rng, e_true, position_mm, tail_fraction=0.30, tail_scale=1.0, position_scale=1.0):
    """Measured energy and cluster position of photons.

    Energy: Gaussian core with :func:`photon_energy_resolution`; a fraction
    ``tail_fraction`` of showers [T] additionally leaks an exponentially distributed
    energy with mean ``tail_scale``·σ_E (rear/lateral leakage and material in front of
    the ECL), which gives the low-side tail the double-sided Crystal Ball describes.
    Position: Gaussian of ``position_scale`` × :func:`photon_position_resolution_mm` [T]
    in the two directions transverse to the line of flight from the IP (the scale is the
    in-situ resolution relative to the spec's test-beam formula; it also scales the
    reported errors).
    Returns (e_meas, position_meas, sigma_e, sigma_theta, sigma_phi).
    """
    rel = photon_energy_resolution(e_true)
    sigma_e = rel * e_true
    leak = np.where(rng.uniform(size=e_true.shape) < tail_fraction, rng.exponential(1.0, e_true.shape), 0.0)
    e_meas = e_true + sigma_e * (rng.normal(size=e_true.shape) - tail_scale * leak)
    sigma_x = position_scale * photon_position_resolution_mm(e_true)
    r = np.sqrt(np.sum(position_mm**2, axis=-1))
    u = position_mm / r[..., None]
    e1, e2 = _orthonormal_basis(u)
    pos = (
        position_mm
        + (sigma_x * rng.normal(size=e_true.shape))[..., None] * e1
        + (sigma_x * rng.normal(size=e_true.shape))[..., None] * e2
    )
    r_xy = np.hypot(position_mm[..., 0], position_mm[..., 1])
    sigma_theta = sigma_x / r
    sigma_phi = sigma_x / np.clip(r_xy, 1.0, None)
    return np.clip(e_meas, 1e-4, None), pos, sigma_e, sigma_theta, sigma_phi


def cluster_shape(rng, e_gev, category, params=None):
    """Cluster-shape quantities per photon category [T].

    Returns (e9_over_e21, e_max_gev, crystal_weight_sum) drawn from Beta/Poisson
    parametrisations that differ for isolated photons, photons with a nearby partner
    and hadronic split-offs.
    """
    p = {
        "e9e21": {ISOLATED: (40.0, 2.0), NEARBY_PARTNER: (12.0, 3.0), SPLIT_OFF: (5.0, 3.0)},
        "emax": {ISOLATED: (16.0, 4.0), NEARBY_PARTNER: (8.0, 5.0), SPLIT_OFF: (3.0, 4.0)},
        "nweight": {ISOLATED: (5.0, 4.0), NEARBY_PARTNER: (8.0, 6.0), SPLIT_OFF: (3.0, 2.0)},
    }
    if params:
        p.update(params)
    shape = np.shape(category)

    def pick(table, idx):
        return np.select([category == k for k in (0, 1, 2)], [table[k][idx] for k in (0, 1, 2)])

    e9e21 = rng.beta(pick(p["e9e21"], 0), pick(p["e9e21"], 1), size=shape)
    e_max = e_gev * rng.beta(pick(p["emax"], 0), pick(p["emax"], 1), size=shape)
    nweight = pick(p["nweight"], 0) + rng.poisson(pick(p["nweight"], 1) * np.clip(e_gev, 0.01, None) ** 0.3)
    return e9e21, e_max, nweight.astype(float)
