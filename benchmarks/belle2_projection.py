"""Belle II projection figure: expected g_aW limit of a completed default run (711 fb⁻¹)
and the same scaled to 50 ab⁻¹ (background-dominated √L scaling, not a full run; see
alpscan.stats.projection), with BaBar's limit.

Usage (in or next to a completed default run):
  python benchmarks/belle2_projection.py [--results results] [--target-lumi 50000 ...] [--configfile ...]
Writes docs/figures/belle2_projection.png (and .pdf) and
benchmarks/output/belle2_projection.json, and prints the summary.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import sys

import numpy as np

from alpscan.io import read_metadata, read_parquet
from alpscan.plotting.paper import babar_gaw_curve, veto_windows
from alpscan.plotting.projection import plot_gaw_projection
from alpscan.plotting.style import save
from alpscan.stats.projection import projected_gaw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from generation_scaling import load_config  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=str(ROOT / "results"), help="results/ of a completed default run")
    parser.add_argument("--target-lumi", type=float, nargs="+", default=[50000.0],
                        help="projected luminosities, fb^-1 (each a scaled curve)")
    parser.add_argument("--configfile", help="config overlay of the run on config/config.yaml (e.g. config/test.yaml)")
    parser.add_argument("--out", default=str(ROOT / "docs/figures/belle2_projection.png"))
    args = parser.parse_args()
    cfg = load_config(args.configfile)
    res = Path(args.results)
    modes = read_metadata(str(res / "limits/gaw.parquet"))["modes"]
    profiles = {m: read_parquet(str(res / f"limits/{m}_profiles.parquet")) for m in modes}
    longlived = {m: read_parquet(str(res / f"signal_model/{m}_longlived.parquet")) for m in modes}
    masses = read_parquet(str(res / f"scan/{modes[0]}/points.parquet"))["m_a"].to_numpy()
    lumi = cfg["luminosity"]["on_resonance_fb"]
    kw = dict(physics=cfg["physics"], sigma_eff=cfg["limits"]["efficiency_syst_rel"], cl=cfg["limits"]["cl"])
    now = projected_gaw(profiles, longlived, masses, lumi_fb=lumi, target_lumi_fb=lumi, **kw)
    # the unscaled recomputation must be the run's own g_aW table
    run = read_parquet(str(res / "limits/gaw.parquet"))
    same = np.allclose(now["gaw_ul_exp"], run["gaw_ul_exp"], rtol=1e-9, equal_nan=True)
    curves = [(now, f"{lumi:g} fb$^{{-1}}$: this run", "k")]
    summary = {"run_lumi_fb": lumi, "recomputed_equals_run": bool(same),
               "gaw_ul_exp_median_run": float(np.nanmedian(now["gaw_ul_exp"])), "targets": [], "figure": args.out}
    colours = ["tab:red", "tab:green", "tab:orange"]
    for target, colour in zip(args.target_lumi, colours):
        table = projected_gaw(profiles, longlived, masses, lumi_fb=lumi, target_lumi_fb=target, **kw)
        ratio = (table["gaw_ul_exp"] / now["gaw_ul_exp"]).to_numpy()
        ratio = ratio[np.isfinite(ratio)]
        name = f"{target / 1000:g} ab$^{{-1}}$" if target >= 1000 else f"{target:g} fb$^{{-1}}$"
        curves.append((table, f"{name}: yield limit scaled by $L^{{1/2}}$", colour))
        summary["targets"].append({
            "lumi_fb": target, "gaw_ul_exp_median": float(np.nanmedian(table["gaw_ul_exp"])),
            "ratio_to_run_median": float(np.median(ratio)), "ratio_to_run_range": [float(ratio.min()),
                                                                                  float(ratio.max())],
            "prompt_expectation_(L/L_run)^-1/4": (target / lumi) ** -0.25})
    babar = babar_gaw_curve(ROOT / "resources/babar-2111.01800-prompt-limit.csv")
    vetoes = veto_windows(cfg["scan"]["vetoes_gev"], cfg["scan"]["m_start_gev"])
    save(plot_gaw_projection(curves, babar, vetoes=vetoes), args.out)
    out = ROOT / "benchmarks/output"
    out.mkdir(parents=True, exist_ok=True)
    (out / "belle2_projection.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
