# alpscan: toy reproduction of the Belle ALP search in B -> K(*) a, a -> gamma gamma
# (arXiv:2507.01249).  This file only loads the configuration, validates it and
# includes one rule file per stage; see README.md.
from snakemake.utils import min_version

min_version("9.20")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"


onstart:
    # a local run with jobs to do and --cores 0 would wait forever: refuse it
    check_cores(workflow.resource_settings.cores, local=workflow.local_exec)


wildcard_constraints:
    mode="|".join(MODES),
    sample="|".join(ALL_SAMPLES),
    chunk=r"\d+",


include: "workflow/rules/generation.smk"
include: "workflow/rules/mva.smk"
include: "workflow/rules/calibration.smk"
include: "workflow/rules/selection.smk"
include: "workflow/rules/signal_model.smk"
include: "workflow/rules/scan.smk"
include: "workflow/rules/toys.smk"
include: "workflow/rules/limits.smk"
include: "workflow/rules/results.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/reuse.smk"


rule all:
    default_target: True
    input:
        get_final_output(),
