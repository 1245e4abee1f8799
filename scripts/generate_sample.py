"""Rule script of ``generate_sample`` (one whole (mode, sample)) and ``generate_chunk``
(one chunk of it)."""

from alpscan.generation.run import generate_sample
from alpscan.io import write_parquet
from alpscan.logs import setup_script_logging

log = setup_script_logging(snakemake.log[0])  # noqa: F821 (injected by Snakemake)
mode, sample = snakemake.wildcards.mode, snakemake.wildcards.sample  # noqa: F821
params = snakemake.params  # noqa: F821
candidates, pairs, meta = generate_sample(mode, sample, params.cfg, params.seed, chunk=params.chunk,
                                          events_per_chunk=params.events_per_chunk)
for comp in meta["components"]:
    log.info("component %s: generated %d, selected %d", comp["kind"], comp["n_generated"], comp["n_selected"])
write_parquet(candidates, snakemake.output.candidates, meta)  # noqa: F821
write_parquet(pairs, snakemake.output.pairs, meta)  # noqa: F821
log.info("wrote %d candidates and %d photon pairs", len(candidates), len(pairs))
