"""Rule script of ``toy_chunk``: the toy-MC bias study of one chunk of scan points."""

import json

from alpscan.fitting.scan import chunk_of
from alpscan.fitting.signal_model import interpolate_signal_model
from alpscan.fitting.shape_tables import peaking_spec
from alpscan.io import read_parquet, write_parquet
from alpscan.logs import setup_script_logging
from alpscan.stats.limit_tables import toy_table

log = setup_script_logging(snakemake.log[0])  # noqa: F821
inp, par, wc = snakemake.input, snakemake.params, snakemake.wildcards  # noqa: F821
model = interpolate_signal_model(read_parquet(inp.model))
with open(inp.peaking) as f:
    peaking = peaking_spec(json.load(f))
points = chunk_of(read_parquet(inp.points)["m_a"].to_numpy(), int(wc.chunk), par.n_chunks)
m_data = read_parquet(inp.data, columns=["m_gg"])["m_gg"].to_numpy()
table = toy_table(m_data, points, model, peaking, window_width_factor=par.window_width_factor,
                  n_toys=par.n_toys, seed=par.seed, mode=wc.mode)
write_parquet(table, snakemake.output[0], {"mode": wc.mode, "chunk": int(wc.chunk)})  # noqa: F821
log.info("chunk %s: %d points, %d toy studies without a data fit, mean bias %.4f",
         wc.chunk, len(table), int((~table["fit_ok"]).sum()), table["bias"].mean())
