"""Rule script of ``calibrate``: off-resonance normalisation and shape weights of one
mode, with its closure table."""

import json

import numpy as np
import pandas as pd

from alpscan.io import read_metadata, read_parquet, write_parquet
from alpscan.logs import setup_script_logging
from alpscan.mva.classifier import save_model
from alpscan.mva.selection import CS_VARIABLES, calibrate, calibrated_weight, closure_rows, region_factor

log = setup_script_logging(snakemake.log[0])  # noqa: F821
inp, par = snakemake.input, snakemake.params  # noqa: F821
cal, boundary, seed = par.calibration, par.boundary, par.seed
mode = snakemake.wildcards.mode  # noqa: F821
off_sim, off_data = read_parquet(inp.offres_sim), read_parquet(inp.offres_data)
norms, rw, (tr_sim, tr_data) = calibrate(off_sim, off_data, cal["reweighter"], seed, boundary,
                                         cal["holdout_fraction"], cal["max_weight"])
log.info("normalisation ratios: %s", norms)
# closure on the held-out off-resonance events
hs, hd = off_sim[~tr_sim], off_data[~tr_data]
w_before = hs["weight"].to_numpy()
w_norm = w_before * region_factor(hs["m_gg"].to_numpy(), norms, boundary)
w_after = calibrated_weight(hs, norms, rw, boundary, column="weight")
# on-resonance: calibrated continuum simulation vs the continuum of the pseudo-data
cont = pd.concat([read_parquet(p) for p in inp.continuum], ignore_index=True)
cont = cont[cont["weight_fit"] > 0]
meta = read_metadata(inp.data)
cont_ids = [i for i, c in enumerate(meta["components"]) if c.get("component", "").startswith("continuum")]
data = read_parquet(inp.data)
data_cont = data[data["component"].isin(cont_ids)]
comparisons = {
    "offres_sim_vs_data_before": ((hs, w_before), (hd, hd["weight"].to_numpy())),
    "offres_sim_vs_data_normalised": ((hs, w_norm), (hd, hd["weight"].to_numpy())),
    "offres_sim_vs_data_after": ((hs, w_after), (hd, hd["weight"].to_numpy())),
}
if len(data_cont) and len(cont):
    comparisons["onres_continuum_sim_vs_true_tune_before"] = ((cont, cont["weight_fit"].to_numpy()),
                                                             (data_cont, data_cont["weight"].to_numpy()))
    comparisons["onres_continuum_sim_vs_true_tune_after"] = ((cont, calibrated_weight(cont, norms, rw, boundary)),
                                                            (data_cont, data_cont["weight"].to_numpy()))
rows = closure_rows(mode, CS_VARIABLES, comparisons, cal["closure_bins"])
table = pd.DataFrame(rows)
write_parquet(table, snakemake.output.closure, {"mode": mode})  # noqa: F821
save_model(rw.model, snakemake.output.reweighter)  # noqa: F821
summary = {
    "mode": mode,
    "normalisation": {k: {"ratio": v[0], "error": v[1]} for k, v in norms.items()},
    "reweighter": {"prior": rw.prior, "w_max": rw.w_max, "norm": rw.norm},
    "n_offres_sim": int(len(off_sim)), "n_offres_data": int(len(off_data)),
    "mean_chi2_ndf": {k: float(np.nanmean(g["chi2_ndf"])) for k, g in table.groupby("comparison")} if len(table) else {},
}
with open(snakemake.output.calibration, "w") as f:  # noqa: F821
    json.dump(summary, f, indent=2)
log.info("closure: %s", summary["mean_chi2_ndf"])
