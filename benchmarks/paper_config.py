"""Job time of config/paper.yaml extrapolated from measured rates (issue 16); not a run.

* Generation: the events of the paper configuration (the workflow's chunk plan) times
  the CPU time per generated event measured by ``benchmarks/generation_scaling.py``
  (``benchmarks/output/generation_scaling.json``, its slowest job).
* Toys: ``toys.n_toys`` × the number of scan points (``--scan-points``, or counted in
  ``--results``) divided by the batched fitter's toys per CPU-second measured by
  ``benchmarks/toys.py`` (``benchmarks/output/toys.json``).
* With ``--results`` (a completed default run): every other stage's CPU time from its
  ``benchmark:`` files, MVA, calibration and signal model scaled like the number of
  simulated events (an upper bound: BDT training is capped by ``mva.max_train_events``).
The sum divided by 2 is the wall time on 2 cores if both were kept busy (a lower bound).

Usage: python benchmarks/paper_config.py [--scan-points N | --results results]
Prints a table and writes benchmarks/output/paper_config.json.
"""

from __future__ import annotations

import argparse
import csv
import glob
import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks/output"
sys.path.insert(0, str(ROOT / "benchmarks"))
from generation_scaling import load_config, plan  # noqa: E402

from alpscan.io import read_parquet  # noqa: E402

EVENT_SCALED = ("mva", "calibration")


def stage_cpu(results: Path) -> dict[str, float]:
    """Summed ``cpu_time`` of the benchmark files of each stage of a run."""
    out = defaultdict(float)
    for path in glob.glob(str(results / "benchmarks/**/*.tsv"), recursive=True):
        stage = Path(path).relative_to(results / "benchmarks").parts[0]
        with open(path) as f:
            out[stage] += float(next(csv.DictReader(f, delimiter="\t"))["cpu_time"])
    return dict(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", help="results/ of a completed default run (other stages, scan points)")
    parser.add_argument("--scan-points", type=int, help="scan points of all modes (without --results)")
    args = parser.parse_args()
    default, paper = load_config(None), load_config(str(ROOT / "config/paper.yaml"))
    gen = json.loads((OUT / "generation_scaling.json").read_text())
    us_per_event = max(r["cpu_us_per_event"] for r in gen["runs"])
    toys = json.loads((OUT / "toys.json").read_text())
    toys_per_cpu_s = toys["batched"]["toys_per_cpu_s"]
    plan_default, plan_paper = plan(default), plan(paper)
    if args.results:
        results = Path(args.results)
        n_points = sum(len(read_parquet(str(results / f"scan/{m}/points.parquet"))) for m in default["modes"])
    elif args.scan_points:
        n_points = args.scan_points
    else:
        parser.error("give --results or --scan-points")
    n_toys = paper["toys"]["n_toys"] * n_points
    rows = {
        "generation": (plan_paper["events"] * us_per_event * 1e-6,
                       f"{plan_paper['events']:,} events x {us_per_event:.0f} us (default run: "
                       f"{plan_default['events']:,} events)"),
        "toys": (n_toys / toys_per_cpu_s, f"{n_toys:,} toys / {toys_per_cpu_s:.0f} toys per CPU-s"),
    }
    if args.results:
        sim = lambda p: p["events"] - p["signal_events"]  # noqa: E731
        for stage, seconds in sorted(stage_cpu(Path(args.results)).items()):
            if stage in rows:
                continue
            if stage in EVENT_SCALED:
                rows[stage] = (seconds * sim(plan_paper) / sim(plan_default), "default run x simulated events ratio")
            elif stage == "signal_model":
                rows[stage] = (seconds * plan_paper["signal_events"] / plan_default["signal_events"],
                               "default run x signal events ratio")
            else:
                rows[stage] = (seconds, "as the default run")
    total = sum(r[0] for r in rows.values())
    for stage, (cpu, how) in rows.items():
        print(f"{stage:<14}{cpu:>9.0f} CPU-s  {how}")
    print(f"{'total':<14}{total:>9.0f} CPU-s  -> at least {total / 120:.1f} min on 2 cores"
          + ("" if args.results else " (generation and toys only)"))
    out = {"stages": {s: {"cpu_s": c, "how": h} for s, (c, h) in rows.items()}, "cpu_s_total": total,
           "events_paper": plan_paper["events"], "events_default": plan_default["events"],
           "generation_jobs_paper": plan_paper["generation_jobs"], "merge_jobs_paper": plan_paper["merge_jobs"],
           "toys": n_toys, "us_per_event": us_per_event, "toys_per_cpu_s": toys_per_cpu_s}
    (OUT / "paper_config.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
