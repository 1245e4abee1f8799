"""Rule script of ``figure_scan``: Fig. 3 (yield, significance) and the B limits per mode."""

from alpscan.io import read_parquet
from alpscan.logs import setup_script_logging
from alpscan.plotting.paper import plot_br_limits, plot_scan, veto_windows
from alpscan.plotting.style import save

setup_script_logging(snakemake.log[0])  # noqa: F821
inp, par, out = snakemake.input, snakemake.params, snakemake.output  # noqa: F821
scans = {mode: read_parquet(p) for mode, p in zip(par.modes, inp.scans)}
fits = {mode: read_parquet(p, columns=["m_a", "fit_ok"]) for mode, p in zip(par.modes, inp.fits)}
vetoes = veto_windows(par.vetoes, par.m_start)
save(plot_scan(scans, vetoes, fits=fits), out.scan)
save(plot_br_limits(scans, vetoes=vetoes), out.limits)
