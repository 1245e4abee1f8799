"""Generate one sample: components → truth events → toy detector → candidates.

:func:`generate_sample` is what the ``generate`` rule calls.  It is vectorised per
chunk of ``generation.chunk_size`` events (the chunk loop only bounds memory) and
fully determined by (seed, mode, sample, configuration).
"""

from __future__ import annotations

import sys
import zlib

import numpy as np
import pandas as pd
from tqdm import tqdm

from alpscan.generation.detector import cm_boost_vector
from alpscan.generation.generators import generate_b_to_k_h, generate_combinatorial, generate_xsgamma
from alpscan.generation.reconstruct import reconstruct
from alpscan.generation.samples import components, sample_seed
from alpscan.io import read_metadata, read_parquet, write_parquet  # noqa: F401 (re-exported)
from alpscan.physics.constants import mass_gev, width_gev

PEAK_PARTICLE = {"pi0": "pi0", "eta": "eta", "etap": "etap", "etac": "etac"}


def truth_chunk(rng, comp, n, mode, model, tune, beta, sqrt_s_ref):
    """``n`` truth-level events of one sample component (rng, config model and tune given);
    off-resonance components are generated in the box scaled by √s/√s_ref."""
    kind, sqrt_s = comp["kind"], comp["sqrt_s"]
    if sqrt_s != sqrt_s_ref:
        # off-resonance: generate in the box that maps onto the on-resonance box
        # after Belle's √s_ref/√s scaling of c.m. energies and momenta
        f = sqrt_s / sqrt_s_ref
        model = dict(model, box={k: v * f for k, v in model["box"].items()})
    if kind == "signal":
        m_a = comp["m_a"]
        if isinstance(m_a, (tuple, list)):
            m_a = rng.uniform(m_a[1], m_a[2], n)
        return generate_b_to_k_h(rng, n, mode, m_a, comp["ctau_mm"], model, tune, sqrt_s, beta)
    if kind == "peaking":
        key = PEAK_PARTICLE[comp["h"]]
        width = width_gev(key) if comp["h"] == "etac" else 0.0
        return generate_b_to_k_h(rng, n, mode, mass_gev(key), 0.0, model, tune, sqrt_s, beta, h_width=width)
    if kind == "xsgamma":
        return generate_xsgamma(rng, n, mode, model, tune, sqrt_s, beta)
    if kind == "continuum":
        return generate_combinatorial(rng, n, mode, "jet", model, tune, sqrt_s, beta)
    if kind == "bb":
        return generate_combinatorial(rng, n, mode, "sphere", model, tune, sqrt_s, beta)
    raise ValueError(f"unknown component kind {kind!r}")


def generate_sample(mode: str, sample: str, cfg: dict, seed: int, progress: bool | None = None):
    """Generate and reconstruct one sample.

    Returns (candidates DataFrame, pairs DataFrame, metadata dict).  Candidate rows
    carry ``event_id`` (unique within the sample), ``uid`` (unique across all
    samples and modes), ``weight``, the component index and the truth columns
    ``m_a_true`` (GeV), ``ctau_mm`` and ``flight_mm``.
    """
    gen = cfg["generation"]
    beta = cm_boost_vector(cfg["beam"]["e_her_gev"], cfg["beam"]["e_ler_gev"], cfg["beam"]["crossing_angle_mrad"])
    comps = components(mode, sample, cfg)
    ss = sample_seed(seed, mode, sample)
    comp_seeds = ss.spawn(len(comps))
    chunk = int(gen["chunk_size"])
    sample_tag = zlib.crc32(f"{mode}/{sample}".encode()) & 0x7FFFFFFF
    if progress is None:
        progress = sys.stderr.isatty()

    cand_frames, pair_frames, meta_comps = [], [], []
    next_id = 0
    for ci, (comp, cseed) in enumerate(zip(comps, comp_seeds)):
        rng = np.random.default_rng(cseed)
        n_total = int(rng.poisson(comp["expected"])) if "expected" in comp else int(comp["n"])
        tune = gen["data_tune"] if comp["tune"] == "data" else gen["sim_tune"]
        beam = {"sqrt_s": comp["sqrt_s"], "sqrt_s_ref": cfg["beam"]["sqrt_s_gev"], "beta_cm": beta}
        n_sel = 0
        starts = range(0, n_total, chunk)
        for start in tqdm(starts, desc=f"{mode}/{sample}[{ci}]", disable=not progress, leave=False):
            n = min(chunk, n_total - start)
            ev = truth_chunk(rng, comp, n, mode, gen["model"], tune, beta, cfg["beam"]["sqrt_s_gev"])
            out, pairs = reconstruct(rng, ev, mode, beam, cfg["detector"], cfg["preselection"])
            if not out:
                next_id += n
                continue
            idx = out.pop("event_index")
            frame = pd.DataFrame(out)
            frame.insert(0, "event_id", (next_id + idx).astype(np.int64))
            frame.insert(1, "uid", (np.int64(sample_tag) << 32) + frame["event_id"].to_numpy())
            frame["weight"] = comp["weight"]
            frame["component"] = ci
            frame["m_a_true"] = ev.truth["m_a_true"][idx]
            frame["flight_mm"] = ev.truth["flight_mm"][idx]
            frame["ctau_mm"] = float(comp.get("ctau_mm", 0.0))
            cand_frames.append(frame)
            if pairs:
                pf = pd.DataFrame(pairs)
                pf.insert(0, "event_id", frame["event_id"].to_numpy()[pf.pop("row").to_numpy()])
                pair_frames.append(pf)
            n_sel += len(frame)
            next_id += n
        meta_comps.append(
            {k: (list(v) if isinstance(v, tuple) else v) for k, v in comp.items()}
            | {"n_generated": n_total, "n_selected": n_sel}
        )
    cands = pd.concat(cand_frames, ignore_index=True) if cand_frames else pd.DataFrame()
    pairs = pd.concat(pair_frames, ignore_index=True) if pair_frames else pd.DataFrame()
    meta = {"mode": mode, "sample": sample, "seed": int(seed), "components": meta_comps}
    return cands, pairs, meta
