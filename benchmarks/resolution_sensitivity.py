"""Study: what sets σ_R of the signal peak after the B-mass-constrained kinematic fit.

The paper's σ_R (7.8 / 19.4 / 17.9 MeV at 0.16 / 1.9 / 4.5 GeV) is a fidelity aim of
the toy (spec §4).  The toy gets about 6 / 11 / 3 MeV.  This study isolates the cause.
It uses only B⁺ → K⁺a, a → γγ with Belle kinematics (Υ(4S) → BB̄ boosted by the beams).
The events are measured with the spec's resolutions: photon σ_E/E and σ_x from
:mod:`alpscan.generation.detector`, and the track resolution of ``config/config.yaml``.
Each variant multiplies one of these resolutions by a factor.  Then:

* ``raw``: M_γγ of the measured photons;
* ``kinfit``: M_γγ after :func:`alpscan.physics.kinfit.fit_b_mass_constraint`;
* ``recoil``: :func:`alpscan.validation.fidelity.m_a_from_b_mass`, an estimator that
  shares no code with the kinematic fit.  Once M(Kγγ) = m_B holds exactly,
  m_a² = m_B² + m_K² − 2 m_B E*_K (E*_K is the kaon energy in the B frame); it takes
  E*_K = K·B / m_B with B = (√(|p_B|² + m_B²), p_B) from the measured momenta.

A DSCB is fitted to each distribution, as in the fidelity report
(:func:`alpscan.validation.fidelity.fit_signal_peak`).

What it shows (numbers in the README):

* Near the kinematic end point, m_a is fixed by E*_K.  Its error is
  ≈ (m_B/m_a)·|p*_K|·δβ_B, with p*_K = 0.56 GeV at 4.5 GeV.  So any exact B-mass
  constraint gives a few MeV there.  The kinematic fit (optimal) and the recoil
  estimator (not optimal) agree on this scale.
* The shape of σ_R(m_a) does not depend on the resolution scale: σ_R(4.5)/σ_R(1.9)
  after the fit is 0.27–0.37 in every variant, and 0.92 in the paper.
* Tripling the track or photon position resolution, or doubling the photon energy
  resolution, leaves the 4.5 GeV value far below the paper's 17.9 MeV.  No physical
  detector setting of the toy reaches it.  With an exact M(Kγγ) = m_B fit and the
  spec's resolutions, the paper's high-mass σ_R cannot emerge.

Usage:  python benchmarks/resolution_sensitivity.py [--n-events N]
Writes ``benchmarks/output/resolution_sensitivity.{json,png}``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import yaml

from alpscan.generation import detector as det
from alpscan.validation.fidelity import fit_signal_peak, m_a_from_b_mass
from alpscan.physics import kinematics as kin
from alpscan.physics.constants import mass_gev
from alpscan.physics.kinfit import PhotonMeasurement, fit_b_mass_constraint

ROOT = Path(__file__).resolve().parents[1]
MASSES_GEV = (0.16, 1.0, 1.9, 3.0, 4.0, 4.5)
#: below this mass m_a² is a small difference of large numbers and the recoil
#: estimator is far worse than the raw M_γγ; it is only evaluated above
RECOIL_MIN_MASS_GEV = 3.0
#: (label, track-resolution factor, photon-position factor, photon-energy factor)
VARIANTS = (
    ("spec resolutions", 1.0, 1.0, 1.0),
    ("track x3", 3.0, 1.0, 1.0),
    ("photon position x3", 1.0, 3.0, 1.0),
    ("photon energy x2", 1.0, 1.0, 2.0),
    ("all x3", 3.0, 3.0, 3.0),
)


def truth_events(rng, n, m_a_gev, cfg):
    """True lab four-vectors (K⁺, γ1, γ2) of Υ(4S) → B⁺B⁻, B⁺ → K⁺a, a → γγ."""
    beam = cfg["beam"]
    beta_cm = det.cm_boost_vector(beam["e_her_gev"], beam["e_ler_gev"], beam["crossing_angle_mrad"])
    m_b, m_k = mass_gev("B+"), mass_gev("K+")
    y4s = np.zeros((n, 4))
    y4s[:, 0] = beam["sqrt_s_gev"]
    b, _ = kin.two_body_decay(y4s, m_b, m_b, kin.random_unit_vectors(rng, (n,)))
    k, a = kin.two_body_decay(b, m_k, m_a_gev, kin.random_unit_vectors(rng, (n,)))
    g1, g2 = kin.two_body_decay(a, 0.0, 0.0, kin.random_unit_vectors(rng, (n,)))
    return tuple(det.cm_to_lab(x, beta_cm) for x in (k, g1, g2))


def measure_photon(rng, g_lab, f_position, f_energy):
    """Gaussian measurement of a photon (E, θ, φ) with the spec's ECL resolutions × factors."""
    e = g_lab[:, 0]
    u = g_lab[:, 1:] / e[:, None]
    pos, _ = det.ecl_intersection_mm(np.zeros_like(u), u)
    r = np.linalg.norm(pos, axis=1)
    r_xy = np.clip(np.hypot(pos[:, 0], pos[:, 1]), 1.0, None)
    sigma_x = f_position * det.photon_position_resolution_mm(e)
    sigma_e = f_energy * det.photon_energy_resolution(e) * e
    theta = np.arccos(np.clip(u[:, 2], -1.0, 1.0))
    phi = np.arctan2(u[:, 1], u[:, 0])
    s_th, s_ph = sigma_x / r, sigma_x / r_xy
    return PhotonMeasurement(
        e=np.clip(e + sigma_e * rng.normal(size=e.size), 1e-4, None),
        theta=theta + s_th * rng.normal(size=e.size),
        phi=phi + s_ph * rng.normal(size=e.size),
        sigma_e=sigma_e,
        sigma_theta=s_th,
        sigma_phi=s_ph,
    )


