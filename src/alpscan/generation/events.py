"""Truth-level event generation in the c.m. frame (GeV, mm): signal, peaking and X_sγ B decays
and the combinatorial continuum and BB̄ backgrounds, as :class:`TruthEvents`.

Design notes: docs/generation.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from alpscan.generation.detector import KAON, LEPTON, PION
from alpscan.generation.phase_space import rambo_in_frame
from alpscan.physics.constants import ctau_mm, mass_gev, width_gev
from alpscan.physics.kinematics import (
    beta_of,
    boost,
    four_vector,
    random_unit_vectors,
    two_body_decay,
    two_body_momentum,
    unit_vectors,
)

# Hadron species inside generic fragmentation / B decays.
H_PI_CH, H_K_CH, H_PI0, H_ETA = 0, 1, 2, 3
# Photon parent codes.
PARENT_SAME, PARENT_PI0, PARENT_ETA, PARENT_SPLIT, PARENT_OTHER = 0, 1, 2, 3, 4

MODES = ("Kp", "K0S", "Kst0", "Kstp")


@dataclass
class TruthEvents:
    """Padded truth-level particles of N events (c.m. frame, GeV; vertices lab mm).

    Attributes
    ----------
    k_p4, k_species, k_charge, k_mask : (N, 3, ...) tracks of the K(*) system.
    ks_flight_mm : (N,) lab flight distance of the K_S (0 if none).
    a_p4 : (N, 2, 4) the two candidate ("a") photons.
    a_vertex_mm : (N, 3) production vertex of the candidate photons in the lab.
    a_parent : (N, 2) parent code of each candidate photon.
    g_p4, g_mask, g_parent, g_sibling : other photons; ``g_sibling`` indexes the
        combined photon list [a photons, other photons] (−1: no sibling).
    g_split : (N, G) bool, hadronic split-off photons.
    t_p4, t_mask, t_charge, t_species : other tracks.
    mother : (N,) B species of the signal side ("B+" → 1, "B0" → 0).
    """

    k_p4: np.ndarray
    k_species: np.ndarray
    k_charge: np.ndarray
    k_mask: np.ndarray
    ks_flight_mm: np.ndarray
    a_p4: np.ndarray
    a_vertex_mm: np.ndarray
    a_parent: np.ndarray
    a_sibling: np.ndarray
    g_p4: np.ndarray
    g_mask: np.ndarray
    g_parent: np.ndarray
    g_sibling: np.ndarray
    g_split: np.ndarray
    t_p4: np.ndarray
    t_mask: np.ndarray
    t_charge: np.ndarray
    t_species: np.ndarray
    truth: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return self.k_p4.shape[0]

    def select(self, keep: np.ndarray) -> "TruthEvents":
        """Sub-sample of events where ``keep`` is True."""
        out = {}
        for name in self.__dataclass_fields__:
            val = getattr(self, name)
            if name == "truth":
                out[name] = {k: v[keep] for k, v in val.items()}
            else:
                out[name] = val[keep]
        return TruthEvents(**out)


def concatenate_events(parts: list[TruthEvents]) -> TruthEvents:
    """Concatenate TruthEvents along events, padding particle axes."""
    parts = [p for p in parts if p.n > 0]
    out = {}
    for name in TruthEvents.__dataclass_fields__:
        if name == "truth":
            keys = parts[0].truth.keys()
            out[name] = {k: np.concatenate([p.truth[k] for p in parts]) for k in keys}
            continue
        arrays = [getattr(p, name) for p in parts]
        if arrays[0].ndim >= 2 and name not in ("a_vertex_mm",) and not name.startswith(("k_", "a_")):
            width = max(a.shape[1] for a in arrays)
            arrays = [_pad_axis1(a, width, name) for a in arrays]
        out[name] = np.concatenate(arrays)
    return TruthEvents(**out)


def _pad_axis1(a: np.ndarray, width: int, name: str) -> np.ndarray:
    if a.shape[1] == width:
        return a
    pad = [(0, 0), (0, width - a.shape[1])] + [(0, 0)] * (a.ndim - 2)
    fill = -1 if name == "g_sibling" else 0
    return np.pad(a, pad, constant_values=fill)


# --------------------------------------------------------------------- helpers
def sample_breit_wigner(rng, n, m0, width, lo, hi) -> np.ndarray:
    """Non-relativistic Breit–Wigner masses truncated to [lo, hi] GeV (inverse CDF)."""
    c_lo = np.arctan(2 * (lo - m0) / width)
    c_hi = np.arctan(2 * (hi - m0) / width)
    return m0 + 0.5 * width * np.tan(rng.uniform(c_lo, c_hi, n))


def sample_argus_mbc(rng, n, e_beam, lo, chi):
    """M_bc from an ARGUS shape m·√(1−x²)·exp(χ(1−x²)), x = m/E_beam, on [lo, E_beam]."""
    out = np.empty(0)
    xs = np.linspace(lo, e_beam, 512)
    dens = xs * np.sqrt(np.clip(1 - (xs / e_beam) ** 2, 0, None)) * np.exp(chi * (1 - (xs / e_beam) ** 2))
    fmax = dens.max() * 1.05
    while out.size < n:
        m = rng.uniform(lo, e_beam, 2 * n)
        x2 = (m / e_beam) ** 2
        f = m * np.sqrt(np.clip(1 - x2, 0, None)) * np.exp(chi * (1 - x2))
        out = np.concatenate([out, m[rng.uniform(0, fmax, m.size) < f]])
    return out[:n]


def sample_linear(rng, n, lo, hi, slope):
    """Samples of a density ∝ max(1 + slope·x, 0) on [lo, hi] (x in GeV).

    The density is defined in absolute x, so a narrower range is exactly the
    restriction of a wider one (the property the restricted-box generation needs).
    """
    f_max = max(1 + slope * lo, 1 + slope * hi)
    out = np.empty(0)
    while out.size < n:
        x = rng.uniform(lo, hi, 2 * n)
        f = np.clip(1 + slope * x, 0, None)
        out = np.concatenate([out, x[rng.uniform(0, f_max, x.size) < f]])
    return out[:n]


def sample_exponential_truncated(rng, n, scale, lo, hi):
    """Exponential with ``scale`` (GeV) truncated to [lo, hi] per event."""
    lo = np.broadcast_to(lo, (n,))
    hi = np.broadcast_to(hi, (n,))
    u = rng.uniform(size=n)
    a, b = np.exp(-lo / scale), np.exp(-hi / scale)
    return -scale * np.log(a - u * (a - b))


def rotate_to_axis(v_local: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Rotate vectors given in a frame whose z axis is ``axis`` into the global frame."""
    helper = np.where(np.abs(axis[..., 2:3]) < 0.9, np.array([0.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0]))
    e1 = np.cross(axis, helper)
    e1 /= np.linalg.norm(e1, axis=-1, keepdims=True)
    e2 = np.cross(axis, e1)
    return v_local[..., 0:1] * e1 + v_local[..., 1:2] * e2 + v_local[..., 2:3] * axis


