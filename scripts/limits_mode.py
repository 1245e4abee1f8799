"""Rule script of ``limits_mode``: CLs limits on B(B -> K(*) a) of one mode (spec §9, §11)."""

import json

from alpscan.fitting.scan import read_chunks
from alpscan.fitting.signal_model import interpolate_signal_model
from alpscan.fitting.shape_tables import peaking_spec
from alpscan.io import read_parquet, write_parquet
from alpscan.logs import setup_script_logging
from alpscan.stats.limit_tables import b_fraction, limit_failures, limits_table, n_bb_pairs

log = setup_script_logging(snakemake.log[0])  # noqa: F821
inp, par, wc, out = snakemake.input, snakemake.params, snakemake.wildcards, snakemake.output  # noqa: F821
model = interpolate_signal_model(read_parquet(inp.model))
with open(inp.peaking) as f:
    peaking = peaking_spec(json.load(f))
# every toy chunk must hold exactly its scan points and toys.n_toys toys per point
toys = read_chunks(inp.toys, read_parquet(inp.points)["m_a"].to_numpy(), n_toys=par.n_toys)
scan, profiles = limits_table(
    read_parquet(inp.data, columns=["m_gg"])["m_gg"].to_numpy(), read_parquet(inp.fits), toys,
    model, peaking, mode=wc.mode, window_width_factor=par.window_width_factor,
    n_bb=n_bb_pairs(par.physics, par.lumi_on_fb), f_b=b_fraction(wc.mode, par.physics),
    sigma_eff=par.limits["efficiency_syst_rel"], cl=par.limits["cl"],
    n_profile_points=par.limits["n_profile_points"], hybrid=par.limits.get("hybrid"),
    seed=par.seed,
)
write_parquet(scan, out.scan, {"mode": wc.mode, "cl": par.limits["cl"]})
write_parquet(profiles, out.profiles, {"mode": wc.mode})
log.info("%s: %d points (%s), %d without limits %s; observed B limits %.3g .. %.3g", wc.mode,
         len(scan), scan["cls_method"].value_counts().to_dict(), int((~scan["fit_ok"]).sum()),
         limit_failures(scan), scan["br_ul_obs"].min(), scan["br_ul_obs"].max())
