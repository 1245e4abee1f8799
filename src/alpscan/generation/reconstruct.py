"""Detector simulation and reconstruction of B → K(*)γγ candidates: the candidate table
(best kinematic-fit χ²) and the photon-pair table for the π⁰/η veto (GeV, mm).

Design notes: docs/generation.md.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from alpscan.generation import detector as det
from alpscan.generation.events import PARENT_OTHER, PARENT_SPLIT, TruthEvents
from alpscan.physics import event_shape
from alpscan.physics.constants import mass_gev
from alpscan.physics.kinematics import boost, cos_angle, mass
from alpscan.physics.kinfit import PhotonMeasurement, fit_b_mass_constraint

#: default box (GeV) of the preselection [T]
DEFAULT_BOX = {"mbc_min": 5.27, "de_min": -0.20, "de_max": 0.10}


def _photon_angles(p3):
    r = np.linalg.norm(p3, axis=-1)
    theta = np.arccos(np.clip(p3[..., 2] / np.where(r > 0, r, 1), -1, 1))
    phi = np.arctan2(p3[..., 1], p3[..., 0])
    return theta, phi


@njit(cache=True)
def _has_nearby_photon(u, detected, cos_max):
    """True for detected photons with another detected photon within the angle
    whose cosine is ``cos_max`` (numba loop over events and photon pairs)."""
    n_ev, n_ph = detected.shape
    out = np.zeros((n_ev, n_ph), dtype=np.bool_)
    for e in range(n_ev):
        for i in range(n_ph):
            if not detected[e, i]:
                continue
            for j in range(i + 1, n_ph):
                if detected[e, j]:
                    c = u[e, i, 0] * u[e, j, 0] + u[e, i, 1] * u[e, j, 1] + u[e, i, 2] * u[e, j, 2]
                    if c > cos_max:
                        out[e, i] = True
                        out[e, j] = True
    return out


def detect_photons(rng, p4_lab, vertex_mm, mask, split, detector):
    """Detector response for a padded photon list (N, P).

    Returns a dict of measured lab quantities, the ``detected`` mask and cluster
    shapes.  Photons from vertices beyond the ECL face, in the gaps or below the
    regional threshold are not detected.
    """
    direction = p4_lab[..., 1:] / np.clip(p4_lab[..., 0:1], 1e-12, None)
    pos, inside = det.ecl_intersection_mm(vertex_mm, direction)
    region = det.ecl_region(det.polar_angle_deg(pos))
    e_meas, pos_meas, s_e, s_t, s_p = det.smear_photons(
        rng,
        p4_lab[..., 0],
        pos,
        detector["photon_tail_fraction"],
        detector["photon_tail_scale"],
        detector["photon_position_scale"],
    )
    thr = det.photon_threshold_gev(region, detector["photon_thresholds_gev"])
    # photon reconstruction and cluster quality [W/T]: conversions in the material before
    # the ECL, cluster-track matching and the cluster-quality requirements lose photons
    reco = det.found(rng, mask.shape, detector["photon_efficiency"])
    detected = mask & inside & (region >= 0) & (e_meas > thr) & reco
    u = pos_meas / np.linalg.norm(pos_meas, axis=-1, keepdims=True)
    p4_meas = np.concatenate([e_meas[..., None], e_meas[..., None] * u], axis=-1)
    # cluster-shape category: split-off, nearby partner (another photon within the
    # merging angle), isolated
    nearby = _has_nearby_photon(u, detected, np.cos(detector["nearby_angle_rad"]))
    category = np.where(split, det.SPLIT_OFF, np.where(nearby, det.NEARBY_PARTNER, det.ISOLATED))
    e9e21, e_max, nweight = det.cluster_shape(rng, e_meas, category)
    return {
        "p4": p4_meas,
        "sigma_e": s_e,
        "sigma_theta": s_t,
        "sigma_phi": s_p,
        "detected": detected,
        "region": region,
        "category": category,
        "e9e21": e9e21,
        "e_max": e_max,
        "nweight": nweight,
    }


def reconstruct(rng, ev: TruthEvents, mode: str, beam: dict, detector: dict, box: dict):
    """Reconstruct events of one mode; returns (candidate columns, pair columns).

    ``beam`` holds ``sqrt_s`` (GeV), ``beta_cm`` (3-vector) and optionally
    ``sqrt_s_ref`` (the on-resonance √s): off-resonance events have their c.m.
    energies and momenta scaled by √s_ref/√s before M_bc and ΔE are computed, as
    Belle does, so that the same box applies.  Candidates outside ``box`` are dropped.
    """
    beta = np.asarray(beam["beta_cm"])
    scale = beam.get("sqrt_s_ref", beam["sqrt_s"]) / beam["sqrt_s"]
    e_beam = 0.5 * beam["sqrt_s"] * scale
    n = ev.n
    m_pi, m_k = mass_gev("pi+"), mass_gev("K+")

    # ---------------------------------------------------------------- K(*) tracks
    k_lab = det.cm_to_lab(ev.k_p4, beta)
    is_k_slot = np.zeros_like(ev.k_mask)
    if mode in ("Kp", "Kst0"):
        is_k_slot[:, 0] = True
    hyp_mass = np.where(is_k_slot, m_k, m_pi)
    k_meas, k_cov = det.smear_tracks(rng, k_lab, hyp_mass, **detector["track_resolution"])
    acc = det.track_in_acceptance(k_lab[..., 1:], *detector["track_theta_deg"], detector["track_pt_min_gev"])
    # track finding [W]: every track of the K(*) system must be found
    trk_found = det.found(rng, ev.k_mask.shape, detector["track_finding_efficiency"])
    ok = np.all((acc & trk_found) | ~ev.k_mask, axis=1)
    veto = det.passes_lepton_veto(rng, ev.k_species)
    ok &= np.all(veto | ~ev.k_mask, axis=1)
    kid = det.identify_as_kaon(rng, ev.k_species)
    piid = det.identify_as_pion(rng, ev.k_species)
    if mode == "Kp":
        ok &= kid[:, 0]
    elif mode == "Kst0":
        ok &= kid[:, 0] & piid[:, 1]
    elif mode == "Kstp":
        ok &= piid[:, 2]
    k_meas = np.where(ev.k_mask[..., None], k_meas, 0.0)
    k_cov = np.where(ev.k_mask[..., None, None], k_cov, 0.0)
    k_sys_lab = k_meas.sum(axis=1)
    k_sys_cov = k_cov.sum(axis=1)
    if mode in ("K0S", "Kstp"):
        ks = k_meas[:, 0] + k_meas[:, 1]
        ok &= np.abs(mass(ks) - mass_gev("K0S")) < detector["ks_mass_window_gev"]
        # the K_S finder (neural network on the displaced vertex) [W]
        ok &= det.found(rng, n, detector["ks_finder_efficiency"])
        ok &= (ev.ks_flight_mm > detector["ks_flight_mm"][0]) & (ev.ks_flight_mm < detector["ks_flight_mm"][1])
    m_ksys = mass(k_sys_lab)
    if mode in ("Kst0", "Kstp"):
        lo, hi = detector["kstar_mass_window_gev"]
        ok &= (m_ksys > lo) & (m_ksys < hi)
    # drop events without a K(*) candidate before the (costlier) photon simulation
    kept = np.nonzero(ok)[0]
    ev = ev.select(ok)
    k_meas, k_cov, k_sys_lab, k_sys_cov, m_ksys = (x[ok] for x in (k_meas, k_cov, k_sys_lab, k_sys_cov, m_ksys))
    n = ev.n
    ok = np.ones(n, dtype=bool)

    # -------------------------------------------------------------------- photons
    # beam-background clusters [T] join the event's photons (parent "other", no sibling)
    bb = detector["beam_background"]
    bg_lab, bg_mask = det.beam_background_photons(rng, n, bb["mean_clusters"], bb["energy_scale_gev"])
    n_bg = bg_mask.shape[1]
    p_all = np.concatenate([ev.a_p4, ev.g_p4, det.lab_to_cm(bg_lab, beta)], axis=1)
    n_ph = p_all.shape[1]
    mask_all = np.concatenate([np.ones((n, 2), bool), ev.g_mask, bg_mask], axis=1)
    vertex = np.zeros((n, n_ph, 3))
    vertex[:, :2] = ev.a_vertex_mm[:, None, :]
    split = np.concatenate([ev.a_parent == PARENT_SPLIT, ev.g_split, np.zeros((n, n_bg), bool)], axis=1)
    parent = np.concatenate([ev.a_parent, ev.g_parent, np.full((n, n_bg), PARENT_OTHER, ev.g_parent.dtype)], axis=1)
    sibling = np.concatenate([ev.a_sibling, ev.g_sibling, np.full((n, n_bg), -1, ev.g_sibling.dtype)], axis=1)
    ph = detect_photons(rng, det.cm_to_lab(p_all, beta), vertex, mask_all, split, detector)
    ph_cm = scale * det.lab_to_cm(ph["p4"], beta)
    det_ph = ph["detected"]

    # ---------------------------------------------- all K(*)γγ combinations in box
    k_cm = scale * det.lab_to_cm(k_sys_lab, beta)
    # candidate photon index pairs: (0,1) and swaps (g,1), (0,g)
    idx1 = np.concatenate([[0], np.arange(2, n_ph), np.zeros(n_ph - 2, int)])
    idx2 = np.concatenate([[1], np.ones(n_ph - 2, int), np.arange(2, n_ph)])
    b_cm = k_cm[:, None, :] + ph_cm[:, idx1] + ph_cm[:, idx2]
    mbc = np.sqrt(np.clip(e_beam**2 - np.sum(b_cm[..., 1:] ** 2, axis=-1), 0, None))
    de = b_cm[..., 0] - e_beam
    valid = det_ph[:, idx1] & det_ph[:, idx2] & ok[:, None]
    in_box = valid & (mbc > box["mbc_min"]) & (de > box["de_min"]) & (de < box["de_max"])
    n_cand = in_box.sum(axis=1)
    ev_idx, combo = np.nonzero(in_box)

    # ----------------------------------------------------- kinematic fit of combos
    i1, i2 = idx1[combo], idx2[combo]
    g1_lab, g2_lab = ph["p4"][ev_idx, i1], ph["p4"][ev_idx, i2]
    th1, ph1 = _photon_angles(g1_lab[:, 1:])
    th2, ph2 = _photon_angles(g2_lab[:, 1:])
    gamma = [
        PhotonMeasurement(
            e=g[:, 0],
            theta=t,
            phi=p,
            sigma_e=ph["sigma_e"][ev_idx, i],
            sigma_theta=ph["sigma_theta"][ev_idx, i],
            sigma_phi=ph["sigma_phi"][ev_idx, i],
        )
        for g, t, p, i in ((g1_lab, th1, ph1, i1), (g2_lab, th2, ph2, i2))
    ]
    m_b = mass_gev("B+" if mode in ("Kp", "Kstp") else "B0")
    # the fit's error model [T]: the K(*) covariance it assumes is the true one times
    # kinfit_k_error_scale² (calibrated to Belle's σ_R by ``python -m alpscan.tune``)
    fit_k_cov = detector["kinfit_k_error_scale"] ** 2 * k_sys_cov[ev_idx]
    fit = fit_b_mass_constraint(
        k_sys_lab[ev_idx, 1:], m_ksys[ev_idx], fit_k_cov, gamma[0], gamma[1], m_b, full_cov=False
    )
    chi2 = np.where(fit.converged, fit.chi2, np.inf)
    # best χ² per event (ties → first): sort by (event, χ²)
    order = np.lexsort((chi2, ev_idx))
    first = np.ones(order.size, bool)
    first[1:] = ev_idx[order][1:] != ev_idx[order][:-1]
    best = order[first]
    sel_ev = ev_idx[best]
    c1, c2 = i1[best], i2[best]
    if sel_ev.size == 0:
        return {}, {}

    out = {
        "event_index": kept[sel_ev],
        "n_cand": n_cand[sel_ev],
        "mbc": mbc[sel_ev, combo[best]],
        "delta_e": de[sel_ev, combo[best]],
        "chi2_kinfit": fit.chi2[best],
        "kinfit_ok": fit.converged[best],
        "m_gg": mass(fit.gamma1_p4[best] + fit.gamma2_p4[best]),
        "m_gg_raw": mass(ph["p4"][sel_ev, c1] + ph["p4"][sel_ev, c2]),
        "m_k_system": m_ksys[sel_ev],
        "truth_match": (c1 == 0) & (c2 == 1),
    }
    g1_cm, g2_cm = ph_cm[sel_ev, c1], ph_cm[sel_ev, c2]
    for j, (c, g) in enumerate(((c1, g1_cm), (c2, g2_cm)), start=1):
        out[f"e_gamma{j}_cm"] = g[:, 0]
        out[f"e9e21_gamma{j}"] = ph["e9e21"][sel_ev, c]
        out[f"emax_gamma{j}"] = ph["e_max"][sel_ev, c]
        out[f"nweight_gamma{j}"] = ph["nweight"][sel_ev, c]
        out[f"region_gamma{j}"] = ph["region"][sel_ev, c]
        out[f"parent_gamma{j}"] = parent[sel_ev, c]
    a_cm = g1_cm + g2_cm
    b_sel = b_cm[sel_ev, combo[best]]
    out["cos_hel_a"] = _helicity_cos(g1_cm, a_cm, b_sel)
    out["cos_hel_b"] = _helicity_cos(a_cm, b_sel, np.array([2.0 * e_beam, 0.0, 0.0, 0.0]))
    out["gamma_energy_asym"] = np.abs(g1_cm[:, 0] - g2_cm[:, 0]) / (g1_cm[:, 0] + g2_cm[:, 0])

    # -------------------------------------------------------------- event shapes
    k_tr_cm = scale * det.lab_to_cm(k_meas[sel_ev], beta)
    sig_p3 = np.concatenate([k_tr_cm[..., 1:], g1_cm[:, None, 1:], g2_cm[:, None, 1:]], axis=1)
    sig_mask = np.concatenate([ev.k_mask[sel_ev], np.ones((sel_ev.size, 2), bool)], axis=1)
    sig_charge = np.concatenate([ev.k_charge[sel_ev], np.zeros((sel_ev.size, 2), int)], axis=1)
    t_lab = det.cm_to_lab(ev.t_p4[sel_ev], beta)
    t_det = (
        ev.t_mask[sel_ev]
        & det.track_in_acceptance(t_lab[..., 1:], *detector["track_theta_deg"], detector["track_pt_min_gev"])
        & det.found(rng, t_lab.shape[:-1], detector["track_finding_efficiency"])
    )
    t_meas, _ = det.smear_tracks(rng, t_lab, np.where(ev.t_species[sel_ev] == det.KAON, m_k, m_pi))
    t_cm = scale * det.lab_to_cm(t_meas, beta)
    roe_ph = det_ph[sel_ev].copy()
    rows = np.arange(sel_ev.size)
    roe_ph[rows, c1] = False
    roe_ph[rows, c2] = False
    roe_p3 = np.concatenate([t_cm[..., 1:], ph_cm[sel_ev][..., 1:]], axis=1)
    roe_mask = np.concatenate([t_det, roe_ph], axis=1)
    roe_charge = np.concatenate([ev.t_charge[sel_ev], np.zeros(roe_ph.shape, int)], axis=1)
    shapes = event_shape.event_shape_table(
        sig_p3, sig_mask, sig_charge, roe_p3, roe_mask, roe_charge, 2.0 * e_beam, e_beam, out["delta_e"]
    )
    # shapes undefined for an empty rest of event (NaN in event_shape) are set to 0,
    # so every downstream consumer sees finite values
    out.update({k: np.nan_to_num(np.asarray(v, dtype=float), nan=0.0) for k, v in shapes.items()})

    # ---------------------------------------------------------------- pair table
    pairs = _pair_table(sel_ev, c1, c2, ph, ph_cm, det_ph, parent, sibling)
    return out, pairs


def _helicity_cos(daughter_p4, parent_p4, grandparent_p4):
    """cos of the angle between a daughter and the grandparent direction, in the
    parent rest frame (the standard helicity angle)."""
    beta = parent_p4[..., 1:] / parent_p4[..., 0:1]
    d = boost(daughter_p4, -beta)
    g = boost(np.broadcast_to(grandparent_p4, parent_p4.shape), -beta)
    return cos_angle(d[..., 1:], -g[..., 1:])


def _pair_table(sel_ev, c1, c2, ph, ph_cm, det_ph, parent, sibling):
    """Each chosen a photon × every other detected photon (the candidate partner
    excluded), with the diphoton kinematics and cluster shapes of the partner."""
    n_sel, n_ph = sel_ev.size, det_ph.shape[1]
    cols = {}
    parts = []
    for j, (c, other) in enumerate(((c1, c2), (c2, c1))):
        partner = det_ph[sel_ev].copy()
        rows = np.arange(n_sel)
        partner[rows, c] = False
        partner[rows, other] = False
        r, q = np.nonzero(partner)
        a_idx = c[r]
        ev = sel_ev[r]
        ga = ph["p4"][ev, a_idx]
        gq = ph["p4"][ev, q]
        pair = ga + gq
        parts.append(
            {
                "row": r,
                "a_index": np.full(r.size, j),
                "m_pair": mass(pair),
                "e_partner": gq[:, 0],
                "e_pair": pair[:, 0],
                "cos_open": cos_angle(ga[:, 1:], gq[:, 1:]),
                "pt_pair": np.hypot(pair[:, 1], pair[:, 2]),
                "e_asym": np.abs(ga[:, 0] - gq[:, 0]) / pair[:, 0],
                "e9e21_partner": ph["e9e21"][ev, q],
                "emax_partner": ph["e_max"][ev, q],
                "nweight_partner": ph["nweight"][ev, q],
                "region_partner": ph["region"][ev, q],
                "same_parent": sibling[ev, a_idx] == q,
                "a_parent": parent[ev, a_idx],
                "partner_parent": parent[ev, q],
            }
        )
    for key in parts[0]:
        cols[key] = np.concatenate([p[key] for p in parts])
    return cols