def hadron_masses() -> np.ndarray:
    """Masses (GeV) of the generic hadron species H_PI_CH, H_K_CH, H_PI0, H_ETA."""
    return np.array([mass_gev("pi+"), mass_gev("K+"), mass_gev("pi0"), mass_gev("eta")])


def sample_species(rng, shape, fractions) -> np.ndarray:
    """Hadron species codes with probabilities ``fractions`` (π±, K±, π⁰, η)."""
    f = np.asarray(fractions, dtype=float)
    return np.searchsorted(np.cumsum(f / f.sum()), rng.uniform(size=shape), side="right").clip(0, 3)


def fragment(rng, parent_p4, n_particles, fractions):
    """RAMBO decay of ``parent_p4`` into ``n_particles`` hadrons (fixed count).

    Returns (hadron_p4 (N, n, 4), species (N, n)).  Events whose mass is too small
    for the drawn species get pions only (the lightest assignment).
    """
    n_ev = parent_p4.shape[0]
    species = sample_species(rng, (n_ev, n_particles), fractions)
    masses = hadron_masses()[species]
    m_parent = np.sqrt(np.clip(parent_p4[:, 0] ** 2 - np.sum(parent_p4[:, 1:] ** 2, axis=1), 0, None))
    too_heavy = masses.sum(axis=1) >= 0.98 * m_parent
    species[too_heavy] = H_PI_CH
    masses = hadron_masses()[species]
    return rambo_in_frame(rng, parent_p4, masses), species


