"""Rule script of ``figure_scan``: Fig. 3 (yield, significance) and the B limits per mode."""

from alpscan.io import read_parquet
from alpscan.logs import setup_script_logging
from alpscan.plotting.paper import plot_br_limits, plot_scan
from alpscan.plotting.style import save

setup_script_logging(snakemake.log[0])  # noqa: F821
inp, par, out = snakemake.input, snakemake.params, snakemake.output  # noqa: F821
scans = {mode: read_parquet(p) for mode, p in zip(par.modes, inp.scans)}
save(plot_scan(scans, [tuple(v) for v in par.vetoes]), out.scan)
save(plot_br_limits(scans, vetoes=[tuple(v) for v in par.vetoes]), out.limits)
