"""Sample catalogue: the components, expected yields, weights and seeds of every
(mode, sample) file under ``results/generation/``.

Design notes: docs/generation.md.
"""

from __future__ import annotations

import zlib

import numpy as np

SIGNAL_SAMPLES = ("signal_prompt", "signal_uniform", "signal_longlived")
CONTINUUM_FLAVOURS = ("uu", "dd", "ss", "cc")
PEAKING = ("pi0", "eta", "etap", "etac")


def sample_names(mode: str) -> list[str]:
    """All samples generated for ``mode`` (the same list for every mode: B → K(*)η_c
    is generated in all four modes with its own branching fraction)."""
    names = list(SIGNAL_SAMPLES)
    names += [f"continuum_{q}" for q in CONTINUUM_FLAVOURS]
    names += ["bb_charged", "bb_neutral"]
    names += [f"peaking_{h}" for h in PEAKING]
    names += ["xsgamma", "offres_sim", "offres_data", "data"]
    return names


def sample_seed(seed: int, mode: str, sample: str) -> np.random.SeedSequence:
    """Independent, reproducible seed sequence for (global seed, mode, sample)."""
    return np.random.SeedSequence([int(seed), zlib.crc32(f"{mode}/{sample}".encode())])


def n_bb_pairs(lumi_fb: float, physics: dict) -> float:
    """Number of BB̄ pairs for an on-resonance luminosity (scaled from 772 M at 711 fb⁻¹)."""
    return physics["n_bb_pairs_ref"] * lumi_fb / physics["lumi_ref_fb"]


def mass_grid_gev(mode: str, grid: dict) -> np.ndarray:
    """Prompt-signal mass grid: ``n_k``/``n_kstar`` points from ``m_min`` to the mode's end."""
    if mode in ("Kp", "K0S"):
        return np.linspace(grid["m_min_gev"], grid["m_max_k_gev"], grid["n_k"])
    return np.linspace(grid["m_min_gev"], grid["m_max_kstar_gev"], grid["n_kstar"])


def subdecay_bf(mode: str, physics: dict) -> float:
    """Product of the sub-decay branching fractions the generator does not simulate:
    K⁰ → K_S (1/2), K_S → π⁺π⁻, K*⁰ → K⁺π⁻ and K*⁺ → K⁰π⁺ (2/3 each)."""
    bf = physics["subdecay"]
    if mode == "Kp":
        return 1.0
    if mode == "K0S":
        return bf["k0_to_ks"] * bf["ks_to_pipi"]
    if mode == "Kst0":
        return bf["kstar_to_kpi"]
    return bf["kstar_to_kpi"] * bf["k0_to_ks"] * bf["ks_to_pipi"]


def peaking_expected(mode: str, h: str, lumi_fb: float, physics: dict) -> float:
    """Expected number of B → K(*)h, h → γγ decays (before any selection)."""
    f = physics["f_charged"] if mode in ("Kp", "Kstp") else physics["f_neutral"]
    bf_b = physics["peaking_bf"][h][mode]
    bf_h = physics["h_to_gg_bf"][h]
    return 2.0 * n_bb_pairs(lumi_fb, physics) * f * bf_b * bf_h * subdecay_bf(mode, physics)


def components(mode: str, sample: str, cfg: dict) -> list[dict]:
    """Generator components of a sample.

    ``cfg`` is the generation configuration slice (keys ``generation``, ``luminosity``,
    ``beam``, ``physics``).  Each component is a dict with ``kind``, ``n`` (events to
    generate), ``weight`` (per event), ``tune`` (``sim``/``data``), ``sqrt_s`` and
    kind-specific keys.  ``rng`` draws the Poisson yields of data samples.
    """
    gen, beam = cfg["generation"], cfg["beam"]
    sqrt_on = beam["sqrt_s_gev"]
    sig = gen["signal"]
    if sample in SIGNAL_SAMPLES:  # signal samples need no luminosity or physics keys
        return _signal_components(mode, sample, sig, sqrt_on)
    lumi, phys = cfg["luminosity"], cfg["physics"]
    sqrt_off = sqrt_on - beam["off_resonance_shift_gev"]
    # off-resonance samples receive only the off-resonance luminosity (their rule's
    # config slice), so an on-resonance luminosity change does not regenerate them
    l_on, l_off = lumi.get("on_resonance_fb"), lumi["off_resonance_fb"]
    scale = gen["sim_scale"]
    eps = gen["model"]["eps_box"]

    def cont(q, lumi_fb, sqrt_s):
        sigma_nb = phys["cross_section_nb"][q] * (sqrt_on / sqrt_s) ** 2
        return sigma_nb * lumi_fb * 1e6 * eps["continuum"][mode] * eps["flavour_factor"][q]

    def bb(charge):
        f = phys["f_charged"] if charge == "charged" else phys["f_neutral"]
        return n_bb_pairs(l_on, phys) * f * eps["bb"][mode]

    def xsg(lumi_fb):
        f = phys["f_charged"] if mode in ("Kp", "Kstp") else phys["f_neutral"]
        return 2 * n_bb_pairs(lumi_fb, phys) * f * phys["xsgamma_bf"] * gen["model"]["xsgamma_mode_fraction"][mode]

    def sim(kind, n_exp, minimum=0, **kw):
        n = max(int(round(scale * n_exp)), int(minimum))
        return dict(kind=kind, n=n, weight=n_exp / max(n, 1), tune="sim", sqrt_s=sqrt_on, **kw)

    if sample.startswith("continuum_"):
        q = sample.split("_")[1]
        return [sim("continuum", cont(q, l_on, sqrt_on), flavour=q)]
    if sample.startswith("bb_"):
        return [sim("bb", bb(sample[3:]), charge=sample[3:])]
    if sample.startswith("peaking_"):
        h = sample.split("_")[1]
        return [sim("peaking", peaking_expected(mode, h, l_on, phys), gen["min_sim_events"], h=h)]
    if sample == "xsgamma":
        return [sim("xsgamma", xsg(l_on), gen["min_sim_events"])]
    if sample == "offres_sim":
        out = []
        for q in CONTINUUM_FLAVOURS:
            c = sim("continuum", cont(q, l_off, sqrt_off), flavour=q)
            c["sqrt_s"] = sqrt_off
            out.append(c)
        return out
    if sample in ("offres_data", "data"):
        return data_components(mode, sample, cfg)
    raise ValueError(f"unknown sample {sample!r} for mode {mode!r}; expected one of {sample_names(mode)}")


