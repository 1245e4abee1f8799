"""Rule script of ``scan_chunk``: the per-point fits of one chunk of scan points."""

import json

from alpscan.fitting.scan import chunk_of, fit_points
from alpscan.fitting.signal_model import interpolate_signal_model
from alpscan.fitting.shape_tables import peaking_spec
from alpscan.io import read_parquet, write_parquet
from alpscan.logs import setup_script_logging

log = setup_script_logging(snakemake.log[0])  # noqa: F821
inp, par, wc = snakemake.input, snakemake.params, snakemake.wildcards  # noqa: F821
model = interpolate_signal_model(read_parquet(inp.model))
with open(inp.peaking) as f:
    peaking = peaking_spec(json.load(f))
points = chunk_of(read_parquet(inp.points)["m_a"].to_numpy(), int(wc.chunk), par.n_chunks)
data = read_parquet(inp.data, columns=["m_gg"])
table = fit_points(data["m_gg"].to_numpy(), None, points, model, peaking, window_width_factor=par.window_width_factor)
table = table.drop(columns=[c for c in ("components", "message") if c in table.columns])
write_parquet(table, snakemake.output[0], {"mode": wc.mode, "chunk": int(wc.chunk)})  # noqa: F821
log.info("chunk %s: %d points, %d fits failed", wc.chunk, len(table), int((~table["fit_ok"]).sum()))
