"""Rule script of ``calibration_closure``: all modes' closure tables and the figure."""

import pandas as pd

from alpscan.io import read_parquet, write_parquet
from alpscan.logs import setup_script_logging
from alpscan.plotting.mva import closure_figure

setup_script_logging(snakemake.log[0])  # noqa: F821
table = pd.concat([read_parquet(p) for p in snakemake.input], ignore_index=True)  # noqa: F821
write_parquet(table, snakemake.output.table, {"stage": "calibration_closure"})  # noqa: F821
closure_figure(table, snakemake.output.figure)  # noqa: F821
