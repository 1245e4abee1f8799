#!/usr/bin/env python
"""Benchmark of the toy-MC study of one fit window: per-toy iminuit loop vs batched fitter.

Window: a realistic signal DSCB at m_a = 1.5 GeV (σ_L ≈ 10.5 MeV, σ_R ≈ 9 MeV, power-law
tails), window 9·(σ_L + σ_R), second-order Chebyshev background; toys with on average
1500 background + 30 signal events.  Both methods generate *and* fit every toy with the
signal yield free (Poisson-fluctuated total), single-threaded:

(a) per-toy loop: ``sample_window`` (numpy) + ``iminuit.cost.ExtendedUnbinnedNLL`` with
    numba-stats ``crystalball_ex`` and a Chebyshev polynomial, Migrad then Hesse, started
    at the generated values;
(b) batched: ``alpscan.fitting.toys.toy_study`` (inverse-cdf generation, basis
    evaluation and damped-Newton fits in numba), warm-started from the generated values.

Rates are toys per second of one core (wall clock of a single-threaded process; the CPU
time is reported too), best of ``--repeats``.  The fitted yields of (a) and (b) are
compared on the same toys (the toys of (a) refitted by the batched fitter), and once more
with the first ``--n-tight`` toys refitted by iminuit at a tight Migrad tolerance (not
timed), which separates Migrad's default convergence tolerance from real differences.

With ``--stages`` (after a completed default run in the repository root) it also reruns
the default toy and limit stages (``toy_chunk``, ``limits_mode``, ``limit_gaw``) with
``snakemake --cores 2 --forcerun toy_chunk`` and reports their wall time and the CPU time
of each rule from the ``benchmark:`` files.

Usage:  python benchmarks/toys.py [--toys-a 300] [--toys-b 20000] [--repeats 3] [--stages]
Prints a table and writes benchmarks/output/toys.json.
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # single-threaded: rates are per core

import argparse  # noqa: E402
import csv  # noqa: E402
import glob  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402
from iminuit import Minuit  # noqa: E402
from iminuit.cost import ExtendedUnbinnedNLL  # noqa: E402
from numba_stats import crystalball_ex  # noqa: E402

from alpscan.fitting.batched import fit_batch  # noqa: E402
from alpscan.fitting.dscb import DSCBParams, dscb_window_fraction  # noqa: E402
from alpscan.fitting.toys import toy_study  # noqa: E402
from alpscan.fitting.window_model import WindowModel  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.oracles.window import sample_window  # noqa: E402

OUT = ROOT / "benchmarks" / "output" / "toys.json"

#: Signal shape at m_a = 1.5 GeV (GeV), close to the signal model of the K+ mode.
SIGNAL = DSCBParams(mu=1.5, sigma_l=0.0105, sigma_r=0.0090, alpha_l=1.2, n_l=4.0,
                    alpha_r=1.6, n_r=6.0)
HALF = 4.5 * (SIGNAL.sigma_l + SIGNAL.sigma_r)
LO, HI = SIGNAL.mu - HALF, SIGNAL.mu + HALF
N_SIG, N_BKG, C1, C2 = 30.0, 1500.0, -0.2, 0.05


def iminuit_density(lo: float, hi: float, sig: DSCBParams):
    """Extended density ``(ν, λ(x))`` for ``ExtendedUnbinnedNLL`` (numba-stats pdfs)."""
    args = (sig.alpha_l, sig.n_l, sig.sigma_l, sig.alpha_r, sig.n_r, sig.sigma_r, sig.mu)
    frac = dscb_window_fraction(sig, lo, hi)
    width = hi - lo

    def density(x, n_sig, n_bkg, c1, c2):
        t = 2.0 * (x - lo) / width - 1.0
        bkg = (1.0 + c1 * t + c2 * (2.0 * t * t - 1.0)) / (width * (1.0 - c2 / 3.0))
        return n_sig + n_bkg, n_sig * crystalball_ex.pdf(x, *args) / frac + n_bkg * bkg

    return density


def fit_iminuit(x: np.ndarray, density, tol: float):
    """One iminuit fit (Migrad + Hesse) of a toy, started at the generated values."""
    m = Minuit(ExtendedUnbinnedNLL(x, density), n_sig=N_SIG, n_bkg=N_BKG, c1=C1, c2=C2)
    m.tol = tol
    m.migrad()
    m.hesse()
    return np.array(m.values), np.array(m.errors), bool(m.valid)


def run_iminuit(seed: int, n_toys: int, tol: float) -> dict:
    """(a): per-toy generation and iminuit fit; returns rate and the toys and results."""
    rng = np.random.default_rng(seed)
    density = iminuit_density(LO, HI, SIGNAL)
    toys, vals, errs, valid = [], [], [], []
    cpu0, t0 = time.process_time(), time.perf_counter()
    for _ in range(n_toys):
        x = sample_window(rng, N_SIG, N_BKG, (C1, C2), SIGNAL, (), LO, HI)
        v, e, ok = fit_iminuit(x, density, tol)
        toys.append(x)
        vals.append(v)
        errs.append(e)
        valid.append(ok)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {
        "rate": n_toys / wall,
        "rate_cpu": n_toys / cpu,
        "toys": toys,
        "values": np.array(vals),
        "errors": np.array(errs),
        "valid": np.array(valid),
    }


def run_batched(model: WindowModel, theta: np.ndarray, seed: int, n_toys: int, batch: int):
    """(b): batched generation + fit (toy_study); returns rate and the study."""
    rng = np.random.default_rng(seed)
    cpu0, t0 = time.process_time(), time.perf_counter()
    study = toy_study(rng, model, theta, n_toys, batch_size=batch)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return n_toys / wall, n_toys / cpu, study


def compare_on_same_toys(model: WindowModel, theta: np.ndarray, res_a: dict) -> dict:
    """Refit the toys of (a) with the batched fitter; differences of the yields."""
    toys = res_a["toys"]
    x = np.concatenate(toys)
    off = np.concatenate([[0], np.cumsum([t.size for t in toys])])
    start = (np.diff(off) / model.expected(theta))[:, None] * theta[None, :]
    fit = fit_batch(model, model.basis(x), off, start=start)
    pub = fit.public(model)
    ok = fit.converged & res_a["valid"]
    d_sig = np.abs(res_a["values"][ok, 0] - pub[ok, 0])
    d_bkg = np.abs(res_a["values"][ok, 1] - pub[ok, 1])
    return {
        "n_compared": int(ok.sum()),
        "max_abs_diff_n_sig_events": float(d_sig.max()),
        "max_diff_n_sig_over_error": float(np.max(d_sig / fit.n_sig_err[ok])),
        "max_rel_diff_n_sig_vs_max_N_sigma": float(
            np.max(d_sig / np.maximum(np.abs(pub[ok, 0]), fit.n_sig_err[ok]))
        ),
        "max_rel_diff_n_bkg": float(np.max(d_bkg / np.abs(pub[ok, 1]))),
        "max_rel_diff_n_sig_err": float(
            np.max(np.abs(res_a["errors"][ok, 0] / fit.n_sig_err[ok] - 1.0))
        ),
    }


def _tsv_seconds(pattern: str) -> list[float]:
    out = []
    for path in sorted(glob.glob(str(ROOT / pattern))):
        with open(path) as f:
            out.append(float(next(csv.DictReader(f, delimiter="\t"))["s"]))
    return out


def time_default_stages(cores: int = 2) -> dict:
    """Rerun the default toy and limit stages; wall time and per-rule CPU time (s)."""
    cfg = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    modes = cfg["modes"]
    targets = [f"results/scan/{m}.parquet" for m in modes] + ["results/limits/gaw.parquet"]
    cmd = [sys.executable, "-m", "snakemake", "--cores", str(cores), "--quiet", "all",
           "--forcerun", "toy_chunk", "--", *targets]  # fmt: skip
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True)
    wall = time.perf_counter() - t0
    toys = _tsv_seconds("results/benchmarks/toys/*/*.tsv")
    n_points = sum(len(pd.read_parquet(ROOT / f"results/scan/{m}.parquet")) for m in modes)
    return {
        "wall_s": wall, "cores": cores, "toy_chunk_s": sum(toys), "toy_chunk_jobs": len(toys),
        "limits_mode_s": sum(_tsv_seconds("results/benchmarks/limits/K*.tsv")),
        "limit_gaw_s": sum(_tsv_seconds("results/benchmarks/limits/gaw.tsv")),
        "scan_points": n_points, "toys_fitted": n_points * int(cfg["toys"]["n_toys"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--toys-a", type=int, default=300, help="toys of the iminuit loop")
    parser.add_argument("--toys-b", type=int, default=20000, help="toys of the batched fitter")
    parser.add_argument("--batch", type=int, default=500, help="toys per batch in (b)")
    parser.add_argument("--repeats", type=int, default=3, help="timing repeats (best kept)")
    parser.add_argument("--migrad-tol", type=float, default=0.1, help="iminuit tolerance in (a)")
    parser.add_argument("--tight-tol", type=float, default=1e-5,
                        help="iminuit tolerance of the (untimed) tight refit comparison")
    parser.add_argument("--n-tight", type=int, default=50, help="toys refitted tightly")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--stages", action="store_true",
                        help="also time the default toy and limit stages (needs a completed run)")
    args = parser.parse_args()

    model = WindowModel(LO, HI, SIGNAL)
    theta = model.from_public([N_SIG, N_BKG, C1, C2])

    # Warm-up (numba compilation / cache load), not timed.
    run_iminuit(args.seed + 99, 3, args.migrad_tol)
    run_batched(model, theta, args.seed + 99, 50, args.batch)

    best_a = None
    rates_a, rates_b = [], []
    for r in range(args.repeats):
        res_a = run_iminuit(args.seed + r, args.toys_a, args.migrad_tol)
        rates_a.append(res_a["rate"])
        if best_a is None or res_a["rate"] > best_a["rate"]:
            best_a = res_a
    best_b = None
    for r in range(args.repeats):
        rate, rate_cpu, study = run_batched(model, theta, args.seed + r, args.toys_b, args.batch)
        rates_b.append(rate)
        if best_b is None or rate > best_b[0]:
            best_b = (rate, rate_cpu, study)
    rate_b, rate_b_cpu, study = best_b
    cmp = compare_on_same_toys(model, theta, best_a)
    # The same toys refitted by iminuit with a tight tolerance (not timed): the residual
    # difference is Migrad's convergence tolerance, not the model.
    density = iminuit_density(LO, HI, SIGNAL)
    n_t = min(args.n_tight, args.toys_a)
    tight = [fit_iminuit(x, density, args.tight_tol) for x in best_a["toys"][:n_t]]
    res_tight = {
        "toys": best_a["toys"][:n_t],
        "values": np.array([t[0] for t in tight]),
        "errors": np.array([t[1] for t in tight]),
        "valid": np.array([t[2] for t in tight]),
    }
    cmp_tight = {"migrad_tol": args.tight_tol, **compare_on_same_toys(model, theta, res_tight)}

    result = {
        "window_gev": [LO, HI],
        "signal_shape": SIGNAL.to_dict(),
        "generated": {"n_sig": N_SIG, "n_bkg": N_BKG, "c1": C1, "c2": C2},
        "iminuit_loop": {
            "toys": args.toys_a,
            "toys_per_s_per_core": best_a["rate"],
            "toys_per_cpu_s": best_a["rate_cpu"],
            "all_repeats": rates_a,
            "migrad_tol": args.migrad_tol,
            "n_invalid": int((~best_a["valid"]).sum()),
        },
        "batched": {
            "toys": args.toys_b,
            "batch_size": args.batch,
            "toys_per_s_per_core": rate_b,
            "toys_per_cpu_s": rate_b_cpu,
            "all_repeats": rates_b,
            "n_failed": study.n_failed,
            "bias": study.bias,
            "sigma_sig": study.sigma_sig,
            "pull_mean": study.pull_mean,
            "pull_width": study.pull_width,
        },
        "speedup": rate_b / best_a["rate"],
        "same_toys_comparison": cmp,
        "same_toys_comparison_tight_migrad": cmp_tight,
        "machine": {"python": platform.python_version(), "processor": platform.processor(),
                    "cpu_count": os.cpu_count()},
    }
    if args.stages:
        result["default_stages"] = time_default_stages(cores=2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))

    rows = [
        ("(a) iminuit per-toy loop [toys/s/core]", f"{best_a['rate']:.1f}"),
        ("(b) batched fitter      [toys/s/core]", f"{rate_b:.0f}"),
        ("speed-up (b)/(a)", f"{result['speedup']:.0f}x"),
        ("(b) failed fits", f"{study.n_failed} / {args.toys_b}"),
        ("(b) bias, sigma_sig", f"{study.bias:+.3f}, {study.sigma_sig:.2f} events"),
        ("(b) pull mean, width", f"{study.pull_mean:+.3f}, {study.pull_width:.3f}"),
        ("max |dN_sig| / sigma(N_sig)  (a vs b)", f"{cmp['max_diff_n_sig_over_error']:.2e}"),
        ("max |dN_sig| / max(|N|, sigma)", f"{cmp['max_rel_diff_n_sig_vs_max_N_sigma']:.2e}"),
        ("max |dN_bkg| / N_bkg", f"{cmp['max_rel_diff_n_bkg']:.2e}"),
        ("max |d sigma(N_sig)| / sigma", f"{cmp['max_rel_diff_n_sig_err']:.2e}"),
        (f"same, Migrad tol {args.tight_tol:g} ({n_t} toys): max |dN_sig| / sigma",
         f"{cmp_tight['max_diff_n_sig_over_error']:.2e}"),
        ("   max |dN_bkg| / N_bkg", f"{cmp_tight['max_rel_diff_n_bkg']:.2e}"),
    ]
    if args.stages:
        st = result["default_stages"]
        rows += [
            ("default toy + limit stages, --cores 2 [s wall]", f"{st['wall_s']:.0f}"),
            ("   toy_chunk jobs [CPU s, jobs]", f"{st['toy_chunk_s']:.0f}, {st['toy_chunk_jobs']}"),
            ("   limits_mode jobs [CPU s]", f"{st['limits_mode_s']:.0f}"),
            ("   limit_gaw [CPU s]", f"{st['limit_gaw_s']:.0f}"),
            ("   toys fitted", f"{st['toys_fitted']}"),
        ]
    width = max(len(k) for k, _ in rows)
    print(f"Toy benchmark, window [{LO:.4f}, {HI:.4f}] GeV, {N_BKG:.0f} bkg + {N_SIG:.0f} sig")
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
