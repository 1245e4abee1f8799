"""Rule script of ``lifetime_limits``: limits of one mode over (m_a, cτ)."""

from alpscan.io import read_parquet, write_parquet
from alpscan.logs import setup_script_logging
from alpscan.reuse.lifetime import ctau_grid_mm, ctau_limit_table

log = setup_script_logging(snakemake.log[0])  # noqa: F821
inp, out, wc = snakemake.input, snakemake.output, snakemake.wildcards  # noqa: F821
max_simulated = float(read_parquet(inp.points)["ctau_mm"].max())
grid = ctau_grid_mm()
table = ctau_limit_table(read_parquet(inp.scan), read_parquet(inp.fits), grid, max_simulated)
write_parquet(table, out[0], {"mode": wc.mode, "max_simulated_ctau_mm": max_simulated})
log.info("%s: %d masses x %d c tau values (0 .. %g mm; simulated up to %g mm)", wc.mode,
         table["m_a"].nunique(), grid.size, grid[-1], max_simulated)
