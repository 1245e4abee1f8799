"""Rule script of ``figure_mgg``: Fig. 2, M_gg of pseudo-data and stacked simulation."""

from alpscan.io import read_parquet
from alpscan.logs import setup_script_logging
from alpscan.plotting.mgg import plot_mgg_stack
from alpscan.plotting.style import save

setup_script_logging(snakemake.log[0])  # noqa: F821
inp, par, wc = snakemake.input, snakemake.params, snakemake.wildcards  # noqa: F821
data = read_parquet(inp.data, columns=["m_gg"])["m_gg"].to_numpy()
sim = {}
for name, path in zip(par.samples, inp.sim):
    frame = read_parquet(path, columns=["m_gg", "weight_fit"])
    sim[name] = (frame["m_gg"].to_numpy(), frame["weight_fit"].to_numpy())
save(plot_mgg_stack(data, sim, wc.mode), snakemake.output[0])  # noqa: F821
