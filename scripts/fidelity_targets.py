"""Rule script of ``fidelity_targets``: every fidelity target of the toy against the paper."""

import json

from alpscan.logs import setup_script_logging
from alpscan.plotting.targets import plot_targets
from alpscan.validation.targets import performance_targets, sigma_r_targets, target_summary

log = setup_script_logging(snakemake.log[0])  # noqa: F821
with open(snakemake.input.fidelity) as f:  # noqa: F821
    fidelity = json.load(f)
with open(snakemake.input.performance) as f:  # noqa: F821
    performance = json.load(f)
targets = sigma_r_targets(fidelity, "Kp") + performance_targets(performance)
summary = target_summary(targets)
for t in targets:
    log.info("%-34s toy %.4g  paper %s  %s", t["name"], t["value"], t["paper"], "pass" if t["pass"] else "FAIL")
log.info("%d of %d targets pass", summary["n_pass"], summary["n_targets"])
with open(snakemake.output.table, "w") as f:  # noqa: F821
    json.dump({"targets": targets, "summary": summary}, f, indent=2)
plot_targets(targets, snakemake.output.figure)  # noqa: F821
