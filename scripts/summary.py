"""Rule script of ``summary``: results/summary.json, validated against its schema."""

import json

from alpscan.fitting.scan import read_chunks
from alpscan.io import read_parquet
from alpscan.logs import setup_script_logging
from alpscan.summary import build_summary, validate_summary

log = setup_script_logging(snakemake.log[0])  # noqa: F821
inp, par = snakemake.input, snakemake.params  # noqa: F821
with open(inp.significance) as f:
    significance = json.load(f)
with open(inp.control) as f:
    control = json.load(f)
# every toy chunk must hold exactly its scan points and the configured toys per point
toys = {m: read_chunks([p for p in inp.toys if f"/{m}/" in p], read_parquet(pts)["m_a"].to_numpy(),
                       n_toys=par.run["n_toys_per_point"]) for m, pts in zip(par.modes, inp.points)}
summary = build_summary(
    run=par.run, significance=significance,
    scans={m: read_parquet(p) for m, p in zip(par.modes, inp.scans)}, toys=toys,
    gaw=read_parquet(inp.gaw), closure=read_parquet(inp.closure), control=control,
    toy_cls=read_parquet(inp.toy_cls),
)
validate_summary(summary, inp.schema)
with open(snakemake.output[0], "w") as f:  # noqa: F821
    json.dump(summary, f, indent=2)
log.info("summary: %s", summary["limits"])
