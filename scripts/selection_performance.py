"""Rule script of ``selection_performance``: performance table and figures."""

import json

import pandas as pd

from alpscan.io import read_metadata, read_parquet
from alpscan.logs import setup_script_logging
from alpscan.mva.selection import auc_table, single_cut_performance
from alpscan.plotting.mva import efficiency_figure, roc_curves, score_distributions
from alpscan.generation.samples import subdecay_bf
from alpscan.validation.targets import PAPER_SINGLE_CUT as PAPER, performance_targets, target_summary

log = setup_script_logging(snakemake.log[0])  # noqa: F821
inp, par = snakemake.input, snakemake.params  # noqa: F821
with open(inp.cuts) as f:
    cuts = json.load(f)
n_bkg = len(par.background)
signal, background, eff = {}, {}, {}
report = {"paper": PAPER, "modes": {}}
for i, mode in enumerate(par.modes):
    sig = read_parquet(inp.signal[i])
    bkg = pd.concat([read_parquet(p) for p in inp.background[i * n_bkg:(i + 1) * n_bkg]], ignore_index=True)
    bkg = bkg[~bkg["is_train"]]
    signal[mode], background[mode] = sig, bkg
    sel = read_parquet(inp.selected_signal[i], columns=["component"])
    meta = read_metadata(inp.generated_signal[i])
    counts = sel["component"].value_counts()
    m_a = [c["m_a"] for c in meta["components"]]
    bf = subdecay_bf(mode, {"subdecay": par.subdecay})
    eff_m = [counts.get(k, 0) / c["n_generated"] * bf for k, c in enumerate(meta["components"])]
    eff[mode] = (m_a, eff_m)
    report["modes"][mode] = {
        "single_cut": single_cut_performance(sig, bkg, cuts[mode], par.boundary),
        "auc": auc_table(sig, bkg),
        "final_efficiency": {"m_a_gev": m_a, "efficiency": eff_m},
    }
# average over modes of each classifier's performance, next to the paper's
report["average"] = {
    name: {k: float(pd.Series([report["modes"][m]["single_cut"][name][k] for m in par.modes]).mean())
           for k in ("signal_efficiency", "background_rejection")}
    for name in PAPER
}
# every target with the paper's value, its tolerance and pass/fail (README "Fidelity")
report["targets"] = performance_targets(report)
report["target_summary"] = target_summary(report["targets"])
with open(snakemake.output.performance, "w") as f:  # noqa: F821
    json.dump(report, f, indent=2)
log.info("average performance: %s", report["average"])
score_distributions(signal, background, snakemake.output.scores)  # noqa: F821
roc_curves(signal, background, snakemake.output.roc)  # noqa: F821
efficiency_figure(eff, snakemake.output.efficiency)  # noqa: F821
