"""Rule script of ``hepdata``: the HEPData record of the run, validated (hepdata_lib)."""

from pathlib import Path

from alpscan.io import read_parquet
from alpscan.logs import setup_script_logging
from alpscan.reuse import models
from alpscan.reuse.hepdata import read_record, write_record

log = setup_script_logging(snakemake.log[0])  # noqa: F821
inp, par, out = snakemake.input, snakemake.params, snakemake.output  # noqa: F821
modes = list(par.modes)


def by_mode(paths):
    return {mode: read_parquet(p) for mode, p in zip(modes, paths)}


model_dir = Path(models.__file__).parent
resources = [(model_dir / f"{name}.py", f"alpscan recast model file: {doc}") for name, doc in (
    ("w_coupled", "W-coupled ALP (reproduces the g_aW table)"),
    ("photophilic", "photophilic ALP with an independent b-s coupling"))]  # fmt: skip
record = write_record(Path(out.record).parent, modes=modes, scans=by_mode(inp.scans),
                      profiles=by_mode(inp.profiles), ctau_limits=by_mode(inp.ctau),
                      longlived_points=by_mode(inp.ll_points), longlived_fits=by_mode(inp.ll_fits),
                      gaw=read_parquet(inp.gaw), cl=par.limits["cl"],
                      sigma_eff=par.limits["efficiency_syst_rel"], tarball=out.tarball,
                      resources=resources)  # fmt: skip
log.info("HEPData record %s: %d tables, valid (hepdata-validator)", record, len(read_record(record)))
