#!/usr/bin/env python
"""Benchmark of the scan fits: iminuit (``fit_window``) vs the batched fitter, on a run's data.

For every mode of a completed run (``--results``, default ``results``) the scan points of
``results/scan/{mode}/points.parquet`` are fitted to ``results/selection/{mode}/data.parquet``
twice, exactly as the ``scan_chunk`` rule does (signal model, peaking shapes, window width
from the config): with ``fitter="iminuit"`` (the scan's fitter before issue 16) and with
``fitter="batched"`` (now the default; iminuit only where it does not converge).  It
reports per mode and in total:

* the CPU time of each (single-threaded process);
* how far the results moved, over the points both fit with a Hesse error (empty windows
  are exact in both): max |Δn_sig|/σ (σ the Hesse error of the iminuit fit), max |ΔS|
  (local significance) and the number of points moved by more than 0.01 σ;
* the points at the positivity edge (``at_boundary``) and those whose error now comes from
  the profile likelihood.

Usage:  python benchmarks/scan_fitters.py [--results results] [--config config/config.yaml ...]
Prints a table and writes benchmarks/output/scan_fitters.json.
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # single-threaded: times are per core

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import yaml  # noqa: E402

from alpscan.fitting.scan import fit_points  # noqa: E402
from alpscan.fitting.shape_tables import peaking_spec  # noqa: E402
from alpscan.fitting.signal_model import interpolate_signal_model  # noqa: E402
from alpscan.io import read_parquet  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--results", default="results", help="results directory of a completed run")
    ap.add_argument("--config", nargs="+", default=[str(ROOT / "config" / "config.yaml")],
                    help="config files of that run (later ones override), for scan.window_width_factor")
    args = ap.parse_args()
    cfg: dict = {}
    for path in args.config:
        with open(path) as f:
            _merge(cfg, yaml.safe_load(f) or {})
    width = float(cfg["scan"]["window_width_factor"])
    res = Path(args.results)
    out: dict = {"results": str(res), "config": args.config, "modes": {}}
    for mode in cfg["modes"]:
        model = interpolate_signal_model(read_parquet(res / "signal_model" / f"{mode}.parquet"))
        with open(res / "signal_model" / f"{mode}_peaking.json") as f:
            peaking = peaking_spec(json.load(f))
        points = read_parquet(res / "scan" / mode / "points.parquet")["m_a"].to_numpy()
        data = read_parquet(res / "selection" / mode / "data.parquet", columns=["m_gg"])["m_gg"].to_numpy()
        tables, cpu = {}, {}
        fit_points(data, None, points[:2], model, peaking, window_width_factor=width)  # compile / warm up
        for fitter in ("iminuit", "batched"):
            t0 = time.process_time()
            tables[fitter] = fit_points(data, None, points, model, peaking, window_width_factor=width,
                                        fitter=fitter)
            cpu[fitter] = time.process_time() - t0
        a, b = tables["iminuit"], tables["batched"]
        ok = (a["fit_ok"] & b["fit_ok"]).to_numpy().copy()
        ok &= (a["n_sig_err"] > 0).to_numpy()  # empty windows: n_sig = 0 exactly, no Hesse error
        pull = np.abs(b["n_sig"] - a["n_sig"]).to_numpy()[ok] / a["n_sig_err"].to_numpy()[ok]
        d_s = np.abs(b["significance"] - a["significance"]).to_numpy()[ok]
        worst = int(np.argmax(pull)) if pull.size else None
        out["modes"][mode] = {
            "n_points": int(len(points)),
            "cpu_s_iminuit": cpu["iminuit"],
            "cpu_s_batched": cpu["batched"],
            "ms_per_point_iminuit": 1e3 * cpu["iminuit"] / max(len(points), 1),
            "ms_per_point_batched": 1e3 * cpu["batched"] / max(len(points), 1),
            "n_fit_ok_iminuit": int(a["fit_ok"].sum()),
            "n_fit_ok_batched": int(b["fit_ok"].sum()),
            "n_iminuit_fallback": int((b["fitter"] == "iminuit").sum()),
            "max_abs_dnsig_over_sigma": float(pull.max()) if pull.size else float("nan"),
            "worst_m_a": float(points[ok][worst]) if worst is not None else float("nan"),
            "max_abs_dS": float(d_s.max()) if d_s.size else float("nan"),
            "n_compared": int(ok.sum()),
            "n_pull_above_0.01": int(np.sum(pull > 0.01)),
            "n_at_boundary": int(b["at_boundary"].sum()),
            "n_err_from_profile": int(b["err_from_profile"].sum()),
        }
    modes = out["modes"].values()
    out["total"] = {
        "n_points": sum(m["n_points"] for m in modes),
        "cpu_s_iminuit": sum(m["cpu_s_iminuit"] for m in modes),
        "cpu_s_batched": sum(m["cpu_s_batched"] for m in modes),
        "max_abs_dnsig_over_sigma": max(m["max_abs_dnsig_over_sigma"] for m in modes),
        "max_abs_dS": max(m["max_abs_dS"] for m in modes),
        "n_compared": sum(m["n_compared"] for m in modes),
        "n_pull_above_0.01": sum(m["n_pull_above_0.01"] for m in modes),
        "n_at_boundary": sum(m["n_at_boundary"] for m in modes),
        "n_iminuit_fallback": sum(m["n_iminuit_fallback"] for m in modes),
    }
    cols = ["n_points", "ms_per_point_iminuit", "ms_per_point_batched", "max_abs_dnsig_over_sigma", "max_abs_dS",
            "n_compared", "n_pull_above_0.01", "n_at_boundary", "n_err_from_profile",
            "n_iminuit_fallback"]
    print("mode  " + "  ".join(cols))
    for mode, m in out["modes"].items():
        print(f"{mode:5s} " + "  ".join(f"{m[c]:.4g}" if isinstance(m[c], float) else str(m[c]) for c in cols))
    print("total", json.dumps(out["total"]))
    dest = ROOT / "benchmarks" / "output"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "scan_fitters.json").write_text(json.dumps(out, indent=2))


def _merge(base: dict, new: dict) -> None:
    for k, v in new.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _merge(base[k], v)
        else:
            base[k] = v


if __name__ == "__main__":
    main()
