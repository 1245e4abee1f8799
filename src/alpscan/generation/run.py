"""Generate one sample: components → truth events → toy detector → candidates.

:func:`generate_sample` is what the ``generate_sample`` rule calls.  A sample is cut
into *blocks* of at most ``generation.chunk_size`` events of one component; each block
draws from its own random stream (``numpy`` ``SeedSequence`` spawn key
``(component, 1 + block)`` of the sample seed; the Poisson yields of data components
use key ``(component, 0)``), so a block's events do not depend on which job generates
it.  :func:`chunk_plan` packs consecutive blocks into *chunks* of at most
``generation.events_per_chunk`` events, one job each: any ``events_per_chunk`` (and any
number of jobs) gives the same events, identifiers and weights (docs/generation.md).
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


def sample_blocks(mode: str, sample: str, cfg: dict, seed: int) -> tuple[list[dict], list[tuple]]:
    """Components of a sample with their event counts, and its blocks.

    Returns ``(components, blocks)``: each component dict gains ``n_total`` (events
    generated; Poisson-drawn for data components from the component's yield stream) and
    ``first_id`` (its first ``event_id``); each block is ``(component index, block
    index, first event in the component, events)``, in generation order.
    """
    ss = sample_seed(seed, mode, sample)
    block = int(cfg["generation"]["chunk_size"])
    comps, blocks, next_id = [], [], 0
    for ci, comp in enumerate(components(mode, sample, cfg)):
        if "expected" in comp:
            yield_rng = np.random.default_rng(np.random.SeedSequence(ss.entropy, spawn_key=(ci, 0)))
            n_total = int(yield_rng.poisson(comp["expected"]))
        else:
            n_total = int(comp["n"])
        comps.append(dict(comp, n_total=n_total, first_id=next_id))
        blocks += [(ci, b, start, min(block, n_total - start)) for b, start in enumerate(range(0, n_total, block))]
        next_id += n_total
    return comps, blocks


def chunk_plan(blocks: list[tuple], events_per_chunk: int) -> list[list[int]]:
    """Indices of the blocks of each chunk: consecutive blocks, packed greedily so that a
    chunk holds at most ``events_per_chunk`` events (a block is never split).  A sample
    without events is one empty chunk."""
    chunks, current, n = [], [], 0
    for i, (_, _, _, size) in enumerate(blocks):
        if current and n + size > events_per_chunk:
            chunks.append(current)
            current, n = [], 0
        current.append(i)
        n += size
    chunks.append(current)
    return chunks


def n_chunks(mode: str, sample: str, cfg: dict, seed: int, events_per_chunk: int) -> int:
    """Number of generation jobs (chunks) of a sample: what the workflow expands."""
    _, blocks = sample_blocks(mode, sample, cfg, seed)
    return len(chunk_plan(blocks, int(events_per_chunk)))


def generate_sample(mode: str, sample: str, cfg: dict, seed: int, chunk: int | None = None,
                    events_per_chunk: int | None = None, progress: bool | None = None):
    """Generate and reconstruct one sample, or chunk ``chunk`` of it when the sample is
    cut into chunks of at most ``events_per_chunk`` events (both given).

    Returns (candidates DataFrame, pairs DataFrame, metadata dict).  Candidate rows
    carry ``event_id`` (unique within the sample), ``uid`` (unique across all
    samples and modes), ``weight``, the component index and the truth columns
    ``m_a_true`` (GeV), ``ctau_mm`` and ``flight_mm``.  The chunks of a sample,
    concatenated in order, equal the whole sample row for row; a chunk's metadata
    counts its own generated and selected events per component and names the chunk.
    """
    gen = cfg["generation"]
    beta = cm_boost_vector(cfg["beam"]["e_her_gev"], cfg["beam"]["e_ler_gev"], cfg["beam"]["crossing_angle_mrad"])
    comps, blocks = sample_blocks(mode, sample, cfg, seed)
    if chunk is None:
        todo = range(len(blocks))
    else:
        if events_per_chunk is None:
            raise ValueError(f"{mode}/{sample}: chunk {chunk} asked without events_per_chunk")
        chunks = chunk_plan(blocks, int(events_per_chunk))
        if not 0 <= chunk < len(chunks):
            raise ValueError(f"{mode}/{sample}: chunk {chunk} does not exist; generation.events_per_chunk = "
                             f"{events_per_chunk} gives {len(chunks)} chunk(s)")
        todo = chunks[chunk]
    ss = sample_seed(seed, mode, sample)
    sample_tag = zlib.crc32(f"{mode}/{sample}".encode()) & 0x7FFFFFFF
    if progress is None:
        progress = sys.stderr.isatty()

    cand_frames, pair_frames = [], []
    n_gen, n_sel = np.zeros(len(comps), np.int64), np.zeros(len(comps), np.int64)
    for i in tqdm(todo, desc=f"{mode}/{sample}", disable=not progress, leave=False):
        ci, b, start, n = blocks[i]
        comp = comps[ci]
        n_gen[ci] += n
        rng = np.random.default_rng(np.random.SeedSequence(ss.entropy, spawn_key=(ci, 1 + b)))
        tune = gen["data_tune"] if comp["tune"] == "data" else gen["sim_tune"]
        beam = {"sqrt_s": comp["sqrt_s"], "sqrt_s_ref": cfg["beam"]["sqrt_s_gev"], "beta_cm": beta}
        ev = truth_chunk(rng, comp, n, mode, gen["model"], tune, beta, cfg["beam"]["sqrt_s_gev"])
        out, pairs = reconstruct(rng, ev, mode, beam, cfg["detector"], cfg["preselection"])
        if not out:
            continue
        idx = out.pop("event_index")
        frame = pd.DataFrame(out)
        frame.insert(0, "event_id", (comp["first_id"] + start + idx).astype(np.int64))
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
        n_sel[ci] += len(frame)
    cands = pd.concat(cand_frames, ignore_index=True) if cand_frames else pd.DataFrame()
    pairs = pd.concat(pair_frames, ignore_index=True) if pair_frames else pd.DataFrame()
    meta_comps = [
        {k: (list(v) if isinstance(v, tuple) else v) for k, v in comp.items() if k not in ("n_total", "first_id")}
        | {"n_generated": int(n_gen[ci]), "n_selected": int(n_sel[ci])}
        for ci, comp in enumerate(comps)
    ]
    meta = {"mode": mode, "sample": sample, "seed": int(seed), "components": meta_comps}
    if chunk is not None:
        meta["chunk"] = {"index": int(chunk), "n_chunks": len(chunks)}
    return cands, pairs, meta


def merge_chunk_metadata(metas: list[dict]) -> dict:
    """Metadata of a whole sample from its chunks' (generated and selected counts summed
    per component): what :func:`generate_sample` without ``chunk`` writes."""
    if not metas:
        raise ValueError("no chunk metadata to merge")
    n = metas[0]["chunk"]["n_chunks"]
    indices = sorted(m["chunk"]["index"] for m in metas)
    if indices != list(range(n)):
        raise ValueError(f"{metas[0]['mode']}/{metas[0]['sample']}: chunks {indices} given, expected 0..{n - 1}")
    merged = {k: v for k, v in metas[0].items() if k != "chunk"}
    merged["components"] = [
        dict(comp, n_generated=sum(m["components"][ci]["n_generated"] for m in metas),
             n_selected=sum(m["components"][ci]["n_selected"] for m in metas))
        for ci, comp in enumerate(metas[0]["components"])
    ]
    return merged
