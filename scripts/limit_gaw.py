"""Rule script of ``limit_gaw``: g_aW limit of the modes combined (parquet and CSV)."""

from alpscan.io import read_parquet, write_parquet
from alpscan.logs import setup_script_logging
from alpscan.stats.limit_tables import gaw_table, n_bb_pairs

log = setup_script_logging(snakemake.log[0])  # noqa: F821
inp, par, out = snakemake.input, snakemake.params, snakemake.output  # noqa: F821
profiles = {mode: read_parquet(p) for mode, p in zip(par.modes, inp.profiles)}
longlived = {mode: read_parquet(p) for mode, p in zip(par.modes, inp.longlived)}
masses = read_parquet(inp.points)["m_a"].to_numpy()
table = gaw_table(profiles, longlived, masses, n_bb=n_bb_pairs(par.physics, par.lumi_on_fb),
                  physics=par.physics, sigma_eff=par.limits["efficiency_syst_rel"],
                  cl=par.limits["cl"])
write_parquet(table, out.table, {"modes": list(par.modes), "cl": par.limits["cl"]})
table.to_csv(out.csv, index=False, float_format="%.6e")
log.info("g_aW: %d masses, observed limit %.3g .. %.3g GeV^-1", len(table),
         table["gaw_ul_obs"].min(), table["gaw_ul_obs"].max())
