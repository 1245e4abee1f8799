"""Rule script of ``score_mode``: add every classifier output to each sample of a mode."""

from pathlib import Path

from alpscan.io import read_metadata, read_parquet, write_parquet
from alpscan.logs import setup_script_logging
from alpscan.mva.classifier import load_model
from alpscan.mva.selection import add_roles, score
from alpscan.mva.veto import load_veto

log = setup_script_logging(snakemake.log[0])  # noqa: F821
inp, par = snakemake.input, snakemake.params  # noqa: F821
models = {Path(p).stem: load_model(p) for p in inp.cs}
cs1 = {"low": models["cs1_low"], "high": models["cs1_high"]}
cs2 = {"low": models["cs2_low"], "high": models["cs2_high"]}
veto = load_veto(Path(inp.veto[0]).parent)
xsg = load_model(inp.xsgamma[0])
for sample, cpath, ppath, out in zip(par.samples, inp.candidates, inp.pairs, snakemake.output):  # noqa: F821
    cands = add_roles(read_parquet(cpath), sample, par.train_fraction, par.seed)
    scored = score(cands, read_parquet(ppath), cs1, cs2, veto, xsg, par.boundary)
    write_parquet(scored, out, read_metadata(cpath))
    log.info("%s: scored %d candidates", sample, len(scored))
