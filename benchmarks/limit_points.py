#!/usr/bin/env python
"""Benchmark of the per-point limits of one mode (issue 14): asymptotic CLs at every point,
then the hybrid (toy-based) CLs on a sample of low-count points.

Run from the repository root after the scan fits and toys of the configuration exist
(``results/scan/{mode}/chunk_*.parquet``, ``results/toys/{mode}/chunk_*.parquet``)::

    python benchmarks/limit_points.py MODE [N_TOYS_PER_POINT] [N_SAMPLE]

Prints the CPU time of the asymptotic limits of all points, the points without limits by
cause, the number of points with fewer than 10 events, and the CPU time per point of the
toy-based CLs (200 toys per tested yield) on ``N_SAMPLE`` random low-count points.
"""

import glob
import json
import sys
import time

import numpy as np

from alpscan.fitting.scan import read_chunks
from alpscan.fitting.shape_tables import peaking_spec
from alpscan.fitting.signal_model import interpolate_signal_model
from alpscan.io import read_parquet
from alpscan.stats.limit_tables import limit_failures, limits_table

mode = sys.argv[1]
n_toys_point = int(sys.argv[2]) if len(sys.argv) > 2 else 100
n_sample = int(sys.argv[3]) if len(sys.argv) > 3 else 16
pts = read_parquet(f"results/scan/{mode}/points.parquet")["m_a"].to_numpy()
fits = read_chunks(sorted(glob.glob(f"results/scan/{mode}/chunk_*.parquet")), pts)
fits = fits.sort_values("m_a").reset_index(drop=True)
toys = read_chunks(sorted(glob.glob(f"results/toys/{mode}/chunk_*.parquet")), pts,
                   n_toys=n_toys_point)  # fmt: skip
model = interpolate_signal_model(read_parquet(f"results/signal_model/{mode}.parquet"))
with open(f"results/signal_model/{mode}_peaking.json") as f:
    peak = peaking_spec(json.load(f))
m = read_parquet(f"results/selection/{mode}/data.parquet", columns=["m_gg"])["m_gg"].to_numpy()
kw = dict(mode=mode, window_width_factor=9.0, n_bb=1e9, f_b=0.5, sigma_eff=0.223, cl=0.9,
          n_profile_points=48, seed=20250701)  # fmt: skip
print(mode, "points", len(pts), "failed scan fits", int((~fits["fit_ok"]).sum()),
      "failed toy fits", int((~toys["fit_ok"].astype(bool)).sum()))  # fmt: skip
t = time.process_time()
scan, _ = limits_table(m, fits, toys, model, peak, hybrid=None, **kw)
print(f"asymptotic, all points: {time.process_time() - t:.1f} s CPU")
print("points without limits by cause:", limit_failures(scan))
low = scan[scan["n_events"] < 10]
print("points with < 10 events:", len(low))
sel = low.sample(n=min(n_sample, len(low)), random_state=1)["m_a"].to_numpy()
sub = fits[np.isin(np.round(fits["m_a"], 9), np.round(sel, 9))]
hyb = {"max_events": 10, "masses_gev": [], "n_toys": 200, "n_points": 6}
t = time.process_time()
toy_scan, _ = limits_table(m, sub, toys, model, peak, hybrid=hyb, **kw)
dt = time.process_time() - t
print(f"toy-based CLs: {len(sub)} points, {dt:.1f} s CPU, {dt / max(len(sub), 1):.2f} s per point;",
      "methods", toy_scan["cls_method"].value_counts().to_dict(),
      "failures", limit_failures(toy_scan))  # fmt: skip
