"""Rule script of ``train_xsgamma``: the X_sγ BDT of one mode."""

from alpscan.io import read_parquet
from alpscan.logs import setup_script_logging
from alpscan.mva.classifier import save_model
from alpscan.mva.selection import add_roles, cap_rows, train_xsgamma

log = setup_script_logging(snakemake.log[0])  # noqa: F821
par = snakemake.params  # noqa: F821
seed = par.seed
sig = cap_rows(read_parquet(snakemake.input.signal), par.max_train_events, seed)  # noqa: F821
xsg = add_roles(read_parquet(snakemake.input.xsgamma), "xsgamma", par.train_fraction, seed)  # noqa: F821
xsg = xsg[xsg["is_train"]]
log.info("X_s gamma BDT: %d signal, %d X_s gamma events", len(sig), len(xsg))
save_model(train_xsgamma(sig, xsg, par.bdt, seed), snakemake.output[0])  # noqa: F821
