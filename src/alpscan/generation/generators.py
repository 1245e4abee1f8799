"""Sample generators: signal and peaking B decays, B → X_sγ, combinatorial qq̄/BB̄.

See :mod:`alpscan.generation.events` for the two generator families.  ``model`` is
the ``generation.model`` configuration slice ([T] toy parameters) and ``tune`` one
of ``generation.sim_tune`` / ``generation.data_tune`` (multiplicity, π⁰/η rates,
jet pT scale).  Every function is pure given the ``rng``.
"""

from __future__ import annotations

import numpy as np

from alpscan.generation.detector import KAON, LEPTON, PION
from alpscan.generation.events import (
    PARENT_ETA,
    PARENT_OTHER,
    PARENT_PI0,
    PARENT_SAME,
    PARENT_SPLIT,
    TruthEvents,
    assemble_roe,
    b_meson_for_mode,
    decay_k_system,
    decay_neutral_hadrons,
    fragment_variable,
    generic_b_decay,
    k_system_mass,
    partner_photon,
    random_unit_vectors,
    rotate_to_axis,
    sample_argus_mbc,
    sample_exponential_truncated,
    sample_linear,
    upsilon_to_bb,
)
from alpscan.generation.phase_space import rambo_in_frame
from alpscan.physics.constants import mass_gev
from alpscan.physics.kinematics import (
    boost,
    four_vector,
    two_body_decay,
    unit_vectors,
)


def _species_fractions(model, tune):
    f = np.array(model["species_fractions"], dtype=float)
    f[2:] *= tune["pi0_eta_rate_scale"]
    return f / f.sum()


def _b_params(model, tune):
    return {
        "b_mult_min": model["b_multiplicity"][0],
        "b_mult_max": model["b_multiplicity"][1],
        "b_species_fractions": _species_fractions(model, tune),
    }


def _photon_from_vertex_flight(rng, h_p4_cm, m_h, ctau_mm_value, beta_cm):
    """Lab decay vertex (mm) of a particle with proper decay length ``ctau_mm_value``."""
    n = h_p4_cm.shape[0]
    if ctau_mm_value <= 0:
        return np.zeros((n, 3)), np.zeros(n)
    lab = boost(h_p4_cm, beta_cm)
    p = np.linalg.norm(lab[:, 1:], axis=1)
    flight = p / m_h * ctau_mm_value * rng.exponential(size=n)
    return flight[:, None] * lab[:, 1:] / p[:, None], flight


def generate_b_to_k_h(rng, n, mode, m_h, ctau_mm_value, model, tune, sqrt_s, beta_cm, h_width=0.0):
    """B → K(*) h, h → γγ (signal ALP a, or peaking π⁰/η/η′/η_c) with a generic other B.

    ``m_h`` may be an array (uniform-mass samples).  ``ctau_mm_value`` > 0 makes h
    fly before decaying (long-lived ALP).  Four-momentum is conserved in every decay.
    """
    b_sig, b_other = upsilon_to_bb(rng, n, sqrt_s, mode)
    m_b = mass_gev(b_meson_for_mode(mode))
    m_h = np.broadcast_to(np.asarray(m_h, dtype=float), (n,)).copy()
    if h_width > 0:
        m_h = np.clip(m_h + 0.5 * h_width * np.tan(rng.uniform(-1.2, 1.2, n)), 0.01, None)
    hi = np.minimum(1.10, m_b - m_h - 0.005)
    m_k = k_system_mass(rng, mode, n, lo=0.70, hi=1.10)
    if mode in ("Kst0", "Kstp"):
        m_k = np.minimum(m_k, hi)
    k_sys, h = two_body_decay(b_sig, m_k, m_h, random_unit_vectors(rng, (n,)))
    k_system = decay_k_system(rng, mode, k_sys, beta_cm)
    g1, g2 = two_body_decay(h, 0.0, 0.0, random_unit_vectors(rng, (n,)))
    vertex, flight = _photon_from_vertex_flight(rng, h, m_h, ctau_mm_value, beta_cm)
    had, spec = generic_b_decay(rng, b_other, _b_params(model, tune))
    trk, pho = decay_neutral_hadrons(rng, had, spec)
    roe = assemble_roe([trk], [pho])
    return TruthEvents(
        **k_system,
        a_p4=np.stack([g1, g2], axis=1),
        a_vertex_mm=vertex,
        a_parent=np.full((n, 2), PARENT_SAME),
        a_sibling=np.tile([1, 0], (n, 1)),
        **roe,
        truth={"m_a_true": m_h, "flight_mm": flight, "b_sig_p4": b_sig},
    )


