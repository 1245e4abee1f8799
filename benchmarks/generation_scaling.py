"""Benchmark: time and peak memory of generation jobs against luminosity (issue 16).

Runs single generation jobs of one (mode, sample) (default: K+ pseudo-data, the
largest sample) in fresh processes under ``/usr/bin/time -v`` at several on-resonance
luminosities: the whole sample in one job (the old layout) and chunk 0 of the chunked
layout (``generation.events_per_chunk``).  Then, from the measured CPU time per
generated event, extrapolates the generation jobs, events and CPU-hours of a whole
configuration (every mode and sample, from the same chunk plan as the workflow).

Usage:
  python benchmarks/generation_scaling.py [--configfile config/belle2-projection.yaml]
      [--lumi 711 2133] [--whole-max-lumi 2133] [--mode Kp --sample data]
Prints a JSON summary and writes it to benchmarks/output/generation_scaling[_<name>].json.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from alpscan.generation.run import chunk_plan, sample_blocks
from alpscan.generation.samples import SIGNAL_SAMPLES, sample_names

ROOT = Path(__file__).resolve().parents[1]

JOB = """
import json, sys
from alpscan.generation.run import generate_sample
from alpscan.io import write_parquet
cfg = json.load(open(sys.argv[1]))
chunk = None if sys.argv[4] == "whole" else int(sys.argv[4])
cands, pairs, meta = generate_sample(sys.argv[2], sys.argv[3], cfg, cfg["seed"], chunk=chunk,
                                     events_per_chunk=cfg["generation"]["events_per_chunk"], progress=False)
write_parquet(cands, sys.argv[5], meta)
write_parquet(pairs, sys.argv[5] + ".pairs", meta)
print("EVENTS", sum(c["n_generated"] for c in meta["components"]), len(cands))
"""


def deep_update(base: dict, extra: dict) -> dict:
    out = copy.deepcopy(base)
    for key, val in extra.items():
        out[key] = deep_update(out[key], val) if isinstance(val, dict) and isinstance(out.get(key), dict) else val
    return out


def load_config(extra: str | None) -> dict:
    cfg = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    return deep_update(cfg, yaml.safe_load(Path(extra).read_text())) if extra else cfg


def timed_job(cfg: dict, mode: str, sample: str, chunk: str) -> dict:
    """One generation job in a fresh process: events, CPU seconds, wall seconds, peak RSS."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg_path = os.path.join(tmp, "cfg.json")
        Path(cfg_path).write_text(json.dumps(cfg))
        cmd = ["/usr/bin/time", "-v", sys.executable, "-c", JOB, cfg_path, mode, sample, chunk,
               os.path.join(tmp, "out.parquet")]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode:
            raise RuntimeError(proc.stderr[-3000:])
    err = proc.stderr

    def field(name):
        return re.search(rf"{re.escape(name)}: (.+)", err).group(1).strip()

    wall = [float(x) for x in field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":")]
    events, candidates = (int(x) for x in re.search(r"EVENTS (\d+) (\d+)", proc.stdout).groups())
    return {"events": events, "candidates": candidates,
            "cpu_s": float(field("User time (seconds)")) + float(field("System time (seconds)")),
            "wall_s": sum(x * 60 ** i for i, x in enumerate(reversed(wall))),
            "max_rss_mb": int(field("Maximum resident set size (kbytes)")) / 1024}


def plan(cfg: dict) -> dict:
    """Generation jobs and events of a whole configuration (the workflow's chunk plan)."""
    jobs = merges = events = 0
    largest = ("", 0)
    for mode in cfg["modes"]:
        for sample in sample_names(mode):
            _, blocks = sample_blocks(mode, sample, cfg, cfg["seed"])
            n = len(chunk_plan(blocks, cfg["generation"]["events_per_chunk"]))
            jobs += n
            merges += n > 1
            size = sum(b[3] for b in blocks)
            events += size
            if size > largest[1]:
                largest = (f"{mode}/{sample}", size)
    return {"generation_jobs": jobs, "merge_jobs": merges, "events": events, "largest_sample": largest,
            "signal_events": sum(sum(b[3] for b in sample_blocks(m, s, cfg, cfg["seed"])[1])
                                 for m in cfg["modes"] for s in SIGNAL_SAMPLES)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configfile", help="overlay on config/config.yaml, e.g. config/belle2-projection.yaml")
    parser.add_argument("--mode", default="Kp")
    parser.add_argument("--sample", default="data")
    parser.add_argument("--lumi", type=float, nargs="+", default=[711.0, 2133.0], help="on-resonance fb^-1")
    parser.add_argument("--whole-max-lumi", type=float, default=2133.0,
                        help="also run the whole sample in one job up to this luminosity")
    args = parser.parse_args()
    base = load_config(args.configfile)
    res = {"config": args.configfile or "config/config.yaml", "mode": args.mode, "sample": args.sample,
           "events_per_chunk": base["generation"]["events_per_chunk"], "runs": []}
    for lumi in args.lumi:
        cfg = deep_update(base, {"luminosity": {"on_resonance_fb": lumi}})
        _, blocks = sample_blocks(args.mode, args.sample, cfg, cfg["seed"])
        chunked = len(chunk_plan(blocks, cfg["generation"]["events_per_chunk"])) > 1
        # a sample in one chunk is generated whole by one job (generate_sample)
        layouts = (["0"] if chunked else []) + (["whole"] if lumi <= args.whole_max_lumi or not chunked else [])
        for chunk in layouts:
            run = {"lumi_fb": lumi, "job": "chunk 0" if chunk == "0" else "whole sample" + (not chunked) * " (1 chunk)",
                   "n_chunks": len(chunk_plan(blocks, cfg["generation"]["events_per_chunk"]))}
            run |= timed_job(cfg, args.mode, args.sample, chunk)
            run["cpu_us_per_event"] = 1e6 * run["cpu_s"] / max(run["events"], 1)
            print(json.dumps(run), flush=True)
            res["runs"].append(run)
    # the jobs the workflow runs: chunk 0 of chunked samples, the whole sample otherwise
    chunk_runs = [r for r in res["runs"] if r["job"] != "whole sample"]
    rate = max(r["cpu_us_per_event"] for r in chunk_runs)  # the slowest measured chunk: conservative
    res["extrapolation"] = whole = plan(base) | {"lumi_fb": base["luminosity"]["on_resonance_fb"]}
    whole["cpu_hours"] = whole["events"] * rate * 1e-6 / 3600
    whole["cpu_us_per_event_used"] = rate
    whole["max_rss_mb_per_job"] = max(r["max_rss_mb"] for r in chunk_runs)
    out = ROOT / "benchmarks/output"
    out.mkdir(parents=True, exist_ok=True)
    name = "" if not args.configfile else "_" + Path(args.configfile).stem
    (out / f"generation_scaling{name}.json").write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
