"""Rule script of ``merge_sample``: the chunks of one (mode, sample) in one file."""

from alpscan.generation.run import merge_chunk_metadata
from alpscan.io import concat_parquet, read_metadata
from alpscan.logs import setup_script_logging

log = setup_script_logging(snakemake.log[0])  # noqa: F821 (injected by Snakemake)
meta = merge_chunk_metadata([read_metadata(p) for p in snakemake.input.candidates])  # noqa: F821
# one chunk in memory at a time (alpscan.io.concat_parquet)
n_cand = concat_parquet(snakemake.input.candidates, snakemake.output.candidates, meta)  # noqa: F821
n_pairs = concat_parquet(snakemake.input.pairs, snakemake.output.pairs, meta)  # noqa: F821
log.info("merged %d chunks: %d candidates and %d photon pairs", len(snakemake.input.candidates), n_cand,  # noqa: F821
         n_pairs)
