"""Rule script of ``recast``: ``alpscan recast MODEL`` of a shipped model on the run's record."""

import contextlib
import sys
from pathlib import Path

from alpscan.cli import main
from alpscan.reuse.models import photophilic, w_coupled  # noqa: F401 - in the rule's code hash

inp, out, wc = snakemake.input, snakemake.output, snakemake.wildcards  # noqa: F821
with open(snakemake.log[0], "w") as log, contextlib.redirect_stdout(log), \
        contextlib.redirect_stderr(log):  # noqa: F821
    status = main(["recast", wc.model, "--record", str(Path(inp.record).parent),
                   "--out", str(Path(out.table).parent)])
if status:
    sys.exit(f"alpscan recast {wc.model} failed (exit {status}); see {snakemake.log[0]}")  # noqa: F821
