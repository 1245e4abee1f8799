"""Job time of config/paper.yaml by stage, measured where affordable and extrapolated
from a completed default run (issue 16).

* Every stage's CPU time in the default run: the ``benchmark:`` files of ``--results``
  (``results/benchmarks/<stage>/...``, column ``cpu_time``), summed per stage.
* Generation: events of the paper configuration / events of the default one (the
  workflow's chunk plan) times the default generation CPU time.
* Toys: ``alpscan.stats.limit_tables.toy_table`` timed on ``--toy-points`` scan points
  of one mode of the default run with the paper's ``toys.n_toys``, in this process
  (CPU time), times the number of scan points of all modes.
* MVA, calibration and selection: scaled like the number of simulated and data events
  (an upper bound: BDT training is capped by ``mva.max_train_events``); the signal
  model like the number of signal events (upper bound); every other stage as in the
  default run.
The sum over stages divided by 2 is the wall time on 2 cores if both were kept busy
(a lower bound). It is an extrapolation, not a run of the paper configuration.

Usage: python benchmarks/paper_config.py --results results [--mode Kp] [--toy-points 4]
Prints a table and writes benchmarks/output/paper_config.json.
"""

from __future__ import annotations

import argparse
import csv
import glob
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from alpscan.fitting.shape_tables import peaking_spec
from alpscan.fitting.signal_model import interpolate_signal_model
from alpscan.io import read_parquet
from alpscan.stats.limit_tables import toy_table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from generation_scaling import load_config, plan  # noqa: E402

EVENT_SCALED = ("mva", "calibration", "selection")


def stage_cpu(results: Path) -> dict[str, float]:
    """Summed ``cpu_time`` of the benchmark files of each stage of a run."""
    out = defaultdict(float)
    for path in glob.glob(str(results / "benchmarks/**/*.tsv"), recursive=True):
        stage = Path(path).relative_to(results / "benchmarks").parts[0]
        with open(path) as f:
            row = next(csv.DictReader(f, delimiter="\t"))
        out[stage] += float(row["cpu_time"])
    return dict(out)


def toy_cpu_per_point(results: Path, mode: str, n_points: int, n_toys: int, seed: int, width: float) -> float:
    """CPU seconds of ``n_toys`` toys at one scan point (mean over ``n_points`` points spread
    over the mode's scan), in this process."""
    model = interpolate_signal_model(read_parquet(str(results / f"signal_model/{mode}.parquet")))
    with open(results / f"signal_model/{mode}_peaking.json") as f:
        peaking = peaking_spec(json.load(f))
    masses = read_parquet(str(results / f"scan/{mode}/points.parquet"))["m_a"].to_numpy()
    points = masses[np.linspace(0, len(masses) - 1, n_points).round().astype(int)]
    m_data = read_parquet(str(results / f"selection/{mode}/data.parquet"), columns=["m_gg"])["m_gg"].to_numpy()
    toy_table(m_data, points[:1], model, peaking, window_width_factor=width, n_toys=50, seed=seed, mode=mode,
              progress=False)  # numba compilation / cache load, not timed
    t0 = time.process_time()
    toy_table(m_data, points, model, peaking, window_width_factor=width, n_toys=n_toys, seed=seed, mode=mode,
              progress=False)
    return (time.process_time() - t0) / n_points


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=str(ROOT / "results"), help="results/ of a completed default run")
    parser.add_argument("--mode", default="Kp")
    parser.add_argument("--toy-points", type=int, default=4)
    args = parser.parse_args()
    results = Path(args.results)
    default, paper = load_config(None), load_config(str(ROOT / "config/paper.yaml"))
    cpu = stage_cpu(results)
    plan_default, plan_paper = plan(default), plan(paper)
    bkg_ratio = ((plan_paper["events"] - plan_paper["signal_events"])
                 / (plan_default["events"] - plan_default["signal_events"]))
    sig_ratio = plan_paper["signal_events"] / plan_default["signal_events"]
    n_points = sum(len(read_parquet(str(results / f"scan/{m}/points.parquet"))) for m in default["modes"])
    per_point = toy_cpu_per_point(results, args.mode, args.toy_points, paper["toys"]["n_toys"], paper["seed"],
                                  paper["scan"]["window_width_factor"])
    rows = {}
    for stage, seconds in sorted(cpu.items()):
        if stage == "generation":
            rows[stage] = (seconds, seconds * plan_paper["events"] / plan_default["events"], "events ratio")
        elif stage == "toys":
            rows[stage] = (seconds, per_point * n_points, f"measured: {per_point:.2f} CPU-s per point x {n_points}")
        elif stage in EVENT_SCALED:
            rows[stage] = (seconds, seconds * bkg_ratio, "background events ratio (upper bound)")
        elif stage == "signal_model":
            rows[stage] = (seconds, seconds * sig_ratio, "signal events ratio (upper bound)")
        else:
            rows[stage] = (seconds, seconds, "as the default run")
    total = sum(r[1] for r in rows.values())
    print(f"{'stage':<14}{'default CPU-s':>14}{'paper CPU-s':>13}  how")
    for stage, (d, p, how) in rows.items():
        print(f"{stage:<14}{d:>14.0f}{p:>13.0f}  {how}")
    print(f"{'total':<14}{sum(r[0] for r in rows.values()):>14.0f}{total:>13.0f}  "
          f"-> at least {total / 2 / 60:.0f} min on 2 cores")
    out = {"results": str(results), "stages": {s: {"default_cpu_s": d, "paper_cpu_s": p, "how": h}
                                               for s, (d, p, h) in rows.items()},
           "paper_cpu_s_total": total, "paper_wall_min_2cores_lower_bound": total / 120,
           "events_default": plan_default["events"], "events_paper": plan_paper["events"],
           "toy_cpu_s_per_point": per_point, "n_toys": paper["toys"]["n_toys"], "scan_points": n_points,
           "machine_cpus": os.cpu_count()}
    (ROOT / "benchmarks/output").mkdir(parents=True, exist_ok=True)
    (ROOT / "benchmarks/output/paper_config.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
