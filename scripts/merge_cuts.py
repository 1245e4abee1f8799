"""Rule script of ``merge_cuts``: all modes' cuts in one file."""

import json

from alpscan.logs import setup_script_logging

setup_script_logging(snakemake.log[0])  # noqa: F821
cuts = {}
for mode, path in zip(snakemake.params.modes, snakemake.input):  # noqa: F821
    with open(path) as f:
        cuts[mode] = json.load(f)
with open(snakemake.output[0], "w") as f:  # noqa: F821
    json.dump(cuts, f, indent=2)
