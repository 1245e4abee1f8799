"""Rule script of ``summary``: results/summary.json, validated against its schema."""

import json

import pandas as pd

from alpscan.io import read_parquet
from alpscan.logs import setup_script_logging
from alpscan.summary import build_summary, validate_summary

log = setup_script_logging(snakemake.log[0])  # noqa: F821
inp, par = snakemake.input, snakemake.params  # noqa: F821
with open(inp.significance) as f:
    significance = json.load(f)
with open(inp.control) as f:
    control = json.load(f)
toys = {m: pd.concat([read_parquet(p) for p in inp.toys if f"/{m}/" in p]) for m in par.modes}
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