def _signal_components(mode: str, sample: str, sig: dict, sqrt_on: float) -> list[dict]:
    """Components of the signal samples (one per grid mass / (mass, cτ) point)."""
    if sample == "signal_prompt":
        masses = mass_grid_gev(mode, sig["mass_grid"])
        return [
            dict(kind="signal", n=sig["n_per_mass"], weight=1.0, tune="sim", sqrt_s=sqrt_on, m_a=float(m), ctau_mm=0.0)
            for m in masses
        ]
    if sample == "signal_uniform":
        hi = sig["mass_grid"]["m_max_k_gev"] if mode in ("Kp", "K0S") else sig["mass_grid"]["m_max_kstar_gev"]
        return [
            dict(kind="signal", n=sig["n_uniform"], weight=1.0, tune="sim", sqrt_s=sqrt_on,
                 m_a=("uniform", sig["uniform_m_min_gev"], hi), ctau_mm=0.0)
        ]
    if sample == "signal_longlived":
        ll = sig["long_lived"]
        return [
            dict(kind="signal", n=ll["n_per_point"], weight=1.0, tune="sim", sqrt_s=sqrt_on, m_a=float(m), ctau_mm=float(c))
            for m in ll["masses_gev"]
            for c in ll["ctau_mm"]
            if m < (sig["mass_grid"]["m_max_k_gev"] if mode in ("Kp", "K0S") else sig["mass_grid"]["m_max_kstar_gev"])
        ]
    raise ValueError(f"unknown signal sample {sample!r}")


def data_components(mode: str, sample: str, cfg: dict) -> list[dict]:
    """Expected yields of the data samples (before Poisson fluctuation)."""
    gen, lumi, beam, phys = cfg["generation"], cfg["luminosity"], cfg["beam"], cfg["physics"]
    sim_like = dict(cfg)
    sim_like["generation"] = dict(gen, sim_scale=1.0, min_sim_events=0)
    norm = gen["data_tune"]["continuum_norm"]
    out = []
    if sample == "offres_data":
        for c in components(mode, "offres_sim", sim_like):
            out.append(dict(c, expected=c["n"] * c["weight"] * norm, tune="data"))
        return out
    names = [f"continuum_{q}" for q in CONTINUUM_FLAVOURS] + ["bb_charged", "bb_neutral"]
    names += [f"peaking_{h}" for h in PEAKING] + ["xsgamma"]
    for name in names:
        (c,) = components(mode, name, sim_like)
        k = norm if name.startswith("continuum") else 1.0
        out.append(dict(c, expected=c["n"] * c["weight"] * k, tune="data", component=name))
    inj = gen["inject"]
    if inj["enabled"]:
        f = phys["f_charged"] if mode in ("Kp", "Kstp") else phys["f_neutral"]
        n_exp = 2 * n_bb_pairs(lumi["on_resonance_fb"], phys) * f * inj["branching_fraction"] * subdecay_bf(mode, phys)
        out.append(
            dict(kind="signal", n=0, weight=1.0, tune="data", sqrt_s=beam["sqrt_s_gev"], m_a=inj["m_a_gev"],
                 ctau_mm=inj["ctau_mm"], expected=n_exp, component="injected_signal")
        )
    return out
