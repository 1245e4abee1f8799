"""Rule script of ``scan_points``: mass hypotheses with step σ_R(m) and veto windows."""

import pandas as pd

from alpscan.fitting.scan import scan_points
from alpscan.fitting.signal_model import interpolate_signal_model
from alpscan.io import read_parquet, write_parquet
from alpscan.logs import setup_script_logging

log = setup_script_logging(snakemake.log[0])  # noqa: F821
par = snakemake.params  # noqa: F821
model = interpolate_signal_model(read_parquet(snakemake.input[0]))  # noqa: F821
points = scan_points(model, par.m_start, par.m_stop, [tuple(v) for v in par.vetoes])
write_parquet(pd.DataFrame({"m_a": points}), snakemake.output[0], {"mode": snakemake.wildcards.mode})  # noqa: F821
log.info("%d scan points from %.3f to %.3f GeV", len(points), points[0], points[-1])
