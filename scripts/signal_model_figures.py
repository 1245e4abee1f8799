"""Rule script of ``signal_model_figures``: parameter and long-lived figures of all modes."""

from alpscan.io import read_parquet
from alpscan.logs import setup_script_logging
from alpscan.plotting.signal_model import longlived_figure, signal_model_figure

setup_script_logging(snakemake.log[0])  # noqa: F821
inp, modes = snakemake.input, snakemake.params.modes  # noqa: F821
signal_model_figure({m: read_parquet(p) for m, p in zip(modes, inp.model)}, snakemake.output.parameters)  # noqa: F821
longlived_figure({m: read_parquet(p) for m, p in zip(modes, inp.longlived_points)},
                 {m: read_parquet(p) for m, p in zip(modes, inp.longlived_fits)}, snakemake.output.longlived)  # noqa: F821
