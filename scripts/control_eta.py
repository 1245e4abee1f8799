"""Rule script of ``control_eta``: B(B+ -> K+ eta) and B(B0 -> K0 eta) from the eta peak."""

import json

from alpscan.fitting.shape_tables import peaking_spec
from alpscan.io import read_parquet
from alpscan.logs import setup_script_logging
from alpscan.summary import clean_json
from alpscan.stats.limit_tables import control_mode

log = setup_script_logging(snakemake.log[0])  # noqa: F821
inp, par = snakemake.input, snakemake.params  # noqa: F821
result = {}
for mode, data, shapes_path in zip(par.modes, inp.data, inp.peaking):
    with open(shapes_path) as f:
        shapes = json.load(f)
    others = {k: v for k, v in peaking_spec(shapes).items() if k != "eta"}
    m_data = read_parquet(data, columns=["m_gg"])["m_gg"].to_numpy()
    result[mode] = control_mode(m_data, shapes["eta"], others, window=par.window,
                                br_input=par.br_input[mode])
    log.info("%s: %s", mode, result[mode])
with open(snakemake.output[0], "w") as f:  # noqa: F821
    json.dump(clean_json(result), f, indent=2)