def fragment_variable(rng, parent_p4, multiplicity, fractions):
    """Like :func:`fragment` with a per-event multiplicity (padded output + mask).

    Loops only over the few distinct multiplicity values, never over events.
    """
    n_ev = parent_p4.shape[0]
    m_parent = np.sqrt(np.clip(parent_p4[:, 0] ** 2 - np.sum(parent_p4[:, 1:] ** 2, axis=1), 0, None))
    # never ask for more pions than the mass allows
    multiplicity = np.clip(np.minimum(multiplicity, (0.9 * m_parent / 0.1396).astype(int)), 2, None)
    n_max = int(multiplicity.max())
    p4 = np.zeros((n_ev, n_max, 4))
    species = np.full((n_ev, n_max), -1)
    for k in np.unique(multiplicity):
        sel = multiplicity == k
        p, s = fragment(rng, parent_p4[sel], int(k), fractions)
        p4[sel, :k] = p
        species[sel, :k] = s
    return p4, species


def decay_neutral_hadrons(rng, p4, species):
    """Decay π⁰ and η (→ γγ) hadrons isotropically; charged hadrons become tracks.

    Returns tracks (p4, mask, species code PION/KAON, random charge) and photons
    (p4 (N, 2P, 4), mask, parent code, sibling index local to this photon block).
    """
    n_ev, n_h = species.shape
    neutral = (species == H_PI0) | (species == H_ETA)
    direction = random_unit_vectors(rng, (n_ev, n_h))
    safe = np.where(neutral[..., None], p4, np.array([1.0, 0.0, 0.0, 0.0]))
    g1, g2 = two_body_decay(safe, 0.0, 0.0, direction)
    photons = np.stack([g1, g2], axis=2).reshape(n_ev, 2 * n_h, 4)
    g_mask = np.repeat(neutral, 2, axis=1)
    parent = np.repeat(np.where(species == H_ETA, PARENT_ETA, PARENT_PI0), 2, axis=1)
    idx = np.arange(2 * n_h)
    sibling = np.broadcast_to(idx ^ 1, (n_ev, 2 * n_h)).copy()
    sibling[~g_mask] = -1
    t_mask = (species == H_PI_CH) | (species == H_K_CH)
    t_species = np.where(species == H_K_CH, KAON, PION)
    t_charge = np.where(rng.uniform(size=(n_ev, n_h)) < 0.5, 1, -1)
    return (p4, t_mask, t_species, t_charge), (photons, g_mask, parent, sibling)


def partner_photon(rng, k_p4, parent_mass_gev):
    """Sibling photon of a photon ``k_p4`` that came from a parent of the given mass.

    The parent energy follows from the photon energy fraction z ~ U(0.02, 0.98)
    (flat for an isotropic spin-0 → γγ decay); the opening angle then follows from
    m² = 2 E_γ (E_P − |P| cos θ), and the sibling is P − k (massless, exact).
    """
    n = k_p4.shape[0]
    e_g = k_p4[:, 0]
    z = rng.uniform(0.02, 0.98, n)
    m = np.asarray(parent_mass_gev, dtype=float)
    e_min = m / np.sqrt(1.0 - (2 * z - 1) ** 2) * 1.0001
    e_p = np.maximum(e_g / z, e_min)
    p_p = np.sqrt(e_p**2 - m**2)
    cos_t = np.clip((e_p - m**2 / (2 * e_g)) / p_p, -1.0, 1.0)
    local = unit_vectors(cos_t, rng.uniform(0, 2 * np.pi, n))
    axis = k_p4[:, 1:] / e_g[:, None]
    p_dir = rotate_to_axis(local, axis)
    parent = np.concatenate([e_p[:, None], p_p[:, None] * p_dir], axis=1)
    return parent - k_p4


