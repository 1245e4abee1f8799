"""Benchmark of the toy simulation.

1. Events generated + reconstructed per second on one core, for prompt signal and
   for continuum (uū), measured in-process on chunks of the default size.
2. With ``--full``: wall time and peak memory of the whole default generation stage
   (``snakemake --cores 2`` on config/config.yaml, all generation jobs forced) from
   Snakemake's per-job benchmark files.

Prints the figures and saves them to ``benchmarks/output/generation.json``.
Usage:  python benchmarks/generation.py [--full]
"""

from __future__ import annotations

import argparse
import csv
import glob
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml

from alpscan.generation.detector import cm_boost_vector
from alpscan.generation.run import truth_chunk
from alpscan.generation.reconstruct import reconstruct
from alpscan.generation.samples import sample_names

ROOT = Path(__file__).resolve().parents[1]


def rate(cfg, comp, n_events, repeats=3):
    """Best-of-``repeats`` events per second for one chunk of ``n_events``."""
    beta = cm_boost_vector(cfg["beam"]["e_her_gev"], cfg["beam"]["e_ler_gev"], cfg["beam"]["crossing_angle_mrad"])
    beam = {"sqrt_s": comp["sqrt_s"], "beta_cm": beta}
    gen = cfg["generation"]
    best = np.inf
    for i in range(repeats + 1):  # first round warms up numba caches
        rng = np.random.default_rng(i)
        t0 = time.perf_counter()
        ev = truth_chunk(rng, comp, n_events, "Kp", gen["model"], gen["sim_tune"], beta, comp["sqrt_s"])
        reconstruct(rng, ev, "Kp", beam, cfg["detector"], cfg["preselection"])
        if i:
            best = min(best, time.perf_counter() - t0)
    return n_events / best


def full_stage(cores: int = 2) -> dict:
    """Run the default generation stage (every ``generate_sample`` job and the fidelity
    report, forced) and read Snakemake's per-job benchmark files."""
    cfg = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    targets = [f"results/generation/{m}/{s}.parquet" for m in cfg["modes"] for s in sample_names(m)]
    targets.append("results/generation/fidelity.json")
    cmd = [sys.executable, "-m", "snakemake", "--cores", str(cores), "--forcerun", "generate_sample", "--", *targets]
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True)
    wall = time.perf_counter() - t0
    rows = []
    for path in glob.glob(str(ROOT / "results/benchmarks/generation/*/*.tsv")):
        with open(path) as f:
            rows.append(next(csv.DictReader(f, delimiter="\t")))
    max_rss = max(float(r["max_rss"]) for r in rows if r["max_rss"] not in ("-", "NA"))
    top2 = sorted((float(r["max_rss"]) for r in rows if r["max_rss"] not in ("-", "NA")), reverse=True)[:cores]
    return {"wall_s": wall, "jobs": len(rows), "max_rss_mb_per_job": max_rss,
            "peak_memory_bound_mb": sum(top2), "cpu_s_total": sum(float(r["s"]) for r in rows)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also run the whole default generation stage")
    parser.add_argument("--events", type=int, default=20000)
    args = parser.parse_args()
    cfg = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    res = {"events_per_chunk": args.events}
    res["signal_events_per_s_per_core"] = rate(
        cfg, {"kind": "signal", "sqrt_s": 10.58, "m_a": 1.5, "ctau_mm": 0.0}, args.events)
    res["continuum_events_per_s_per_core"] = rate(
        cfg, {"kind": "continuum", "sqrt_s": 10.58, "flavour": "uu"}, args.events)
    if args.full:
        res["default_generation_stage_cores2"] = full_stage(2)
    res["machine"] = {"cpus": os.cpu_count()}
    out = ROOT / "benchmarks/output"
    out.mkdir(parents=True, exist_ok=True)
    (out / "generation.json").write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
