"""Rule script of ``figure_toys``: toy-MC bias and pull mean/width versus m_a per mode."""

from alpscan.fitting.scan import read_chunks
from alpscan.io import read_parquet
from alpscan.logs import setup_script_logging
from alpscan.plotting.paper import plot_toy_bias
from alpscan.plotting.style import save

setup_script_logging(snakemake.log[0])  # noqa: F821
inp, par = snakemake.input, snakemake.params  # noqa: F821
# every toy chunk must hold exactly its scan points and toys.n_toys toys per point
toys = {m: read_chunks([p for p in inp.toys if f"/{m}/" in p], read_parquet(pts)["m_a"].to_numpy(), n_toys=par.n_toys)
        for m, pts in zip(par.modes, inp.points)}
save(plot_toy_bias({m: t.sort_values("m_a") for m, t in toys.items()}), snakemake.output[0])  # noqa: F821
