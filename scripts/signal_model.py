"""Rule script of ``signal_model``: prompt DSCB grid fits and long-lived ratios of one mode."""

from alpscan.fitting.shape_tables import longlived_tables, signal_grid_table
from alpscan.generation.samples import subdecay_bf
from alpscan.io import read_metadata, read_parquet, write_parquet
from alpscan.logs import setup_script_logging

log = setup_script_logging(snakemake.log[0])  # noqa: F821
inp, par = snakemake.input, snakemake.params  # noqa: F821
mode = snakemake.wildcards.mode  # noqa: F821
factor = subdecay_bf(mode, {"subdecay": par.subdecay})
table = signal_grid_table(read_parquet(inp.prompt), read_metadata(inp.prompt_generated), factor)
log.info("%d of %d grid fits valid", int(table["fit_valid"].sum()), len(table))
points, fits = longlived_tables(table, read_parquet(inp.longlived), read_metadata(inp.longlived_generated), factor,
                                par.window_width_factor)
log.info("long-lived ratio fits: %s", fits.to_dict("records"))
write_parquet(table, snakemake.output.model, {"mode": mode, "subdecay_factor": factor})  # noqa: F821
write_parquet(points, snakemake.output.longlived_points, {"mode": mode})  # noqa: F821
write_parquet(fits, snakemake.output.longlived_fits, {"mode": mode})  # noqa: F821
