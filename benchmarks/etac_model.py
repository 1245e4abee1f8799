#!/usr/bin/env python
"""Does the η_c peaking template describe the η_c events of the pseudo-data? (issue 19)

1. Generates ``--n`` B⁰ → K_S η_c events with the simulation tune (the template sample,
   as the ``peaking_etac`` simulation) and ``--n`` with the pseudo-data tune (as the η_c
   events inside ``data``), default configuration, through the toy detector and the
   reconstruction; the template is fitted by ``alpscan.fitting.shape_tables.peaking_shapes``
   (the workflow's function).  Prints the template, the PDG mass and width (``particle``)
   and quantiles of both samples.
2. Binned comparison of the data-tune events with the template (χ²/ndf, 5 MeV bins).
3. ``--experiments`` K_S-like background-only pseudo-experiments: Poisson(``--n-etac``)
   η_c events drawn from the data-tune sample plus a flat background of ``--bkg`` events
   per GeV, fitted at scan points 2.93–3.04 GeV with the scan's window model (signal DSCB
   σ_L = 6, σ_R = 5 MeV, window 9·(σ_L + σ_R), η_c constrained to 25 %).  Prints the mean
   fitted signal yield per point with its error: a template that does not describe the
   η_c would show a mean yield pattern across the peak.

4. With ``--run DIR`` (a run with ``results/generation/{mode}/data.parquet``): the truth η_c
   events of each mode's pseudo-data (preselected, from the ``component`` column) in 20 MeV
   bins against the template's expectation for their number.

Usage:  python benchmarks/etac_model.py [--n 20000] [--experiments 3000] [--run DIR]
Writes benchmarks/output/etac_model.json.
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

import numpy as np
import yaml

from alpscan.fitting.batched import fit_batch
from alpscan.fitting.dscb import DSCBParams, dscb_cdf
from alpscan.fitting.scan import select_peaking
from alpscan.fitting.shape_tables import peaking_shapes, peaking_spec
from alpscan.fitting.window_model import WindowModel
from alpscan.generation.run import generate_sample
from alpscan.physics.constants import mass_gev, width_gev

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "output" / "etac_model.json"


def etac_sample(cfg: dict, n: int, tune: str, seed: int):
    cfg = copy.deepcopy(cfg)
    cfg["generation"]["min_sim_events"] = n
    if tune == "data":
        cfg["generation"]["sim_tune"] = cfg["generation"]["data_tune"]
    frame = generate_sample("K0S", "peaking_etac", cfg, seed=seed)[0]
    return frame.assign(weight_fit=frame["weight"])


def run_etac_events(run: Path, shape: DSCBParams) -> dict:
    """Truth η_c events of each mode's pseudo-data against the template (20 MeV bins)."""
    from alpscan.io import read_metadata, read_parquet

    edges = np.round(np.arange(2.90, 3.0801, 0.02), 3)
    cdf = dscb_cdf(edges, shape.mu, shape.sigma_l, shape.sigma_r, shape.alpha_l, shape.n_l,
                   shape.alpha_r, shape.n_r)
    frac = np.diff(cdf) / (cdf[-1] - cdf[0])
    res = {}
    print(f"\ntruth η_c events of the pseudo-data of {run} (preselected), 20 MeV bins from 2.90 GeV")
    for mode in ("Kp", "K0S", "Kst0", "Kstp"):
        path = run / f"results/generation/{mode}/data.parquet"
        if not path.exists():
            continue
        names = [c.get("component") for c in read_metadata(path)["components"]]
        d = read_parquet(path, columns=["m_gg", "component"])
        m = d["m_gg"].to_numpy()[d["component"].to_numpy() == names.index("peaking_etac")]
        counts, _ = np.histogram(m, edges)
        expect = frac * counts.sum()
        res[mode] = {"observed": counts.tolist(), "expected": expect.tolist()}
        print(f" {mode:5s} observed {counts}  expected {np.round(expect, 1)}")
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--experiments", type=int, default=3000)
    ap.add_argument("--n-etac", type=float, default=15.0)
    ap.add_argument("--bkg", type=float, default=100.0)
    ap.add_argument("--seed", type=int, default=19)
    ap.add_argument("--run", type=Path, default=None)
    args = ap.parse_args(argv)
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    sim = etac_sample(cfg, args.n, "sim", args.seed)
    data = etac_sample(cfg, args.n, "data", args.seed + 1)
    shapes = peaking_shapes({"etac": sim}, {"etac": 0.25})
    shape = DSCBParams(**shapes["etac"]["shape"])
    m = data["m_gg"].to_numpy()
    out = {"pdg_mass_gev": mass_gev("etac"), "pdg_width_gev": width_gev("etac"),
           "template": shapes["etac"]["shape"], "n_sim": int(len(sim)), "n_data": int(m.size),
           "quantiles_sim": np.quantile(sim["m_gg"], [0.05, 0.5, 0.95]).tolist(),
           "quantiles_data": np.quantile(m, [0.05, 0.5, 0.95]).tolist()}
    print(f"PDG η_c: m = {mass_gev('etac'):.5f} GeV, Γ = {1e3 * width_gev('etac'):.1f} MeV")
    print("template (sim tune):", {k: round(v, 5) for k, v in shapes["etac"]["shape"].items()})
    print("5/50/95 % quantiles sim :", np.round(out["quantiles_sim"], 4))
    print("5/50/95 % quantiles data:", np.round(out["quantiles_data"], 4))

    edges = np.arange(2.90, 3.0701, 0.005)
    counts, _ = np.histogram(m, edges)
    cdf = dscb_cdf(edges, shape.mu, shape.sigma_l, shape.sigma_r, shape.alpha_l, shape.n_l,
                   shape.alpha_r, shape.n_r)
    expect = np.diff(cdf) / (cdf[-1] - cdf[0]) * counts.sum()
    chi2 = float(np.sum((counts - expect) ** 2 / np.maximum(expect, 1.0)))
    out["chi2_ndf"] = chi2 / (counts.size - 1)
    print(f"data-tune events vs template: χ²/ndf = {chi2:.1f}/{counts.size - 1} "
          f"({counts.sum()} events, 5 MeV bins 2.90–3.07 GeV)")

    rng = np.random.default_rng(args.seed)
    spec = {k: (s, args.n_etac, 0.25 * args.n_etac) for k, (s, _, _) in peaking_spec(shapes).items()}
    rows = []
    print(f"\n{args.experiments} background-only pseudo-experiments "
          f"(Poisson({args.n_etac:g}) η_c + {args.bkg:g} background events/GeV)")
    print(" m_a     mean N_sig     sd(N_sig)  mean/sd")
    for m_a in np.round(np.arange(2.93, 3.0401, 0.01), 3):
        sig = DSCBParams(m_a, 0.006, 0.005, 1.2, 4.0, 1.6, 6.0)
        lo, hi = m_a - 4.5 * 0.011, m_a + 4.5 * 0.011
        comps, constraints, _ = select_peaking(spec, lo, hi)
        model = WindowModel(lo, hi, sig, comps, constraints)
        n_e = rng.poisson(args.n_etac, args.experiments)
        n_b = rng.poisson(args.bkg * (hi - lo), args.experiments)
        e = rng.choice(m, n_e.sum())
        b = rng.uniform(lo, hi, n_b.sum())
        # experiment k: its η_c then its background events, kept in the window
        ids = np.concatenate([np.repeat(np.arange(args.experiments), n_e),
                              np.repeat(np.arange(args.experiments), n_b)])
        x = np.concatenate([e, b])
        keep = (x >= lo) & (x <= hi)
        order = np.argsort(ids[keep], kind="stable")
        x, ids = x[keep][order], ids[keep][order]
        off = np.searchsorted(ids, np.arange(args.experiments + 1))
        fit = fit_batch(model, model.basis(x), off, with_nll=False)
        n = fit.n_sig[fit.converged]
        mean, sd = float(n.mean()), float(n.std(ddof=1))
        rows.append({"m_a": float(m_a), "mean_n_sig": mean, "err": sd / np.sqrt(n.size), "sd": sd,
                     "n_ok": int(n.size)})
        print(f" {m_a:.3f}  {mean:+6.2f} ± {sd / np.sqrt(n.size):.2f}  {sd:6.2f}   {mean / sd:+.3f}")
    out["experiments"] = rows
    if args.run is not None:
        out["run"] = run_etac_events(args.run, shape)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, indent=1))
    print(f"\nwritten {OUT}")


if __name__ == "__main__":
    main()