def generate_xsgamma(rng, n, mode, model, tune, sqrt_s, beta_cm):
    """B → X_sγ: hard photon + X_s → K(*) π⁰ (+π) ; the candidate pairs the hard photon
    with one photon of the X_s π⁰ (its sibling stays in the event)."""
    b_sig, b_other = upsilon_to_bb(rng, n, sqrt_s, mode)
    m_k = k_system_mass(rng, mode, n)
    m_pi0, m_pi = mass_gev("pi0"), mass_gev("pi+")
    lo, hi = model["xsgamma_mass_range"]
    m_xs = rng.uniform(np.maximum(lo, m_k + m_pi0 + m_pi + 0.02), hi)
    xs, gamma_hard = two_body_decay(b_sig, m_xs, 0.0, random_unit_vectors(rng, (n,)))
    masses = np.stack([m_k, np.full(n, m_pi0), np.full(n, m_pi)], axis=1)
    parts = rambo_in_frame(rng, xs, masses)
    k_system = decay_k_system(rng, mode, parts[:, 0], beta_cm)
    s1, s2 = two_body_decay(parts[:, 1], 0.0, 0.0, random_unit_vectors(rng, (n,)))
    extra_track = (parts[:, 2:3], np.ones((n, 1), bool), np.full((n, 1), PION), np.full((n, 1), -1))
    had, spec = generic_b_decay(rng, b_other, _b_params(model, tune))
    trk, pho = decay_neutral_hadrons(rng, had, spec)
    sib_block = (s2[:, None, :], np.ones((n, 1), bool), np.full((n, 1), PARENT_PI0), np.full((n, 1), -1))
    roe = assemble_roe([extra_track, trk], [sib_block, pho])
    roe["g_sibling"][:, 0] = 1  # the π⁰ sibling points at candidate photon 1
    return TruthEvents(
        **k_system,
        a_p4=np.stack([gamma_hard, s1], axis=1),
        a_vertex_mm=np.zeros((n, 3)),
        a_parent=np.tile([PARENT_OTHER, PARENT_PI0], (n, 1)),
        a_sibling=np.tile([-1, 2], (n, 1)),
        **roe,
        truth={"m_a_true": np.zeros(n), "flight_mm": np.zeros(n), "b_sig_p4": b_sig},
    )


def _candidate_k_species(rng, n, model):
    """True species of the K-like candidate track in combinatorial events [T]."""
    f = np.asarray(model["comb_k_species_fractions"], dtype=float)  # K, π, lepton
    u = rng.uniform(size=n) * f.sum()
    return np.where(u < f[0], KAON, np.where(u < f[0] + f[1], PION, LEPTON))


def generate_combinatorial(rng, n, mode, topology, model, tune, sqrt_s, beta_cm):
    """Continuum (``topology='jet'``) or generic BB̄ (``'sphere'``) events with a
    K(*)γγ candidate in the loose box (see :mod:`alpscan.generation.events`)."""
    parts, have = [], 0
    while have < n:
        ev = _combinatorial_round(rng, int(1.3 * (n - have)) + 16, mode, topology, model, tune, sqrt_s, beta_cm)
        parts.append(ev)
        have += ev.n
    from alpscan.generation.events import concatenate_events

    ev = concatenate_events(parts)
    return ev.select(np.arange(ev.n) < n)