# ------------------------------------------------------------------ K(*) system
def decay_k_system(rng, mode, k_p4, beta_cm, k_species_first=None):
    """Decay the K(*) system of ``mode`` into its tracks (c.m. frame).

    ``k_p4`` carries the K(*) system's four-momentum (its mass is the K or the
    K* Breit–Wigner mass).  Returns the K-system fields of :class:`TruthEvents`:
    ``k_p4`` (tracks p4 (N,3,4)), ``k_species``, ``k_charge``, ``k_mask``,
    ``ks_flight_mm`` (K_S lab flight distance mm).  Sub-decays: K*⁰ → K⁺π⁻, K*⁺ → K_S π⁺,
    K_S → π⁺π⁻ (the branching fractions of the chains are applied to the
    efficiency, not generated).
    """
    n = k_p4.shape[0]
    tracks = np.zeros((n, 3, 4))
    species = np.zeros((n, 3), dtype=int)
    charge = np.zeros((n, 3), dtype=int)
    mask = np.zeros((n, 3), dtype=bool)
    flight = np.zeros(n)
    m_pi, m_k, m_ks = mass_gev("pi+"), mass_gev("K+"), mass_gev("K0S")
    first = np.full(n, KAON) if k_species_first is None else k_species_first

    def ks_decay(ks_p4):
        d1, d2 = two_body_decay(ks_p4, m_pi, m_pi, random_unit_vectors(rng, (ks_p4.shape[0],)))
        lab = boost(ks_p4, beta_cm)
        bg = np.linalg.norm(lab[:, 1:], axis=1) / m_ks
        return d1, d2, bg * ctau_mm("K0S") * rng.exponential(size=ks_p4.shape[0])

    if mode == "Kp":
        tracks[:, 0] = k_p4
        species[:, 0], charge[:, 0], mask[:, 0] = first, 1, True
    elif mode == "K0S":
        d1, d2, flight = ks_decay(k_p4)
        tracks[:, 0], tracks[:, 1] = d1, d2
        species[:, :2], charge[:, 0], charge[:, 1], mask[:, :2] = PION, 1, -1, True
    elif mode == "Kst0":
        cos_h = _cos2_helicity(rng, n)
        k, pi = _helicity_decay(rng, k_p4, m_k, m_pi, cos_h)
        tracks[:, 0], tracks[:, 1] = k, pi
        species[:, 0], species[:, 1] = first, PION
        charge[:, 0], charge[:, 1], mask[:, :2] = 1, -1, True
    elif mode == "Kstp":
        cos_h = _cos2_helicity(rng, n)
        ks, pi = _helicity_decay(rng, k_p4, m_ks, m_pi, cos_h)
        d1, d2, flight = ks_decay(ks)
        tracks[:, 0], tracks[:, 1], tracks[:, 2] = d1, d2, pi
        species[:, :3] = PION
        charge[:, 0], charge[:, 1], charge[:, 2], mask[:, :3] = 1, -1, 1, True
    else:
        raise ValueError(f"unknown mode {mode!r}; expected one of {MODES}")
    return dict(k_p4=tracks, k_species=species, k_charge=charge, k_mask=mask, ks_flight_mm=flight)


def _cos2_helicity(rng, n):
    """cos θ_hel ∝ cos²θ (longitudinal vector meson from a spin-0 → 1 + 0 decay)."""
    u = rng.uniform(-1, 1, n)
    return np.sign(u) * np.abs(u) ** (1.0 / 3.0)


