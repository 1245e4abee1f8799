"""Rule script of ``peaking_shapes``: DSCB shapes and yields of the peaking backgrounds."""

import json

from alpscan.fitting.shape_tables import peaking_shapes
from alpscan.io import read_parquet
from alpscan.logs import setup_script_logging

log = setup_script_logging(snakemake.log[0])  # noqa: F821
par = snakemake.params  # noqa: F821
frames = {name: read_parquet(path) for name, path in zip(par.names, snakemake.input)}  # noqa: F821
shapes = peaking_shapes(frames, par.constraint_rel)
log.info("peaking shapes: %s", shapes)
with open(snakemake.output[0], "w") as f:  # noqa: F821
    json.dump(shapes, f, indent=2)
