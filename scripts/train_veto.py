"""Rule script of ``train_veto``: the π⁰/η veto pair BDTs of one mode."""

from pathlib import Path

from alpscan.io import read_parquet
from alpscan.logs import setup_script_logging
from alpscan.mva.selection import add_roles
from alpscan.mva.veto import save_veto, train_veto

log = setup_script_logging(snakemake.log[0])  # noqa: F821
par = snakemake.params  # noqa: F821
seed = par.seed
inp = snakemake.input  # noqa: F821
sig_c, sig_p = read_parquet(inp.signal), read_parquet(inp.signal_pairs)
bkg_c, bkg_p = [], []
for cpath, ppath in zip(inp.background, inp.background_pairs):
    name = Path(cpath).stem
    c = add_roles(read_parquet(cpath), name, par.train_fraction, seed)
    c = c[c["is_train"]]
    p = read_parquet(ppath)
    bkg_c.append(c)
    bkg_p.append(p[p["event_id"].isin(c["event_id"])])
log.info("veto training: %d signal, %d background candidates", len(sig_c), sum(len(c) for c in bkg_c))
model = train_veto(sig_p, sig_c, bkg_p, bkg_c, par.veto, seed + 3)
save_veto(model, Path(snakemake.output[0]).parent)  # noqa: F821
