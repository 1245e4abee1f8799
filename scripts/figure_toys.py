"""Rule script of ``figure_toys``: toy-MC bias and pull mean/width versus m_a per mode."""

import pandas as pd

from alpscan.io import read_parquet
from alpscan.logs import setup_script_logging
from alpscan.plotting.paper import plot_toy_bias
from alpscan.plotting.style import save

setup_script_logging(snakemake.log[0])  # noqa: F821
inp, par = snakemake.input, snakemake.params  # noqa: F821
toys = {m: pd.concat([read_parquet(p) for p in inp.toys if f"/{m}/" in p]) for m in par.modes}
save(plot_toy_bias({m: t.sort_values("m_a") for m, t in toys.items()}), snakemake.output[0])  # noqa: F821
