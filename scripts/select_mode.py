"""Rule script of ``select_mode``: candidates of each sample of a mode passing the
cuts, with calibrated weights (``weight_fit``); BDT-training events are dropped."""

import json

from alpscan.io import read_metadata, read_parquet, write_parquet
from alpscan.logs import setup_script_logging
from alpscan.mva.selection import fit_frame, load_calibration, passes_cuts

log = setup_script_logging(snakemake.log[0])  # noqa: F821
inp, par = snakemake.input, snakemake.params  # noqa: F821
norms, rw = load_calibration(inp.calibration, inp.reweighter)
with open(inp.cuts) as f:
    cuts = json.load(f)
for sample, path, out in zip(par.samples, inp.scored, snakemake.output):  # noqa: F821
    frame = fit_frame(read_parquet(path), sample, norms, rw, par.boundary)
    selected = frame[passes_cuts(frame, cuts, par.boundary)]
    write_parquet(selected.reset_index(drop=True), out, read_metadata(path) | {"cuts": cuts})
    log.info("%s: %d of %d candidates selected", sample, len(selected), len(frame))
