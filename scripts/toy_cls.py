"""Rule script of ``toy_cls``: toy-based CLs limits at chosen masses, every mode (spec §9)."""

import json

import pandas as pd

from alpscan.fitting.signal_model import interpolate_signal_model
from alpscan.fitting.shape_tables import peaking_spec
from alpscan.io import read_parquet, write_parquet
from alpscan.logs import setup_script_logging
from alpscan.stats.limit_tables import TOY_CLS_COLUMNS, b_fraction, n_bb_pairs, toy_cls_points

log = setup_script_logging(snakemake.log[0])  # noqa: F821
inp, par = snakemake.input, snakemake.params  # noqa: F821
tables = []
for i, mode in enumerate(par.modes):
    with open(inp.peaking[i]) as f:
        peaking = peaking_spec(json.load(f))
    tables.append(toy_cls_points(
        read_parquet(inp.data[i], columns=["m_gg"])["m_gg"].to_numpy(), read_parquet(inp.scans[i]),
        interpolate_signal_model(read_parquet(inp.models[i])), peaking, mode=mode,
        masses_gev=par.toy_cls["masses_gev"], window_width_factor=par.window_width_factor,
        n_bb=n_bb_pairs(par.physics, par.lumi_on_fb), f_b=b_fraction(mode, par.physics),
        sigma_eff=par.limits["efficiency_syst_rel"], cl=par.limits["cl"],
        n_toys=par.toy_cls["n_toys"], seed=par.seed,
    ))
table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=TOY_CLS_COLUMNS)
write_parquet(table, snakemake.output[0], {"cl": par.limits["cl"]})  # noqa: F821
for row in table.itertuples():
    log.info("%s m_a = %.4f GeV: B UL toys %.3g, asymptotic %.3g (ratio %.3f, %d failed toys)",
             row.mode, row.m_a, row.br_ul_obs_toys, row.br_ul_obs_asymptotic,
             row.ratio_toys_to_asymptotic, row.n_failed_toys)