def _helicity_decay(rng, parent_p4, m1, m2, cos_h):
    """Two-body decay with daughter-1 helicity angle ``cos_h`` w.r.t. the parent's flight."""
    axis = parent_p4[:, 1:] / np.linalg.norm(parent_p4[:, 1:], axis=1, keepdims=True)
    local = unit_vectors(cos_h, rng.uniform(0, 2 * np.pi, cos_h.size))
    return two_body_decay(parent_p4, m1, m2, rotate_to_axis(local, axis))


def k_system_mass(rng, mode, n, lo=0.70, hi=1.10):
    """True mass (GeV) of the K(*) system: K or K_S mass, K* Breit–Wigner."""
    if mode == "Kp":
        return np.full(n, mass_gev("K+"))
    if mode == "K0S":
        return np.full(n, mass_gev("K0S"))
    key = "Kst0" if mode == "Kst0" else "Kstp"
    return sample_breit_wigner(rng, n, mass_gev(key), width_gev(key), lo, hi)


def b_meson_for_mode(mode: str) -> str:
    """Signal-side B species of a mode: B⁺ for K⁺/K*⁺, B⁰ for K_S/K*⁰."""
    return "B+" if mode in ("Kp", "Kstp") else "B0"


# ------------------------------------------------------------ generic other B
def generic_b_decay(rng, b_p4, params):
    """Generic decay of the other B: RAMBO over 3–8 hadrons [T]."""
    mult = rng.integers(params["b_mult_min"], params["b_mult_max"] + 1, b_p4.shape[0])
    return fragment_variable(rng, b_p4, mult, params["b_species_fractions"])


def upsilon_to_bb(rng, n, sqrt_s, mode):
    """Υ(4S) → BB̄ at rest in the c.m.: (signal B p4, other B p4) with sin²θ angles."""
    m_b = mass_gev(b_meson_for_mode(mode))
    p = two_body_momentum(sqrt_s, m_b, m_b)
    # dN/dcosθ ∝ 1 − cos²θ by accept/reject (vectorised rounds)
    cos_t = np.empty(0)
    while cos_t.size < n:
        c = rng.uniform(-1, 1, 2 * n)
        cos_t = np.concatenate([cos_t, c[rng.uniform(size=c.size) < 1 - c**2]])
    direction = unit_vectors(cos_t[:n], rng.uniform(0, 2 * np.pi, n))
    b1 = four_vector(m_b, p * direction)
    b2 = four_vector(m_b, -p * direction)
    return b1, b2


def assemble_roe(track_blocks, photon_blocks, n_cand_photons=2):
    """Concatenate ROE blocks into the rest-of-event fields of :class:`TruthEvents`
    (``t_*``, ``g_*``; no photon split yet); photon sibling indices are shifted into the
    combined list."""
    t_p4 = np.concatenate([b[0] for b in track_blocks], axis=1)
    t_mask = np.concatenate([b[1] for b in track_blocks], axis=1)
    t_species = np.concatenate([b[2] for b in track_blocks], axis=1)
    t_charge = np.concatenate([b[3] for b in track_blocks], axis=1)
    offset = n_cand_photons
    g_parts, siblings = [], []
    for g in photon_blocks:
        sib = np.where(g[3] >= 0, g[3] + offset, -1)
        siblings.append(sib)
        g_parts.append(g)
        offset += g[0].shape[1]
    g_p4 = np.concatenate([g[0] for g in g_parts], axis=1)
    g_mask = np.concatenate([g[1] for g in g_parts], axis=1)
    g_parent = np.concatenate([g[2] for g in g_parts], axis=1)
    g_sibling = np.concatenate(siblings, axis=1)
    return dict(
        t_p4=t_p4,
        t_mask=t_mask,
        t_species=t_species,
        t_charge=t_charge,
        g_p4=g_p4,
        g_mask=g_mask,
        g_parent=g_parent,
        g_sibling=g_sibling,
        g_split=np.zeros(g_mask.shape, dtype=bool),
    )