def _combinatorial_round(rng, n, mode, topology, model, tune, sqrt_s, beta_cm):
    comb = model["combinatorial"][topology]
    e_beam = 0.5 * sqrt_s
    mbc = sample_argus_mbc(rng, n, e_beam, model["box"]["mbc_min"], comb["argus_chi"])
    de = sample_linear(rng, n, model["box"]["de_min"], model["box"]["de_max"], comb["de_slope"])
    e_cand = e_beam + de
    p_cand = np.sqrt(np.clip(e_beam**2 - mbc**2, 0, None))
    cand = np.concatenate([e_cand[:, None], p_cand[:, None] * random_unit_vectors(rng, (n,))], axis=1)
    m_cand = np.sqrt(e_cand**2 - p_cand**2)

    # thrust axis of the event: 1 + cos²θ for qq̄
    u = rng.uniform(-1, 1, 4 * n)
    cos_axis = u[rng.uniform(0, 2, u.size) < 1 + u**2][:n]
    while cos_axis.size < n:
        cos_axis = np.concatenate([cos_axis, rng.uniform(-1, 1, n - cos_axis.size)])
    axis = unit_vectors(cos_axis, rng.uniform(0, 2 * np.pi, n))

    if mode in ("Kst0", "Kstp"):
        m_k = rng.uniform(*model["comb_kstar_mass_range"], n)
    else:
        m_k = k_system_mass(rng, mode, n)
    # M_γγ: peaking (π⁰, η, η′ → γγ from one parent) or combinatorial
    peak_f = comb["peak_fractions"]
    peak_m = [mass_gev("pi0"), mass_gev("eta"), mass_gev("etap")]
    which = np.searchsorted(np.cumsum([peak_f["pi0"], peak_f["eta"], peak_f["etap"]]), rng.uniform(size=n), "right")
    m_max = m_cand - m_k - 0.005
    m_gg = sample_exponential_truncated(rng, n, comb["mgg_scale_gev"], model["mgg_min_gev"], m_max)
    same = which < 3
    m_gg[same] = np.take(peak_m, which[same])
    ok = m_gg < m_max

    # candidate → K(*) + X(γγ), axis aligned with the thrust axis for jets
    if topology == "jet":
        cos_k = 1.0 - rng.exponential(comb["alignment"], n)
        cos_k = np.clip(cos_k, -1, 1) * np.where(rng.uniform(size=n) < 0.5, 1, -1)
        k_dir = rotate_to_axis(unit_vectors(cos_k, rng.uniform(0, 2 * np.pi, n)), axis)
    else:
        k_dir = random_unit_vectors(rng, (n,))
    safe_m = np.where(ok, m_gg, 0.5 * m_max)
    k_sys, x = two_body_decay(cand, m_k, safe_m, k_dir)
    # X → γγ: isotropic for a single parent, asymmetric split otherwise
    a_iso = random_unit_vectors(rng, (n,))
    x_axis = x[:, 1:] / np.linalg.norm(x[:, 1:], axis=1, keepdims=True)
    c = rng.uniform(-1, 1, n)
    c_asym = np.sign(c) * np.abs(c) ** (1.0 / (1.0 + comb["photon_asymmetry"]))
    a_asym = rotate_to_axis(unit_vectors(c_asym, rng.uniform(0, 2 * np.pi, n)), x_axis)
    g1, g2 = two_body_decay(x, 0.0, 0.0, np.where(same[:, None], a_iso, a_asym))
    a_p4 = np.stack([g1, g2], axis=1)

    # parents of the candidate photons
    pf = dict(comb["photon_parent_fractions"])
    pf["pi0"] *= tune["pi0_eta_rate_scale"]
    pf["eta"] *= tune["pi0_eta_rate_scale"]
    cum = np.cumsum([pf["pi0"], pf["eta"], pf["split_off"], pf["other"]])
    codes = np.array([PARENT_PI0, PARENT_ETA, PARENT_SPLIT, PARENT_OTHER])
    a_parent = codes[np.searchsorted(cum / cum[-1], rng.uniform(size=(n, 2)), "right").clip(0, 3)]
    a_parent[same] = PARENT_SAME
    a_sibling = np.full((n, 2), -1)
    a_sibling[same] = [1, 0]
    sib_blocks = []
    sib_p4 = np.zeros((n, 2, 4))
    sib_mask = np.zeros((n, 2), dtype=bool)
    for j in range(2):  # the two candidate photons (fixed count, not events)
        has = (a_parent[:, j] == PARENT_PI0) | (a_parent[:, j] == PARENT_ETA)
        m_par = np.where(a_parent[:, j] == PARENT_ETA, mass_gev("eta"), mass_gev("pi0"))
        sib = partner_photon(rng, a_p4[:, j], m_par)
        sib_p4[:, j] = np.where(has[:, None], sib, 0.0)
        sib_mask[:, j] = has
        a_sibling[has, j] = 2 + j
    sib_parent = np.where(a_parent == PARENT_ETA, PARENT_ETA, PARENT_PI0)
    sib_sibling = np.where(sib_mask, np.array([0, 1]), -1)
    sib_blocks.append((sib_p4, sib_mask, sib_parent, sib_sibling - 2 * sib_mask))  # re-shifted below

    total = np.array([sqrt_s, 0.0, 0.0, 0.0])
    rest = total - cand - np.sum(sib_p4, axis=1)
    m_rest2 = rest[:, 0] ** 2 - np.sum(rest[:, 1:] ** 2, axis=1)
    m_rest = np.sqrt(np.clip(m_rest2, 0, None))
    ok &= (rest[:, 0] > 0) & (m_rest > model["min_rest_mass_gev"])

    k_species_first = _candidate_k_species(rng, n, model)
    k_system = decay_k_system(rng, mode, k_sys, beta_cm, k_species_first)
    if mode == "Kst0":
        k_system["k_species"][:, 1] = np.where(rng.uniform(size=n) < comb["kstar_pion_is_pion"], PION, KAON)

    fractions = _species_fractions(model, tune)
    mult_mean = model["jet_multiplicity_mean"] * tune["multiplicity_scale"]
    safe_rest = np.where(ok[:, None], rest, np.array([3.0, 0.0, 0.0, 0.0]))
    if topology == "jet":
        jm_lo, jm_hi = model["jet_mass_range_gev"]
        m_safe = np.sqrt(np.clip(safe_rest[:, 0] ** 2 - np.sum(safe_rest[:, 1:] ** 2, axis=1), 0, None))
        mj1 = np.minimum(rng.uniform(jm_lo, jm_hi, n) * tune["pt_scale"], 0.45 * m_safe)
        mj2 = np.minimum(rng.uniform(jm_lo, jm_hi, n) * tune["pt_scale"], 0.45 * m_safe)
        rest_axis = np.where(rng.uniform(size=(n, 1)) < 0.5, axis, -axis)
        j1, j2 = two_body_decay(safe_rest, mj1, mj2, rest_axis)
        blocks_t, blocks_g = [], []
        for jet, mj in ((j1, mj1), (j2, mj2)):
            mult = np.clip(1 + rng.poisson(mult_mean, n), 2, model["max_jet_multiplicity"])
            mult = np.minimum(mult, np.maximum(2, (mj / 0.14).astype(int)))
            had, spec = fragment_variable(rng, jet, mult, fractions)
            trk, pho = decay_neutral_hadrons(rng, had, spec)
            blocks_t.append(trk)
            blocks_g.append(pho)
    else:
        mult = np.clip(2 + rng.poisson(model["bb_multiplicity_mean"] * tune["multiplicity_scale"], n), 2, 14)
        had, spec = fragment_variable(rng, safe_rest, mult, fractions)
        trk, pho = decay_neutral_hadrons(rng, had, spec)
        blocks_t, blocks_g = [trk], [pho]

    sib_block = (sib_p4, sib_mask, sib_parent, np.where(sib_mask, np.array([0, 1]) - 2, -1))
    roe = assemble_roe(blocks_t, [sib_block] + blocks_g)
    # siblings of the candidate photons point back at candidate photons 0/1
    roe["g_sibling"][:, :2] = np.where(sib_mask, np.array([0, 1]), -1)
    ev = TruthEvents(
        **k_system,
        a_p4=a_p4,
        a_vertex_mm=np.zeros((n, 3)),
        a_parent=a_parent,
        a_sibling=a_sibling,
        **roe,
        truth={"m_a_true": np.where(same, m_gg, 0.0), "flight_mm": np.zeros(n), "b_sig_p4": cand},
    )
    return ev.select(ok)
