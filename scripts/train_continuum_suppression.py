"""Rule script of ``train_continuum_suppression``: CS1 and CS2 per mass region."""

from alpscan.io import read_parquet
from alpscan.logs import setup_script_logging
from alpscan.mva.classifier import save_model
from alpscan.mva.selection import add_roles, cap_rows, train_cs1, train_cs2, training_rows

log = setup_script_logging(snakemake.log[0])  # noqa: F821
mva, seed = snakemake.params.mva, snakemake.params.seed  # noqa: F821
sig = cap_rows(read_parquet(snakemake.input.signal), mva["max_train_events"], seed)  # noqa: F821
frames = [
    add_roles(read_parquet(path), name, mva["train_fraction"], seed)
    for path, name in zip(snakemake.input.background, ["continuum_uu", "continuum_dd", "continuum_ss",  # noqa: F821
                                                       "continuum_cc", "bb_charged", "bb_neutral"])
]
bkg = cap_rows(training_rows(frames), mva["max_train_events"], seed + 1)
log.info("training on %d signal and %d background events", len(sig), len(bkg))
cs1 = train_cs1(sig, bkg, mva["bdt"], seed, mva["boundary_gev"])
cs2 = train_cs2(sig, bkg, cs1, mva["cs2_loose_cs1_cut"], mva["bdt"], seed, mva["boundary_gev"])
out = snakemake.output  # noqa: F821
for models, prefix in ((cs1, "cs1"), (cs2, "cs2")):
    for region in ("low", "high"):
        save_model(models[region], getattr(out, f"{prefix}_{region}"))
