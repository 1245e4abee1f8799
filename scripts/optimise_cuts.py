"""Rule script of ``optimise_cuts``: Punzi optimisation of one mode."""

import json
from pathlib import Path

import pandas as pd

from alpscan.io import read_parquet
from alpscan.logs import setup_script_logging
from alpscan.mva.selection import fit_frame, load_calibration, optimise_cuts

log = setup_script_logging(snakemake.log[0])  # noqa: F821
inp, par = snakemake.input, snakemake.params  # noqa: F821
norms, rw = load_calibration(inp.calibration, inp.reweighter)
signal = read_parquet(inp.signal)
background = pd.concat(
    [fit_frame(read_parquet(p), Path(p).stem, norms, rw, par.boundary) for p in inp.background], ignore_index=True
)
xsg = fit_frame(read_parquet(inp.xsgamma), "xsgamma", norms, rw, par.boundary)
cuts = optimise_cuts(signal, background, xsg, par.selection["grid_step"], par.selection["punzi_a"], par.boundary)
log.info("cuts: %s", cuts)
with open(snakemake.output[0], "w") as f:  # noqa: F821
    json.dump(cuts, f, indent=2)
