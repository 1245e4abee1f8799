"""Rule script of ``import_sample``: one (mode, sample) read from external ntuples."""

from alpscan.io import write_parquet
from alpscan.logs import setup_script_logging
from alpscan.ntuples import import_sample

log = setup_script_logging(snakemake.log[0])  # noqa: F821 (injected by Snakemake)
mode, sample = snakemake.wildcards.mode, snakemake.wildcards.sample  # noqa: F821
candidates, pairs, meta = import_sample(mode, sample, snakemake.params.spec)  # noqa: F821
for comp in meta["components"]:
    log.info("component %s: generated %d, in ntuple %d", comp.get("component", "-"), comp["n_generated"],
             comp["n_selected"])
# each file is written next to its target and moved into place (alpscan.io.write_parquet)
write_parquet(candidates, snakemake.output.candidates, meta)  # noqa: F821
write_parquet(pairs, snakemake.output.pairs, meta)  # noqa: F821
log.info("imported %d candidates and %d photon pairs from %s", len(candidates), len(pairs), meta["files"])
