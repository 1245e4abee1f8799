"""Rule script of ``figure_lifetime``: limits of one mode over (m_a, cτ) and at the paper's cτ."""

from alpscan.io import read_parquet
from alpscan.logs import setup_script_logging
from alpscan.plotting.reuse import plot_ctau_limits
from alpscan.plotting.style import save
from alpscan.reuse.lifetime import PAPER_CTAU_MM

setup_script_logging(snakemake.log[0])  # noqa: F821
inp, par, out, wc = snakemake.input, snakemake.params, snakemake.output, snakemake.wildcards  # noqa: F821
fig = plot_ctau_limits(read_parquet(inp.table), wc.mode, PAPER_CTAU_MM,
                       vetoes=[tuple(v) for v in par.vetoes],
                       max_simulated_ctau_mm=float(read_parquet(inp.points)["ctau_mm"].max()))
save(fig, out[0])