def resolution_point(rng, n, m_a, cfg, f_track, f_position, f_energy):
    """σ_R (MeV) of the raw, kinematic-fit and recoil M_γγ at one mass and variant."""
    m_b, m_k = mass_gev("B+"), mass_gev("K+")
    k, g1, g2 = truth_events(rng, n, m_a, cfg)
    tr = cfg["detector"]["track_resolution"]
    k_meas, k_cov = det.smear_tracks(
        rng, k, m_k, a=f_track * tr["a"], b=f_track * tr["b"], sigma_angle_rad=f_track * tr["sigma_angle_rad"]
    )
    p1, p2 = (measure_photon(rng, g, f_position, f_energy) for g in (g1, g2))
    fit = fit_b_mass_constraint(k_meas[:, 1:], m_k, k_cov, p1, p2, m_b, full_cov=False)
    ok = fit.converged
    g_raw = p1.four_vector() + p2.four_vector()
    masses = {"raw": kin.mass(g_raw), "kinfit": kin.mass(fit.gamma1_p4 + fit.gamma2_p4)}
    if m_a >= RECOIL_MIN_MASS_GEV:
        masses["recoil"] = m_a_from_b_mass(k_meas, k_meas[:, 1:] + g_raw[:, 1:], m_b)
    out = {"converged_fraction": float(ok.mean()), "sigma_r_recoil_mev": float("nan")}
    for key, m in masses.items():
        res = fit_signal_peak(m[ok], m_a)
        out[f"sigma_r_{key}_mev"] = 1e3 * res["sigma_r"]
        out[f"valid_{key}"] = res["valid"]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-events", type=int, default=20_000, help="events per mass and variant")
    parser.add_argument("--seed", type=int, default=20250701)
    args = parser.parse_args()
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    paper = dict(zip(cfg["fidelity"]["masses_gev"], cfg["fidelity"]["paper_sigma_r_mev"]))
    rows = []
    print(f"{'variant':20s} {'m_a':>5s} {'raw':>7s} {'kinfit':>7s} {'recoil':>7s} {'paper':>6s}  (σ_R, MeV)")
    for label, f_track, f_position, f_energy in VARIANTS:
        for i, m_a in enumerate(MASSES_GEV):
            rng = np.random.default_rng([args.seed, i])
            r = resolution_point(rng, args.n_events, m_a, cfg, f_track, f_position, f_energy)
            r.update({"variant": label, "m_a_gev": m_a, "paper_sigma_r_mev": paper.get(m_a)})
            rows.append(r)
            p = f"{paper[m_a]:6.1f}" if m_a in paper else "     -"
            print(f"{label:20s} {m_a:5.2f} {r['sigma_r_raw_mev']:7.1f} {r['sigma_r_kinfit_mev']:7.1f} "
                  f"{r['sigma_r_recoil_mev']:7.1f} {p}")
        by_mass = {r["m_a_gev"]: r["sigma_r_kinfit_mev"] for r in rows if r["variant"] == label}
        print(f"{label:20s} σ_R(4.5)/σ_R(1.9) after the fit = {by_mass[4.5] / by_mass[1.9]:.2f} "
              f"(paper {paper[4.5] / paper[1.9]:.2f})")
    out_dir = ROOT / "benchmarks" / "output"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "resolution_sensitivity.json").write_text(json.dumps(rows, indent=2))
    plot(rows, paper, out_dir / "resolution_sensitivity.png")
    print(f"saved {out_dir / 'resolution_sensitivity.json'} and .png")


def plot(rows, paper, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep

    plt.style.use(mplhep.style.ROOT)
    fig, ax = plt.subplots(figsize=(8, 6))
    for label, *_ in VARIANTS:
        sel = [r for r in rows if r["variant"] == label]
        ax.plot([r["m_a_gev"] for r in sel], [r["sigma_r_kinfit_mev"] for r in sel], "o-", label=f"kin. fit, {label}")
    nominal = [r for r in rows if r["variant"] == VARIANTS[0][0]]
    ax.plot([r["m_a_gev"] for r in nominal], [r["sigma_r_raw_mev"] for r in nominal], "k--", label="before fit, spec")
    ax.plot(list(paper), list(paper.values()), "r*", markersize=16, label="Belle (paper)")
    ax.set_xlabel(r"$m_a$ [GeV]")
    ax.set_ylabel(r"$\sigma_R$ of $M_{\gamma\gamma}$ [MeV]")
    ax.legend(fontsize=11)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


if __name__ == "__main__":
    main()
