#!/usr/bin/env python
"""Where the toy-MC bias comes from: the generation rule or the fit.

Window: the signal DSCB at 1.5 GeV of ``benchmarks/toys.py`` (σ_L ≈ 10.5 MeV,
σ_R ≈ 9 MeV), window 9·(σ_L + σ_R), second-order Chebyshev background, no peaking
component; background occupancies ``--nu`` (expected events in the window) spanning the
scan's windows (a few events above 2 GeV, thousands below 1 GeV).

(1) Injected yields.  Per occupancy, ``--toys`` toys generated at S = 0 and at
    S = 3·σ_Sig(S = 0) by ``alpscan.fitting.toys.toy_study`` and, as an independent
    generator, by the per-component Poisson sampler of ``tests/oracles/window.py``
    (numpy), both fitted by the batched fitter.  Reports bias = mean(N_fit − N_gen)/σ_Sig
    with its statistical error, the pull mean and the fraction of toy fits at the
    positivity boundary.  Equal biases from the two generators: the bias is the fit's
    (it grows as the window empties, where the positivity edge truncates the fits).

(2) The generation rule.  ``--datasets`` background-only "data" sets per occupancy,
    each fitted; toys (``--toys-per-data``) generated (a) at the free fit, as before issue
    19 (a negative fitted yield generates toys at that negative yield), and (b) with
    :func:`alpscan.fitting.toys.generation_theta` (the fitted pdf with N_gen = max(N, 0):
    the n_sig = 0 fit where N < 0).  Reports the mean bias of the data sets with N < 0 and
    N >= 0, the correlation r of the bias with N/σ_Sig under each rule, and the mean bias
    in bins of N/σ_Sig.

(3) With ``--run DIR`` (a completed run made with the old rule, whose toy tables have
    ``n_gen < 0`` where the data fit is negative), those scan points get their toy study
    recomputed with the new rule (same seeds, same toy count), and the toy bias of DIR
    (old rule) and the new one are compared: mean, range, and correlation with the fitted
    yield/σ.

Usage:  python benchmarks/toy_bias.py [--toys 4000] [--datasets 200] [--run /path/to/run]
Prints tables and writes benchmarks/output/toy_bias.json.
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from alpscan.fitting.batched import fit_batch
from alpscan.fitting.dscb import DSCBParams
from alpscan.fitting.toys import fit_dataset, generation_theta, sample_toys, toy_study
from alpscan.fitting.window_model import WindowModel

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.oracles.window import sample_window  # noqa: E402

OUT = ROOT / "benchmarks" / "output" / "toy_bias.json"
SIGNAL = DSCBParams(mu=1.5, sigma_l=0.0105, sigma_r=0.0090, alpha_l=1.2, n_l=4.0, alpha_r=1.6, n_r=6.0)
HALF = 4.5 * (SIGNAL.sigma_l + SIGNAL.sigma_r)
MODEL = WindowModel(SIGNAL.mu - HALF, SIGNAL.mu + HALF, SIGNAL)
POLY = (-0.2, 0.05)


def _stats(n_fit, conv, bound, n_gen, n_err):
    ok = conv
    sig = float(np.std(n_fit[ok], ddof=1))
    dev = n_fit[ok] - n_gen
    good = ok & np.isfinite(n_err) & (n_err > 0)
    pulls = (n_fit[good] - n_gen) / n_err[good]
    return {"bias": float(dev.mean() / sig) if sig > 0 else 0.0,
            "bias_err": float(np.std(dev, ddof=1) / sig / np.sqrt(dev.size)) if sig > 0 else 0.0,
            "sigma_sig": sig, "pull_mean": float(pulls.mean()) if pulls.size > 1 else float("nan"),
            "at_boundary": float(np.mean(bound[ok])), "n_ok": int(ok.sum())}


def oracle_toys(rng, n_sig, nu, n_toys):
    """Toys from the independent per-component Poisson generator, fitted in one batch."""
    parts = [sample_window(rng, n_sig, nu, POLY, SIGNAL, (), MODEL.lo, MODEL.hi) for _ in range(n_toys)]
    off = np.zeros(n_toys + 1, dtype=np.int64)
    np.cumsum([p.size for p in parts], out=off[1:])
    x = np.concatenate(parts)
    fit = fit_batch(MODEL, MODEL.basis(x), off, with_nll=False)
    return _stats(fit.n_sig, fit.converged, fit.at_boundary, n_sig, fit.n_sig_err)


def injected(nus, n_toys, seed):
    rows = []
    for nu in nus:
        rng = np.random.default_rng([seed, int(nu * 10)])
        theta0 = MODEL.from_public([0.0, nu, *POLY])
        s0 = toy_study(rng, MODEL, theta0, n_toys)
        for s_inj in (0.0, round(3.0 * s0.sigma_sig, 2)):
            th = MODEL.from_public([s_inj, nu, *POLY])
            st = s0 if s_inj == 0.0 else toy_study(rng, MODEL, th, n_toys)
            a = _stats(st.n_fit, st.converged, st.at_boundary, s_inj, st.n_fit_err)
            b = oracle_toys(rng, s_inj, nu, n_toys)
            rows.append({"nu_bkg": nu, "n_inj": s_inj, **{f"{k}": v for k, v in a.items()},
                         "oracle_bias": b["bias"], "oracle_bias_err": b["bias_err"],
                         "oracle_pull_mean": b["pull_mean"]})
    return pd.DataFrame(rows)


def rules(nus, n_data, n_toys, seed):
    rows = []
    for nu in nus:
        rng = np.random.default_rng([seed, 1, int(nu * 10)])
        theta0 = MODEL.from_public([0.0, nu, *POLY])
        x_all, off = sample_toys(rng, MODEL, theta0, n_data)
        for d in range(n_data):
            x = x_all[off[d]:off[d + 1]]
            free, _ = fit_dataset(MODEL, x)
            gen = generation_theta(MODEL, x)
            if not free.converged[0] or gen.theta is None:
                continue
            old = toy_study(np.random.default_rng([seed, 2, d]), MODEL, free.theta[0], n_toys)
            new = toy_study(np.random.default_rng([seed, 2, d]), MODEL, gen.theta, n_toys)
            rows.append({"nu_bkg": nu, "n_fit": float(free.n_sig[0]), "n_err": float(free.n_sig_err[0]),
                         "n_events": int(x.size), "bias_old": old.bias, "bias_new": new.bias,
                         "sigma_old": old.sigma_sig, "sigma_new": new.sigma_sig})
    return pd.DataFrame(rows)


def _corr(a, b):
    ok = np.isfinite(a) & np.isfinite(b)
    return float(np.corrcoef(a[ok], b[ok])[0, 1]) if ok.sum() > 2 else float("nan")


def summarise_rules(df):
    out = []
    for nu, g in df.groupby("nu_bkg"):
        z = g["n_fit"] / g["sigma_old"]
        neg = g["n_fit"] < 0
        out.append({"nu_bkg": nu, "n_data": len(g), "n_negative": int(neg.sum()),
                    "old_bias_neg": g["bias_old"][neg].mean(), "old_bias_pos": g["bias_old"][~neg].mean(),
                    "new_bias_neg": g["bias_new"][neg].mean(), "new_bias_pos": g["bias_new"][~neg].mean(),
                    "r_old": _corr(z.to_numpy(), g["bias_old"].to_numpy()),
                    "r_new": _corr(z.to_numpy(), g["bias_new"].to_numpy())})
    return pd.DataFrame(out)


def bias_vs_z(df):
    """Mean toy bias of the data sets in bins of their fitted N/σ_Sig, per rule (all ν)."""
    z = df["n_fit"] / df["sigma_old"]
    bins = pd.cut(z, [-np.inf, -1.5, -0.5, 0.0, 0.5, 1.5, np.inf]).rename("z_bin")
    g = df.groupby([df["nu_bkg"], bins], observed=True)
    return pd.DataFrame({"n_data": g.size(), "bias_old": g["bias_old"].mean(),
                         "bias_new": g["bias_new"].mean()}).reset_index()


def run_comparison(run: Path, n_toys_override: int | None):
    """Old-rule toy tables of a completed run against the new rule at its negative points."""
    import yaml

    from alpscan.fitting.shape_tables import peaking_spec
    from alpscan.fitting.signal_model import interpolate_signal_model
    from alpscan.io import read_parquet
    from alpscan.stats.limit_tables import toy_table

    cfg = yaml.safe_load((run / "config" / "config.yaml").read_text())
    rows = []
    for mode in cfg["modes"]:
        old = pd.concat([read_parquet(p) for p in sorted(glob.glob(str(run / f"results/toys/{mode}/chunk_*.parquet")))])
        fits = read_parquet(run / f"results/scan/{mode}_fit.parquet")
        model = interpolate_signal_model(read_parquet(run / f"results/signal_model/{mode}.parquet"))
        peaking = peaking_spec(json.loads((run / f"results/signal_model/{mode}_peaking.json").read_text()))
        m = read_parquet(run / f"results/selection/{mode}/data.parquet", columns=["m_gg"])["m_gg"].to_numpy()
        old = old.set_index(np.round(old["m_a"].to_numpy(), 9))
        neg = old.index[old["fit_ok"] & (old["n_gen"] < 0)]
        n_toys = int(n_toys_override or old["n_toys"].iloc[0])
        new = toy_table(m, old.loc[neg, "m_a"].to_numpy(), model, peaking,
                        window_width_factor=cfg["scan"]["window_width_factor"], n_toys=n_toys,
                        seed=cfg["seed"], mode=mode)
        new = new.set_index(np.round(new["m_a"].to_numpy(), 9))
        both = old[old["fit_ok"]].copy()
        both["bias_new"] = both["bias"]
        both.loc[neg, "bias_new"] = new["bias"]
        fitted = fits.set_index(np.round(fits["m_a"].to_numpy(), 9))
        both["z"] = fitted.loc[both.index, "n_sig"] / fitted.loc[both.index, "n_sig_err"]
        both["mode"] = mode
        rows.append(both)
    df = pd.concat(rows)
    out = {}
    for mode, g in [*df.groupby("mode"), ("all", df)]:
        neg = g["n_gen"] < 0
        out[mode] = {"points": len(g), "negative": int(neg.sum()),
                     "old_mean": g["bias"].mean(), "old_min": g["bias"].min(), "old_max": g["bias"].max(),
                     "new_mean": g["bias_new"].mean(), "new_min": g["bias_new"].min(),
                     "new_max": g["bias_new"].max(),
                     "old_mean_neg": g["bias"][neg].mean(), "new_mean_neg": g["bias_new"][neg].mean(),
                     "r_old": _corr(g["z"].to_numpy(), g["bias"].to_numpy()),
                     "r_new": _corr(g["z"].to_numpy(), g["bias_new"].to_numpy())}
    return pd.DataFrame(out).T


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nu", type=float, nargs="+", default=[3.0, 10.0, 30.0, 100.0, 1500.0])
    ap.add_argument("--toys", type=int, default=4000)
    ap.add_argument("--datasets", type=int, default=200)
    ap.add_argument("--toys-per-data", type=int, default=500)
    ap.add_argument("--seed", type=int, default=19)
    ap.add_argument("--run", type=Path, default=None)
    ap.add_argument("--run-toys", type=int, default=None)
    args = ap.parse_args(argv)
    pd.set_option("display.width", 200)
    pd.set_option("display.float_format", lambda v: f"{v:.3f}")
    result = {}
    inj = injected(args.nu, args.toys, args.seed)
    print("(1) injected yields: toy_study generator vs the independent per-component oracle")
    print(inj.to_string(index=False))
    result["injected"] = inj.to_dict(orient="records")
    per_data = rules(args.nu, args.datasets, args.toys_per_data, args.seed)
    summ = summarise_rules(per_data)
    print("\n(2) generation rule: toys at the free fit (old) vs at max(N, 0) (new)")
    print(summ.to_string(index=False))
    result["rules"] = summ.to_dict(orient="records")
    zt = bias_vs_z(per_data)
    print("\n    mean bias in bins of the data fit's N/σ_Sig")
    print(zt.to_string(index=False))
    result["rules_vs_z"] = zt.astype({"z_bin": str}).to_dict(orient="records")
    if args.run is not None:
        cmp_ = run_comparison(args.run, args.run_toys)
        print(f"\n(3) toy bias of {args.run} (old rule) and recomputed at its negative points (new rule)")
        print(cmp_.to_string())
        result["run"] = {"dir": str(args.run), "table": cmp_.reset_index().to_dict(orient="records")}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1, default=float))
    print(f"\nwritten {OUT}")


if __name__ == "__main__":
    main()
